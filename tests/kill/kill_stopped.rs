//! A stopped process runs no signal handler until it is continued: afterlife
//! sends SIGCONT after the graceful signal, so a stopped process that
//! handles SIGTERM still gets to handle it — no SIGKILL needed.

use crate::common;

use std::time::Duration;

use common::kill::{Tree, entry, kill_json, sent, wait_caught};

#[test]
fn a_stopped_process_still_handles_term() {
    let tree = Tree::start(
        "stopped",
        r#"
python3 -c '
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
while True:
    time.sleep(1)
' &
echo $!
echo ready
wait
"#,
    );
    let python = tree.pids[0];
    assert!(wait_caught(python, libc::SIGTERM));
    tree.handles[0].signal(afterlife::signal::Signal::STOP).unwrap();
    assert!(common_stopped(python), "the fixture did not stop");

    let (code, report, stderr) = kill_json(&["--grace", "5s", &python.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let e = entry(&report, python);
    assert_eq!(e["outcome"], "ended", "{e:#}");
    assert_eq!(e["by"], "signal", "{e:#}");
    assert_eq!(sent(e), ["SIGTERM"], "{e:#}");
    // Its handler ran: it exited with its own code, not by the signal.
    assert_eq!(e["ending"]["status"]["code"], 3, "{e:#}");
    assert!(e["after_seconds"].as_f64().unwrap() < 5.0);
}

fn common_stopped(pid: i32) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") T ")) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}
