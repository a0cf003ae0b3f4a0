//! `afterlife watch`: catch fd, handle and memory leaks while the process is alive.
//!
//! After a process dies the kernel frees what it held; what hurts is a
//! process that leaks handles or memory while it runs. This module samples
//! processes ([`sample`]), keeps their history and judges every metric with
//! a robust trend test that does not mistake a sawtooth for a leak
//! ([`series`], [`trend`]; workers that share a load are judged together,
//! [`siblings`]), and exports what it sees: a Prometheus
//! `/metrics` endpoint ([`prometheus`]), an SVG or PNG chart ([`plot`]) and a
//! live terminal view ([`live`]). [`watcher`] is the loop that ties them
//! together; [`report`] holds what it is asked and what it answers.
//!
//! The platform seam: [`sample`] (what is read per process per tick),
//! [`wake`] (what the loop waits on between ticks) and [`watcher`] (the
//! loop and its process handles) are each OS's own. On Linux they are the
//! modules here, over /proc and pidfds (the cheap fd count, `st_size` of
//! `/proc/PID/fd`, needs Linux 6.2); on Windows the same names come from
//! `sys::windows` (handle counts, `GetProcessMemoryInfo`, Toolhelp thread
//! counts, process handles checked against their creation time). The rest
//! is the same on both.

pub mod live;
pub mod plot;
pub mod prometheus;
pub mod report;
pub mod schedule;
pub mod series;
pub mod siblings;
pub mod trend;
pub mod watched;

#[cfg(target_os = "linux")]
pub mod sample;
#[cfg(target_os = "linux")]
pub mod wake;
#[cfg(target_os = "linux")]
pub mod watcher;

/// What is read per process per tick on Windows.
#[cfg(windows)]
pub mod sample {
    pub use crate::sys::windows::sample::*;
}
/// What the Windows loop waits on between ticks.
#[cfg(windows)]
pub mod wake {
    pub use crate::sys::windows::watch_wake::*;
}
/// The Windows watch loop.
#[cfg(windows)]
pub mod watcher {
    pub use crate::sys::windows::watcher::*;
}

pub use report::{
    EndingText, FdBreakdown, Limits, MemoryLimit, Observer, Options, ProcessSummary, RepeatedTarget, StopReason,
    Targets, WatchSummary,
};
pub use sample::Sample;
pub use series::{History, Metric, MetricVerdict};
pub use trend::{Trend, Verdict};
pub use watched::Watched;
pub use watcher::{Ending, WatchError, Watcher};
