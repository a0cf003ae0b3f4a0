//! `afterlife deaths` never loses records silently: with a ring buffer of
//! one page (AFTERLIFE_DEATHS_RING_BYTES) and the feed stopped while 200
//! processes die, the records that found no room are counted and reported
//! on stderr and in the closing line. On the proc connector the same size
//! is its socket's receive buffer, and every event the kernel dropped is
//! counted, not once per `ENOBUFS`.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::deaths::Feed;

#[test]
fn lost_records_are_counted_and_reported() {
    let Some(feed) = Feed::start(&[], &[("AFTERLIFE_DEATHS_RING_BYTES", "4096")]) else {
        return;
    };
    // A page holds 9 records of 424 bytes: at least 150 of 200 were lost.
    let lost = lost_in_a_storm(feed, "death records lost");
    assert!(lost >= 150, "{lost}");
}

/// The connector sends a fork, an exec and an exit for each of the 200
/// processes (600 events); a socket buffer of a page holds a few. The lost
/// count was the number of `ENOBUFS` errors: 1 or 2 here, for some 590
/// events lost.
#[test]
fn events_the_connector_dropped_are_counted_one_by_one() {
    let env = [
        ("AFTERLIFE_DEATHS_RING_BYTES", "4096"),
        ("AFTERLIFE_DEATHS_SOURCE", "proc-connector"),
    ];
    let Some(feed) = Feed::start(&[], &env) else { return };
    let lost = lost_in_a_storm(
        feed,
        "process events (forks, execs and exits; a death among them is not shown) lost",
    );
    assert!(lost >= 400, "{lost}");
}

/// Stops the feed while 200 processes run and end, and returns how many
/// records its closing line says were lost, once it has warned with `warning`.
fn lost_in_a_storm(mut feed: Feed, warning: &str) -> u64 {
    let pid = feed.pid();
    common::send_signal(pid, libc::SIGSTOP);
    let mut storm = Command::new("sh")
        .args(["-c", "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done"])
        .spawn()
        .unwrap();
    let storm_ok = storm.wait().unwrap().success();
    common::send_signal(pid, libc::SIGCONT);
    assert!(storm_ok);
    let warned = feed.stderr_line(warning, Duration::from_secs(15));
    let stderr = feed.stop();
    warned.unwrap_or_else(|| panic!("no loss reported: {stderr:?}"));
    let summary = stderr.iter().find(|l| l.contains("deaths seen")).expect("a summary");
    summary
        .rsplit(", ")
        .next()
        .and_then(|l| l.strip_suffix(" lost"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"))
}
