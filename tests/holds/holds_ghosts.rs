//! Sockets no process holds, each with the explanation that fits: TIME_WAIT,
//! in flight in a unix socket queue (SCM_RIGHTS), another network namespace.

use crate::common;

use std::time::Duration;

use common::{Py, is_root, run, run_json, stdout, wait_until};
use serde_json::Value;

fn sockets(report: &Value) -> Vec<Value> {
    report["results"][0]["sockets"].as_array().unwrap().clone()
}

/// `holds SPEC` once a socket of it is in `state` (the kernel moves it
/// there a moment after the fixture's calls return), within 5 s.
fn report_once_in(spec: &str, state: &str) -> Value {
    let mut report = Value::Null;
    assert!(
        wait_until(Duration::from_secs(5), || {
            report = run_json(&["holds", spec]).1;
            sockets(&report).iter().any(|s| s["socket"]["state"] == state)
        }),
        "no {state} socket: {report}"
    );
    report
}

#[test]
fn time_wait_is_kernel_owned() {
    // The server closes first, so its side (local port P) enters TIME_WAIT.
    let py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
port = l.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port))
a, _ = l.accept()
a.close(); l.close()
c.recv(1); c.close()
report(port=port)
finish()
"#,
    );
    let spec = format!("tcp:{}", py.num("port"));
    report_once_in(&spec, "time_wait");
    let (code, report) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(1), "nothing holds a TIME_WAIT socket: {report}");
    let tw = sockets(&report)
        .into_iter()
        .find(|s| s["socket"]["state"] == "time_wait")
        .unwrap();
    assert_eq!(tw["socket"]["inode"], 0);
    assert_eq!(tw["holders"].as_array().unwrap().len(), 0);
    assert_eq!(tw["ghost"]["reason"], "time_wait");
    let text = stdout(&run(&["holds", &spec]));
    assert!(text.contains("no process holds it: kernel-owned TIME_WAIT"), "{text}");
}

/// Whether a new socket binds `127.0.0.1:PORT` and listens, with
/// `SO_REUSEADDR` or without: the kernel's own answer.
fn binds(port: i64, reuseaddr: bool) -> bool {
    let script = r#"
import socket, sys
s = socket.socket()
if sys.argv[2] == "1":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
except OSError:
    sys.exit(1)
"#;
    std::process::Command::new("python3")
        .args(["-c", script, &port.to_string(), if reuseaddr { "1" } else { "0" }])
        .status()
        .expect("python3 runs")
        .success()
}

/// A TIME_WAIT socket blocks a new bind of its port as the kernel decides:
/// always without SO_REUSEADDR; with it, only where the closed socket had
/// no SO_REUSEADDR itself (here its listener's), a flag sock_diag does not
/// give — so `holds` says a bind without it fails, and that the other
/// turns on that flag, never that it succeeds or fails.
#[test]
fn a_time_wait_socket_blocks_a_bind_as_the_kernel_decides() {
    let py = Py::start(
        r#"
def closed_first(reuse):
    l = socket.socket()
    if reuse:
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 0)); l.listen()
    port = l.getsockname()[1]
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = l.accept()
    a.close(); l.close()
    c.recv(1); c.close()
    return port
report(plain=closed_first(False), reuse=closed_first(True))
finish()
"#,
    );
    for (key, listener_had_reuseaddr) in [("plain", false), ("reuse", true)] {
        let port = py.num(key);
        let spec = format!("tcp:{port}");
        let report = report_once_in(&spec, "time_wait");
        let tw = sockets(&report)
            .into_iter()
            .find(|s| s["socket"]["state"] == "time_wait")
            .unwrap();
        assert_eq!(tw["bind"]["fails_without_reuseaddr"], true, "{tw}");
        assert_eq!(tw["bind"]["fails_with_reuseaddr"], Value::Null, "{tw}");
        // The kernel: no bind without SO_REUSEADDR; with it, as the
        // closed socket had it.
        assert!(!binds(port, false), "port {port} without SO_REUSEADDR");
        assert_eq!(
            binds(port, true),
            listener_had_reuseaddr,
            "port {port} with SO_REUSEADDR"
        );
        let text = stdout(&run(&["holds", &spec]));
        assert!(
            text.contains(&format!(
                "a new bind of 127.0.0.1:{port} (or of a wildcard address that covers it) without SO_REUSEADDR fails with EADDRINUSE while it lasts; with SO_REUSEADDR it succeeds only if this socket had SO_REUSEADDR too"
            )),
            "{text}"
        );
    }
}

#[test]
fn a_connection_closed_by_its_peer_before_accept_waits_in_the_accept_queue() {
    // The client connects and closes before the server accepts: the
    // server's side is in CLOSE-WAIT, with no inode, in the listener's
    // accept queue, and accept() still returns it.
    let py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
port = l.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port)); c.close()
report(port=port, pid=os.getpid())
finish()
"#,
    );
    let spec = format!("tcp:{}", py.num("port"));
    let report = report_once_in(&spec, "close_wait");
    let queued = sockets(&report)
        .into_iter()
        .find(|s| s["socket"]["state"] == "close_wait")
        .unwrap();
    assert_eq!(queued["ghost"]["reason"], "accept_queue", "{queued}");
    // The port is its listener's: no bind verdict of its own.
    assert!(queued.get("bind").is_none(), "{queued}");
    let holders: Vec<i64> = queued["ghost"]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(holders, vec![py.num("pid")], "{queued}");
}

/// A listener sent over a socketpair with SCM_RIGHTS, then closed: only the
/// receiving socket's queue keeps it.
const IN_FLIGHT: &str = r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
port = l.getsockname()[1]
a, b = socket.socketpair()
socket.send_fds(a, [b"x"], [l.fileno()])
l.close()
report(port=port, receiver_fd=b.fileno())
finish()
"#;

/// The listener's entry in a `holds` report.
fn listener_of(report: &Value) -> Value {
    let listener = sockets(report)
        .into_iter()
        .find(|s| s["socket"]["state"] == "listen")
        .expect("the listener still exists");
    assert_ne!(listener["socket"]["inode"], 0);
    listener
}

/// Checks the in-flight explanation names `me` as a receiver's holder.
fn assert_in_flight(listener: &Value, me: i64) {
    assert_eq!(listener["ghost"]["reason"], "in_flight", "{listener}");
    let receivers = listener["ghost"]["receivers"].as_array().unwrap();
    let ours = receivers
        .iter()
        .find(|r| {
            r["holders"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["pid"].as_i64() == Some(me))
        })
        .unwrap_or_else(|| panic!("the fixture's socket is a receiver: {listener}"));
    assert!(ours["recv_queue"].as_i64().unwrap() >= 1);
}

#[test]
fn listener_in_flight_points_at_the_receiving_socket() {
    let py = Py::start(IN_FLIGHT);
    let me = py.pid() as i64;
    let spec = format!("tcp:{}", py.num("port"));
    let (code, report) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(1), "{report}");
    let listener = listener_of(&report);
    // A process whose fds cannot be read, even by root (one a security
    // module guards, a VM's PID 1), might hold the listener: then no
    // flight is claimed, and the test below shows the flight where every
    // process can be read.
    if report["unseen"]["processes"] != 0 {
        assert_eq!(listener["ghost"]["reason"], "unreadable", "{listener}");
        return;
    }
    assert_in_flight(&listener, me);
    let text = stdout(&run(&["holds", &spec]));
    assert!(text.contains("in flight in a unix socket queue"), "{text}");
    assert!(text.contains(&format!("{me} python3")), "{text}");
}

/// The same flight seen from inside a PID namespace with its own /proc,
/// where every process is one afterlife may read.
#[test]
fn listener_in_flight_where_every_process_is_readable() {
    if !is_root() {
        println!("skipped: unshare --pid needs root");
        return;
    }
    let py = Py::start_with(&["unshare", "--fork", "--pid", "--mount-proc"], IN_FLIGHT);
    let spec = format!("tcp:{}", py.num("port"));
    // The python fixture: PID 1 of the namespace, the child of unshare.
    let mut inner = Vec::new();
    assert!(wait_until(Duration::from_secs(5), || {
        inner = common::children(py.pid());
        !inner.is_empty()
    }));
    let output = std::process::Command::new("nsenter")
        .args(["--target", &inner[0].to_string(), "--pid", "--mount", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--json", "holds", &spec])
        .output()
        .expect("nsenter runs");
    assert_eq!(output.status.code(), Some(1), "{}", common::stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["unseen"]["processes"], 0, "{report}");
    assert_in_flight(&listener_of(&report), 1);
}

#[test]
fn a_socket_in_another_network_namespace_names_a_process_there() {
    if !is_root() {
        println!("skipped: unshare --net needs root");
        return;
    }
    let mut py = Py::start_with(
        &["unshare", "--net"],
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
port = l.getsockname()[1]
report(port=port, pid=os.getpid(), netns=os.readlink("/proc/self/ns/net"))
finish()
"#,
    );
    let inner = py.num("pid");
    let spec = format!("tcp:{}", py.num("port"));
    let (code, report) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(0), "{report}");
    let found = sockets(&report)
        .into_iter()
        .find(|s| s["socket"]["state"] == "listen")
        .unwrap_or_else(|| panic!("listener in the other namespace: {report}"));
    let netns = py.facts["netns"].as_str().unwrap().to_string();
    assert_eq!(format!("net:[{}]", found["socket"]["netns"]), netns);
    assert_ne!(found["socket"]["netns"], report["own_netns"]);
    assert!(found["foreign_netns"]["pid"].as_i64().is_some());
    assert_eq!(found["holders"][0]["pid"].as_i64(), Some(inner));
    let text = stdout(&run(&["holds", &spec]));
    assert!(text.contains("in another network namespace"), "{text}");
    py.finish();
}

#[test]
fn a_time_wait_ghost_in_another_network_namespace() {
    if !is_root() {
        println!("skipped: unshare --net needs root");
        return;
    }
    let py = Py::start_with(
        &[
            "unshare",
            "--net",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ],
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
port = l.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port))
a, _ = l.accept()
a.close(); l.close()
c.recv(1); c.close()
report(port=port, pid=os.getpid())
finish()
"#,
    );
    let spec = format!("tcp:{}", py.num("port"));
    report_once_in(&spec, "time_wait");
    let (code, report) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(1), "{report}");
    let tw = sockets(&report)
        .into_iter()
        .find(|s| s["socket"]["state"] == "time_wait")
        .unwrap();
    assert_eq!(tw["ghost"]["reason"], "time_wait");
    assert_ne!(tw["socket"]["netns"], report["own_netns"]);
    assert_eq!(tw["foreign_netns"]["pid"].as_i64(), Some(py.num("pid")), "{tw}");
    let text = stdout(&run(&["holds", &spec]));
    assert!(text.contains("in another network namespace"), "{text}");
    assert!(text.contains("kernel-owned TIME_WAIT"), "{text}");
}
