//! `afterlife deaths` never loses records silently: with a ring buffer of
//! one page (AFTERLIFE_DEATHS_RING_BYTES) and the feed stopped while 200
//! processes die, the records that found no room are counted and reported
//! on stderr and in the closing line.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::deaths::Feed;

#[test]
fn lost_records_are_counted_and_reported() {
    let Some(mut feed) = Feed::start(&[], &[("AFTERLIFE_DEATHS_RING_BYTES", "4096")]) else {
        return;
    };
    let pid = feed.pid();
    common::send_signal(pid, libc::SIGSTOP);
    let mut storm = Command::new("sh")
        .args(["-c", "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done"])
        .spawn()
        .unwrap();
    let storm_ok = storm.wait().unwrap().success();
    common::send_signal(pid, libc::SIGCONT);
    assert!(storm_ok);
    let warning = feed.stderr_line("death records lost", Duration::from_secs(15));
    let stderr = feed.stop();
    let warning = warning.unwrap_or_else(|| panic!("no loss reported: {stderr:?}"));
    let summary = stderr.iter().find(|l| l.contains("deaths seen")).expect("a summary");
    // A page holds 9 records of 424 bytes: at least 150 of 200 were lost.
    let lost: u64 = summary
        .rsplit(", ")
        .next()
        .and_then(|l| l.strip_suffix(" lost"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(lost >= 150, "{summary}; {warning}");
}
