//! What a watch is asked and what it answers, the same on Linux and
//! Windows: the targets and options, the per-process and final summaries,
//! the limits and fd breakdown a summary carries, and the [`Observer`] the
//! loop of either side ([`crate::watch::watcher`]) reports to. The values
//! in them come from the side's sampler ([`crate::watch::sample`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::process::Pid;
use crate::watch::sample::{FdKind, Sample};
use crate::watch::series::MetricVerdict;
use crate::watch::watched::Watched;
use crate::watch::watcher::Ending;

/// Open fds by kind, and the targets held most often.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FdBreakdown {
    /// Count per kind name ([`FdKind::name`]); kinds with no fd are left out.
    pub kinds: BTreeMap<&'static str, u64>,
    /// Targets held by two or more fds, most repeated first (at most five).
    pub top_targets: Vec<RepeatedTarget>,
}

/// A target held by several fds at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepeatedTarget {
    /// The kind of the fds.
    pub kind: FdKind,
    /// The path, socket address (`tcp 127.0.0.1:41234 -> 127.0.0.1:8080`)
    /// or anonymous inode kind.
    pub target: String,
    /// How many fds hold it.
    pub count: u64,
}

/// The limits a process can run into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Soft `RLIMIT_NOFILE` on Linux (`None` if unlimited or unreadable);
    /// on Windows the handle limit of a process (2^24).
    pub max_fds: Option<u64>,
    /// The smallest memory limit that applies, if any.
    pub memory: Option<MemoryLimit>,
}

/// A memory limit and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryLimit {
    /// The limit, bytes.
    pub bytes: u64,
    /// `cgroup_v2`, `cgroup_v1` or `rlimit_as` on Linux; `commit_limit` on
    /// Windows (private bytes are committed memory).
    pub source: &'static str,
    /// The cgroup directory that sets it (for cgroup limits).
    #[serde(serialize_with = "crate::text::lossy_optional_path")]
    pub cgroup: Option<PathBuf>,
    /// What counts against it now: the cgroup's `memory.current`
    /// (`memory.usage_in_bytes` in v1), or the process's virtual size for
    /// `rlimit_as`, or the system's commit charge for `commit_limit`; `None`
    /// if unreadable.
    pub used_bytes: Option<u64>,
}

/// Which processes to watch.
#[derive(Debug, Clone)]
pub enum Targets {
    /// These PIDs.
    Pids(Vec<Pid>),
    /// A process and all its descendants, rescanned as it forks.
    Tree(Pid),
    /// Processes whose name (`comm`) contains the pattern, rescanned.
    Name(String),
    /// A command afterlife starts.
    Command(Vec<std::ffi::OsString>),
}

/// How to watch.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time between samples.
    pub interval: Duration,
    /// Stop after this long; `None`: until interrupted or every process ended.
    pub duration: Option<Duration>,
    /// Every this many ticks, look for new processes of `--tree` and
    /// `--name` and (with `live_verdicts`) recompute the verdicts.
    pub refresh_every: u64,
    /// Recompute verdicts while watching (for the live view and the
    /// exporter); the final verdicts are always computed.
    pub live_verdicts: bool,
    /// Stop once every watched process has ended. PIDs, a command and a
    /// tree stop then anyway; `--name` otherwise keeps looking for new
    /// processes until the duration passes or a signal stops them.
    pub until_exit: bool,
    /// Where a started command's stdout goes: afterlife's stderr when set
    /// (stdout carries NDJSON then), else afterlife's stdout.
    pub command_stdout_to_stderr: bool,
    /// Read each process's CPU time (on Linux also its state and virtual
    /// memory) at every sample, for the exporter: one more read per
    /// process.
    pub stat_facts: bool,
}

/// Why the watch stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `--duration` passed.
    Duration,
    /// SIGINT, SIGTERM or SIGHUP.
    Interrupted,
    /// Every watched process ended (and no new one can come).
    AllEnded,
    /// The reader of the events went away (`--json | head`) and nothing
    /// else reads the watch (no live view, no exporter).
    OutputClosed,
}

/// The final word on one process.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessSummary {
    /// The PID.
    pub pid: Pid,
    /// Its name (`comm`), the latest seen.
    pub name: String,
    /// The title it gave itself (`postgres: background writer`), if any.
    pub title: Option<String>,
    /// Its command line, the latest seen.
    #[serde(rename = "command_line")]
    pub cmdline: Vec<String>,
    /// Its limits.
    pub limits: Limits,
    /// Samples kept.
    pub samples: usize,
    /// The last sample.
    pub last: Option<Sample>,
    /// The last per-kind fd counts and most repeated targets.
    pub fd_breakdown: FdBreakdown,
    /// Whether any judged metric leaks.
    pub leaking: bool,
    /// Whether too few samples were taken to judge any metric.
    pub unjudged: bool,
    /// The fd kinds that leak.
    pub leaking_kinds: Vec<FdKind>,
    /// One verdict per metric.
    pub verdicts: Vec<MetricVerdict>,
    /// How it ended, if it did.
    pub ending: Option<Ending>,
    /// Seconds after the start of the watch at which it ended.
    #[serde(rename = "ended_after_seconds")]
    pub ended_after: Option<f64>,
    /// Afterlife ended it as the watch stopped (a command it started).
    pub ended_by_watch: bool,
}

/// The final word on the whole watch.
#[derive(Debug, Clone, Serialize)]
pub struct WatchSummary {
    /// Why it stopped.
    pub stopped: StopReason,
    /// Seconds watched.
    pub watched_seconds: f64,
    /// Whether any process leaks.
    pub leak: bool,
    /// Whether a process watched from the start got too few samples to be
    /// judged (then "no leak" is not an answer).
    pub too_few_samples: bool,
    /// One entry per process watched.
    pub processes: Vec<ProcessSummary>,
}

/// What the loop tells its caller as it goes.
pub trait Observer {
    /// A process is now watched.
    fn added(&mut self, _watched: &Watched) {}
    /// A process was sampled `seconds` after the start; `breakdown` when
    /// the per-kind counts were read with it (its fd count changed).
    fn sampled(&mut self, _watched: &Watched, _seconds: f64, _sample: &Sample, _breakdown: Option<&FdBreakdown>) {}
    /// A process ended.
    fn ended(&mut self, _watched: &Watched) {}
    /// A tick is over; `verdicts_fresh` when the verdicts were recomputed.
    fn tick(&mut self, _watched: &[Watched], _seconds: f64, _verdicts_fresh: bool) {}
    /// Whether no one is left to read the watch: it stops.
    fn reader_gone(&self) -> bool {
        false
    }
}

/// How a process's ending reads in a summary line, from the side's
/// [`Ending`] (`crate::watch::watcher::ending_text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndingText {
    /// Its exit status is known.
    Known {
        /// The outcome (`exited with 3`, `exit code 0xC0000005 ...`).
        outcome: String,
        /// Whether it is a success.
        success: bool,
        /// What follows it (` ($? = 3) — ...`), or nothing.
        details: String,
    },
    /// It cannot be known, and why.
    Unknown {
        /// Why not.
        reason: String,
    },
}
