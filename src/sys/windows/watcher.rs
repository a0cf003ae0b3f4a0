//! The watch loop on Windows: which processes, when to sample, when to
//! stop — the Linux loop's schedule ([`crate::watch::schedule`]) and
//! verdicts ([`crate::watch::series`], [`crate::watch::siblings`]) over
//! process handles.
//!
//! Each process is held by a handle opened once and checked against its
//! creation time ([`super::handle`]): a PID reused after it ended is never
//! sampled in its place. `--tree` follows Toolhelp's parent links, keeping
//! only children created after their parent ([`super::tree`]); `--name`
//! matches the executable's name. Between ticks one wait
//! ([`super::watch_wake`]) covers a stop and the end of any process; an
//! ended process is reported with its exit code and NTSTATUS name
//! ([`super::ending`]).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Threading::{PROCESS_TERMINATE, PROCESS_VM_READ};

use super::ending::WindowsEnding;
use super::handle::{OpenError, ProcessHandle, now_filetime};
use super::sample::{FdBreakdown, HandleCounts, SampleError, Sampler, ThreadCounts, unix_seconds};
use super::snapshot;
use super::tree;
use super::watch_wake::{StopEvent, Wake};
use crate::process::Pid;
use crate::watch::report::EndingText;
pub use crate::watch::report::{Observer, Options, ProcessSummary, StopReason, Targets, WatchSummary};
use crate::watch::schedule;
use crate::watch::series::History;
pub use crate::watch::watched::Watched;
use crate::watch::watched::{all_ended, finish, first_history, reconsider_siblings};

/// The exit code a started command gets when the watch stops before it
/// ends (as `kill` gives with `TerminateProcess`).
const TERMINATED_CODE: u32 = 1;

/// How a watched process ended: its exit code and NTSTATUS name.
pub type Ending = WindowsEnding;

/// How `ending` reads in a summary line.
pub fn ending_text(ending: &Ending) -> EndingText {
    EndingText::Known {
        outcome: ending.describe(),
        success: ending.exit_code == 0,
        details: String::new(),
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
    Read(#[from] SampleError),
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
    /// The stop event or console handler could not be set up.
    #[error("cannot set up Ctrl+C handling ({syscall}): {source}")]
    Signals {
        /// The call that failed.
        syscall: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What the loop reads a watched process through: a handle held by its
/// sampler, checked against its creation time when opened.
#[derive(Debug)]
pub struct Source {
    pid: Pid,
    sampler: Sampler,
}

impl Source {
    /// The PID.
    pub fn pid(&self) -> Pid {
        self.pid
    }
}

impl Watched {
    fn process(&self) -> &ProcessHandle {
        self.source.sampler.process()
    }

    /// Records its ending, if it has ended; whether it did.
    fn collect_ending(&mut self, seconds: f64) -> bool {
        if self.ending.is_some() {
            return false;
        }
        let Some(code) = self.process().exit_code() else {
            return false;
        };
        self.record_ending(WindowsEnding::of(code), seconds);
        true
    }
}

/// A watch in progress.
pub struct Watcher {
    targets: Targets,
    options: Options,
    watched: Vec<Watched>,
    start: Instant,
    child: Option<std::process::Child>,
}

/// Opens `pid` for sampling (and for ending it, when afterlife started
/// it). `PROCESS_VM_READ`, which `GetProcessMemoryInfo` asks for, is
/// refused for protected processes: then the limited right alone, which
/// Windows 7 and later accept.
fn open(pid: u32, terminate: bool) -> Result<ProcessHandle, OpenError> {
    let extra = if terminate { PROCESS_TERMINATE } else { 0 };
    match ProcessHandle::open(pid, PROCESS_VM_READ | extra) {
        Err(OpenError::Denied { .. }) => ProcessHandle::open(pid, extra),
        other => other,
    }
}

impl Watcher {
    /// Resolves the targets (starting the command, if one is given) and
    /// opens every process.
    pub fn start(targets: Targets, options: Options) -> Result<Watcher, WatchError> {
        let mut watcher = Watcher {
            targets: targets.clone(),
            options,
            watched: Vec::new(),
            start: Instant::now(),
            child: None,
        };
        let rows = snapshot::processes().unwrap_or_default();
        match &targets {
            Targets::Pids(pids) => {
                // In the order given, each once.
                let mut seen = BTreeSet::new();
                for pid in pids.iter().filter(|pid| seen.insert(**pid)) {
                    let process = open(pid.get().unsigned_abs(), false)?;
                    watcher.add(Sampler::new(process), &rows, false, true);
                }
            }
            Targets::Tree(root) => {
                let process = open(root.get().unsigned_abs(), false)?;
                watcher.add(Sampler::new(process), &rows, false, true);
                // Descendants found later are not the watch's own targets:
                // their too few samples do not make the answer undecided.
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
            Targets::Command(argv) => watcher.spawn(argv)?,
        }
        Ok(watcher)
    }

    /// Starts the command and holds it.
    fn spawn(&mut self, argv: &[std::ffi::OsString]) -> Result<(), WatchError> {
        use std::os::windows::io::AsHandle;
        let display = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let spawn_error = |source| WatchError::Spawn {
            command: display.clone(),
            source,
        };
        let mut command = std::process::Command::new(&argv[0]);
        command.args(&argv[1..]);
        if self.options.command_stdout_to_stderr {
            let stderr = std::io::stderr()
                .as_handle()
                .try_clone_to_owned()
                .map_err(spawn_error)?;
            command.stdout(stderr);
        }
        let child = command.spawn().map_err(spawn_error)?;
        // `child` holds its process object: its PID names it until it is
        // waited for.
        let process = open(child.id(), true)?;
        self.child = Some(child);
        let rows = snapshot::processes().unwrap_or_default();
        self.add(Sampler::new(process), &rows, true, true);
        if let Some(watched) = self.watched.last_mut() {
            watched.cmdline = argv.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        }
        Ok(())
    }

    /// The watched processes.
    pub fn watched(&self) -> &[Watched] {
        &self.watched
    }

    fn add(&mut self, sampler: Sampler, rows: &[snapshot::Row], spawned: bool, initial: bool) {
        let process = sampler.process();
        let pid = process.pid();
        // Windows PIDs are multiples of 4 well below 2^31; System Idle's 0
        // cannot be opened.
        let Some(number) = i32::try_from(pid).ok().and_then(Pid::new) else {
            return;
        };
        let row = rows.iter().find(|r| r.pid == pid);
        let started_at = unix_seconds(process.created());
        let age = unix_seconds(now_filetime()) - started_at;
        let history = first_history(self.start.elapsed().as_secs_f64(), Some(age));
        self.watched.push(Watched {
            name: row.map(|r| r.name.clone()).unwrap_or_default(),
            title: None,
            // Unreadable (a protected process): none shown, as on Linux.
            cmdline: super::command_line::of(process.raw()).unwrap_or_default(),
            started_at: Some(started_at),
            stat: None,
            parent: row.map_or(0, |r| r.ppid as i32),
            limits: sampler.limits(),
            history,
            breakdown: FdBreakdown::default(),
            verdicts: Vec::new(),
            ending: None,
            ended_after: None,
            ended_by_watch: false,
            source: Source { pid: number, sampler },
            spawned,
            initial,
        });
    }

    /// Adds descendants of `--tree` (walked until nothing new appears) and
    /// new matches of `--name`; the indexes added. A process that ended
    /// since the snapshot, or whose PID now names a later process, is left
    /// out.
    fn rescan(&mut self, initial: bool) -> Vec<usize> {
        let before = self.watched.len();
        let own = std::process::id();
        while let Ok(rows) = snapshot::processes() {
            let taken = now_filetime();
            let running: Vec<u32> = self
                .watched
                .iter()
                .filter(|w| w.ending.is_none())
                .map(|w| w.source.sampler.pid())
                .collect();
            let found: Vec<(u32, Option<u64>)> = match &self.targets {
                Targets::Tree(_) => {
                    let links: Vec<(u32, u32)> = rows.iter().map(|r| (r.pid, r.ppid)).collect();
                    tree::candidates(&links, &running)
                        .into_iter()
                        .filter_map(|(pid, ppid)| {
                            let parent = self
                                .watched
                                .iter()
                                .find(|w| w.ending.is_none() && w.source.sampler.pid() == ppid)?;
                            Some((pid, Some(parent.process().created())))
                        })
                        .collect()
                }
                Targets::Name(pattern) => rows
                    .iter()
                    .filter(|r| r.pid != own && r.pid != 0 && r.name.contains(pattern.as_str()))
                    .filter(|r| !running.contains(&r.pid))
                    .map(|r| (r.pid, None))
                    .collect(),
                _ => Vec::new(),
            };
            let count = self.watched.len();
            for (pid, parent_created) in found {
                if pid == own {
                    continue;
                }
                // Gone, or not ours to open, since the snapshot.
                let Ok(process) = open(pid, false) else { continue };
                let is_member = tree::held_is_snapshots(process.created(), taken)
                    && parent_created.is_none_or(|created| tree::is_child(created, process.created()));
                // One that cannot be read (a protected process refuses its
                // memory counters) is left out, as it would stop the watch.
                let sampler = Sampler::new(process);
                if is_member
                    && sampler
                        .sample(&ThreadCounts::default(), &mut HandleCounts::default())
                        .is_ok()
                {
                    self.add(sampler, &rows, false, initial);
                }
            }
            // A tree is walked again for the children of the new members.
            if self.watched.len() == count || !matches!(self.targets, Targets::Tree(_)) {
                break;
            }
        }
        (before..self.watched.len()).collect()
    }

    /// Runs until the duration passes, a stop is asked for, or every
    /// process ended; returns the summary and each process's history.
    pub fn run(mut self, observer: &mut dyn Observer) -> Result<(WatchSummary, Vec<History>), WatchError> {
        let stop = StopEvent::install().map_err(|source| WatchError::Signals {
            syscall: "SetConsoleCtrlHandler",
            source,
        })?;
        for watched in &self.watched {
            observer.added(watched);
        }
        let deadline = self.options.duration.and_then(|d| self.start.checked_add(d));
        let mut tick: u64 = 0;
        let stopped = loop {
            let seconds = self.start.elapsed().as_secs_f64();
            let refresh = schedule::refreshes(tick, self.options.refresh_every);
            if refresh {
                for index in self.rescan(false) {
                    observer.added(&self.watched[index]);
                }
            }
            self.sample_all(seconds, observer)?;
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
            let elapsed = self.start.elapsed();
            let next = schedule::next_wake(self.start, elapsed, self.options.interval, deadline);
            let interrupted = loop {
                let running: Vec<HANDLE> = self
                    .watched
                    .iter()
                    .filter(|w| w.ending.is_none())
                    .map(|w| w.process().raw())
                    .collect();
                let timeout = next.map_or(Duration::MAX, |n| n.saturating_duration_since(Instant::now()));
                if let Wake::Stop = stop.wait(&running, timeout) {
                    break true;
                }
                let ended = self.collect_endings(observer);
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
        self.stop_spawned(observer);
        self.refresh_verdicts();
        observer.tick(&self.watched, watched_seconds, true);
        drop(stop);
        Ok(finish(&self.watched, stopped, watched_seconds))
    }

    /// Whether nothing is left to watch ([`all_ended`]).
    fn all_ended(&self) -> bool {
        all_ended(&self.targets, &self.options, &self.watched)
    }

    fn refresh_verdicts(&mut self) {
        for watched in &mut self.watched {
            if watched.ending.is_none() {
                watched.limits = watched.source.sampler.limits();
            }
            watched.verdicts = watched.history.verdicts(&watched.limits);
        }
        reconsider_siblings(&mut self.watched);
    }

    /// Samples every running process. One that has ended is not sampled:
    /// its handle count reads 0 once its handle table is gone, which is
    /// its end, not a change while it ran.
    fn sample_all(&mut self, seconds: f64, observer: &mut dyn Observer) -> Result<(), WatchError> {
        let threads = ThreadCounts::now();
        let mut listed = HandleCounts::default();
        for watched in &mut self.watched {
            if watched.ending.is_some() || watched.process().has_ended() {
                continue;
            }
            let sample = match watched.source.sampler.sample(&threads, &mut listed) {
                Ok(sample) => sample,
                // It ended during the reads: its ending is collected below.
                Err(_) if watched.process().has_ended() => continue,
                Err(error) => return Err(error.into()),
            };
            if watched.process().has_ended() {
                continue;
            }
            if self.options.stat_facts {
                watched.stat = watched.source.sampler.stat_facts();
            }
            watched.history.push(seconds, sample, None);
            observer.sampled(watched, seconds, &sample, None);
        }
        self.collect_endings(observer);
        Ok(())
    }

    /// Records how each process that ended did; whether any did.
    fn collect_endings(&mut self, observer: &mut dyn Observer) -> bool {
        let seconds = self.start.elapsed().as_secs_f64();
        let mut any = false;
        for watched in &mut self.watched {
            if watched.collect_ending(seconds) {
                if watched.spawned
                    && let Some(child) = &mut self.child
                {
                    let _ = child.try_wait();
                }
                any = true;
                observer.ended(watched);
            }
        }
        any
    }

    /// A command afterlife started that still runs when the watch stops is
    /// ended with `TerminateProcess` (a console program started with its
    /// console cannot be sent Ctrl+Break alone), and waited for.
    fn stop_spawned(&mut self, observer: &mut dyn Observer) {
        let seconds = self.start.elapsed().as_secs_f64();
        for watched in &mut self.watched {
            if !watched.spawned || watched.ending.is_some() {
                continue;
            }
            let _ = watched.process().terminate(TERMINATED_CODE);
            if watched.process().wait(Some(Duration::from_secs(5))) && watched.collect_ending(seconds) {
                watched.ended_by_watch = true;
                observer.ended(watched);
            }
        }
        if let Some(child) = &mut self.child {
            let _ = child.try_wait();
        }
    }
}
