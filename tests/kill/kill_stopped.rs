//! A stopped process runs no signal handler until it is continued: afterlife
//! sends SIGCONT after the graceful signal, so a stopped process that
//! handles SIGTERM still gets to handle it — no SIGKILL needed. A signal
//! that does not end a process (SIGSTOP, SIGCONT) is sent as it is, and
//! never followed by SIGKILL.

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

#[test]
fn stop_and_cont_are_sent_as_they_are_and_nothing_follows() {
    let tree = Tree::start("stop-cont", "sleep 60 &\necho $!\necho ready\nwait\n");
    let pid = tree.pids[0];
    let (code, report, stderr) = kill_json(&["--signal", "STOP", "--grace", "1s", &pid.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["plan"]["wait"], false, "{report:#}");
    assert_eq!(report["plan"]["escalate"], false, "{report:#}");
    let e = entry(&report, pid);
    assert_eq!(sent(e), ["SIGSTOP"], "{e:#}");
    assert_eq!(e["reason"], "not_waited", "{e:#}");
    assert!(common_stopped(pid), "the target is not stopped");
    // Past the grace it would have had: no SIGKILL came.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!tree.handles[0].has_exited(), "SIGKILL followed SIGSTOP");
    let (code, text, _) = common::kill::kill_text(&["--signal", "CONT", &pid.to_string()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("SIGCONT does not end a process by default"), "{text}");
    assert!(text.contains("signalled; not waited for"), "{text}");
    assert!(!common_stopped_now(pid), "the target was not continued");
}

fn common_stopped_now(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") T "))
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
