//! A /proc that cannot answer for afterlife's own PIDs — none at all (a
//! chroot), another PID namespace's (`unshare --pid --fork` without
//! `--mount-proc`), or one that hides other users' processes (`hidepid`) —
//! is said so, never taken for "no such process" or for another process.

use crate::common;

use std::process::{Command, Output};

use common::{Scratch, is_root, sleeper, stderr, stdout};

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

#[test]
fn a_process_hidepid_hides_is_hidden_not_gone() {
    if !is_root() {
        println!("skipped: mounting a /proc with hidepid needs root");
        return;
    }
    let target = sleeper("30");
    let pid = target.0.id().to_string();
    // A procfs instance of its own (never a remount: the options of the
    // machine's /proc are its superblock's), in a mount namespace that
    // ends with the command; afterlife as nobody, which sees no root
    // process there.
    let hidden = |args: &[&str]| {
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount -t proc -o hidepid=invisible proc /proc && \
                 exec setpriv --reuid=65534 --regid=65534 --clear-groups -- \"$0\" --color=never \"$@\"",
            )
            .arg(AFTERLIFE)
            .args(args)
            .output()
            .expect("unshare runs")
    };
    for args in [
        &["status", pid.as_str()][..],
        &["why", &pid],
        &["snapshot", &pid],
        &["kill", "--signal", "0", &pid],
        &["kill", "--dry-run", &pid],
        &["watch", "--duration", "1s", &pid],
    ] {
        let output = hidden(args);
        let err = stderr(&output);
        assert_eq!(code(&output), Some(125), "{args:?}: {}{err}", stdout(&output));
        assert!(
            err.contains(&format!(
                "process {pid} exists, but /proc does not show it (mounted with hidepid"
            )),
            "{args:?}: {err}"
        );
    }
    // A PID no process has is still gone.
    let output = hidden(&["status", "4194303"]);
    assert_eq!(code(&output), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("gone"), "{}", stdout(&output));
}

/// Inside a user namespace, a user it does not map reads as the overflow
/// ID (65534): root's process is given no name there, never `nobody`.
#[test]
fn an_unmapped_user_is_given_no_name() {
    if !is_root() {
        println!("skipped: needs root to run afterlife as another user");
        return;
    }
    let target = sleeper("30");
    let pid = target.0.id().to_string();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["unshare", "--user", "--map-root-user"])
        .arg(AFTERLIFE)
        .args(["snapshot", "--json", &pid])
        .output()
        .expect("setpriv runs");
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let snapshot: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let process = &snapshot["processes"][0];
    assert_eq!(process["uid"], 65534, "{process}");
    assert!(process["user"].is_null(), "{process}");
}
