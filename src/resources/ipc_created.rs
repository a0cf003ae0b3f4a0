//! Creations of POSIX IPC objects, watched with fanotify while a tree runs:
//! files in `/dev/shm` (shared memory) and in the root of the mqueue
//! filesystem (message queues). Neither kind records who made it, so this
//! is the only way to tell an object the tree made and closed (or whose
//! maker has ended) from one made by anyone else.
//!
//! One fanotify group with `FAN_REPORT_DFID_NAME` (Linux 5.9) marks each
//! directory for `FAN_CREATE` and `FAN_MOVED_TO`; each event carries the
//! creating process's PID and the name. Only a privileged group
//! (`CAP_SYS_ADMIN`) is given the PIDs of other processes: without it none
//! is started. An mqueue directory (no export operations, a "weak" fsid)
//! takes an inode mark from Linux 6.8. The two directories are told apart
//! by the fsid each event carries: a tmpfs `/dev/shm` has its own, the one
//! `statfs` gives; elsewhere the queues are not watched.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::process::Pid;
use crate::resources::ipc::IpcKind;

/// A POSIX object by kind and name (`/NAME`), as [`super::ipc_left`] keys
/// objects held by a tree.
pub type PosixName = (IpcKind, String);

const FAN_CLASS_NOTIF: libc::c_uint = 0;
const FAN_CLOEXEC: libc::c_uint = 0x1;
const FAN_NONBLOCK: libc::c_uint = 0x2;
const FAN_REPORT_DFID_NAME: libc::c_uint = 0x0000_0c00;
const FAN_MARK_ADD: libc::c_uint = 0x1;
const FAN_MARK_REMOVE: libc::c_uint = 0x2;
const FAN_CREATE: u64 = 0x100;
const FAN_MOVED_TO: u64 = 0x80;
const FAN_Q_OVERFLOW: u64 = 0x4000;
const FAN_EVENT_INFO_TYPE_DFID_NAME: u8 = 2;
const WATCHED: u64 = FAN_CREATE | FAN_MOVED_TO;

/// Creations in `/dev/shm` and the mqueue root, watched from the start.
#[derive(Debug)]
pub struct PosixCreations {
    fd: OwnedFd,
    /// `/dev/shm`'s fsid, where it is marked.
    shm_fsid: Option<u64>,
    /// The mqueue root, where it is marked.
    mqueue: Option<OwnedFd>,
}

impl PosixCreations {
    /// Starts watching `/dev/shm` and the mqueue directory `mqueue` (a
    /// copy of its fd is kept to remove the mark); `None` where fanotify
    /// refuses both (old kernel, no permission, neither directory).
    pub fn start(mqueue: Option<BorrowedFd<'_>>) -> Option<PosixCreations> {
        use crate::sys::linux::notify::{fanotify_init, fanotify_mark, fanotify_mark_fd};
        // Without CAP_SYS_ADMIN a group is unprivileged, and the kernel
        // gives it PID 0 for every event another process causes: no
        // creator to tell.
        if !privileged() {
            return None;
        }
        let fd = fanotify_init(
            FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
            (libc::O_RDONLY | libc::O_CLOEXEC) as libc::c_uint,
        )
        .ok()?;
        let shm_fsid = rustix::fs::statvfs("/dev/shm")
            .ok()
            .map(|s| s.f_fsid)
            .filter(|_| fanotify_mark(fd.as_fd(), FAN_MARK_ADD, WATCHED, c"/dev/shm").is_ok());
        // The queues only where the events' fsid tells the two apart: a
        // tmpfs `/dev/shm` has one of its own that events carry as statfs
        // gives it; another file system may report a zero ("weak") one.
        let apart = shm_fsid.is_none() || (shm_fsid != Some(0) && shm_is_tmpfs());
        let mqueue = mqueue
            .filter(|_| apart)
            .and_then(|dir| dir.try_clone_to_owned().ok())
            .filter(|dir| fanotify_mark_fd(fd.as_fd(), FAN_MARK_ADD, WATCHED, dir.as_fd()).is_ok());
        (shm_fsid.is_some() || mqueue.is_some()).then_some(PosixCreations { fd, shm_fsid, mqueue })
    }

    /// The kinds whose creations are watched.
    pub fn kinds(&self) -> Vec<IpcKind> {
        let mut kinds = Vec::new();
        if self.shm_fsid.is_some() {
            kinds.push(IpcKind::PosixShm);
        }
        if self.mqueue.is_some() {
            kinds.push(IpcKind::PosixMqueue);
        }
        kinds
    }

    /// Reads creations from now on, as the caller's loop finds them
    /// queued, keeping those made by descendants of `root` (checked as each
    /// event is read).
    pub fn follow(self, root: Pid) -> CreationReading {
        CreationReading {
            creations: self,
            created: Some(Created::default()),
            root: root.get(),
        }
    }

    /// Removes the marks. The kernel frees a mark after an SRCU grace
    /// period (fsnotify's mark reaper, a few ms): done early, that wait
    /// passes while the run ends, and closing the fanotify fd later (which
    /// waits for the reaper) finds it done.
    pub fn unmark(&self) {
        use crate::sys::linux::notify::{fanotify_mark, fanotify_mark_fd};
        // ENOENT if /dev/shm went: nothing to remove.
        if self.shm_fsid.is_some() {
            let _ = fanotify_mark(self.fd.as_fd(), FAN_MARK_REMOVE, WATCHED, c"/dev/shm");
        }
        if let Some(dir) = &self.mqueue {
            let _ = fanotify_mark_fd(self.fd.as_fd(), FAN_MARK_REMOVE, WATCHED, dir.as_fd());
        }
    }

    /// Every creation queued now, object and creating PID, in order;
    /// `None` if events were lost (queue overflow).
    pub fn drain(&self) -> Option<Vec<(PosixName, i32)>> {
        let mut created = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            // EAGAIN: nothing more queued (the fd is non-blocking).
            let n = match rustix::io::read(&self.fd, &mut buffer[..]) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            for event in parse_events(&buffer[..n]) {
                if event.mask & FAN_Q_OVERFLOW != 0 {
                    return None;
                }
                if let Some(name) = event.name {
                    let kind = match (self.shm_fsid, event.fsid) {
                        (Some(shm), Some(fsid)) if shm == fsid => IpcKind::PosixShm,
                        _ if self.mqueue.is_some() => IpcKind::PosixMqueue,
                        _ => IpcKind::PosixShm,
                    };
                    created.push(((kind, format!("/{name}")), event.pid));
                }
            }
        }
        Some(created)
    }
}

/// `CAP_SYS_ADMIN` in the initial user namespace: what makes a fanotify
/// group privileged (fanotify_init(2)).
fn privileged() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    crate::process::capable_everywhere(CAP_SYS_ADMIN)
}

/// Whether `/dev/shm` is a tmpfs (`TMPFS_MAGIC`). A second statfs beside
/// `statvfs`'s: rustix gives the fsid only through `statvfs`, which has no
/// file system type.
fn shm_is_tmpfs() -> bool {
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    rustix::fs::statfs("/dev/shm").is_ok_and(|s| u64::try_from(s.f_type) == Ok(TMPFS_MAGIC))
}

/// Whether `pid` descends from `root`, following parents with `parent_of`
/// (`None`: gone or unreadable). Pure.
pub fn descends_from(pid: i32, root: i32, parent_of: impl Fn(i32) -> Option<i32>) -> bool {
    let mut at = pid;
    // A chain longer than this is a loop of reused PIDs read at different
    // moments: no answer.
    for _ in 0..4096 {
        match parent_of(at) {
            Some(parent) if parent == root => return true,
            Some(parent) if parent > 1 && parent != at => at = parent,
            _ => return false,
        }
    }
    false
}

fn parent_of(pid: i32) -> Option<i32> {
    let pid = Pid::new(pid)?;
    // ENOENT: gone (its creation then cannot be tied to anyone).
    crate::resources::holders::brief(pid).map(|b| b.ppid)
}

/// The creations of a [`PosixCreations`] made by descendants of a process,
/// read as they come by the caller's own event loop, which polls
/// [`CreationReading::fd`] beside its other sources (no thread: starting
/// and joining one cost a short run more than the reading), and once more
/// at the end.
#[derive(Debug)]
pub struct CreationReading {
    creations: PosixCreations,
    /// `None` once events were lost.
    created: Option<Created>,
    root: i32,
}

/// Creations as a [`CreationReading`] tells them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    /// By descendants: object to PID.
    pub ours: HashMap<PosixName, i32>,
    /// By processes already gone when the event was read: object to PID.
    pub gone: HashMap<PosixName, i32>,
}

impl Created {
    /// Notes one creation, the last one of a name counting.
    fn note(&mut self, name: PosixName, pid: i32, root: i32) {
        self.gone.remove(&name);
        self.ours.remove(&name);
        if descends_from(pid, root, parent_of) {
            self.ours.insert(name, pid);
        } else if parent_of(pid).is_none() {
            self.gone.insert(name, pid);
        }
    }
}

impl CreationReading {
    /// The fanotify fd: readable when creations are queued.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.creations.fd.as_fd()
    }

    /// Reads and attributes every creation queued now.
    pub fn read(&mut self) {
        match (self.creations.drain(), &mut self.created) {
            (Some(created), Some(ours)) => {
                for (name, pid) in created {
                    ours.note(name, pid, self.root);
                }
            }
            // Events were lost: no creation can be told.
            _ => self.created = None,
        }
    }

    /// Stops reading: the marks removed, the last creations read; the
    /// creations (`None` if events were lost), and the watch, to be closed
    /// later.
    pub fn finish(mut self) -> (Option<Created>, PosixCreations) {
        self.creations.unmark();
        self.read();
        (self.created, self.creations)
    }
}

/// One fanotify event with `FAN_REPORT_DFID_NAME`, as far as it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The name in the directory (not UTF-8: read lossily).
    pub name: Option<String>,
    /// The process that caused it.
    pub pid: i32,
    /// `FAN_*` bits.
    pub mask: u64,
    /// The fsid of the directory's filesystem, as `statvfs` gives it.
    pub fsid: Option<u64>,
}

/// Parses fanotify events with `FAN_REPORT_DFID_NAME`. Pure.
pub fn parse_events(bytes: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut at = 0usize;
    while let Some(len) = u32_at(bytes, at).map(|l| l as usize) {
        let Some(event) = bytes.get(at..at + len).filter(|_| len >= 24) else {
            break;
        };
        let metadata_len = u16::from_ne_bytes([event[6], event[7]]) as usize;
        let mut parsed = Event {
            name: None,
            pid: i32::from_ne_bytes(event[20..24].try_into().unwrap_or([0; 4])),
            mask: u64::from_ne_bytes(event[8..16].try_into().unwrap_or([0; 8])),
            fsid: None,
        };
        let mut info = metadata_len;
        while let Some(record) = event.get(info..info + 4) {
            let record_len = u16::from_ne_bytes([record[2], record[3]]) as usize;
            if record_len < 4 {
                break;
            }
            if record[0] == FAN_EVENT_INFO_TYPE_DFID_NAME {
                read_dfid_name(&event[info..(info + record_len).min(event.len())], &mut parsed);
            }
            info += record_len;
        }
        parsed.name = parsed.name.filter(|n| !n.is_empty() && n != ".");
        events.push(parsed);
        at += len;
    }
    events
}

/// A DFID_NAME record: a header {type u8, pad u8, len u16}, the fsid (two
/// `int`s), a file_handle {bytes u32, type i32, handle[bytes]} and the
/// NUL-terminated name.
fn read_dfid_name(record: &[u8], event: &mut Event) {
    if let (Some(low), Some(high)) = (u32_at(record, 4), u32_at(record, 8)) {
        event.fsid = Some(u64::from(low) | (u64::from(high) << 32));
    }
    let Some(handle_bytes) = u32_at(record, 12) else {
        return;
    };
    if let Some(raw) = record.get(20 + handle_bytes as usize..) {
        let raw = raw.split(|&b| b == 0).next().unwrap_or(&[]);
        event.name = Some(String::from_utf8_lossy(raw).into_owned());
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)
        .map(|s| u32::from_ne_bytes(s.try_into().unwrap_or([0; 4])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creators_are_the_tree_when_they_descend_from_afterlife() {
        // afterlife 10 -> command 20 -> child 30; 40 is someone else's.
        let parents = HashMap::from([(20, 10), (30, 20), (40, 1), (10, 5)]);
        let parent_of = |pid: i32| parents.get(&pid).copied();
        assert!(descends_from(30, 10, parent_of));
        assert!(descends_from(20, 10, parent_of));
        assert!(!descends_from(40, 10, parent_of));
        // Gone, or afterlife itself.
        assert!(!descends_from(50, 10, parent_of));
        assert!(!descends_from(10, 10, parent_of));
        // A loop of reused PIDs ends.
        let looped = HashMap::from([(60, 61), (61, 60)]);
        assert!(!descends_from(60, 10, |p| looped.get(&p).copied()));
    }

    /// One event as the kernel writes it: metadata, then a DFID_NAME
    /// record with an 8-byte handle.
    fn event(pid: i32, fsid: (u32, u32), name: &[u8]) -> Vec<u8> {
        let mut record = vec![FAN_EVENT_INFO_TYPE_DFID_NAME, 0, 0, 0];
        record.extend(fsid.0.to_ne_bytes());
        record.extend(fsid.1.to_ne_bytes());
        record.extend(8u32.to_ne_bytes());
        record.extend(1i32.to_ne_bytes());
        record.extend([7u8; 8]);
        record.extend(name);
        record.push(0);
        while record.len() % 4 != 0 {
            record.push(0);
        }
        let record_len = record.len() as u16;
        record[2..4].copy_from_slice(&record_len.to_ne_bytes());
        let len = 24 + record.len() as u32;
        let mut bytes = len.to_ne_bytes().to_vec();
        bytes.extend([3u8, 0]);
        bytes.extend(24u16.to_ne_bytes());
        bytes.extend(FAN_CREATE.to_ne_bytes());
        bytes.extend((-1i32).to_ne_bytes());
        bytes.extend(pid.to_ne_bytes());
        bytes.extend(record);
        bytes
    }

    #[test]
    fn events_give_name_pid_and_fsid() {
        let mut bytes = event(41, (0x0e72_12a0, 0xcd40_5989), b"PostgreSQL.42");
        bytes.extend(event(42, (0x14, 0), b"odd-\xff"));
        let events = parse_events(&bytes);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].name.as_deref(), Some("PostgreSQL.42"));
        assert_eq!(events[0].pid, 41);
        assert_eq!(events[0].mask, FAN_CREATE);
        assert_eq!(events[0].fsid, Some(0xcd40_5989_0e72_12a0));
        assert_eq!(events[1].name.as_deref(), Some("odd-\u{fffd}"));
        assert_eq!(events[1].fsid, Some(0x14));
        // A cut event is not read.
        assert_eq!(parse_events(&bytes[..30]).len(), 0);
    }

    #[test]
    fn sees_its_own_creations_of_each_kind() {
        let mqueue = crate::resources::ipc::MqueueRoot::open();
        let Some(watch) = PosixCreations::start(mqueue.as_ref().map(|m| m.fd())) else {
            return;
        };
        let me = std::process::id() as i32;
        let name = format!("afterlife-unit-fan-{me}");
        let path = format!("/dev/shm/{name}");
        std::fs::write(&path, b"x").unwrap();
        let queue = std::ffi::CString::new(format!("/{name}")).unwrap();
        let watched_queue = watch.kinds().contains(&IpcKind::PosixMqueue);
        if watched_queue {
            drop(crate::sys::linux::ipc::mq_create(&queue, libc::O_RDWR | libc::O_CLOEXEC, 0o600).unwrap());
        }
        let created = watch.drain();
        std::fs::remove_file(&path).unwrap();
        if watched_queue {
            crate::sys::linux::ipc::mq_unlink(&queue).unwrap();
        }
        let created = created.expect("no overflow");
        assert!(
            created.contains(&((IpcKind::PosixShm, format!("/{name}")), me)),
            "{created:?}"
        );
        if watched_queue {
            assert!(
                created.contains(&((IpcKind::PosixMqueue, format!("/{name}")), me)),
                "{created:?}"
            );
        }
        // As root on Linux 6.8 and later, queues are watched: a mount of
        // the mqueue filesystem of our own where none is mounted.
        let release = rustix::system::uname().release().to_string_lossy().into_owned();
        if rustix::process::geteuid().is_root() && crate::resources::walk::kernel_at_least(&release, 6, 8) {
            assert!(watched_queue, "{:?}", watch.kinds());
        }
    }
}
