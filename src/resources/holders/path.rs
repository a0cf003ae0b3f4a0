//! Path SPECs: a file, directory, device or mount point, examined once,
//! matched against fd, cwd, root and exe links, and held by mappings and
//! locks too.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::proc;
use crate::process::Pid;
use crate::resources::holders::brief::Briefs;
use crate::resources::holders::{Holder, HoldsError, Via};
use crate::resources::{locks, maps, walk};

/// A path SPEC, examined once.
pub(super) struct PathTarget {
    pub(super) index: usize,
    pub(super) text: String,
    /// The canonical path as bytes, as /proc links show it.
    bytes: Vec<u8>,
    /// A mount point: everything under it counts.
    mount_point: bool,
    pub(super) is_socket: bool,
    dev: u64,
    inode: u64,
}

impl PathTarget {
    pub(super) fn examine(index: usize, path: &Path) -> Result<PathTarget, HoldsError> {
        let error = |source| HoldsError::Path {
            path: crate::text::escape(&path.to_string_lossy()).into_owned(),
            source,
        };
        let canonical = std::fs::canonicalize(path).map_err(error)?;
        let meta = std::fs::metadata(&canonical).map_err(error)?;
        let text = canonical.to_string_lossy().into_owned();
        let mount_point = meta.is_dir() && proc::mountinfo::is_mount_point(&canonical);
        Ok(PathTarget {
            index,
            bytes: canonical.as_os_str().as_encoded_bytes().to_vec(),
            text,
            mount_point,
            is_socket: meta.file_type().is_socket(),
            dev: meta.dev(),
            inode: meta.ino(),
        })
    }

    pub(super) fn matches_link(&self, link: &[u8]) -> bool {
        if link == self.bytes.as_slice() {
            return true;
        }
        if self.mount_point {
            if self.bytes == b"/" {
                return link.starts_with(b"/");
            }
            return link.starts_with(&self.bytes) && link.get(self.bytes.len()) == Some(&b'/');
        }
        false
    }

    /// Holders by mapping (`/proc/PID/maps`) and by lock (`/proc/locks`).
    pub(super) fn mapped_and_locked(&self, pids: &[Pid], briefs: &mut Briefs) -> Vec<Holder> {
        let mapped = walk::parallel_map(pids, |&pid| {
            // Unreadable or gone: nothing mapped to report.
            maps::read(pid).ok().is_some_and(|files| {
                files
                    .iter()
                    .any(|f| self.matches_link(f.path.as_bytes()) || (f.inode == self.inode && !self.mount_point))
            })
        });
        let mut found: Vec<(Pid, Via)> = pids
            .iter()
            .zip(mapped)
            .filter(|(_, m)| *m)
            .map(|(p, _)| (*p, Via::Mapped))
            .collect();
        for lock in locks::read() {
            let on = if self.mount_point {
                lock.major == libc::major(self.dev) && lock.minor == libc::minor(self.dev)
            } else {
                lock.is_on(self.dev, self.inode)
            };
            if let (true, false, Some(pid)) = (on, lock.waiting, lock.pid.and_then(Pid::new)) {
                found.push((pid, Via::Locked));
            }
        }
        found.dedup();
        found
            .into_iter()
            .filter_map(|(pid, via)| {
                let b = briefs.get(pid)?.clone();
                let user = briefs.user(b.uid);
                Some(Holder::plain(pid, &b, user, via))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str, mount_point: bool) -> PathTarget {
        PathTarget {
            index: 0,
            text: path.to_string(),
            bytes: path.as_bytes().to_vec(),
            mount_point,
            is_socket: false,
            dev: 0,
            inode: 0,
        }
    }

    #[test]
    fn links_match_the_path_or_what_a_mount_point_holds() {
        let file = target("/var/log/a.log", false);
        assert!(file.matches_link(b"/var/log/a.log"));
        assert!(!file.matches_link(b"/var/log/a.log.1"));
        let mount = target("/mnt/data", true);
        assert!(mount.matches_link(b"/mnt/data"));
        assert!(mount.matches_link(b"/mnt/data/x/y"));
        assert!(!mount.matches_link(b"/mnt/database"));
        let root = target("/", true);
        assert!(root.matches_link(b"/anything"));
        assert!(!root.matches_link(b"socket:[1]"));
    }

    #[test]
    fn examines_a_directory_that_is_a_mount_point() {
        let root = PathTarget::examine(3, Path::new("/")).unwrap();
        assert!(root.mount_point && !root.is_socket);
        assert_eq!(root.index, 3);
        assert!(PathTarget::examine(0, Path::new("/no/such/afterlife/path")).is_err());
    }
}
