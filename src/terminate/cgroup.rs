//! cgroup v2: the one Linux container that holds every process for sure.
//!
//! A process cannot leave its cgroup on its own, and its children are born
//! into it, so a cgroup is the strongest fence around a tree. Kernel
//! interfaces used (Documentation/admin-guide/cgroup-v2.rst):
//!
//! - `cgroup.procs`: the processes of this cgroup (not of its children);
//!   writing a PID moves that process in.
//! - `cgroup.freeze` (Linux 5.2): `1` freezes the whole subtree; fatal
//!   signals still act on frozen processes, other signals wait for the thaw.
//! - `cgroup.events`: `populated` and `frozen`; a change wakes `poll(2)`
//!   (`POLLPRI`) on the open file.
//! - `cgroup.kill` (Linux 5.14): `1` sends `SIGKILL` to every process of the
//!   subtree, and new forks into it fail while it runs.
//!
//! The v2 hierarchy may be mounted anywhere (`/sys/fs/cgroup` or, next to
//! v1 controllers, `/sys/fs/cgroup/unified`): [`v2_mount`] finds it in
//! `/proc/self/mountinfo`. This module is shared by every command that
//! contains processes in cgroups.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::proc;
use crate::process::Pid;

/// A cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup v2 hierarchy is mounted.
    #[error("find a cgroup v2 mount in /proc/self/mountinfo: none is mounted")]
    NotMounted,
    /// The path is not a cgroup v2 directory.
    #[error("open cgroup {path}: not a cgroup v2 directory")]
    NotACgroup {
        /// The path.
        path: PathBuf,
    },
    /// The cgroup v2 mount shows a part of the hierarchy that is not the
    /// root of afterlife's view of it: the host's mount seen from inside a
    /// cgroup namespace (`/..`), or a subtree bound alone. The paths in
    /// `/proc/PID/cgroup` are not paths under that mount.
    #[error(
        "the cgroup v2 mount at {mount} shows the hierarchy from {root}, not from the root of afterlife's cgroup namespace (the host's mount seen from inside a cgroup namespace, or a subtree mounted alone): cgroup paths cannot be found under it; mount cgroup2 again here"
    )]
    MountRoot {
        /// The mount point.
        mount: PathBuf,
        /// The directory it shows.
        root: PathBuf,
    },
    /// A process has no cgroup v2 membership line (`0::/...`).
    #[error("read the cgroup of process {pid}: it has no cgroup v2 membership")]
    NoMembership {
        /// The PID.
        pid: Pid,
    },
    /// A file operation failed.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn io_error<'a>(operation: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        operation,
        path: path.to_path_buf(),
        source,
    }
}

/// Where the cgroup v2 hierarchy is mounted, from `/proc/self/mountinfo`
/// (its first `cgroup2` mount), read once per process
/// ([`proc::mountinfo::own`]): `run` asks for it when it opens its own
/// cgroup, makes the leaf and cleans up old leaves.
pub fn v2_mount() -> Result<PathBuf, CgroupError> {
    let path = Path::new("/proc/self/mountinfo");
    let mounts = proc::mountinfo::own().map_err(io_error("read", path))?;
    let mount = proc::mountinfo::first_of_type_among(mounts, "cgroup2").ok_or(CgroupError::NotMounted)?;
    usable_v2_mount(mount)
}

/// The mount point of a cgroup v2 mount whose paths are those of
/// `/proc/PID/cgroup`: one that shows the hierarchy from its root (as the
/// reader's cgroup namespace sees it). Pure.
fn usable_v2_mount(mount: &proc::mountinfo::MountPoint) -> Result<PathBuf, CgroupError> {
    if mount.root != Path::new("/") {
        return Err(CgroupError::MountRoot {
            mount: mount.mount_point.clone(),
            root: mount.root.clone(),
        });
    }
    Ok(mount.mount_point.clone())
}

/// The two facts of `cgroup.events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CgroupEvents {
    /// Some process lives in the cgroup or below.
    pub populated: bool,
    /// The cgroup is frozen (every process in it stopped by the freezer).
    pub frozen: bool,
}

impl CgroupEvents {
    /// Parses `cgroup.events` (`populated 1\nfrozen 0\n`); a fact the file
    /// lacks reads `false`.
    pub fn parse(text: &str) -> CgroupEvents {
        let events = proc::cgroup::events(text);
        CgroupEvents {
            populated: events.populated.unwrap_or(false),
            frozen: events.frozen.unwrap_or(false),
        }
    }
}

/// One cgroup v2 directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    mount: PathBuf,
    relative: String,
}

impl Cgroup {
    /// Opens the cgroup at `path`, a directory under the v2 mount.
    pub fn open(path: impl AsRef<Path>) -> Result<Cgroup, CgroupError> {
        let path = path.as_ref();
        let mount = v2_mount()?;
        let relative = path.strip_prefix(&mount).map_err(|_| CgroupError::NotACgroup {
            path: path.to_path_buf(),
        })?;
        let cgroup = Cgroup {
            relative: format!("/{}", relative.to_string_lossy()).replace("//", "/"),
            mount,
        };
        if !cgroup.file("cgroup.procs").exists() {
            return Err(CgroupError::NotACgroup {
                path: path.to_path_buf(),
            });
        }
        Ok(cgroup)
    }

    /// The cgroup `pid` is in now.
    pub fn of_process(pid: Pid) -> Result<Cgroup, CgroupError> {
        let file = PathBuf::from(format!("/proc/{pid}/cgroup"));
        let groups = proc::cgroup::read(pid).map_err(io_error("read", &file))?;
        let relative = proc::cgroup::v2_path(&groups).ok_or(CgroupError::NoMembership { pid })?;
        Ok(Cgroup {
            mount: v2_mount()?,
            relative,
        })
    }

    /// The cgroup this process is in now, from `/proc/self/cgroup`: right
    /// also where /proc shows another PID namespace's numbers (afterlife
    /// run inside another run's PID namespace, where /proc is not
    /// remounted and `/proc/PID` of its own PID is another process).
    pub fn of_self() -> Result<Cgroup, CgroupError> {
        let file = PathBuf::from("/proc/self/cgroup");
        let text = fs::read_to_string(&file).map_err(io_error("read", &file))?;
        let groups = proc::cgroup::parse(&text);
        let relative = proc::cgroup::v2_path(&groups).ok_or(CgroupError::NoMembership { pid: Pid::current() })?;
        Ok(Cgroup {
            mount: v2_mount()?,
            relative,
        })
    }

    /// Creates the child cgroup `name` (a new directory).
    pub fn create_child(&self, name: &str) -> Result<Cgroup, CgroupError> {
        let child = Cgroup {
            mount: self.mount.clone(),
            relative: format!("{}/{name}", self.relative.trim_end_matches('/')),
        };
        let path = child.path();
        fs::create_dir(&path).map_err(io_error("create", &path))?;
        Ok(child)
    }

    /// The cgroup at `relative` (a path as `/proc/PID/cgroup` shows it) in
    /// the same hierarchy.
    pub fn at(&self, relative: &str) -> Cgroup {
        Cgroup {
            mount: self.mount.clone(),
            relative: relative.to_string(),
        }
    }

    /// The root of the v2 hierarchy.
    pub fn root() -> Result<Cgroup, CgroupError> {
        Ok(Cgroup {
            mount: v2_mount()?,
            relative: "/".to_string(),
        })
    }

    /// The directory.
    pub fn path(&self) -> PathBuf {
        self.mount.join(self.relative.trim_start_matches('/'))
    }

    /// The path relative to the mount, as `/proc/PID/cgroup` shows it.
    pub fn relative(&self) -> &str {
        &self.relative
    }

    /// Whether this is the root cgroup (which has no freeze or kill file).
    pub fn is_root(&self) -> bool {
        self.relative == "/"
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    fn write(&self, name: &str, value: &str) -> Result<(), CgroupError> {
        let path = self.file(name);
        fs::write(&path, value).map_err(io_error("write", &path))
    }

    /// Whether this cgroup or one below it contains `other`.
    pub fn contains(&self, other: &Cgroup) -> bool {
        self.is_root()
            || other.relative == self.relative
            || other
                .relative
                .strip_prefix(&self.relative)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The processes directly in this cgroup.
    pub fn procs(&self) -> Result<Vec<Pid>, CgroupError> {
        let path = self.file("cgroup.procs");
        let text = fs::read_to_string(&path).map_err(io_error("read", &path))?;
        Ok(text
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .filter_map(Pid::new)
            .collect())
    }

    /// The cgroups directly below this one.
    pub fn children(&self) -> Result<Vec<Cgroup>, CgroupError> {
        let path = self.path();
        let mut children = Vec::new();
        for entry in fs::read_dir(&path).map_err(io_error("list", &path))? {
            // ENOENT: a child cgroup was removed while we listed.
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                children.push(Cgroup {
                    mount: self.mount.clone(),
                    relative: format!(
                        "{}/{}",
                        self.relative.trim_end_matches('/'),
                        entry.file_name().to_string_lossy()
                    ),
                });
            }
        }
        Ok(children)
    }

    /// The processes in this cgroup and every cgroup below it.
    pub fn procs_recursive(&self) -> Result<BTreeSet<Pid>, CgroupError> {
        let mut all: BTreeSet<Pid> = self.procs()?.into_iter().collect();
        for child in self.children()? {
            match child.procs_recursive() {
                Ok(more) => all.extend(more),
                // The child cgroup was removed meanwhile: nothing lives there.
                Err(CgroupError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }

    /// Moves `pid` into this cgroup.
    pub fn add(&self, pid: Pid) -> Result<(), CgroupError> {
        self.write("cgroup.procs", &pid.to_string())
    }

    /// Reads `cgroup.events`.
    pub fn events(&self) -> Result<CgroupEvents, CgroupError> {
        let path = self.file("cgroup.events");
        let text = fs::read_to_string(&path).map_err(io_error("read", &path))?;
        Ok(CgroupEvents::parse(&text))
    }

    /// Whether we may freeze and kill this cgroup: it is not the root, and
    /// its `cgroup.freeze` and `cgroup.kill` exist and are writable for us.
    pub fn writable(&self) -> bool {
        !self.is_root()
            && ["cgroup.freeze", "cgroup.kill"]
                .iter()
                .all(|name| rustix::fs::access(self.file(name), rustix::fs::Access::WRITE_OK).is_ok())
    }

    /// Whether this cgroup's own `cgroup.freeze` asks for a freeze (someone
    /// froze it: `docker pause`, `systemctl freeze`); not a freeze that an
    /// ancestor's setting imposes, which a write here does not lift.
    pub fn freeze_requested(&self) -> bool {
        fs::read_to_string(self.file("cgroup.freeze")).is_ok_and(|text| text.trim() == "1")
    }

    /// Whether the freezer holds this cgroup's processes, or is about to:
    /// `cgroup.events` says `frozen 1`, or this cgroup or one above it asks
    /// for a freeze (a freeze in progress, where some processes already
    /// sit in the freezer's trap).
    pub fn held_by_freezer(&self) -> bool {
        self.events().is_ok_and(|events| events.frozen) || self.path_up().iter().any(|cgroup| cgroup.freeze_requested())
    }

    /// This cgroup and each one above it, up to (not including) the root,
    /// which has no `cgroup.freeze`.
    fn path_up(&self) -> Vec<Cgroup> {
        ancestors_of(&self.relative)
            .into_iter()
            .map(|relative| self.at(relative))
            .collect()
    }

    /// Asks the kernel to freeze the subtree (see [`Cgroup::wait_frozen`]).
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.write("cgroup.freeze", "1")
    }

    /// Thaws the subtree.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.write("cgroup.freeze", "0")
    }

    /// Sends `SIGKILL` to every process of the subtree (Linux 5.14).
    pub fn kill(&self) -> Result<(), CgroupError> {
        self.write("cgroup.kill", "1")
    }

    /// Waits until `cgroup.events` satisfies `condition` or `timeout`
    /// passes; returns whether it did.
    pub fn wait_events(
        &self,
        timeout: Duration,
        condition: impl Fn(CgroupEvents) -> bool,
    ) -> Result<bool, CgroupError> {
        let path = self.file("cgroup.events");
        // A timeout too long for an Instant (a grace of `inf`) never passes.
        let deadline = crate::duration::Deadline::after(timeout);
        let file = fs::File::open(&path).map_err(io_error("open", &path))?;
        let mut buf = [0u8; 256];
        loop {
            // Read through the polled file itself: kernfs wakes `poll` on an
            // open file until that file has read the new state, so reading
            // through another one would leave poll ready for ever, a busy
            // loop (fs/kernfs/file.c, kernfs_generic_poll).
            let len = std::os::unix::fs::FileExt::read_at(&file, &mut buf, 0).map_err(io_error("read", &path))?;
            if condition(CgroupEvents::parse(&String::from_utf8_lossy(&buf[..len]))) {
                return Ok(true);
            }
            let left = deadline.remaining().unwrap_or(Duration::MAX);
            if left.is_zero() {
                return Ok(false);
            }
            // A change of cgroup.events wakes poll with POLLPRI; the 10 ms
            // cap only guards against a missed wake-up.
            let slice = left.min(Duration::from_millis(10));
            let spec = Timespec {
                tv_sec: 0,
                tv_nsec: i64::from(slice.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&file, PollFlags::PRI)];
            match rustix::event::poll(&mut fds, Some(&spec)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    return Err(CgroupError::Io {
                        operation: "poll",
                        path,
                        source: e.into(),
                    });
                }
            }
        }
    }

    /// Waits until the subtree is frozen.
    pub fn wait_frozen(&self, timeout: Duration) -> Result<bool, CgroupError> {
        self.wait_events(timeout, |e| e.frozen || !e.populated)
    }

    /// Waits until no process is left in the subtree.
    pub fn wait_empty(&self, timeout: Duration) -> Result<bool, CgroupError> {
        self.wait_events(timeout, |e| !e.populated)
    }

    /// Removes the (empty) cgroup directory.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let path = self.path();
        fs::remove_dir(&path).map_err(io_error("remove", &path))
    }

    /// Removes this cgroup and the empty cgroups below it, deepest first:
    /// a run inside another leaves its own leaf under the outer one's
    /// when the outer's `cgroup.kill` ends it, and a cgroup with a child
    /// cannot be removed.
    pub fn remove_tree(&self) -> Result<(), CgroupError> {
        let path = self.path();
        remove_tree(&path).map_err(io_error("remove", &path))
    }

    /// Opens one of the cgroup's files for writing and keeps it open, so
    /// that it can be written later with one `write(2)` and no path lookup
    /// (after a `fork`, say, where only async-signal-safe calls may be made).
    pub fn open_for_write(&self, name: &str) -> Result<fs::File, CgroupError> {
        let path = self.file(name);
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_error("open", &path))
    }

    /// Whether `pid` is in this very cgroup now (not one below it), from
    /// `/proc/PID/cgroup`; `false` if it is gone.
    pub fn has_process(&self, pid: Pid) -> bool {
        // ENOENT/ESRCH: the process ended; it is in no cgroup.
        proc::cgroup::read(pid)
            .ok()
            .and_then(|groups| proc::cgroup::v2_path(&groups))
            .is_some_and(|path| path == self.relative)
    }

    /// Whether `pid` names a process in this cgroup or one below it now.
    pub fn subtree_has_process(&self, pid: Pid) -> bool {
        // ENOENT/ESRCH: the process ended; it is in no cgroup.
        proc::cgroup::read(pid)
            .ok()
            .and_then(|groups| proc::cgroup::v2_path(&groups))
            .is_some_and(|path| self.contains(&self.at(&path)))
    }

    /// `oom_kill` of `memory.events`: processes of the subtree the OOM
    /// killer ended; `None` where the memory controller is not enabled for
    /// this cgroup.
    pub fn oom_kills(&self) -> Option<u64> {
        let text = fs::read_to_string(self.file("memory.events")).ok()?;
        proc::cgroup::keyed(&text, "oom_kill")
    }

    /// `memory.peak` (Linux 5.19) in bytes: the subtree's largest memory
    /// use; `None` where the memory controller is not enabled.
    pub fn memory_peak(&self) -> Option<u64> {
        fs::read_to_string(self.file("memory.peak")).ok()?.trim().parse().ok()
    }
}

/// `relative` (a cgroup as `/proc/PID/cgroup` shows it) and each cgroup
/// above it, deepest first, without the root `/`. Pure.
pub(crate) fn ancestors_of(relative: &str) -> Vec<&str> {
    let mut paths = Vec::new();
    let mut path = relative.trim_end_matches('/');
    while !path.is_empty() {
        paths.push(path);
        path = &path[..path.rfind('/').unwrap_or(0)];
    }
    paths
}

/// Removes the cgroup directory `path` and the cgroup directories below
/// it, deepest first; the first failure stops it (`EBUSY`: a process is
/// still in one).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    for entry in fs::read_dir(path)? {
        // ENOENT: removed while listed.
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    fs::remove_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_mount_is_used_only_from_the_root_of_its_view() {
        let mount = |root: &str| proc::mountinfo::MountPoint {
            fs_type: "cgroup2".into(),
            mount_point: PathBuf::from("/sys/fs/cgroup"),
            root: PathBuf::from(root),
        };
        assert_eq!(usable_v2_mount(&mount("/")).unwrap(), PathBuf::from("/sys/fs/cgroup"));
        // The host's mount seen from inside a cgroup namespace.
        let error = usable_v2_mount(&mount("/..")).unwrap_err();
        assert!(matches!(error, CgroupError::MountRoot { .. }));
        assert!(error.to_string().contains("shows the hierarchy from /.."), "{error}");
        // A subtree bound alone.
        assert!(usable_v2_mount(&mount("/docker/abc")).is_err());
    }

    #[test]
    fn events_read_false_where_missing() {
        assert_eq!(
            CgroupEvents::parse("populated 1\nfrozen 0\n"),
            CgroupEvents {
                populated: true,
                frozen: false
            }
        );
        assert_eq!(
            CgroupEvents::parse("populated 1\n"),
            CgroupEvents {
                populated: true,
                frozen: false
            }
        );
    }

    #[test]
    fn the_cgroups_above_one_are_listed_deepest_first_without_the_root() {
        assert_eq!(
            ancestors_of("/system.slice/docker-1.scope"),
            ["/system.slice/docker-1.scope", "/system.slice"]
        );
        assert_eq!(ancestors_of("/a/"), ["/a"]);
        assert!(ancestors_of("/").is_empty());
    }

    #[test]
    fn containment_follows_path_components() {
        let c = |r: &str| Cgroup {
            mount: PathBuf::from("/m"),
            relative: r.into(),
        };
        assert!(c("/a").contains(&c("/a")));
        assert!(c("/a").contains(&c("/a/b")));
        assert!(!c("/a").contains(&c("/ab")));
        assert!(c("/").contains(&c("/ab")));
        assert_eq!(c("/a/b").path(), PathBuf::from("/m/a/b"));
        assert_eq!(c("/").path(), PathBuf::from("/m/"));
    }
}
