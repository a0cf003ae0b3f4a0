//! `afterlife run --remove-ipc`: a SysV segment names its creator by PID
//! (`cpid`). A process of the tree that ended gives its PID back; a
//! process outside the tree given that PID later, which makes a segment,
//! is not the tree's: its segment is neither reported nor removed.

use crate::common;

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

use common::ipc::sysv_exists;
use common::{Scratch, afterlife};
use serde_json::Value;

/// Forks a child, prints its PID, ends and reaps it when told (a line on
/// stdin), says so, and waits for `go`.
const TREE: &str = r#"
import os, sys, time
pid = os.fork()
if pid == 0:
    time.sleep(100)
    os._exit(0)
print(pid, flush=True)
sys.stdin.readline()
os.kill(pid, 9)
os.waitpid(pid, 0)
print("reaped", flush=True)
sys.stdin.readline()
"#;

/// Makes a SysV segment (kept when it ends) and prints its id.
const OUTSIDER: &str = r#"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
shm = libc.shmget(0, 4096, 0o1600)
assert shm >= 0
print(shm, flush=True)
"#;

struct ShmCleanup(Vec<i64>);

impl Drop for ShmCleanup {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = Command::new("ipcrm").args(["-m", &id.to_string()]).output();
        }
    }
}

/// One run whose ended child's PID an outsider is given; the outsider's
/// segment id, or `None` where another process took the PID first.
fn one_round(report_path: &std::path::Path, cleanup: &mut ShmCleanup) -> Option<(i64, Value)> {
    let mut run = afterlife()
        .args(["run", "--remove-ipc", "--report-json"])
        .arg(report_path)
        .args(["--", "python3", "-c", TREE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("afterlife runs");
    let mut stdout = std::io::BufReader::new(run.stdout.take().unwrap());
    let mut stdin = run.stdin.take().unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // The child's PID as afterlife's namespace numbers it: the tree may
    // have a PID namespace of its own, and then the number it printed is
    // that namespace's.
    let inner: i32 = line.trim().parse().unwrap_or_else(|_| panic!("tree printed {line:?}"));
    let pid = outer_pid(run.id() as i32, inner);
    stdin.write_all(b"end\n").unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "reaped");
    let outsider = pid.and_then(|pid| {
        let mut command = Command::new("python3");
        command.args(["-c", OUTSIDER]).stdout(Stdio::piped());
        common::spawn_at_pid(pid, &mut command)
    });
    let id = outsider.map(|child| {
        let output = child.wait_with_output().unwrap();
        let id: i64 = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
        cleanup.0.push(id);
        id
    });
    stdin.write_all(b"go\n").unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(0));
    let report: Value = common::schema::parse("run", &std::fs::read_to_string(report_path).unwrap());
    Some((id?, report))
}

/// The PID, in afterlife's namespace, of the grandchild of `afterlife`
/// whose PID in its own namespace is `inner`.
fn outer_pid(afterlife: i32, inner: i32) -> Option<i32> {
    let pids: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let parent = |p: i32| common::stat_number(&p.to_string(), 1).map(|n| n as i32);
    let own_pid = |p: i32| {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
        let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
        nspid.split_whitespace().last()?.parse::<i32>().ok()
    };
    pids.into_iter()
        .find(|&p| own_pid(p) == Some(inner) && parent(p).and_then(parent) == Some(afterlife))
}

#[test]
fn a_segment_made_by_a_process_given_an_ended_members_pid_is_not_the_trees() {
    if !common::is_root() {
        eprintln!("skipped: handing out a chosen PID (ns_last_pid) needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("run-ipc-reused-pid");
    let report_path = scratch.path().join("report.json");
    let mut cleanup = ShmCleanup(Vec::new());
    let (id, report) = (0..5)
        .find_map(|_| one_round(&report_path, &mut cleanup))
        .expect("a PID handed out again in 5 rounds");
    let reported = report["ipc"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["object"]["kind"] == "sysv_shm" && o["object"]["id"].as_i64() == Some(id));
    assert!(
        !reported,
        "the outsider's segment {id} reported as the tree's: {report}"
    );
    assert!(sysv_exists(id), "the outsider's segment {id} was removed: {report}");
}

/// Says it runs, then forks a child (printing its PID) for each line on
/// stdin until `go`, then ends them.
const FORKER: &str = r#"
import os, sys, time
kids = []
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "go":
        break
    pid = os.fork()
    if pid == 0:
        time.sleep(100)
        os._exit(0)
    kids.append(pid)
    print(pid, flush=True)
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
"#;

/// A process that ran before the run started makes a segment during it
/// and ends; more than a second later the tree forks a child given its
/// PID. The segment id and the report, or `None` where another process
/// took the PID first.
fn made_before_a_member(report_path: &std::path::Path, cleanup: &mut ShmCleanup) -> Option<(i64, Value)> {
    let mut outsider = common::Py::start("report()\nsys.stdin.readline()\nreport(shm=libc.shmget(0, 4096, 0o1600))\n");
    let pid = outsider.pid();
    let mut run = afterlife()
        .args(["run", "--remove-ipc", "--report-json"])
        .arg(report_path)
        .args(["--", "python3", "-c", FORKER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("afterlife runs");
    let mut stdout = std::io::BufReader::new(run.stdout.take().unwrap());
    let mut stdin = run.stdin.take().unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    outsider.child.stdin.as_mut().unwrap().write_all(b"make\n").unwrap();
    let id = outsider.next_report()["shm"].as_i64().unwrap();
    assert!(id >= 0);
    cleanup.0.push(id);
    drop(outsider);
    assert!(common::wait_until(std::time::Duration::from_secs(5), || {
        common::pid_dead(pid)
    }));
    std::thread::sleep(std::time::Duration::from_millis(1600));
    assert!(common::fork_at_pid(pid, || stdin.write_all(b"fork\n").unwrap()));
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let inner: i32 = line.trim().parse().unwrap_or_else(|_| panic!("tree printed {line:?}"));
    let reused = outer_pid(run.id() as i32, inner) == Some(pid);
    stdin.write_all(b"go\n").unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(0));
    let report: Value = common::schema::parse("run", &std::fs::read_to_string(report_path).unwrap());
    reused.then_some((id, report))
}

#[test]
fn a_segment_made_before_a_member_had_its_pid_is_not_the_trees() {
    if !common::is_root() {
        eprintln!("skipped: handing out a chosen PID (ns_last_pid) needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("run-ipc-made-before");
    let report_path = scratch.path().join("report.json");
    let mut cleanup = ShmCleanup(Vec::new());
    let (id, report) = (0..5)
        .find_map(|_| made_before_a_member(&report_path, &mut cleanup))
        .expect("a PID handed out again in 5 rounds");
    let reported = report["ipc"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["object"]["kind"] == "sysv_shm" && o["object"]["id"].as_i64() == Some(id));
    assert!(
        !reported,
        "the outsider's segment {id} reported as the tree's: {report}"
    );
    assert!(sysv_exists(id), "the outsider's segment {id} was removed: {report}");
}
