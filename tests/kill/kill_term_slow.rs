//! A process that handles SIGTERM slowly but within the grace period is
//! never sent SIGKILL, and its own exit status is reported.

use crate::common;

use common::kill::{Tree, entry, kill_json, sent};

#[test]
fn a_slow_but_timely_handler_gets_no_kill() {
    // The handler takes 0.3 s, then exits with 7; the grace is 3 s.
    let tree = Tree::start(
        "term-slow",
        r#"
python3 -c '
import signal, sys, time
def on_term(signum, frame):
    time.sleep(0.3)
    sys.exit(7)
signal.signal(signal.SIGTERM, on_term)
while True:
    time.sleep(1)
' &
echo $!
echo ready
wait
"#,
    );
    let python = tree.pids[0];
    // Wait until Python has set its handler.
    assert!(common::kill::wait_caught(python, libc::SIGTERM));
    let (code, report, stderr) = kill_json(&["--grace", "3s", &python.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let e = entry(&report, python);
    assert_eq!(e["outcome"], "ended", "{e:#}");
    assert_eq!(e["by"], "signal", "{e:#}");
    assert_eq!(sent(e), ["SIGTERM"], "no SIGKILL: {e:#}");
    let after = e["after_seconds"].as_f64().unwrap();
    assert!((0.25..3.0).contains(&after), "{after}");
    assert_eq!(e["ending"]["status"]["code"], 7, "{e:#}");
    assert_eq!(report["summary"]["needed_kill"], 0);
}
