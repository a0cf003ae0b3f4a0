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

/// A process makes a SysV segment and ends; more than a second later (the
/// segment dates its creation in whole seconds) a `sleep` is given its
/// PID. The segment id and the `sleep`, or `None` where another process
/// took the PID first.
fn create_then_reuse(cleanup: &mut common::IpcCleanup) -> Option<(i64, Reaped)> {
    let maker = Py::start(
        r#"
shm = libc.shmget(0, 4096, 0o1600)
assert shm >= 0
report(shm=shm)
"#,
    );
    let id = maker.num("shm");
    cleanup.0.push(id);
    let pid = maker.pid();
    drop(maker);
    assert!(wait_until(Duration::from_secs(5), || common::pid_dead(pid)));
    std::thread::sleep(Duration::from_millis(1600));
    let newcomer = common::spawn_at_pid(pid, Command::new("sleep").arg("30"))?;
    Some((id, Reaped(newcomer)))
}

fn has_shm(list: &Value, id: i64) -> bool {
    list.as_array().is_some_and(|l| {
        l.iter()
            .any(|o| o["kind"] == "sysv_shm" && o["id"].as_i64() == Some(id))
    })
}

#[test]
fn a_segment_made_before_a_process_started_is_not_its_own() {
    if !common::is_root() {
        eprintln!("skipped: handing out a chosen PID (ns_last_pid) needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("snapshot-reused-pid");
    let mut cleanup = common::IpcCleanup::default();
    let (id, newcomer) = (0..5)
        .find_map(|_| create_then_reuse(&mut cleanup))
        .expect("a PID handed out again in 5 rounds");
    let pid = newcomer.0.id().to_string();
    let (code, snapshot) = run_json(&["snapshot", &pid]);
    assert_eq!(code, Some(0), "{snapshot}");
    assert!(
        !has_shm(&snapshot["ipc"], id),
        "segment {id}, made before process {pid} started, in its snapshot: {snapshot}"
    );

    // Nor, once the process has ended, is it what the process left.
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, snapshot.to_string()).unwrap();
    drop(newcomer);
    let (_, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    let stayed = report["stayed"]["ipc"].as_array().unwrap();
    assert!(
        !stayed.iter().any(|o| o["object"]["id"].as_i64() == Some(id)),
        "segment {id} left by {pid}: {report}"
    );
}

/// The other way round: the dead tree's PID is given to an outsider, which
/// then makes a SysV segment and sends to a message queue of its own. The
/// kernel records the tree's old PID as the segment's creator and the
/// queue's last sender; both are the outsider's, not what the tree left.
#[test]
fn what_a_later_holder_of_the_trees_pid_makes_is_not_the_trees() {
    if !common::is_root() {
        eprintln!("skipped: handing out a chosen PID (ns_last_pid) needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-pid-taken-over");
    let mut tree = Py::start("report()\nfinish()\n");
    let root = tree.pid();
    let snapshot = run(&["--json", "snapshot", "--tree", &root.to_string()]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    tree.child.kill().unwrap();
    tree.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(5), || common::pid_dead(root)));

    let script = r#"
import ctypes, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
shm = libc.shmget(0, 4096, 0o1600)
q = libc.msgget(0, 0o1600)
assert shm >= 0 and q >= 0
assert libc.msgsnd(q, struct.pack("l4s", 1, b"abcd"), 4, 0) == 0
print(shm, q, flush=True)
time.sleep(30)
"#;
    let mut command = Command::new("python3");
    command.args(["-c", script]).stdout(std::process::Stdio::piped());
    let Some(mut outsider) = common::spawn_at_pid(root, &mut command) else {
        eprintln!("skipped: another process took PID {root} first");
        return;
    };
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(outsider.stdout.take().unwrap()), &mut line).unwrap();
    let outsider = Reaped(outsider);
    let ids: Vec<i64> = line.split_whitespace().map(|n| n.parse().unwrap()).collect();
    let mut segments = common::IpcCleanup::default();
    segments.0.push(ids[0]);
    let _queue = QueueCleanup(ids[1]);

    let (_, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    let stayed = report["stayed"]["ipc"].as_array().unwrap();
    assert!(
        !stayed
            .iter()
            .any(|o| ids.contains(&o["object"]["id"].as_i64().unwrap_or(-1))),
        "process {} made them with the tree's old PID {root}, taken as the tree's: {report}",
        outsider.0.id()
    );
    let queue = with_id(&report["ipc_held_by_others"], ids[1]).unwrap_or_else(|| panic!("{report}"));
    assert_eq!(queue["holders"][0]["pid"].as_i64(), Some(root as i64), "{report}");
}
