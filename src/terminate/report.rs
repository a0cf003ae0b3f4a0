//! The typed report of a termination: per process, what it was sent and how
//! it ended, or why it is still alive.
//!
//! Why a process survives is read from its /proc facts
//! ([`crate::process::ProcessInfo`]) by [`survivor_reason`], a pure function:
//! a stopped process (`T`) waits for `SIGCONT`, a traced one (`t`, or
//! `TracerPid` set) for its debugger, one in uninterruptible sleep (`D`) for
//! the kernel call named by its `wchan`, and a PID namespace's init ignores
//! every signal it has no handler for.
//!
//! A zombie is no survivor: it has already ended, and what is left is its
//! exit status, kept until someone collects it. [`zombie_reaper`] says who:
//! its tracer while one is attached (a traced process that exits is
//! reported to its tracer first, and its parent hears of it only once the
//! tracer has waited for it or detached; `exit_notify` and `__ptrace_unlink`
//! in the kernel), else its parent.

use std::time::Duration;

use serde::Serialize;

use crate::observe::EndingReport;
use crate::process::{Pid, ProcessInfo, ProcessState};
use crate::signal::Signal;
use crate::terminate::plan::{Finish, TerminationPlan};
use crate::terminate::select::{Refusal, Scope};

/// How the processes were held while being signalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Containment {
    /// The selection was exactly one cgroup v2 subtree: it was frozen with
    /// `cgroup.freeze` and ended with `cgroup.kill`.
    Cgroup {
        /// The cgroup, relative to the cgroup v2 mount (`/jobs/build`).
        path: String,
        /// Its own `cgroup.freeze` was set before afterlife came (`docker
        /// pause`): signalled while frozen and left frozen, not thawed.
        left_frozen: bool,
    },
    /// Every member was stopped with `SIGSTOP` through its pidfd and the
    /// selection walked again until nothing new appeared.
    Freeze {
        /// How many members were stopped.
        stopped: usize,
        /// How many walks of the selection it took, before the first
        /// signal, until no new member appeared (0 for named PIDs alone,
        /// which are not walked).
        walks: usize,
    },
    /// Signals were sent as they are (stop or continue signals, a dry run,
    /// or nothing to stop: every target had already exited or could not be
    /// signalled).
    None,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// It exited after the first signal, within the grace period.
    Signal,
    /// It was still there after the grace period and needed `SIGKILL`.
    Kill,
    /// It had already exited before afterlife signalled it (a zombie, or it
    /// ended between the scan and the signal).
    BeforeSignal,
    /// It was killed, after afterlife's first signal, by a signal afterlife
    /// did not send (its exit status names it): sent by another process,
    /// raised by the process itself (a handler of afterlife's SIGTERM that
    /// calls `abort()`), or by the kernel (SIGHUP to an orphaned process
    /// group, SIGPIPE).
    OtherSignal,
}

/// Who holds a zombie, i.e. must collect its exit status before it is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaperRole {
    /// Its parent, with `wait()`.
    Parent,
    /// The process tracing it (`TracerPid`: a debugger, `strace`, a crash
    /// handler), with `wait()`; its parent is told only after that.
    Tracer,
}

/// The process a zombie waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaper {
    /// Parent or tracer.
    pub role: ReaperRole,
    /// Its PID.
    pub pid: i32,
    /// Its name, if it could be read.
    pub name: Option<String>,
}

impl Reaper {
    /// Plain words: `its parent 812 (python3) reaps it`.
    pub fn describe(&self) -> String {
        let name = self.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        match self.role {
            ReaperRole::Parent => format!("its parent {}{name} reaps it", self.pid),
            ReaperRole::Tracer => format!("its tracer {}{name} waits for it (detach or end the tracer)", self.pid),
        }
    }
}

/// Who holds the zombie `info`: its tracer while one is attached, else its
/// parent. Pure; the names are looked up by the caller.
pub fn zombie_reaper(info: &ProcessInfo, name_of: impl Fn(i32) -> Option<String>) -> Reaper {
    match info.tracer_pid {
        Some(tracer) => Reaper {
            role: ReaperRole::Tracer,
            pid: tracer,
            name: name_of(tracer),
        },
        None => Reaper {
            role: ReaperRole::Parent,
            pid: info.ppid,
            name: name_of(info.ppid),
        },
    }
}

/// Why a process is still alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SurvivorReason {
    /// afterlife refused to signal it.
    Refused {
        /// Which rule.
        refusal: Refusal,
    },
    /// `EPERM`: afterlife may not signal it (another user's process).
    PermissionDenied,
    /// It could not be opened (no file descriptor left, ...), so it was
    /// not signalled: afterlife signals only what it has pinned down.
    OpenFailed {
        /// What failed.
        error: String,
    },
    /// A tracer (debugger) holds it.
    Traced {
        /// The tracer's PID.
        tracer_pid: i32,
        /// The tracer's name.
        tracer_name: Option<String>,
    },
    /// In uninterruptible sleep: signals, even `SIGKILL`, take effect when
    /// the kernel call it waits in returns.
    UninterruptibleSleep {
        /// The kernel function it waits in.
        wchan: Option<String>,
    },
    /// The cgroup v1 freezer holds it: every signal, even `SIGKILL`, takes
    /// effect only once its cgroup is thawed.
    Frozen,
    /// Stopped: only `SIGKILL` or `SIGCONT` move it.
    Stopped,
    /// It is exiting (or writing a core dump) and has not finished.
    Exiting,
    /// The init of a PID namespace: the kernel drops every signal it has no
    /// handler for, when sent from inside its namespace.
    NamespaceInit,
    /// A kernel thread.
    KernelThread,
    /// It ignores the signal (`SigIgn`) and no `SIGKILL` was sent.
    Ignores {
        /// The signal.
        signal: Signal,
    },
    /// It blocks the signal (`SigBlk`): it stays pending.
    Blocks {
        /// The signal.
        signal: Signal,
    },
    /// It has a handler for the signal and has not exited yet.
    Handles {
        /// The signal.
        signal: Signal,
    },
    /// `--no-wait`: it was signalled and not waited for.
    NotWaited,
    /// `SIGKILL` was sent and it has not gone yet.
    KillPending,
    /// Nothing in its state explains it.
    StillRunning,
}

impl SurvivorReason {
    /// Plain words.
    pub fn describe(&self) -> String {
        match self {
            SurvivorReason::Refused { refusal } => refusal.describe().to_string(),
            SurvivorReason::PermissionDenied => {
                "permission denied (EPERM): it belongs to another user and afterlife may not signal it".to_string()
            }
            SurvivorReason::OpenFailed { error } => {
                format!("not signalled: it could not be opened to pin it down ({error})")
            }
            SurvivorReason::Traced {
                tracer_pid,
                tracer_name,
            } => format!(
                "traced by {tracer_pid}{}: it runs only when its debugger lets it",
                tracer_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
            ),
            SurvivorReason::UninterruptibleSleep { wchan } => format!(
                "uninterruptible sleep{}: signals take effect only when that kernel call returns",
                wchan.as_deref().map(|w| format!(" in {w}")).unwrap_or_default()
            ),
            SurvivorReason::Frozen => {
                "frozen by the cgroup v1 freezer: signals, SIGKILL too, take effect only once it is thawed".to_string()
            }
            SurvivorReason::Stopped => "stopped: only SIGKILL or SIGCONT move it".to_string(),
            SurvivorReason::Exiting => "exiting (or dumping core) and not finished yet".to_string(),
            SurvivorReason::NamespaceInit => {
                "init of its PID namespace: the kernel drops signals it has no handler for".to_string()
            }
            SurvivorReason::KernelThread => "a kernel thread: signals do not end it".to_string(),
            SurvivorReason::Ignores { signal } => format!("it ignores {signal} and SIGKILL was not sent"),
            SurvivorReason::Blocks { signal } => format!("it blocks {signal}, which stays pending"),
            SurvivorReason::Handles { signal } => {
                format!("it handles {signal} and had not exited when the wait ended")
            }
            SurvivorReason::NotWaited => "not waited for (--no-wait)".to_string(),
            SurvivorReason::KillPending => "SIGKILL was sent and it has not gone yet".to_string(),
            SurvivorReason::StillRunning => "still running".to_string(),
        }
    }
}

/// What afterlife knew when it asked why a process survived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurvivorContext {
    /// The graceful signal sent, if one was.
    pub signal: Option<Signal>,
    /// Whether `SIGKILL` was sent.
    pub killed: bool,
    /// Whether the plan waited at all.
    pub waited: bool,
    /// Whether it is PID 1 of its own PID namespace
    /// ([`ProcessInfo::is_namespace_init`]), as seen from that namespace,
    /// wherever afterlife runs.
    pub namespace_init: bool,
    /// Whether the cgroup v1 freezer holds it (`freezer.state` FROZEN or
    /// FREEZING): it shows as in uninterruptible sleep, but no kernel call
    /// it waits in keeps it.
    pub frozen_v1: bool,
}

/// Why a process that is still there survived, from its /proc facts. The
/// parent and tracer names are looked up by the caller.
pub fn survivor_reason(
    info: &ProcessInfo,
    context: SurvivorContext,
    name_of: impl Fn(i32) -> Option<String>,
) -> SurvivorReason {
    // Signalled and not waited for: nothing can be said to have survived.
    // Only the kernel's own refusals are certain failures.
    if !context.waited && !info.kernel_thread && !context.namespace_init {
        return SurvivorReason::NotWaited;
    }
    if let Some(tracer) = info.tracer_pid {
        return SurvivorReason::Traced {
            tracer_pid: tracer,
            tracer_name: name_of(tracer),
        };
    }
    if context.frozen_v1 && context.waited {
        return SurvivorReason::Frozen;
    }
    match info.state {
        // A killable sleep (a vfork parent, say) delays no fatal signal:
        // the reason lies in how the process takes the signal.
        ProcessState::DiskSleep if !info.wchan.as_deref().is_some_and(crate::process::killable_wait) => {
            return SurvivorReason::UninterruptibleSleep {
                wchan: info.wchan.clone(),
            };
        }
        ProcessState::TracingStop => {
            return SurvivorReason::Traced {
                tracer_pid: 0,
                tracer_name: None,
            };
        }
        ProcessState::Stopped => return SurvivorReason::Stopped,
        _ => {}
    }
    // A main thread that has ended while others run is flagged exiting
    // (`PF_EXITING` in /proc/PID/stat), but the process lives on: the
    // reason lies in how its running threads take the signal.
    if (info.exiting && !info.main_thread_exited) || info.core_dumping {
        return SurvivorReason::Exiting;
    }
    if info.kernel_thread {
        return SurvivorReason::KernelThread;
    }
    if context.namespace_init {
        return SurvivorReason::NamespaceInit;
    }
    if !context.waited {
        return SurvivorReason::NotWaited;
    }
    if context.killed {
        return SurvivorReason::KillPending;
    }
    if let Some(signal) = context.signal {
        if info.signals.ignored.contains(&signal) {
            return SurvivorReason::Ignores { signal };
        }
        if info.signals.blocked.contains(&signal) {
            return SurvivorReason::Blocks { signal };
        }
        if info.signals.caught.contains(&signal) {
            return SurvivorReason::Handles { signal };
        }
    }
    SurvivorReason::StillRunning
}

/// How one process turned out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// It has exited.
    Ended {
        /// Why it ended.
        by: EndedBy,
        /// Seconds from the first signal to its exit, when afterlife saw it.
        after_seconds: Option<f64>,
        /// How it ended, as its parent sees it, when observable.
        #[serde(rename = "ending")]
        status: Option<EndingReport>,
        /// For one that is a zombie when the report is made (it was one
        /// already, or afterlife ended it) and whose parent is neither
        /// PID 1 nor a process the kill ended: who must collect its exit
        /// status before its entry goes.
        #[serde(skip_serializing_if = "Option::is_none")]
        unreaped_by: Option<Reaper>,
    },
    /// It is still there.
    Alive {
        /// Its state when the report was made.
        state: Option<ProcessState>,
        /// Why.
        #[serde(flatten)]
        reason: SurvivorReason,
    },
    /// `--dry-run`: it would be signalled.
    WouldSignal,
}

/// One process in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessReport {
    /// The PID.
    pub pid: Pid,
    /// Its name (`comm`).
    pub name: String,
    /// Its process title, where it says more than the name: a title it
    /// wrote over its first argument ([`process_title`]: `postgres:
    /// checkpointer`, `nginx: worker process`), read when it was opened
    /// (not with `--signal KILL`, where speed comes first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its parent's PID when it was selected.
    pub ppid: i32,
    /// Whether the user named it, rather than a walk finding it.
    pub named: bool,
    /// The signals afterlife sent it, in order, besides the `SIGSTOP` and
    /// `SIGCONT` of the freeze (a cgroup kill counts as `SIGKILL`).
    pub sent: Vec<Signal>,
    /// How it turned out.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// For a survivor: the full diagnosis of `afterlife why`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Box<crate::resist::Diagnosis>>,
}

/// The process title to show for a process named `comm` whose command
/// line begins with `argv0`: a title the process wrote over its arguments,
/// as `setproctitle` does (`postgres: checkpointer`), which has words in
/// one argument. `None` when `argv0` is just a program (`sleep`,
/// `/usr/bin/python3`, `-bash` — also when the process renamed its `comm`
/// with `PR_SET_NAME`, which then says more) or starts with the program's
/// own name (`comm`, perhaps cut to 15 bytes). Pure.
pub fn process_title(argv0: &str, comm: &str) -> Option<String> {
    /// Longer titles are cut, to keep the table readable.
    const MAX: usize = 60;
    let title = argv0.trim();
    let (first_word, _) = title.split_once(' ')?;
    let program = first_word
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_start_matches('-');
    if program == comm || (comm.len() == 15 && program.starts_with(comm)) {
        return None;
    }
    Some(match title.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &title[..cut]),
        None => title.to_string(),
    })
}

impl ProcessReport {
    /// Whether it counts against success: alive and either not refused, or
    /// refused although the user named it.
    pub fn is_survivor(&self) -> bool {
        match &self.outcome {
            Outcome::Alive {
                reason: SurvivorReason::Refused { .. },
                ..
            } => self.named,
            Outcome::Alive {
                reason: SurvivorReason::NotWaited,
                ..
            } => false,
            Outcome::Alive { .. } => true,
            Outcome::Ended { .. } | Outcome::WouldSignal => false,
        }
    }
}

/// Counts over the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Processes in the report.
    pub processes: usize,
    /// Those that ended.
    pub ended: usize,
    /// Those that ended only after `SIGKILL`.
    pub needed_kill: usize,
    /// Those still alive that count as survivors.
    pub survivors: usize,
    /// Those refused.
    pub refused: usize,
}

/// The report of one termination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerminationReport {
    /// What the named PIDs stood for.
    pub scope: Scope,
    /// The plan followed.
    pub plan: TerminationPlan,
    /// Whether nothing was signalled (`--dry-run`).
    pub dry_run: bool,
    /// How the processes were held.
    pub containment: Containment,
    /// Why the wait stopped (absent in a dry run).
    pub finish: Option<Finish>,
    /// Seconds from the first signal to the report.
    pub elapsed_seconds: f64,
    /// Counts.
    pub summary: Summary,
    /// One entry per process, named ones first.
    pub processes: Vec<ProcessReport>,
    /// IPC objects the tree created and left (`kill --tree`; filled in by
    /// the caller with `resources::ipc_left::LiveTree`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipc: Vec<crate::resources::ipc_left::IpcLeftover>,
    /// Named processes (a plain PID or `--tree`) that had exited while
    /// the process group or session they led still has other members,
    /// which this kill did not reach.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_by_leaders: Vec<crate::terminate::select::LeftByLeader>,
}

impl TerminationReport {
    /// Builds the report and its counts.
    pub fn new(
        scope: Scope,
        plan: TerminationPlan,
        dry_run: bool,
        containment: Containment,
        finish: Option<Finish>,
        elapsed: Duration,
        mut processes: Vec<ProcessReport>,
    ) -> TerminationReport {
        processes.sort_by_key(|p| (!p.named, p.pid));
        let summary = Summary {
            processes: processes.len(),
            ended: processes
                .iter()
                .filter(|p| matches!(p.outcome, Outcome::Ended { .. }))
                .count(),
            needed_kill: processes
                .iter()
                .filter(|p| matches!(p.outcome, Outcome::Ended { by: EndedBy::Kill, .. }))
                .count(),
            survivors: processes.iter().filter(|p| p.is_survivor()).count(),
            refused: processes
                .iter()
                .filter(|p| {
                    matches!(
                        p.outcome,
                        Outcome::Alive {
                            reason: SurvivorReason::Refused { .. },
                            ..
                        }
                    )
                })
                .count(),
        };
        TerminationReport {
            scope,
            plan,
            dry_run,
            containment,
            finish: finish.map(|f| f.given_survivors(summary.survivors)),
            elapsed_seconds: elapsed.as_secs_f64(),
            summary,
            processes,
            ipc: Vec::new(),
            left_by_leaders: Vec::new(),
        }
    }

    /// Whether every target ended (no survivors).
    pub fn all_ended(&self) -> bool {
        self.summary.survivors == 0
    }

    /// The entry of `pid`, if it is in the report.
    pub fn process(&self, pid: Pid) -> Option<&ProcessReport> {
        self.processes.iter().find(|p| p.pid == pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::SignalMasks;

    fn info(state: char) -> ProcessInfo {
        let mut info = ProcessInfo::read(Pid::current()).unwrap();
        info.state = ProcessState::from_letter(state);
        info.ppid = 42;
        info.tracer_pid = None;
        info.wchan = None;
        info.exiting = false;
        info.main_thread_exited = false;
        info.core_dumping = false;
        info.kernel_thread = false;
        info.signals = SignalMasks::default();
        info
    }

    fn context() -> SurvivorContext {
        SurvivorContext {
            signal: Some(Signal::TERM),
            killed: false,
            waited: true,
            namespace_init: false,
            frozen_v1: false,
        }
    }

    fn names(pid: i32) -> Option<String> {
        Some(format!("proc{pid}"))
    }

    #[test]
    fn a_zombie_waits_for_its_parent_or_else_its_tracer() {
        let reaper = zombie_reaper(&info('Z'), names);
        assert_eq!(
            reaper,
            Reaper {
                role: ReaperRole::Parent,
                pid: 42,
                name: Some("proc42".into())
            }
        );
        assert_eq!(reaper.describe(), "its parent 42 (proc42) reaps it");
        let mut traced = info('Z');
        traced.tracer_pid = Some(7);
        let reaper = zombie_reaper(&traced, names);
        assert_eq!(
            reaper,
            Reaper {
                role: ReaperRole::Tracer,
                pid: 7,
                name: Some("proc7".into())
            }
        );
        assert_eq!(
            reaper.describe(),
            "its tracer 7 (proc7) waits for it (detach or end the tracer)"
        );
    }

    #[test]
    fn a_title_is_what_the_command_line_says_beyond_the_program() {
        assert_eq!(
            process_title("postgres: checkpointer ", "postgres"),
            Some("postgres: checkpointer".into())
        );
        assert_eq!(
            process_title("nginx: worker process", "nginx"),
            Some("nginx: worker process".into())
        );
        assert_eq!(process_title("/usr/lib/postgresql/15/bin/postgres", "postgres"), None);
        assert_eq!(process_title("sleep", "sleep"), None);
        assert_eq!(process_title("-bash", "bash"), None);
        assert_eq!(process_title("", "kworker/0:1"), None);
        // A comm renamed with PR_SET_NAME says more than the interpreter.
        assert_eq!(process_title("/usr/bin/python3", "evil"), None);
        assert_eq!(process_title("/opt/chrome/chrome --type=renderer", "chrome"), None);
        assert_eq!(
            process_title("sshd: root@pts/0", "sshd"),
            Some("sshd: root@pts/0".into())
        );
        assert_eq!(
            process_title("/usr/lib/systemd/systemd-journald", "systemd-journal"),
            None
        );
        let long = format!("x: {}", "x".repeat(80));
        assert_eq!(process_title(&long, "y"), Some(format!("x: {}…", "x".repeat(57))));
    }

    #[test]
    fn a_traced_process_names_its_tracer() {
        let mut i = info('t');
        i.tracer_pid = Some(7);
        assert_eq!(
            survivor_reason(&i, context(), names),
            SurvivorReason::Traced {
                tracer_pid: 7,
                tracer_name: Some("proc7".into())
            }
        );
    }

    #[test]
    fn uninterruptible_sleep_gives_the_wchan() {
        let mut i = info('D');
        i.wchan = Some("nfs_wait_on_request".into());
        assert_eq!(
            survivor_reason(&i, context(), names),
            SurvivorReason::UninterruptibleSleep {
                wchan: Some("nfs_wait_on_request".into())
            }
        );
    }

    #[test]
    fn a_killable_sleep_is_no_reason_to_survive() {
        // A vfork parent waits killably in kernel_clone: what keeps it is
        // how it takes the signal, not the sleep.
        let mut i = info('D');
        i.wchan = Some("kernel_clone".into());
        assert!(!matches!(
            survivor_reason(&i, context(), names),
            SurvivorReason::UninterruptibleSleep { .. }
        ));
    }

    #[test]
    fn stopped_exiting_kernel_thread_and_init() {
        assert_eq!(survivor_reason(&info('T'), context(), names), SurvivorReason::Stopped);
        let mut i = info('R');
        i.core_dumping = true;
        assert_eq!(survivor_reason(&i, context(), names), SurvivorReason::Exiting);
        let mut i = info('S');
        i.kernel_thread = true;
        assert_eq!(survivor_reason(&i, context(), names), SurvivorReason::KernelThread);
        let c = SurvivorContext {
            namespace_init: true,
            ..context()
        };
        assert_eq!(survivor_reason(&info('S'), c, names), SurvivorReason::NamespaceInit);
    }

    #[test]
    fn a_main_thread_that_ended_is_no_exiting_process() {
        // pthread_exit in main: the main thread reads PF_EXITING while the
        // process runs on and ignores SIGTERM.
        let mut i = info('S');
        i.exiting = true;
        i.main_thread_exited = true;
        i.signals.ignored = vec![Signal::TERM];
        assert_eq!(
            survivor_reason(&i, context(), names),
            SurvivorReason::Ignores { signal: Signal::TERM }
        );
        i.main_thread_exited = false;
        assert_eq!(survivor_reason(&i, context(), names), SurvivorReason::Exiting);
    }

    #[test]
    fn signal_dispositions_explain_a_running_survivor() {
        let mut i = info('S');
        i.signals.ignored = vec![Signal::TERM];
        assert_eq!(
            survivor_reason(&i, context(), names),
            SurvivorReason::Ignores { signal: Signal::TERM }
        );
        let mut i = info('S');
        i.signals.blocked = vec![Signal::TERM];
        assert_eq!(
            survivor_reason(&i, context(), names),
            SurvivorReason::Blocks { signal: Signal::TERM }
        );
        let mut i = info('S');
        i.signals.caught = vec![Signal::TERM];
        assert_eq!(
            survivor_reason(&i, context(), names),
            SurvivorReason::Handles { signal: Signal::TERM }
        );
        assert_eq!(
            survivor_reason(&info('R'), context(), names),
            SurvivorReason::StillRunning
        );
    }

    #[test]
    fn a_process_the_v1_freezer_holds_is_frozen_not_asleep_in_a_kernel_call() {
        let mut i = info('D');
        i.wchan = Some("hrtimer_nanosleep".into());
        let frozen = SurvivorContext {
            frozen_v1: true,
            ..context()
        };
        assert_eq!(survivor_reason(&i, frozen, names), SurvivorReason::Frozen);
    }

    #[test]
    fn kill_and_no_wait_contexts() {
        let killed = SurvivorContext {
            killed: true,
            ..context()
        };
        assert_eq!(survivor_reason(&info('R'), killed, names), SurvivorReason::KillPending);
        let not_waited = SurvivorContext {
            waited: false,
            ..context()
        };
        assert_eq!(
            survivor_reason(&info('S'), not_waited, names),
            SurvivorReason::NotWaited
        );
    }

    fn entry(pid: i32, named: bool, outcome: Outcome) -> ProcessReport {
        ProcessReport {
            diagnosis: None,
            pid: Pid::new(pid).unwrap(),
            name: "x".into(),
            title: None,
            ppid: 1,
            named,
            sent: vec![],
            outcome,
        }
    }

    #[test]
    fn summary_counts_survivors_and_refusals() {
        let alive = |reason| Outcome::Alive { state: None, reason };
        let report = TerminationReport::new(
            Scope::Tree,
            TerminationPlan::default(),
            false,
            Containment::Freeze { stopped: 1, walks: 1 },
            Some(Finish::AllEnded),
            Duration::ZERO,
            vec![
                entry(
                    5,
                    false,
                    Outcome::Ended {
                        by: EndedBy::Kill,
                        after_seconds: Some(0.3),
                        status: None,
                        unreaped_by: None,
                    },
                ),
                entry(
                    4,
                    false,
                    alive(SurvivorReason::Refused {
                        refusal: Refusal::Itself,
                    }),
                ),
                entry(3, true, alive(SurvivorReason::PermissionDenied)),
                entry(2, false, alive(SurvivorReason::NotWaited)),
            ],
        );
        assert_eq!(report.processes[0].pid.get(), 3, "named first");
        assert_eq!(
            report.summary,
            Summary {
                processes: 4,
                ended: 1,
                needed_kill: 1,
                survivors: 1,
                refused: 1
            }
        );
        assert!(!report.all_ended());
        assert_eq!(report.finish, Some(Finish::OnlyUnsignalledLeft));
    }
}
