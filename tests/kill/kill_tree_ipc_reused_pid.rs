//! `kill --tree --remove-ipc`: a SysV segment names its creator by PID
//! (`cpid`), and keeps the number after the creator ends. A process of
//! the tree given that PID later did not make it: the segment is neither
//! reported as the tree's nor removed.

use crate::common;

use std::io::Write;
use std::time::Duration;

use common::ipc::sysv_exists;
use common::{Py, run_json, wait_until};

/// A process outside the tree makes a segment and ends; more than a second
/// later (the segment dates its creation in whole seconds) the tree forks
/// a child given its PID. The segment id, or `None` where another process
/// took the PID first.
fn made_then_reused(tree: &mut Py, cleanup: &mut common::IpcCleanup) -> Option<i64> {
    let maker = Py::start("shm = libc.shmget(0, 4096, 0o1600)\nassert shm >= 0\nreport(shm=shm)\n");
    let id = maker.num("shm");
    cleanup.0.push(id);
    let pid = maker.pid();
    drop(maker);
    assert!(wait_until(Duration::from_secs(5), || common::pid_dead(pid)));
    std::thread::sleep(Duration::from_millis(1600));
    let stdin = tree.child.stdin.as_mut().unwrap();
    assert!(common::fork_at_pid(pid, || stdin.write_all(b"fork\n").unwrap()));
    let child = tree.next_report()["pid"].as_i64();
    (child == Some(i64::from(pid))).then_some(id)
}

#[test]
fn a_segment_made_before_a_member_started_is_not_the_trees() {
    if !common::is_root() {
        eprintln!("skipped: handing out a chosen PID (ns_last_pid) needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let mut cleanup = common::IpcCleanup::default();
    // Forks a child (which dies with it) for each line on stdin.
    let mut tree = Py::start("report()\nfor line in sys.stdin:\n    report(pid=fork(hold_forever))\n");
    let id = (0..5)
        .find_map(|_| made_then_reused(&mut tree, &mut cleanup))
        .expect("a PID handed out again in 5 rounds");
    let root = tree.pid().to_string();
    let (_, report) = run_json(&["kill", "--tree", "--remove-ipc", &root]);
    let reported = report["ipc"]
        .as_array()
        .is_some_and(|l| l.iter().any(|o| o["object"]["id"].as_i64() == Some(id)));
    assert!(
        !reported,
        "segment {id}, made before the tree's process started, reported: {report}"
    );
    assert!(sysv_exists(id), "segment {id} removed: {report}");
}
