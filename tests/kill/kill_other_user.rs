//! Run unprivileged, afterlife cannot signal another user's process: that
//! one is reported with EPERM, and the others are still ended.

use crate::common;

use std::process::{Child, Command, Stdio};

use common::kill::{entry, sent};
use common::{afterlife, is_root};

const NOBODY: [&str; 4] = ["--reuid=65534", "--regid=65534", "--clear-groups", "--"];

fn sleep_as(user: Option<&[&str]>) -> Child {
    let mut command = match user {
        Some(args) => {
            let mut c = Command::new("setpriv");
            c.args(args).arg("sleep");
            c
        }
        None => Command::new("sleep"),
    };
    command.arg("60").stdout(Stdio::null()).spawn().expect("sleep runs")
}

#[test]
fn eperm_is_reported_for_that_process_and_the_rest_are_handled() {
    if !is_root() {
        eprintln!("skipped: starting processes of two users needs root");
        return;
    }
    let mut roots = sleep_as(None);
    let mut nobodys = sleep_as(Some(&NOBODY));
    let (root_pid, nobody_pid) = (roots.id() as i32, nobodys.id() as i32);
    assert!(common::wait_until(std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{nobody_pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    }));
    let output = Command::new("setpriv")
        .args(NOBODY)
        .arg(afterlife().get_program())
        .args(["--json", "kill", "--grace", "1s"])
        .arg(root_pid.to_string())
        .arg(nobody_pid.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(output.status.code(), Some(1), "{report:#}");

    let denied = entry(&report, root_pid);
    assert_eq!(denied["outcome"], "alive", "{denied:#}");
    assert_eq!(denied["reason"], "permission_denied", "{denied:#}");
    assert!(sent(denied).is_empty(), "{denied:#}");
    let ended = entry(&report, nobody_pid);
    assert_eq!(ended["outcome"], "ended", "{ended:#}");
    assert_eq!(sent(ended), ["SIGTERM"], "{ended:#}");

    assert!(roots.try_wait().unwrap().is_none(), "root's process must still run");
    let status = nobodys.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGTERM)
    );
    let _ = roots.kill();
    let _ = roots.wait();
}

/// Runs `afterlife kill ARGS` as nobody; returns its exit code and stdout.
fn kill_as_nobody(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new("setpriv")
        .args(NOBODY)
        .arg(afterlife().get_program())
        .arg("--color=never")
        .arg("kill")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_lone_target_it_may_not_signal_is_a_survivor_and_the_finish_says_why() {
    if !is_root() {
        eprintln!("skipped: starting processes of two users needs root");
        return;
    }
    let mut roots = sleep_as(None);
    let root_pid = roots.id().to_string();
    let (code, stdout) = kill_as_nobody(&["--json", "--grace", "1s", &root_pid]);
    let report: serde_json::Value = crate::common::schema::parse("kill", &stdout);
    assert_eq!(code, Some(1), "EPERM is a survivor, exit 1 as documented: {report:#}");
    assert_eq!(report["summary"]["survivors"], 1, "{report:#}");
    assert_eq!(report["finish"], "only_unsignalled_left", "{report:#}");
    assert_eq!(report["containment"]["kind"], "none", "nothing was stopped: {report:#}");

    let (code, stdout) = kill_as_nobody(&["--json", "--no-wait", &root_pid]);
    let report: serde_json::Value = crate::common::schema::parse("kill", &stdout);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["finish"], "not_waiting", "{report:#}");

    let (code, text) = kill_as_nobody(&["--grace", "1s", &root_pid]);
    assert_eq!(code, Some(1), "{text}");
    let summary = text.lines().find(|l| l.contains(" survived: ")).unwrap_or_default();
    assert!(
        summary.starts_with("1 survived: 1 process, 0 ended (0 needed SIGKILL), 0 refused, in "),
        "{text}"
    );
    assert!(summary.ends_with("; nothing was signalled"), "{text}");
    assert!(!text.contains("walks"), "{text}");
    assert!(roots.try_wait().unwrap().is_none(), "root's process must still run");
    let _ = roots.kill();
    let _ = roots.wait();
}

/// A dry run says what the real run would find: a target afterlife may not
/// signal (EPERM) is a survivor with its reason and diagnosis, and the exit
/// code is 1. It was listed as "would send SIGTERM", with exit 0, where
/// the real run then reported EPERM and exit 1.
#[test]
fn a_dry_run_names_a_target_it_may_not_signal_as_the_real_run_does() {
    if !is_root() {
        eprintln!("skipped: starting processes of two users needs root");
        return;
    }
    let mut roots = sleep_as(None);
    let mut nobodys = sleep_as(Some(&NOBODY));
    let (root_pid, nobody_pid) = (roots.id() as i32, nobodys.id() as i32);
    assert!(common::wait_until(std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{nobody_pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    }));
    let (root, nobody) = (root_pid.to_string(), nobody_pid.to_string());
    let (code, stdout) = kill_as_nobody(&["--json", "--dry-run", &root, &nobody]);
    let report: serde_json::Value = crate::common::schema::parse("kill", &stdout);
    assert_eq!(code, Some(1), "{report:#}");
    let denied = entry(&report, root_pid);
    assert_eq!(denied["outcome"], "alive", "{denied:#}");
    assert_eq!(denied["reason"], "permission_denied", "{denied:#}");
    assert!(denied["diagnosis"].is_object(), "{denied:#}");
    assert_eq!(entry(&report, nobody_pid)["outcome"], "would_signal", "{report:#}");
    assert_eq!(report["summary"]["survivors"], 1, "{report:#}");

    let (code, text) = kill_as_nobody(&["--dry-run", &root, &nobody]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "dry run: 1 process would be signalled, 0 refused, 1 may not be signalled (EPERM); nothing was sent"
        ),
        "{text}"
    );
    // Nothing was sent to either.
    for child in [&mut roots, &mut nobodys] {
        assert!(child.try_wait().unwrap().is_none(), "a dry run sends nothing");
        let _ = child.kill();
        let _ = child.wait();
    }
}
