//! `kill` holds one pidfd per member: it raises its own fd limit as far as
//! it may, refuses up front (nothing signalled) a selection it cannot pin
//! down whole, and never calls an open that failed "permission denied".
//! A command `watch` starts keeps the caller's limit.

use crate::common;

use std::process::Command;

use common::afterlife;
use common::kill::{Tree, entry};

/// 60 sleeps under one shell; prints their PIDs.
const WIDE: &str = "for i in $(seq 60); do sleep 60 & echo $!; done\necho ready\nwait\n";

/// afterlife under a fd limit of `soft:hard`, unable to raise the hard one
/// (as root, `CAP_SYS_RESOURCE` is dropped from the bounding set).
fn limited(soft: u32, hard: u32) -> Command {
    let mut command = if common::is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--inh-caps=-sys_resource", "--bounding-set=-sys_resource", "prlimit"]);
        c
    } else {
        Command::new("prlimit")
    };
    command.arg(format!("--nofile={soft}:{hard}"));
    let afterlife = afterlife();
    command.arg(afterlife.get_program()).args(afterlife.get_args());
    command
}

#[test]
fn a_tree_past_the_limit_is_refused_before_any_signal() {
    let mut tree = Tree::start("fd-limit-refused", WIDE);
    let root = tree.root().to_string();
    let output = limited(40, 40).args(["kill", "--tree", &root]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("the selection has 61 processes") && stderr.contains("nothing was signalled"),
        "{stderr}"
    );
    assert!(!tree.handles.iter().any(|h| h.has_exited()), "something was signalled");
    tree.reap();
}

#[test]
fn the_soft_limit_is_raised_to_the_hard_one() {
    let mut tree = Tree::start("fd-limit-raised", WIDE);
    let root = tree.root().to_string();
    let output = limited(40, 4096)
        .args(["--json", "kill", "--tree", &root])
        .output()
        .unwrap();
    let report: serde_json::Value = crate::common::schema::parse("kill", &String::from_utf8_lossy(&output.stdout));
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["processes"], 61);
    for &pid in &tree.pids {
        assert_eq!(entry(&report, pid)["outcome"], "ended");
    }
    assert!(tree.all_exited());
    tree.reap();
}

#[test]
fn a_watched_command_keeps_the_callers_limit() {
    let scratch = common::Scratch::new("fd-limit-watch");
    let seen = scratch.path().join("limit");
    // Long enough for the 10 samples a verdict needs (fewer exit 2).
    let script = format!("ulimit -Sn > '{}'; sleep 1.5", seen.display());
    let output = limited(512, 4096)
        .args([
            "--json",
            "watch",
            "--interval",
            "100ms",
            "--until-exit",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "512");
}
