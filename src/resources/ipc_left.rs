//! IPC objects a process tree created and left behind, for the reports of
//! `run`, `timeout` and `kill --tree`: which ones, how each was tied to the
//! tree, the command that removes it, and its removal when asked.
//!
//! No IPC object goes with its creator (proc_sysvipc(5), shm_overview(7),
//! mq_overview(7)), and an object someone else made must never be reported
//! or removed, so each is attributed only on what the kernel says:
//!
//! - a SysV segment records its creator's PID (`cpid`, in the reader's PID
//!   namespace): it must be a process known to be in the tree;
//! - a SysV semaphore set or message queue records no creator, only who used
//!   it last (`semctl(GETPID)` per semaphore; `lspid`/`lrpid`): it must be
//!   new since the tree started and last used by a process of the tree;
//! - a POSIX shared memory object (a file in `/dev/shm`) or message queue
//!   (a file in the mqueue filesystem) records no PID at all: its creation
//!   is watched with fanotify ([`super::ipc_created`]), whose events carry
//!   the creating process's PID, read as they come by `run`'s event loop,
//!   which asks at once whether that process descends from afterlife (a
//!   short-lived creator may be gone by the end of the run); where its
//!   kind is not watched, one new since the start that a process of the
//!   tree had open or mapped counts.
//!
//! An object is removed only after a check that the name or id still names
//! the same object (inode for files; key, creator and change time for SysV).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::CStr;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;

use serde::Serialize;

use crate::process::Pid;
use crate::resources::ipc::{self, IpcKind, IpcObject, MqueueRoot};
use crate::resources::ipc_created::{Created, CreationReading, PosixCreations, PosixName};
use crate::resources::tree_forks::TreeForks;
use crate::text::{shell_command, shell_command_bytes};

/// How an object was tied to the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpcAttribution {
    /// Its creator is a process of the tree: the kernel's `cpid` (SysV
    /// shared memory) or the PID of the fanotify creation event (`/dev/shm`,
    /// message queues).
    CreatorPid,
    /// New since the tree started, and a process of the tree used it last
    /// (SysV semaphores and message queues record no creator).
    LastUser,
    /// New since the tree started, and a process of the tree had it open
    /// or mapped (POSIX objects whose creation was not watched).
    HeldByTree,
}

/// What became of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum IpcFate {
    /// It stays.
    Left,
    /// Removed (`--remove-ipc`). A SysV segment still attached somewhere
    /// goes at its last detach.
    Removed,
    /// Removing it failed.
    RemoveFailed {
        /// Why.
        error: String,
    },
}

/// An IPC object the tree created and left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpcLeftover {
    /// The object.
    pub object: IpcObject,
    /// How it was tied to the tree.
    pub attribution: IpcAttribution,
    /// The process of the tree that created it (or used it last), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<i32>,
    /// The command that removes it: `ipcrm -m 8`, `rm /dev/shm/NAME`.
    pub remove_with: String,
    /// Whether it stays.
    #[serde(flatten)]
    pub fate: IpcFate,
    /// The file's inode (POSIX objects), to check before removing.
    #[serde(skip)]
    pub inode: Option<u64>,
}

/// The command that removes `object`. Pure.
pub fn remove_command(object: &IpcObject, mqueue_mount: Option<&std::path::Path>, inode: Option<u64>) -> String {
    let id = object.id.unwrap_or(-1);
    let name = object.name.as_deref().unwrap_or("/").trim_start_matches('/');
    // The file's own name: one read from bytes that are not UTF-8 is
    // found again by its inode, so that the command names its very bytes.
    let rm = |dir: &std::path::Path| {
        let path = posix_file(dir, name, inode).unwrap_or_else(|_| dir.join(name));
        shell_command_bytes(&[b"rm", path.as_os_str().as_encoded_bytes()])
    };
    match object.kind {
        IpcKind::SysvShm => format!("ipcrm -m {id}"),
        IpcKind::SysvSem => format!("ipcrm -s {id}"),
        IpcKind::SysvMsg => format!("ipcrm -q {id}"),
        IpcKind::PosixShm => rm(std::path::Path::new("/dev/shm")),
        IpcKind::PosixMqueue => match mqueue_mount {
            Some(mount) => rm(mount),
            None => format!(
                "mq_unlink(\"/{}\") (or mount -t mqueue none /dev/mqueue; {})",
                crate::text::escape(name),
                shell_command(&["rm", &format!("/dev/mqueue/{name}")])
            ),
        },
    }
}

/// What is known of the tree when its objects are attributed.
#[derive(Debug, Clone, Default)]
pub struct TreeFacts {
    /// PIDs known to be (or to have been) processes of the tree.
    pub pids: BTreeSet<i32>,
    /// Names (`/NAME`) of POSIX objects a process of the tree had open or
    /// mapped, with that process.
    pub held: HashMap<(IpcKind, String), i32>,
    /// POSIX objects created during the run, with the creating PID
    /// (fanotify); `None` when creations were not watched or events were
    /// lost.
    pub created: Option<HashMap<PosixName, i32>>,
    /// The kinds whose creations were watched.
    pub watched: Vec<IpcKind>,
    /// Objects whose creator had already ended when its creation was read:
    /// neither the tree's nor another's for sure, so they count only if new
    /// and held by the tree.
    pub creator_gone: HashSet<PosixName>,
    /// PIDs that a process of the tree and one outside it had, one after
    /// the other, during the run (`TreeForks::shared`): not in `pids`, and
    /// a creation event naming one tells no creator.
    pub shared: HashSet<i32>,
    /// For PIDs of `pids`, a time (seconds since the epoch) before which
    /// the tree's process with the PID had not started, where known: a
    /// SysV object that names the PID as its creator or last user and
    /// dates that before then was made or used by an earlier holder of the
    /// PID.
    pub started_no_earlier: HashMap<i32, f64>,
    /// Seconds since the epoch when the tree started.
    pub since: f64,
    /// The SysV segments as a process of the tree's own PID namespace read
    /// them (when the tree has one and a new segment's creator is not
    /// known otherwise): a creator PID there is non-zero only for a
    /// process of that namespace, ended or not, since the segment keeps its
    /// creator's `struct pid`.
    pub in_namespace: Option<Vec<IpcObject>>,
}

impl TreeFacts {
    /// Whether the tree's process with `pid` may have been running by the
    /// second `at` (`None`: not dated).
    fn started_by(&self, pid: i32, at: Option<i64>) -> bool {
        self.started_no_earlier
            .get(&pid)
            .is_none_or(|&start| ipc::started_by(start, at))
    }

    /// Whether the tree's PID namespace shows a creator for `object` (the
    /// same segment: id, key and change time).
    fn made_in_namespace(&self, object: &IpcObject) -> bool {
        self.in_namespace.as_ref().is_some_and(|seen| {
            seen.iter()
                .any(|o| o.same_object(object) && o.changed_at == object.changed_at && o.creator_pid.is_some())
        })
    }
}

/// Whether and how `object` is the tree's: `None` for an object someone
/// else made (or that was there before, `existed`). Pure.
pub fn attribute(object: &IpcObject, existed: bool, tree: &TreeFacts) -> Option<(IpcAttribution, Option<i32>)> {
    if existed {
        return None;
    }
    let in_tree = |pid: &i32| tree.pids.contains(pid);
    let new_since_start = object.new_since(tree.since);
    match object.kind {
        // Made before the tree started: an earlier process had the PID.
        IpcKind::SysvShm => object
            .creator_pid
            .filter(|pid| {
                (in_tree(pid) && tree.started_by(*pid, Some(object.changed_at))) || tree.made_in_namespace(object)
            })
            .filter(|_| new_since_start)
            .map(|pid| (IpcAttribution::CreatorPid, Some(pid))),
        IpcKind::SysvSem | IpcKind::SysvMsg => object
            .last_pids
            .iter()
            .find(|p| in_tree(p) && tree.started_by(**p, object.used_by_at(**p)))
            .filter(|_| new_since_start)
            .map(|&pid| (IpcAttribution::LastUser, Some(pid))),
        IpcKind::PosixShm | IpcKind::PosixMqueue => {
            let key = (object.kind, object.name.clone()?);
            if tree.watched.contains(&object.kind)
                && let Some(created) = &tree.created
            {
                // Watched: the creator decides, whoever holds it.
                if let Some(pid) = created.get(&key).filter(|p| in_tree(p)) {
                    return Some((IpcAttribution::CreatorPid, Some(*pid)));
                }
                if !tree.creator_gone.contains(&key) {
                    return None;
                }
            }
            tree.held
                .get(&key)
                .filter(|_| new_since_start)
                .map(|&pid| (IpcAttribution::HeldByTree, Some(pid)))
        }
    }
}

/// The POSIX objects `pids` have open or mapped: `/dev/shm` files (fds and
/// mappings) and message queues (fds on the mqueue filesystem, whose link
/// reads `/NAME`), with the first process seen holding each. Read on every
/// core.
pub fn held_by(pids: &[Pid]) -> HashMap<(IpcKind, String), i32> {
    let found = crate::resources::walk::parallel_map(pids, |&pid| held_by_one(pid, false));
    let mut held = HashMap::new();
    for (pid, keys) in pids.iter().zip(found) {
        for key in keys {
            held.entry(key).or_insert(pid.get());
        }
    }
    held
}

/// Every process of `pids` that holds each object now: POSIX objects open
/// or mapped as in [`held_by`], and SysV segments attached (a mapping of
/// `/SYSV…` whose inode is the segment's id), keyed as [`object_key`].
pub fn holders(pids: &[Pid]) -> HashMap<(IpcKind, String), Vec<Pid>> {
    let found = crate::resources::walk::parallel_map(pids, |&pid| held_by_one(pid, true));
    let mut held: HashMap<(IpcKind, String), Vec<Pid>> = HashMap::new();
    for (pid, keys) in pids.iter().zip(found) {
        for key in keys {
            let list = held.entry(key).or_default();
            if !list.contains(pid) {
                list.push(*pid);
            }
        }
    }
    held
}

/// The key [`holders`] files an object under: its POSIX name, or a SysV
/// segment's id. Pure.
pub fn object_key(object: &IpcObject) -> Option<(IpcKind, String)> {
    match (object.kind, &object.name, object.id) {
        (IpcKind::PosixShm | IpcKind::PosixMqueue, Some(name), _) => Some((object.kind, name.clone())),
        (IpcKind::SysvShm, _, Some(id)) => Some((IpcKind::SysvShm, id.to_string())),
        _ => None,
    }
}

/// The objects one process holds; SysV segments attached as well with `sysv`.
fn held_by_one(pid: Pid, sysv: bool) -> Vec<(IpcKind, String)> {
    let mut held = Vec::new();
    // ENOENT: it ended; EACCES: not ours to read. It holds nothing we can
    // tell. Links only: no fdinfo is needed here.
    let links = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            Some((
                e.file_name().to_str()?.parse::<i32>().ok()?,
                std::fs::read_link(e.path()).ok()?,
            ))
        });
    for (fd, link) in links {
        let target = link.to_string_lossy();
        let target = target.strip_suffix(" (deleted)").unwrap_or(&target);
        if let Some(name) = target.strip_prefix("/dev/shm/") {
            held.push((IpcKind::PosixShm, format!("/{name}")));
        } else if target.starts_with('/') && !target[1..].contains('/') && is_mqueue(pid, fd) {
            held.push((IpcKind::PosixMqueue, target.to_string()));
        }
    }
    // Only the lines that name /dev/shm are looked at (proc_pid_maps(5):
    // the path is the last field).
    // Lossy: one mapped file whose name is not UTF-8 must not cost the rest.
    let maps = crate::proc::read_lossy(&format!("/proc/{pid}/maps")).unwrap_or_default();
    held.extend(shm_mappings(&maps).map(|name| (IpcKind::PosixShm, format!("/{name}"))));
    if sysv {
        held.extend(sysv_attachments(&maps).map(|id| (IpcKind::SysvShm, id.to_string())));
    }
    held
}

/// The ids of the SysV segments a maps text shows attached: shmat(2) maps
/// `/SYSV` followed by the key in hex, ` (deleted)`, with the segment's id
/// as the inode (proc_pid_maps(5); ipc/shm.c). Pure.
pub fn sysv_attachments(maps: &str) -> impl Iterator<Item = u64> + '_ {
    maps.lines().filter(|line| line.contains(" /SYSV")).filter_map(|line| {
        let mapping = crate::proc::maps::mapping(line)?;
        mapping.path.starts_with("/SYSV").then_some(mapping.inode)
    })
}

/// The `/dev/shm` files a maps text names, unlinked ones included. Pure.
pub fn shm_mappings(maps: &str) -> impl Iterator<Item = &str> {
    // Only the lines that name /dev/shm are parsed.
    let lines = maps.lines().filter(|line| line.contains(" /dev/shm/"));
    lines.filter_map(|line| {
        let name = crate::proc::maps::mapping(line)?
            .path
            .strip_prefix("/dev/shm/")?
            .trim_end();
        Some(name.strip_suffix(" (deleted)").unwrap_or(name))
    })
}

fn is_mqueue(pid: Pid, fd: i32) -> bool {
    // Closed meanwhile: not one.
    rustix::fs::statfs(format!("/proc/{pid}/fd/{fd}").as_str()).is_ok_and(|fs| fs_type(&fs) == ipc::MQUEUE_MAGIC)
}

/// `f_type` as i64: its type differs between architectures.
#[allow(clippy::useless_conversion)]
fn fs_type(fs: &rustix::fs::StatFs) -> i64 {
    i64::from(fs.f_type)
}

/// Every IPC object now, with the last PIDs of SysV semaphore sets (from
/// `semctl(GETPID)`, which `/proc/sysvipc/sem` does not show) and, for
/// `/dev/shm` files, their inodes.
pub fn read_now(
    held: &HashMap<(IpcKind, String), i32>,
    mqueue: Option<&std::path::Path>,
) -> Vec<(IpcObject, Option<u64>)> {
    let mut objects = ipc::read_all_in(mqueue);
    // Queues open in the tree that no mounted mqueue filesystem listed.
    for (kind, name) in held.keys() {
        if *kind == IpcKind::PosixMqueue
            && !objects
                .iter()
                .any(|o| o.kind == *kind && o.name.as_deref() == Some(name))
            && ipc::mqueue_exists(name)
        {
            objects.push(IpcObject {
                kind: IpcKind::PosixMqueue,
                id: None,
                key: None,
                name: Some(name.clone()),
                uid: 0,
                creator_uid: None,
                size: 0,
                creator_pid: None,
                last_pids: Vec::new(),
                attached: None,
                // Unknown without the filesystem: counted as new, since the
                // tree held it.
                changed_at: i64::MAX,
                changed_exact: None,
                used_at: None,
                used_at_by: Vec::new(),
            });
        }
    }
    objects
        .into_iter()
        .map(|mut o| {
            if o.kind == IpcKind::SysvSem
                && let Some(id) = o.id
            {
                o.last_pids = sem_last_pids(id as i32, o.size);
            }
            let dir = match o.kind {
                IpcKind::PosixShm => Some(std::path::Path::new("/dev/shm")),
                IpcKind::PosixMqueue => mqueue,
                _ => None,
            };
            let inode = dir.zip(o.name.as_deref()).and_then(|(dir, name)| {
                posix_file(dir, name.trim_start_matches('/'), None)
                    .and_then(std::fs::symlink_metadata)
                    .ok()
                    .map(|m| m.ino())
            });
            (o, inode)
        })
        .collect()
}

/// The PIDs of the last `semop` on each semaphore of a set.
pub(crate) fn sem_last_pids(id: i32, count: u64) -> Vec<i32> {
    let mut pids = Vec::new();
    for number in 0..count.min(1024) as i32 {
        let pid = crate::sys::linux::ipc::sem_last_pid(id, number).unwrap_or(-1);
        // EINVAL/EIDRM: removed meanwhile; EACCES: not ours to read.
        if pid > 0 && !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    pids
}

/// The objects of `now` that are the tree's, given what was there
/// `before`. Pure.
pub fn left_by_tree(
    now: Vec<(IpcObject, Option<u64>)>,
    before: &[IpcObject],
    tree: &TreeFacts,
    mqueue_mount: Option<&std::path::Path>,
) -> Vec<IpcLeftover> {
    now.into_iter()
        // A name read from bytes that are not UTF-8 that leads to no one
        // file (two read alike): which of them is the tree's cannot be told.
        .filter(|(object, inode)| {
            let posix = matches!(object.kind, IpcKind::PosixShm | IpcKind::PosixMqueue);
            !(posix
                && inode.is_none()
                && object
                    .name
                    .as_deref()
                    .is_some_and(|n| n.contains(char::REPLACEMENT_CHARACTER)))
        })
        .filter_map(|(object, inode)| {
            let existed = before.iter().any(|b| b.same_object(&object));
            let (attribution, by) = attribute(&object, existed, tree)?;
            Some(IpcLeftover {
                remove_with: remove_command(&object, mqueue_mount, inode),
                object,
                attribution,
                by,
                fate: IpcFate::Left,
                inode,
            })
        })
        .collect()
}

/// Removes each object, after checking it is still the one attributed;
/// message queues through the mqueue directory `mqueue` where there is one.
pub fn remove_all(leftovers: &mut [IpcLeftover], mqueue: Option<&std::path::Path>) {
    if leftovers.is_empty() {
        return;
    }
    let sysv_now = ipc::read_all();
    for left in leftovers.iter_mut() {
        left.fate = match remove(left, &sysv_now, mqueue) {
            Ok(()) => IpcFate::Removed,
            Err(error) => IpcFate::RemoveFailed { error },
        };
    }
}

fn remove(left: &IpcLeftover, now: &[IpcObject], mqueue: Option<&std::path::Path>) -> Result<(), String> {
    let object = &left.object;
    match object.kind {
        IpcKind::SysvShm | IpcKind::SysvSem | IpcKind::SysvMsg => {
            // The id still names the object attributed: same key, creator
            // and change time.
            let same = now.iter().any(|o| {
                o.same_object(object) && o.creator_pid == object.creator_pid && o.changed_at == object.changed_at
            });
            if !same {
                return Err("it changed or is gone since it was read".to_string());
            }
            let id = object.id.unwrap_or(-1) as i32;
            let removed = match object.kind {
                IpcKind::SysvShm => crate::sys::linux::ipc::shm_remove(id),
                IpcKind::SysvSem => crate::sys::linux::ipc::sem_remove(id),
                _ => crate::sys::linux::ipc::msg_remove(id),
            };
            removed.map_err(|e| e.to_string())
        }
        IpcKind::PosixShm => remove_file(std::path::Path::new("/dev/shm"), left),
        // A queue is a file of the mqueue filesystem: its unlink is
        // mq_unlink's, and the inode tells it is still the one read.
        IpcKind::PosixMqueue => match mqueue.filter(|_| left.inode.is_some()) {
            Some(dir) => remove_file(dir, left),
            None => {
                let name =
                    std::ffi::CString::new(object.name.clone().unwrap_or_default()).map_err(|e| e.to_string())?;
                crate::sys::linux::ipc::mq_unlink(&name).map_err(|e| e.to_string())
            }
        },
    }
}

/// Removes the file of a POSIX object in `dir` if it is still the one read
/// (its inode).
fn remove_file(dir: &std::path::Path, left: &IpcLeftover) -> Result<(), String> {
    let name = left.object.name.as_deref().unwrap_or_default().trim_start_matches('/');
    let path = posix_file(dir, name, left.inode).map_err(|e| e.to_string())?;
    let inode = std::fs::symlink_metadata(&path).map_err(|e| e.to_string())?.ino();
    if Some(inode) != left.inode {
        return Err("another file has that name now".to_string());
    }
    std::fs::remove_file(&path).map_err(|e| e.to_string())
}

/// The file in `dir` whose name reads as `name`: the name itself, or,
/// where that is no file and `name` was read from bytes that are not UTF-8
/// (each replaced by U+FFFD), the entry whose name reads so and whose
/// inode is `inode` — with no inode, the one entry that reads so (a
/// POSIX name is any bytes but `/` and NUL).
fn posix_file(dir: &std::path::Path, name: &str, inode: Option<u64>) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::DirEntryExt;
    let path = dir.join(name);
    if !name.contains(char::REPLACEMENT_CHARACTER) || std::fs::symlink_metadata(&path).is_ok() {
        return Ok(path);
    }
    let mut matches = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy() == name && inode.is_none_or(|inode| e.ino() == inode));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Ok(only.path()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    }
}

/// Watches a tree's IPC from its start: what existed then, and the
/// creations in `/dev/shm` and of message queues since.
#[derive(Debug)]
pub struct IpcWatch {
    before: Vec<IpcObject>,
    /// The mqueue root, to list queues and to watch their creation.
    mqueue: Option<MqueueRoot>,
    creations: Option<PosixCreations>,
    /// The tree's processes from their fork events, however short-lived.
    forks: Option<TreeForks>,
    reader: Option<CreationReading>,
    /// What the reading found, once stopped (`None` inside: events lost).
    read: Option<Option<Created>>,
    tree: TreeFacts,
}

impl IpcWatch {
    /// Starts watching, before the tree starts.
    pub fn start() -> IpcWatch {
        let mqueue = MqueueRoot::open();
        let creations = PosixCreations::start(mqueue.as_ref().map(MqueueRoot::fd));
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        IpcWatch {
            before: ipc::read_all_in(mqueue.as_ref().map(MqueueRoot::path).as_deref()),
            tree: TreeFacts {
                since,
                watched: creations.as_ref().map(PosixCreations::kinds).unwrap_or_default(),
                ..TreeFacts::default()
            },
            mqueue,
            creations,
            forks: TreeForks::start(Pid::current()),
            reader: None,
            read: None,
        }
    }

    /// Reads creations from now on, keeping those of
    /// descendants of this process (the tree's processes, and the keeper):
    /// the caller polls [`IpcWatch::event_fds`] and calls
    /// [`IpcWatch::read_events`] when one is readable.
    pub fn follow(&mut self) {
        self.reader = self.creations.take().map(|creations| creations.follow(Pid::current()));
    }

    /// The fds that are readable when creations or forks are queued.
    pub fn event_fds(&self) -> Vec<BorrowedFd<'_>> {
        let creations = self.reader.as_ref().map(CreationReading::fd);
        creations
            .into_iter()
            .chain(self.forks.as_ref().map(TreeForks::fd))
            .collect()
    }

    /// Reads the creations and forks queued now.
    pub fn read_events(&mut self) {
        if let Some(reader) = &mut self.reader {
            reader.read();
        }
        if let Some(forks) = &mut self.forks {
            forks.read();
        }
    }

    /// Once the tree has ended: the mark is removed (its SRCU grace period
    /// then passes while the run ends) and the last creations are read.
    pub fn stop_reading(&mut self) {
        if let Some(reader) = self.reader.take() {
            let (created, watch) = reader.finish();
            self.creations = Some(watch);
            self.read = Some(created);
        }
    }

    /// Notes processes of the tree and the POSIX objects they hold now.
    pub fn note_tree(&mut self, pids: &[Pid]) {
        self.tree.pids.extend(pids.iter().map(|p| p.get()));
        for (key, pid) in held_by(pids) {
            self.tree.held.entry(key).or_insert(pid);
        }
    }

    /// Whether `object` is a SysV segment made during the run by a PID
    /// not known to be the tree's.
    fn creator_unknown(&self, object: &IpcObject) -> bool {
        object.kind == IpcKind::SysvShm
            && object.new_since(self.tree.since)
            && !self.before.iter().any(|b| b.same_object(object))
            && object.creator_pid.is_some_and(|pid| !self.tree.pids.contains(&pid))
    }

    /// The tree's creations: their creators count as the tree's, and so
    /// does a creation whose creator was gone when it was read but is a
    /// process known to be the tree's (the main process, a leftover).
    fn adopt(&mut self, created: Created) -> HashMap<PosixName, i32> {
        let Created { mut ours, gone } = created;
        // Read as a descendant's, made perhaps by the process outside the
        // tree that had the PID before: its creator is not known.
        for (name, _) in ours.extract_if(|_, pid| self.tree.shared.contains(pid)) {
            self.tree.creator_gone.insert(name);
        }
        for (name, pid) in gone {
            if self.tree.pids.contains(&pid) {
                ours.insert(name, pid);
            } else {
                self.tree.creator_gone.insert(name);
            }
        }
        self.tree.pids.extend(ours.values());
        ours
    }

    /// The objects the tree left, once it has ended; removed when `remove`.
    /// Keep the watch until the end of the run: dropping it closes the
    /// fanotify fd, which can take a few ms. `as_tree_reads` reads a file
    /// as a process of the tree's own PID namespace would (where it has
    /// one): asked only for a new SysV segment whose creator is not known
    /// to be the tree's, since a creator that ended before the tree was
    /// looked at is known no other way.
    pub fn finish(&mut self, remove: bool, as_tree_reads: &dyn Fn(&CStr) -> Option<Vec<u8>>) -> Vec<IpcLeftover> {
        self.stop_reading();
        // Every process the tree started, ended or not (events lost: only
        // those noted).
        if let Some(descendants) = self.forks.as_mut().and_then(TreeForks::descendants) {
            self.tree.pids.extend(descendants);
        }
        // A PID the tree and someone else had, one after the other, names
        // neither for sure.
        if let Some(forks) = &self.forks {
            self.tree.shared.clone_from(forks.shared());
            self.tree.pids.retain(|pid| !forks.shared().contains(pid));
            // An object dated before then is an earlier holder's.
            self.tree.started_no_earlier.extend(forks.first_forked());
        }
        self.tree.created = match (self.read.take(), &self.creations) {
            (Some(created), _) => created.map(|created| self.adopt(created)),
            (None, Some(creations)) => {
                creations.unmark();
                creations.drain().map(|all| all.into_iter().collect())
            }
            (None, None) => None,
        };
        let mqueue = self.mqueue.as_ref().map(MqueueRoot::path);
        let now = read_now(&self.tree.held, mqueue.as_deref());
        if now.iter().any(|(o, _)| self.creator_unknown(o)) {
            self.tree.in_namespace = as_tree_reads(c"/proc/sysvipc/shm")
                .map(|text| ipc::parse_sysv(&String::from_utf8_lossy(&text), IpcKind::SysvShm));
        }
        leftovers(now, &self.before, &self.tree, self.mqueue.as_ref(), remove)
    }
}

/// The objects of `now` the tree left ([`left_by_tree`]), removed when
/// `remove`; message queues read through `mqueue`.
fn leftovers(
    now: Vec<(IpcObject, Option<u64>)>,
    before: &[IpcObject],
    tree: &TreeFacts,
    mqueue: Option<&MqueueRoot>,
    remove: bool,
) -> Vec<IpcLeftover> {
    let mounted_at = mqueue.and_then(MqueueRoot::mounted_at);
    let mut left = left_by_tree(now, before, tree, mounted_at);
    if remove {
        // Through the directory only where it is afterlife's own mount:
        // a mount found in the table may be another IPC namespace's
        // (`unshare -i` keeps the mounts), which mq_unlink never reaches.
        let own = mqueue.filter(|_| mounted_at.is_none()).map(MqueueRoot::path);
        remove_all(&mut left, own.as_deref());
    }
    left
}

/// The IPC of a living tree, read before it is ended (`kill --tree`):
/// since when its oldest process runs (a root: a child starts after its
/// parent), and the POSIX objects its processes hold. Only objects made
/// since then count, and a SysV one only by a PID of the tree (the ended
/// processes, added with [`LiveTree::note`]); there is no history of the
/// tree before this reading.
#[derive(Debug, Clone, Default)]
pub struct LiveTree {
    tree: TreeFacts,
    /// The start time of each process running at the reading, where a new
    /// SysV object could be the tree's; a PID not among them was handed
    /// out after `read_at`.
    starts: HashMap<i32, f64>,
    read_at: f64,
}

impl LiveTree {
    /// Reads it from the roots of the tree; `members` lists the tree's
    /// processes, called only when `/dev/shm` or the mqueue filesystem has
    /// files made since the tree started (the fds and mappings of the
    /// processes running as their owners are read then). Nothing is read
    /// when no IPC object exists at all: then none can be left. Message
    /// queues are listed also where no mqueue filesystem is mounted, as
    /// root ([`ipc::read_every`]); without that, a queue is not looked for.
    pub fn read(roots: &[Pid], members: impl FnOnce() -> Vec<Pid>) -> Option<LiveTree> {
        let now = ipc::read_every();
        if roots.is_empty() || now.is_empty() {
            return None;
        }
        // ENOENT: a root that is gone already has nothing to tell.
        let oldest = roots
            .iter()
            .filter_map(|&pid| crate::resources::holders::brief(pid).map(|b| b.start_ticks))
            .min()?;
        let since = crate::proc::started_at(oldest);
        let read_at = crate::resources::snapshot::now_secs();
        let sysv = |o: &IpcObject| matches!(o.kind, IpcKind::SysvShm | IpcKind::SysvSem | IpcKind::SysvMsg);
        let starts = if now.iter().any(|o| sysv(o) && o.new_since(since)) {
            let table = crate::process::ProcessTable::scan();
            table
                .entries()
                .map(|e| (e.pid.get(), crate::proc::started_at(e.start_ticks)))
                .collect()
        } else {
            HashMap::new()
        };
        // Only files (shm or queue) new since then can be the tree's, and a
        // process holding one is looked at only if it runs as a user that
        // owns one (a file is owned by its creator's user).
        let owners: HashSet<u32> = now
            .iter()
            .filter(|o| matches!(o.kind, IpcKind::PosixShm | IpcKind::PosixMqueue) && o.new_since(since))
            .map(|o| o.uid)
            .collect();
        let held = if owners.is_empty() {
            HashMap::new()
        } else {
            let candidates: Vec<Pid> = members()
                .into_iter()
                .filter(|&pid| {
                    crate::resources::holders::brief(pid).is_some_and(|b| b.uid.is_some_and(|u| owners.contains(&u)))
                })
                .collect();
            held_by(&candidates)
        };
        let mut live = LiveTree {
            tree: TreeFacts {
                held,
                since,
                ..TreeFacts::default()
            },
            starts,
            read_at,
        };
        live.note(roots.iter().copied());
        Some(live)
    }

    /// Adds processes found to be in the tree later (forked after the
    /// reading): their SysV objects count too, but those made or used
    /// before they started (a process that ran at the reading with the PID
    /// started when it did, or later if it has ended since; else the PID
    /// was handed out after the reading).
    pub fn note(&mut self, pids: impl IntoIterator<Item = Pid>) {
        for pid in pids.into_iter().map(Pid::get) {
            self.tree.pids.insert(pid);
            let start = self.starts.get(&pid).copied().unwrap_or(self.read_at);
            self.tree.started_no_earlier.insert(pid, start);
        }
    }

    /// The objects the tree left, once it was ended; removed when `remove`.
    /// Message queues are read as in [`LiveTree::read`].
    pub fn left(&self, remove: bool) -> Vec<IpcLeftover> {
        let mqueue = MqueueRoot::open();
        let now = read_now(&self.tree.held, mqueue.as_ref().map(MqueueRoot::path).as_deref());
        leftovers(now, &[], &self.tree, mqueue.as_ref(), remove)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_read_from_bytes_that_are_not_utf8_leads_to_its_file() {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::env::temp_dir().join(format!("afterlife-unit-shm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let odd = dir.join(std::ffi::OsStr::from_bytes(b"odd-\xff"));
        std::fs::write(&odd, b"x").unwrap();
        let other = dir.join(std::ffi::OsStr::from_bytes(b"odd-\xfe"));
        std::fs::write(&other, b"y").unwrap();
        let inode = std::fs::metadata(&odd).unwrap().ino();
        let shown = std::ffi::OsStr::from_bytes(b"odd-\xff").to_string_lossy().into_owned();
        // Both read as "odd-\u{fffd}": the inode tells them apart.
        assert_eq!(posix_file(&dir, &shown, Some(inode)).unwrap(), odd);
        assert_eq!(
            posix_file(&dir, &shown, Some(std::fs::metadata(&other).unwrap().ino())).unwrap(),
            other
        );
        // No inode, two that read so: neither is taken for it.
        assert!(posix_file(&dir, &shown, None).is_err());
        std::fs::remove_file(&other).unwrap();
        assert_eq!(posix_file(&dir, &shown, None).unwrap(), odd);
        assert_eq!(posix_file(&dir, "plain", Some(inode)).unwrap(), dir.join("plain"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn object(kind: IpcKind) -> IpcObject {
        IpcObject {
            kind,
            id: Some(8),
            key: Some(0x52e2c1),
            name: None,
            uid: 70,
            creator_uid: Some(70),
            size: 56,
            creator_pid: None,
            last_pids: vec![],
            attached: Some(0),
            changed_at: 1000,
            changed_exact: None,
            used_at: None,
            used_at_by: Vec::new(),
        }
    }

    fn tree(pids: &[i32]) -> TreeFacts {
        TreeFacts {
            pids: pids.iter().copied().collect(),
            held: HashMap::new(),
            created: None,
            watched: Vec::new(),
            creator_gone: HashSet::new(),
            shared: HashSet::new(),
            started_no_earlier: HashMap::new(),
            since: 990.0,
            in_namespace: None,
        }
    }

    #[test]
    fn an_object_dated_before_the_trees_process_started_is_an_earlier_holders() {
        let mut shm = object(IpcKind::SysvShm);
        shm.creator_pid = Some(100);
        let mut facts = tree(&[100]);
        facts.started_no_earlier.insert(100, 999.0);
        assert_eq!(
            attribute(&shm, false, &facts),
            Some((IpcAttribution::CreatorPid, Some(100)))
        );
        // Made (changed last, at the latest) at 1000, by a process that had
        // the PID before the tree's, which started at 1002 or later.
        facts.started_no_earlier.insert(100, 1002.0);
        assert_eq!(attribute(&shm, false, &facts), None);
        let mut msg = object(IpcKind::SysvMsg);
        msg.last_pids = vec![100];
        msg.used_at = Some(1000);
        assert_eq!(attribute(&msg, false, &facts), None);
        msg.used_at = Some(1003);
        assert_eq!(
            attribute(&msg, false, &facts),
            Some((IpcAttribution::LastUser, Some(100)))
        );
    }

    #[test]
    fn sysv_segments_go_by_their_creator() {
        let mut shm = object(IpcKind::SysvShm);
        shm.creator_pid = Some(100);
        shm.last_pids = vec![200];
        assert_eq!(
            attribute(&shm, false, &tree(&[100])),
            Some((IpcAttribution::CreatorPid, Some(100)))
        );
        // Attached last by the tree, made by someone else: not ours.
        assert_eq!(attribute(&shm, false, &tree(&[200])), None);
        // There before the tree started.
        assert_eq!(attribute(&shm, true, &tree(&[100])), None);
    }

    #[test]
    fn a_segment_whose_creator_the_trees_namespace_shows_is_the_trees() {
        let mut shm = object(IpcKind::SysvShm);
        shm.creator_pid = Some(4242);
        let mut facts = tree(&[100]);
        assert_eq!(attribute(&shm, false, &facts), None, "an unknown creator");
        // Read from inside the namespace: the creator's PID there.
        let mut inside = shm.clone();
        inside.creator_pid = Some(3);
        facts.in_namespace = Some(vec![inside.clone()]);
        assert_eq!(
            attribute(&shm, false, &facts),
            Some((IpcAttribution::CreatorPid, Some(4242)))
        );
        // A creator outside the namespace reads as 0 there (parsed: none).
        inside.creator_pid = None;
        facts.in_namespace = Some(vec![inside.clone()]);
        assert_eq!(attribute(&shm, false, &facts), None);
        // Another segment that took the same id since: not this one.
        inside.creator_pid = Some(3);
        inside.changed_at = 1001;
        facts.in_namespace = Some(vec![inside]);
        assert_eq!(attribute(&shm, false, &facts), None);
    }

    #[test]
    fn semaphores_and_queues_need_to_be_new_and_last_used_by_the_tree() {
        let mut sem = object(IpcKind::SysvSem);
        sem.last_pids = vec![300, 100];
        assert_eq!(
            attribute(&sem, false, &tree(&[100])),
            Some((IpcAttribution::LastUser, Some(100)))
        );
        sem.changed_at = 900;
        assert_eq!(attribute(&sem, false, &tree(&[100])), None);
    }

    #[test]
    fn posix_objects_go_by_the_creation_event_when_watched() {
        for kind in [IpcKind::PosixShm, IpcKind::PosixMqueue] {
            let mut object = object(kind);
            object.id = None;
            object.key = None;
            object.name = Some("/PostgreSQL.42".to_string());
            let key = (kind, "/PostgreSQL.42".to_string());
            let mut facts = tree(&[100]);
            facts.held.insert(key.clone(), 100);
            // Not watched: held by the tree and new.
            assert_eq!(
                attribute(&object, false, &facts),
                Some((IpcAttribution::HeldByTree, Some(100)))
            );
            // Watched: made by someone else, even if the tree held it.
            facts.watched = vec![kind];
            facts.created = Some(HashMap::from([(key.clone(), 555)]));
            assert_eq!(attribute(&object, false, &facts), None);
            facts.created = Some(HashMap::from([(key.clone(), 100)]));
            assert_eq!(
                attribute(&object, false, &facts),
                Some((IpcAttribution::CreatorPid, Some(100)))
            );
            // Made by the tree and closed: no process holds it.
            facts.held.clear();
            assert_eq!(
                attribute(&object, false, &facts),
                Some((IpcAttribution::CreatorPid, Some(100)))
            );
            // Its creator was gone when the event was read: held by the
            // tree and new, it counts.
            facts.held.insert(key.clone(), 100);
            facts.created = Some(HashMap::new());
            assert_eq!(attribute(&object, false, &facts), None);
            facts.creator_gone.insert(key.clone());
            assert_eq!(
                attribute(&object, false, &facts),
                Some((IpcAttribution::HeldByTree, Some(100)))
            );
            facts.held.clear();
            assert_eq!(attribute(&object, false, &facts), None);
            // Only the kinds watched go by the events.
            facts.watched = vec![IpcKind::PosixShm, IpcKind::PosixMqueue]
                .into_iter()
                .filter(|&k| k != kind)
                .collect();
            facts.held.insert(key, 100);
            assert_eq!(
                attribute(&object, false, &facts),
                Some((IpcAttribution::HeldByTree, Some(100)))
            );
        }
    }

    #[test]
    fn finds_shm_files_in_maps() {
        let maps = "7f00-7f01 rw-s 00000000 00:1a 5 /dev/shm/PostgreSQL.42\n\
                    7f01-7f02 rw-s 00000000 00:1a 6 /dev/shm/gone (deleted)\n\
                    7f02-7f03 r-xp 00000000 08:01 7 /usr/lib/libc.so.6\n\
                    7f03-7f04 rw-s 00000000 00:01 8 /SYSV0052e2c1 (deleted)\n";
        assert_eq!(shm_mappings(maps).collect::<Vec<_>>(), vec!["PostgreSQL.42", "gone"]);
        assert_eq!(sysv_attachments(maps).collect::<Vec<u64>>(), vec![8]);
    }

    #[test]
    fn says_how_to_remove_each_kind() {
        let mut o = object(IpcKind::SysvShm);
        assert_eq!(remove_command(&o, None, None), "ipcrm -m 8");
        o.kind = IpcKind::SysvSem;
        assert_eq!(remove_command(&o, None, None), "ipcrm -s 8");
        o.kind = IpcKind::SysvMsg;
        assert_eq!(remove_command(&o, None, None), "ipcrm -q 8");
        o.kind = IpcKind::PosixShm;
        o.name = Some("/PostgreSQL.42".to_string());
        assert_eq!(remove_command(&o, None, None), "rm /dev/shm/PostgreSQL.42");
        o.kind = IpcKind::PosixMqueue;
        o.name = Some("/q".to_string());
        assert_eq!(
            remove_command(&o, Some(std::path::Path::new("/dev/mqueue")), None),
            "rm /dev/mqueue/q"
        );
    }
}
