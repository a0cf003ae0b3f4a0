//! The facts a diagnosis is decided from: plain data, gathered from /proc by
//! [`mod@crate::resist::gather`] and read by the pure functions of
//! [`mod@crate::resist::decide`], so that every decision can be tested on facts
//! written by hand.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::process::{Pid, ProcessState};

/// A /proc value that may be missing: refused to us, or not provided by this
/// kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "readable", content = "value", rename_all = "snake_case")]
pub enum Readable<T> {
    /// The value.
    Value(T),
    /// Permission denied (another user's process, or no ptrace access).
    Denied,
    /// The file is missing or empty (a kernel built without it, a vanished task).
    Missing,
}

impl<T> Readable<T> {
    /// The value, if it was read.
    pub fn value(&self) -> Option<&T> {
        match self {
            Readable::Value(value) => Some(value),
            Readable::Denied | Readable::Missing => None,
        }
    }
}

impl<T> Readable<T> {
    /// The value transformed by `f`, refusals kept.
    pub(crate) fn map_value<U>(self, f: impl FnOnce(T) -> U) -> Readable<U> {
        match self {
            Readable::Value(v) => Readable::Value(f(v)),
            Readable::Denied => Readable::Denied,
            Readable::Missing => Readable::Missing,
        }
    }

    /// The value if it passes `keep`, else [`Readable::Missing`].
    pub(crate) fn filter_value(self, keep: impl FnOnce(&T) -> bool) -> Readable<T> {
        match self {
            Readable::Value(v) if keep(&v) => Readable::Value(v),
            Readable::Value(_) => Readable::Missing,
            other => other,
        }
    }
}

/// Another process named in a diagnosis: a tracer, a parent, a FUSE server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// Its PID.
    pub pid: Pid,
    /// Its name (`comm`).
    pub name: String,
    /// Its command line (empty for kernel threads and zombies, or if unreadable).
    pub command_line: Vec<String>,
    /// Its scheduler state.
    pub state: ProcessState,
}

/// What a process does with one signal when it arrives, from the masks of
/// `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// `SIG_DFL`: the kernel's default action.
    Default,
    /// `SIG_IGN`: discarded on arrival.
    Ignored,
    /// A handler runs.
    Caught,
}

/// The signal masks of a process, as bit masks (bit N-1 is signal N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Masks {
    /// `SigIgn` (process-wide).
    pub ignored: u64,
    /// `SigCgt` (process-wide).
    pub caught: u64,
    /// `ShdPnd`: pending for the whole process.
    pub shared_pending: u64,
}

/// Where a system call waits: the file or mount it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitTarget {
    /// The file descriptor argument, if the call takes one.
    pub fd: Option<i32>,
    /// The file, as `/proc/PID/fd/N` links it or as the path argument reads.
    pub path: String,
    /// The mount it is on.
    pub mount: Option<Mount>,
    /// For a FUSE mount: the processes holding `/dev/fuse` open for its
    /// connection, or for a connection the kernel does not say; the likely
    /// server first. Holders of other connections are left out.
    pub fuse_servers: Vec<FuseHolder>,
    /// For a FUSE mount: `/sys/fs/fuse/connections/N/waiting`, requests the
    /// server has not answered.
    pub fuse_waiting: Option<u64>,
}

/// A process holding `/dev/fuse` open: a FUSE server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FuseHolder {
    /// The process.
    pub peer: Peer,
    /// The fd it holds `/dev/fuse` by.
    pub fd: i32,
    /// The connection that fd serves (`fuse_connection:` of its fdinfo),
    /// where the kernel says.
    pub connection: Option<u64>,
}

/// One line of `/proc/PID/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// The mount ID.
    pub mount_id: i32,
    /// `major:minor` of the filesystem.
    pub device: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// Filesystem type (`nfs4`, `fuse.sshfs`, `ext4`).
    pub fs_type: String,
    /// Mount source (`server:/export`, `sshfs#host`).
    pub source: String,
}

impl Mount {
    /// Whether this is a FUSE filesystem.
    pub fn is_fuse(&self) -> bool {
        self.fs_type == "fuse" || self.fs_type == "fuseblk" || self.fs_type.starts_with("fuse.")
    }

    /// For a FUSE mount, its connection: the kernel's device number of the
    /// filesystem, `major << 20 | minor` (`/sys/fs/fuse/connections/N`,
    /// and `fuse_connection:` in the fdinfo of its server's `/dev/fuse`).
    /// Pure.
    pub fn fuse_connection(&self) -> Option<u64> {
        let (major, minor) = self.device.split_once(':')?;
        let (major, minor): (u64, u64) = (major.parse().ok()?, minor.parse().ok()?);
        Some((major << 20) | minor)
    }

    /// Whether this is a network filesystem whose server may not answer.
    pub fn is_network(&self) -> bool {
        matches!(
            self.fs_type.as_str(),
            "nfs" | "nfs4" | "cifs" | "smb3" | "smbfs" | "ceph" | "9p" | "afs" | "glusterfs" | "lustre"
        )
    }
}

/// `/proc/PID/task/TID/syscall`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyscallState {
    /// The thread is running in user space or on a CPU (`running`).
    Running,
    /// Blocked, but not in a system call (`-1 sp pc`): in a page fault, or
    /// stopped on its way back to user space.
    NotInSyscall,
    /// Blocked in system call `number` with these arguments.
    In {
        /// The system call number.
        number: i64,
        /// Its name, for the numbers afterlife knows on this architecture.
        name: Option<&'static str>,
        /// The six argument registers.
        args: [u64; 6],
    },
}

/// A cgroup v1 freezer membership (`/proc/PID/task/TID/cgroup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreezerV1 {
    /// The cgroup path inside the freezer hierarchy.
    pub cgroup: String,
    /// Its directory.
    pub dir: PathBuf,
    /// `freezer.state`: `THAWED`, `FREEZING` or `FROZEN`.
    pub state: String,
    /// `freezer.self_freezing`: frozen by its own `freezer.state`.
    pub self_freezing: Option<bool>,
    /// `freezer.parent_freezing`: frozen because an ancestor is.
    pub parent_freezing: Option<bool>,
}

impl FreezerV1 {
    /// Whether the freezer holds (or is taking) its tasks.
    pub fn is_frozen(&self) -> bool {
        self.state == "FROZEN" || self.state == "FREEZING"
    }
}

/// A cgroup v2 membership and its freezer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupV2 {
    /// The cgroup path (`/user.slice/app`).
    pub cgroup: String,
    /// Its directory.
    pub dir: PathBuf,
    /// `cgroup.freeze` of the cgroup and of every ancestor that has it,
    /// nearest first: (directory, value).
    pub freeze: Vec<(PathBuf, bool)>,
    /// `frozen` in `cgroup.events`: the whole subtree is frozen now.
    pub events_frozen: Option<bool>,
}

impl CgroupV2 {
    /// The nearest cgroup (itself or an ancestor) with `cgroup.freeze` = 1.
    pub fn freezing_dir(&self) -> Option<&PathBuf> {
        self.freeze.iter().find(|(_, on)| *on).map(|(dir, _)| dir)
    }

    /// Whether the freezer holds (or is taking) this cgroup.
    pub fn is_frozen(&self) -> bool {
        self.events_frozen == Some(true) || self.freezing_dir().is_some()
    }
}

/// One thread of the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadFacts {
    /// Its thread ID.
    pub tid: i32,
    /// Its name (`comm`).
    pub name: String,
    /// Its scheduler state.
    pub state: ProcessState,
    /// `wchan`: the kernel function it sleeps in.
    pub wchan: Readable<String>,
    /// `/proc/PID/task/TID/stack`: its kernel stack, one function per line.
    pub stack: Readable<Vec<String>>,
    /// `/proc/PID/task/TID/syscall`.
    pub syscall: Readable<SyscallState>,
    /// What the system call waits on, when it could be worked out.
    pub wait_target: Option<WaitTarget>,
    /// `SigBlk` of this thread.
    #[serde(skip)]
    pub blocked: u64,
    /// `SigPnd` of this thread.
    #[serde(skip)]
    pub pending: u64,
    /// `TracerPid` of this thread (0: none): a tracer attaches to one
    /// thread at a time, and may attach to others than the main one.
    pub tracer_pid: i32,
    /// On its way out: `PF_EXITING` (in `do_exit`) or `PF_SIGNALED` (a
    /// fatal signal taken, held at a tracer's exit stop perhaps).
    #[serde(skip)]
    pub exiting: bool,
    /// Its cgroup v1 freezer, if the hierarchy is mounted.
    pub freezer_v1: Option<FreezerV1>,
    /// `task->__state`, read by the BPF task iterator for a thread in D
    /// (`None`: not read): whether the sleep is killable
    /// ([`crate::bpf::thread_states`]).
    #[serde(skip)]
    pub kernel_state: Option<u32>,
}

impl ThreadFacts {
    /// Whether its sleep in D is killable, as `__state` says (`None`: not
    /// read).
    pub fn killable(&self) -> Option<bool> {
        self.kernel_state.map(crate::bpf::thread_states::is_killable)
    }

    /// Whether the thread waits in D inside clone, clone3 or vfork: how a
    /// vfork parent waits for its child.
    pub fn waits_in_process_creation(&self) -> bool {
        self.state == ProcessState::DiskSleep
            && matches!(&self.syscall, Readable::Value(SyscallState::In { number, .. })
                if crate::resist::parse::is_process_creation(*number))
    }
}

/// What we may do to the process (kill(2) permission rules, credentials(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permission {
    /// Our real user ID.
    pub our_ruid: u32,
    /// Our effective user ID.
    pub our_euid: u32,
    /// Whether we hold `CAP_KILL` in our effective set.
    pub cap_kill: bool,
    /// The target's real user ID.
    pub target_ruid: u32,
    /// The target's saved set-user-ID.
    pub target_suid: u32,
    /// The kernel's own answer, from the null signal through the pidfd
    /// (`None`: not asked, or no answer): it alone knows where `CAP_KILL`
    /// reaches — held in a user namespace, it reaches only the processes
    /// of that namespace, whose IDs /proc shows mapped.
    pub kernel_allows: Option<bool>,
}

impl Permission {
    /// kill(2): "the real or effective user ID of the sending process must
    /// equal the real or saved set-user-ID of the target", or `CAP_KILL`
    /// where it reaches the target; the kernel's answer where it gave one.
    pub fn may_signal(&self) -> bool {
        self.kernel_allows.unwrap_or_else(|| {
            self.cap_kill
                || [self.our_ruid, self.our_euid]
                    .iter()
                    .any(|&ours| ours == self.target_ruid || ours == self.target_suid)
        })
    }
}

/// The parent of a zombie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentFacts {
    /// The parent.
    pub peer: Peer,
    /// What it does with SIGCHLD.
    pub sigchld: Disposition,
    /// Whether it is a kernel-made subreaper candidate: PID 1 of its namespace.
    pub is_namespace_init: bool,
}

/// Everything a diagnosis is decided from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The PID.
    pub pid: Pid,
    /// The name (`comm`).
    pub name: String,
    /// The command line.
    pub command_line: Vec<String>,
    /// The state of the main thread (`/proc/PID/stat` field 3).
    pub state: ProcessState,
    /// `/proc/PID/stat` field 9, the `PF_*` flags.
    pub flags: u32,
    /// `CoreDumping` of `/proc/PID/status`.
    pub core_dumping: bool,
    /// The parent's PID.
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// The controlling terminal.
    pub tty: Option<String>,
    /// The terminal's foreground process group (`tpgid`, -1 without terminal).
    pub tpgid: i32,
    /// `NSpid`: its PID in each PID namespace, outermost (ours) first.
    pub ns_pids: Vec<i32>,
    /// The process-wide signal masks.
    pub masks: Masks,
    /// Every thread, the main thread first.
    pub threads: Vec<ThreadFacts>,
    /// The tracer, from `TracerPid`.
    pub tracer: Option<Peer>,
    /// `TracerPid` itself (the tracer may have vanished meanwhile).
    pub tracer_pid: i32,
    /// The parent (read for zombies and stopped processes).
    pub parent: Option<ParentFacts>,
    /// The session leader (read for stopped processes).
    pub session_leader: Option<Peer>,
    /// How long ago a zombie last ran, i.e. exited (`se.exec_start` of
    /// `/proc/PID/sched` against afterlife's own, on the same scheduler
    /// clock); `None` when it cannot be told.
    pub zombie_for: Option<Duration>,
    /// Its cgroup v2 and freezer, if cgroup v2 is mounted.
    pub cgroup_v2: Option<CgroupV2>,
    /// For a process waiting in `vfork`/`clone(CLONE_VFORK)`: the child that
    /// shares its memory (`kcmp(KCMP_VM)`), which must exec or exit first.
    pub vfork_child: Option<(Peer, Readable<String>)>,
    /// Whether we may signal it.
    pub permission: Permission,
}

/// The `PF_*` flags of `/proc/PID/stat` the findings read, as the /proc
/// layer names them.
pub use crate::proc::stat::{PF_EXITING, PF_KTHREAD, PF_SIGNALED};

impl Facts {
    /// Whether this is a kernel thread.
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    /// Whether the process is in `do_exit`.
    pub fn is_exiting(&self) -> bool {
        self.flags & PF_EXITING != 0 || self.state == ProcessState::Dead
    }

    /// Signals blocked by every thread: a process-directed signal waits only
    /// if no thread can take it.
    pub fn blocked_everywhere(&self) -> u64 {
        let live: Vec<&ThreadFacts> = self.threads.iter().filter(|t| t.state.is_alive()).collect();
        if live.is_empty() {
            return self.threads.first().map_or(0, |t| t.blocked);
        }
        live.iter().fold(u64::MAX, |mask, t| mask & t.blocked)
    }

    /// Whether `kill()` of `signal` is dropped on sending: it is ignored
    /// (SIG_IGN), the main thread (whose mask the kernel checks for a
    /// process-directed signal, even after that thread has exited) does not
    /// block it, and no tracer wants to see it (`sig_ignored`,
    /// kernel/signal.c). Other threads blocking it change nothing then.
    pub fn discards(&self, signal: crate::signal::Signal) -> bool {
        let bit = 1u64 << (signal.number() - 1);
        let main = self.threads.iter().find(|t| t.tid == self.pid.get());
        self.disposition(signal) == Disposition::Ignored
            && main.is_none_or(|t| t.blocked & bit == 0)
            && self.tracer_pid == 0
    }

    /// Whether its tracer holds it stopped on its way out
    /// (`PTRACE_EVENT_EXIT`, before `PF_EXITING` is set): in a tracing stop
    /// after taking a fatal signal (`PF_SIGNALED`), or with `do_exit` on
    /// its kernel stack. It is dying already: SIGKILL does nothing more,
    /// and it ends once the tracer lets it go.
    pub fn stopped_at_exit(&self) -> bool {
        let in_do_exit = self.threads.first().is_some_and(|t| {
            t.stack
                .value()
                .is_some_and(|frames| frames.iter().any(|f| f.starts_with("do_exit")))
        });
        self.state == ProcessState::TracingStop && (self.flags & PF_SIGNALED != 0 || in_do_exit)
    }

    /// Whether the main thread ended on its own (`pthread_exit` in `main`)
    /// while other threads run on: the process lives. When the whole
    /// process exits, each other thread is sent SIGKILL
    /// (`zap_other_threads`) or is exiting already.
    pub fn main_thread_ended_alone(&self) -> bool {
        const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
        self.main_thread_ended()
            && self
                .live_other_threads()
                .any(|t| !t.exiting && t.pending & SIGKILL_BIT == 0)
    }

    /// A thread other than the main one that has a tracer of its own while
    /// the main thread has none (a debugger attached to that thread alone).
    pub fn traced_thread(&self) -> Option<&ThreadFacts> {
        if self.tracer_pid > 0 {
            return None;
        }
        self.live_other_threads().find(|t| t.tracer_pid > 0)
    }

    /// Whether the main thread has ended (its `stat` reads Z or X), alone
    /// or with the whole process.
    pub fn main_thread_ended(&self) -> bool {
        self.threads
            .iter()
            .find(|t| t.tid == self.pid.get())
            .is_some_and(|t| !t.state.is_alive())
    }

    /// Threads other than the main one that are still alive.
    pub fn live_other_threads(&self) -> impl Iterator<Item = &ThreadFacts> {
        self.threads
            .iter()
            .filter(move |t| t.tid != self.pid.get() && t.state.is_alive())
    }

    /// What the process does with `signal`.
    pub fn disposition(&self, signal: crate::signal::Signal) -> Disposition {
        let bit = 1u64 << (signal.number() - 1);
        if self.masks.caught & bit != 0 {
            Disposition::Caught
        } else if self.masks.ignored & bit != 0 {
            Disposition::Ignored
        } else {
            Disposition::Default
        }
    }

    /// Whether it is PID 1 of a PID namespace.
    pub fn is_namespace_init(&self) -> bool {
        self.ns_pids.last() == Some(&1)
    }
}
