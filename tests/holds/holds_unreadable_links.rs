//! A process whose fd directory another user may list but whose links it
//! may not read (dumpable, with a saved UID of 0 after `setresuid`): its
//! fds are unseen, never "0 fds", and a socket only it holds gets the
//! `unreadable` ghost.

use crate::common;

use std::process::{Command, Output};

use common::{Py, is_root, stdout};

/// Runs afterlife as user nobody with `args`, the /proc walk forced when
/// `proc_walk`.
fn as_nobody(args: &[&str], proc_walk: bool) -> Output {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .arg("--color=never")
        .args(args);
    if proc_walk {
        command.env("AFTERLIFE_PROC_WALK", "1");
    } else {
        command.env_remove("AFTERLIFE_PROC_WALK");
    }
    command.output().expect("setpriv runs")
}

fn setpriv_missing() -> bool {
    Command::new("setpriv").arg("--version").output().is_err()
}

#[test]
fn links_refused_in_a_listable_fd_directory_leave_the_process_unseen() {
    if !is_root() || setpriv_missing() {
        println!("skipped: needs root and setpriv to run afterlife as user nobody");
        return;
    }
    // The listener is bound as root, then the process becomes nobody
    // (real and effective) but keeps a saved UID of 0, dumpable again: its
    // /proc/PID/fd is nobody's to list, each link ptrace-protected.
    let py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
os.setresuid(65534, 65534, 0)
libc.prctl(4, 1, 0, 0, 0)
report(port=l.getsockname()[1])
finish()
"#,
    );
    let pid = py.pid();
    let listed = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    assert!(listed >= 4, "{listed}");

    let output = as_nobody(&["--json", "snapshot", &pid.to_string()], false);
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    let snapshot = common::schema::parse("snapshot", &stdout(&output));
    let process = &snapshot["processes"][0];
    assert_eq!(process["fds_unreadable"], true, "{process}");
    assert_eq!(process["fds"].as_array().map(Vec::len), Some(0), "{process}");
    let denied = format!("permission denied reading /proc/{pid}/fd");
    assert!(
        process["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == denied.as_str()),
        "{process}"
    );
    // Its root refused too: said, not taken for `/` by leaving root_dir out.
    let root_denied = format!("permission denied reading /proc/{pid}/root");
    assert!(
        process["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == root_denied.as_str()),
        "{process}"
    );
    let output = as_nobody(&["snapshot", &pid.to_string()], false);
    let text = stdout(&output);
    assert!(text.contains("fds unreadable"), "{text}");
    assert!(!text.contains(" 0 fds"), "{text}");
    assert!(text.contains(&format!("note: {denied}")), "{text}");

    let spec = format!("tcp:{}", py.num("port"));
    for proc_walk in [false, true] {
        let output = as_nobody(&["--json", "holds", &spec], proc_walk);
        let holds = common::schema::parse("holds", &stdout(&output));
        assert_eq!(output.status.code(), Some(1), "{holds}");
        let unseen = &holds["unseen"];
        assert!(unseen["processes"].as_u64().unwrap() >= 1, "{unseen}");
        // Listed among the first 20 unless many others are unseen too.
        let pids = unseen["pids"].as_array().unwrap();
        assert!(
            pids.iter().any(|p| p == pid) || pids.len() == 20,
            "proc walk {proc_walk}: {unseen}"
        );
        let socket = &holds["results"][0]["sockets"][0];
        assert_eq!(
            socket["ghost"]["reason"], "unreadable",
            "proc walk {proc_walk}: {socket}"
        );
    }
    // Root reads them.
    let (code, holds) = common::run_json(&["holds", &spec]);
    assert_eq!(code, Some(0), "{holds}");
    assert_eq!(holds["results"][0]["sockets"][0]["holders"][0]["pid"], pid, "{holds}");
}
