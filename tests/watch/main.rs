//! `afterlife watch`: one test binary, each former test file a module. The
//! watches on real servers under load are in the `servers` binary: their
//! load generators would starve the timed fixtures here.

#[path = "../common/mod.rs"]
mod common;

/// Held by the tests that keep a core busy for seconds (drawing a chart and
/// decoding it, in a debug build) and by the live view's, which must draw a
/// verdict in time: its fd breakdowns get a share of wall time, which a
/// busy neighbour uses up. They do not run at the same time.
static BUSY_CORE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits for [`BUSY_CORE`], whether or not a test that held it panicked.
fn busy_core() -> std::sync::MutexGuard<'static, ()> {
    BUSY_CORE.lock().unwrap_or_else(|e| e.into_inner())
}

mod prometheus_contrib;
mod watch_errors;
mod watch_keys;
mod watch_limits;
mod watch_live;
mod watch_memory;
mod watch_other_user;
mod watch_plot;
mod watch_prometheus;
mod watch_verdicts;
