//! What a process tree left behind: a [`Snapshot`] taken while it lived,
//! compared with the system after it died — what went with it (processes,
//! memory, fds, locks) and what stayed (surviving processes and their new
//! children, sockets still open and who holds them now, IPC objects it
//! created, files it created under given directories, locks now held by
//! others).
//!
//! Kernel facts relied on: memory, fds and POSIX (`fcntl`) locks go with the
//! process; a socket, a `flock` lock or an open file stays while any fd for it
//! remains (an inherited fd in a surviving child keeps a listening port
//! bound); SysV IPC objects and POSIX shm/mqueue objects stay until removed
//! (proc_sysvipc(5), shm_overview(7)). A SysV segment records its creator PID;
//! semaphore sets and POSIX objects record no PID, so they are attributed by
//! owner and creation time, and marked so. An object a living process
//! outside the tree has open, mapped or attached, or used last, is not
//! blamed on the tree unless the kernel names a process of the tree as its
//! creator: it is listed apart, as held by others.
//!
//! A process of the tree that is now a zombie went with it: its memory, fds
//! and locks are gone, and what is left is its exit status, kept until its
//! parent (or its tracer) collects it — a parent that never reaps, such as
//! a container's init that is no init, keeps it for good. It is listed with
//! what went, with its status when readable and who holds it.
//!
//! [`gather`] reads the system now; [`compare`] is pure; [`audit`] does both.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::observe::EndingReport;
use crate::process::{Pid, Process, ProcessTable};
use crate::resources::holders::{BindEffect, ProcessRef, brief, namespace_members};
use crate::resources::ipc::{self, IpcKind, IpcObject};
use crate::resources::ipc_left;
use crate::resources::locks::{self, Lock};
use crate::resources::snapshot::{ProcessSnapshot, Snapshot, boot_id, in_root, now_secs};
use crate::resources::sockets::{self, Protocol, Selection, Socket, SocketState};
use crate::resources::walk::{self, Slot, socket_inode};
use crate::terminate::report::{Reaper, zombie_reaper};

/// A process alive now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveProcess {
    /// PID.
    pub pid: Pid,
    /// Parent.
    pub ppid: i32,
    /// Start time in ticks.
    pub start_ticks: u64,
    /// Name.
    pub name: String,
    /// For a process of the snapshot that has exited and is a zombie now:
    /// what its entry still tells.
    pub zombie: Option<ZombieLeft>,
}

/// A process of the tree that has exited and is a zombie: its exit status
/// and who must collect it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZombieLeft {
    /// How it ended, when readable.
    #[serde(rename = "ending")]
    pub status: Option<EndingReport>,
    /// Its tracer while one is attached, else its parent.
    pub unreaped_by: Reaper,
}

/// A process that went with the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoneProcess {
    /// PID.
    pub pid: Pid,
    /// Name.
    pub name: String,
    /// Present when it is still a zombie: it has ended, and its entry
    /// waits to be reaped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zombie: Option<ZombieLeft>,
}

/// A file found under a watched directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedFile {
    /// Path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Birth time (or change time where the filesystem has none), seconds since the epoch.
    pub created_at: f64,
}

/// The system now, as far as the snapshot's contents go.
#[derive(Debug, Clone, Default)]
pub struct Now {
    /// This boot's ID.
    pub boot_id: String,
    /// When it was read.
    pub taken_at: f64,
    /// When the machine booted, seconds since the epoch as the clocks read
    /// now, and the clock ticks per second: a start time (ticks since
    /// boot) as a time.
    pub booted_at: f64,
    /// Clock ticks per second.
    pub ticks_per_second: u64,
    /// Every process.
    pub processes: Vec<LiveProcess>,
    /// Sockets of the namespaces the snapshot used that still exist.
    pub sockets: Vec<Socket>,
    /// Connections of those namespaces that no fd refers to and that the
    /// kernel is closing (TIME_WAIT, FIN-WAIT, CLOSING, LAST-ACK).
    pub closing: Vec<Socket>,
    /// Who holds each socket inode now.
    pub socket_holders: HashMap<u64, Vec<ProcessRef>>,
    /// Every IPC object.
    pub ipc: Vec<IpcObject>,
    /// Who has each IPC object open, mapped or attached now (keyed by
    /// [`ipc_left::object_key`]).
    pub ipc_holders: HashMap<(IpcKind, String), Vec<ProcessRef>>,
    /// Every lock.
    pub locks: Vec<Lock>,
    /// Who has each locked path open now.
    pub path_holders: HashMap<String, Vec<ProcessRef>>,
    /// Files under the given directories created since the tree started.
    pub files: Vec<CreatedFile>,
    /// Paths the tree's unix sockets were bound to that are still socket
    /// files, with no socket bound to them now.
    pub socket_files: Vec<PathBuf>,
}

/// A process of the tree that is still alive, or a process it started since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Survivor {
    /// PID.
    pub pid: Pid,
    /// Name now.
    pub name: String,
    /// Parent in the snapshot (none for a process started after it).
    pub ppid_then: Option<i32>,
    /// Parent now.
    pub ppid_now: i32,
    /// Whether it was in the snapshot (else: a descendant of a survivor).
    pub in_snapshot: bool,
}

/// A socket of the tree that is still open.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SocketLeft {
    /// The socket now.
    pub socket: Socket,
    /// Who holds it now.
    pub holders: Vec<ProcessRef>,
}

/// How an IPC object was tied to the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// The kernel records a PID of the tree as its creator or last user.
    Pid,
    /// It was in the snapshot.
    Snapshot,
    /// Created since the tree started, by a user of the tree (no PID
    /// recorded).
    TimeAndUser,
}

/// An IPC object the tree created or used, still there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpcLeft {
    /// The object.
    pub object: IpcObject,
    /// How it was tied to the tree.
    pub attribution: Attribution,
}

/// An IPC object that would be tied to the tree, but that living processes
/// outside it hold or used last: theirs, not a leftover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpcHeldByOthers {
    /// The object.
    pub object: IpcObject,
    /// How it would have been tied to the tree.
    pub attribution: Attribution,
    /// The processes outside the tree that have it open, mapped or
    /// attached now, or that the kernel records as its last users.
    pub holders: Vec<ProcessRef>,
}

/// A lock the tree held that is still held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockLeft {
    /// The lock now.
    pub lock: Lock,
    /// The locked file, if known.
    pub path: Option<String>,
    /// Whether the PID the kernel records for it is still alive.
    pub recorded_pid_alive: bool,
    /// Processes that have the file open now (for `flock`/OFD locks, the
    /// lock lives as long as one of their fds does).
    pub holders: Vec<ProcessRef>,
}

/// What went with the tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gone {
    /// Processes that ended (zombies included).
    pub processes: Vec<GoneProcess>,
    /// Fds they had open.
    pub fds: usize,
    /// The same, by kind.
    pub fds_by_kind: BTreeMap<&'static str, usize>,
    /// Resident memory they had, bytes: each process's RSS, summed, so a
    /// page they shared (a server's shared buffers, a library) counts once
    /// per process that had it mapped; what the machine got back is less.
    pub memory_bytes: u64,
    /// Sockets that no longer exist.
    pub sockets: usize,
    /// Of the TCP connections that went, those the kernel is still
    /// closing: with no process left, they keep their port bound until
    /// they end. In the JSON only when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub closing: Vec<ClosingConnection>,
    /// Locks released.
    pub locks: usize,
    /// Files that were mapped.
    pub mapped_files: usize,
}

/// A connection of the tree that the kernel is still closing, its
/// process gone: a TIME_WAIT, or an orphan finishing the close handshake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClosingConnection {
    /// The connection now (inode 0: no fd refers to it).
    pub socket: Socket,
    /// What it does to a new `bind` of its port until it ends.
    pub bind: BindEffect,
}

/// What stayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stayed {
    /// Surviving processes and processes they started.
    pub processes: Vec<Survivor>,
    /// Sockets still open (ports still bound).
    pub sockets: Vec<SocketLeft>,
    /// IPC objects.
    pub ipc: Vec<IpcLeft>,
    /// Files created under the given directories.
    pub files: Vec<CreatedFile>,
    /// Socket files the tree's unix sockets were bound to, left on disk
    /// with nothing bound to them: a `bind` to the path fails with
    /// `EADDRINUSE` until the file is removed.
    pub socket_files: Vec<SocketFileLeft>,
    /// Locks still held.
    pub locks: Vec<LockLeft>,
}

/// A unix socket's file left on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketFileLeft {
    /// Its path.
    pub path: String,
    /// The command that removes it.
    pub remove_with: String,
}

/// The leftovers of a tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeftoversReport {
    /// The snapshot's root.
    pub root: Pid,
    /// When the snapshot was taken.
    pub snapshot_taken_at: f64,
    /// Whether the snapshot is from this boot (if not, nothing compares).
    pub same_boot: bool,
    /// What went.
    pub gone: Gone,
    /// What stayed.
    pub stayed: Stayed,
    /// IPC objects the tree might have made or used, held now by living
    /// processes outside it: not the tree's, and not counted in `clean`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipc_held_by_others: Vec<IpcHeldByOthers>,
    /// Whether nothing stayed.
    pub clean: bool,
}

/// Reads the system now and compares it with `before`.
pub fn audit(before: &Snapshot, dirs: &[PathBuf]) -> LeftoversReport {
    let before = in_own_time_namespace(before, crate::proc::boottime_offset_ticks());
    compare(&before, &gather(&before, dirs))
}

/// `before` with its start times (the initial time namespace's) as /proc
/// shows them here, in a time namespace whose boot time is `offset` ticks
/// ahead. Pure.
fn in_own_time_namespace(before: &Snapshot, offset: i64) -> Snapshot {
    let mut here = before.clone();
    for process in &mut here.processes {
        process.start_ticks = process.start_ticks.saturating_add_signed(offset);
    }
    here
}

/// Reads what [`compare`] needs from the system now.
pub fn gather(before: &Snapshot, dirs: &[PathBuf]) -> Now {
    let table = ProcessTable::scan();
    let processes: Vec<LiveProcess> = table
        .entries()
        .map(|e| LiveProcess {
            pid: e.pid,
            ppid: e.ppid,
            start_ticks: e.start_ticks,
            name: e.name.clone(),
            zombie: before
                .processes
                .iter()
                .any(|p| p.pid == e.pid && p.start_ticks == e.start_ticks)
                .then(|| zombie_left(e.pid, e.start_ticks))
                .flatten(),
        })
        .collect();
    let pids: Vec<Pid> = processes.iter().map(|p| p.pid).collect();

    // Sockets: the namespaces of the snapshot's sockets that still have a member.
    let wanted_ns: HashSet<u64> = before.sockets.iter().map(|s| s.netns).collect();
    let mut sockets_now = Vec::new();
    if !wanted_ns.is_empty() {
        let own = sockets::own_netns();
        let members = namespace_members(&pids);
        for ns in &wanted_ns {
            let member = members.get(ns).copied();
            if Some(*ns) != own && member.is_none() {
                continue; // The namespace is gone with its last process.
            }
            // A namespace that cannot be read: its sockets are not reported.
            if let Ok((found, _)) = sockets::dump_namespace(*ns, member, Selection::ALL) {
                sockets_now.extend(found);
            }
        }
    }
    // A path some socket is bound to now is no stale file, nor a file some
    // socket is bound to now (bound again in a chroot, under another name).
    let bound_now: HashSet<&str> = sockets_now.iter().filter_map(|s| s.path.as_deref()).collect();
    let bound_files_now: HashSet<(u64, u32)> = sockets_now.iter().filter_map(|s| s.bound_file).collect();
    let socket_files: Vec<PathBuf> = socket_file_candidates(before)
        .into_iter()
        .filter(|(path, _)| !bound_now.contains(path.as_str()))
        .filter_map(|(path, bound)| {
            use std::os::unix::fs::MetadataExt;
            // The very file the tree's socket was bound to, where the
            // snapshot knows it: the same path in afterlife's mount
            // namespace may be another file (the tree bound it on a
            // private tmpfs, and the file here was there before).
            let (file, meta) = socket_file_at(&path, bound)?;
            (!bound_files_now.contains(&(meta.dev(), meta.ino() as u32))).then_some(file)
        })
        .collect();
    let before_inodes: HashSet<u64> = before.sockets.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
    let closing: Vec<Socket> = sockets_now.iter().filter(|s| is_closing(s)).cloned().collect();
    sockets_now.retain(|s| before_inodes.contains(&s.inode));
    let live_inodes: HashSet<u64> = sockets_now.iter().map(|s| s.inode).collect();

    // One walk: holders of those sockets and of the locked paths.
    let lock_paths: Vec<String> = before.locks.iter().filter_map(|l| l.path.clone()).collect();
    let walk = if live_inodes.is_empty() && lock_paths.is_empty() {
        walk::Walk::default()
    } else {
        walk::walk(&pids, walk::Options::default(), |link| {
            if let Some(inode) = socket_inode(link) {
                return live_inodes.contains(&inode).then_some(u32::MAX);
            }
            lock_paths.iter().position(|p| p.as_bytes() == link).map(|n| n as u32)
        })
    };
    let name_of = |pid: Pid| brief(pid).map(|b| b.name).unwrap_or_default();
    let mut socket_holders: HashMap<u64, Vec<ProcessRef>> = HashMap::new();
    let mut path_holders: HashMap<String, Vec<ProcessRef>> = HashMap::new();
    let mut locks_now = locks::read();
    for hit in &walk.hits {
        // A lock on a held path that /proc/locks hides (its locker is not
        // visible in this PID namespace) is still in the holder's fdinfo.
        if let (true, Slot::Fd(fd)) = (hit.needle != u32::MAX, hit.slot)
            && let Ok(info) = std::fs::read_to_string(hit.fd_file("fdinfo", fd))
        {
            for lock in locks::from_fdinfo(&info) {
                if !locks_now.iter().any(|l| l.same_lock(&lock)) {
                    locks_now.push(lock);
                }
            }
        }
        let entry = if hit.needle == u32::MAX {
            socket_inode(&hit.link).map(|i| socket_holders.entry(i).or_default())
        } else {
            lock_paths
                .get(hit.needle as usize)
                .map(|p| path_holders.entry(p.clone()).or_default())
        };
        if let Some(list) = entry
            && !list.iter().any(|r| r.pid == hit.pid)
        {
            list.push(ProcessRef {
                pid: hit.pid,
                name: name_of(hit.pid),
            });
        }
    }
    let since = before.started_at().unwrap_or(before.taken_at);
    let mut files = Vec::new();
    for dir in distinct_dirs(dirs) {
        created_under(&dir, since, &mut files, 0);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut ipc_now = ipc::read_every();
    // Message queues cannot be listed where the mqueue filesystem is not
    // mounted and cannot be: ask for the snapshot's by name.
    for queue in before.ipc.iter().filter(|o| o.kind == IpcKind::PosixMqueue) {
        if !ipc_now.iter().any(|o| o.same_object(queue)) && queue.name.as_deref().is_some_and(ipc::mqueue_exists) {
            ipc_now.push(queue.clone());
        }
    }
    // Who holds or used last the objects that may be the tree's: the
    // snapshot's, and those made since it started.
    let candidate = |o: &IpcObject| o.new_since(since) || before.ipc.iter().any(|b| b.same_object(o));
    for o in ipc_now.iter_mut().filter(|o| o.kind == IpcKind::SysvSem) {
        if let Some(id) = o.id.filter(|_| candidate(o)) {
            o.last_pids = ipc_left::sem_last_pids(id as i32, o.size);
        }
    }
    let ipc_holders = if ipc_now
        .iter()
        .any(|o| candidate(o) && ipc_left::object_key(o).is_some())
    {
        ipc_left::holders(&pids)
            .into_iter()
            .map(|(key, holders)| {
                let refs = holders
                    .into_iter()
                    .map(|pid| ProcessRef {
                        pid,
                        name: name_of(pid),
                    })
                    .collect();
                (key, refs)
            })
            .collect()
    } else {
        HashMap::new()
    };
    Now {
        boot_id: boot_id(),
        taken_at: now_secs(),
        booted_at: crate::proc::started_at(0),
        ticks_per_second: crate::proc::ticks_per_second(),
        processes,
        sockets: sockets_now,
        closing,
        socket_holders,
        ipc: ipc_now,
        ipc_holders,
        locks: locks_now,
        path_holders,
        files,
        socket_files,
    }
}

/// The paths the snapshot's unix sockets were bound to in the file
/// system: listeners and bound datagram sockets (an accepted connection
/// shows its listener's path too), not abstract names; a name bound in a
/// chroot under the root of each process of the snapshot that held the
/// socket, as afterlife reaches it. Pure.
pub(crate) fn socket_file_candidates(before: &Snapshot) -> Vec<(String, Option<(u64, u32)>)> {
    let mut paths: Vec<(String, Option<(u64, u32)>)> = before
        .sockets
        .iter()
        .filter(|s| s.protocol == Protocol::Unix)
        .filter(|s| s.state == SocketState::Listen || s.unix_type == Some(sockets::UnixType::Dgram))
        .filter_map(|s| Some((s, s.path.as_deref()?)))
        .filter(|(_, p)| p.starts_with('/'))
        // Bound in a chroot: the name is relative to the binder's root.
        .flat_map(|(s, p)| {
            before
                .roots_holding(s.inode)
                .into_iter()
                .map(move |root| (in_root(root, p), s.bound_file))
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The directories to look under, each once: one given twice, or inside
/// another one given (which is walked whole), is left out, so that no file
/// is listed twice.
fn distinct_dirs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let resolved: Vec<PathBuf> = dirs
        .iter()
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.clone()))
        .collect();
    let mut kept: Vec<PathBuf> = Vec::new();
    for (i, dir) in resolved.iter().enumerate() {
        let covered = resolved
            .iter()
            .enumerate()
            .any(|(j, other)| (dir.starts_with(other) && dir != other) || (dir == other && j < i));
        if !covered {
            kept.push(dir.clone());
        }
    }
    kept
}

/// The socket file the tree's socket was bound to at `path` (as the
/// snapshot gives it), if it is still there: the file at the path, or, for
/// a name that was not UTF-8 (the snapshot has U+FFFD for each odd byte),
/// the entry of its directory that reads the same and is that very file.
fn socket_file_at(path: &str, bound: Option<(u64, u32)>) -> Option<(PathBuf, std::fs::Metadata)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let is_it = |m: &std::fs::Metadata| m.file_type().is_socket() && is_bound_file(bound, m.dev(), m.ino());
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        return is_it(&meta).then(|| (PathBuf::from(path), meta));
    }
    if !path.contains(char::REPLACEMENT_CHARACTER) {
        return None;
    }
    let path = Path::new(path);
    let name = path.file_name()?.to_string_lossy();
    // Names first: only an entry that reads the same is examined.
    let mut found = std::fs::read_dir(path.parent()?)
        .ok()?
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy() == name)
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            is_it(&meta).then(|| (entry.path(), meta))
        });
    let first = found.next()?;
    // Without the bound file's identity, two such sockets are ambiguous.
    (bound.is_some() || found.next().is_none()).then_some(first)
}

/// Whether a socket file with device `dev` and inode `inode` is the file
/// a socket was bound to (`bound`: its device and the low 32 bits of its
/// inode, as sock_diag gives them; `None`, a snapshot without them: any
/// socket file at the path). Pure.
fn is_bound_file(bound: Option<(u64, u32)>, dev: u64, inode: u64) -> bool {
    bound.is_none_or(|(bound_dev, bound_inode)| bound_dev == dev && bound_inode == inode as u32)
}

/// What is left of a process of the snapshot if it is a zombie now: opened
/// through a pidfd checked against its start time, so that its status is
/// its own.
fn zombie_left(pid: Pid, start_ticks: u64) -> Option<ZombieLeft> {
    // Gone since the scan, or its PID reused: not a zombie of the tree.
    let process = Process::open_expecting(pid, start_ticks).ok()?;
    if !process.has_exited() {
        return None;
    }
    // Reaped meanwhile: it is gone, which the comparison also counts as gone.
    let info = process.info().ok()?;
    let name_of = |pid: i32| Pid::new(pid).and_then(brief).map(|b| b.name);
    Some(ZombieLeft {
        status: process.peek_exit_observation().ok().map(Into::into),
        unreaped_by: zombie_reaper(&info, name_of),
    })
}

/// At most this many files are examined under each directory.
const MAX_FILES: usize = 100_000;

fn created_under(dir: &Path, since: f64, out: &mut Vec<CreatedFile>, depth: usize) {
    if depth > 32 || out.len() >= MAX_FILES {
        return;
    }
    // Unreadable or removed meanwhile: skip it.
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(facts) = crate::sys::linux::fs::facts(&path) else {
            continue;
        };
        if facts.file_type == rustix::fs::FileType::Directory {
            created_under(&path, since, out, depth + 1);
            continue;
        }
        let created = facts.born_ns as f64 / 1e9;
        if created >= since {
            out.push(CreatedFile {
                path: path.to_string_lossy().into_owned(),
                size: facts.size,
                created_at: created,
            });
        }
    }
}

/// Whether a snapshot taken in boot `then` compares with boot `now`: the
/// same boot, or one of them unknown (an empty `boot_id`). PIDs, start
/// times and IPC ids mean nothing across a reboot. Pure.
pub fn same_boot(then: &str, now: &str) -> bool {
    then.is_empty() || now.is_empty() || then == now
}

/// Compares a snapshot with the system now. Pure.
pub fn compare(before: &Snapshot, now: &Now) -> LeftoversReport {
    let same_boot = same_boot(&before.boot_id, &now.boot_id);
    let live: HashMap<Pid, &LiveProcess> = now.processes.iter().map(|p| (p.pid, p)).collect();
    let (mut survivors, went) = processes(before, &live, same_boot);
    let started = started_since(&survivors, before, now);
    survivors.extend(started);
    let (sockets_left, sockets_gone) = sockets(before, now, same_boot);
    let closing = if same_boot {
        closing_connections(before, now)
    } else {
        Vec::new()
    };
    let tree_now: HashSet<Pid> = survivors.iter().map(|s| s.pid).collect();
    let (ipc_left, ipc_held_by_others) = ipc(before, now, same_boot, &tree_now);
    let (locks_left, locks_gone) = locks(before, now, same_boot, &live, &went.processes);
    let socket_files: Vec<SocketFileLeft> = if same_boot {
        now.socket_files
            .iter()
            .map(|path| SocketFileLeft {
                path: path.to_string_lossy().into_owned(),
                remove_with: crate::text::shell_command_bytes(&[b"rm", path.as_os_str().as_encoded_bytes()]),
            })
            .collect()
    } else {
        Vec::new()
    };
    // A socket file found under a --dir directory is listed once, as such.
    let files = now
        .files
        .iter()
        .filter(|f| !socket_files.iter().any(|s| s.path == f.path))
        .cloned()
        .collect();
    let stayed = Stayed {
        processes: survivors,
        sockets: sockets_left,
        ipc: ipc_left,
        files,
        socket_files,
        locks: locks_left,
    };
    let clean = stayed.processes.is_empty()
        && stayed.sockets.is_empty()
        && stayed.ipc.is_empty()
        && stayed.files.is_empty()
        && stayed.socket_files.is_empty()
        && stayed.locks.is_empty();
    LeftoversReport {
        root: before.root,
        snapshot_taken_at: before.taken_at,
        same_boot,
        gone: Gone {
            processes: went.processes,
            fds: went.fds,
            fds_by_kind: went.fds_by_kind,
            memory_bytes: went.memory_bytes,
            sockets: sockets_gone,
            closing,
            locks: locks_gone,
            mapped_files: went.mapped_files,
        },
        stayed,
        ipc_held_by_others,
        clean,
    }
}

/// The processes of the snapshot that went, and what they held.
#[derive(Default)]
struct Went {
    processes: Vec<GoneProcess>,
    fds: usize,
    fds_by_kind: BTreeMap<&'static str, usize>,
    memory_bytes: u64,
    mapped_files: usize,
}

/// Processes: the same PID with the same start time is the same process;
/// a zombie of the tree went with it. The survivors, and what went. A
/// process listed twice (snapshots joined by hand) counts once.
fn processes(before: &Snapshot, live: &HashMap<Pid, &LiveProcess>, same_boot: bool) -> (Vec<Survivor>, Went) {
    let mut survivors: Vec<Survivor> = Vec::new();
    let mut went = Went::default();
    let mut seen = HashSet::new();
    for p in before.processes.iter().filter(|p| seen.insert((p.pid, p.start_ticks))) {
        let same = live.get(&p.pid).filter(|l| same_boot && l.start_ticks == p.start_ticks);
        match same {
            Some(l) if l.zombie.is_none() => survivors.push(Survivor {
                pid: p.pid,
                name: l.name.clone(),
                ppid_then: Some(p.ppid),
                ppid_now: l.ppid,
                in_snapshot: true,
            }),
            _ => {
                went.processes.push(GoneProcess {
                    pid: p.pid,
                    name: p.name.clone(),
                    zombie: same.and_then(|l| l.zombie.clone()),
                });
                went.fds += p.fds.len();
                for fd in &p.fds {
                    *went.fds_by_kind.entry(fd.kind.name()).or_insert(0) += 1;
                }
                // A snapshot is read from a file: its sizes are whatever
                // it says, and a sum of them must not overflow.
                went.memory_bytes = went.memory_bytes.saturating_add(p.rss_bytes);
                went.mapped_files += p.maps.len();
            }
        }
    }
    (survivors, went)
}

/// Processes the survivors started since: descendants by parent PID, not
/// processes of the snapshot (a child of a survivor that was in the tree
/// and is a zombie now went with it).
fn started_since(survivors: &[Survivor], before: &Snapshot, now: &Now) -> Vec<Survivor> {
    let then: HashSet<(Pid, u64)> = before.processes.iter().map(|p| (p.pid, p.start_ticks)).collect();
    let mut children: HashMap<i32, Vec<&LiveProcess>> = HashMap::new();
    for p in now.processes.iter().filter(|p| !then.contains(&(p.pid, p.start_ticks))) {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut started = Vec::new();
    let mut queue: Vec<Pid> = survivors.iter().map(|s| s.pid).collect();
    let mut known: HashSet<Pid> = queue.iter().copied().collect();
    while let Some(parent) = queue.pop() {
        for child in children.get(&parent.get()).into_iter().flatten() {
            if known.insert(child.pid) {
                started.push(Survivor {
                    pid: child.pid,
                    name: child.name.clone(),
                    ppid_then: None,
                    ppid_now: child.ppid,
                    in_snapshot: false,
                });
                queue.push(child.pid);
            }
        }
    }
    started
}

/// Whether a socket is a TCP connection no fd refers to that the kernel
/// is closing: a TIME_WAIT, or an orphan in FIN-WAIT, CLOSING or LAST-ACK.
/// Pure.
fn is_closing(socket: &Socket) -> bool {
    socket.protocol == Protocol::Tcp
        && socket.inode == 0
        && matches!(
            socket.state,
            SocketState::TimeWait
                | SocketState::FinWait1
                | SocketState::FinWait2
                | SocketState::Closing
                | SocketState::LastAck
        )
}

/// The TCP connections of the snapshot that went and that the kernel is
/// still closing: the same namespace, local and remote addresses (a
/// connection's four numbers name it until it ends). Pure.
fn closing_connections(before: &Snapshot, now: &Now) -> Vec<ClosingConnection> {
    let held_now: HashSet<u64> = now.sockets.iter().map(|s| s.inode).collect();
    now.closing
        .iter()
        .filter(|c| {
            before.sockets.iter().any(|b| {
                b.protocol == Protocol::Tcp
                    && b.state != SocketState::Listen
                    && !held_now.contains(&b.inode)
                    && b.netns == c.netns
                    && b.local == c.local
                    && b.remote == c.remote
            })
        })
        .filter_map(|c| {
            Some(ClosingConnection {
                socket: c.clone(),
                bind: BindEffect::of(c)?,
            })
        })
        .collect()
}

/// Sockets still open (listeners and TCP first), and how many went.
fn sockets(before: &Snapshot, now: &Now, same_boot: bool) -> (Vec<SocketLeft>, usize) {
    let mut left = Vec::new();
    let mut gone = 0;
    for s in &before.sockets {
        match now.sockets.iter().find(|n| n.inode == s.inode && n.inode != 0) {
            Some(n) if same_boot => left.push(SocketLeft {
                socket: n.clone(),
                holders: now.socket_holders.get(&n.inode).cloned().unwrap_or_default(),
            }),
            _ => gone += 1,
        }
    }
    left.sort_by_key(|l| {
        (
            l.socket.protocol != Protocol::Tcp,
            l.socket.state != SocketState::Listen,
        )
    });
    (left, gone)
}

/// IPC objects: in the snapshot, created or last used by a PID of the tree
/// since it started, or created since by one of its users; and apart, those
/// of them that living processes outside the tree (`tree_now`: its
/// survivors and what they started) hold now, unless the kernel names a
/// process of the tree as the creator. A PID of the tree handed out again
/// since to a process outside it names the tree's process only where the
/// new one cannot have been the one the kernel recorded (it started after
/// the creation or the use); otherwise the new process is the user.
fn ipc(before: &Snapshot, now: &Now, same_boot: bool, tree_now: &HashSet<Pid>) -> (Vec<IpcLeft>, Vec<IpcHeldByOthers>) {
    if !same_boot {
        return (Vec::new(), Vec::new());
    }
    let reused = reused_pids(before, now, tree_now);
    // The PIDs that still name the tree's process, or no process.
    let tree_pids: HashSet<i32> = before
        .processes
        .iter()
        .map(|p| p.pid.get())
        .filter(|pid| !reused.contains_key(pid))
        .collect();
    let tree_uids: HashSet<u32> = before.processes.iter().filter_map(|p| p.uid).collect();
    let since = before.started_at().unwrap_or(before.taken_at);
    let mut left = Vec::new();
    let mut elsewhere = Vec::new();
    for object in &now.ipc {
        // The tree's processes the kernel's record may name: not those whose
        // PID a later process may have had when the record was made.
        let members: Vec<&ProcessSnapshot> = before
            .processes
            .iter()
            .filter(|p| {
                reused
                    .get(&p.pid.get())
                    .is_none_or(|&started_at| !object.touched_by_process(p.pid.get(), started_at))
            })
            .collect();
        let attribution = if before.ipc.iter().any(|b| b.same_object(object)) {
            Some(Attribution::Snapshot)
        } else if matches!(object.kind, IpcKind::SysvShm | IpcKind::SysvMsg | IpcKind::SysvSem)
            && crate::resources::snapshot::touched_by_one_of(object, members.iter().copied())
            && object.new_since(since)
        {
            Some(Attribution::Pid)
        } else if object.kind != IpcKind::SysvShm && tree_uids.contains(&object.uid) && object.new_since(since) {
            // A SysV segment names its creator (`cpid`); a message queue
            // no one has used yet names no one, nor does a semaphore set
            // whose semaphores no one has changed (each names the last
            // process that did, `semctl(GETPID)`): those go by time and
            // user.
            Some(Attribution::TimeAndUser)
        } else {
            None
        };
        let Some(attribution) = attribution else {
            continue;
        };
        let created_by_tree = members.iter().any(|p| match p.started_at {
            Some(started_at) => object.created_by_process(p.pid.get(), started_at),
            None => object.creator_pid == Some(p.pid.get()),
        });
        let others = if created_by_tree {
            Vec::new()
        } else {
            held_by_others(object, now, &tree_pids, tree_now)
        };
        if others.is_empty() {
            left.push(IpcLeft {
                object: object.clone(),
                attribution,
            });
        } else {
            elsewhere.push(IpcHeldByOthers {
                object: object.clone(),
                attribution,
                holders: others,
            });
        }
    }
    (left, elsewhere)
}

/// The PIDs of the snapshot that name another process now, outside the
/// tree (`tree_now`): the process there started later than the one the
/// snapshot saw, so the PID was handed out again. Each with the new
/// process's start, seconds since the epoch. Pure.
fn reused_pids(before: &Snapshot, now: &Now, tree_now: &HashSet<Pid>) -> HashMap<i32, f64> {
    let then: HashMap<Pid, u64> = before.processes.iter().map(|p| (p.pid, p.start_ticks)).collect();
    now.processes
        .iter()
        .filter(|live| then.get(&live.pid).is_some_and(|&ticks| ticks != live.start_ticks))
        .filter(|live| !tree_now.contains(&live.pid))
        .map(|live| (live.pid.get(), started_at(now, live)))
        .collect()
}

/// When a living process started, seconds since the epoch.
fn started_at(now: &Now, live: &LiveProcess) -> f64 {
    now.booted_at + live.start_ticks as f64 / now.ticks_per_second.max(1) as f64
}

/// The living processes outside the tree that have `object` open, mapped
/// or attached now, or that the kernel records as its last users (SysV:
/// `lpid`, `lspid`/`lrpid`, a semaphore's last `semop`), other than PIDs of
/// the snapshot. Pure.
fn held_by_others(object: &IpcObject, now: &Now, tree_pids: &HashSet<i32>, tree_now: &HashSet<Pid>) -> Vec<ProcessRef> {
    let mut others: Vec<ProcessRef> = ipc_left::object_key(object)
        .and_then(|key| now.ipc_holders.get(&key))
        .into_iter()
        .flatten()
        .filter(|r| !tree_now.contains(&r.pid))
        .cloned()
        .collect();
    for &last in &object.last_pids {
        let Some(live) = Pid::new(last).and_then(|p| now.processes.iter().find(|l| l.pid == p)) else {
            continue;
        };
        if !tree_pids.contains(&last)
            && object.touched_by_process(last, started_at(now, live))
            && !tree_now.contains(&live.pid)
            && live.zombie.is_none()
            && !others.iter().any(|r| r.pid == live.pid)
        {
            others.push(ProcessRef {
                pid: live.pid,
                name: live.name.clone(),
            });
        }
    }
    others
}

/// Locks still held, with who holds the file now, and how many went.
fn locks(
    before: &Snapshot,
    now: &Now,
    same_boot: bool,
    live: &HashMap<Pid, &LiveProcess>,
    gone_processes: &[GoneProcess],
) -> (Vec<LockLeft>, usize) {
    let mut left = Vec::new();
    let mut gone = 0;
    for held in &before.locks {
        let b = &held.lock;
        let still = now.locks.iter().find(|l| still_held(b, l));
        match still {
            Some(lock) if same_boot => {
                // The kernel still records the locker's PID where this
                // namespace cannot see it (fdinfo shows 0): the snapshot's.
                let mut lock = lock.clone();
                lock.pid = lock.pid.or(b.pid);
                let recorded_pid_alive = lock
                    .pid
                    .and_then(Pid::new)
                    .is_some_and(|p| live.contains_key(&p) && !gone_processes.iter().any(|g| g.pid == p));
                left.push(LockLeft {
                    lock,
                    path: held.path.clone(),
                    recorded_pid_alive,
                    holders: held
                        .path
                        .as_ref()
                        .and_then(|p| now.path_holders.get(p))
                        .cloned()
                        .unwrap_or_default(),
                });
            }
            _ => gone += 1,
        }
    }
    (left, gone)
}

/// Whether `now` is the lock `then` still held: the same kind on the same
/// bytes of the same file, held (not waited for), and taken by the same
/// process where the kernel names one in both listings. A lock another
/// process took on the file since (a restarted daemon's on its lock file)
/// is not the tree's; a change between read and write is the same lock
/// upgraded. Pure.
fn still_held(then: &Lock, now: &Lock) -> bool {
    let same_locker = match (then.pid, now.pid) {
        (Some(a), Some(b)) if a > 0 && b > 0 => a == b,
        _ => true,
    };
    !now.waiting
        && same_locker
        && (now.kind, now.major, now.minor, now.inode, now.start, now.end)
            == (then.kind, then.major, then.minor, then.inode, then.start, then.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_another_process_took_since_is_not_the_trees() {
        let then = Lock {
            kind: LockKind::Flock,
            write: true,
            pid: Some(10),
            major: 0,
            minor: 1,
            inode: 5,
            start: 0,
            end: None,
            waiting: false,
        };
        assert!(still_held(&then, &then));
        // Read by a namespace that cannot see the locker, or upgraded.
        assert!(still_held(
            &then,
            &Lock {
                pid: None,
                ..then.clone()
            }
        ));
        assert!(still_held(
            &then,
            &Lock {
                write: false,
                ..then.clone()
            }
        ));
        // A restarted daemon's lock on the same file; a waiter; other bytes.
        assert!(!still_held(
            &then,
            &Lock {
                pid: Some(30),
                ..then.clone()
            }
        ));
        assert!(!still_held(
            &then,
            &Lock {
                waiting: true,
                ..then.clone()
            }
        ));
        assert!(!still_held(
            &then,
            &Lock {
                start: 1,
                ..then.clone()
            }
        ));
        assert!(!still_held(
            &then,
            &Lock {
                kind: LockKind::Posix,
                ..then.clone()
            }
        ));
    }

    #[test]
    fn a_snapshot_is_read_in_the_time_namespace_of_the_reader() {
        let mut before = Snapshot {
            version: 1,
            taken_at: 1001.0,
            boot_id: "b".into(),
            root: pid(10),
            tree: false,
            processes: vec![process(10, 1, 3)],
            sockets: vec![],
            locks: vec![],
            ipc: vec![],
        };
        before.processes[0].start_ticks = 500;
        let here = in_own_time_namespace(&before, 10_000);
        assert_eq!(here.processes[0].start_ticks, 10_500);
        assert_eq!(in_own_time_namespace(&before, -100).processes[0].start_ticks, 400);
    }

    #[test]
    fn a_socket_file_is_the_one_bound_only_with_its_device_and_inode() {
        let bound = Some((libc::makedev(0, 42), 77u32));
        assert!(is_bound_file(bound, libc::makedev(0, 42), 77));
        // The same path on another file system (the tree's was a private
        // tmpfs), or another file there.
        assert!(!is_bound_file(bound, libc::makedev(254, 0), 77));
        assert!(!is_bound_file(bound, libc::makedev(0, 42), 78));
        // The low 32 bits are all sock_diag gives.
        assert!(is_bound_file(bound, libc::makedev(0, 42), (1 << 32) | 77));
        // A snapshot without them: any socket file at the path.
        assert!(is_bound_file(None, 1, 2));
    }
    use crate::resources::fd::{Access, Fd, FdKind};
    use crate::resources::locks::LockKind;
    use crate::resources::snapshot::{HeldLock, ProcessSnapshot};

    fn pid(n: i32) -> Pid {
        Pid::new(n).unwrap()
    }

    fn process(n: i32, ppid: i32, fds: usize) -> ProcessSnapshot {
        ProcessSnapshot {
            pid: pid(n),
            ppid,
            start_ticks: n as u64 * 10,
            started_at: Some(1000.0),
            name: format!("p{n}"),
            uid: Some(0),
            user: None,
            cmdline: vec![],
            cwd: None,
            root_dir: None,
            netns: Some(1),
            rss_bytes: 4096,
            fds: (0..fds)
                .map(|i| Fd {
                    fd: i as i32,
                    kind: FdKind::Pipe,
                    target: "pipe:[1]".into(),
                    inode: Some(1),
                    access: Access::Read,
                    cloexec: false,
                    offset: 0,
                    locks: vec![],
                })
                .collect(),
            fds_unreadable: false,
            zombie: false,
            exiting: false,
            maps: vec![],
            errors: vec![],
        }
    }

    /// A snapshot of the tree of PID 10 holding `processes`, and nothing else.
    fn tree_of(processes: Vec<ProcessSnapshot>) -> Snapshot {
        Snapshot {
            version: 2,
            taken_at: 1001.0,
            boot_id: "b".into(),
            root: pid(10),
            tree: true,
            processes,
            sockets: vec![],
            locks: vec![],
            ipc: vec![],
        }
    }

    /// The machine now, in the snapshot's boot, with nothing running.
    fn nothing_now() -> Now {
        Now {
            boot_id: "b".into(),
            ..Now::default()
        }
    }

    fn listener(inode: u64) -> Socket {
        Socket::inet_fixture(Protocol::Tcp, SocketState::Listen, "127.0.0.1:8080", "0.0.0.0:0", inode)
    }

    #[test]
    fn a_connection_of_the_tree_the_kernel_still_closes_is_named_by_its_addresses() {
        let conn =
            |state, remote: &str, inode| Socket::inet_fixture(Protocol::Tcp, state, "127.0.0.1:8080", remote, inode);
        let before = Snapshot {
            version: 2,
            taken_at: 1001.0,
            boot_id: "b".into(),
            root: pid(10),
            tree: false,
            processes: vec![process(10, 1, 2)],
            sockets: vec![listener(77), conn(SocketState::Established, "127.0.0.1:5000", 78)],
            locks: vec![],
            ipc: vec![],
        };
        let mut other_ns = conn(SocketState::TimeWait, "127.0.0.1:5000", 0);
        other_ns.netns = 2;
        let now = Now {
            boot_id: "b".into(),
            closing: vec![
                conn(SocketState::FinWait2, "127.0.0.1:5000", 0),
                // Another client's, and the same addresses in another namespace.
                conn(SocketState::TimeWait, "127.0.0.1:5001", 0),
                other_ns,
            ],
            ..Now::default()
        };
        let closing = closing_connections(&before, &now);
        assert_eq!(closing.len(), 1);
        assert_eq!(closing[0].socket.state, SocketState::FinWait2);
        assert!(closing[0].bind.fails_without_reuseaddr);
        assert_eq!(closing[0].bind.fails_with_reuseaddr, None);
        assert!(is_closing(&now.closing[0]));
        assert!(!is_closing(&conn(SocketState::CloseWait, "127.0.0.1:5000", 0)));
        assert!(!is_closing(&conn(SocketState::TimeWait, "127.0.0.1:5000", 9)));
        let report = compare(&before, &now);
        assert_eq!(report.gone.closing, closing);
        assert!(report.clean);
    }

    #[test]
    fn sizes_read_from_a_snapshot_sum_without_overflow() {
        let mut before = tree_of(vec![process(10, 1, 1), process(11, 10, 1)]);
        for p in &mut before.processes {
            p.rss_bytes = u64::MAX;
        }
        let now = nothing_now();
        let report = compare(&before, &now);
        assert_eq!(report.gone.processes.len(), 2);
        assert_eq!(report.gone.memory_bytes, u64::MAX);
    }

    #[test]
    fn a_process_listed_twice_counts_once() {
        let before = tree_of(vec![process(10, 1, 2), process(11, 10, 1), process(10, 1, 2)]);
        let now = nothing_now();
        let report = compare(&before, &now);
        let pids: Vec<i32> = report.gone.processes.iter().map(|p| p.pid.get()).collect();
        assert_eq!(pids, [10, 11]);
        assert_eq!(report.gone.fds, 3);
        assert_eq!(report.gone.memory_bytes, 2 * 4096);
    }

    #[test]
    fn what_went_and_what_stayed() {
        let lock = Lock {
            kind: LockKind::Flock,
            write: true,
            pid: Some(10),
            major: 0,
            minor: 1,
            inode: 5,
            start: 0,
            end: None,
            waiting: false,
        };
        let before = Snapshot {
            version: 1,
            taken_at: 1001.0,
            boot_id: "b".into(),
            root: pid(10),
            tree: true,
            processes: vec![process(10, 1, 3), process(11, 10, 2)],
            sockets: vec![listener(77), listener(78)],
            locks: vec![HeldLock {
                lock: lock.clone(),
                path: Some("/tmp/l".into()),
            }],
            ipc: vec![],
        };
        let shm = IpcObject {
            kind: IpcKind::SysvShm,
            id: Some(3),
            key: Some(0),
            name: None,
            uid: 0,
            creator_uid: Some(0),
            size: 4096,
            creator_pid: Some(11),
            last_pids: vec![11],
            attached: Some(0),
            changed_at: 1000,
            changed_exact: None,
            used_at: None,
            used_at_by: Vec::new(),
        };
        let old_shm = IpcObject {
            id: Some(4),
            changed_at: 10,
            changed_exact: None,
            ..shm.clone()
        };
        let now = Now {
            boot_id: "b".into(),
            taken_at: 1002.0,
            booted_at: 0.0,
            ticks_per_second: 100,
            processes: vec![
                LiveProcess {
                    pid: pid(11),
                    ppid: 1,
                    start_ticks: 110,
                    name: "p11".into(),
                    zombie: None,
                },
                LiveProcess {
                    pid: pid(12),
                    ppid: 11,
                    start_ticks: 999,
                    name: "late".into(),
                    zombie: None,
                },
                // PID 10 reused by another process.
                LiveProcess {
                    pid: pid(10),
                    ppid: 1,
                    start_ticks: 5,
                    name: "other".into(),
                    zombie: None,
                },
            ],
            sockets: vec![listener(77)],
            closing: Vec::new(),
            socket_holders: HashMap::from([(
                77,
                vec![ProcessRef {
                    pid: pid(11),
                    name: "p11".into(),
                }],
            )]),
            ipc: vec![shm, old_shm],
            ipc_holders: HashMap::new(),
            locks: vec![lock],
            path_holders: HashMap::new(),
            files: vec![CreatedFile {
                path: "/run/s.sock".into(),
                size: 0,
                created_at: 1001.5,
            }],
            socket_files: vec!["/run/s.sock".into()],
        };
        let report = compare(&before, &now);
        assert!(!report.clean);
        let left: Vec<(&str, &str)> = report
            .stayed
            .socket_files
            .iter()
            .map(|s| (s.path.as_str(), s.remove_with.as_str()))
            .collect();
        assert_eq!(left, [("/run/s.sock", "rm /run/s.sock")]);
        assert!(report.stayed.files.is_empty(), "a socket file is listed once");
        assert_eq!(report.gone.processes.len(), 1);
        assert_eq!(report.gone.processes[0].pid, pid(10));
        assert_eq!(report.gone.fds, 3);
        assert_eq!(report.gone.memory_bytes, 4096);
        assert_eq!(report.gone.sockets, 1);
        let survivors: Vec<(i32, bool)> = report
            .stayed
            .processes
            .iter()
            .map(|s| (s.pid.get(), s.in_snapshot))
            .collect();
        assert_eq!(survivors, vec![(11, true), (12, false)]);
        assert_eq!(report.stayed.sockets.len(), 1);
        assert_eq!(report.stayed.sockets[0].holders[0].pid, pid(11));
        assert_eq!(report.stayed.ipc.len(), 1);
        assert_eq!(report.stayed.ipc[0].object.id, Some(3));
        assert_eq!(report.stayed.ipc[0].attribution, Attribution::Pid);
        assert_eq!(report.stayed.locks.len(), 1);
        assert!(!report.stayed.locks[0].recorded_pid_alive);
    }

    fn live(n: i32, start_ticks: u64) -> LiveProcess {
        LiveProcess {
            pid: pid(n),
            ppid: 1,
            start_ticks,
            name: format!("l{n}"),
            zombie: None,
        }
    }

    fn held(n: i32) -> Vec<ProcessRef> {
        vec![ProcessRef {
            pid: pid(n),
            name: format!("l{n}"),
        }]
    }

    #[test]
    fn objects_that_living_outsiders_hold_are_not_the_trees() {
        // Tree 10 (dead) and 11 (survives); 20 is someone else's, and
        // another process holds PID 10 now, started after the tree's uses
        // (at 1005; they were at 1002).
        let before = tree_of(vec![process(10, 1, 0), process(11, 10, 0)]);
        let posix = |name: &str| IpcObject {
            kind: IpcKind::PosixShm,
            id: None,
            key: None,
            name: Some(name.into()),
            uid: 0,
            creator_uid: None,
            size: 4096,
            creator_pid: None,
            last_pids: vec![],
            attached: None,
            changed_at: 1002,
            changed_exact: None,
            used_at: None,
            used_at_by: Vec::new(),
        };
        let sysv = |kind: IpcKind, id: i64, creator: Option<i32>, last: Vec<i32>| IpcObject {
            kind,
            id: Some(id),
            key: Some(0),
            name: None,
            creator_uid: Some(0),
            creator_pid: creator,
            last_pids: last,
            attached: (kind == IpcKind::SysvShm).then_some(1),
            used_at: Some(1002),
            ..posix("")
        };
        let now = Now {
            boot_id: "b".into(),
            processes: vec![live(11, 110), live(20, 5), live(10, 1005)],
            ipc: vec![
                posix("/outsider"),
                posix("/survivor"),
                posix("/reused_pid"),
                posix("/nobody"),
                // Made by the tree, attached by the outsider: the tree's.
                sysv(IpcKind::SysvShm, 1, Some(10), vec![20]),
                // Made by the outsider and attached by it, last used by the tree.
                sysv(IpcKind::SysvShm, 2, Some(20), vec![10]),
                // A semaphore set the outsider used last; one no one did.
                sysv(IpcKind::SysvSem, 3, None, vec![20]),
                sysv(IpcKind::SysvSem, 4, None, vec![]),
                // A queue the dead tree's PID 10 used last (PID since reused).
                sysv(IpcKind::SysvMsg, 5, None, vec![10]),
            ],
            ipc_holders: HashMap::from([
                ((IpcKind::PosixShm, "/outsider".to_string()), held(20)),
                ((IpcKind::PosixShm, "/survivor".to_string()), held(11)),
                ((IpcKind::PosixShm, "/reused_pid".to_string()), held(10)),
                ((IpcKind::SysvShm, "1".to_string()), held(20)),
                ((IpcKind::SysvShm, "2".to_string()), held(20)),
            ]),
            ..Now::default()
        };
        let report = compare(&before, &now);
        let label = |o: &IpcObject| o.name.clone().unwrap_or_else(|| o.id.unwrap_or(0).to_string());
        let stayed: Vec<String> = report.stayed.ipc.iter().map(|i| label(&i.object)).collect();
        assert_eq!(stayed, vec!["/survivor", "/nobody", "1", "4", "5"]);
        let others: Vec<(String, Vec<i32>)> = report
            .ipc_held_by_others
            .iter()
            .map(|i| (label(&i.object), i.holders.iter().map(|h| h.pid.get()).collect()))
            .collect();
        assert_eq!(
            others,
            vec![
                ("/outsider".to_string(), vec![20]),
                ("/reused_pid".to_string(), vec![10]),
                ("2".to_string(), vec![20]),
                ("3".to_string(), vec![20]),
            ]
        );
        assert_eq!(report.ipc_held_by_others[0].attribution, Attribution::TimeAndUser);
        assert_eq!(report.ipc_held_by_others[2].attribution, Attribution::Pid);
        // A survivor is still there: not clean; without it, the outsiders'
        // objects alone would not make it unclean.
        assert!(!report.clean);
    }

    #[test]
    fn a_pid_handed_out_again_names_the_new_process_where_it_may_be_the_one() {
        // The tree's PID 10 started at 1000 and ended; another process has
        // had PID 10 since 1005 (one tick a second, the boot at 0).
        let before = tree_of(vec![process(10, 1, 0)]);
        let sysv = |kind: IpcKind, id: i64, creator: Option<i32>, last: Vec<i32>, at: i64| IpcObject {
            kind,
            id: Some(id),
            key: Some(0),
            name: None,
            uid: 0,
            creator_uid: Some(0),
            size: 4096,
            creator_pid: creator,
            last_pids: last,
            attached: None,
            changed_at: at,
            changed_exact: None,
            used_at: Some(at),
            used_at_by: Vec::new(),
        };
        let now = Now {
            boot_id: "b".into(),
            ticks_per_second: 1,
            processes: vec![live(10, 1005)],
            ipc: vec![
                // Made by PID 10 before the new process started: the tree's.
                sysv(IpcKind::SysvShm, 1, Some(10), vec![], 1002),
                // Made by PID 10 after it: the new process's, not the tree's.
                sysv(IpcKind::SysvShm, 2, Some(10), vec![], 1008),
                // A queue of the tree's user, last used by PID 10 after the
                // new process started: that process uses it, not the tree.
                sysv(IpcKind::SysvMsg, 3, None, vec![10], 1009),
            ],
            ..Now::default()
        };
        let report = compare(&before, &now);
        let ids = |objects: Vec<&IpcObject>| objects.iter().map(|o| o.id.unwrap()).collect::<Vec<_>>();
        assert_eq!(ids(report.stayed.ipc.iter().map(|i| &i.object).collect()), vec![1]);
        assert_eq!(report.stayed.ipc[0].attribution, Attribution::Pid);
        let others = &report.ipc_held_by_others;
        assert_eq!(ids(others.iter().map(|i| &i.object).collect()), vec![3]);
        assert_eq!(others[0].holders[0].pid, pid(10));
        assert_eq!(others[0].attribution, Attribution::TimeAndUser);
    }

    #[test]
    fn a_zombie_of_the_tree_went_with_it() {
        use crate::exit::ExitStatus;
        use crate::process::StatusSource;
        use crate::terminate::report::ReaperRole;
        let before = Snapshot {
            version: 1,
            taken_at: 1001.0,
            boot_id: "b".into(),
            root: pid(10),
            tree: true,
            processes: vec![process(10, 1, 3)],
            sockets: vec![],
            locks: vec![],
            ipc: vec![],
        };
        let zombie = ZombieLeft {
            status: Some(EndingReport::Known {
                views: ExitStatus::Signaled {
                    signal: crate::signal::Signal::KILL,
                    core_dumped: false,
                }
                .into(),
                source: StatusSource::ZombieStat,
            }),
            unreaped_by: Reaper {
                role: ReaperRole::Parent,
                pid: 1,
                name: Some("sleep".into()),
            },
        };
        let now = Now {
            boot_id: "b".into(),
            processes: vec![LiveProcess {
                pid: pid(10),
                ppid: 1,
                start_ticks: 100,
                name: "p10".into(),
                zombie: Some(zombie.clone()),
            }],
            ..Now::default()
        };
        let report = compare(&before, &now);
        assert!(report.clean, "{report:?}");
        assert!(report.stayed.processes.is_empty());
        assert_eq!(
            report.gone.processes,
            vec![GoneProcess {
                pid: pid(10),
                name: "p10".into(),
                zombie: Some(zombie)
            }]
        );
        assert_eq!(report.gone.fds, 3);
        assert_eq!(report.gone.memory_bytes, 4096);
    }

    #[test]
    fn boots_compare_by_id() {
        assert!(same_boot("a", "a"));
        assert!(!same_boot("a", "b"));
        // Unknown on either side: taken as this boot.
        assert!(same_boot("", "b"));
        assert!(same_boot("a", ""));
    }

    #[test]
    fn another_boot_compares_nothing() {
        let before = Snapshot {
            version: 1,
            taken_at: 1.0,
            boot_id: "a".into(),
            root: pid(10),
            tree: false,
            processes: vec![process(10, 1, 1)],
            sockets: vec![],
            locks: vec![],
            ipc: vec![],
        };
        let now = Now {
            boot_id: "b".into(),
            processes: vec![LiveProcess {
                pid: pid(10),
                ppid: 1,
                start_ticks: 100,
                name: "p10".into(),
                zombie: None,
            }],
            ..Now::default()
        };
        let report = compare(&before, &now);
        assert!(!report.same_boot);
        assert!(report.clean);
        assert_eq!(report.gone.processes.len(), 1);
    }
}
