//! IPC objects that outlive their creators: System V shared memory,
//! semaphore sets and message queues (`/proc/sysvipc/*`, proc_sysvipc(5)),
//! POSIX shared memory (files in `/dev/shm`) and POSIX message queues (files
//! in the `mqueue` filesystem, mq_overview(7)).
//!
//! None of them goes when its creator exits: a SysV segment stays until
//! `IPC_RMID` (and its last detach), a POSIX object until `shm_unlink` /
//! `mq_unlink`. The kernel records the creator PID (`cpid`) and last PID
//! (`lpid`) of a segment and the last sender and receiver of a queue
//! (`lspid`, `lrpid`); semaphore sets record neither, only the creator's UID
//! and the change time. `/proc/sysvipc` shows the IPC namespace of the reader.

use serde::{Deserialize, Serialize};

/// The kind of an IPC object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpcKind {
    /// System V shared memory segment.
    SysvShm,
    /// System V semaphore set.
    SysvSem,
    /// System V message queue.
    SysvMsg,
    /// POSIX shared memory object (`/dev/shm/NAME`).
    PosixShm,
    /// POSIX message queue.
    PosixMqueue,
}

impl IpcKind {
    /// A short name for people.
    pub fn describe(self) -> &'static str {
        match self {
            IpcKind::SysvShm => "SysV shared memory",
            IpcKind::SysvSem => "SysV semaphore set",
            IpcKind::SysvMsg => "SysV message queue",
            IpcKind::PosixShm => "POSIX shared memory",
            IpcKind::PosixMqueue => "POSIX message queue",
        }
    }
}

/// One IPC object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpcObject {
    /// The kind.
    pub kind: IpcKind,
    /// SysV: the id (`ipcrm -m ID`); POSIX: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// SysV: the key; POSIX: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<i64>,
    /// POSIX: the name (`/NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Owner UID.
    pub uid: u32,
    /// Creator UID (SysV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_uid: Option<u32>,
    /// Size: bytes (shm), bytes queued (msg), semaphores (sem).
    pub size: u64,
    /// PID that created it (SysV shm `cpid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_pid: Option<i32>,
    /// PIDs that used it last (shm `lpid`; msg `lspid`, `lrpid`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_pids: Vec<i32>,
    /// Processes attached (shm `nattch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<u64>,
    /// Creation (POSIX: birth or change) time, seconds since the epoch.
    pub changed_at: i64,
    /// The same in nanoseconds, where it is known so (a file in
    /// `/dev/shm`; SysV times and message queues' are whole seconds). Not
    /// kept in a snapshot.
    #[serde(skip)]
    pub changed_exact: Option<i128>,
    /// SysV: when its last users (`last_pids`) used it at the latest, whole
    /// seconds since the epoch: a segment's last attach or detach, a
    /// queue's last send or receive, a semaphore set's last `semop` or
    /// change (`None`: never, or not told). Not kept in a snapshot.
    #[serde(skip)]
    pub used_at: Option<i64>,
    /// SysV message queues: when each last user used it, where /proc
    /// dates them apart (the last sender by its last send, the last
    /// receiver by its last receive). Not kept in a snapshot.
    #[serde(skip)]
    pub used_at_by: Vec<(i32, i64)>,
}

impl IpcObject {
    /// Its size in words: semaphores for a semaphore set, else bytes
    /// (`4096 B`).
    pub fn size_text(&self) -> String {
        match (self.kind, self.size) {
            (IpcKind::SysvSem, 1) => "1 semaphore".to_string(),
            (IpcKind::SysvSem, n) => format!("{n} semaphores"),
            (_, n) => format!("{n} B"),
        }
    }

    /// Whether it was made at or after `since` (seconds since the epoch):
    /// to the nanosecond where its time is known so, else by whole
    /// seconds (the second `since` falls in counts).
    pub fn new_since(&self, since: f64) -> bool {
        match self.changed_exact {
            Some(ns) => ns as f64 / 1e9 >= since,
            None => self.changed_at as f64 >= since.floor(),
        }
    }

    /// Identity across two readings: kind and id (SysV) or name (POSIX).
    pub fn same_object(&self, other: &IpcObject) -> bool {
        self.kind == other.kind && self.id == other.id && self.name == other.name && self.key == other.key
    }

    /// Whether `pid` created or last used it.
    pub fn touched_by(&self, pid: i32) -> bool {
        self.creator_pid == Some(pid) || self.last_pids.contains(&pid)
    }

    /// Whether the process that has `pid` now, started at `started_at`
    /// (seconds since the epoch), may be the one it names as its creator
    /// or a last user: not one that started after the creation (dated by
    /// the change time, which is never earlier) or after the last use,
    /// when the PID named a process that has ended since.
    pub fn touched_by_process(&self, pid: i32, started_at: f64) -> bool {
        self.created_by_process(pid, started_at)
            || (self.last_pids.contains(&pid) && started_by(started_at, self.used_by_at(pid)))
    }

    /// When `pid`, one of its last users, used it at the latest: its own
    /// date where /proc gives one apart ([`IpcObject::used_at_by`]), else
    /// the latest use of any.
    pub fn used_by_at(&self, pid: i32) -> Option<i64> {
        let own = self
            .used_at_by
            .iter()
            .filter(|&&(p, _)| p == pid)
            .map(|&(_, at)| at)
            .max();
        own.or(self.used_at)
    }

    /// Whether the process that has `pid` now, started at `started_at`,
    /// may be the one it names as its creator (as
    /// [`IpcObject::touched_by_process`]).
    pub fn created_by_process(&self, pid: i32, started_at: f64) -> bool {
        self.creator_pid == Some(pid) && started_by(started_at, Some(self.changed_at))
    }

    /// A one-line label: `SysV shared memory id 5 (key 0x0)`.
    pub fn label(&self) -> String {
        match (&self.name, self.id) {
            (Some(name), _) => format!("{} {name}", self.kind.describe()),
            (None, Some(id)) => format!(
                "{} id {id} (key {:#x})",
                self.kind.describe(),
                self.key.unwrap_or(0) as u32
            ),
            (None, None) => self.kind.describe().to_string(),
        }
    }
}

/// Reads every IPC object visible now; message queues where the mqueue
/// filesystem is mounted (see [`read_all_in`]).
pub fn read_all() -> Vec<IpcObject> {
    read_all_in(mqueue_mount().as_deref())
}

/// Reads every IPC object visible now, message queues also where the
/// mqueue filesystem is not mounted (as root, through a mount of its own:
/// [`MqueueRoot`]). For one reading of the whole machine; [`read_all`]
/// costs no mount.
pub fn read_every() -> Vec<IpcObject> {
    let root = MqueueRoot::open();
    read_all_in(root.as_ref().map(MqueueRoot::path).as_deref())
}

/// The root directory of the mqueue filesystem of afterlife's IPC
/// namespace, open: where it is mounted, or (with `CAP_SYS_ADMIN`, none
/// mounted, as on many containers and minimal hosts) a mount of its own
/// that no other process sees. Without it, a queue that no process has
/// open cannot be found by any name.
#[derive(Debug)]
pub struct MqueueRoot {
    dir: std::os::fd::OwnedFd,
    mounted_at: Option<std::path::PathBuf>,
}

impl MqueueRoot {
    /// Opens it; `None` where it is not mounted and cannot be.
    pub fn open() -> Option<MqueueRoot> {
        match mqueue_mount() {
            Some(mount) => {
                use rustix::fs::{Mode, OFlags};
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
                let dir = rustix::fs::open(&mount, flags, Mode::empty()).ok()?;
                Some(MqueueRoot {
                    dir,
                    mounted_at: Some(mount),
                })
            }
            // EPERM without CAP_SYS_ADMIN; ENOSYS before Linux 5.2.
            None => crate::sys::linux::ipc::mqueue_private_root()
                .ok()
                .map(|dir| MqueueRoot { dir, mounted_at: None }),
        }
    }

    /// The directory, open.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.dir)
    }

    /// A path that leads to it in this process (its fd's link in
    /// `/proc/self/fd`).
    pub fn path(&self) -> std::path::PathBuf {
        use std::os::fd::AsRawFd;
        std::path::PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd()))
    }

    /// Where it is mounted for everyone, if it is.
    pub fn mounted_at(&self) -> Option<&std::path::Path> {
        self.mounted_at.as_deref()
    }
}

/// Reads every IPC object visible now, the message queues from the mqueue
/// directory `mqueue` (none without one).
pub fn read_all_in(mqueue: Option<&std::path::Path>) -> Vec<IpcObject> {
    let mut objects = Vec::new();
    let in_use = crate::sys::linux::ipc::sysv_in_use();
    for (file, kind, count) in [
        ("/proc/sysvipc/shm", IpcKind::SysvShm, in_use.map(|n| n.shm)),
        ("/proc/sysvipc/sem", IpcKind::SysvSem, in_use.map(|n| n.sem)),
        ("/proc/sysvipc/msg", IpcKind::SysvMsg, in_use.map(|n| n.msg)),
    ] {
        // None of the kind exists: the file would hold its header only.
        if count == Some(0) {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(file) {
            objects.extend(parse_sysv(&text, kind));
        }
    }
    objects.extend(read_posix_dir(std::path::Path::new("/dev/shm"), IpcKind::PosixShm));
    if let Some(dir) = mqueue {
        objects.extend(read_posix_dir(dir, IpcKind::PosixMqueue));
    }
    objects
}

/// Parses a `/proc/sysvipc/*` file by its header's column names. Pure.
pub fn parse_sysv(text: &str, kind: IpcKind) -> Vec<IpcObject> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let index = |name: &str| columns.iter().position(|c| *c == name);
    let id_col = index(match kind {
        IpcKind::SysvShm => "shmid",
        IpcKind::SysvSem => "semid",
        _ => "msqid",
    });
    let size_col = index(match kind {
        IpcKind::SysvShm => "size",
        IpcKind::SysvSem => "nsems",
        _ => "cbytes",
    });
    lines
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let get = |col: Option<usize>| col.and_then(|c| fields.get(c)).and_then(|v| v.parse::<i64>().ok());
            let pid = |name: &str| get(index(name)).map(|p| p as i32).filter(|&p| p > 0);
            let last_pids = ["lpid", "lspid", "lrpid"].iter().filter_map(|n| pid(n)).collect();
            Some(IpcObject {
                kind,
                id: Some(get(id_col)?),
                key: get(index("key")),
                name: None,
                uid: get(index("uid"))? as u32,
                creator_uid: get(index("cuid")).map(|u| u as u32),
                size: get(size_col).unwrap_or(0).max(0) as u64,
                creator_pid: pid("cpid"),
                last_pids,
                attached: get(index("nattch")).map(|n| n.max(0) as u64),
                changed_at: get(index("ctime")).unwrap_or(0),
                changed_exact: None,
                used_at: used_columns(kind)
                    .iter()
                    .filter_map(|n| get(index(n)))
                    .filter(|&t| t > 0)
                    .max(),
                used_at_by: [("lspid", "stime"), ("lrpid", "rtime")]
                    .iter()
                    .filter_map(|&(p, t)| Some((pid(p)?, get(index(t)).filter(|&t| t > 0)?)))
                    .collect(),
            })
        })
        .collect()
}

/// Whether a process that started at `started_at` (seconds since the
/// epoch) had started by the second `at` (whole seconds since the epoch,
/// `None`: not dated): not if it started after that second ended. Half a
/// second is allowed for a start time taken to a date through the clocks
/// of now. Pure.
pub fn started_by(started_at: f64, at: Option<i64>) -> bool {
    at.is_none_or(|at| started_at < (at + 1) as f64 + 0.5)
}

/// The columns of `/proc/sysvipc/*` that date what sets the last users'
/// PIDs: a segment's last attach and detach (`lpid`), a queue's last send
/// and receive (`lspid`, `lrpid`), a semaphore set's last `semop` and last
/// change (`semctl(SETVAL)` sets a semaphore's PID too, and dates only the
/// change). Pure.
fn used_columns(kind: IpcKind) -> &'static [&'static str] {
    match kind {
        IpcKind::SysvShm => &["atime", "dtime"],
        IpcKind::SysvMsg => &["stime", "rtime"],
        IpcKind::SysvSem => &["otime", "ctime"],
        _ => &[],
    }
}

/// `MQUEUE_MAGIC`: the `f_type` of the mqueue filesystem (statfs(2)).
pub const MQUEUE_MAGIC: i64 = 0x1980_0202;

/// Whether the POSIX message queue `/name` exists in afterlife's IPC
/// namespace; works without the mqueue filesystem mounted.
pub fn mqueue_exists(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    match crate::sys::linux::ipc::mq_open(&c, libc::O_RDONLY | libc::O_CLOEXEC) {
        // Closed again on drop.
        Ok(_queue) => true,
        // EACCES and the like: it exists but is not ours to open.
        Err(e) => e.raw_os_error() != Some(libc::ENOENT),
    }
}

/// Where the mqueue filesystem is mounted, from `/proc/self/mountinfo`
/// (read once per process).
pub fn mqueue_mount() -> Option<std::path::PathBuf> {
    crate::proc::mountinfo::first_point_of_type(crate::proc::mountinfo::own().ok()?, "mqueue")
}

fn read_posix_dir(dir: &std::path::Path, kind: IpcKind) -> Vec<IpcObject> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        // An object unlinked meanwhile is skipped.
        .filter_map(|e| {
            let facts = crate::sys::linux::fs::facts(&e.path()).ok()?;
            if facts.file_type != rustix::fs::FileType::RegularFile {
                return None;
            }
            Some(IpcObject {
                kind,
                id: None,
                key: None,
                name: Some(format!("/{}", e.file_name().to_string_lossy())),
                uid: facts.uid,
                creator_uid: None,
                size: facts.size,
                creator_pid: None,
                last_pids: Vec::new(),
                attached: None,
                changed_at: facts.born_ns.div_euclid(1_000_000_000) as i64,
                // The mqueue filesystem keeps whole seconds (a queue made
                // at 12.7 s reads 12.0 s): only tmpfs's nanoseconds are
                // exact.
                changed_exact: (kind == IpcKind::PosixShm).then_some(facts.born_ns),
                used_at: None,
                used_at_by: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_made_after_a_moment_is_new_since_it() {
        // The mqueue filesystem keeps whole seconds: a queue made at
        // 12.7 s reads 12.0 s, and must still be new since 12.3 s.
        let Some(root) = MqueueRoot::open() else {
            eprintln!("skipped: no mqueue filesystem mounted, and no privilege to mount one");
            return;
        };
        let name = format!("/afterlife-unit-new-{}", std::process::id());
        let c = std::ffi::CString::new(name.clone()).unwrap();
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let mq = crate::sys::linux::ipc::mq_create(&c, libc::O_RDWR | libc::O_CLOEXEC, 0o600).unwrap();
        drop(mq);
        let read = read_all_in(Some(&root.path()));
        crate::sys::linux::ipc::mq_unlink(&c).unwrap();
        let queue = read
            .iter()
            .find(|o| o.kind == IpcKind::PosixMqueue && o.name.as_deref() == Some(&name))
            .expect("listed");
        assert!(queue.new_since(since), "{queue:?} since {since}");
    }

    #[test]
    fn mqueues_are_found_by_name() {
        let name = format!("/afterlife-unit-{}", std::process::id());
        let c = std::ffi::CString::new(name.clone()).unwrap();
        assert!(!mqueue_exists(&name));
        let mq = crate::sys::linux::ipc::mq_create(&c, libc::O_RDWR | libc::O_CLOEXEC, 0o600).unwrap();
        assert!(mqueue_exists(&name));
        drop(mq);
        crate::sys::linux::ipc::mq_unlink(&c).unwrap();
        assert!(!mqueue_exists(&name));
    }

    #[test]
    fn a_new_segment_is_counted_and_read() {
        let before = crate::sys::linux::ipc::sysv_in_use().expect("SHM_INFO, SEM_INFO and MSG_INFO");
        assert!(before.shm >= 0 && before.sem >= 0 && before.msg >= 0);
        let id = crate::sys::linux::ipc::shm_create(4096).unwrap();
        let counted = crate::sys::linux::ipc::sysv_in_use().unwrap().shm >= 1;
        let read = read_all()
            .iter()
            .any(|o| o.kind == IpcKind::SysvShm && o.id == Some(i64::from(id)));
        crate::sys::linux::ipc::shm_remove(id).unwrap();
        assert!(counted && read, "counted {counted}, read {read}");
    }

    #[test]
    fn a_process_started_after_a_dated_use_is_not_its_user() {
        // Used in second 100 (100.0 to 100.999).
        assert!(started_by(99.0, Some(100)));
        assert!(started_by(100.9, Some(100)));
        // Within the half second allowed for the clocks.
        assert!(started_by(101.4, Some(100)));
        assert!(!started_by(101.5, Some(100)));
        assert!(!started_by(5000.0, Some(100)));
        assert!(started_by(5000.0, None));
        let mut shm = parse_sysv(
            "key shmid perms size cpid lpid nattch uid atime dtime ctime\n0 5 1600 4096 7 8 0 0 300 0 200\n",
            IpcKind::SysvShm,
        )
        .remove(0);
        assert!(shm.touched_by_process(7, 150.0) && !shm.touched_by_process(7, 250.0));
        assert!(shm.touched_by_process(8, 250.0) && !shm.touched_by_process(8, 350.0));
        shm.creator_pid = None;
        assert!(!shm.touched_by_process(7, 150.0));
    }

    #[test]
    fn sysv_shm_parses() {
        let text = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n         0         5  1600                  4096  1234  1240      1     0     0     0     0 1700000001 0 1700000000 4096 0\n";
        let objects = parse_sysv(text, IpcKind::SysvShm);
        assert_eq!(objects.len(), 1);
        let shm = &objects[0];
        assert_eq!(shm.id, Some(5));
        assert_eq!(shm.size, 4096);
        assert_eq!(shm.creator_pid, Some(1234));
        assert_eq!(shm.last_pids, vec![1240]);
        assert_eq!(shm.attached, Some(1));
        assert!(shm.touched_by(1234) && shm.touched_by(1240) && !shm.touched_by(1));
        assert_eq!(shm.changed_at, 1700000000);
        assert_eq!(shm.used_at, Some(1700000001));
    }

    #[test]
    fn a_queues_sender_and_receiver_are_each_dated_by_their_own_use() {
        let msg = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n 0 2 600 0 0 100 200 0 0 0 0 100 200 5\n";
        let queue = &parse_sysv(msg, IpcKind::SysvMsg)[0];
        // The sender sent at 100 and ended; a process given its PID at 150
        // did not, though someone received at 200.
        assert!(!queue.touched_by_process(100, 150.0));
        assert!(queue.touched_by_process(100, 90.0));
        assert!(queue.touched_by_process(200, 150.0), "the receiver received at 200");
    }

    #[test]
    fn sysv_msg_and_sem_parse() {
        let msg = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n 305419896          2   600          10          1   555     0  1000  1000  1000  1000 1 0 5\n";
        let objects = parse_sysv(msg, IpcKind::SysvMsg);
        assert_eq!(objects[0].key, Some(305419896));
        assert_eq!(objects[0].last_pids, vec![555]);
        assert_eq!(objects[0].used_at, Some(1));
        assert_eq!(objects[0].used_at_by, vec![(555, 1)], "the sender by its send");
        assert_eq!(objects[0].creator_pid, None);
        assert_eq!(objects[0].uid, 1000);
        let sem = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n         0          3   600          2     0     0     0     0          0 1700\n";
        let objects = parse_sysv(sem, IpcKind::SysvSem);
        assert_eq!(objects[0].size, 2);
        assert_eq!(objects[0].changed_at, 1700);
        assert_eq!(objects[0].used_at, Some(1700));
    }
}
