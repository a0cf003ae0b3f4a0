//! Gathering the facts from /proc, /sys and cgroupfs: the only part of
//! `resist` that makes system calls.
//!
//! Every optional fact tolerates being refused (another user's process, a
//! kernel stack readable only by root) or missing (a thread that exits while
//! we read it): it becomes [`Readable::Denied`] or [`Readable::Missing`], or
//! is left out, rather than failing the diagnosis.

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::proc;
use crate::process::{Pid, Process, ProcessInfo, ProcessState, ProcessTable, ReadError};
use crate::resist::facts::{
    CgroupV2, Disposition, Facts, FreezerV1, FuseHolder, Masks, Mount, ParentFacts, Peer, Permission, Readable,
    SyscallState, ThreadFacts, WaitTarget,
};
use crate::resist::parse::{self, ArgKind};
use crate::signal::Signal;

/// `CAP_KILL`, capability bit 5 (capabilities(7)).
const CAP_KILL: u64 = 1 << 5;

/// Reads every fact about the process behind `process`.
pub fn gather(process: &Process) -> Result<Facts, ReadError> {
    let pid = process.pid();
    // Checked against the pidfd's start time: these facts are its own.
    let info = process.info()?;
    let dir = proc::Process::new(pid.get()).map_err(|e| ReadError::from_proc(pid, "", e))?;
    let stat = crate::proc::stat::of(&dir).map_err(|e| ReadError::from_proc(pid, "stat", e))?;
    let status = proc::status::of(&dir).map_err(|e| ReadError::from_proc(pid, "status", e))?;
    let mounts = CgroupMounts::find();

    let mut threads = read_threads(&dir, pid, &mounts);
    if threads.is_empty() {
        // The task directory can be empty for a process that is being
        // removed; describe its main thread from what we have.
        threads.push(ThreadFacts {
            tid: pid.get(),
            name: info.name.clone(),
            state: info.state,
            wchan: Readable::Missing,
            stack: Readable::Missing,
            syscall: Readable::Missing,
            wait_target: None,
            blocked: status.sigblk,
            pending: status.sigpnd,
            tracer_pid: status.tracerpid,
            exiting: info.exiting,
            freezer_v1: None,
            kernel_state: None,
        });
    }
    for thread in threads.iter_mut().filter(|t| t.state == ProcessState::DiskSleep) {
        if let Readable::Value(SyscallState::In { number, args, .. }) = &thread.syscall {
            thread.wait_target = wait_target(pid, *number, args);
        }
    }
    // A killable sleep reads D as well: only `__state` tells it apart.
    if threads.iter().any(|t| t.state == ProcessState::DiskSleep)
        && let Some(states) = crate::bpf::thread_states::of_process(pid.get())
    {
        for thread in threads.iter_mut().filter(|t| t.state == ProcessState::DiskSleep) {
            thread.kernel_state = states.get(&thread.tid).copied();
        }
    }

    // Only a thread waiting in D inside clone/clone3/vfork can be a vfork
    // parent; the scan of children is done only then.
    let vfork_child = if threads.iter().any(ThreadFacts::waits_in_process_creation) {
        vfork_child(pid)
    } else {
        None
    };

    // The main thread's tracer, else that of a thread traced alone.
    let tracer_of_a_thread = threads
        .iter()
        .find(|t| t.tid != pid.get() && t.state.is_alive() && t.tracer_pid > 0)
        .map_or(0, |t| t.tracer_pid);
    let tracer = Pid::new(if status.tracerpid > 0 {
        status.tracerpid
    } else {
        tracer_of_a_thread
    })
    .and_then(peer);
    let needs_parent = matches!(info.state, ProcessState::Zombie | ProcessState::Dead);
    let parent = if needs_parent {
        Pid::new(info.ppid).and_then(parent_facts)
    } else {
        None
    };
    let session_leader = if info.tty.is_some() && info.state == ProcessState::Stopped {
        Pid::new(info.sid).and_then(peer)
    } else {
        None
    };
    let zombie_for = if info.state == ProcessState::Zombie {
        zombie_age(pid, stat.processor)
    } else {
        None
    };

    Ok(Facts {
        pid,
        name: info.name.clone(),
        command_line: info.cmdline.clone(),
        state: info.state,
        flags: stat.flags,
        core_dumping: status.core_dumping.unwrap_or(false),
        ppid: info.ppid,
        pgid: info.pgid,
        sid: info.sid,
        tty: info.tty.clone(),
        tpgid: stat.tpgid,
        ns_pids: status.nspid.clone().unwrap_or_else(|| vec![pid.get()]),
        masks: Masks {
            ignored: status.sigign,
            caught: status.sigcgt,
            shared_pending: status.shdpnd,
        },
        threads,
        tracer,
        tracer_pid: status.tracerpid,
        parent,
        session_leader,
        zombie_for,
        cgroup_v2: cgroup_v2(pid, &mounts),
        vfork_child,
        permission: permission(status.ruid, status.suid, process.may_signal().ok()),
    })
}

fn readable<T>(result: io::Result<T>) -> Readable<T> {
    match result {
        Ok(value) => Readable::Value(value),
        Err(e) if matches!(e.kind(), io::ErrorKind::PermissionDenied) => Readable::Denied,
        // ENOENT/ESRCH: the thread ended while we read it.
        Err(_) => Readable::Missing,
    }
}

fn read_threads(dir: &proc::Process, pid: Pid, mounts: &CgroupMounts) -> Vec<ThreadFacts> {
    let Ok(tasks) = dir.tasks() else {
        return Vec::new();
    };
    let settle_by = Instant::now() + SETTLE;
    let mut threads: Vec<ThreadFacts> = tasks
        .flatten()
        .filter_map(|task| {
            // A thread that ends between the listing and these reads is
            // simply left out.
            let dir = PathBuf::from(format!("/proc/{}/task/{}", pid, task.tid));
            let (stat, wchan) = settled_stat_and_wchan(&task, &dir, settle_by)?;
            let status = task.status().ok();
            let stack = readable(fs::read_to_string(dir.join("stack"))).map_value(|s| parse::kernel_stack(&s));
            let syscall = match readable(fs::read_to_string(dir.join("syscall"))) {
                Readable::Value(text) => parse::syscall_state(&text).map_or(Readable::Missing, Readable::Value),
                Readable::Denied => Readable::Denied,
                Readable::Missing => Readable::Missing,
            };
            let freezer_v1 = mounts.freezer.as_ref().and_then(|root| {
                let text = fs::read_to_string(dir.join("cgroup")).ok()?;
                freezer_v1(root, &proc::cgroup::v1_path(&proc::cgroup::parse(&text), "freezer")?)
            });
            Some(ThreadFacts {
                tid: task.tid,
                name: stat.comm.clone(),
                state: ProcessState::from_letter(stat.state),
                wchan,
                stack,
                syscall,
                wait_target: None,
                blocked: status.as_ref().map_or(0, |s| s.sigblk),
                pending: status.as_ref().map_or(0, |s| s.sigpnd),
                tracer_pid: status.as_ref().map_or(0, |s| s.tracerpid),
                exiting: proc::stat::on_its_way_out(stat.flags),
                freezer_v1,
                kernel_state: None,
            })
        })
        .collect();
    // The main thread first.
    threads.sort_by_key(|t| (t.tid != pid.get(), t.tid));
    threads
}

/// How long the threads that read D but are still on their CPUs get to fall
/// asleep before their state is taken as read.
const SETTLE: Duration = Duration::from_millis(20);

/// A thread's stat and wchan, read once it has settled.
///
/// A thread marks itself D just before it gives up its CPU; until it has
/// (or while it sits preempted on a run queue, on a busy machine) the kernel
/// shows no wchan ("0"), no kernel stack and the syscall as "running". Such a
/// thread is read again for a moment, so that a wait it is about to sleep in
/// is reported with the function it sleeps in.
/// `settle_by` is one deadline for all the threads of a process.
fn settled_stat_and_wchan(
    task: &proc::Task,
    dir: &Path,
    settle_by: Instant,
) -> Option<(proc::stat::Stat, Readable<String>)> {
    let read_wchan = || {
        readable(fs::read_to_string(dir.join("wchan")))
            .map_value(|w| w.trim().to_string())
            .filter_value(|w| !w.is_empty() && w != "0")
    };
    loop {
        let stat = task.stat().ok()?;
        let wchan = read_wchan();
        if stat.state != 'D' || !matches!(wchan, Readable::Missing) || Instant::now() >= settle_by {
            return Some((stat, wchan));
        }
        // wchan also reads 0 to a reader without ptrace access; the syscall
        // file, readable only with it, tells the two apart. Reading it waits
        // for a preempted task to leave its run queue.
        match fs::read_to_string(dir.join("syscall")) {
            Ok(text) if text.trim() == "running" => std::thread::sleep(Duration::from_millis(1)),
            Ok(_) => return Some((task.stat().ok()?, read_wchan())),
            Err(_) => return Some((stat, wchan)),
        }
    }
}

/// A short description of another process, if it still exists.
fn peer(pid: Pid) -> Option<Peer> {
    let info = ProcessInfo::read(pid).ok()?;
    Some(peer_of(&info))
}

fn peer_of(info: &ProcessInfo) -> Peer {
    Peer {
        pid: info.pid,
        name: info.name.clone(),
        command_line: info.cmdline.clone(),
        state: info.state,
    }
}

fn parent_facts(ppid: Pid) -> Option<ParentFacts> {
    let info = ProcessInfo::read(ppid).ok()?;
    let chld = Signal::from_number(libc::SIGCHLD)?;
    let sigchld = if info.signals.caught.contains(&chld) {
        Disposition::Caught
    } else if info.signals.ignored.contains(&chld) {
        Disposition::Ignored
    } else {
        Disposition::Default
    };
    let is_namespace_init = proc::status::read(ppid)
        .ok()
        .and_then(|s| s.nspid)
        .is_some_and(|ns| ns.last() == Some(&1));
    Some(ParentFacts {
        peer: peer_of(&info),
        sigchld,
        is_namespace_init,
    })
}

fn permission(target_ruid: u32, target_suid: u32, kernel_allows: Option<bool>) -> Permission {
    let cap_kill = crate::process::own_effective_capabilities() & CAP_KILL != 0;
    Permission {
        our_ruid: rustix::process::getuid().as_raw(),
        our_euid: rustix::process::geteuid().as_raw(),
        cap_kill,
        target_ruid,
        target_suid,
        kernel_allows,
    }
}

/// How long ago a zombie last ran: a zombie never runs again after it
/// exits, so its scheduler's `se.exec_start` is the time of its exit, on the
/// clock of the run queue of the CPU it last ran on (`rq_clock_task`). That
/// clock is not `CLOCK_MONOTONIC` (on a virtual machine the two drift tens
/// of seconds apart), nor even one clock for all CPUs (there, seconds apart
/// from one CPU to the next). So "now" is read on that same CPU's clock: a
/// short-lived thread moves itself to that CPU (`sched_setaffinity` returns
/// once it runs there) and reads its own `se.exec_start`, set when it was
/// put on that CPU. `None` when that CPU is not ours to run on, or a file
/// cannot be read: the age is then unknown.
fn zombie_age(pid: Pid, cpu: Option<i32>) -> Option<Duration> {
    let cpu = usize::try_from(cpu?).ok()?;
    let exec_start_ms = parse::sched_exec_start_ms(&fs::read_to_string(format!("/proc/{pid}/sched")).ok()?)?;
    let now_ms = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut set = rustix::thread::CpuSet::new();
                set.set(cpu);
                // EINVAL: that CPU is not in our cpuset (or offline).
                rustix::thread::sched_setaffinity(None, &set).ok()?;
                parse::sched_exec_start_ms(&fs::read_to_string("/proc/thread-self/sched").ok()?)
            })
            .join()
            .ok()
            .flatten()
    })?;
    parse::sched_age(exec_start_ms, now_ms)
}

/// The cgroup hierarchies we look at, found in our own mountinfo (never at
/// a fixed path: hybrid setups mount v2 at /sys/fs/cgroup/unified).
struct CgroupMounts {
    v2: Option<PathBuf>,
    freezer: Option<PathBuf>,
}

impl CgroupMounts {
    fn find() -> CgroupMounts {
        let mut found = CgroupMounts {
            v2: None,
            freezer: None,
        };
        let Ok(mounts) = proc::mountinfo::read(None) else {
            return found;
        };
        for mount in mounts {
            // Only mounts of the hierarchy's root show every cgroup.
            if mount.root != "/" {
                continue;
            }
            if mount.fs_type == "cgroup2" && found.v2.is_none() {
                found.v2 = Some(mount.mount_point.clone());
            }
            if mount.fs_type == "cgroup" && mount.super_options.contains_key("freezer") && found.freezer.is_none() {
                found.freezer = Some(mount.mount_point.clone());
            }
        }
        found
    }
}

/// The cgroup v1 freezer membership of a process whose `/proc/PID/cgroup`
/// lists `groups`: `None` where it is in no freezer cgroup or no freezer
/// hierarchy is mounted.
pub(crate) fn freezer_v1_of(groups: &[proc::cgroup::ProcessCGroup]) -> Option<FreezerV1> {
    let cgroup = proc::cgroup::v1_path(groups, "freezer")?;
    freezer_v1(CgroupMounts::find().freezer.as_ref()?, &cgroup)
}

fn freezer_v1(root: &Path, cgroup: &str) -> Option<FreezerV1> {
    let dir = proc::cgroup::dir(root, cgroup);
    let state = fs::read_to_string(dir.join("freezer.state")).ok()?.trim().to_string();
    let flag = |file: &str| fs::read_to_string(dir.join(file)).ok().map(|t| t.trim() == "1");
    Some(FreezerV1 {
        cgroup: cgroup.to_string(),
        self_freezing: flag("freezer.self_freezing"),
        parent_freezing: flag("freezer.parent_freezing"),
        dir,
        state,
    })
}

fn cgroup_v2(pid: Pid, mounts: &CgroupMounts) -> Option<CgroupV2> {
    let root = mounts.v2.as_ref()?;
    let cgroup = proc::cgroup::v2_path(&proc::cgroup::read(pid).ok()?)?;
    let dir = proc::cgroup::dir(root, &cgroup);
    let mut freeze = Vec::new();
    let mut current = Some(dir.as_path());
    while let Some(path) = current {
        if let Ok(value) = fs::read_to_string(path.join("cgroup.freeze")) {
            freeze.push((path.to_path_buf(), value.trim() == "1"));
        }
        if path == root {
            break;
        }
        current = path.parent().filter(|p| p.starts_with(root));
    }
    let events_frozen = proc::cgroup::frozen(&dir);
    Some(CgroupV2 {
        cgroup,
        dir,
        freeze,
        events_frozen,
    })
}

/// The child that shares `pid`'s address space (kcmp(2) `KCMP_VM`): the
/// child of a vfork, which the parent waits for.
fn vfork_child(pid: Pid) -> Option<(Peer, Readable<String>)> {
    let table = ProcessTable::scan();
    table.children(pid).into_iter().find_map(|child| {
        if !proc::kcmp::same_address_space(pid, child) {
            return None;
        }
        let wchan = readable(fs::read_to_string(format!("/proc/{child}/wchan")))
            .map_value(|w| w.trim().to_string())
            .filter_value(|w| !w.is_empty() && w != "0");
        Some((peer(child)?, wchan))
    })
}

/// What a blocked system call works on: the file behind its descriptor or
/// path argument, and the mount that file is on.
fn wait_target(pid: Pid, number: i64, args: &[u64; 6]) -> Option<WaitTarget> {
    let (fd, path) = match parse::syscall_arg_kind(number) {
        ArgKind::Nothing => return None,
        ArgKind::Fd(index) => {
            let fd = i32::try_from(args[index]).ok()?;
            let link = fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
            (Some(fd), link.to_string_lossy().into_owned())
        }
        ArgKind::Path(index) => (None, absolute(pid, None, &read_string(pid, args[index])?)),
        ArgKind::AtPath { dirfd, path } => {
            let text = read_string(pid, args[path])?;
            let base = if parse::is_at_fdcwd(args[dirfd]) {
                None
            } else {
                i32::try_from(args[dirfd]).ok()
            };
            (None, absolute(pid, base, &text))
        }
    };
    let mounts = proc::mountinfo::read(Some(pid)).unwrap_or_default();
    let by_id = fd
        .and_then(|fd| fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok())
        .and_then(|text| proc::fdinfo::FdInfo::parse(&text).mnt_id)
        .and_then(|id| mounts.iter().find(|m| u64::try_from(m.mnt_id) == Ok(id)));
    let mount = by_id
        .or_else(|| {
            mounts
                .iter()
                .filter(|m| Path::new(&path).starts_with(&m.mount_point))
                .max_by_key(|m| m.mount_point.components().count())
        })
        .map(|m| Mount {
            mount_id: m.mnt_id,
            device: m.majmin.clone(),
            mount_point: m.mount_point.display().to_string(),
            fs_type: m.fs_type.clone(),
            source: m.mount_source.clone().unwrap_or_default(),
        });
    let (fuse_servers, fuse_waiting) = match &mount {
        Some(m) if m.is_fuse() => (fuse_servers(m), fuse_waiting(m)),
        _ => (Vec::new(), None),
    };
    Some(WaitTarget {
        fd,
        path,
        mount,
        fuse_servers,
        fuse_waiting,
    })
}

/// A NUL-terminated string in the process's memory (a path argument).
fn read_string(pid: Pid, address: u64) -> Option<String> {
    let mem = fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut buffer = vec![0u8; 4096];
    let read = mem.read_at(&mut buffer, address).ok()?;
    buffer.truncate(read);
    let end = buffer.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&buffer[..end]).into_owned())
}

fn absolute(pid: Pid, dirfd: Option<i32>, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = match dirfd {
        Some(fd) => fs::read_link(format!("/proc/{pid}/fd/{fd}")),
        None => fs::read_link(format!("/proc/{pid}/cwd")),
    };
    match base {
        Ok(base) => base.join(path).display().to_string(),
        Err(_) => path.to_string(),
    }
}

/// Processes holding `/dev/fuse` open for the mount's connection, or for a
/// connection the kernel does not say (its fdinfo has no
/// `fuse_connection:`): FUSE servers. A holder of another connection serves
/// another mount and is left out. Those whose name matches the mount's
/// subtype (`fuse.sshfs` and `sshfs`) come first.
fn fuse_servers(mount: &Mount) -> Vec<FuseHolder> {
    let subtype = mount.fs_type.strip_prefix("fuse.").unwrap_or("");
    let connection = mount.fuse_connection();
    let Ok(processes) = proc::all_processes() else {
        return Vec::new();
    };
    let mut servers: Vec<FuseHolder> = processes
        .flatten()
        .filter_map(|p| {
            let fd = p.fd().ok()?.flatten().find_map(|fd| {
                let fuse = matches!(&fd.target, proc::FDTarget::Path(path) if path == Path::new("/dev/fuse"));
                let held = fuse.then(|| fuse_fd_connection(p.pid, fd.fd))?;
                (held.is_none() || held == connection).then_some((fd.fd, held))
            })?;
            let peer = Pid::new(p.pid).and_then(peer)?;
            Some(FuseHolder {
                peer,
                fd: fd.0,
                connection: fd.1,
            })
        })
        .collect();
    servers.sort_by_key(|s| {
        (
            s.connection.is_none(),
            subtype.is_empty() || !s.peer.name.starts_with(subtype),
        )
    });
    servers
}

/// The connection a `/dev/fuse` fd serves, where the kernel says.
fn fuse_fd_connection(pid: i32, fd: i32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    proc::fdinfo::FdInfo::parse(&text).fuse_connection
}

fn fuse_waiting(mount: &Mount) -> Option<u64> {
    let connection = mount.fuse_connection()?;
    fs::read_to_string(format!("/sys/fs/fuse/connections/{connection}/waiting"))
        .ok()?
        .trim()
        .parse()
        .ok()
}
