//! The supervised tree's own cgroup v2 leaf: where `run` makes it (under the
//! cgroup afterlife itself runs in), what it is called, and the two files it
//! holds open for the command and for the keeper. Finding the hierarchy,
//! listing, killing, waiting and removing are [`Cgroup`]'s, shared with
//! `kill`.
//!
//! Kernel behaviour relied on (Documentation/admin-guide/cgroup-v2.rst):
//! - a child forked inside a cgroup stays in it, whatever it does (`setsid`,
//!   double forks): membership is not parentage;
//! - writing `0` to `cgroup.procs` moves the writer itself: the command does
//!   that between fork and exec, through the fd opened here;
//! - writing `1` to `cgroup.kill` (Linux 5.14) sends SIGKILL to every member
//!   at once, including processes forking meanwhile: the keeper does that
//!   after a fork through the fd opened here, with one `write(2)`, which is
//!   async-signal-safe where a path lookup and allocation are not.
//! - `rmdir(2)` of a cgroup that has processes or child cgroups fails with
//!   `EBUSY`: removing a stale leaf can never take a living tree's.
//!
//! A leaf whose afterlife died without removing it (killed together with
//! its keeper) is removed by the next afterlife that makes a leaf beside
//! it, once it is empty: its owner is gone when no process has the PID in
//! its name, or the one that has it started after the leaf was made (the
//! PID was reused).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::Pid;
use crate::terminate::cgroup::{Cgroup, CgroupError};

/// Creating or using the leaf failed.
#[derive(Debug, thiserror::Error)]
pub enum LeafError {
    /// The cgroup hierarchy refused.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The kernel predates `cgroup.kill`.
    #[error("use {path}: the kernel has no cgroup.kill (Linux 5.14)")]
    NoKill {
        /// The leaf.
        path: PathBuf,
    },
}

/// How many names after `afterlife-PID` are tried when a leaf of an earlier
/// afterlife that had our PID is still there.
const NAME_ATTEMPTS: u32 = 16;

/// The leaf's name: `afterlife-PID`, then `afterlife-PID-N` on a clash.
pub fn leaf_name(pid: Pid, attempt: u32) -> String {
    if attempt == 0 {
        format!("afterlife-{pid}")
    } else {
        format!("afterlife-{pid}-{attempt}")
    }
}

/// A leaf cgroup of our own; removed on [`CgroupLeaf::remove`].
#[derive(Debug)]
pub struct CgroupLeaf {
    cgroup: Cgroup,
    path: PathBuf,
    dir: OwnedFd,
    procs: OwnedFd,
    kill: OwnedFd,
}

impl CgroupLeaf {
    /// Creates a fresh leaf under our own cgroup (the empty leaves of
    /// afterlifes that are gone are removed later, by
    /// [`CgroupLeaf::remove_stale_siblings`], once the command runs).
    pub fn create() -> Result<CgroupLeaf, LeafError> {
        let me = Pid::current();
        let parent = Cgroup::of_self()?;
        let mut attempt = 0u32;
        let cgroup = loop {
            match parent.create_child(&leaf_name(me, attempt)) {
                Ok(cgroup) => break cgroup,
                // A leaf left by an earlier afterlife that had our PID.
                Err(CgroupError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists && attempt < NAME_ATTEMPTS =>
                {
                    attempt += 1
                }
                Err(e) => return Err(e.into()),
            }
        };
        let path = cgroup.path();
        let opened = open_dir(&path)
            .and_then(|dir| Ok((dir, cgroup.open_for_write("cgroup.procs")?)))
            .and_then(|(dir, procs)| {
                let kill = cgroup.open_for_write("cgroup.kill").map_err(|e| match e {
                    CgroupError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                        LeafError::NoKill { path: path.clone() }
                    }
                    e => e.into(),
                })?;
                Ok((dir, procs, kill))
            });
        match opened {
            Ok((dir, procs, kill)) => Ok(CgroupLeaf {
                cgroup,
                path,
                dir,
                procs: procs.into(),
                kill: kill.into(),
            }),
            Err(e) => {
                // Ours, just made and empty.
                let _ = cgroup.remove();
                Err(e)
            }
        }
    }

    /// Removes the empty leaves beside this one whose afterlife is gone:
    /// housekeeping, done once the command has started so that it does
    /// not delay it (a stale leaf with our own PID only moved ours to
    /// `afterlife-PID-N`).
    pub fn remove_stale_siblings(&self) -> Vec<PathBuf> {
        self.path
            .parent()
            .map(|parent| remove_stale_leaves(parent, Some(&self.path)))
            .unwrap_or_default()
    }

    /// The leaf's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The leaf as a [`Cgroup`].
    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }

    /// The leaf's directory, open: `clone3(CLONE_INTO_CGROUP)` starts a
    /// child in it.
    pub fn dir_fd(&self) -> &OwnedFd {
        &self.dir
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
        // ENOENT: the leaf is gone already (removed after the tree ended).
        self.cgroup.procs().unwrap_or_default()
    }

    /// Whether `pid` is in the leaf now.
    pub fn contains(&self, pid: Pid) -> bool {
        self.cgroup.has_process(pid)
    }

    /// SIGKILLs every member at once.
    pub fn kill_all(&self) -> Result<(), LeafError> {
        Ok(self.cgroup.kill()?)
    }

    /// Waits until no process is left, at most `limit`; whether it emptied.
    pub fn wait_empty(&self, limit: Duration) -> bool {
        // An error reading cgroup.events means the leaf is gone (ENOENT):
        // nobody can be in a removed leaf.
        self.cgroup.wait_empty(limit).unwrap_or(true)
    }

    /// `oom_kill` from `memory.events`, where the memory controller is on.
    pub fn oom_kills(&self) -> Option<u64> {
        self.cgroup.oom_kills()
    }

    /// `memory.peak` in bytes, where the memory controller is on.
    pub fn memory_peak(&self) -> Option<u64> {
        self.cgroup.memory_peak()
    }

    /// Removes the leaf (it must be empty); `Ok` if it is gone.
    pub fn remove(&self) -> Result<(), LeafError> {
        match self.cgroup.remove_tree() {
            Ok(()) => Ok(()),
            // Removed already (by the keeper, say).
            Err(CgroupError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Opens a cgroup directory for `clone3(CLONE_INTO_CGROUP)`.
fn open_dir(path: &Path) -> Result<OwnedFd, LeafError> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        LeafError::Cgroup(CgroupError::Io {
            operation: "open",
            path: path.to_path_buf(),
            source: e.into(),
        })
    })
}

/// The owner's PID in a leaf's name (`afterlife-PID` or `afterlife-PID-N`).
/// Pure.
pub fn leaf_owner(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("afterlife-")?;
    let pid = rest.split_once('-').map_or(rest, |(pid, attempt)| {
        if attempt.bytes().all(|b| b.is_ascii_digit()) && !attempt.is_empty() {
            pid
        } else {
            ""
        }
    });
    pid.parse().ok().filter(|&p| p > 0)
}

/// Whether a leaf's owner is gone: no process has its PID, or the one that
/// has it started after the leaf was made (seconds since the epoch). Pure.
pub fn owner_gone(owner_started_at: Option<f64>, leaf_made_at: f64) -> bool {
    // A second of slack: the two clocks are read with different precision.
    owner_started_at.is_none_or(|started| started > leaf_made_at + 1.0)
}

/// Removes the empty leaves in `parent` whose afterlife is gone, `ours`
/// aside (its owner, this process, is not looked up). The kernel refuses
/// to remove one that is not empty (`EBUSY`).
pub fn remove_stale_leaves(parent: &Path, ours: Option<&Path>) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut removed = Vec::new();
    // Unreadable: nothing to clean.
    let Ok(entries) = std::fs::read_dir(parent) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(leaf_owner) else {
            continue;
        };
        if ours.is_some_and(|ours| ours == entry.path()) {
            continue;
        }
        // Gone meanwhile: nothing to do.
        let Ok(meta) = entry.metadata() else { continue };
        let made_at = meta.ctime() as f64 + meta.ctime_nsec() as f64 / 1e9;
        let started = Pid::new(owner).and_then(started_at);
        if !owner_gone(started, made_at) {
            continue;
        }
        // EBUSY: something is still in it; ENOENT: removed meanwhile. The
        // leaf of a run nested in it goes first.
        if crate::terminate::cgroup::remove_tree(&entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// When a process started, seconds since the epoch; `None` if it is gone.
fn started_at(pid: Pid) -> Option<f64> {
    let stat = crate::proc::stat::of(&crate::proc::Process::new(pid.get()).ok()?).ok()?;
    Some(crate::proc::started_at(stat.starttime))
}

/// Writes `1` to a `cgroup.kill` file descriptor. Async-signal-safe: used
/// by the keeper process after a fork.
pub(crate) fn write_kill(fd: &OwnedFd) -> io::Result<()> {
    rustix::io::write(fd.as_fd(), b"1").map(|_| ()).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_owner_from_a_leaf_name() {
        assert_eq!(leaf_owner("afterlife-4242"), Some(4242));
        assert_eq!(leaf_owner("afterlife-4242-3"), Some(4242));
        assert_eq!(leaf_owner("afterlife-keep"), None);
        assert_eq!(leaf_owner("afterlife-4242-x"), None);
        assert_eq!(leaf_owner("afterlife-0"), None);
        assert_eq!(leaf_owner("system.slice"), None);
    }

    #[test]
    fn an_owner_is_gone_when_its_pid_is_free_or_reused() {
        assert!(owner_gone(None, 1000.0));
        assert!(!owner_gone(Some(990.0), 1000.0));
        assert!(!owner_gone(Some(1000.5), 1000.0));
        assert!(owner_gone(Some(1010.0), 1000.0));
    }

    #[test]
    fn names_the_leaf_after_our_pid() {
        let pid = Pid::new(4242).unwrap();
        assert_eq!(leaf_name(pid, 0), "afterlife-4242");
        assert_eq!(leaf_name(pid, 3), "afterlife-4242-3");
    }
}
