//! What `kill`'s summary says about the freeze: how many processes it
//! stopped and how many walks it took before the first signal — not the
//! walks made while waiting out the grace period — with counts in the
//! singular where there is one.

use crate::common;

use common::afterlife;
use common::kill::{Tree, kill_json};

#[test]
fn the_freeze_counts_what_it_stopped_and_its_walks_before_the_signal() {
    // Both ignore SIGTERM, so afterlife waits out the grace period (walking
    // the tree again every 50 ms meanwhile) and then sends SIGKILL.
    let tree = Tree::start("report-walks", "trap '' TERM\nsleep 300 &\necho $!\necho ready\nwait\n");
    let root = tree.root().to_string();
    let (code, report, stderr) = kill_json(&["--tree", "--no-cgroup", "--grace", "600ms", &root]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["summary"]["needed_kill"], 2, "{report:#}");
    assert_eq!(
        report["containment"],
        serde_json::json!({"kind": "freeze", "stopped": 2, "walks": 1}),
        "{report:#}"
    );
}

#[test]
fn the_summary_line_speaks_of_one_process_in_the_singular() {
    let tree = Tree::start("report-singular", "sleep 300 &\necho $!\necho ready\nwait\n");
    let output = afterlife()
        .args(["kill", "--grace", "3s", &tree.pids[0].to_string()])
        .output()
        .expect("afterlife runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let summary = text.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("every target ended: 1 process, 1 ended (0 needed SIGKILL), 0 refused, in "),
        "{text}"
    );
    assert!(summary.ends_with("; stopped 1 process first"), "{text}");
}
