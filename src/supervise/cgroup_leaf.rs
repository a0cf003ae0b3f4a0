//! The supervised tree's own cgroup v2 leaf: created under the cgroup we run
//! in, the command moved into it before `exec`, ended with `cgroup.kill`,
//! removed at the end.
//!
//! Kernel behaviour relied on (Documentation/admin-guide/cgroup-v2.rst):
//! - the v2 hierarchy is the `cgroup2` line of /proc/self/mountinfo (it may
//!   sit beside v1 controllers, as in "hybrid" setups), and our own cgroup
//!   in it is the `0::` line of /proc/self/cgroup;
//! - a child forked inside a cgroup stays in it, whatever it does (`setsid`,
//!   double forks): membership is not parentage;
//! - writing `0` to `cgroup.procs` moves the writer itself;
//! - writing `1` to `cgroup.kill` (Linux 5.14) sends SIGKILL to every member
//!   at once, including processes forking meanwhile;
//! - `cgroup.events` says `populated 0` once no process is left, and is
//!   polled with `POLLPRI` for changes;
//! - `memory.events` (`oom_kill`) and `memory.peak` (Linux 5.19) exist only
//!   where the memory controller is enabled for the leaf on v2.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::process::Pid;

/// Creating or using the leaf failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup v2 hierarchy is mounted.
    #[error("find a cgroup v2 hierarchy: none is mounted (no cgroup2 line in /proc/self/mountinfo)")]
    NoHierarchy,
    /// Our own v2 cgroup is unknown.
    #[error("find our own cgroup v2 path: no 0:: line in /proc/self/cgroup")]
    NoOwnCgroup,
    /// The kernel predates `cgroup.kill`.
    #[error("use {path}: the kernel has no cgroup.kill (Linux 5.14)")]
    NoKill {
        /// The leaf.
        path: PathBuf,
    },
    /// A file operation failed.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What was done.
        operation: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CgroupError + use<> {
    let path = path.to_path_buf();
    move |source| CgroupError::Io {
        operation,
        path,
        source,
    }
}

/// Where the cgroup v2 hierarchy is mounted, from mountinfo text.
pub fn v2_mount_point(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER"
        let (before, after) = line.split_once(" - ")?;
        let fstype = after.split_whitespace().next()?;
        if fstype != "cgroup2" {
            return None;
        }
        let mount_point = before.split_whitespace().nth(4)?;
        Some(PathBuf::from(unescape_mountinfo(mount_point)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as octal `\NNN`.
fn unescape_mountinfo(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let value = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Our own cgroup v2 path (`/user.slice/...`, or `/` at the root), from
/// /proc/self/cgroup text.
pub fn own_v2_path(proc_cgroup: &str) -> Option<String> {
    proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(|path| path.trim_end_matches(" (deleted)").to_string())
}

/// The directory of our own cgroup in the v2 hierarchy, and its path
/// inside the hierarchy.
pub fn own_cgroup_dir() -> Result<(PathBuf, String), CgroupError> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(io_error("read", Path::new("/proc/self/mountinfo")))?;
    let mount = v2_mount_point(&mountinfo).ok_or(CgroupError::NoHierarchy)?;
    let cgroup =
        std::fs::read_to_string("/proc/self/cgroup").map_err(io_error("read", Path::new("/proc/self/cgroup")))?;
    let own = own_v2_path(&cgroup).ok_or(CgroupError::NoOwnCgroup)?;
    Ok((mount.join(own.trim_start_matches('/')), own))
}

/// A leaf cgroup of our own; removed on [`CgroupLeaf::remove`].
#[derive(Debug)]
pub struct CgroupLeaf {
    path: PathBuf,
    /// The path inside the hierarchy, as /proc/PID/cgroup shows it.
    relative: String,
    procs: OwnedFd,
    kill: OwnedFd,
}

impl CgroupLeaf {
    /// Creates a fresh leaf under our own cgroup.
    pub fn create() -> Result<CgroupLeaf, CgroupError> {
        let (parent, parent_relative) = own_cgroup_dir()?;
        let me = Pid::current();
        let mut attempt = 0u32;
        let (path, name) = loop {
            let name = if attempt == 0 {
                format!("afterlife-{me}")
            } else {
                format!("afterlife-{me}-{attempt}")
            };
            let path = parent.join(&name);
            match std::fs::create_dir(&path) {
                Ok(()) => break (path, name),
                // A leaf left by an earlier afterlife that had our PID.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(io_error("create", &path)(e)),
            }
        };
        let open = |name: &str| -> Result<OwnedFd, CgroupError> {
            let file = path.join(name);
            std::fs::OpenOptions::new()
                .write(true)
                .open(&file)
                .map(OwnedFd::from)
                .map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound && name == "cgroup.kill" {
                        CgroupError::NoKill { path: path.clone() }
                    } else {
                        io_error("open", &file)(e)
                    }
                })
        };
        let opened = open("cgroup.procs").and_then(|procs| Ok((procs, open("cgroup.kill")?)));
        match opened {
            Ok((procs, kill)) => Ok(CgroupLeaf {
                path,
                relative: format!("{}/{name}", parent_relative.trim_end_matches('/')),
                procs,
                kill,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                Err(e)
            }
        }
    }

    /// The leaf's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `cgroup.procs`, opened for writing: a child writes `0` to it between
    /// fork and exec to move itself in.
    pub fn procs_fd(&self) -> &OwnedFd {
        &self.procs
    }

    /// `cgroup.kill`, opened for writing.
    pub fn kill_fd(&self) -> &OwnedFd {
        &self.kill
    }

    /// The processes in the leaf now.
    pub fn members(&self) -> Vec<Pid> {
        // The leaf may be gone already (removed after the tree ended).
        std::fs::read_to_string(self.path.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .filter_map(Pid::new)
            .collect()
    }

    /// Whether `pid` is in the leaf now.
    pub fn contains(&self, pid: Pid) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .and_then(|text| own_v2_path(&text))
            .is_some_and(|path| path == self.relative)
    }

    /// SIGKILLs every member at once.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        write_kill(&self.kill).map_err(io_error("write 1 to", &self.path.join("cgroup.kill")))
    }

    /// Waits until no process is left, at most `limit`; whether it emptied.
    pub fn wait_empty(&self, limit: Duration) -> bool {
        let events = self.path.join("cgroup.events");
        let deadline = Instant::now() + limit;
        let Ok(file) = File::open(&events) else { return true };
        loop {
            // Gone (ENOENT) counts as empty: nobody can be in a removed leaf.
            let text = std::fs::read_to_string(&events).unwrap_or_default();
            if populated(&text) != Some(true) {
                return true;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return false;
            }
            let mut fds = [PollFd::new(&file, PollFlags::PRI)];
            let spec = Timespec {
                tv_sec: remaining.as_secs() as i64,
                tv_nsec: i64::from(remaining.subsec_nanos()),
            };
            // EINTR or a change: read again.
            let _ = rustix::event::poll(&mut fds, Some(&spec));
        }
    }

    /// `oom_kill` from `memory.events`, where the memory controller is on.
    pub fn oom_kills(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.path.join("memory.events")).ok()?;
        parse_keyed(&text, "oom_kill")
    }

    /// `memory.peak` in bytes, where the memory controller is on.
    pub fn memory_peak(&self) -> Option<u64> {
        std::fs::read_to_string(self.path.join("memory.peak"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Removes the leaf (it must be empty); `Ok` if it is gone.
    pub fn remove(&self) -> Result<(), CgroupError> {
        match std::fs::remove_dir(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &self.path)(e)),
        }
    }
}

/// Writes `1` to a `cgroup.kill` file descriptor. Async-signal-safe: used
/// by the keeper process after a fork.
pub(crate) fn write_kill(fd: &OwnedFd) -> io::Result<()> {
    rustix::io::write(fd.as_fd(), b"1").map(|_| ()).map_err(io::Error::from)
}

/// `populated` from `cgroup.events`.
fn populated(text: &str) -> Option<bool> {
    parse_keyed(text.trim_end_matches('\0'), "populated").map(|v| v != 0)
}

/// A `key value` line of a cgroup flat-keyed file.
pub fn parse_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key)
            .then(|| v.trim().trim_end_matches('\0').parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_v2_mount_in_a_hybrid_setup() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        assert_eq!(v2_mount_point(mountinfo), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(v2_mount_point("31 23 0:28 / /sys rw - sysfs sysfs rw\n"), None);
        assert_eq!(
            v2_mount_point("41 31 0:38 / /mnt/with\\040space rw shared:9 - cgroup2 none rw\n"),
            Some(PathBuf::from("/mnt/with space"))
        );
    }

    #[test]
    fn reads_our_own_path() {
        assert_eq!(
            own_v2_path("4:memory:/x\n0::/user.slice/a.scope\n"),
            Some("/user.slice/a.scope".to_string())
        );
        assert_eq!(own_v2_path("0::/\n"), Some("/".to_string()));
        assert_eq!(own_v2_path("4:memory:/x\n"), None);
    }

    #[test]
    fn parses_flat_keyed_files() {
        let events = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n";
        assert_eq!(parse_keyed(events, "oom_kill"), Some(2));
        assert_eq!(parse_keyed(events, "oom"), Some(1));
        assert_eq!(populated("populated 1\nfrozen 0\n\0\0"), Some(true));
        assert_eq!(populated("populated 0\nfrozen 0\n"), Some(false));
    }
}
