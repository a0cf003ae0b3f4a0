//! When the watch loop acts: the next tick on its grid, the next wake-up
//! (a tick or the deadline), which ticks read the costly details, and when
//! verdicts are refreshed. Pure functions over durations and counts, so the
//! loop in [`crate::watch::watcher`] keeps only its system calls.

use std::time::{Duration, Instant};

/// The offset from the start of the next tick on the grid `k * interval`
/// after `elapsed`: ticks missed while sampling took long are skipped, not
/// bunched up. `None` past what a `Duration` holds (an interval of `inf`):
/// then only the deadline or an ending wakes the loop. Pure.
pub fn next_tick_offset(elapsed: Duration, interval: Duration) -> Option<Duration> {
    let k = elapsed.as_nanos() / interval.as_nanos().max(1) + 1;
    u32::try_from(k).ok().and_then(|k| interval.checked_mul(k))
}

/// The next wake-up: the next tick or the deadline, whichever comes first;
/// `None` when neither can come. Pure.
pub fn next_wake(start: Instant, elapsed: Duration, interval: Duration, deadline: Option<Instant>) -> Option<Instant> {
    let tick_at = next_tick_offset(elapsed, interval).and_then(|offset| start.checked_add(offset));
    match (tick_at, deadline) {
        (Some(t), Some(d)) => Some(t.min(d)),
        (t, d) => t.or(d),
    }
}

/// Every how many ticks PSS and swap are read: at most once a second, and
/// with many processes less often (one more tick per 100 processes, up to
/// 10), so that 1,000 processes at 1 s stay under 1% of a core. Pure.
pub fn detail_every(processes: usize, interval: Duration) -> u64 {
    let per_second = (1.0 / interval.as_secs_f64()).ceil() as u64;
    (processes as u64).div_ceil(100).clamp(1, 10).max(per_second)
}

/// The share of the time between two reads of one process's
/// `smaps_rollup` that the read may take, for a watch of `processes`: all
/// the page-table walks together stay under 0.1% of a core, and one
/// process's under 0.02% of the time. PSS is shown, not judged, so with
/// 1,000 processes each is read about once a minute. Pure.
pub fn rollup_share(processes: usize) -> f64 {
    /// All walks together.
    const TOTAL: f64 = 0.001;
    /// One process's walks, however few are watched.
    const EACH: f64 = 0.0002;
    (TOTAL / processes.max(1) as f64).min(EACH)
}

/// Whether one pass of the kernel's sample iterator over every process
/// (`machine` of them at the last pass; 0 before the first) is cheaper than
/// reading the files of the `live` watched ones: a pass visits every
/// thread on the machine (about 0.5 µs each, the fd table's words counted
/// for each process), the files cost three system calls per watched
/// process (about 4 µs). From 8 watched processes, while they are at least
/// an eighth of the machine's. Pure.
pub fn counts_in_one_pass(live: usize, machine: usize) -> bool {
    live >= 8 && live.saturating_mul(8) >= machine
}

/// Whether tick `tick` looks for new processes and (with live verdicts)
/// refreshes the verdicts: every `refresh_every` ticks, never the first.
/// Pure.
pub fn refreshes(tick: u64, refresh_every: u64) -> bool {
    tick > 0 && tick.is_multiple_of(refresh_every.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_counts_many_processes_not_a_few() {
        assert!(!counts_in_one_pass(1, 0));
        assert!(!counts_in_one_pass(7, 0));
        assert!(counts_in_one_pass(8, 0));
        assert!(counts_in_one_pass(1000, 1200));
        // A few processes of a large machine: their files are cheaper.
        assert!(!counts_in_one_pass(10, 10_000));
        assert!(counts_in_one_pass(1250, 10_000));
    }

    #[test]
    fn page_table_walks_share_one_budget() {
        assert_eq!(rollup_share(1), 0.0002);
        assert_eq!(rollup_share(5), 0.0002);
        assert!((rollup_share(1000) - 1e-6).abs() < 1e-12);
        // 1,000 walks of 50 µs each, each process once per 50 µs / share:
        // 1,000 / 50 s = 20 walks a second, 1 ms: 0.1% of a core.
        let period = 50e-6 / rollup_share(1000);
        assert!((1000.0 / period * 50e-6 - 0.001).abs() < 1e-9);
        assert_eq!(rollup_share(0), 0.0002);
    }

    #[test]
    fn ticks_stay_on_their_grid_and_late_ones_are_skipped() {
        let second = Duration::from_secs(1);
        assert_eq!(next_tick_offset(Duration::from_millis(10), second), Some(second));
        // Sampling took 2.5 intervals: the next tick is the 3rd, not the 1st.
        assert_eq!(next_tick_offset(Duration::from_millis(2500), second), Some(3 * second));
        assert_eq!(next_tick_offset(Duration::from_secs(1), second), Some(2 * second));
        assert_eq!(
            next_tick_offset(Duration::MAX, Duration::MAX),
            None,
            "no tick past what a Duration holds"
        );
    }

    #[test]
    fn the_deadline_comes_first_when_it_is_sooner() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let deadline = start + Duration::from_millis(300);
        assert_eq!(next_wake(start, Duration::ZERO, second, Some(deadline)), Some(deadline));
        assert_eq!(next_wake(start, Duration::ZERO, second, None), Some(start + second));
        assert_eq!(next_wake(start, Duration::ZERO, Duration::MAX, None), None);
    }

    #[test]
    fn details_are_read_at_most_once_a_second_and_rarer_for_many() {
        assert_eq!(detail_every(1, Duration::from_secs(1)), 1);
        assert_eq!(detail_every(1, Duration::from_millis(100)), 10);
        assert_eq!(detail_every(1000, Duration::from_secs(1)), 10);
        assert_eq!(detail_every(250, Duration::from_secs(1)), 3);
        assert_eq!(detail_every(5000, Duration::from_secs(2)), 10);
    }

    #[test]
    fn refreshes_come_every_n_ticks_but_not_at_the_first() {
        assert!(!refreshes(0, 4));
        assert!(refreshes(4, 4));
        assert!(!refreshes(5, 4));
        assert!(refreshes(3, 0), "0 is every tick");
    }
}
