//! A tree whose root was SIGKILLed and is now a zombie of a parent that
//! never reaps (as under a container's init that does not reap): the root
//! went with the tree — its memory and fds are gone, only its exit status
//! is left — so `leftovers` lists it with what went, not with what stayed.

use crate::common;

use std::time::Duration;

use common::{Fixture, Scratch, run, run_json, stdout, wait_until};

#[test]
fn a_killed_root_left_a_zombie_that_went_with_the_tree() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-zombie");
    // The root is `sleep 300`; its parent becomes `sleep 301`, which never
    // calls wait().
    let parent = Fixture::start("( exec sleep 300 ) & echo $!; exec sleep 301");
    let root = parent.reported;
    let parent_pid = parent.child.id() as i32;
    assert!(wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(format!("/proc/{parent_pid}/cmdline")).is_ok_and(|c| c.contains("301"))
            && std::fs::read_to_string(format!("/proc/{root}/cmdline")).is_ok_and(|c| c.contains("300"))
    }));
    let snapshot = run(&["--json", "snapshot", "--tree", &root.to_string()]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    let taken: serde_json::Value = crate::common::schema::parse("snapshot", &String::from_utf8_lossy(&snapshot.stdout));
    let fds = taken["processes"][0]["fds"].as_array().unwrap().len();
    assert!(fds > 0, "{taken:#}");

    common::send_signal(root, libc::SIGKILL);
    assert!(wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(format!("/proc/{root}/stat")).is_ok_and(|s| s.contains(") Z "))
    }));

    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "nothing stayed: {report:#}");
    assert_eq!(report["clean"], true, "{report:#}");
    assert_eq!(report["stayed"]["processes"], serde_json::json!([]), "{report:#}");
    let gone = &report["gone"]["processes"];
    assert_eq!(gone.as_array().unwrap().len(), 1, "{report:#}");
    assert_eq!(gone[0]["pid"], root);
    assert_eq!(gone[0]["name"], "sleep");
    let zombie = &gone[0]["zombie"];
    assert_eq!(zombie["ending"]["status"]["kind"], "signaled", "{zombie:#}");
    assert_eq!(zombie["ending"]["status"]["signal"]["name"], "SIGKILL", "{zombie:#}");
    assert_eq!(zombie["ending"]["shell_code"], 137, "{zombie:#}");
    assert_eq!(
        zombie["unreaped_by"],
        serde_json::json!({"role": "parent", "pid": parent_pid, "name": "sleep"})
    );
    assert_eq!(report["gone"]["fds"], fds, "{report:#}");

    let text = stdout(&run(&["leftovers", file.to_str().unwrap()]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("went with it: 1 process, {fds} fds (")),
        "{text}"
    );
    assert!(
        lines[0].contains(" resident (summed per process: shared pages count in each), 0 sockets, 0 locks, "),
        "{text}"
    );
    assert_eq!(
        lines[1],
        format!(
            "  process {root} sleep: killed by SIGKILL ($? = 137); a zombie until its parent {parent_pid} (sleep) reaps it"
        ),
        "{text}"
    );
    assert_eq!(lines[2], "stayed: nothing", "{text}");
    drop(parent);
}

/// A child of the tree that exited and waits as a zombie of a survivor
/// went with the tree: it is not also a process a survivor started since.
#[test]
fn a_zombie_child_of_a_survivor_is_listed_once_as_gone() {
    let scratch = Scratch::new("leftovers-zombie-child");
    let mut py = common::Py::start(
        r#"
child = os.fork()
if child == 0:
    os._exit(6)
report(child=child)
finish()
"#,
    );
    let child = py.num("child");
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|s| s.contains(") Z "))
    }));
    let root = py.pid().to_string();
    let snapshot = run(&["--json", "snapshot", "--tree", &root]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    let (_, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    let pids = |list: &serde_json::Value| -> Vec<i64> {
        list.as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["pid"].as_i64())
            .collect()
    };
    assert!(pids(&report["gone"]["processes"]).contains(&child), "{report:#}");
    assert!(!pids(&report["stayed"]["processes"]).contains(&child), "{report:#}");
    py.child.kill().unwrap();
    py.child.wait().unwrap();
}
