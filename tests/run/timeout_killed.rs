//! `timeout` killed itself (coreutils' timeout-group.sh): the command gets
//! the `-s` signal and time to handle it, as with GNU timeout 9.10 and
//! later; what does not end within the grace (`-k`) is killed, so the tree
//! still ends with afterlife, however afterlife ends.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// Starts `afterlife timeout` with `args` and a shell `script` that names
/// itself in `pid` and then writes `ready`; the shell's PID as this test's
/// namespace gives it.
fn start(scratch: &Scratch, args: &[&str], script: &str) -> (std::process::Child, i32) {
    let ready = scratch.path().join("ready");
    let pid = scratch.path().join("pid");
    let script = format!(
        "{} > '{}'; {script} echo ready > '{}'; while :; do sleep 0.05; done",
        NAME_ITSELF_SH,
        pid.display(),
        ready.display()
    );
    let child = Command::new(env!("CARGO_BIN_EXE_afterlife"))
        .arg("timeout")
        .args(args)
        .args(["30", "sh", "-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .expect("afterlife runs");
    assert!(
        wait_until(Duration::from_secs(20), || ready.exists()),
        "the command did not start"
    );
    let shell = pids_in(&pid)[0];
    (child, shell)
}

fn containments() -> Vec<&'static str> {
    if is_root() {
        vec!["cgroup", "pidns", "subreaper"]
    } else {
        eprintln!("skipped cgroup and pidns: they need root");
        vec!["subreaper"]
    }
}

#[test]
fn the_command_handles_the_signal_when_timeout_is_killed() {
    for containment in containments() {
        let scratch = Scratch::new(&format!("timeout-killed-{containment}"));
        let handled = scratch.path().join("handled");
        let trap = format!("trap 'echo handled > \"{}\"; exit 0' USR1;", handled.display());
        let (mut afterlife, shell) = start(
            &scratch,
            &["--containment", containment, "-s", "USR1", "-k", "5"],
            &trap,
        );
        afterlife.kill().unwrap();
        afterlife.wait().unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || handled.exists()),
            "{containment}: the command did not handle USR1 after timeout was killed"
        );
        assert!(
            wait_until(Duration::from_secs(10), || pid_dead(shell)),
            "{containment}: the command outlived timeout"
        );
    }
}

#[test]
fn what_ignores_the_signal_is_killed_after_the_grace() {
    for containment in containments() {
        let scratch = Scratch::new(&format!("timeout-killed-ignore-{containment}"));
        let (mut afterlife, shell) = start(
            &scratch,
            &["--containment", containment, "-s", "USR1", "-k", "1"],
            "trap '' USR1;",
        );
        afterlife.kill().unwrap();
        afterlife.wait().unwrap();
        assert!(
            wait_until(Duration::from_secs(15), || pid_dead(shell)),
            "{containment}: the command that ignores USR1 outlived timeout and its grace"
        );
    }
}
