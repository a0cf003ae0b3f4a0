//! The [`Supervisor`] builder and its event loop: start the command
//! contained, pass signals on, enforce the deadline with its grace plan,
//! then find, describe and end what the tree left behind.
//!
//! One loop waits on every event source at once with `poll(2)`: the
//! signalfd, the main process's pidfd (or the keeper's report pipe), and
//! the next timer (deadline, then end of grace).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::deaths::senders::{Senders, monotonic_ns};
use crate::exit::{ExitStatus, StatusViews};
use crate::process::{Pid, Process, ProcessTable, wait_any};
use crate::resources::ipc_left::IpcWatch;
use crate::signal::Signal;
use crate::supervise::cause::{
    self, CoreDestination, CoreFacts, OomCheck, OomTarget, OomVerdict, Verdict, core_destination, read_core_settings,
};
use crate::supervise::containment::{Contained, ContainmentChoice, Main, StartError};
use crate::supervise::dir_left::{DirError, DirWatch};
use crate::supervise::keeper::Report;
use crate::supervise::leftover_facts::{Identity, group_leader_gone, held_fds, identity};
use crate::supervise::policy::{
    KILL_SETTLE, SignalAction, Step, arms_kill, cause_of, continues_after, deadline_step, exit_of, fate_of_ended,
    grace_over_step, only_passed_on, oom_in_question, sent_elsewhere, settle_time, signal_action, timers_due,
};
use crate::supervise::report::{
    Escape, Fate, Leftover, OutputTargets, PeakMemory, PeakSource, Reason, RunReport, Target, TimelineEvent,
    classify_escape,
};
use crate::supervise::signals::{ChildSetup, SignalInbox, Terminal};

/// Called as each signal is sent.
type SignalCallback = Box<dyn FnMut(&TimelineEvent)>;

/// Grace before SIGKILL when none is given.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// Supervising failed before the command could be judged.
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    /// Starting failed.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Setting up signal handling failed.
    #[error("block signals and open a signalfd: {0}")]
    Signals(std::io::Error),
    /// Waiting failed.
    #[error("wait for the command: {0}")]
    Wait(String),
    /// A watched directory cannot be used.
    #[error(transparent)]
    Dir(DirError),
}

/// afterlife's own stdout and stderr, as the command inherits them, when
/// they are pipes or sockets someone reads to their end.
fn own_output() -> OutputTargets {
    let target = |fd: i32| {
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    };
    OutputTargets::new(target(1), target(2))
}

impl SuperviseError {
    /// The exit code for this failure: 126, 127 or 125.
    pub fn exit_code(&self) -> u8 {
        match self {
            SuperviseError::Start(StartError::NotFound { .. }) => crate::exit_code::NOT_FOUND,
            SuperviseError::Start(StartError::CannotExecute { .. }) => crate::exit_code::CANNOT_EXECUTE,
            _ => crate::exit_code::FAILURE,
        }
    }
}

/// Runs a command as a contained tree with an optional deadline, and
/// reports how it went.
pub struct Supervisor {
    program: OsString,
    args: Vec<OsString>,
    timeout: Option<Duration>,
    signal: Signal,
    grace: Option<Duration>,
    leftover_grace: Duration,
    preserve_status: bool,
    foreground: bool,
    containment: ContainmentChoice,
    keep_leftovers: bool,
    remove_ipc: bool,
    dirs: Vec<PathBuf>,
    temp_parent: Option<PathBuf>,
    fail_on_leftovers: bool,
    name_sender: bool,
    dies_with_its_kill: bool,
    grace_after_own_death: bool,
    on_signal: Option<SignalCallback>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("timeout", &self.timeout)
            .field("signal", &self.signal)
            .field("grace", &self.grace)
            .field("containment", &self.containment)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Supervises `program` with `args`.
    pub fn new(program: impl Into<OsString>, args: impl IntoIterator<Item = impl Into<OsString>>) -> Supervisor {
        Supervisor {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            timeout: None,
            signal: Signal::TERM,
            grace: Some(DEFAULT_GRACE),
            leftover_grace: DEFAULT_GRACE,
            preserve_status: false,
            foreground: false,
            containment: ContainmentChoice::Auto,
            keep_leftovers: false,
            remove_ipc: false,
            dirs: Vec::new(),
            temp_parent: None,
            fail_on_leftovers: false,
            name_sender: false,
            dies_with_its_kill: false,
            grace_after_own_death: false,
            on_signal: None,
        }
    }

    /// The deadline (`None` or zero: none; `Duration::MAX`: forever).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// The signal sent at the deadline (default SIGTERM).
    pub fn signal(mut self, signal: Signal) -> Self {
        self.signal = signal;
        self
    }

    /// How long after the deadline's signal SIGKILL follows (`None`: never,
    /// as `timeout` without `-k`); also the leftovers' grace when given.
    pub fn grace(mut self, grace: Option<Duration>) -> Self {
        self.grace = grace;
        if let Some(g) = grace {
            self.leftover_grace = g;
        }
        self
    }

    /// Exit with the command's status even when the deadline passed.
    pub fn preserve_status(mut self, yes: bool) -> Self {
        self.preserve_status = yes;
        self
    }

    /// Leave the command in afterlife's process group (it may read the
    /// terminal); at the deadline only it is signalled.
    pub fn foreground(mut self, yes: bool) -> Self {
        self.foreground = yes;
        self
    }

    /// Which containment to use.
    pub fn containment(mut self, choice: ContainmentChoice) -> Self {
        self.containment = choice;
        self
    }

    /// List the leftovers but leave them running.
    pub fn keep_leftovers(mut self, yes: bool) -> Self {
        self.keep_leftovers = yes;
        self
    }

    /// Remove the IPC objects the tree created and left, once it has ended
    /// (not while leftovers are kept running).
    pub fn remove_ipc(mut self, yes: bool) -> Self {
        self.remove_ipc = yes;
        self
    }

    /// If afterlife itself is killed, give the command its signal and the
    /// grace period to handle it before the tree is ended, as coreutils
    /// `timeout` passes its signal on when it is killed (9.10 and later).
    /// Without it (`run`), the tree ends at once with afterlife.
    pub fn grace_after_own_death(mut self, yes: bool) -> Self {
        self.grace_after_own_death = yes;
        self
    }

    /// Die of SIGKILL after sending it at the deadline (without
    /// `foreground`), as coreutils `timeout` does: it sends KILL to its own
    /// process group, itself included, so its parent sees a death by
    /// SIGKILL (Python's `returncode == -9`) rather than exit 137.
    pub fn dies_with_its_kill(mut self, yes: bool) -> Self {
        self.dies_with_its_kill = yes;
        self
    }

    /// Directories whose new entries (paths absent at the start) are
    /// leftovers; removed with the tree unless leftovers are kept.
    pub fn dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.dirs = dirs;
        self
    }

    /// Gives the command a fresh empty directory made under `parent` as
    /// `TMPDIR` (and `TMP`, `TEMP`), watched as with [`Supervisor::dirs`]
    /// and removed at the end.
    pub fn fresh_tmpdir(mut self, parent: Option<PathBuf>) -> Self {
        self.temp_parent = parent;
        self
    }

    /// A command that exits 0 but leaves anything (a process, an IPC
    /// object, a file in a watched directory) makes the run exit with
    /// [`crate::exit_code::LEAKED`].
    pub fn fail_on_leftovers(mut self, yes: bool) -> Self {
        self.fail_on_leftovers = yes;
        self
    }

    /// For a death by a signal afterlife did not send, name its sender: a
    /// small program on the `signal_generate` tracepoint, attached before
    /// the command starts and while it runs (about 2 ms of CPU; as root,
    /// with BTF; elsewhere no sender is named). `afterlife run` asks for
    /// it unless told not to; `timeout`, which reports nothing, does not.
    pub fn name_sender(mut self, yes: bool) -> Self {
        self.name_sender = yes;
        self
    }

    /// Called as each signal is sent (for `--verbose`).
    pub fn on_signal(mut self, callback: impl FnMut(&TimelineEvent) + 'static) -> Self {
        self.on_signal = Some(Box::new(callback));
        self
    }

    /// Runs the command to its end and reports.
    ///
    /// For the run, the calling process is a child subreaper (cgroup
    /// containment) and reaps the tree's orphans as they end; at the end it
    /// reaps any child of its own that has ended, and restores its former
    /// subreaper setting. With a PID namespace (`pidns`, or `cgroup` when
    /// privileged) or `subreaper` containment the keeper process is forked
    /// and then runs ordinary code: call `run` from a single-threaded
    /// process there (the afterlife binary is one). The command starts in
    /// its leaf by `clone3` only in a single-threaded caller (checked).
    pub fn run(mut self) -> Result<RunReport, SuperviseError> {
        let clock = Clock::now();
        let start = clock.start;
        let inbox = SignalInbox::open().map_err(SuperviseError::Signals)?;
        let _subreaper = SubreaperGuard::save();
        // Attached before the command starts, so that no signal to it goes
        // unseen (loaded here, in this thread: see `deaths::senders`).
        let mut senders = self.name_sender.then(Senders::load);
        let terminal = if self.foreground { None } else { Terminal::foreground() };
        // Without a terminal to hand over, afterlife leads the group the
        // command is born in, as coreutils' timeout does: the command is
        // no group leader, so it may call setsid() (and setsid(1) does not
        // fork and leave at once).
        let leads_group = !self.foreground && terminal.is_none();
        if leads_group {
            // EPERM: afterlife leads its session, hence its group, already.
            let _ = rustix::process::setpgid(None, None);
        }
        let setup = self.child_setup(terminal.as_ref());
        let mut dir_watch = DirWatch::start(&self.dirs).map_err(SuperviseError::Dir)?;
        let mut command = self.command(&mut dir_watch)?;
        let mut ipc_watch = IpcWatch::start();
        let (mut contained, main) = Contained::start(self.containment, &mut command, setup)?;
        own_proc_view();
        ipc_watch.follow();
        // Our own stdout and stderr, read while the command runs.
        let output = own_output();
        let main_process = main.process();
        let main_info = main_process.map(|p| {
            let mut facts = MainFacts::derive(p.pid(), &self.program, setup.own_group);
            facts.read_groups(p);
            facts
        });
        if let (Some(terminal), Some(p)) = (&terminal, main_process)
            && !self.foreground
        {
            terminal.give_to(p.pid());
        }
        let mut run = Run {
            start,
            timeline: Vec::new(),
            on_signal: self.on_signal.take(),
        };
        let deadline = self.timeout.and_then(|t| start.checked_add(t));
        let mut sources = Sources {
            inbox: &inbox,
            ipc: &mut ipc_watch,
        };
        let mut watched = self.watch(
            &mut sources,
            &mut contained,
            &main,
            terminal.as_ref(),
            deadline,
            &mut run,
        )?;
        let sender = match (&mut senders, &main_info, watched.status) {
            (Some(senders), Some(main), ExitStatus::Signaled { signal, .. })
                if sent_elsewhere(watched.status, &run.timeline) || only_passed_on(signal, &run.timeline) =>
            {
                senders
                    .sender(
                        main.pid.get(),
                        main_process.map(Process::start_ticks),
                        signal.number(),
                        Some(monotonic_ns()),
                    )
                    // For a signal afterlife passed on: the one it passed on
                    // reached the command first, or the command raised it
                    // again itself, and there is no other sender to name.
                    .filter(|sender| {
                        !only_passed_on(signal, &run.timeline)
                            || (sender.pid != Pid::current().get() && sender.pid != main.pid.get())
                    })
            }
            _ => None,
        };
        // Detached now, early: a detach that leaves the tracepoint with no
        // probe makes the next attach (the next test's `run`) wait for an
        // RCU grace period unless one has passed since (`tp_rcu_cond_sync`).
        drop(senders);
        let duration = start.elapsed().as_secs_f64();
        if let Some(terminal) = &terminal {
            terminal.take_back();
        }
        let tree = TreeWatches {
            ipc: ipc_watch,
            dirs: dir_watch,
            output,
        };
        let ended = self.end_tree(
            contained,
            main_process,
            main_info.as_ref(),
            &mut watched,
            tree,
            &mut run,
        );
        let mut report = self.report(&clock, duration, watched, main_info.as_ref(), ended, run.timeline);
        report.signal_sender = sender.map(|s| s.oom_killed(report.cause == crate::exit::Cause::OomKilled));
        Ok(report)
    }

    /// The verdict on the run: an OOM kill or the deadline as the cause,
    /// where a core went, afterlife's own exit; and the report.
    fn report(
        &self,
        clock: &Clock,
        duration: f64,
        watched: Watched,
        main_info: Option<&MainFacts>,
        ended: TreeEnd,
        timeline: Vec<TimelineEvent>,
    ) -> RunReport {
        let main_pid = main_info.map(|m| m.pid);
        let status = watched.status;
        let oom = oom_in_question(status, watched.sent_kill).then(|| {
            let name = watched.name_at_exit.as_deref().or(main_info.map(|m| m.name.as_str()));
            oom_check(
                ended.oom_kills,
                ended.memory_events,
                main_pid.zip(name),
                clock.started_us,
            )
        });
        let oom_killed = oom.as_ref().is_some_and(|o| o.verdict == OomVerdict::Killed);
        // SIGKILL was needed only if it is what ended the command: sent
        // with the deadline's signal (--grace 0), the command may have died
        // of that one.
        let killed = matches!(status, ExitStatus::Signaled { signal, .. } if signal == Signal::KILL);
        let cause = cause_of(
            (watched.timed_out, watched.timed_out_after),
            watched.sent_kill && killed,
            self.timeout,
            self.signal,
            oom_killed,
        );
        let core = match (status, main_info) {
            (
                ExitStatus::Signaled {
                    signal,
                    core_dumped: true,
                },
                Some(main),
            ) => core_of(main, signal, clock.started_at as u64 + duration as u64),
            _ => None,
        };
        let action = cause::exit_action(
            Verdict {
                status,
                timed_out: watched.timed_out,
                sent_kill: watched.sent_kill,
                kill_ends_us: self.dies_with_its_kill && !self.foreground,
            },
            self.preserve_status,
        );
        let (exit_code, dies_by) = exit_of(action, ended.leaked && self.fail_on_leftovers);
        let mut command_line = vec![self.program.to_string_lossy().into_owned()];
        command_line.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        RunReport {
            command: command_line,
            containment: ended.containment,
            cgroup: ended.cgroup,
            pid_namespace: ended.pid_namespace,
            pid: main_pid,
            started_at: clock.started_at,
            duration,
            total_duration: clock.start.elapsed().as_secs_f64(),
            exit: StatusViews::from(status),
            cause,
            timed_out: watched.timed_out,
            core,
            oom,
            signal_sender: None,
            timeline,
            peak_memory: ended.peak,
            leftovers: ended.leftovers,
            ipc: ended.ipc,
            files: ended.files,
            leaked: ended.leaked,
            exit_code,
            dies_by,
        }
    }

    /// What the command does between fork and exec.
    fn child_setup(&self, terminal: Option<&Terminal>) -> ChildSetup {
        ChildSetup {
            // Its own group only to be given the terminal; else the
            // group afterlife leads (or, with --foreground, afterlife's).
            own_group: !self.foreground && terminal.is_some(),
            join_group: Pid::own_group().map(Pid::get),
            terminal: terminal.map(|t| t.raw_fd()),
            cgroup_procs: None,
            parent: None,
            death_signal: Some(self.signal),
            death_grace: if self.grace_after_own_death {
                self.leftover_grace
            } else {
                Duration::ZERO
            },
            // Set by the containment that makes a PID namespace.
            own_proc: false,
        }
    }

    /// The command, with a fresh `TMPDIR` (and `TMP`, `TEMP`) when asked.
    fn command(&self, dir_watch: &mut DirWatch) -> Result<std::process::Command, SuperviseError> {
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.args);
        if let Some(parent) = &self.temp_parent {
            let temp = dir_watch.fresh_temp(parent).map_err(SuperviseError::Dir)?;
            for name in ["TMPDIR", "TMP", "TEMP"] {
                command.env(name, &temp);
            }
        }
        Ok(command)
    }

    /// Once the main process has ended: the rest of the grace period, then
    /// the leftovers (listed, ended or kept), the IPC objects and files
    /// left, the peak memory; the containment is dismissed.
    fn end_tree(
        &self,
        mut contained: Contained,
        main: Option<&Process>,
        main_info: Option<&MainFacts>,
        watched: &mut Watched,
        mut tree: TreeWatches,
        run: &mut Run,
    ) -> TreeEnd {
        let reapers = [Pid::current().get(), contained.keeper_pid().get()];
        let settle = settle_time(
            watched.timed_out && !self.foreground,
            watched.kill_at,
            watched.sent_kill,
            self.leftover_grace,
            Instant::now(),
        );
        // One listing of the tree (its walk for members moved out of the
        // leaf is the dearest part of a short run's end) serves both.
        let listed = contained.members();
        tree.ipc.note_tree(
            &main
                .map(|p| p.pid())
                .into_iter()
                .chain(listed.iter().map(|p| p.pid()))
                .collect::<Vec<_>>(),
        );
        let leftovers = self.handle_leftovers(
            &contained,
            listed,
            main_info,
            &reapers,
            (settle, &mut watched.signalled),
            &tree.output,
            run,
        );
        let tree_ended = leftovers.iter().all(|l| !matches!(l.fate, Fate::Kept | Fate::Survived));
        tree.ipc.stop_reading();
        // Read while the tree's PID namespace lives (its init is the keeper).
        let ipc = tree
            .ipc
            .finish(self.remove_ipc && tree_ended, &|path| contained.read_as_tree(path));
        let keep = self.keep_leftovers && !leftovers.is_empty();
        // It finishes on its own while the files are read.
        contained.dismiss(keep);
        let files = tree.dirs.finish(!self.keep_leftovers && tree_ended, &leftovers);
        let leaked = !leftovers.is_empty() || !ipc.is_empty() || !files.is_empty();
        let cgroup_peak = contained.memory_peak();
        let oom_kills = contained.oom_kills();
        let memory_events = contained.cgroup_path().is_some() && oom_kills.is_some();
        let containment = contained.kind();
        let pid_namespace = contained.pid_namespace();
        let cgroup = contained.cgroup_path();
        contained.finish(keep);
        reap_orphans();
        // After the keeper is reaped: its children's usage counts then.
        let peak = cgroup_peak
            .map(|bytes| PeakMemory {
                bytes,
                source: PeakSource::CgroupMemoryPeak,
            })
            .or_else(|| {
                largest_child_rss().map(|bytes| PeakMemory {
                    bytes,
                    source: PeakSource::LargestProcessRss,
                })
            });
        TreeEnd {
            leftovers,
            ipc,
            files,
            leaked,
            peak,
            oom_kills,
            memory_events,
            containment,
            pid_namespace,
            cgroup,
        }
    }

    /// The event loop: signals, the deadline and its grace period, until the
    /// main process ends.
    fn watch(
        &self,
        sources: &mut Sources<'_>,
        contained: &mut Contained,
        main: &Main,
        terminal: Option<&Terminal>,
        deadline: Option<Instant>,
        run: &mut Run,
    ) -> Result<Watched, SuperviseError> {
        let main_process = main.process();
        let mut timed_out = false;
        let mut sent_kill = false;
        let mut kill_at: Option<Instant> = None;
        let mut timed_out_after = Duration::ZERO;
        let mut signalled = Signalled::default();
        loop {
            let next = if timed_out {
                kill_at
            } else {
                [deadline, kill_at].into_iter().flatten().min()
            };
            // After the deadline's signal, look for processes born since.
            let look = signalled.signal.map(|_| Instant::now() + NEWCOMERS_EVERY);
            let next = [next, look].into_iter().flatten().min();
            let wait = next.map(|at| at.saturating_duration_since(Instant::now()));
            let ready = wait_events(sources, main, contained.keeper_reports(), wait)
                .map_err(|e| SuperviseError::Wait(e.to_string()))?;
            if ready.ipc_events {
                sources.ipc.read_events();
            }
            let main_ready = ready.main;
            if main_ready {
                match main_status(main, contained)? {
                    MainEvent::Ended { status, name } => {
                        return Ok(Watched {
                            status,
                            name_at_exit: name,
                            timed_out,
                            timed_out_after,
                            sent_kill,
                            kill_at,
                            signalled,
                        });
                    }
                    MainEvent::Stopped => {
                        if let (Some(terminal), Some(process)) = (terminal, main_process) {
                            stop_with(terminal, process);
                        }
                    }
                    MainEvent::Nothing => {}
                }
            }
            let mut alarm = false;
            for received in sources.inbox.drain() {
                match signal_action(received, self.foreground) {
                    SignalAction::TimeIsUp => alarm = true,
                    SignalAction::Reap => on_child_event(main_process, contained.keeper_pid(), terminal),
                    SignalAction::Forward { signal, to } => {
                        let send = |signal| match to {
                            Target::Main => signal_main(main_process, signal),
                            _ => signal_group(main_process, signal),
                        };
                        let sent = send(signal);
                        if continues_after(signal, Reason::Forwarded) {
                            send(Signal::CONT);
                        }
                        run.record(signal, to, sent, Reason::Forwarded);
                        if !timed_out && arms_kill(signal, self.signal, self.grace, kill_at.is_some()) {
                            kill_at = self.grace.and_then(|g| Instant::now().checked_add(g));
                        }
                    }
                    SignalAction::Ignore => {}
                }
            }
            signalled.give_newcomers(contained, main_process, run);
            let now = Instant::now();
            // SIGALRM from outside: time is up now, as for coreutils, whose
            // own timer it is; a second one ends the grace period.
            let step = match timers_due(now, deadline, kill_at, timed_out, alarm) {
                (true, _) => Some(deadline_step(self.foreground, self.signal, self.grace, now)),
                (false, true) => Some(grace_over_step(self.foreground)),
                (false, false) => None,
            };
            if let Some(step) = step {
                if step.reason == Reason::Deadline {
                    timed_out = true;
                    timed_out_after = now.saturating_duration_since(run.start);
                }
                let sent = if tracks_newcomers(&step) {
                    // Each process it reaches is noted, so that one born
                    // later gets it too.
                    signalled.signal = Some(step.signal);
                    signal_main(main_process, step.signal) + signalled.newcomers(contained, main_process)
                } else {
                    if step.sent_kill {
                        signalled.signal = None;
                    }
                    send_step(&step, contained, main_process)
                };
                if continues_after(step.signal, step.reason) {
                    send_step(
                        &Step {
                            signal: Signal::CONT,
                            ..step
                        },
                        contained,
                        main_process,
                    );
                }
                run.record(step.signal, step.to, sent, step.reason);
                sent_kill = step.sent_kill;
                kill_at = step.kill_at;
            }
        }
    }

    /// The leftovers among `listed` (the tree as just listed), or, after a
    /// deadline, among what is left once the tree has settled.
    #[allow(clippy::too_many_arguments)]
    fn handle_leftovers(
        &self,
        contained: &Contained,
        listed: Vec<Process>,
        main: Option<&MainFacts>,
        reapers: &[i32],
        (settle, signalled): (Option<Duration>, &mut Signalled),
        output: &OutputTargets,
        run: &mut Run,
    ) -> Vec<Leftover> {
        let members = match settle {
            Some(settle) => {
                settle_tree(contained, settle, signalled, run);
                contained.members()
            }
            None => listed,
        };
        // Who each is, read first. One that has ended and been reaped since
        // the listing (or whose PID went to another process) is left out:
        // nothing of it is left, and its parent, session and group can no
        // longer be read (taken as 0, they read as an escape by `setsid`).
        let (members, identities): (Vec<Process>, Vec<Identity>) = members
            .into_iter()
            .filter_map(|process| {
                let who = identity(process.pid(), process.start_ticks())?;
                Some((process, who))
            })
            .unzip();
        let (members, identities) = without_the_ending(members, identities);
        if members.is_empty() {
            return Vec::new();
        }
        let mut leftovers = describe_leftovers(&members, identities, main, reapers, output);
        for (process, leftover) in members.iter().zip(leftovers.iter_mut()) {
            if contained.pid_namespace() {
                leftover.ns_pid = pid_in_namespace(process);
            }
            if let Some(cgroup) = contained.moved_to(process.pid()) {
                leftover.escaped.insert(0, Escape::OtherCgroup { cgroup });
            }
        }
        if self.keep_leftovers {
            return leftovers;
        }
        // Signalled at the deadline already: its grace period is over.
        let grace_over = settle.is_some();
        if !grace_over {
            let mut signalled = 0;
            for (process, leftover) in members.iter().zip(leftovers.iter_mut()) {
                if deliver(process, self.signal) {
                    if continues_after(self.signal, Reason::Leftovers) {
                        deliver(process, Signal::CONT);
                    }
                    signalled += 1;
                } else {
                    // ESRCH: it ended by itself since we listed it.
                    leftover.fate = Fate::ExitedOnItsOwn;
                }
            }
            run.record(self.signal, Target::Leftovers, signalled, Reason::Leftovers);
        }
        let mut alive_at_kill = Vec::new();
        if grace_over || !contained.wait_empty(self.leftover_grace) {
            alive_at_kill = members.iter().map(|p| !p.has_exited()).collect();
            let sent = contained.kill_all();
            run.record(Signal::KILL, Target::Leftovers, sent, Reason::LeftoversGraceExpired);
            contained.wait_empty(KILL_SETTLE);
        }
        // A process leaves its cgroup a moment before it becomes a zombie
        // (cgroup_exit comes before exit_notify in do_exit): wait on each
        // pidfd too, within one shared limit.
        let settled = Instant::now() + KILL_SETTLE;
        for (index, (process, leftover)) in members.iter().zip(leftovers.iter_mut()).enumerate() {
            if leftover.fate == Fate::ExitedOnItsOwn {
                continue;
            }
            let remaining = settled.saturating_duration_since(Instant::now());
            if wait_any(&[process], Some(remaining)).map_or(true, |ready| ready.is_empty()) {
                leftover.fate = Fate::Survived;
                continue;
            }
            // Reaps it if it was reparented to us, and reads how it ended;
            // ECHILD for the others, whose own parents reap them.
            let status = reap_child(process).ok().flatten().map(|(status, _)| status);
            leftover.fate = fate_of_ended(status, alive_at_kill.get(index).copied().unwrap_or(false), self.signal);
        }
        leftovers
    }
}

/// The members but those that were ending on their own when read (SIGKILL
/// queued, or in `do_exit`, as a child the command killed and left
/// unwaited, or one still releasing its memory) and have ended within
/// [`KILL_SETTLE`]: nothing of them was left over, and no signal of ours
/// ended them. One still there then (asleep in D on its way out) stays.
fn without_the_ending(members: Vec<Process>, identities: Vec<Identity>) -> (Vec<Process>, Vec<Identity>) {
    let ending: Vec<&Process> = members
        .iter()
        .zip(&identities)
        .filter(|(_, who)| who.ending)
        .map(|(process, _)| process)
        .collect();
    if ending.is_empty() {
        return (members, identities);
    }
    let deadline = Instant::now() + KILL_SETTLE;
    let mut waiting = ending;
    while !waiting.is_empty() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        // A poll that fails is taken as no news: what is left stays.
        match wait_any(&waiting, Some(remaining)) {
            Ok(ready) if !ready.is_empty() => waiting.retain(|p| !p.has_exited()),
            _ => break,
        }
    }
    members
        .into_iter()
        .zip(identities)
        .filter(|(process, who)| !(who.ending && process.has_exited()))
        .unzip()
}

/// Where /proc numbers processes for another PID namespace than
/// afterlife's (a run inside another run's PID namespace, whose /proc is
/// the outer one's), afterlife mounts a /proc of its own namespace for
/// itself alone, once the command has started: what the tree leaves, whose
/// PIDs afterlife knows as its namespace numbers them, is then read from
/// the right processes. Its mount namespace is its own; the command and
/// the keeper keep theirs. Without the privilege to mount, the leaf still
/// ends what is left, but /proc cannot name it.
fn own_proc_view() {
    if matches!(
        crate::proc::ns::check_proc_view(),
        Err(crate::proc::ns::ProcViewError::OtherNamespace { .. })
    ) {
        // The run goes on either way (see above).
        let _ = crate::sys::linux::ns::mount_own_proc();
    }
}

/// Waits up to `settle` for a tree that had the deadline's signal to end,
/// giving that signal to each process born since as it is found.
fn settle_tree(contained: &Contained, settle: Duration, signalled: &mut Signalled, run: &mut Run) {
    let deadline = crate::duration::Deadline::after(settle);
    loop {
        signalled.give_newcomers(contained, None, run);
        let remaining = deadline.remaining().unwrap_or(Duration::MAX);
        let slice = if signalled.signal.is_some() {
            remaining.min(NEWCOMERS_EVERY)
        } else {
            remaining
        };
        if contained.wait_empty(slice) || remaining <= slice {
            return;
        }
    }
}

/// The leftovers as found: who each is, how it escaped, what it holds;
/// their fate still `Kept`.
fn describe_leftovers(
    members: &[Process],
    identities: Vec<Identity>,
    main: Option<&MainFacts>,
    reapers: &[i32],
    output: &OutputTargets,
) -> Vec<Leftover> {
    let main_ids = main.map_or((0, 0), |m| (m.sid, m.pgid));
    let pids: Vec<Pid> = members.iter().map(|p| p.pid()).collect();
    members
        .iter()
        .zip(identities)
        .zip(held_fds(&pids))
        .map(|((process, who), fds)| {
            let leader_gone = group_leader_gone(process.pid(), who.pgid, process.start_ticks());
            Leftover {
                pid: process.pid(),
                escaped: classify_escape((who.ppid, who.sid, who.pgid), main_ids, reapers, &fds, leader_gone),
                name: who.name,
                cmdline: who.cmdline,
                ppid: who.ppid,
                sid: who.sid,
                pgid: who.pgid,
                holds_output: output.held_in(&fds),
                fds,
                fate: Fate::Kept,
                ns_pid: None,
            }
        })
        .collect()
}

/// The PID the run's PID namespace gives `process`: what the command's
/// scripts and logs call it. Kept only if the process was not reaped by
/// the end of the read, so that the PID was still its own.
fn pid_in_namespace(process: &Process) -> Option<i32> {
    let own = crate::proc::status::read(Pid::current()).ok()?.nspid?;
    let theirs = crate::proc::status::read(process.pid()).ok()?.nspid?;
    let pid = pid_one_level_down(&own, &theirs)?;
    process.exists().unwrap_or(false).then_some(pid)
}

/// From `NSpid` of afterlife (`own`) and of a process of the run (`theirs`),
/// both as one /proc shows them (outermost first): the process's PID one
/// namespace below afterlife's, the run's own. Not the last of `theirs`: a
/// process in a namespace nested inside the run's has its PID there last.
/// Pure.
fn pid_one_level_down(own: &[i32], theirs: &[i32]) -> Option<i32> {
    theirs.get(own.len()).copied()
}

/// When the run started, on each clock the report uses.
struct Clock {
    start: Instant,
    /// Seconds since the Unix epoch.
    started_at: f64,
    /// `CLOCK_MONOTONIC` in microseconds, as `/dev/kmsg` stamps.
    started_us: u64,
}

impl Clock {
    fn now() -> Clock {
        Clock {
            start: Instant::now(),
            started_at: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            started_us: cause::monotonic_us(),
        }
    }
}

/// What watches the tree besides the containment: IPC objects, directories,
/// and afterlife's own output.
struct TreeWatches {
    ipc: IpcWatch,
    dirs: DirWatch,
    output: OutputTargets,
}

/// What the tree's end left to report.
struct TreeEnd {
    leftovers: Vec<Leftover>,
    ipc: Vec<crate::resources::ipc_left::IpcLeftover>,
    files: Vec<crate::supervise::dir_left::FileLeftover>,
    leaked: bool,
    peak: Option<PeakMemory>,
    oom_kills: Option<u64>,
    memory_events: bool,
    containment: crate::supervise::containment::Containment,
    pid_namespace: bool,
    cgroup: Option<PathBuf>,
}

/// Above this many PIDs handed out during the deadline's first pass, the
/// cursor does not tell which processes were born during it.
const IN_FLIGHT_LIMIT: usize = 4096;

/// How often, after the deadline's signal, the tree is looked at for
/// processes born since.
const NEWCOMERS_EVERY: Duration = Duration::from_millis(100);

/// Whether processes born after this step's signal get it too: the
/// deadline's signal to the whole tree, unless it is SIGKILL (the
/// containment ends every member) or signal 0 (nothing is sent). Pure.
fn tracks_newcomers(step: &Step) -> bool {
    step.reason == Reason::Deadline
        && step.to == Target::Tree
        && step.signal != Signal::KILL
        && step.signal.number() != 0
}

/// Sends a step's signal; how many processes got it. SIGKILL at the end of
/// the grace period goes through the containment (`cgroup.kill`, or a
/// freeze and kill of the whole tree).
fn send_step(step: &Step, contained: &Contained, main: Option<&Process>) -> usize {
    match (step.to, step.reason) {
        (Target::Tree, Reason::GraceExpired) => contained.kill_all(),
        (Target::Tree, _) => signal_all(contained, main, step.signal),
        _ => signal_main(main, step.signal),
    }
}

/// SIGCHLD: orphans of the tree that ended are our zombies now (we are its
/// subreaper) and are reaped; the main process and the keeper are left
/// alone. A stopped main process (Ctrl+Z) stops afterlife too.
fn on_child_event(main: Option<&Process>, keeper: Pid, terminal: Option<&Terminal>) {
    let spare: Vec<i32> = main
        .map(|m| m.pid().get())
        .into_iter()
        .chain(Some(keeper.get()))
        .collect();
    reap_orphans_except(&spare);
    if let (Some(terminal), Some(main)) = (terminal, main)
        && child_stopped(main)
    {
        stop_with(terminal, main);
    }
}

/// How the event loop ended.
struct Watched {
    status: ExitStatus,
    /// When the deadline passed (or SIGALRM came), after the start.
    timed_out_after: Duration,
    /// The main process's name (`comm`) as it died, when it was read: an
    /// `exec` after start may have changed it.
    name_at_exit: Option<String>,
    timed_out: bool,
    sent_kill: bool,
    /// When SIGKILL was still due, if it was.
    kill_at: Option<Instant>,
    /// The tree's processes that got the deadline's signal (PID and start
    /// time), while those born later are still to get it.
    signalled: Signalled,
}

/// Who got the deadline's signal, so that a process of the tree born
/// while it was being sent gets it too, once, as it is found.
#[derive(Default)]
struct Signalled {
    /// The signal, once the deadline sent it to the whole tree (not
    /// SIGKILL, which the containment delivers to every member).
    signal: Option<Signal>,
    /// The PID of each process it went to. A process born since with one
    /// of them would need its PID handed out anew within the grace period.
    got_it: BTreeSet<Pid>,
    /// The PIDs handed out while the first pass sent it (the allocator's
    /// cursor before the listing and after the last signal), once that
    /// pass is done; `None` inside it, or where the cursor cannot tell
    /// (unreadable, or too many PIDs handed out meanwhile).
    in_flight: Option<BTreeSet<i32>>,
    /// Whether the first pass has been made.
    passed: bool,
}

/// Whether a process of the tree found after the deadline's first pass
/// gets the signal: one born during the pass (`in_flight`), forked by a
/// member before its signal reached it, does; one born after the pass was
/// forked by a member that had the signal already, as its answer to it (a
/// shell trap's `rm` or `touch`), and is left to its parent, as coreutils'
/// `timeout` and systemd leave it. Where the cursor could not tell, each
/// gets it. Pure.
fn gets_late_signal(pid: Pid, in_flight: Option<&BTreeSet<i32>>) -> bool {
    in_flight.is_none_or(|pids| pids.contains(&pid.get()))
}

impl Signalled {
    /// Sends the signal to the members that have not had it (not the main
    /// process, which gets it alone); how many got it.
    fn newcomers(&mut self, contained: &Contained, main: Option<&Process>) -> usize {
        let Some(signal) = self.signal else { return 0 };
        let main = main.map(Process::pid);
        let first = !self.passed;
        let before = first.then(crate::terminate::freeze::read_last_pid).flatten();
        let born = contained.members_but(|pid| Some(pid) == main || self.got_it.contains(&pid));
        let mut sent = 0;
        for process in born {
            self.got_it.insert(process.pid());
            if !first && !gets_late_signal(process.pid(), self.in_flight.as_ref()) {
                continue;
            }
            if deliver(&process, signal) {
                if continues_after(signal, Reason::Deadline) {
                    deliver(&process, Signal::CONT);
                }
                sent += 1;
            }
        }
        if first {
            self.passed = true;
            let after = crate::terminate::freeze::read_last_pid();
            self.in_flight = before.zip(after).and_then(|(before, after)| {
                let pid_max = crate::terminate::freeze::read_pid_max();
                crate::terminate::freeze::born_between(before, after, pid_max, IN_FLIGHT_LIMIT)
                    .map(|pids| pids.into_iter().collect())
            });
        }
        sent
    }

    /// [`Signalled::newcomers`], noted in the timeline when any got it.
    fn give_newcomers(&mut self, contained: &Contained, main: Option<&Process>, run: &mut Run) {
        let born = self.newcomers(contained, main);
        if let (true, Some(signal)) = (born > 0, self.signal) {
            run.record(signal, Target::Newcomers, born, Reason::Deadline);
        }
    }
}

/// Restores the caller's `PR_SET_CHILD_SUBREAPER` setting when the run is
/// over (cgroup containment makes afterlife a subreaper for its run).
struct SubreaperGuard(Option<rustix::process::Pid>);

impl SubreaperGuard {
    fn save() -> SubreaperGuard {
        // EINVAL only before Linux 3.4: not a subreaper then.
        SubreaperGuard(rustix::process::child_subreaper().ok().flatten())
    }
}

impl Drop for SubreaperGuard {
    fn drop(&mut self) {
        let _ = rustix::process::set_child_subreaper(self.0);
    }
}

/// What the report needs to know of the main process, derived rather than
/// read from /proc: it keeps the start of every run cheap.
struct MainFacts {
    pid: Pid,
    /// `comm` as the kernel sets it on exec: the file name, at most 15 bytes.
    name: String,
    sid: i32,
    pgid: i32,
    uid: u32,
}

impl MainFacts {
    /// Takes the session and group the command really has, once it runs:
    /// a command started by the init of a new PID namespace cannot join
    /// afterlife's group (its ID means nothing there) and stays in the
    /// init's. Kept as derived if it has ended already.
    fn read_groups(&mut self, main: &Process) {
        if let Ok(stat) = crate::proc::stat::read(main.pid())
            && stat.starttime == main.start_ticks()
        {
            self.sid = stat.session;
            self.pgid = stat.pgrp;
        }
    }

    fn derive(pid: Pid, program: &std::ffi::OsStr, own_group: bool) -> MainFacts {
        let base = std::path::Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name: String = base
            .chars()
            .scan(0, |len, c| {
                *len += c.len_utf8();
                (*len <= 15).then_some(c)
            })
            .collect();
        // It has not called setsid before exec: its session is ours.
        // 0, as /proc shows it, when the session or group leader lives in
        // an ancestor PID namespace.
        let sid = Pid::own_session().map_or(0, Pid::get);
        let pgid = if own_group {
            pid.get()
        } else {
            Pid::own_group().map_or(0, Pid::get)
        };
        MainFacts {
            pid,
            name,
            sid,
            pgid,
            uid: rustix::process::geteuid().as_raw(),
        }
    }
}

struct Run {
    start: Instant,
    timeline: Vec<TimelineEvent>,
    on_signal: Option<SignalCallback>,
}

impl Run {
    fn record(&mut self, signal: Signal, to: Target, processes: usize, reason: Reason) {
        let event = TimelineEvent {
            at: self.start.elapsed().as_secs_f64(),
            signal,
            to,
            processes,
            reason,
        };
        if let Some(callback) = &mut self.on_signal {
            callback(&event);
        }
        self.timeline.push(event);
    }
}

/// What the event loop waits on besides timers: the signalfd, and the
/// `/dev/shm` creations of the IPC watch.
struct Sources<'a> {
    inbox: &'a SignalInbox,
    ipc: &'a mut IpcWatch,
}

/// Which sources `wait_events` found ready.
struct Ready {
    /// The main process's (its pidfd, or the keeper's reports).
    main: bool,
    /// The IPC watch's creations or forks.
    ipc_events: bool,
}

/// Waits for a signal, the main process's end, a `/dev/shm` creation, or
/// `wait`; which of the main process's source and the creations are ready.
fn wait_events(
    sources: &Sources<'_>,
    main: &Main,
    reports: Option<BorrowedFd<'_>>,
    wait: Option<Duration>,
) -> std::io::Result<Ready> {
    let main_fd: Option<BorrowedFd<'_>> = match main {
        Main::Child(process) => Some(process.pidfd()),
        Main::Kept(_) => reports,
    };
    let ipc_fds = sources.ipc.event_fds();
    let mut fds = vec![PollFd::new(sources.inbox.fd(), PollFlags::IN)];
    if let Some(fd) = &main_fd {
        fds.push(PollFd::new(fd, PollFlags::IN));
    }
    for fd in &ipc_fds {
        fds.push(PollFd::new(fd, PollFlags::IN));
    }
    let spec = wait.map(|d| Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    match rustix::event::poll(&mut fds, spec.as_ref()) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(e) => return Err(e.into()),
    }
    let ready = |at: usize| fds.get(at).is_some_and(|fd| !fd.revents().is_empty());
    let ipc_at = 1 + usize::from(main_fd.is_some());
    Ok(Ready {
        main: main_fd.is_some() && ready(1),
        ipc_events: (ipc_at..ipc_at + ipc_fds.len()).any(ready),
    })
}

/// The main process's status once its source is ready.
fn main_status(main: &Main, contained: &mut Contained) -> Result<MainEvent, SuperviseError> {
    match main {
        Main::Child(process) => {
            Ok(reap_child(process)?.map_or(MainEvent::Nothing, |(status, name)| MainEvent::Ended { status, name }))
        }
        Main::Kept(_) => match contained.keeper().next_report() {
            Some(Report::Exited(raw)) => Ok(ExitStatus::from_wait_status(raw)
                .map_or(MainEvent::Nothing, |status| MainEvent::Ended { status, name: None })),
            Some(Report::Stopped(_)) => Ok(MainEvent::Stopped),
            Some(_) => Ok(MainEvent::Nothing),
            None => Err(SuperviseError::Wait(
                "the keeper process ended before the command did".to_string(),
            )),
        },
    }
}

/// What the main process's event source said.
enum MainEvent {
    /// It ended; its name as it died, when that was read.
    Ended { status: ExitStatus, name: Option<String> },
    /// It was stopped (the keeper saw it; our own child we check on SIGCHLD).
    Stopped,
    /// Nothing yet.
    Nothing,
}

/// Reaps our own child through its pidfd (`waitid(P_PIDFD, WEXITED)`);
/// `None` if it has not exited yet. A child that SIGKILL ended is looked at
/// before it is reaped (`WNOWAIT`): its name as it died is what the kernel
/// log names an OOM kill by.
fn reap_child(process: &Process) -> Result<Option<(ExitStatus, Option<String>)>, SuperviseError> {
    use rustix::process::WaitIdOptions;
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
    let Some(status) = waitid_child(process, options | WaitIdOptions::NOWAIT)? else {
        return Ok(None);
    };
    let name = matches!(status, ExitStatus::Signaled { signal, .. } if signal == Signal::KILL)
        .then(|| crate::proc::read_lossy(&format!("/proc/{}/comm", process.pid())).ok())
        .flatten()
        .map(|comm| comm.trim_end_matches('\n').to_string());
    Ok(waitid_child(process, options)?.map(|status| (status, name)))
}

/// One `waitid(P_PIDFD)` on our own child, retried on `EINTR`.
fn waitid_child(
    process: &Process,
    options: rustix::process::WaitIdOptions,
) -> Result<Option<ExitStatus>, SuperviseError> {
    use rustix::process::WaitId;
    loop {
        match rustix::process::waitid(WaitId::PidFd(process.pidfd()), options) {
            Ok(Some(status)) => {
                let status = if let Some(code) = status.exit_status() {
                    ExitStatus::Exited { code: code as u8 }
                } else {
                    let signal = status
                        .terminating_signal()
                        .and_then(Signal::from_number)
                        .ok_or_else(|| SuperviseError::Wait(format!("process {}: no exit status", process.pid())))?;
                    ExitStatus::Signaled {
                        signal,
                        core_dumped: status.raw_code() == libc::CLD_DUMPED,
                    }
                };
                return Ok(Some(status));
            }
            Ok(None) => return Ok(None),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(SuperviseError::Wait(format!(
                    "waitid for process {}: {e}",
                    process.pid()
                )));
            }
        }
    }
}

/// Sends `signal`; whether it was sent (`false`: the process is gone).
/// The null signal ([`Signal::NULL`], `timeout -s 0`) sends nothing: the
/// process only has to be alive.
fn deliver(process: &Process, signal: Signal) -> bool {
    if signal == Signal::NULL {
        return !process.has_exited();
    }
    process.signal(signal).is_ok()
}

fn signal_main(main: Option<&Process>, signal: Signal) -> usize {
    // ESRCH: it has just ended; the loop sees that next.
    main.map_or(0, |p| usize::from(deliver(p, signal)))
}

/// The main process and the other members of its process group.
fn signal_group(main: Option<&Process>, signal: Signal) -> usize {
    let Some(main) = main else { return 0 };
    let mut sent = usize::from(deliver(main, signal));
    let table = ProcessTable::scan();
    // Its own group, or afterlife's when afterlife leads it (then afterlife
    // is passed over below).
    let Some(pgid) = table.get(main.pid()).map(|e| e.pgid) else {
        return sent;
    };
    for pid in table.pgroup_members(pgid) {
        if pid == main.pid() || pid == Pid::current() {
            continue;
        }
        let Some(entry) = table.get(pid) else { continue };
        // ESRCH: gone since the scan.
        if let Ok(process) = Process::open_expecting(pid, entry.start_ticks)
            && deliver(&process, signal)
        {
            sent += 1;
        }
    }
    sent
}

/// Every process of the tree, the main process first.
fn signal_all(contained: &Contained, main: Option<&Process>, signal: Signal) -> usize {
    let mut sent = signal_main(main, signal);
    for process in contained.members() {
        if main.is_some_and(|m| m.pid() == process.pid()) {
            continue;
        }
        // ESRCH: it ended since the listing.
        if deliver(&process, signal) {
            sent += 1;
        }
    }
    sent
}

/// Whether our own child, the main process, has stopped (Ctrl+Z).
fn child_stopped(main: &Process) -> bool {
    let stopped = rustix::process::waitid(
        rustix::process::WaitId::PidFd(main.pidfd().as_fd()),
        rustix::process::WaitIdOptions::STOPPED | rustix::process::WaitIdOptions::NOHANG,
    );
    matches!(stopped, Ok(Some(_)))
}

/// The command stopped (Ctrl+Z): stop too, as a shell's job would, and give
/// it the terminal again and continue it when we are continued (`fg`).
fn stop_with(terminal: &Terminal, main: &Process) {
    terminal.take_back();
    if let Ok(me) = Process::open(Pid::current()) {
        // We stop here until the shell continues us.
        let _ = me.signal(Signal::STOP);
    }
    terminal.give_to(main.pid());
    let _ = signal_group(Some(main), Signal::CONT);
}

/// Where the main process's core went, per core_pattern.
fn core_of(main: &MainFacts, signal: Signal, time: u64) -> Option<CoreDestination> {
    let (pattern, uses_pid) = read_core_settings()?;
    // The command ran in our working directory.
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let hostname = rustix::system::uname().nodename().to_string_lossy().into_owned();
    Some(core_destination(
        &pattern,
        uses_pid,
        &CoreFacts {
            pid: main.pid.get(),
            name: &main.name,
            cwd: &cwd,
            signal,
            time,
            hostname: &hostname,
            uid: main.uid,
        },
    ))
}

fn oom_check(oom_kills: Option<u64>, memory_events: bool, main: Option<(Pid, &str)>, since_us: u64) -> OomCheck {
    if memory_events {
        return OomCheck {
            verdict: OomVerdict::from_killed(oom_kills.unwrap_or(0) > 0),
            source: "memory.events".to_string(),
        };
    }
    let initial = crate::process::in_initial_pid_namespace();
    let target = main.map(|(pid, name)| {
        if initial {
            OomTarget::Pid(pid.get())
        } else {
            let uid = std::fs::read_to_string("/proc/self/uid_map")
                .ok()
                .and_then(|map| cause::kernel_uid(&map, rustix::process::geteuid().as_raw()));
            OomTarget::Name { name, uid }
        }
    });
    let source = if initial {
        "kernel log"
    } else {
        "kernel log, by name and user (this PID namespace's PIDs are not the log's)"
    };
    match target.and_then(|target| cause::kernel_log_oom(target, since_us)) {
        Some(killed) => OomCheck {
            verdict: OomVerdict::from_killed(killed),
            source: source.to_string(),
        },
        None => OomCheck {
            verdict: OomVerdict::Unknown,
            source: "no memory controller on cgroup v2 and the kernel log is not readable".to_string(),
        },
    }
}

/// The largest resident set of any process we reaped, in bytes.
fn largest_child_rss() -> Option<u64> {
    let kib = crate::sys::linux::process::children_max_rss_kib().ok()?;
    // ru_maxrss is in kilobytes (getrusage(2)).
    (kib > 0).then(|| kib as u64 * 1024)
}

/// Reaps any orphans reparented to us that have ended.
/// Reaps ended children except `spare`, which are reaped through their
/// pidfds: `waitid(WNOWAIT)` shows who is next without reaping it.
fn reap_orphans_except(spare: &[i32]) {
    use rustix::process::{WaitId, WaitIdOptions};
    // None: no child has ended, or none is left (ECHILD).
    while let Some(pid) = crate::sys::linux::process::peek_ended_child() {
        if spare.contains(&pid) {
            return;
        }
        let Some(pid) = rustix::process::Pid::from_raw(pid) else {
            return;
        };
        let _ = rustix::process::waitid(WaitId::Pid(pid), WaitIdOptions::EXITED | WaitIdOptions::NOHANG);
    }
}

fn reap_orphans() {
    // For any of our children, without blocking; our main process and
    // keeper were reaped through their pidfds already. ECHILD: none left.
    while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_process_born_during_the_deadlines_pass_gets_it_late() {
        let pid = |n| Pid::new(n).unwrap();
        let in_flight: BTreeSet<i32> = [501, 502].into_iter().collect();
        assert!(gets_late_signal(pid(502), Some(&in_flight)));
        // Born after the pass: a member's answer to the signal.
        assert!(!gets_late_signal(pid(503), Some(&in_flight)));
        // The cursor could not tell: each one gets it.
        assert!(gets_late_signal(pid(503), None));
    }

    #[test]
    fn a_leftovers_namespace_pid_is_the_runs_not_a_deeper_ones() {
        // afterlife in the initial namespace; the run's namespace below it.
        assert_eq!(pid_one_level_down(&[900], &[1205, 5]), Some(5));
        // A process that made a namespace of its own inside the run's.
        assert_eq!(pid_one_level_down(&[900], &[1207, 6, 1]), Some(6));
        // afterlife itself nested one level down.
        assert_eq!(pid_one_level_down(&[900, 2], &[1209, 7, 3]), Some(3));
        assert_eq!(pid_one_level_down(&[900], &[1210]), None);
    }
}
