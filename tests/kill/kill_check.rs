//! `kill --signal 0`: the liveness check of `kill -0` through pidfds.
//! Nothing is sent; each target is reported as running and signalable,
//! running but not signalable (EPERM), a zombie, or gone; exit 0 only when
//! every target runs and may be signalled.

use crate::common;

use std::process::Command;

use common::kill::{kill_report, kill_text};
use common::{is_root, sleeper, unreaped_zombie, unused_pid};
use serde_json::{Value, json};

#[test]
fn a_running_process_passes_and_nothing_is_sent() {
    let mut sleeper = sleeper("60");
    let pid = sleeper.pid().to_string();
    for signal in ["0", " 0"] {
        let (code, text, stderr) = kill_text(&["--signal", signal, &pid]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{text}");
        let width = pid.len().max(3);
        assert_eq!(
            text,
            format!(
                "{:>width$}  NAME   CHECK\n{pid}  sleep  running; may be signalled\n\
                 every target runs and may be signalled: 1 process checked, 1 exists; signal 0 sends nothing\n",
                "PID"
            )
        );
    }
    // No grace, no wait, no SIGKILL: the same with a grace that would be long.
    let started = std::time::Instant::now();
    let (code, report) = kill_report(&["-s", "0", "--grace", "60s", &pid]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(code, 0);
    assert_eq!(
        report,
        json!({
            "version": 2,
            "signal": 0,
            "scope": "pids",
            "summary": {"processes": 1, "existing": 1, "signalable": 1},
            "processes": [{"pid": sleeper.0.id(), "name": "sleep", "named": true,
                           "result": "signalable", "exists": true, "signalable": true}]
        })
    );
    assert!(sleeper.running(), "signal 0 must send nothing");
    // -q: nothing at all.
    let (code, text, stderr) = kill_text(&["-q", "-s", "0", &pid]);
    assert_eq!((code, text.as_str(), stderr.as_str()), (0, "", ""));
}

#[test]
fn a_zombie_or_a_missing_pid_fails_the_check() {
    let mut sleeper = sleeper("60");
    let zombie = unreaped_zombie(3);
    let missing = unused_pid();
    let (pid, z, m) = (
        sleeper.pid().to_string(),
        zombie.reported.to_string(),
        missing.to_string(),
    );
    let (code, text, stderr) = kill_text(&["-s", "0", &pid, &z, &m]);
    assert_eq!((code, stderr.as_str()), (1, ""), "{text}");
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "PID NAME CHECK".to_string(),
            format!("{pid} sleep running; may be signalled"),
            format!("{z} sh exited; a zombie until its parent reaps it"),
            format!("{m} - no such process (it never existed, or it ended and was reaped)"),
            "1 of 3 run and may be signalled: 3 processes checked, 2 exist; signal 0 sends nothing".to_string(),
        ]
    );
    let (code, report) = kill_report(&["-s", "0", &z, &m]);
    assert_eq!(code, 1);
    assert_eq!(
        report["summary"],
        json!({"processes": 2, "existing": 1, "signalable": 0})
    );
    assert_eq!(
        report["processes"][0],
        json!({"pid": zombie.reported, "name": "sh", "named": true, "result": "zombie", "exists": true, "signalable": false})
    );
    assert_eq!(
        report["processes"][1],
        json!({"pid": missing, "name": null, "named": true, "result": "gone", "exists": false, "signalable": false})
    );
    let (code, text, stderr) = kill_text(&["-q", "-s", "0", &pid, &m]);
    assert_eq!((code, text.as_str(), stderr.as_str()), (1, "", ""));
    assert!(sleeper.running());
}

#[test]
fn another_users_process_exists_but_may_not_be_signalled() {
    if !is_root() {
        eprintln!("skipped: running afterlife as another user needs root");
        return;
    }
    let mut sleeper = sleeper("60");
    let pid = sleeper.pid().to_string();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--json", "kill", "--signal", "0", &pid])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report: Value = crate::common::schema::parse("kill", &String::from_utf8_lossy(&output.stdout));
    assert_eq!(
        report["processes"],
        json!([{"pid": sleeper.0.id(), "name": "sleep", "named": true,
                "result": "permission_denied", "exists": true, "signalable": false}])
    );
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--color=never", "kill", "-s", "0", &pid])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!(
            "{pid}  sleep  running; may NOT be signalled (EPERM: another user's process, and afterlife lacks CAP_KILL)"
        )),
        "{text}"
    );
    assert!(sleeper.running());
}

#[test]
fn a_tree_and_a_name_are_checked_whole() {
    let scratch = common::Scratch::new("kill-check-tree");
    let name = format!("kc{}", std::process::id());
    let copy = scratch.path().join(&name);
    std::fs::copy("/bin/sh", &copy).unwrap();
    let child_file = scratch.path().join("child");
    let script = format!("sleep 60 & echo $! > '{}'; wait", child_file.display());
    let mut parent = common::spawn_fresh_copy(Command::new(&copy).args(["-c", &script]));
    assert!(common::wait_until(std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(&child_file).is_ok_and(|t| t.ends_with('\n'))
    }));
    let child: i64 = std::fs::read_to_string(&child_file).unwrap().trim().parse().unwrap();
    let (code, report) = kill_report(&["-s", "0", "--tree", "-x", "--name", &name]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["name_match"],
        json!({"pattern": name, "exact": true, "uid": null})
    );
    assert_eq!(report["scope"], "tree");
    let pids: Vec<i64> = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids, [parent.id() as i64, child]);
    assert!(parent.try_wait().unwrap().is_none());
    common::kill_pids(&[child as i32]);
    let _ = parent.kill();
    let _ = parent.wait();
    let (code, text, _) = kill_text(&["-s", "0", "-x", "--name", &name]);
    assert_eq!(code, 1);
    assert!(text.starts_with("no process matched: none named exactly"), "{text}");
}
