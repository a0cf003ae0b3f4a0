//! What /proc says about one process (proc_pid_stat(5), proc_pid_status(5)),
//! read through [`crate::proc`] (procfs's parsers).
//!
//! Each read opens `/proc/PID` once and reads its files relative to that
//! directory, so all facts come from the same process even if the PID is
//! reused meanwhile; [`crate::process::Process::info`] then checks the start
//! time against its pidfd's process.

use std::path::PathBuf;

use serde::Serialize;

use crate::proc;
use crate::proc::stat::{PF_EXITING, PF_KTHREAD};
use crate::process::error::ReadError;
use crate::process::{Pid, ProcessState};
use crate::signal::{Signal, signals_in_mask};

/// The facts about one process.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessInfo {
    /// The PID.
    pub pid: Pid,
    /// The name (`comm`, at most 15 bytes, set by the process itself).
    pub name: String,
    /// The scheduler state.
    pub state: ProcessState,
    /// The parent's PID (0 for PID 1 and kernel threads' parent).
    pub ppid: i32,
    /// The process group ID.
    pub pgid: i32,
    /// The session ID.
    pub sid: i32,
    /// The controlling terminal, if any (`/dev/pts/3`).
    pub tty: Option<String>,
    /// Number of threads.
    pub threads: i64,
    /// Start time in clock ticks after boot: with the PID, this names the
    /// process for good.
    pub start_ticks: u64,
    /// Start time as seconds since the Unix epoch.
    pub started_at: Option<f64>,
    /// Real user ID.
    pub uid: u32,
    /// Effective user ID.
    pub euid: u32,
    /// The user name of `uid`, from /etc/passwd.
    pub user: Option<String>,
    /// The command line (empty for zombies and kernel threads).
    #[serde(rename = "command_line")]
    pub cmdline: Vec<String>,
    /// The executable's path, if readable.
    #[serde(serialize_with = "crate::text::lossy_optional_path")]
    pub exe: Option<PathBuf>,
    /// Cgroup membership lines (`0::/user.slice/...`).
    pub cgroups: Vec<String>,
    /// Signal masks.
    pub signals: SignalMasks,
    /// PID of the process tracing it (a debugger), if any: its main
    /// thread's tracer (`status` also looks at its other threads, see
    /// [`ProcessInfo::with_a_threads_tracer`]).
    pub tracer_pid: Option<i32>,
    /// The kernel function it sleeps in (`wchan`), if readable and sleeping.
    pub wchan: Option<String>,
    /// Whether this is a kernel thread.
    pub kernel_thread: bool,
    /// Whether it is exiting (`PF_EXITING`): of the main thread, or where
    /// the main thread has ended, of the thread `state` is read from (a
    /// process whose threads are all in `do_exit` is ending, even with
    /// its main thread a zombie already).
    pub exiting: bool,
    /// Whether it is writing a core dump (`CoreDumping` in status).
    pub core_dumping: bool,
    /// Its main thread has ended while other threads run (`pthread_exit`
    /// in `main`): /proc shows the main thread a zombie, but the process
    /// lives; `state` and `wchan` are then those of a thread still running,
    /// and its files are read through that thread. Not for a process that
    /// is ending, whose last threads are in `do_exit` (`exiting`).
    pub main_thread_exited: bool,
    /// Its PID in its own PID namespace (`NSpid`'s last field; the PID as
    /// seen here without it, before Linux 4.1): 1 for the init of a PID
    /// namespace, whichever namespace it is seen from.
    #[serde(skip)]
    pub pid_in_own_namespace: i32,
    /// It still runs its parent's program: forked, with no `execve` since
    /// (`PF_FORKNOEXEC`), as read with its name.
    #[serde(skip)]
    pub yet_to_exec: bool,
}

/// The signal masks of `/proc/PID/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SignalMasks {
    /// Pending for the thread that was read (`SigPnd`).
    pub pending_thread: Vec<Signal>,
    /// Pending for the whole process (`ShdPnd`).
    pub pending_process: Vec<Signal>,
    /// Blocked (`SigBlk`).
    pub blocked: Vec<Signal>,
    /// Ignored (`SigIgn`).
    pub ignored: Vec<Signal>,
    /// Caught by a handler (`SigCgt`).
    pub caught: Vec<Signal>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Ids {
    pub uids: [u32; 3],
    pub gids: [u32; 3],
}

impl ProcessInfo {
    /// With no tracer of its main thread, the tracer of another of its
    /// threads, if one is traced (`strace -p TID` traces one thread
    /// alone): a read of every thread's `status`, so only for `status`.
    pub fn with_a_threads_tracer(mut self) -> ProcessInfo {
        if self.tracer_pid.is_none() && self.threads > 1 {
            self.tracer_pid = proc::Process::new(self.pid.get()).ok().and_then(|dir| {
                dir.tasks()
                    .ok()?
                    .flatten()
                    .filter(|task| task.tid != self.pid.get())
                    .find_map(|task| task.status().ok().map(|s| s.tracerpid).filter(|&t| t > 0))
            });
        }
        self
    }

    /// Whether it is the init of its PID namespace (PID 1 there): the
    /// kernel drops every signal it has no handler for, but for `SIGKILL`
    /// and `SIGSTOP` from an ancestor namespace (pid_namespaces(7)).
    pub fn is_namespace_init(&self) -> bool {
        self.pid_in_own_namespace == 1
    }

    /// Reads the facts of the process that has `pid` now, all of one
    /// program: `stat` is read again after the other files, and where the
    /// process called `execve` meanwhile (its name, command line and
    /// executable are then of two programs, or its command line empty
    /// while the new one was set up), everything is read again.
    pub fn read(pid: Pid) -> Result<ProcessInfo, ReadError> {
        /// Whole reads before the last one is taken: its name, command
        /// line and executable are of one program in any case (see
        /// [`read_identity`]), the slower facts perhaps of the next.
        const READS: usize = 4;
        // Read twice where need be: a thread's execve hides the process
        // for an instant. A third read on failure tells which file failed.
        let (dir, mut stat) = match proc::open_with_stat(pid.get(), 2) {
            Ok(found) => found,
            Err(_) => {
                let dir = proc::Process::new(pid.get()).map_err(|e| ReadError::from_proc(pid, "", e))?;
                let stat = proc::stat::of(&dir).map_err(|e| ReadError::from_proc(pid, "stat", e))?;
                (dir, stat)
            }
        };
        for _ in 1..READS {
            let identity = read_identity(&dir, &mut stat);
            let info = ProcessInfo::read_with(&dir, pid, &stat, identity)?;
            match proc::stat::of(&dir) {
                Ok(after) if !proc::stat::same_program(&stat, &after) => stat = after,
                // The same program throughout, or gone since: what was read
                // was read of one program.
                _ => return Ok(info),
            }
        }
        let identity = read_identity(&dir, &mut stat);
        ProcessInfo::read_with(&dir, pid, &stat, identity)
    }

    /// Reads the facts of the process in `dir`, whose `stat` was `stat`
    /// and whose command line and executable are `identity`.
    fn read_with(
        dir: &proc::Process,
        pid: Pid,
        stat: &proc::stat::Stat,
        identity: (Vec<String>, Option<PathBuf>),
    ) -> Result<ProcessInfo, ReadError> {
        let status = proc::status::of(dir).map_err(|e| ReadError::from_proc(pid, "status", e))?;
        let mut state = ProcessState::from_letter(stat.state);
        // The files below may be refused (another user's process) or empty
        // (zombies, kernel threads): they are optional facts.
        let (mut cmdline, mut exe) = identity;
        let cgroups = dir
            .cgroups()
            .map(|groups| {
                groups
                    .0
                    .iter()
                    .map(|g| format!("{}:{}:{}", g.hierarchy, g.controllers.join(","), g.pathname))
                    .collect()
            })
            .unwrap_or_default();
        let mut wchan = dir.wchan().ok().filter(|w| !w.is_empty() && w != "0");
        let mut exiting = stat.flags & PF_EXITING != 0;
        let live_thread = main_thread_ended(stat).then(|| live_thread(dir, pid)).flatten();
        if let Some(thread) = &live_thread {
            state = thread.state;
            wchan = thread.wchan.clone();
            exiting = thread.exiting;
            // The thread's directory holds the same files procfs reads.
            let dir = proc::Process::new_with_root(format!("/proc/{pid}/task/{}", thread.tid).into());
            cmdline = dir
                .as_ref()
                .map_or(Vec::new(), |t| proc::cmdline::of(t).unwrap_or_default());
            exe = dir.ok().and_then(|t| t.exe().ok());
        }
        let start_ticks = stat.starttime;
        let started_at = Some(proc::started_at(start_ticks));
        Ok(ProcessInfo {
            pid,
            name: stat.comm.clone(),
            state,
            ppid: stat.ppid,
            pgid: stat.pgrp,
            sid: stat.session,
            tty: tty_name(stat.tty_nr),
            threads: stat.num_threads,
            start_ticks,
            started_at,
            uid: status.ruid,
            euid: status.euid,
            user: user_name(status.ruid),
            cmdline,
            exe,
            cgroups,
            signals: SignalMasks {
                pending_thread: signals_in_mask(status.sigpnd),
                pending_process: signals_in_mask(status.shdpnd),
                blocked: signals_in_mask(status.sigblk),
                ignored: signals_in_mask(status.sigign),
                caught: signals_in_mask(status.sigcgt),
            },
            tracer_pid: (status.tracerpid > 0).then_some(status.tracerpid),
            wchan,
            kernel_thread: stat.flags & PF_KTHREAD != 0,
            exiting,
            core_dumping: status.core_dumping.unwrap_or(false),
            main_thread_exited: live_thread.is_some_and(|t| !t.exiting),
            pid_in_own_namespace: status
                .nspid
                .as_ref()
                .and_then(|nspid| nspid.last().copied())
                .unwrap_or(pid.get()),
            yet_to_exec: stat.flags & proc::stat::PF_FORKNOEXEC != 0,
        })
    }
}

/// The command line and executable of the process in `dir`, of the
/// program `stat` names ([`read_as_one_program`]). Three small files at a
/// time, so that even a process that does nothing but exec is read between
/// two of its execs.
fn read_identity(dir: &proc::Process, stat: &mut proc::stat::Stat) -> (Vec<String>, Option<PathBuf>) {
    read_as_one_program(
        dir,
        stat,
        |_| (proc::cmdline::of(dir).unwrap_or_default(), dir.exe().ok()),
        |(cmdline, _)| cmdline,
    )
}

/// What `read` gives of the process in `dir`, of the program `stat` names:
/// read between two reads of `stat`, and again (with `stat` brought up to
/// date) while an exec came between them or the process looks caught
/// inside one (`read_amid_exec`, on the command line `command_line`
/// finds in what was read). After 64 reads the last is taken.
pub fn read_as_one_program<T>(
    dir: &proc::Process,
    stat: &mut proc::stat::Stat,
    mut read: impl FnMut(&proc::stat::Stat) -> T,
    command_line: impl Fn(&T) -> &[String],
) -> T {
    /// Reads before a mix is taken (see [`pause_before_reread`]).
    const READS: usize = 64;
    let mut attempt = 1;
    loop {
        let value = read(stat);
        match proc::stat::of(dir) {
            Ok(after) if attempt < READS && read_amid_exec(stat, &after, command_line(&value)) => *stat = after,
            _ => return value,
        }
        attempt += 1;
        pause_before_reread(attempt);
    }
}

/// Before read number `attempt` (from 1) of a process caught in an exec:
/// the first few follow at once; later ones wait a millisecond, for the
/// exec'ing process, descheduled on a busy machine in the middle of its
/// exec, to get to its end (64 reads then span some 60 ms at most).
fn pause_before_reread(attempt: usize) {
    if attempt > 4 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Whether a command line read between two reads of `stat` (`before` and
/// `after`) may be of another program than the name: an `execve` came
/// between them, or the process looks caught inside one — a live process
/// of user space, not exiting, with no command line: the new program's
/// memory has no arguments until the kernel has copied them in (its name
/// may have changed already, and its code and stack start be unset in
/// both reads). A process that cleared its own command line reads so too,
/// and is merely read again a few times. Pure.
fn read_amid_exec(before: &proc::stat::Stat, after: &proc::stat::Stat, cmdline: &[String]) -> bool {
    let user_space = after.flags & PF_KTHREAD == 0;
    let alive = ProcessState::from_letter(after.state).is_alive();
    !proc::stat::same_program(before, after)
        || (cmdline.is_empty() && user_space && alive && !proc::stat::on_its_way_out(after.flags))
}

/// Whether the main thread has ended while other threads run
/// (`pthread_exit` in `main`): /proc shows it a zombie, with the other
/// threads counted. Pure.
pub fn main_thread_ended(stat: &proc::stat::Stat) -> bool {
    stat.state == 'Z' && stat.num_threads > 1
}

/// For a process whose main thread has ended while others run, a thread
/// that runs; `None` for any other process.
pub fn live_thread_of(pid: Pid) -> Option<i32> {
    let dir = proc::Process::new(pid.get()).ok()?;
    let stat = proc::stat::of(&dir).ok()?;
    main_thread_ended(&stat)
        .then(|| live_thread(&dir, pid))
        .flatten()
        .map(|thread| thread.tid)
}

/// Whether the process in `dir` is ending on its own: SIGKILL queued to
/// it, or in `do_exit` (`PF_EXITING`) — where its main thread has ended,
/// every thread left with it. Such a process is gone in a moment, with no
/// one's help; the last thread out may take a while releasing a large
/// memory. The main thread of a `pthread_exit` in `main` reads as exiting
/// a moment before it reads Z, with the process running on: a caller
/// that acts on this waits for the end, and does not assume it.
pub fn ending(dir: &proc::Process, pid: Pid) -> bool {
    let Ok(stat) = proc::stat::of(dir) else {
        // Gone since: ended.
        return true;
    };
    if main_thread_ended(&stat) {
        return live_thread(dir, pid).is_none_or(|thread| thread.exiting);
    }
    stat.flags & PF_EXITING != 0 || proc::status::of(dir).is_ok_and(|status| proc::status::sigkill_pending(&status))
}

/// Where the files of `pid` are read: `/proc/PID`, or for a process whose
/// main thread has ended while others run, `/proc/PID/task/TID` of a thread
/// that runs (the main thread's fd table, memory and working directory went
/// with it).
pub fn files_dir(pid: Pid) -> String {
    match live_thread_of(pid) {
        Some(tid) => format!("/proc/{pid}/task/{tid}"),
        None => format!("/proc/{pid}"),
    }
}

/// A thread other than the main one that has not ended (state neither Z
/// nor X), as [`live_thread`] finds it.
struct LiveThread {
    tid: i32,
    state: ProcessState,
    wchan: Option<String>,
    /// On its way out itself (`PF_EXITING`, or `PF_SIGNALED` where a
    /// tracer holds it at its exit): the process is ending (its last
    /// thread releasing the memory), not running on without its main
    /// thread.
    exiting: bool,
}

/// A thread of `pid` other than its main thread that has not ended: one
/// that is not exiting if there is one (a thread that calls `exit` takes
/// the others with it, and the last one out may take a while, freeing the
/// memory, with the main thread already a zombie).
fn live_thread(dir: &proc::Process, pid: Pid) -> Option<LiveThread> {
    let mut exiting = None;
    for task in dir.tasks().ok()?.flatten().filter(|task| task.tid != pid.get()) {
        let Ok(stat) = task.stat() else {
            // Ended while the tasks were listed.
            continue;
        };
        let state = ProcessState::from_letter(stat.state);
        if !state.is_alive() {
            continue;
        }
        let wchan = std::fs::read_to_string(format!("/proc/{}/task/{}/wchan", pid, task.tid))
            .ok()
            .filter(|w| !w.is_empty() && w != "0");
        let thread = LiveThread {
            tid: task.tid,
            state,
            wchan,
            // A thread an `exit_group` has sent SIGKILL to, not yet in
            // `do_exit`, is on its way out too; not one asleep in D, which
            // takes the SIGKILL only once its kernel call returns, if ever.
            exiting: proc::stat::on_its_way_out(stat.flags)
                || (state != ProcessState::DiskSleep
                    && proc::status::read_raw(task.tid).is_ok_and(|status| proc::status::sigkill_pending(&status))),
        };
        if !thread.exiting {
            return Some(thread);
        }
        exiting.get_or_insert(thread);
    }
    exiting
}

/// What telling how a process ended needs of /proc, and no more: its
/// parent, state and start time and, for a zombie, field 52 of
/// `/proc/PID/stat`, plus (unless afterlife runs as root) the ids of
/// `status`. `kill` asks this of every process of a tree it ended: a full
/// [`ProcessInfo`] (command line, cgroups, executable, wchan, the user's
/// name) for each of 1,000 zombies was most of the time between the last
/// death and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitFacts {
    /// The parent.
    pub ppid: i32,
    /// The state.
    pub state: ProcessState,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
    /// A zombie's raw wait status, from `/proc/PID/stat`.
    pub zombie_wait_status: Option<i32>,
    /// Whether that status is the real one: the kernel shows it only to
    /// root or to a process whose ids match (see `ids_allow_exit_code`).
    pub exit_code_readable: bool,
}

impl ExitFacts {
    /// Reads them for `pid`.
    pub fn read(pid: Pid) -> Result<ExitFacts, ReadError> {
        if reads_every_exit_code() {
            // Root reads every exit code: `stat` alone, one open (a
            // report reads this for each of a thousand killed processes).
            let stat = proc::stat::read(pid).map_err(|e| ReadError::from_proc(pid, "stat", e))?;
            return Ok(ExitFacts::from_stat(&stat, true));
        }
        let dir = proc::Process::new(pid.get()).map_err(|e| ReadError::from_proc(pid, "", e))?;
        let stat = proc::stat::of(&dir).map_err(|e| ReadError::from_proc(pid, "stat", e))?;
        let exit_code_readable = {
            let status = proc::status::of(&dir).map_err(|e| ReadError::from_proc(pid, "status", e))?;
            ids_allow_exit_code(&Ids {
                uids: [status.ruid, status.euid, status.suid],
                gids: [status.rgid, status.egid, status.sgid],
            })
        };
        Ok(ExitFacts::from_stat(&stat, exit_code_readable))
    }

    fn from_stat(stat: &proc::stat::Stat, exit_code_readable: bool) -> ExitFacts {
        let state = ProcessState::from_letter(stat.state);
        ExitFacts {
            ppid: stat.ppid,
            state,
            start_ticks: stat.starttime,
            zombie_wait_status: (state == ProcessState::Zombie).then_some(stat.exit_code).flatten(),
            exit_code_readable,
        }
    }
}

/// Whether we may read a zombie's exit code from `/proc/PID/stat`: the
/// kernel shows the real value only with `PTRACE_MODE_READ` access and a
/// 0 otherwise, which must not be taken for an exit code. A zombie has no
/// memory map, so the check is capabilities or matching IDs
/// (`__ptrace_may_access`).
fn ids_allow_exit_code(ids: &Ids) -> bool {
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    reads_every_exit_code() || ids_match(ids, euid, egid)
}

/// Whether a process with effective IDs `euid` and `egid` passes the ID
/// test of `__ptrace_may_access` on a process with `ids`. Pure.
fn ids_match(ids: &Ids, euid: u32, egid: u32) -> bool {
    ids.uids.iter().all(|&u| u == euid) && ids.gids.iter().all(|&g| g == egid)
}

/// The overflow user ID (`/proc/sys/kernel/overflowuid`) when
/// afterlife's user namespace does not map it (`/proc/self/uid_map`), so
/// that the kernel shows it for every user outside the namespace; read
/// once.
pub fn unmapped_overflow_uid() -> Option<u32> {
    static ANSWER: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| {
        let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let map = std::fs::read_to_string("/proc/self/uid_map").ok()?;
        (!maps_id(&map, overflow)).then_some(overflow)
    })
}

/// Whether the `uid_map` text (`INSIDE OUTSIDE COUNT` per line) maps user
/// ID `id` of the namespace. Pure.
fn maps_id(map: &str, id: u32) -> bool {
    map.lines().any(|line| {
        let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().ok());
        match (
            fields.next().flatten(),
            fields.next().flatten(),
            fields.next().flatten(),
        ) {
            (Some(inside), Some(_), Some(count)) => (inside..inside + count).contains(&u64::from(id)),
            _ => false,
        }
    })
}

/// `CAP_SYS_PTRACE`, capability bit 19 (capabilities(7)).
const CAP_SYS_PTRACE: u32 = 19;

/// Whether afterlife may read every zombie's exit code: `CAP_SYS_PTRACE`
/// in the initial user namespace, which reaches every process. Root
/// without it (a container's root, whose capabilities were bounded; the
/// root of a user namespace, whose capabilities reach that namespace
/// alone) reads only its own users' codes, and a 0 for the others.
fn reads_every_exit_code() -> bool {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| crate::process::capable_everywhere(CAP_SYS_PTRACE))
}

/// The device name of a `tty_nr` (major 136-143: `/dev/pts/N`; 4: `/dev/ttyN`
/// and `/dev/ttySN`), see Documentation/admin-guide/devices.txt.
pub fn tty_name(tty_nr: i32) -> Option<String> {
    if tty_nr == 0 {
        return None;
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    Some(match major {
        136..=143 => format!("/dev/pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("/dev/tty{minor}"),
        4 => format!("/dev/ttyS{}", minor - 64),
        5 if minor == 0 => "/dev/tty".to_string(),
        5 if minor == 1 => "/dev/console".to_string(),
        _ => format!("tty({major}:{minor})"),
    })
}

/// The name of a user ID from /etc/passwd. None for the overflow ID
/// where it stands for a user not mapped into afterlife's user namespace:
/// the kernel shows every such ID as it (65534 by default), so it names no
/// one (not `nobody`: root outside a user namespace reads so inside it).
pub fn user_name(uid: u32) -> Option<String> {
    if Some(uid) == unmapped_overflow_uid() {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overflow_id_is_unmapped_only_where_the_map_leaves_it_out() {
        // The initial user namespace maps every ID.
        assert!(maps_id("         0          0 4294967295\n", 65534));
        // `unshare -Ur` as nobody: only 0 is mapped.
        assert!(!maps_id("         0      65534          1\n", 65534));
        assert!(maps_id("0 65534 1\n1 100000 65536\n", 65534));
        assert!(!maps_id("", 65534));
    }

    #[test]
    fn ids_pass_only_when_every_id_matches() {
        let ids = Ids {
            uids: [1000, 1000, 1000],
            gids: [100, 100, 100],
        };
        assert!(ids_match(&ids, 1000, 100));
        // Root's IDs are no privilege: capabilities are (and only in the
        // initial user namespace).
        assert!(!ids_match(&ids, 0, 0));
        let setuid = Ids {
            uids: [1000, 0, 0],
            gids: [100, 100, 100],
        };
        assert!(!ids_match(&setuid, 1000, 100));
    }

    #[test]
    fn tty_names() {
        assert_eq!(tty_name(0), None);
        assert_eq!(tty_name(136 << 8 | 3), Some("/dev/pts/3".to_string()));
        assert_eq!(tty_name(4 << 8 | 1), Some("/dev/tty1".to_string()));
        assert_eq!(tty_name(4 << 8 | 64), Some("/dev/ttyS0".to_string()));
    }

    #[test]
    fn reads_this_process() {
        let info = ProcessInfo::read(Pid::current()).unwrap();
        assert_eq!(info.pid, Pid::current());
        assert_eq!(
            info.ppid,
            rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get())
        );
        assert!(info.state.is_alive());
        assert!(!info.kernel_thread);
        assert!(info.threads >= 1);
        assert_eq!(info.user, user_name(info.uid));
    }
}
