//! A /proc that cannot answer for afterlife's own PIDs — none at all (a
//! chroot), another PID namespace's (`unshare --pid --fork` without
//! `--mount-proc`), or one that hides other users' processes (`hidepid`) —
//! is said so, never taken for "no such process" or for another process.

use crate::common;

use std::process::{Command, Output};

use common::{Scratch, is_root, stderr, stdout};

const AFTERLIFE: &str = env!("CARGO_BIN_EXE_afterlife");

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

/// `afterlife ARGS` in a new PID namespace, with a /proc of its own or not.
fn in_pid_namespace(mount_proc: bool, args: &[&str]) -> Output {
    let mut command = Command::new("unshare");
    command.args(["--pid", "--fork", "--kill-child"]);
    if mount_proc {
        command.arg("--mount-proc");
    }
    command
        .arg(AFTERLIFE)
        .arg("--color=never")
        .args(args)
        .output()
        .expect("unshare runs")
}

#[test]
fn a_proc_of_another_pid_namespace_is_refused() {
    if !is_root() {
        println!("skipped: a new PID namespace needs root");
        return;
    }
    for args in [
        &["status", "1"][..],
        &["kill", "--signal", "0", "1"],
        &["why", "1"],
        &["snapshot", "1"],
        &["holds", ":1"],
        &["kill", "--name", "sleep", "--dry-run"],
    ] {
        let output = in_pid_namespace(false, args);
        let err = stderr(&output);
        assert_eq!(code(&output), Some(125), "{args:?}: {}{err}", stdout(&output));
        assert!(
            err.contains("/proc shows another PID namespace than afterlife's (it calls afterlife PID "),
            "{args:?}: {err}"
        );
        assert!(err.contains("afterlife's own PID is 1)"), "{args:?}: {err}");
        assert!(stdout(&output).is_empty(), "{args:?}: {}", stdout(&output));
    }
    // A run inside another PID namespace is still allowed.
    assert_eq!(code(&in_pid_namespace(false, &["run", "--", "true"])), Some(0));
    // With a /proc of its own, PID 1 is afterlife itself, the namespace's init.
    let output = in_pid_namespace(true, &["status", "1"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("1 afterlife: running"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn no_proc_is_refused() {
    if !is_root() {
        println!("skipped: chroot needs root");
        return;
    }
    // The binary is static: it runs alone in an empty root.
    let root = Scratch::new("no-proc");
    std::fs::copy(AFTERLIFE, root.path().join("afterlife")).expect("copy the binary");
    let chrooted = |args: &[&str]| {
        Command::new("chroot")
            .arg(root.path())
            .args(["/afterlife", "--color=never"])
            .args(args)
            .output()
            .expect("chroot runs")
    };
    for args in [
        &["status", "1"][..],
        &["kill", "1"],
        &["holds", ":1"],
        &["run", "--", "/afterlife"],
    ] {
        let output = chrooted(args);
        let err = stderr(&output);
        assert_eq!(code(&output), Some(125), "{args:?}: {}{err}", stdout(&output));
        assert!(
            err.starts_with("afterlife: error: /proc is not mounted here"),
            "{args:?}: {err}"
        );
    }
    // What reads no process still answers.
    assert_eq!(code(&chrooted(&["explain", "9"])), Some(0));
}
