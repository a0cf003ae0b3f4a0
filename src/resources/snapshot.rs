//! A picture of what a process or a process tree holds at one moment: every
//! fd, socket, mapped file, lock and IPC object it created or used — saved as
//! JSON while the tree lives, compared with the system after it died
//! ([`crate::resources::leftovers`]).
//!
//! Kernel facts relied on: a process is named for good by its PID and start
//! time (`/proc/PID/stat` field 22); a tree is the set of descendants by
//! parent PID at the moment of the scan (processes reparented to a subreaper
//! or init before the scan are not in it). Processes and fds that vanish
//! mid-read are skipped; what cannot be read (another user's process
//! without privilege) is recorded in `errors`, not fatal.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::process::{Pid, ProcessTable, ReadError};
use crate::resources::fd::{self, Fd, FdKind};
use crate::resources::holders::brief;
use crate::resources::ipc::{self, IpcKind, IpcObject};
use crate::resources::locks::{self, Lock};
use crate::resources::maps::{self, MappedFile};
use crate::resources::sockets::{self, NetnsId, Socket};

/// The snapshot format version: the JSON schema's, which the printed
/// document carries in `version` (version 1 snapshots read as well).
pub const SNAPSHOT_VERSION: u32 = crate::JSON_VERSION;

fn current_version() -> u32 {
    SNAPSHOT_VERSION
}

/// One process in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSnapshot {
    /// The PID.
    pub pid: Pid,
    /// Its parent.
    pub ppid: i32,
    /// Start time in clock ticks after boot (with the PID: the process for good).
    pub start_ticks: u64,
    /// Start time, seconds since the epoch.
    pub started_at: Option<f64>,
    /// Name (`comm`).
    pub name: String,
    /// Real UID.
    pub uid: Option<u32>,
    /// User name.
    pub user: Option<String>,
    /// Command line.
    #[serde(rename = "command_line", alias = "cmdline")]
    pub cmdline: Vec<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Its root directory (`/proc/PID/root`) where it is not afterlife's
    /// own `/`: a chrooted process. The names it gives the kernel — the
    /// path a unix socket of its was bound to — are relative to it; its fd,
    /// cwd and mapping links are read from afterlife's root, and are not.
    /// In the JSON only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_dir: Option<String>,
    /// Network namespace.
    pub netns: Option<NetnsId>,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// Open fds.
    pub fds: Vec<Fd>,
    /// Whether the fds could not be read (no ptrace read access; the
    /// reason is in `errors`): `fds` is then empty for want of a reading,
    /// not because none is open. In the JSON only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fds_unreadable: bool,
    /// It had exited and was waiting to be reaped: no fds, no memory. In
    /// the JSON only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub zombie: bool,
    /// It was exiting when read (`PF_EXITING`): its memory, command line
    /// and fds may already be gone from the reading, which is then no
    /// picture of what it held while it ran. In the JSON only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exiting: bool,
    /// Memory-mapped files.
    pub maps: Vec<MappedFile>,
    /// What could not be read.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// A lock held by a process of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldLock {
    /// The lock.
    pub lock: Lock,
    /// The locked file's path, when one of the process's fds is on it.
    pub path: Option<String>,
}

/// What a process or tree holds at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version, as read; printing adds the schema's own `version`.
    #[serde(skip_serializing, default = "current_version")]
    pub version: u32,
    /// When it was taken, seconds since the epoch.
    pub taken_at: f64,
    /// The boot it was taken in (`/proc/sys/kernel/random/boot_id`): PIDs
    /// and start times mean nothing across a reboot.
    pub boot_id: String,
    /// The process asked for.
    pub root: Pid,
    /// Whether its descendants are included.
    pub tree: bool,
    /// The processes, parents before children.
    pub processes: Vec<ProcessSnapshot>,
    /// The sockets their fds refer to.
    pub sockets: Vec<Socket>,
    /// File locks recorded under their PIDs.
    pub locks: Vec<HeldLock>,
    /// IPC objects they created or used last, and POSIX objects they have
    /// open or mapped.
    pub ipc: Vec<IpcObject>,
}

/// Taking a snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The root process exists, but /proc hides it (`hidepid`).
    #[error(
        "process {pid} exists, but /proc does not show it (mounted with hidepid, which hides other users' processes): ask as its user or as root"
    )]
    Hidden {
        /// The PID.
        pid: Pid,
    },
    /// The root process does not exist.
    #[error("no process {pid} (it never existed, or it ended and was reaped)")]
    NoSuchProcess {
        /// The PID.
        pid: Pid,
    },
    /// The root is a thread's ID, not a process's.
    #[error("{0}")]
    Thread(crate::process::OpenError),
}

impl Snapshot {
    /// Snapshots one process.
    pub fn of_process(pid: Pid) -> Result<Snapshot, SnapshotError> {
        Snapshot::take(pid, false)
    }

    /// Snapshots a process and every descendant.
    pub fn of_tree(root: Pid) -> Result<Snapshot, SnapshotError> {
        Snapshot::take(root, true)
    }

    fn take(root: Pid, tree: bool) -> Result<Snapshot, SnapshotError> {
        // /proc/TID answers for a thread as for its process: refuse it.
        if let Some(thread) = crate::process::not_a_process(root) {
            return Err(SnapshotError::Thread(thread));
        }
        // With the tree, each process as the scan saw it (its start time),
        // not one given its PID after it ended.
        let table = tree.then(ProcessTable::scan);
        let start_of = |pid: Pid| table.as_ref().and_then(|t| t.get(pid)).map(|e| e.start_ticks);
        let mut pids = vec![root];
        if let Some(table) = &table {
            pids.extend(table.descendants(root));
        }
        let mut processes = Vec::new();
        for &pid in &pids {
            // ESRCH/ENOENT: it exited meanwhile; only the root's absence is an error.
            if let Some(process) = read_process(pid, start_of(pid)) {
                processes.push(process);
            } else if pid == root {
                if crate::process::Process::exists_unlisted(pid) {
                    return Err(SnapshotError::Hidden { pid });
                }
                return Err(SnapshotError::NoSuchProcess { pid });
            }
        }
        let sockets = sockets_of(&processes);
        let locks = locks_of(&processes, &locks::read());
        let mut ipc = ipc_of(&processes, with_sem_last_pids(ipc::read_every()));
        for queue in mqueues_of(&processes) {
            if !ipc.iter().any(|o| o.same_object(&queue)) {
                ipc.push(queue);
            }
        }
        Ok(Snapshot {
            version: SNAPSHOT_VERSION,
            taken_at: now_secs(),
            boot_id: boot_id(),
            root,
            tree,
            processes,
            sockets,
            locks,
            ipc,
        })
    }

    /// The PIDs in the snapshot.
    pub fn pids(&self) -> BTreeSet<Pid> {
        self.processes.iter().map(|p| p.pid).collect()
    }

    /// When the earliest process of the snapshot started, seconds since the epoch.
    pub fn started_at(&self) -> Option<f64> {
        self.processes
            .iter()
            .filter_map(|p| p.started_at)
            .min_by(|a, b| a.total_cmp(b))
    }

    /// The root directories of the processes that hold socket `inode`,
    /// each once (`None`: afterlife's own root); `[None]` where no process
    /// of the snapshot holds it. A unix socket's bound name is relative to
    /// its binder's root. Pure.
    pub fn roots_holding(&self, inode: u64) -> Vec<Option<&str>> {
        let mut roots: Vec<Option<&str>> = self
            .processes
            .iter()
            .filter(|p| p.fds.iter().any(|f| f.kind == FdKind::Socket && f.inode == Some(inode)))
            .map(|p| p.root_dir.as_deref())
            .collect();
        roots.sort();
        roots.dedup();
        if roots.is_empty() {
            roots.push(None);
        }
        roots
    }

    /// Number of fds of each kind over every process.
    pub fn fds_by_kind(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for fd in self.processes.iter().flat_map(|p| &p.fds) {
            *counts.entry(fd.kind.name()).or_insert(0) += 1;
        }
        counts
    }
}

/// Seconds since the epoch, now.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// This boot's ID.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// What `pid` holds, if it is the process that started at
/// `expected_start` (clock ticks after boot) where that is given; `None`
/// if it ended meanwhile or another process has its PID.
fn read_process(pid: Pid, expected_start: Option<u64>) -> Option<ProcessSnapshot> {
    let b = brief(pid)?;
    if expected_start.is_some_and(|start| start != b.start_ticks) {
        return None;
    }
    let mut errors = Vec::new();
    let mut note = |e: ReadError| {
        // Gone mid-read: what was read stays; anything else is recorded.
        if !matches!(e, ReadError::Gone { .. }) {
            errors.push(e.to_string());
        }
    };
    // A process whose main thread has ended is read through a thread that
    // runs: the main thread's fds, memory and working directory went with it.
    let files = crate::process::files_dir(pid);
    let mut fds_unreadable = false;
    let fds = fd::list_in(pid, &files).unwrap_or_else(|e| {
        fds_unreadable = !matches!(e, ReadError::Gone { .. });
        note(e);
        Vec::new()
    });
    let maps = maps::read_in(pid, &files).unwrap_or_else(|e| {
        note(e);
        Vec::new()
    });
    let cmdline = std::fs::read(format!("{files}/cmdline"))
        .map(|raw| crate::proc::cmdline::split(&raw))
        .unwrap_or_default();
    let cwd = fd::read_link_or_too_long(std::path::Path::new(&format!("{files}/cwd")))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    // Unreadable, it is noted: an absent root_dir would read as `/`.
    let root_dir = match std::fs::read_link(format!("{files}/root")) {
        Ok(link) => other_root(&link.to_string_lossy()),
        Err(e) => {
            note(ReadError::from_io(pid, "root", e));
            None
        }
    };
    let page = rustix::param::page_size() as u64;
    let started_at = Some(crate::proc::started_at(b.start_ticks));
    // Read last: if the process was replaced by another with the same PID
    // meanwhile, its start time differs and the reading is dropped.
    let again = brief(pid)?;
    if again.start_ticks != b.start_ticks {
        return None;
    }
    if again.zombie {
        // A zombie has no fd table, memory or root left to read: what was
        // refused (another user's zombie, without CAP_SYS_PTRACE) hid
        // nothing, and its fds are none, not unknown.
        fds_unreadable = false;
        errors.clear();
    }
    Some(ProcessSnapshot {
        pid,
        ppid: b.ppid,
        // As the initial time namespace counts it, whichever one afterlife
        // is in: `leftovers` may run in another.
        start_ticks: b
            .start_ticks
            .saturating_add_signed(-crate::proc::boottime_offset_ticks()),
        started_at,
        name: b.name,
        uid: b.uid,
        user: b.uid.and_then(crate::process::user_name),
        cmdline,
        cwd,
        root_dir,
        netns: sockets::netns_of(pid),
        rss_bytes: resident_pages(pid, &files).unwrap_or(b.rss_pages) * page,
        fds,
        fds_unreadable,
        zombie: again.zombie,
        exiting: again.exiting,
        maps,
        errors,
    })
}

/// A process's root directory as its `/proc/PID/root` link reads, where
/// it is not afterlife's own root: `None` for `/`. Pure.
fn other_root(link: &str) -> Option<String> {
    (link != "/").then(|| link.to_string())
}

/// The host path (as afterlife reaches it) of `path`, a name a process
/// whose root directory is `root` gave the kernel: `/s.sock` bound in a
/// chroot at `/srv/jail` is `/srv/jail/s.sock`. A relative `path`, or a
/// process whose root is afterlife's, is left as it is. Pure.
pub fn in_root(root: Option<&str>, path: &str) -> String {
    match root {
        Some(root) if path.starts_with('/') => format!("{}{path}", root.trim_end_matches('/')),
        _ => path.to_string(),
    }
}

/// Resident pages from `FILES/statm`, where the process's memory is read
/// through a thread (its main thread ended, and `stat` says 0).
fn resident_pages(pid: Pid, files: &str) -> Option<u64> {
    (files != format!("/proc/{pid}")).then_some(())?;
    let text = std::fs::read(format!("{files}/statm")).ok()?;
    crate::proc::stat::parse_statm(&text).map(|m| m.resident)
}

/// The sockets the processes' fds refer to, one dump per network namespace.
fn sockets_of(processes: &[ProcessSnapshot]) -> Vec<Socket> {
    let inodes: HashSet<u64> = processes
        .iter()
        .flat_map(|p| &p.fds)
        .filter(|f| f.kind == FdKind::Socket)
        .filter_map(|f| f.inode)
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut members: BTreeMap<NetnsId, Pid> = BTreeMap::new();
    for p in processes {
        if let Some(ns) = p.netns {
            members.entry(ns).or_insert(p.pid);
        }
    }
    sockets::with_inodes(&members, &inodes)
}

/// Locks recorded under the processes' PIDs, with the path when one of that
/// process's fds has the same inode, and the locks the processes' fds hold
/// (their fdinfo `lock:` lines): a `flock` taken by a parent and inherited,
/// or one that /proc/locks hides because its locker is not visible in this
/// PID namespace.
pub fn locks_of(processes: &[ProcessSnapshot], all: &[Lock]) -> Vec<HeldLock> {
    let mut held: Vec<HeldLock> = all
        .iter()
        .filter(|l| !l.waiting)
        .filter_map(|lock| {
            let pid = lock.pid?;
            let process = processes.iter().find(|p| p.pid.get() == pid)?;
            let path = process
                .fds
                .iter()
                .find(|f| f.inode == Some(lock.inode) && matches!(f.kind, FdKind::File | FdKind::DeletedFile))
                .map(|f| f.target.clone());
            Some(HeldLock {
                lock: lock.clone(),
                path,
            })
        })
        .collect();
    for fd in processes.iter().flat_map(|p| &p.fds) {
        for lock in fd.locks.iter().filter(|l| !l.waiting) {
            if !held.iter().any(|h| h.lock.same_lock(lock)) {
                // The PID /proc/locks records, where it shows the lock.
                let lock = all.iter().find(|l| l.same_lock(lock)).unwrap_or(lock);
                held.push(HeldLock {
                    lock: lock.clone(),
                    path: Some(fd.target.clone()),
                });
            }
        }
    }
    held
}

/// `all` with the last process that changed each semaphore of a SysV set
/// (`semctl(GETPID)`): a set names no creator, and `/proc/sysvipc/sem`
/// no user.
fn with_sem_last_pids(mut all: Vec<IpcObject>) -> Vec<IpcObject> {
    for o in all.iter_mut().filter(|o| o.kind == IpcKind::SysvSem) {
        if let Some(id) = o.id {
            o.last_pids = crate::resources::ipc_left::sem_last_pids(id as i32, o.size);
        }
    }
    all
}

/// IPC objects the processes created or used last (SysV), or have open or
/// mapped (POSIX shared memory under /dev/shm).
pub fn ipc_of(processes: &[ProcessSnapshot], all: Vec<IpcObject>) -> Vec<IpcObject> {
    let open: HashSet<&str> = processes
        .iter()
        .flat_map(|p| {
            p.fds
                .iter()
                .map(|f| f.target.as_str())
                .chain(p.maps.iter().map(|m| m.path.as_str()))
        })
        .collect();
    all.into_iter()
        .filter(|o| match o.kind {
            IpcKind::PosixShm => o
                .name
                .as_ref()
                .is_some_and(|n| open.contains(format!("/dev/shm{n}").as_str())),
            IpcKind::PosixMqueue => false,
            _ => touched_by_one_of(o, processes),
        })
        .collect()
}

/// Whether one of `processes` created or last used `object` (SysV): not
/// a process given the PID of an ended creator or user after it made or
/// used it. Pure.
pub(crate) fn touched_by_one_of<'a>(
    object: &IpcObject,
    processes: impl IntoIterator<Item = &'a ProcessSnapshot>,
) -> bool {
    processes.into_iter().any(|p| match p.started_at {
        Some(started_at) => object.touched_by_process(p.pid.get(), started_at),
        None => object.touched_by(p.pid.get()),
    })
}

/// `f_type` as i64: its type differs between architectures (i64 on x86_64,
/// u32 or i32 elsewhere).
#[allow(clippy::useless_conversion)]
fn fs_type(fs: &rustix::fs::StatFs) -> i64 {
    i64::from(fs.f_type)
}

/// POSIX message queues the processes have open: fds on the mqueue
/// filesystem (their link is `/NAME`), found even where that filesystem is
/// not mounted anywhere.
fn mqueues_of(processes: &[ProcessSnapshot]) -> Vec<IpcObject> {
    use std::os::unix::fs::MetadataExt;
    let mut found: Vec<IpcObject> = Vec::new();
    for p in processes {
        for fd in &p.fds {
            if fd.kind != FdKind::File || !fd.target.starts_with('/') || fd.target[1..].contains('/') {
                continue;
            }
            let link = format!("/proc/{}/fd/{}", p.pid, fd.fd);
            // Closed meanwhile or not ours to stat: not reported.
            let Ok(fs) = rustix::fs::statfs(link.as_str()) else {
                continue;
            };
            if fs_type(&fs) != ipc::MQUEUE_MAGIC || found.iter().any(|o| o.name.as_deref() == Some(&fd.target)) {
                continue;
            }
            let meta = std::fs::metadata(&link).ok();
            found.push(IpcObject {
                kind: IpcKind::PosixMqueue,
                id: None,
                key: None,
                name: Some(fd.target.clone()),
                uid: meta.as_ref().map_or(0, |m| m.uid()),
                creator_uid: None,
                size: meta.as_ref().map_or(0, |m| m.size()),
                creator_pid: None,
                last_pids: Vec::new(),
                attached: None,
                changed_at: meta.as_ref().map_or(0, |m| m.ctime()),
                changed_exact: None,
                used_at: None,
                used_at_by: Vec::new(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_of_self_round_trips() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let snap = Snapshot::of_process(Pid::current()).unwrap();
        assert_eq!(snap.processes.len(), 1);
        assert!(
            snap.sockets
                .iter()
                .any(|s| s.port() == Some(port) && s.state == sockets::SocketState::Listen)
        );
        let text = serde_json::to_string(&snap).unwrap();
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        // Times are f64: serde_json may read them back one ULP off.
        assert_eq!(back.processes[0].fds, snap.processes[0].fds);
        assert_eq!(back.processes[0].maps, snap.processes[0].maps);
        assert_eq!(back.processes[0].start_ticks, snap.processes[0].start_ticks);
        assert_eq!(back.sockets, snap.sockets);
        assert_eq!(back.locks, snap.locks);
        assert_eq!(back.ipc, snap.ipc);
        assert_eq!(back.boot_id, snap.boot_id);
        assert!(snap.fds_by_kind().get("socket").is_some_and(|&n| n >= 1));
    }

    #[test]
    fn locks_are_attributed_with_paths() {
        let lock = Lock {
            kind: locks::LockKind::Flock,
            write: true,
            pid: Some(10),
            major: 0,
            minor: 0x1a,
            inode: 77,
            start: 0,
            end: None,
            waiting: false,
        };
        let process = ProcessSnapshot {
            pid: Pid::new(10).unwrap(),
            ppid: 1,
            start_ticks: 1,
            started_at: None,
            name: "x".into(),
            uid: Some(0),
            user: None,
            cmdline: vec![],
            cwd: None,
            root_dir: None,
            netns: None,
            rss_bytes: 0,
            fds: vec![Fd {
                fd: 3,
                kind: FdKind::File,
                target: "/tmp/l".into(),
                inode: Some(77),
                access: crate::resources::Access::Write,
                cloexec: false,
                offset: 0,
                locks: vec![],
            }],
            fds_unreadable: false,
            zombie: false,
            exiting: false,
            maps: vec![],
            errors: vec![],
        };
        let other = Lock {
            pid: Some(11),
            ..lock.clone()
        };
        let held = locks_of(std::slice::from_ref(&process), &[lock.clone(), other]);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].path.as_deref(), Some("/tmp/l"));

        // A lock /proc/locks does not show (its locker is not visible in
        // this PID namespace) is found in the fd that holds it.
        let mut inherited = process;
        let hidden = Lock { pid: None, ..lock };
        inherited.fds[0].locks = vec![hidden.clone()];
        let held = locks_of(&[inherited], &[]);
        assert_eq!(held.len(), 1);
        assert_eq!(
            (held[0].lock.clone(), held[0].path.as_deref()),
            (hidden, Some("/tmp/l"))
        );
    }
}
