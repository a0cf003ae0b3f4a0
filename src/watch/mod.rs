//! `afterlife watch`: catch fd and memory leaks while the process is alive.
//!
//! After a process dies the kernel frees what it held; what hurts is a
//! process that leaks handles or memory while it runs. This module samples
//! processes ([`sample`]), keeps their history and judges every metric with
//! a robust trend test that does not mistake a sawtooth for a leak
//! ([`series`], [`trend`]; workers that share a load are judged together,
//! [`siblings`]), and exports what it sees: a Prometheus
//! `/metrics` endpoint ([`prometheus`]), an SVG or PNG chart ([`plot`]) and a
//! live terminal view ([`live`]). [`watcher`] is the loop that ties them
//! together.
//!
//! Kernel facts relied on are listed in each module; the cheap fd count
//! (`st_size` of `/proc/PID/fd`) needs Linux 6.2.

pub mod live;
pub mod plot;
pub mod prometheus;
pub mod sample;
pub mod schedule;
pub mod series;
pub mod siblings;
pub mod trend;
pub mod wake;
pub mod watcher;

pub use sample::{FdBreakdown, Limits, MemoryLimit, RepeatedTarget, Sample};
pub use series::{History, Metric, MetricVerdict};
pub use trend::{Trend, Verdict};
pub use watcher::{Observer, Options, ProcessSummary, StopReason, Targets, WatchError, WatchSummary, Watched, Watcher};
