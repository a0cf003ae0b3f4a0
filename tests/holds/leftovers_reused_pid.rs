//! `afterlife leftovers`: a SysV message queue names its last users by PID
//! (`lspid`, `lrpid`), and the kernel keeps those PIDs after the processes
//! end. A process that was given such a PID after the last use is not the
//! queue's user: the queue the dead tree made and left stays the tree's.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::{Py, Scratch, run, run_json, wait_until};
use serde_json::Value;

/// Removes the queue by its id.
struct QueueCleanup(i64);

impl Drop for QueueCleanup {
    fn drop(&mut self) {
        let _ = Command::new("ipcrm").args(["-q", &self.0.to_string()]).output();
    }
}

/// Kills and reaps a process the test started, by its own handle.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn with_id(list: &Value, id: i64) -> Option<&Value> {
    list.as_array()?
        .iter()
        .find(|i| i["object"]["kind"] == "sysv_msg" && i["object"]["id"].as_i64() == Some(id))
}

/// An outsider receives one message from the queue `id` and ends; after
/// more than a second (the queue dates its last receive in whole seconds)
/// a `sleep` is given the outsider's PID. `None` where another process
/// took the PID first.
fn receive_then_reuse(id: i64) -> Option<Reaped> {
    let outsider = Py::start(&format!(
        r#"
buf = ctypes.create_string_buffer(72)
assert libc.msgrcv({id}, buf, 64, 0, 0o4000) == 4
report()
"#
    ));
    let pid = outsider.pid();
    drop(outsider);
    assert!(wait_until(Duration::from_secs(5), || common::pid_dead(pid)));
    std::thread::sleep(Duration::from_millis(1600));
    common::spawn_at_pid(pid, Command::new("sleep").arg("30")).map(Reaped)
}

#[test]
fn a_process_given_a_last_users_pid_later_is_not_the_queues_user() {
    if !common::is_root() {
        eprintln!("skipped: handing out a chosen PID (ns_last_pid) needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-reused-pid");
    // The tree makes a queue and sends to it.
    let mut tree = Py::start(
        r#"
libc.msgget.restype = ctypes.c_int
q = libc.msgget(0, 0o1600)
assert q >= 0
for _ in range(5):
    assert libc.msgsnd(q, struct.pack("l4s", 1, b"abcd"), 4, 0) == 0
report(q=q)
finish()
"#,
    );
    let id = tree.num("q");
    let _cleanup = QueueCleanup(id);
    let root = tree.pid();
    let snapshot = run(&["--json", "snapshot", "--tree", &root.to_string()]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();

    let reused = (0..5)
        .find_map(|_| receive_then_reuse(id))
        .expect("a PID handed out again in 5 rounds");
    let newcomer = reused.0.id() as i32;

    tree.child.kill().unwrap();
    tree.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(5), || common::pid_dead(root)));

    let (_, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert!(
        with_id(&report["ipc_held_by_others"], id).is_none(),
        "process {newcomer}, started after the last receive, named as a user: {report}"
    );
    assert!(with_id(&report["stayed"]["ipc"], id).is_some(), "{report}");
}
