//! One watched process, and what the loop of either system does with all
//! of them alike: the verdicts' sibling rule, whether anything is left to
//! watch, the summary at the end. The system's loop
//! ([`crate::watch::watcher`]) holds the process through its
//! [`Source`] and fills the samples.

use crate::process::Pid;
use crate::watch::report::{Limits, Options, ProcessSummary, StopReason, Targets, WatchSummary};
use crate::watch::sample::{FdBreakdown, StatFacts};
use crate::watch::series::{History, MetricVerdict, leaking_kinds};
use crate::watch::siblings::{self, Member};
use crate::watch::trend::Verdict;
use crate::watch::watcher::{Ending, Source};

/// How long a new process is left to load before its growth counts.
const SETTLING: f64 = 1.0;

/// How long before its end a process is taken to be shutting down (freeing
/// at exit), and not judged.
const SHUTDOWN: f64 = 0.5;

/// One watched process.
#[derive(Debug)]
pub struct Watched {
    /// Its name: `comm` on Linux, kept up to date (it changes when the
    /// process calls `execve`); the executable's file name on Windows.
    pub name: String,
    /// The title it gave itself by rewriting its argv, if it did
    /// (`postgres: background writer`); none on Windows.
    pub title: Option<String>,
    /// Its command line (on Windows only for a command afterlife started:
    /// another process's is in its own memory, not read).
    pub cmdline: Vec<String>,
    /// When it started, seconds since the epoch.
    pub started_at: Option<f64>,
    /// Its CPU time (and on Linux its state and virtual memory) at the last
    /// sample, when [`Options::stat_facts`] asks for them.
    pub stat: Option<StatFacts>,
    /// Its parent's PID when watching began (workers of one parent share
    /// one load; see [`crate::watch::siblings`]).
    pub parent: i32,
    /// Its limits, read when watching started and every verdict refresh.
    pub limits: Limits,
    /// Its samples.
    pub history: History,
    /// The last per-kind fd counts (Windows handles are not broken down:
    /// always empty there).
    pub breakdown: FdBreakdown,
    /// The latest verdicts.
    pub verdicts: Vec<MetricVerdict>,
    /// How it ended, once it has.
    pub ending: Option<Ending>,
    /// Seconds after the start of the watch at which it ended.
    pub ended_after: Option<f64>,
    /// Afterlife ended it as the watch stopped (a command it started).
    pub ended_by_watch: bool,
    /// What the system's loop reads it through.
    pub(crate) source: Source,
    /// Afterlife started it (`-- CMD`).
    pub(crate) spawned: bool,
    /// Watched from the start of the watch.
    pub(crate) initial: bool,
}

impl Watched {
    /// The PID.
    pub fn pid(&self) -> Pid {
        self.source.pid()
    }

    /// Whether any judged metric leaks.
    pub fn leaking(&self) -> bool {
        self.verdicts.iter().any(MetricVerdict::leaks)
    }

    /// Whether it was watched from the start of the watch (a PID given, the
    /// command, the tree's root, a first match of `--name`), not found later.
    pub fn initial(&self) -> bool {
        self.initial
    }

    /// Whether no metric could be judged: every verdict is
    /// `too_few_samples` (or there is none yet).
    pub fn unjudged(&self) -> bool {
        self.verdicts.iter().all(|v| v.verdict == Verdict::TooFewSamples)
    }

    /// The summary of this process.
    pub fn summary(&self) -> ProcessSummary {
        ProcessSummary {
            pid: self.pid(),
            name: self.name.clone(),
            title: self.title.clone(),
            cmdline: self.cmdline.clone(),
            limits: self.limits.clone(),
            samples: self.history.len(),
            last: self.history.last().copied(),
            fd_breakdown: self.breakdown.clone(),
            leaking: self.leaking(),
            unjudged: self.unjudged(),
            leaking_kinds: leaking_kinds(&self.verdicts),
            verdicts: self.verdicts.clone(),
            ending: self.ending.clone(),
            ended_after: self.ended_after,
            ended_by_watch: self.ended_by_watch,
        }
    }

    /// Records that it ended `seconds` into the watch; its last
    /// [`SHUTDOWN`] is not judged (a process frees at exit).
    pub(crate) fn record_ending(&mut self, ending: Ending, seconds: f64) {
        self.ending = Some(ending);
        self.ended_after = Some(seconds);
        self.history.stop_judging_at(seconds - SHUTDOWN);
    }
}

/// The history a process starts with, found `watch_time` seconds into the
/// watch at `age` seconds old: one younger than [`SETTLING`] is still
/// loading, and its first samples are plotted but not judged. Pure.
pub(crate) fn first_history(watch_time: f64, age: Option<f64>) -> History {
    settles_at(watch_time, age).map_or_else(History::new, History::settling_until)
}

/// When a process found `watch_time` seconds into the watch at `age`
/// seconds old has settled, if it is still loading. Pure.
fn settles_at(watch_time: f64, age: Option<f64>) -> Option<f64> {
    age.filter(|&age| age < SETTLING)
        .map(|age| watch_time + SETTLING - age.max(0.0))
}

/// Whether the watch has nothing left to watch: every process ended, and
/// (for `--name` without `--until-exit`) no new one can be expected. A
/// tree whose every process ended cannot grow again: an orphan is
/// re-parented away from it.
pub(crate) fn all_ended(targets: &Targets, options: &Options, watched: &[Watched]) -> bool {
    let may_grow = matches!(targets, Targets::Name(_)) && !options.until_exit;
    !may_grow && watched.iter().all(|w| w.ending.is_some())
}

/// Reconsiders each running process's verdicts beside its siblings'
/// ([`siblings::reconsider`]), once every process's own are fresh.
pub(crate) fn reconsider_siblings(watched: &mut [Watched]) {
    let mut members: Vec<Member<'_>> = watched
        .iter_mut()
        .map(|w| Member {
            key: w.ending.is_none().then(|| (w.parent, w.name.clone(), w.title.clone())),
            history: &w.history,
            verdicts: &mut w.verdicts,
        })
        .collect();
    siblings::reconsider(&mut members);
}

/// The summary of a finished watch, and each process's history in the
/// summary's order (for plots).
pub(crate) fn finish(watched: &[Watched], stopped: StopReason, watched_seconds: f64) -> (WatchSummary, Vec<History>) {
    let summary = WatchSummary {
        stopped,
        watched_seconds,
        leak: watched.iter().any(Watched::leaking),
        too_few_samples: watched.iter().any(|w| w.initial && w.unjudged()),
        processes: watched.iter().map(Watched::summary).collect(),
    };
    let histories = watched.iter().map(|w| w.history.clone()).collect();
    (summary, histories)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_young_process_settles_before_it_is_judged() {
        // Found 10 s in at 0.25 s old: judged from 10.75 s.
        assert_eq!(settles_at(10.0, Some(0.25)), Some(10.75));
        assert_eq!(settles_at(10.0, Some(5.0)), None);
        assert_eq!(settles_at(10.0, None), None);
        // A start time a little in the future (clock steps) counts as 0.
        assert_eq!(settles_at(0.0, Some(-0.5)), Some(SETTLING));
    }
}
