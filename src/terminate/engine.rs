//! One termination, start to end: select, contain, signal, wait, escalate,
//! report. The decisions come from [`crate::terminate::plan::next_step`];
//! this loop only carries them out and waits on pidfds.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::exit::ExitStatus;
use crate::proc;
use crate::process::fd_limit::{self, FdLimit};
use crate::process::{ExitObservation, Pid, Process, ProcessState, ProcessTable, ReadError, WaitError};
use crate::signal::Signal;
use crate::terminate::cgroup::{Cgroup, CgroupError};
use crate::terminate::freeze::{Exits, FrozenCgroups, HoldSignals, Watch, entry_of, held_by_v1_freezer, stop_and_walk};
use crate::terminate::plan::{Finish, Phase, Step, TerminationPlan, burst_pause, next_step};
use crate::terminate::report::{
    Containment, EndedBy, Outcome, ProcessReport, Reaper, SurvivorContext, SurvivorReason, TerminationReport,
    survivor_reason, zombie_reaper,
};
use crate::terminate::select::{
    Anchors, Guard, LeftByLeader, NameMatch, Scope, SelectError, matching, real_uid, select,
};
use crate::terminate::targets::{ExitWaiter, Targets, title_of};

/// How often the selection is walked again while waiting, to catch
/// processes forked after the signal.
const REWALK_EVERY: Duration = Duration::from_millis(50);

/// How long to wait for a cgroup to report itself frozen (a process in
/// uninterruptible sleep delays it); afterwards afterlife goes on.
const FREEZE_WAIT: Duration = Duration::from_secs(1);

/// What to end and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The named PIDs.
    pub pids: Vec<Pid>,
    /// Select by name instead (pkill's way): the processes whose name
    /// matches, found in the first scan.
    pub names: Option<NameMatch>,
    /// What they stand for.
    pub scope: Scope,
    /// The signal plan.
    pub plan: TerminationPlan,
    /// Lift the refusals of PID 1, ancestors and kernel threads.
    pub force: bool,
    /// Only say what would be signalled.
    pub dry_run: bool,
    /// Use `cgroup.freeze`/`cgroup.kill` when a tree is exactly one cgroup.
    pub use_cgroup: bool,
}

impl Request {
    /// A request with the default plan.
    pub fn new(pids: Vec<Pid>, scope: Scope) -> Request {
        Request {
            pids,
            names: None,
            scope,
            plan: TerminationPlan::default(),
            force: false,
            dry_run: false,
            use_cgroup: true,
        }
    }
}

/// A termination failed as a whole (per-process failures such as `EPERM`
/// are in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum TerminateError {
    /// A named PID does not exist, or its session or group cannot be told.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// Waiting on pidfds failed.
    #[error(transparent)]
    Wait(#[from] WaitError),
    /// The cgroup could not be frozen or killed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// Pinning every member down needs one pidfd each, more than afterlife
    /// may open: nothing was signalled.
    #[error(
        "the selection has {members} processes and afterlife needs a file descriptor for each, \
         but it may have only {limit} open (RLIMIT_NOFILE); raise the limit to at least {needed} \
         (ulimit -n) and try again; nothing was signalled"
    )]
    FdLimit {
        /// Processes selected.
        members: usize,
        /// The soft limit, after raising it as far as allowed.
        limit: u64,
        /// The limit that would do.
        needed: u64,
    },
}

/// File descriptors kept free beyond one per member: /proc reads, the
/// epoll set, cgroup files, threads' own.
pub(crate) const FD_SLACK: u64 = 32;

/// Refuses a selection that cannot be pinned down whole, before any signal:
/// `to_open` more pidfds are needed.
fn check_fd_room(members: usize, to_open: usize) -> Result<(), TerminateError> {
    let Some((open, limit)) = fd_limit::usage() else {
        return Ok(());
    };
    let needed = open + to_open as u64 + FD_SLACK;
    if needed > limit {
        return Err(TerminateError::FdLimit { members, limit, needed });
    }
    Ok(())
}

/// Ends the selected processes following the plan and reports on each.
///
/// While it runs, afterlife's own fd limit is raised ([`FdLimit`]): it holds
/// a pidfd for every target at once.
pub fn terminate(request: &Request) -> Result<TerminationReport, TerminateError> {
    terminate_observed(request, &mut |_| {})
}

/// Like [`terminate`], telling `observer` where the wait stands (at least
/// every [`PROGRESS_EVERY`] while it waits): who is left and how long
/// until the next move.
pub fn terminate_observed(
    request: &Request,
    observer: &mut dyn FnMut(&Progress),
) -> Result<TerminationReport, TerminateError> {
    let _fds = FdLimit::raise();
    let boost = Boost::raise(request.dry_run);
    run_request(request, Watch::scan(), boost, Some(observer))
}

/// How often an observer hears of the wait.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Where a termination's wait stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Processes signalled so far (ended or not).
    pub total: usize,
    /// Those still awaited: PID and name (or title), named ones first.
    pub waiting: Vec<(Pid, String)>,
    /// What happens when `left` has passed.
    pub next: NextMove,
    /// Time until then.
    pub left: Duration,
}

/// What follows the current wait if targets are still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextMove {
    /// `SIGKILL` to what is left.
    Kill,
    /// The report, with what is left as survivors.
    Report,
}

/// Like [`terminate`], with the caller's scan of the process table. Each
/// member is opened expecting the start time this scan recorded, so a
/// member whose PID went to another process since the scan is reported as
/// ended and the newer process is left alone.
pub fn terminate_with_scan(request: &Request, table: &ProcessTable) -> Result<TerminationReport, TerminateError> {
    let _fds = FdLimit::raise();
    let boost = Boost::raise(request.dry_run);
    run_request(request, Watch::from_table(table), boost, None)
}

/// The highest scheduling priority (nice -20) for afterlife's threads from
/// the first scan until the first signal has reached every target, when the
/// caller may raise it (`CAP_SYS_NICE`; otherwise nothing changes).
///
/// A tree being ended may keep every core busy (busy loops, a fork loop);
/// at the default priority afterlife gets one fair share among them, and
/// scanning, opening and stopping a thousand processes takes several times
/// longer. The priority goes back to what it was before afterlife waits
/// for the exits, so that the dying processes (and whoever watches them)
/// are not held back by the report. Nice values are per thread
/// (setpriority(2), NOTES); threads started meanwhile inherit the raised
/// value and end before it is restored.
struct Boost {
    previous: Option<i32>,
}

impl Boost {
    const HIGHEST: i32 = -20;

    fn raise(dry_run: bool) -> Boost {
        let previous = if dry_run {
            None
        } else {
            rustix::process::getpriority_process(None).ok().filter(|&previous| {
                // EPERM/EACCES without CAP_SYS_NICE: the priority stays as it is.
                previous > Self::HIGHEST && rustix::process::setpriority_process(None, Self::HIGHEST).is_ok()
            })
        };
        Boost { previous }
    }

    fn none() -> Boost {
        Boost { previous: None }
    }
}

impl Drop for Boost {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            // Raising a nice value is always allowed.
            let _ = rustix::process::setpriority_process(None, previous);
        }
    }
}

fn run_request(
    request: &Request,
    mut watch: Watch,
    boost: Boost,
    observer: Option<&mut dyn FnMut(&Progress)>,
) -> Result<TerminationReport, TerminateError> {
    let table = watch.table();
    let guard = Guard::for_current(table, request.force);
    let named = match &request.names {
        Some(names) => matching(table, names, &guard, real_uid),
        None => request.pids.clone(),
    };
    if request.names.is_some() && named.is_empty() {
        return Ok(no_match(request));
    }
    let (selected, anchors) = select(table, &named, request.scope, &guard).map_err(SelectError::hidden_if_unlisted)?;
    let mut targets = Targets::new(guard, anchors);
    // With SIGKILL first, speed comes first: one read fewer per member.
    targets.read_titles = !request.plan.starts_with_kill();
    targets.refuse(selected.refused, table);
    if request.dry_run {
        return Ok(dry_run(request, &targets, selected.members, table));
    }
    let members: Vec<Pid> = selected.members.iter().map(|m| m.pid).collect();
    let table = table.clone();
    watch.hold(&members);
    let cgroup = if request.scope == Scope::Tree && request.use_cgroup && request.plan.freezes() {
        tree_cgroup(&targets.anchors, &members, &mut watch)
    } else {
        None
    };
    let already_open = watch.release_held_except(&members);
    check_fd_room(members.len(), members.len() - already_open)?;
    // Without a cgroup, each member is stopped as soon as it is opened;
    // from then until every member has been continued or killed, afterlife
    // must not be ended or stopped itself.
    let stop = cgroup.is_none() && request.plan.freezes();
    let held = stop.then(HoldSignals::hold);
    if stop {
        targets.frozen = FrozenCgroups::around(selected.members.iter().filter(|m| m.named).map(|m| m.pid));
    }
    targets.adopt_stopping(selected.members, &table, stop, |m| {
        watch.take_held(m.pid, m.start_ticks)
    });
    watch.release_held();
    let zombies = targets.list.iter().filter(|t| t.named && t.was_zombie).map(|t| t.pid());
    let left_by_leaders = left_by_leaders(request.scope, zombies, &table);
    let mut report = run(
        request.scope,
        &request.plan,
        targets,
        cgroup,
        watch,
        boost,
        held,
        observer,
    )?;
    report.left_by_leaders = left_by_leaders;
    Ok(report)
}

/// The report of a name that matched no process: nothing was signalled.
fn no_match(request: &Request) -> TerminationReport {
    TerminationReport::new(
        request.scope,
        request.plan,
        request.dry_run,
        Containment::None,
        None,
        Duration::ZERO,
        Vec::new(),
    )
}

/// Ends one process the caller holds, following the plan.
pub(crate) fn terminate_process(process: &Process, plan: &TerminationPlan) -> Result<ProcessReport, TerminateError> {
    let (name, ppid) = match process.info() {
        Ok(info) => (info.name, info.ppid),
        // Gone already: it is reported as ended before any signal.
        Err(_) => (String::new(), 0),
    };
    let anchors = Anchors {
        scope: Scope::Pids,
        roots: vec![process.pid()],
        sessions: BTreeSet::new(),
        groups: BTreeSet::new(),
    };
    let guard = Guard {
        me: Pid::current(),
        ancestors: BTreeSet::new(),
        force: true,
    };
    let mut targets = Targets::new(guard, anchors);
    if process.pid() == Pid::current() {
        return Ok(ProcessReport {
            diagnosis: None,
            pid: process.pid(),
            title: None,
            name,
            ppid,
            named: true,
            sent: Vec::new(),
            outcome: Outcome::Alive {
                state: None,
                reason: SurvivorReason::Refused {
                    refusal: crate::terminate::select::Refusal::Itself,
                },
            },
        });
    }
    targets.adopt_handle(process, name, ppid);
    let mut report = run(
        Scope::Pids,
        plan,
        targets,
        None,
        Watch::from_table(&ProcessTable::default()),
        Boost::none(),
        None,
        None,
    )?;
    Ok(report.processes.remove(0))
}

fn dry_run(
    request: &Request,
    targets: &Targets<'_>,
    members: Vec<crate::terminate::select::Member>,
    table: &ProcessTable,
) -> TerminationReport {
    // As a real run says it: a member that has already exited (a zombie)
    // would be sent nothing, and a named one may have led a group or
    // session that runs on.
    // Each member's exit looked at once, so that the outcome and the
    // leaders' note agree.
    let opened: Vec<Option<(Process, bool)>> = members
        .iter()
        .map(|m| Process::open_expecting(m.pid, m.start_ticks).ok())
        .map(|p| {
            p.map(|p| {
                let exited = p.has_exited();
                (p, exited)
            })
        })
        .collect();
    let zombies = members
        .iter()
        .zip(&opened)
        .filter(|(m, p)| m.named && p.as_ref().is_some_and(|(_, exited)| *exited))
        .map(|(m, _)| m.pid);
    let left_by_leaders = left_by_leaders(request.scope, zombies, table);
    let mut processes: Vec<ProcessReport> = members
        .into_iter()
        .zip(opened)
        .map(|(m, process)| {
            let (outcome, diagnosis) = dry_run_outcome(process.as_ref());
            ProcessReport {
                diagnosis,
                pid: m.pid,
                title: process.as_ref().and_then(|(p, _)| title_of(p, &m.name)),
                ppid: table.get(m.pid).map_or(0, |e| e.ppid),
                outcome,
                name: m.name,
                named: m.named,
                sent: Vec::new(),
            }
        })
        .collect();
    processes.extend(refused_reports(targets));
    let mut report = TerminationReport::new(
        request.scope,
        request.plan,
        true,
        Containment::None,
        None,
        Duration::ZERO,
        processes,
    );
    report.left_by_leaders = left_by_leaders;
    report
}

/// What a dry run says of one member, as a real run would find it: ended
/// already (a zombie), a survivor afterlife may not signal (`EPERM`, asked
/// with the null signal, which sends nothing; with the diagnosis a real
/// run gives), or one it would signal.
fn dry_run_outcome(process: Option<&(Process, bool)>) -> (Outcome, Option<Box<crate::resist::Diagnosis>>) {
    match process {
        Some((p, true)) => (ended_before_signal(p), None),
        Some((p, false)) if matches!(p.may_signal(), Ok(false)) => (
            Outcome::Alive {
                state: p.info().ok().map(|info| info.state),
                reason: SurvivorReason::PermissionDenied,
            },
            crate::resist::diagnose(p).ok().map(Box::new),
        ),
        _ => (Outcome::WouldSignal, None),
    }
}

/// The named zombies (`zombies`) that led a group or session still running:
/// ending one, or its tree (which its former children left when it died),
/// leaves the others. A `--pgroup` or `--session` selection reaches them.
fn left_by_leaders(scope: Scope, zombies: impl Iterator<Item = Pid>, table: &ProcessTable) -> Vec<LeftByLeader> {
    match scope {
        Scope::Pids | Scope::Tree => zombies.filter_map(|pid| LeftByLeader::of(table, pid)).collect(),
        Scope::Session | Scope::Pgroup => Vec::new(),
    }
}

/// What a dry run says of a member that has exited (a zombie), opened
/// through a pidfd checked against the scan's start time: it ended before
/// any signal, as a real run would report it.
fn ended_before_signal(process: &Process) -> Outcome {
    let unreaped_by = process
        .info()
        .ok()
        .filter(|info| info.state == ProcessState::Zombie)
        .map(|info| zombie_reaper(&info, name_of));
    Outcome::Ended {
        by: EndedBy::BeforeSignal,
        after_seconds: None,
        status: process.peek_exit_observation().ok().map(Into::into),
        unreaped_by,
    }
}

fn refused_reports(targets: &Targets<'_>) -> Vec<ProcessReport> {
    targets
        .refused
        .iter()
        .map(|(r, ppid)| ProcessReport {
            diagnosis: None,
            pid: r.member.pid,
            title: None,
            name: r.member.name.clone(),
            ppid: *ppid,
            named: r.member.named,
            sent: Vec::new(),
            outcome: Outcome::Alive {
                state: read_state(r.member.pid),
                reason: SurvivorReason::Refused { refusal: r.refusal },
            },
        })
        .collect()
}

fn read_state(pid: Pid) -> Option<crate::process::ProcessState> {
    crate::process::ProcessInfo::read(pid).ok().map(|i| i.state)
}

/// The cgroup to use for a tree: every named root in one non-root cgroup we
/// may write, every process of that cgroup's subtree in the tree, and every
/// tree member in that subtree.
fn tree_cgroup(anchors: &Anchors, members: &[Pid], watch: &mut Watch) -> Option<Cgroup> {
    let first = *anchors.roots.first()?;
    let cgroup = Cgroup::of_process(first).ok()?;
    if cgroup.is_root() || !cgroup.writable() {
        return None;
    }
    for &root in &anchors.roots[1..] {
        if Cgroup::of_process(root).ok()? != cgroup {
            return None;
        }
    }
    let before = cgroup.procs_recursive().ok()?;
    watch.refresh();
    let table = watch.table();
    let mut tree: BTreeSet<Pid> = anchors.roots.iter().copied().collect();
    for &root in &anchors.roots {
        tree.extend(table.descendants(root));
    }
    tree.extend(members.iter().copied());
    let after = cgroup.procs_recursive().ok()?;
    let in_cgroup = |pid: Pid| {
        after.contains(&pid) || {
            // Not listed: it exited (zombies leave cgroup.procs) or it is
            // elsewhere.
            match proc::cgroup::read(pid) {
                Ok(groups) => {
                    let exited = proc::stat::read(pid).map_or(true, |s| s.state == 'Z');
                    exited || proc::cgroup::v2_path(&groups).is_some_and(|path| cgroup.contains(&cgroup.at(&path)))
                }
                // ENOENT: it is gone.
                Err(_) => true,
            }
        }
    };
    let exact = covers(&before, &tree, |pid| table.get(pid).is_some()) && tree.iter().all(|&pid| in_cgroup(pid));
    exact.then_some(cgroup)
}

/// What ended a process, with its exit status as the last word. One seen
/// to end only after `SIGKILL` was sent may have died of the first signal
/// just before (its exit noticed late, on a busy machine); its status then
/// says so. One killed by a signal afterlife did not send (`sent`: SIGINT
/// or SIGKILL from another process, a SIGABRT its own SIGTERM handler
/// raised, the kernel's SIGHUP to an orphaned group) ended by
/// [`EndedBy::OtherSignal`], whatever afterlife had sent by then. Pure.
pub(crate) fn ended_by_status(by: EndedBy, observation: Option<&ExitObservation>, sent: &[Signal]) -> EndedBy {
    let Some(ExitObservation::Known { status, .. }) = observation else {
        return by;
    };
    match (by, status) {
        (EndedBy::BeforeSignal, _) => by,
        (_, ExitStatus::Signaled { signal, .. }) if !sent.contains(signal) => EndedBy::OtherSignal,
        (_, ExitStatus::Signaled { signal, .. }) if *signal == Signal::KILL => EndedBy::Kill,
        (EndedBy::Kill, _) => EndedBy::Signal,
        _ => by,
    }
}

/// Whether one pass of the task iterator over a machine of `processes` is
/// cheaper than reading the status of each of `ended` members alone: a
/// pass costs about a microsecond a task, a zombie's own `/proc/PID/stat`
/// about ten (a reaped one's pidfd, one ioctl). A kill of a few processes
/// on a large machine reads them alone. Pure.
pub(crate) fn one_pass_for_exits(ended: usize, processes: usize) -> bool {
    ended > 0 && ended.saturating_mul(10) >= processes
}

/// Whether every process listed in the cgroup is in the tree or gone by
/// the time of the scan.
pub(crate) fn covers(cgroup_procs: &BTreeSet<Pid>, tree: &BTreeSet<Pid>, alive: impl Fn(Pid) -> bool) -> bool {
    cgroup_procs.iter().all(|&pid| tree.contains(&pid) || !alive(pid))
}

struct Run<'a> {
    plan: TerminationPlan,
    targets: Targets<'a>,
    cgroup: Option<Cgroup>,
    start: Instant,
    phase: Phase,
    phase_start: Instant,
    /// Walks of the freeze before the first signal.
    walks: usize,
    /// Members the freeze stopped.
    stopped: usize,
    /// The cgroup's own `cgroup.freeze` was set before afterlife came.
    already_frozen: bool,
    watch: Watch,
}

#[allow(clippy::too_many_arguments)]
fn run(
    scope: Scope,
    plan: &TerminationPlan,
    targets: Targets<'_>,
    cgroup: Option<Cgroup>,
    watch: Watch,
    boost: Boost,
    held: Option<HoldSignals>,
    observer: Option<&mut dyn FnMut(&Progress)>,
) -> Result<TerminationReport, TerminateError> {
    let now = Instant::now();
    let mut run = Run {
        plan: *plan,
        targets,
        start: now,
        phase: Phase::Graceful,
        phase_start: now,
        walks: 0,
        stopped: 0,
        already_frozen: cgroup.as_ref().is_some_and(Cgroup::freeze_requested),
        cgroup,
        watch,
    };
    run.first_signal()?;
    drop(held);
    drop(boost);
    let finish = run.wait_and_escalate(observer)?;
    let containment = match (&run.cgroup, plan.freezes()) {
        (Some(cgroup), _) => Containment::Cgroup {
            path: cgroup.relative().to_string(),
            left_frozen: run.already_frozen,
        },
        (None, true) if run.stopped > 0 => Containment::Freeze {
            stopped: run.stopped,
            walks: run.walks,
        },
        (None, _) => Containment::None,
    };
    let elapsed = run.start.elapsed();
    let processes = run.reports();
    Ok(TerminationReport::new(
        scope,
        *plan,
        false,
        containment,
        Some(finish),
        elapsed,
        processes,
    ))
}

impl Run<'_> {
    fn first_signal(&mut self) -> Result<(), TerminateError> {
        let signal = self.plan.signal;
        if let Some(cgroup) = self.cgroup.clone() {
            if self.plan.starts_with_kill() {
                self.adopt_cgroup_members(&cgroup)?;
                if self.cgroup_kill(&cgroup).is_ok() {
                    self.phase = Phase::Killed;
                    self.phase_start = Instant::now();
                    return Ok(());
                }
            } else if self.already_frozen || cgroup.freeze().is_ok() {
                // Whatever happens while frozen, the cgroup is thawed again,
                // unless it was frozen before afterlife came: that freeze is
                // someone else's to lift. A signal whose default action ends
                // a process ends it even frozen; a handled one waits.
                let signalled = self.signal_frozen(&cgroup, signal);
                let thawed = if self.already_frozen { Ok(()) } else { cgroup.thaw() };
                signalled?;
                thawed?;
                self.phase_start = Instant::now();
                return Ok(());
            }
            // The cgroup refused the first write (its files changed hands
            // since the check): stop and walk instead.
            self.cgroup = None;
        }
        if self.plan.freezes() {
            let _held = HoldSignals::hold();
            self.walks = stop_and_walk(&mut self.targets, &mut self.watch);
            self.stopped = self.targets.list.iter().filter(|t| t.held_stopped()).count();
            self.start = Instant::now();
            // Deepest first, each stopped member continued right after its
            // signal (SIGKILL ends a stopped member at once): no process
            // group is orphaned while one of its members is held stopped.
            let pending = self.targets.pending();
            let then_continue = self.plan.continues_after_signal();
            self.targets
                .send_deepest_first(pending, signal, then_continue, self.watch.table());
            if self.plan.starts_with_kill() {
                self.phase = Phase::Killed;
            }
        } else {
            self.start = Instant::now();
            self.targets.send_all(signal, true);
        }
        self.phase_start = Instant::now();
        Ok(())
    }

    fn signal_frozen(&mut self, cgroup: &Cgroup, signal: Signal) -> Result<(), TerminateError> {
        cgroup.wait_frozen(FREEZE_WAIT)?;
        self.adopt_cgroup_members(cgroup)?;
        self.start = Instant::now();
        self.targets.send_all(signal, true);
        Ok(())
    }

    /// Opens the processes the cgroup lists that are not targets yet. Only
    /// their rows are read: `cgroup.procs` lists processes, not threads, so
    /// no table refresh is needed (a tree that forks while it is scanned
    /// would make that refresh read every PID born meanwhile).
    fn adopt_cgroup_members(&mut self, cgroup: &Cgroup) -> Result<(), TerminateError> {
        let listed: Vec<Pid> = cgroup
            .procs_recursive()?
            .into_iter()
            .filter(|pid| !self.targets.known.contains(pid))
            .collect();
        // Each row read, then the cgroup of the process at its PID: the
        // row's start time, checked as the member is opened, makes both the
        // listed process's, not a process given its PID after it ended.
        let rows = listed
            .into_iter()
            .filter_map(|pid| entry_of(pid.get()))
            .filter(|entry| cgroup.subtree_has_process(entry.pid));
        let table = ProcessTable::from_entries(rows);
        let members: Vec<_> = table
            .entries()
            .filter(|entry| self.targets.guard.refusal(entry).is_none())
            .map(|entry| crate::terminate::select::Member {
                pid: entry.pid,
                start_ticks: entry.start_ticks,
                name: entry.name.clone(),
                named: false,
            })
            .collect();
        self.targets.adopt(members, &table);
        Ok(())
    }

    fn cgroup_kill(&mut self, cgroup: &Cgroup) -> Result<(), TerminateError> {
        cgroup.kill()?;
        for target in self.targets.list.iter_mut().filter(|t| t.pending()) {
            target.sent.push(Signal::KILL);
        }
        Ok(())
    }

    /// Records exits that happened but were not noticed yet (a busy
    /// machine): SIGKILL then goes only to what is still alive, and the
    /// report does not say it was needed.
    fn note_exits_now(&mut self) {
        let at = self.start.elapsed();
        for target in self.targets.list.iter_mut().filter(|t| t.pending()) {
            if target.handle.has_exited() {
                target.note_exited(Some(at));
            }
        }
    }

    fn escalate(&mut self) -> Result<(), TerminateError> {
        self.note_exits_now();
        if let Some(cgroup) = self.cgroup.clone() {
            self.adopt_cgroup_members(&cgroup)?;
            self.cgroup_kill(&cgroup)?;
        } else {
            let _held = self.plan.freezes().then(HoldSignals::hold);
            if self.plan.freezes() {
                stop_and_walk(&mut self.targets, &mut self.watch);
            }
            let pending = self.targets.pending();
            self.targets
                .send_deepest_first(pending, Signal::KILL, false, self.watch.table());
        }
        self.phase = Phase::Killed;
        self.phase_start = Instant::now();
        Ok(())
    }

    /// Catches members forked since the last walk and sends them the
    /// graceful signal.
    fn rewalk(&mut self) -> Result<(), TerminateError> {
        if self.targets.anchors.scope == Scope::Pids || self.phase != Phase::Graceful {
            return Ok(());
        }
        let new = if let Some(cgroup) = self.cgroup.clone() {
            let before = self.targets.list.len();
            self.adopt_cgroup_members(&cgroup)?;
            (before..self.targets.list.len()).collect()
        } else {
            self.watch.refresh();
            self.targets.walk_new(self.watch.table())
        };
        for index in new {
            self.targets.send(index, self.plan.signal, true);
        }
        Ok(())
    }

    fn wait_and_escalate(&mut self, mut observer: Option<&mut dyn FnMut(&Progress)>) -> Result<Finish, TerminateError> {
        let mut last_walk = Instant::now();
        let mut waiter = ExitWaiter::new()?;
        loop {
            let pending = self.targets.pending_count();
            match next_step(&self.plan, self.phase, self.phase_start.elapsed(), pending) {
                Step::Finish(finish) => return Ok(finish),
                Step::Escalate => self.escalate()?,
                Step::Wait(left) => {
                    let mut slice = if self.targets.anchors.scope == Scope::Pids {
                        left
                    } else {
                        left.min(REWALK_EVERY.saturating_sub(last_walk.elapsed()))
                    };
                    if let Some(observer) = observer.as_mut() {
                        observer(&self.progress(left));
                        slice = slice.min(PROGRESS_EVERY);
                    }
                    waiter.watch_pending(&self.targets)?;
                    let ready = waiter.wait(slice)?;
                    let at = self.start.elapsed();
                    let read_now = !self.watch.reads_exits_in_one_pass();
                    for index in &ready {
                        let target = &mut self.targets.list[*index];
                        target.note_exited(Some(at));
                        if read_now {
                            target.exit_seen = target.handle.exit_observation_now();
                        }
                    }
                    if let Some(pause) = burst_pause(ready.len(), self.targets.pending_count()) {
                        std::thread::sleep(pause.min(slice));
                    }
                    if last_walk.elapsed() >= REWALK_EVERY {
                        self.rewalk()?;
                        last_walk = Instant::now();
                    }
                }
            }
        }
    }

    /// Who is still awaited, and what follows in `left`.
    fn progress(&self, left: Duration) -> Progress {
        let waiting = self
            .targets
            .pending()
            .into_iter()
            .map(|i| {
                let target = &self.targets.list[i];
                (
                    target.pid(),
                    target.title.clone().unwrap_or_else(|| target.name.clone()),
                )
            })
            .collect();
        let next = if self.phase == Phase::Graceful && self.plan.escalate {
            NextMove::Kill
        } else {
            NextMove::Report
        };
        Progress {
            total: self.targets.list.len(),
            waiting,
            next,
            left,
        }
    }

    fn reports(&self) -> Vec<ProcessReport> {
        // As root, one pass of the task iterator gives every zombie's
        // status (a thousand /proc reads otherwise), where enough of them
        // ended to be worth a pass over every process.
        let ended = self
            .targets
            .list
            .iter()
            .filter(|t| t.ended.is_some() && t.exit_seen.is_none())
            .count();
        let exits = one_pass_for_exits(ended, self.watch.table().len())
            .then(|| self.watch.exits())
            .flatten();
        // Members whose children go to a reaper: those that ended.
        let gone: BTreeSet<Pid> = self
            .targets
            .list
            .iter()
            .filter(|t| t.ended.is_some() || t.was_zombie)
            .map(|t| t.pid())
            .collect();
        let mut reports: Vec<ProcessReport> = self
            .targets
            .list
            .iter()
            .map(|t| self.report(t, exits.as_ref(), &gone))
            .collect();
        reports.extend(refused_reports(&self.targets));
        for (unopened, reason) in &self.targets.unopened {
            reports.push(ProcessReport {
                diagnosis: None,
                pid: unopened.member.pid,
                title: None,
                name: unopened.member.name.clone(),
                ppid: unopened.ppid,
                named: unopened.member.named,
                sent: Vec::new(),
                outcome: Outcome::Alive {
                    state: None,
                    reason: reason.clone(),
                },
            });
        }
        for vanished in &self.targets.vanished {
            reports.push(ProcessReport {
                diagnosis: None,
                pid: vanished.member.pid,
                title: None,
                name: vanished.member.name.clone(),
                ppid: vanished.ppid,
                named: vanished.member.named,
                sent: Vec::new(),
                outcome: Outcome::Ended {
                    by: EndedBy::BeforeSignal,
                    after_seconds: None,
                    status: None,
                    unreaped_by: None,
                },
            });
        }
        reports
    }

    fn report(
        &self,
        target: &crate::terminate::targets::Target<'_>,
        exits: Option<&Exits>,
        gone: &BTreeSet<Pid>,
    ) -> ProcessReport {
        let base = |outcome| ProcessReport {
            diagnosis: None,
            pid: target.pid(),
            name: target.name.clone(),
            title: target.title.clone(),
            ppid: target.ppid,
            named: target.named,
            sent: target.sent.clone(),
            outcome,
        };
        let observation = || target.handle.peek_exit_observation().ok();
        let status = || observation().map(Into::into);
        if let Some((at, by)) = target.ended {
            let observation = match (&target.exit_seen, exits.and_then(|e| e.zombie_status(&target.handle))) {
                (Some(seen), _) => Ok(seen.clone()),
                (None, Some(raw)) => target.handle.zombie_exit_observation(raw),
                (None, None) => target.handle.peek_exit_observation(),
            }
            .ok();
            return base(Outcome::Ended {
                by: ended_by_status(by, observation.as_ref(), &target.sent),
                after_seconds: at.map(|d| d.as_secs_f64()),
                status: observation.map(Into::into),
                unreaped_by: unreaped_by(target, gone),
            });
        }
        let info = match target.handle.info() {
            Ok(info) => info,
            // Reaped (or never readable) since the wait ended: it is gone.
            Err(ReadError::Gone { .. }) | Err(ReadError::PermissionDenied { .. }) | Err(ReadError::Io { .. }) => {
                let observation = observation();
                let by = if target.was_zombie || target.sent.is_empty() {
                    EndedBy::BeforeSignal
                } else {
                    ended_by_status(target.ended_by_sent(), observation.as_ref(), &target.sent)
                };
                return base(Outcome::Ended {
                    by,
                    after_seconds: None,
                    status: observation.map(Into::into),
                    unreaped_by: None,
                });
            }
        };
        if target.was_zombie {
            // It had ended before afterlife did anything. If its parent
            // ended since and handed it to a reaper, it is as good as gone;
            // otherwise its entry stays until its parent (or tracer)
            // collects its status, and the report says who that is.
            let unreaped_by =
                (info.ppid == target.ppid && info.state == ProcessState::Zombie).then(|| zombie_reaper(&info, name_of));
            return base(Outcome::Ended {
                by: EndedBy::BeforeSignal,
                after_seconds: None,
                status: status(),
                unreaped_by,
            });
        }
        if target.handle.has_exited() {
            let observation = observation();
            return base(Outcome::Ended {
                by: ended_by_status(target.ended_by_sent(), observation.as_ref(), &target.sent),
                after_seconds: None,
                status: observation.map(Into::into),
                unreaped_by: unreaped_by(target, gone),
            });
        }
        let reason = if target.denied {
            SurvivorReason::PermissionDenied
        } else {
            survivor_reason(
                &info,
                SurvivorContext {
                    signal: target.sent.first().copied().filter(|s| *s != Signal::KILL),
                    killed: target.killed(),
                    waited: self.plan.wait,
                    // Its PID in its own namespace: seen from outside,
                    // a child namespace's init has another PID.
                    namespace_init: info.is_namespace_init(),
                    frozen_v1: held_by_v1_freezer(info.pid),
                },
                name_of,
            )
        };
        // The full diagnosis of `why`, for a survivor that is not simply
        // refused or left unwaited by the plan.
        let diagnosis = match reason {
            SurvivorReason::NotWaited | SurvivorReason::Refused { .. } => None,
            _ => crate::resist::diagnose(&target.handle).ok().map(Box::new),
        };
        ProcessReport {
            diagnosis,
            ..base(Outcome::Alive {
                state: Some(info.state),
                reason,
            })
        }
    }
}

/// Who must still collect the status of `target`, which afterlife saw end,
/// if it is still a zombie now. Looked up (one read of its /proc entry)
/// only where [`reaper_may_wait`] says its parent may leave it there: in a
/// tree, for the roots alone.
fn unreaped_by(target: &crate::terminate::targets::Target<'_>, gone: &BTreeSet<Pid>) -> Option<Reaper> {
    if !reaper_may_wait(target.ppid, gone) {
        return None;
    }
    let info = target.handle.info().ok()?;
    (info.state == ProcessState::Zombie && info.ppid == target.ppid).then(|| zombie_reaper(&info, name_of))
}

/// Whether a member that ended may stay a zombie, uncollected, for want of
/// its parent `ppid`: not when its parent is PID 1, nor one of the members
/// that ended with it (`gone`: it then goes to PID 1 or a subreaper).
/// Either reaps at once; a zombie so placed, still there for an instant,
/// is reported without `unreaped_by`. Pure.
pub(crate) fn reaper_may_wait(ppid: i32, gone: &BTreeSet<Pid>) -> bool {
    ppid > 1 && Pid::new(ppid).is_some_and(|parent| !gone.contains(&parent))
}

fn name_of(pid: i32) -> Option<String> {
    proc::read_lossy(&format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_statuses_come_from_one_pass_only_for_a_large_share_of_the_machine() {
        assert!(!one_pass_for_exits(0, 100), "nothing ended: no pass");
        assert!(!one_pass_for_exits(1, 1_100), "one process: its own status");
        assert!(!one_pass_for_exits(109, 1_100));
        assert!(one_pass_for_exits(110, 1_100));
        assert!(one_pass_for_exits(1_032, 1_100), "a tree of a thousand: one pass");
        assert!(one_pass_for_exits(3, 20));
    }

    #[test]
    fn only_a_parent_outside_the_kill_may_leave_a_zombie_uncollected() {
        let p = |n| Pid::new(n).unwrap();
        let members = BTreeSet::from([p(100), p(101)]);
        assert!(reaper_may_wait(50, &members), "a shell or supervisor outside");
        assert!(!reaper_may_wait(100, &members), "its parent ended too");
        assert!(!reaper_may_wait(1, &members), "init reaps");
        assert!(!reaper_may_wait(0, &members), "no parent in this namespace");
    }

    #[test]
    fn a_cgroup_covers_a_tree_when_everything_listed_is_in_it_or_gone() {
        let p = |n| Pid::new(n).unwrap();
        let tree = BTreeSet::from([p(10), p(11)]);
        assert!(covers(&BTreeSet::from([p(10), p(11)]), &tree, |_| true));
        assert!(covers(&BTreeSet::from([p(10), p(12)]), &tree, |pid| pid != p(12)));
        assert!(!covers(&BTreeSet::from([p(10), p(12)]), &tree, |_| true));
    }

    #[test]
    fn the_exit_status_has_the_last_word_on_what_ended_a_process() {
        use crate::process::StatusSource;
        let known = |status| ExitObservation::Known {
            status,
            source: StatusSource::Waitid,
        };
        let term = known(ExitStatus::Signaled {
            signal: Signal::TERM,
            core_dumped: false,
        });
        let kill = known(ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false,
        });
        let signaled = |signal| {
            known(ExitStatus::Signaled {
                signal,
                core_dumped: false,
            })
        };
        let term_kill = [Signal::TERM, Signal::KILL];
        // Its exit was noticed after SIGKILL went out, but TERM ended it.
        assert_eq!(ended_by_status(EndedBy::Kill, Some(&term), &term_kill), EndedBy::Signal);
        assert_eq!(
            ended_by_status(EndedBy::Kill, Some(&known(ExitStatus::Exited { code: 0 })), &term_kill),
            EndedBy::Signal
        );
        assert_eq!(ended_by_status(EndedBy::Kill, Some(&kill), &term_kill), EndedBy::Kill);
        assert_eq!(ended_by_status(EndedBy::Kill, None, &term_kill), EndedBy::Kill);
        assert_eq!(
            ended_by_status(EndedBy::Signal, Some(&term), &[Signal::TERM]),
            EndedBy::Signal
        );
        assert_eq!(
            ended_by_status(EndedBy::BeforeSignal, Some(&term), &[]),
            EndedBy::BeforeSignal
        );
        // `--signal KILL`: SIGKILL was the first signal.
        assert_eq!(
            ended_by_status(EndedBy::Kill, Some(&kill), &[Signal::KILL]),
            EndedBy::Kill
        );
        // `--signal INT`: the signal sent.
        assert_eq!(
            ended_by_status(EndedBy::Signal, Some(&signaled(Signal::INT)), &[Signal::INT]),
            EndedBy::Signal
        );
    }

    #[test]
    fn a_signal_afterlife_did_not_send_is_named_as_such() {
        use crate::process::StatusSource;
        let signaled = |signal| ExitObservation::Known {
            status: ExitStatus::Signaled {
                signal,
                core_dumped: false,
            },
            source: StatusSource::Waitid,
        };
        // SIGKILL from outside during the grace period: it needed no
        // SIGKILL of afterlife's.
        assert_eq!(
            ended_by_status(EndedBy::Signal, Some(&signaled(Signal::KILL)), &[Signal::TERM]),
            EndedBy::OtherSignal
        );
        // SIGINT from outside, during the grace or after SIGKILL went out.
        for sent in [&[Signal::TERM][..], &[Signal::TERM, Signal::KILL]] {
            for by in [EndedBy::Signal, EndedBy::Kill] {
                assert_eq!(
                    ended_by_status(by, Some(&signaled(Signal::INT)), sent),
                    EndedBy::OtherSignal
                );
            }
        }
        // Its SIGTERM handler called abort(): it ended after afterlife's
        // SIGTERM, but by SIGABRT.
        assert_eq!(
            ended_by_status(
                EndedBy::Signal,
                Some(&signaled(Signal::from_number(6).unwrap())),
                &[Signal::TERM]
            ),
            EndedBy::OtherSignal
        );
        // A zombie before any signal stays one, whatever killed it.
        assert_eq!(
            ended_by_status(EndedBy::BeforeSignal, Some(&signaled(Signal::INT)), &[]),
            EndedBy::BeforeSignal
        );
    }
}
