//! Path SPECs: a file, directory, device or mount point, examined once,
//! matched against fd, cwd, root and exe links, and held by mappings and
//! locks too.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path};
use std::time::Duration;

use crate::proc;
use crate::process::Pid;
use crate::resources::holders::brief::Briefs;
use crate::resources::holders::{Holder, HoldsError, Via};
use crate::resources::locks::{Lock, LockKind};
use crate::resources::sockets::{Protocol, Socket};
use crate::resources::walk::{Hit, Slot};
use crate::resources::{maps, walk};

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
    /// 0 when unknown: the file system did not answer.
    inode: u64,
    /// Its file system did not answer `stat` within [`STAT_LIMIT`]: it is
    /// matched by the path as written and by its mount.
    pub(super) unanswered: bool,
    /// The canonical path, in afterlife's mount namespace, leads to this
    /// very file (not so for a path through another process's root,
    /// `/proc/PID/root/...`).
    text_is_ours: bool,
    /// The file may be reached by another path in afterlife's own mount
    /// namespace: it has other names (hard links), or its file system is
    /// mounted at more than one place (bind mounts). A link of any path is
    /// then examined by device and inode, as lsof and fuser do.
    other_paths: bool,
    /// A mount point that shows a part of its file system (a bind mount
    /// of a directory): the rest of that device is not under it, so a
    /// file elsewhere on the device is not the mount point's.
    part_of_device: bool,
}

/// How long the path SPEC's `stat` may take. A hung FUSE or NFS mount
/// never answers it, and what holds such a mount is exactly what is asked
/// of `holds` then (`fuser -m` hangs on it).
const STAT_LIMIT: Duration = Duration::from_secs(2);

impl PathTarget {
    /// Resolves and examines `path`; where its file system does not answer
    /// within [`STAT_LIMIT`], the path is taken as written and its mount
    /// from the mount table ([`PathTarget::unanswered`]).
    pub(super) fn examine(index: usize, path: &Path) -> Result<PathTarget, HoldsError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let owned = path.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("stat".to_string())
            .stack_size(256 << 10)
            .spawn(move || {
                // The receiver is gone when the limit passed first.
                let _ = sender.send(Self::stat(index, &owned));
            });
        if spawned.is_err() {
            return Self::stat(index, path);
        }
        match receiver.recv_timeout(STAT_LIMIT) {
            Ok(examined) => examined,
            // The thread stays blocked in the file system; it is ended with
            // the process (a FUSE request waits killably).
            Err(_) => Ok(Self::unanswered(
                index,
                path,
                &proc::mountinfo::read(None).unwrap_or_default(),
            )),
        }
    }

    fn stat(index: usize, path: &Path) -> Result<PathTarget, HoldsError> {
        let error = |source| HoldsError::Path {
            path: crate::text::escape(&path.to_string_lossy()).into_owned(),
            source,
        };
        let canonical = std::fs::canonicalize(path).map_err(error)?;
        // The file is the one the path as given leads to: through a /proc
        // magic link (`/proc/PID/root/...`) that is a file of the process's
        // mount namespace, which the canonical text, resolved as a plain
        // link, would name on afterlife's side instead.
        let meta = std::fs::metadata(path).map_err(error)?;
        let text_is_ours = std::fs::metadata(&canonical).is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()));
        let text = canonical.to_string_lossy().into_owned();
        let mount_point = meta.is_dir() && proc::mountinfo::is_mount_point(&canonical);
        let bind_mounted =
            proc::mountinfo::own_text().is_ok_and(|text| proc::mountinfo::mounts_of_device(text, meta.dev()) > 1);
        let part_of_device = mount_point
            && proc::mountinfo::own().is_ok_and(|mounts| {
                mounts
                    .iter()
                    .rev()
                    .find(|m| m.mount_point == canonical)
                    .is_some_and(|m| m.root != Path::new("/"))
            });
        Ok(PathTarget {
            index,
            bytes: canonical.as_os_str().as_encoded_bytes().to_vec(),
            text,
            mount_point,
            is_socket: meta.file_type().is_socket(),
            dev: meta.dev(),
            inode: meta.ino(),
            unanswered: false,
            text_is_ours,
            other_paths: bind_mounted || (!meta.is_dir() && meta.nlink() > 1),
            part_of_device,
        })
    }

    /// A path whose file system did not answer: made absolute and
    /// normalised as written (a symbolic link on the way is not followed),
    /// a mount point when `mounts` has it as one, its device the device of
    /// the mount it is under, its inode unknown. Pure.
    fn unanswered(index: usize, path: &Path, mounts: &[proc::mountinfo::MountInfo]) -> PathTarget {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let mut normal = std::path::PathBuf::from("/");
        for part in absolute.components() {
            match part {
                Component::Normal(name) => normal.push(name),
                Component::ParentDir => {
                    normal.pop();
                }
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
        let under = mounts
            .iter()
            .filter(|m| normal.starts_with(&m.mount_point))
            .max_by_key(|m| m.mount_point.as_os_str().len());
        let dev = under
            .and_then(|m| m.majmin.split_once(':'))
            .and_then(|(major, minor)| Some(libc::makedev(major.parse().ok()?, minor.parse().ok()?)))
            .unwrap_or(0);
        PathTarget {
            index,
            bytes: normal.as_os_str().as_encoded_bytes().to_vec(),
            text: normal.to_string_lossy().into_owned(),
            mount_point: under.is_some_and(|m| m.mount_point == normal),
            is_socket: false,
            dev,
            inode: 0,
            unanswered: true,
            text_is_ours: true,
            other_paths: false,
            part_of_device: false,
        }
    }

    /// Whether `socket` is the unix socket bound to this file: by the
    /// bound file's device and inode where the kernel gives them (a name
    /// is a path in the binder's mount namespace, written as it was
    /// bound: relative, through a symbolic link), else by its name. Pure.
    pub(super) fn is_bound_to(&self, socket: &Socket) -> bool {
        if !self.is_socket || socket.protocol != Protocol::Unix {
            return false;
        }
        match socket.bound_file {
            Some((dev, inode)) if !self.unanswered => dev == self.dev && inode == self.inode as u32,
            _ => socket.path.as_deref() == Some(self.text.as_str()),
        }
    }

    /// Whether a file whose link text matched is this target's, from the
    /// device and inode of the file the link leads to (`found`, asked only
    /// when needed; `None`: it could not be examined, an fd closed
    /// meanwhile) and whether its process sees afterlife's mounts
    /// (`same_mounts`): a path names
    /// another file in another mount namespace. A file must be the same
    /// device and inode; anything on a mount point's device counts, and
    /// in afterlife's own mount namespace anything under its path too (a
    /// mount below it), where the target's path is afterlife's own. A
    /// target whose file system did not answer is matched by the text
    /// alone. Pure.
    pub(super) fn is_same_file(
        &self,
        found: impl FnOnce() -> Option<(u64, u64)>,
        same_mounts: impl FnOnce() -> bool,
    ) -> bool {
        // Nothing is examined for a target whose file system hangs: the
        // file behind the link would hang the same way.
        if self.unanswered {
            return true;
        }
        if self.mount_point {
            return (self.text_is_ours && same_mounts()) || found().is_some_and(|(dev, _)| dev == self.dev);
        }
        found() == Some((self.dev, self.inode))
    }

    /// Whether a file with device `dev` and inode `inode` is this target's
    /// (anything on its device for a mount point): for the links of a
    /// process in another mount namespace, whose text names the file as
    /// that namespace reaches it (a bind mount, a container's volume) and
    /// so cannot be matched as afterlife writes the path. Never for a
    /// target whose file system did not answer (its inode is unknown).
    /// Pure.
    pub(super) fn is_file(&self, dev: u64, inode: u64) -> bool {
        if self.unanswered {
            return false;
        }
        // A bind mount of a directory: its own directory only, as the rest
        // of the device may be anywhere else.
        dev == self.dev && ((self.mount_point && !self.part_of_device) || inode == self.inode)
    }

    /// Whether a mapping of `file` is of this target: the same device and
    /// inode, or — in afterlife's own mount namespace (`same_mounts`), where
    /// the target's path is afterlife's own — its path as written (a file on overlayfs is mapped with the device and
    /// inode of the layer that holds it, not those `stat` shows). Pure.
    fn maps_file(&self, file: &maps::MappedFile, same_mounts: impl Fn() -> bool) -> bool {
        let on_device = proc::maps::device_number(&file.device) == Some(self.dev);
        let by_path = || self.text_is_ours && self.matches_link(file.path.as_bytes()) && same_mounts();
        if self.mount_point {
            return (on_device && !self.part_of_device) || by_path();
        }
        (self.inode != 0 && on_device && file.inode == self.inode) || by_path()
    }

    /// Whether a link that does not name this target may still lead to its
    /// file: any path where the file has other paths, and the path of a
    /// deleted name (`NAME (deleted)`: a hard link whose other name the
    /// process opened and someone removed). Such a link is the target's
    /// only if its fd's file has the target's device and inode
    /// ([`PathTarget::is_file_on`]). Never for a mount point (anything on
    /// its device is under it only through that mount, which the text
    /// says), nor for a target whose file system did not answer. Pure.
    pub(super) fn may_lead_to(&self, link: &[u8]) -> bool {
        !self.unanswered
            && !self.mount_point
            && link.starts_with(b"/")
            && (self.other_paths || link.ends_with(b" (deleted)"))
    }

    /// Whether an fd whose fdinfo gives mount `mnt_id` and inode `inode` is
    /// on this target's file: the same inode, on a mount of its device
    /// (`mounts`: afterlife's own mount table, the fd's process sharing
    /// its mount namespace). Read from fdinfo, so no file system is asked:
    /// a hung mount elsewhere cannot hold the search up. Pure.
    pub(super) fn is_file_on(&self, mnt_id: u64, inode: u64, mounts: &str) -> bool {
        inode == self.inode && proc::mountinfo::device_of_mount(mounts, mnt_id) == Some(self.dev)
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

    /// Holders by mapping (`/proc/PID/maps`) and by lock: `all` is
    /// `/proc/locks`, `fd_locks` the locks each fd on the path holds (its
    /// fdinfo's `lock:` lines).
    pub(super) fn mapped_and_locked(
        &self,
        pids: &[Pid],
        all: &[Lock],
        fd_locks: &[FdLocks],
        briefs: &mut Briefs,
    ) -> Vec<Holder> {
        let mapped = walk::parallel_map(pids, |&pid| {
            // Unreadable or gone: nothing mapped to report.
            maps::read(pid).ok().is_some_and(|files| {
                // Read once, and only for a mapping whose path matches.
                let same_mounts = std::cell::OnceCell::new();
                let same = || *same_mounts.get_or_init(|| proc::ns::shares_mount_namespace(pid));
                files.iter().any(|f| self.maps_file(f, same))
            })
        });
        let mut found: Vec<(Pid, Via, Option<i32>)> = pids
            .iter()
            .zip(mapped)
            .filter(|(_, m)| *m)
            .map(|(p, _)| (*p, Via::Mapped, None))
            .collect();
        found.extend(
            self.lockers(all, fd_locks)
                .into_iter()
                .map(|(pid, fd)| (pid, Via::Locked, fd)),
        );
        found
            .into_iter()
            .filter_map(|(pid, via, fd)| {
                let b = briefs.get(pid)?.clone();
                let user = briefs.user(b.uid);
                let mut holder = Holder::plain(pid, &b, user, via);
                holder.fd = fd;
                Some(holder)
            })
            .collect()
    }

    /// Whether `lock` is on this target: on its inode, or anywhere on its
    /// device for a mount point. Pure.
    fn lock_on(&self, lock: &Lock) -> bool {
        if self.mount_point && !self.part_of_device {
            lock.major == libc::major(self.dev) && lock.minor == libc::minor(self.dev)
        } else {
            self.inode != 0 && lock.is_on(self.dev, self.inode)
        }
    }

    /// Who holds a lock on this target, and through which fd where that is
    /// known. A POSIX lock is its process's: the PID `/proc/locks` records
    /// (`all`). A `flock`, OFD lock or lease is its open file's, held by
    /// every process with an fd on that open file — a child that inherited
    /// the fd after its parent, the locker, closed its own, and the locker
    /// no longer — so it is read from the `lock:` lines of the fds on the
    /// path (`fd_locks`), never from the PID `/proc/locks` records (-1 for
    /// an OFD lock). Pure.
    pub(super) fn lockers(&self, all: &[Lock], fd_locks: &[FdLocks]) -> Vec<(Pid, Option<i32>)> {
        let mut found: Vec<(Pid, Option<i32>)> = Vec::new();
        let held = |lock: &Lock| !lock.waiting && self.lock_on(lock);
        for lock in all.iter().filter(|l| l.kind == LockKind::Posix && held(l)) {
            if let Some(pid) = lock.pid.and_then(Pid::new)
                && !found.contains(&(pid, None))
            {
                found.push((pid, None));
            }
        }
        for (pid, fd, locks) in fd_locks {
            if locks.iter().any(|l| l.kind != LockKind::Posix && held(l)) && !found.contains(&(*pid, Some(*fd))) {
                found.push((*pid, Some(*fd)));
            }
        }
        found
    }

    /// Whether the fds on the path need their fdinfo read for locks: a
    /// lock of an open file is on the target in `all`, or this is not the
    /// initial PID namespace, where `/proc/locks` hides the locks of
    /// lockers it cannot see. Pure over its arguments.
    pub(super) fn wants_fd_locks(&self, all: &[Lock], initial_namespace: bool) -> bool {
        !initial_namespace || all.iter().any(|l| l.kind != LockKind::Posix && self.lock_on(l))
    }
}

/// The locks one fd holds: the process, the fd, its fdinfo's `lock:` lines.
pub(super) type FdLocks = (Pid, i32, Vec<Lock>);

/// The links of processes in other mount namespaces than afterlife's that
/// lead to one of `targets`' files, found by device and inode (`stat`
/// follows a `/proc` link into any mount namespace), as lsof and fuser
/// find them: there a path is written as that namespace reaches the file
/// (`/data/x` in a container for the host's `/srv/x`), which the text
/// match of the walk misses. Each hit's `needle` is the target's SPEC
/// index. Only these processes' links are examined one by one; those of
/// afterlife's own namespace were matched by their text.
pub(super) fn foreign_mount_hits(pids: &[Pid], targets: &[PathTarget]) -> Vec<Hit> {
    use std::os::unix::fs::MetadataExt;
    let Ok(ours) = std::fs::read_link("/proc/self/ns/mnt") else {
        return Vec::new();
    };
    let per = walk::parallel_map(pids, |&pid| {
        // Unreadable or gone: the walk counted it, or it holds nothing.
        match std::fs::read_link(format!("/proc/{pid}/ns/mnt")) {
            Ok(theirs) if theirs != ours => {}
            _ => return Vec::new(),
        }
        let mut links: Vec<(Slot, String)> = [(Slot::Cwd, "cwd"), (Slot::Root, "root"), (Slot::Exe, "exe")]
            .into_iter()
            .map(|(slot, name)| (slot, format!("/proc/{pid}/{name}")))
            .collect();
        if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            links.extend(fds.flatten().filter_map(|entry| {
                let fd: i32 = entry.file_name().to_str()?.parse().ok()?;
                Some((Slot::Fd(fd), format!("/proc/{pid}/fd/{fd}")))
            }));
        }
        let mut hits = Vec::new();
        for (slot, path) in links {
            // Closed meanwhile, or not a file (a socket's stat is on sockfs):
            // it leads to none of them.
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            for target in targets.iter().filter(|t| t.is_file(meta.dev(), meta.ino())) {
                let link = std::fs::read_link(&path).unwrap_or_default();
                hits.push(Hit {
                    pid,
                    slot,
                    needle: target.index as u32,
                    link: link.into_os_string().into_encoded_bytes(),
                    thread: None,
                });
            }
        }
        hits
    });
    per.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::sockets::SocketState;

    fn target(path: &str, mount_point: bool) -> PathTarget {
        PathTarget {
            index: 0,
            text: path.to_string(),
            bytes: path.as_bytes().to_vec(),
            mount_point,
            is_socket: false,
            dev: 0,
            inode: 0,
            unanswered: false,
            text_is_ours: true,
            other_paths: false,
            part_of_device: false,
        }
    }

    #[test]
    fn a_link_of_another_mount_namespace_is_the_target_by_device_and_inode() {
        let dev = libc::makedev(8, 1);
        let file = PathTarget {
            dev,
            inode: 77,
            ..target("/srv/data", false)
        };
        assert!(file.is_file(dev, 77));
        assert!(!file.is_file(dev, 78));
        assert!(!file.is_file(libc::makedev(0, 0x2a), 77));
        // A mount point: anything on its device.
        let mount = PathTarget {
            dev,
            inode: 2,
            ..target("/srv", true)
        };
        assert!(mount.is_file(dev, 1234));
        assert!(!mount.is_file(libc::makedev(8, 2), 2));
        // A file system that did not answer: its inode is unknown.
        let hung = PathTarget {
            dev,
            unanswered: true,
            ..target("/mnt/nfs/x", false)
        };
        assert!(!hung.is_file(dev, 0));
    }

    #[test]
    fn a_matching_path_is_the_target_only_as_the_same_file() {
        let dev = libc::makedev(8, 1);
        let file = PathTarget {
            dev,
            inode: 77,
            ..target("/srv/data", false)
        };
        // The same text in another mount namespace: another file.
        assert!(file.is_same_file(|| Some((dev, 77)), || false));
        assert!(!file.is_same_file(|| Some((libc::makedev(0, 0x2a), 2)), || true));
        assert!(!file.is_same_file(|| Some((dev, 78)), || true));
        // Closed since the walk: nothing held.
        assert!(!file.is_same_file(|| None, || true));
        // A mount point: its device anywhere; under its path in our own
        // namespace (a mount below it), and only where the path is ours.
        let mount = PathTarget {
            dev,
            inode: 2,
            ..target("/srv", true)
        };
        assert!(mount.is_same_file(|| Some((dev, 1234)), || false));
        assert!(mount.is_same_file(|| Some((libc::makedev(0, 0x30), 5)), || true));
        assert!(!mount.is_same_file(|| Some((libc::makedev(0, 0x30), 5)), || false));
        let theirs = PathTarget {
            text_is_ours: false,
            ..mount
        };
        assert!(!theirs.is_same_file(|| Some((libc::makedev(0, 0x30), 5)), || true));
        // Unanswered: the text alone.
        let hung = PathTarget {
            unanswered: true,
            ..target("/mnt/hung/f", false)
        };
        assert!(hung.is_same_file(|| panic!("a hung file examined"), || false));
    }

    #[test]
    fn a_socket_is_bound_to_the_file_by_device_and_inode() {
        let dev = libc::makedev(0, 0x2a);
        let file = PathTarget {
            dev,
            inode: 77,
            is_socket: true,
            ..target("/run/app/sock", false)
        };
        let unix = |path: &str, bound_file: Option<(u64, u32)>| Socket {
            protocol: Protocol::Unix,
            path: Some(path.to_string()),
            bound_file,
            ..Socket::inet_fixture(Protocol::Tcp, SocketState::Listen, "0.0.0.0:0", "0.0.0.0:0", 9)
        };
        // Bound by a relative name, or at the same path in another mount
        // namespace: the file decides.
        assert!(file.is_bound_to(&unix("sock", Some((dev, 77)))));
        assert!(!file.is_bound_to(&unix("/run/app/sock", Some((libc::makedev(0, 0x30), 77)))));
        // Not given (read from /proc/net/unix): the name.
        assert!(file.is_bound_to(&unix("/run/app/sock", None)));
        assert!(!file.is_bound_to(&unix("/run/other", None)));
        // A path that is not a socket has none bound to it.
        let plain = PathTarget {
            is_socket: false,
            ..file
        };
        assert!(!plain.is_bound_to(&unix("sock", Some((dev, 77)))));
    }

    #[test]
    fn a_mapping_is_the_target_by_device_and_inode_or_by_our_own_path() {
        let file = PathTarget {
            dev: libc::makedev(8, 1),
            inode: 77,
            ..target("/srv/data", false)
        };
        let mapped = |device: &str, inode: u64, path: &str| maps::MappedFile {
            path: path.to_string(),
            deleted: false,
            device: device.to_string(),
            inode,
            mapped_bytes: 4096,
        };
        assert!(file.maps_file(&mapped("08:01", 77, "/elsewhere/link"), || false));
        // The same inode on another device is another file.
        assert!(!file.maps_file(&mapped("00:2a", 77, "/tmp/x"), || false));
        // Overlayfs maps the layer's device and inode: the path counts, in
        // our own mount namespace only.
        assert!(file.maps_file(&mapped("00:2b", 9, "/srv/data"), || true));
        assert!(!file.maps_file(&mapped("00:2b", 9, "/srv/data"), || false));
    }

    #[test]
    fn open_file_locks_go_with_the_fds_posix_locks_with_the_process() {
        let file = PathTarget {
            dev: libc::makedev(0, 0x1a),
            inode: 77,
            ..target("/tmp/l", false)
        };
        let lock = |kind: LockKind, pid: Option<i32>, inode: u64| Lock {
            kind,
            write: true,
            pid,
            major: 0,
            minor: 0x1a,
            inode,
            start: 0,
            end: None,
            waiting: false,
        };
        let pid = |n: i32| Pid::new(n).unwrap();
        // /proc/locks: a flock taken by 10 (which has closed its fd), an
        // OFD lock (PID -1), a POSIX lock of 30, a waiter, another file's.
        let all = vec![
            lock(LockKind::Flock, Some(10), 77),
            lock(LockKind::Ofd, None, 77),
            lock(LockKind::Posix, Some(30), 77),
            Lock {
                waiting: true,
                ..lock(LockKind::Posix, Some(40), 77)
            },
            lock(LockKind::Posix, Some(50), 78),
        ];
        // The fds on the path: 11 inherited the flocked one, 12 holds the
        // OFD-locked one; 30's fdinfo shows its POSIX lock too; 13's has none.
        let fd_locks = vec![
            (pid(11), 4, vec![lock(LockKind::Flock, Some(10), 77)]),
            (pid(12), 3, vec![lock(LockKind::Ofd, None, 77)]),
            (pid(30), 5, vec![lock(LockKind::Posix, Some(30), 77)]),
            (pid(13), 6, vec![]),
        ];
        assert_eq!(
            file.lockers(&all, &fd_locks),
            vec![(pid(30), None), (pid(11), Some(4)), (pid(12), Some(3))]
        );
        // Only a lock of an open file on the target asks for fdinfo,
        // except outside the initial PID namespace.
        assert!(file.wants_fd_locks(&all, true));
        let posix_only = [lock(LockKind::Posix, Some(30), 77), lock(LockKind::Flock, Some(1), 78)];
        assert!(!file.wants_fd_locks(&posix_only, true));
        assert!(file.wants_fd_locks(&posix_only, false));
    }

    #[test]
    fn a_path_that_does_not_answer_is_taken_as_written() {
        let mounts = proc::mountinfo::parse(
            "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
             40 22 0:52 / /mnt/fuse rw,nosuid - fuse.sshfs host: rw\n",
        );
        let mount = PathTarget::unanswered(1, Path::new("/mnt/./x/../fuse/"), &mounts);
        assert_eq!(
            (mount.text.as_str(), mount.mount_point, mount.unanswered),
            ("/mnt/fuse", true, true)
        );
        assert_eq!(mount.dev, libc::makedev(0, 52));
        assert!(mount.matches_link(b"/mnt/fuse/data/file"));
        let inside = PathTarget::unanswered(2, Path::new("/mnt/fuse/data"), &mounts);
        assert!(!inside.mount_point && inside.inode == 0);
        assert_eq!(inside.dev, libc::makedev(0, 52));
        assert!(inside.matches_link(b"/mnt/fuse/data") && !inside.matches_link(b"/mnt/fuse/data2"));
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
