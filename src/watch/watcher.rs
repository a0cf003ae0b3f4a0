//! The watch loop: which processes, when to sample, when to stop.
//!
//! Each tick samples every watched process, then waits for the next tick on
//! one `epoll` set ([`crate::watch::wake`]) over a `signalfd` (SIGINT,
//! SIGTERM and SIGHUP are blocked and read from it, so an interrupt ends the
//! loop cleanly with a summary) and the pidfds of the watched processes (so
//! an exit is seen at once, not at the next tick).

use std::collections::{BTreeSet, HashSet};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use crate::bpf::samples::{Pass, Samples};
use crate::bpf::tasks::Tasks;
use crate::observe::EndingReport;
use crate::process::fd_limit::{self, FdLimit};
use crate::process::{OpenError, Pid, Process, ProcessInfo, ProcessTable, ReadError, WaitError};
use crate::signal::Signal;
use crate::stop_signals::StopSignals;
use crate::watch::report::EndingText;
pub use crate::watch::report::{Observer, Options, ProcessSummary, StopReason, Targets, WatchSummary};
use crate::watch::sample::{self, CgroupMounts, FdBreakdown, Sample, Sampler};
use crate::watch::schedule;
use crate::watch::series::History;
use crate::watch::wake::{Wake, WakeSet};
pub use crate::watch::watched::Watched;
use crate::watch::watched::{all_ended, finish, first_history, reconsider_siblings};

/// The share of the time watched that reading per-kind fd counts may take.
const BREAKDOWN_BUDGET: f64 = 0.004;

/// How a watched process ended: its exit status through its pidfd.
pub type Ending = EndingReport;

/// How `ending` reads in a summary line.
pub fn ending_text(ending: &Ending) -> EndingText {
    match ending {
        EndingReport::Known { views, .. } => EndingText::Known {
            outcome: views.status.to_string(),
            success: views.status.success(),
            details: format!(" ($? = {}) — {}", views.shell_code, views.meaning),
        },
        EndingReport::Unobservable { reason } => EndingText::Unknown {
            reason: reason.to_string(),
        },
    }
}

/// The watch could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A process could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A process could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Waiting for a process failed.
    #[error(transparent)]
    Wait(#[from] WaitError),
    /// A kernel thread was named: it has no fds or memory of its own.
    #[error("{pid} ({name}) is a kernel thread: it has no fds or memory of its own to watch")]
    KernelThread {
        /// The PID.
        pid: Pid,
        /// Its name.
        name: String,
    },
    /// No process matched `--name`.
    #[error("no process is named like {pattern:?}")]
    NoMatch {
        /// The pattern.
        pattern: String,
    },
    /// The command could not be started.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Signal setup failed.
    #[error("cannot set up signal handling ({syscall}): {source}")]
    Signals {
        /// The call that failed.
        syscall: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What the loop reads a watched process through: its pidfd and
/// `/proc/PID` ([`Process`]), its open files, and when its per-kind fd
/// counts were last read.
#[derive(Debug)]
pub struct Source {
    process: Process,
    sampler: Sampler,
    last_fds: Option<u64>,
    breakdown_at: Option<f64>,
    breakdown_stale: bool,
    socket_names: std::collections::HashMap<u64, String>,
}

impl Source {
    /// The PID.
    pub fn pid(&self) -> Pid {
        self.process.pid()
    }
}

/// A watch in progress.
pub struct Watcher {
    targets: Targets,
    options: Options,
    mounts: CgroupMounts,
    watched: Vec<Watched>,
    start: Instant,
    child: Option<std::process::Child>,
    /// Raised while watching: N processes hold about 4N fds (pidfd,
    /// /proc/PID, two open files).
    fds: FdLimit,
    /// Time spent reading per-kind fd counts.
    breakdown_spent: Duration,
    /// Where `--tree` and `--name` look for new processes.
    scanner: Scanner,
    /// The kernel's counts of every process in one pass, where they are
    /// cheaper than reading each watched process's files.
    counts: Counts,
}

/// The BPF sample iterator ([`crate::bpf::samples`]): one `read(2)` counts
/// every process's fds, threads and children, where the files of
/// `/proc/PID` cost three system calls per watched process per tick.
enum Counts {
    /// Not tried yet: loaded at the first tick that watches enough
    /// processes ([`schedule::counts_in_one_pass`]).
    Untried,
    /// Loaded; the machine's process count at the last pass.
    Loaded(Samples, usize),
    /// It cannot run here (not root, no BTF, a kernel before 6.2).
    Off,
}

impl Counts {
    /// One pass, if one pays for `live` watched processes.
    fn pass(&mut self, live: usize) -> Option<Pass> {
        if matches!(self, Counts::Untried) && schedule::counts_in_one_pass(live, 0) {
            *self = match Samples::load() {
                Some((samples, first)) => Counts::Loaded(samples, first.processes()),
                None => Counts::Off,
            };
        }
        let Counts::Loaded(samples, machine) = self else {
            return None;
        };
        if !schedule::counts_in_one_pass(live, *machine) {
            return None;
        }
        let pass = samples.read()?;
        *machine = pass.processes();
        Some(pass)
    }
}

/// The process table a rescan reads: the BPF task iterator where it loads
/// ([`crate::bpf::tasks`]: one read for every process), else a walk of
/// /proc, which opens and parses every `/proc/PID/stat` (with 1,000
/// processes watched by `--tree`, that walk every 2 s was half the watch's
/// CPU).
enum Scanner {
    /// Not tried yet: loaded at the first rescan, which `--tree` and
    /// `--name` alone make.
    Untried,
    /// Loaded.
    Tasks(Tasks),
    /// It cannot run here (not root, no BTF, an older kernel).
    Proc,
}

impl Scanner {
    /// Every process now.
    fn table(&mut self) -> ProcessTable {
        if matches!(self, Scanner::Untried) {
            *self = Scanner::Proc;
            if let Some((tasks, first)) = Tasks::load() {
                *self = Scanner::Tasks(tasks);
                return ProcessTable::from_entries(first.into_iter().map(|t| t.entry));
            }
        }
        match self {
            Scanner::Tasks(tasks) => match tasks.read() {
                Some(now) => ProcessTable::from_entries(now.into_iter().map(|t| t.entry)),
                None => ProcessTable::scan(),
            },
            _ => ProcessTable::scan(),
        }
    }
}

/// A kernel thread has no fd table and no memory of its own: every sample
/// of it would fail, and `--name` leaves kernel threads out already.
fn refuse_kernel_thread(info: &ProcessInfo) -> Result<(), WatchError> {
    if info.kernel_thread {
        return Err(WatchError::KernelThread {
            pid: info.pid,
            name: info.name.clone(),
        });
    }
    Ok(())
}

impl Watcher {
    /// Resolves the targets (starting the command, if one is given) and
    /// opens every process.
    pub fn start(targets: Targets, options: Options) -> Result<Watcher, WatchError> {
        let mut watcher = Watcher {
            targets: targets.clone(),
            options,
            mounts: CgroupMounts::read(),
            watched: Vec::new(),
            start: Instant::now(),
            child: None,
            fds: FdLimit::raise(),
            breakdown_spent: Duration::ZERO,
            scanner: Scanner::Untried,
            counts: Counts::Untried,
        };
        match &targets {
            Targets::Pids(pids) => {
                let unique: BTreeSet<Pid> = pids.iter().copied().collect();
                for pid in pids {
                    if unique.contains(pid) && watcher.find(*pid).is_none() {
                        let (process, info) = Process::open_with_info(*pid)?;
                        refuse_kernel_thread(&info)?;
                        watcher.add(process, Some(info), false, true)?;
                    }
                }
            }
            Targets::Tree(root) => {
                let (process, info) = Process::open_with_info(*root)?;
                refuse_kernel_thread(&info)?;
                watcher.add(process, Some(info), false, true)?;
                watcher.rescan(false);
            }
            Targets::Name(pattern) => {
                watcher.rescan(true);
                if watcher.watched.is_empty() {
                    return Err(WatchError::NoMatch {
                        pattern: pattern.clone(),
                    });
                }
            }
            Targets::Command(argv) => {
                let display = argv
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" ");
                let original = watcher.fds.original();
                let mut command = std::process::Command::new(&argv[0]);
                command.args(&argv[1..]);
                if watcher.options.command_stdout_to_stderr {
                    let stderr =
                        std::io::stderr()
                            .as_fd()
                            .try_clone_to_owned()
                            .map_err(|source| WatchError::Spawn {
                                command: display.clone(),
                                source,
                            })?;
                    command.stdout(stderr);
                }
                // SAFETY: the closure only calls setrlimit, which is
                // async-signal-safe. The command gets the caller's fd limit,
                // which its verdict is about, not afterlife's raised one.
                unsafe {
                    command.pre_exec(move || fd_limit::restore_in_child(original));
                }
                let child = command.spawn().map_err(|source| WatchError::Spawn {
                    command: display,
                    source,
                })?;
                let process = Process::from_child(&child)?;
                watcher.child = Some(child);
                watcher.add(process, None, true, true)?;
            }
        }
        Ok(watcher)
    }

    /// The watched processes.
    pub fn watched(&self) -> &[Watched] {
        &self.watched
    }

    fn find(&self, pid: Pid) -> Option<&Watched> {
        self.watched.iter().find(|w| w.pid() == pid)
    }

    /// Adds `process`, with the facts read as it was opened where the
    /// caller has them (else they are read now).
    fn add(
        &mut self,
        process: Process,
        info: Option<ProcessInfo>,
        spawned: bool,
        initial: bool,
    ) -> Result<(), WatchError> {
        let pid = process.pid();
        let info = match info {
            Some(info) => info,
            None => process.info()?,
        };
        let mut sampler = Sampler::open(pid)?;
        let limits = sampler.limits(&self.mounts)?;
        let age = info.started_at.and_then(|started| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs_f64();
            Some(now - started)
        });
        let history = first_history(self.start.elapsed().as_secs_f64(), age);
        // A command we just started may still be inside exec: its /proc
        // command line can be empty, so take the one we ran.
        let cmdline = match (&self.targets, spawned) {
            (Targets::Command(argv), true) => argv.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
            _ => info.cmdline,
        };
        self.watched.push(Watched {
            parent: info.ppid,
            started_at: info.started_at,
            stat: None,
            name: info.name,
            title: sample::title(&sample::trim_cmdline(cmdline.clone())),
            cmdline,
            limits,
            history,
            breakdown: FdBreakdown::default(),
            verdicts: Vec::new(),
            ending: None,
            ended_after: None,
            ended_by_watch: false,
            source: Source {
                process,
                sampler,
                last_fds: None,
                breakdown_at: None,
                breakdown_stale: false,
                socket_names: std::collections::HashMap::new(),
            },
            spawned,
            initial,
        });
        Ok(())
    }

    /// Adds descendants of `--tree` and new matches of `--name`. Processes
    /// that vanish while being opened are skipped.
    fn rescan(&mut self, initial: bool) -> Vec<usize> {
        let before = self.watched.len();
        let candidates: Vec<(Pid, u64)> = match &self.targets {
            Targets::Tree(root) => {
                // Afterlife itself is left out, as `--name` leaves it out: a
                // tree from its shell up holds it, and its fds grow with the
                // processes it watches.
                let me = Pid::current();
                let table = self.scanner.table();
                table
                    .descendants(*root)
                    .into_iter()
                    .filter(|pid| *pid != me)
                    .filter_map(|pid| table.get(pid).map(|e| (pid, e.start_ticks)))
                    .collect()
            }
            Targets::Name(pattern) => {
                let me = Pid::current();
                self.scanner
                    .table()
                    .entries()
                    .filter(|e| !e.kernel_thread && e.pid != me && e.name.contains(pattern.as_str()))
                    .map(|e| (e.pid, e.start_ticks))
                    .collect()
            }
            _ => Vec::new(),
        };
        let known: HashSet<(Pid, u64)> = self
            .watched
            .iter()
            .map(|w| (w.pid(), w.source.process.start_ticks()))
            .collect();
        for (pid, start_ticks) in candidates {
            if known.contains(&(pid, start_ticks)) {
                continue;
            }
            // It may have exited since the scan (or the PID changed hands):
            // then there is nothing to watch.
            if let Ok(process) = Process::open_expecting(pid, start_ticks) {
                let _ = self.add(process, None, false, initial);
            }
        }
        (before..self.watched.len()).collect()
    }

    /// Runs until the duration passes, a stop signal arrives, or every
    /// process ended; returns the summary and each process's history (in
    /// the summary's order, for plots).
    pub fn run(mut self, observer: &mut dyn Observer) -> Result<(WatchSummary, Vec<History>), WatchError> {
        let signals = StopSignals::install().map_err(|(syscall, source)| WatchError::Signals { syscall, source })?;
        let mut wake = WakeSet::new(signals.fd()).map_err(|source| WatchError::Signals {
            syscall: "epoll_create1",
            source,
        })?;
        for watched in &self.watched {
            observer.added(watched);
        }
        // A duration too long for an Instant (`inf`, `1e30`) is no deadline.
        let deadline = self.options.duration.and_then(|d| self.start.checked_add(d));
        let mut tick: u64 = 0;
        let stopped = loop {
            let now = Instant::now();
            let seconds = now.duration_since(self.start).as_secs_f64();
            let refresh = schedule::refreshes(tick, self.options.refresh_every);
            if refresh {
                for index in self.rescan(false) {
                    observer.added(&self.watched[index]);
                }
            }
            self.sample_all(tick, seconds, observer)?;
            let fresh = refresh && self.options.live_verdicts;
            if fresh {
                self.refresh_verdicts();
            }
            observer.tick(&self.watched, seconds, fresh);
            if observer.reader_gone() {
                break StopReason::OutputClosed;
            }
            if self.all_ended() {
                break StopReason::AllEnded;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break StopReason::Duration;
            }
            tick += 1;
            let elapsed = Instant::now().duration_since(self.start);
            let next = schedule::next_wake(self.start, elapsed, self.options.interval, deadline);
            let interrupted = loop {
                wake.track(
                    self.watched
                        .iter()
                        .map(|w| (w.source.process.pidfd(), w.ending.is_none())),
                );
                let timeout = next.map_or(Duration::MAX, |n| n.saturating_duration_since(Instant::now()));
                let candidates = match wake.wait(timeout) {
                    Wake::Stop => break true,
                    Wake::Exited(indexes) => indexes,
                };
                let ended = self.collect_endings(&candidates, observer)?;
                if next.is_some_and(|n| Instant::now() >= n) || (ended && self.all_ended()) {
                    break false;
                }
            };
            if interrupted {
                break StopReason::Interrupted;
            }
            if self.all_ended() {
                break StopReason::AllEnded;
            }
        };
        let watched_seconds = self.start.elapsed().as_secs_f64();
        // Names as they are now, before the command afterlife started is
        // ended (a process that called execve is shown by its new name).
        self.refresh_identities();
        self.stop_spawned(observer);
        self.final_breakdowns();
        self.refresh_verdicts();
        observer.tick(&self.watched, watched_seconds, true);
        drop(signals);
        Ok(finish(&self.watched, stopped, watched_seconds))
    }

    /// Whether nothing is left to watch ([`all_ended`]).
    fn all_ended(&self) -> bool {
        all_ended(&self.targets, &self.options, &self.watched)
    }

    fn refresh_verdicts(&mut self) {
        for watched in &mut self.watched {
            if watched.ending.is_none()
                && let Ok(limits) = watched.source.sampler.limits(&self.mounts)
            {
                watched.limits = limits;
            }
            watched.verdicts = watched.history.verdicts(&watched.limits);
        }
        self.refresh_identities();
        reconsider_siblings(&mut self.watched);
    }

    /// A process that called execve since is shown by its new name.
    fn refresh_identities(&mut self) {
        for watched in self.watched.iter_mut().filter(|w| w.ending.is_none()) {
            if let Some((name, cmdline)) = watched.source.sampler.identity()
                && !cmdline.is_empty()
            {
                watched.title = sample::title(&cmdline);
                watched.name = name;
                watched.cmdline = cmdline;
            }
        }
    }

    fn sample_all(&mut self, tick: u64, seconds: f64, observer: &mut dyn Observer) -> Result<(), WatchError> {
        // smaps_rollup walks every page table: 10 µs for a small process,
        // 100 µs for a 10 MiB interpreter. PSS and swap are read at most
        // once a second, and with many processes less often, so 1,000
        // processes at 1 s stay under 1% of a core.
        let detail = tick.is_multiple_of(schedule::detail_every(self.watched.len(), self.options.interval));
        let rollup_share = schedule::rollup_share(self.watched.len());
        let live = self.watched.iter().filter(|w| w.ending.is_none()).count();
        let pass = self.counts.pass(live);
        let mut gone = Vec::new();
        let mut samples: Vec<(usize, Sample)> = Vec::with_capacity(self.watched.len());
        for index in 0..self.watched.len() {
            let watched = &mut self.watched[index];
            if watched.ending.is_some() {
                continue;
            }
            let counted = pass
                .as_ref()
                .and_then(|p| p.counted(watched.source.process.pid().get(), watched.source.process.start_ticks()));
            match watched.source.sampler.sample(detail, rollup_share, counted) {
                Ok(sample) => {
                    if self.options.stat_facts {
                        watched.stat = watched.source.sampler.stat_facts().ok();
                    }
                    samples.push((index, sample));
                }
                // Gone: it exited since the last tick; its ending is collected
                // below from its pidfd.
                Err(ReadError::Gone { .. }) => gone.push(index),
                Err(error) => return Err(error.into()),
            }
        }
        let breakdowns = self.breakdowns(&samples, seconds)?;
        for ((index, sample), breakdown) in samples.iter().zip(breakdowns) {
            let watched = &mut self.watched[*index];
            watched.history.push(seconds, *sample, breakdown.as_ref());
            if let Some(b) = breakdown {
                watched.breakdown = b;
                observer.sampled(watched, seconds, sample, Some(&watched.breakdown));
            } else {
                observer.sampled(watched, seconds, sample, None);
            }
        }
        self.collect_endings(&gone, observer)?;
        Ok(())
    }

    /// Reads the per-kind fd counts of the processes whose fd count changed,
    /// within a budget: listing every fd (and the socket tables) is the
    /// dearest read of a watch, and a busy server's count changes at every
    /// tick. A process's first breakdown is always read; later ones only
    /// while the time spent on them stays under [`BREAKDOWN_BUDGET`] of the
    /// time watched, the longest-waiting first. One that had to wait is
    /// read at a later tick even if its count does not change again.
    fn breakdowns(
        &mut self,
        samples: &[(usize, Sample)],
        seconds: f64,
    ) -> Result<Vec<Option<FdBreakdown>>, WatchError> {
        let mut wanted: Vec<usize> = samples
            .iter()
            .enumerate()
            .filter(|(_, (index, sample))| {
                let w = &self.watched[*index];
                sample.fds.is_some() && (w.source.last_fds != sample.fds || w.source.breakdown_stale)
            })
            .map(|(slot, _)| slot)
            .collect();
        wanted.sort_by(|a, b| {
            let at = |slot: &usize| self.watched[samples[*slot].0].source.breakdown_at;
            at(a)
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&at(b).unwrap_or(f64::NEG_INFINITY))
        });
        let mut out: Vec<Option<FdBreakdown>> = vec![None; samples.len()];
        // The first seconds get the budget of ten: a short watch is not
        // starved of breakdowns by its first, always-read ones.
        let watched_for = self.start.elapsed().as_secs_f64().max(10.0);
        for slot in wanted {
            let (index, sample) = samples[slot];
            let watched = &mut self.watched[index];
            watched.source.last_fds = sample.fds;
            let over = self.breakdown_spent.as_secs_f64() >= BREAKDOWN_BUDGET * watched_for;
            if watched.source.breakdown_at.is_some() && over {
                watched.source.breakdown_stale = true;
                continue;
            }
            let began = Instant::now();
            let read = sample::breakdown(watched.pid(), &mut watched.source.socket_names);
            self.breakdown_spent += began.elapsed();
            match read {
                Ok(b) => {
                    watched.source.breakdown_at = Some(seconds);
                    watched.source.breakdown_stale = false;
                    out[slot] = Some(b);
                }
                // ESRCH/ENOENT: it exited between the two reads.
                Err(ReadError::Gone { .. }) => {}
                // Its fd directory can be counted but not one link read (a
                // process with capabilities the reader lacks): the count is
                // watched, the kinds are not known.
                Err(ReadError::PermissionDenied { file: "fd", .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(out)
    }

    /// Reads the breakdowns still owed (count changed while over budget) of
    /// the processes that still run, so that the summary's groups and
    /// per-kind verdicts are current.
    fn final_breakdowns(&mut self) {
        for watched in &mut self.watched {
            if watched.ending.is_none()
                && watched.source.breakdown_stale
                && let Ok(b) = sample::breakdown(watched.pid(), &mut watched.source.socket_names)
            {
                // Taken for the latest sample's, a moment ago: the per-kind
                // series then runs to the end of the watch.
                if let Some(seconds) = watched.history.last_seconds() {
                    watched.history.record_kinds(seconds, &b);
                }
                watched.breakdown = b;
                watched.source.breakdown_stale = false;
            }
        }
    }

    /// Records how each of `candidates` (indexes whose pidfd polled
    /// readable, or whose /proc entry vanished) ended, if it has; `true` if
    /// any did.
    fn collect_endings(&mut self, candidates: &[usize], observer: &mut dyn Observer) -> Result<bool, WatchError> {
        let seconds = self.start.elapsed().as_secs_f64();
        let mut any = false;
        for &index in candidates {
            let watched = &mut self.watched[index];
            if watched.ending.is_some() || !watched.source.process.has_exited() {
                continue;
            }
            let observation = watched.source.process.exit_observation()?;
            if watched.spawned
                && let Some(child) = &mut self.child
            {
                // Reaped through the pidfd already; this only lets `Child` know.
                let _ = child.try_wait();
            }
            watched.record_ending(observation.into(), seconds);
            any = true;
            observer.ended(watched);
        }
        Ok(any)
    }

    /// A command afterlife started and that still runs when the watch stops
    /// gets SIGTERM through its pidfd (SIGKILL 5 s later), and is reaped;
    /// its ending is reported as any other. Its descendants get the same
    /// signals, each through a pidfd from one scan taken before the first:
    /// a server's workers or a shell's children would otherwise outlive
    /// the watch, orphaned.
    fn stop_spawned(&mut self, observer: &mut dyn Observer) {
        for index in 0..self.watched.len() {
            if !self.watched[index].spawned || self.watched[index].ending.is_some() {
                continue;
            }
            let root = self.watched[index].source.process.pid();
            let table = self.scanner.table();
            let family: Vec<Process> = table
                .descendants(root)
                .into_iter()
                .filter_map(|pid| table.get(pid).map(|e| (pid, e.start_ticks)))
                // It may have ended since the scan: nothing to stop.
                .filter_map(|(pid, start_ticks)| Process::open_expecting(pid, start_ticks).ok())
                .collect();
            let watched = &mut self.watched[index];
            let mut stopped = false;
            for (signal, grace) in [
                (Signal::TERM, Duration::from_secs(5)),
                (Signal::KILL, Duration::from_secs(5)),
            ] {
                let left: Vec<&Process> = family.iter().filter(|p| !p.has_exited()).collect();
                if stopped && left.is_empty() {
                    break;
                }
                // ESRCH: it ended meanwhile; the wait below collects it.
                for member in &left {
                    let _ = member.signal(signal);
                }
                let deadline = Instant::now() + grace;
                if !stopped {
                    let _ = watched.source.process.signal(signal);
                    if let Ok(Some(observation)) = watched.source.process.wait(Some(grace)) {
                        watched.record_ending(observation.into(), self.start.elapsed().as_secs_f64());
                        watched.ended_by_watch = true;
                        observer.ended(watched);
                        stopped = true;
                    }
                }
                // Not children of afterlife: their ends are only waited for.
                while left.iter().any(|p| !p.has_exited()) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // Only if it was already reaped or exited: never block here.
            let _ = child.try_wait();
        }
    }
}
