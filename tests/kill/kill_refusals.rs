//! afterlife refuses PID 1 (here the init of a new PID namespace) and its
//! own ancestors unless `--force`, and never signals itself. A forced
//! signal to a namespace's init from inside is dropped by the kernel, and
//! the report says so.

use crate::common;

use std::process::Command;

use common::is_root;
use common::kill::{entry, sent};
use serde_json::Value;

fn in_new_pid_namespace(afterlife_args: &str) -> Option<(i32, Value)> {
    if !is_root() {
        eprintln!("skipped: a new PID namespace needs root");
        return None;
    }
    // sh is PID 1 of the namespace and the parent of afterlife.
    let output = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c"])
        .arg(format!("\"$AFTERLIFE\" --json kill {afterlife_args}; echo \"rc=$?\""))
        .env("AFTERLIFE", env!("CARGO_BIN_EXE_afterlife"))
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let (json, rc) = stdout
        .rsplit_once("rc=")
        .unwrap_or_else(|| panic!("no exit code: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    let report = crate::common::schema::parse("kill", json);
    Some((rc.trim().parse().unwrap(), report))
}

#[test]
fn pid_1_of_a_namespace_is_refused() {
    let Some((rc, report)) = in_new_pid_namespace("--grace 300ms 1") else {
        return;
    };
    assert_eq!(rc, 1, "{report:#}");
    let init = entry(&report, 1);
    assert_eq!(init["outcome"], "alive", "{init:#}");
    assert_eq!(init["reason"], "refused", "{init:#}");
    assert_eq!(init["refusal"], "init", "{init:#}");
    assert!(sent(init).is_empty());
    assert_eq!(report["summary"]["refused"], 1);
}

#[test]
fn a_forced_signal_to_a_namespace_init_is_dropped_and_explained() {
    let Some((rc, report)) = in_new_pid_namespace("--force --no-escalate --grace 300ms 1") else {
        return;
    };
    assert_eq!(rc, 1, "{report:#}");
    let init = entry(&report, 1);
    assert_eq!(sent(init), ["SIGTERM"], "{init:#}");
    assert_eq!(init["outcome"], "alive", "{init:#}");
    assert_eq!(init["reason"], "namespace_init", "{init:#}");
}

#[test]
fn its_own_shell_and_itself_are_refused() {
    let output = Command::new("sh")
        .arg("-c")
        .arg("\"$AFTERLIFE\" --json kill --grace 300ms $$; echo \"rc=$?\"")
        .env("AFTERLIFE", env!("CARGO_BIN_EXE_afterlife"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (json, rc) = stdout.rsplit_once("rc=").unwrap();
    let report: Value = crate::common::schema::parse("kill", json);
    assert_eq!(rc.trim(), "1", "{report:#}");
    let shell = &report["processes"][0];
    assert_eq!(shell["refusal"], "ancestor", "{report:#}");

    // A session walk finds afterlife itself and its shell; neither is
    // signalled, and as walk finds they do not count as survivors.
    let output = Command::new("setsid")
        .arg("sh")
        .arg("-c")
        .arg("\"$AFTERLIFE\" --json kill --session --grace 300ms $$; echo \"rc=$?\"")
        .env("AFTERLIFE", env!("CARGO_BIN_EXE_afterlife"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (json, rc) = stdout.rsplit_once("rc=").unwrap();
    let report: Value = crate::common::schema::parse("kill", json);
    let refusals: Vec<&str> = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["refusal"].as_str().unwrap_or("none"))
        .collect();
    assert!(refusals.contains(&"itself"), "{report:#}");
    assert!(refusals.contains(&"ancestor"), "{report:#}");
    // The shell was named, so its refusal counts.
    assert_eq!(rc.trim(), "1", "{report:#}");
}

#[test]
fn a_session_that_reads_zero_is_refused_not_taken_for_every_process() {
    // Inside a new PID namespace, a session led from outside it reads 0,
    // as it does for everything init starts without setsid: "session 0"
    // would be every such process.
    if !is_root() {
        eprintln!("skipped: a new PID namespace needs root");
        return;
    }
    let output = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "sh", "-c"])
        .arg(
            "sleep 30 & s=$!; \"$AFTERLIFE\" kill --session $s; echo \"rc=$?\"; \
             \"$AFTERLIFE\" kill --pgroup $s; echo \"rc=$?\"; kill -0 $s && echo alive; kill $s",
        )
        .env("AFTERLIFE", env!("CARGO_BIN_EXE_afterlife"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stdout.matches("rc=125").count(), 2, "{stdout}\n{stderr}");
    assert!(stdout.contains("alive"), "{stdout}\n{stderr}");
    assert!(stderr.contains("has no session of its own"), "{stderr}");
    assert!(stderr.contains("has no process group of its own"), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}

/// A tree whose root is refused is not walked: the text says so, rather
/// than leave the reader to think the root was all there was.
#[test]
fn a_refused_tree_root_says_its_descendants_were_not_selected() {
    let output = Command::new("sh")
        .arg("-c")
        .arg("sleep 30 & \"$AFTERLIFE\" kill --tree --dry-run $$; echo \"rc=$?\"; kill $!")
        .env("AFTERLIFE", env!("CARGO_BIN_EXE_afterlife"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("refused"), "{stdout}");
    assert!(
        stdout.contains("its tree was not walked from it (a descendant is ended only if named on its own)"),
        "{stdout}"
    );
    assert!(stdout.contains("rc=1"), "{stdout}");
}
