//! Children that called `setsid` or `setpgid` are still descendants:
//! `--tree` ends them. A double-forked orphan is not a descendant any more:
//! `--session` and `--pgroup` catch it, and miss the setsid children — what
//! the help text says each selection can reach.

use crate::common;

use common::kill::{Tree, entry, kill_json, sent};

/// Prints: root, a setsid shell, its child sleep, a setsid sleep, a
/// python that called setpgid, and an orphan whose parent exited.
const SCRIPT: &str = r#"
field() { awk -v n="$2" '{ print $n }' "/proc/$1/stat"; }
settled() { while [ "$(field "$1" "$2")" != "$1" ]; do sleep 0.01; done; }
echo $$
setsid sh -c 'sleep 60 & wait' &
s=$!
settled $s 6
while [ -z "$(cat /proc/$s/task/$s/children)" ]; do sleep 0.01; done
echo $s
echo $(cat /proc/$s/task/$s/children)
setsid sleep 60 &
settled $! 6
echo $!
python3 -c 'import os, time; os.setpgid(0, 0); time.sleep(60)' &
settled $! 5
echo $!
( sleep 60 & echo $! )
sleep 0.05
echo ready
wait
"#;

const ROOT: usize = 0;
const SETSID_SH: usize = 1;
const SETSID_GRANDCHILD: usize = 2;
const SETSID_SLEEP: usize = 3;
const SETPGID: usize = 4;
const ORPHAN: usize = 5;

fn start(name: &str) -> Tree {
    let tree = Tree::start_session(name, SCRIPT);
    assert_eq!(tree.pids.len(), 6, "{:?}", tree.pids);
    tree
}

fn in_report(report: &serde_json::Value, pid: i32) -> bool {
    report["processes"].as_array().unwrap().iter().any(|p| p["pid"] == pid)
}

#[test]
fn a_tree_ends_setsid_and_setpgid_descendants() {
    let mut tree = start("setsid-tree");
    let (code, report, stderr) = kill_json(&["--tree", "--no-cgroup", "--grace", "3s", &tree.root().to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    for i in [ROOT, SETSID_SH, SETSID_GRANDCHILD, SETSID_SLEEP, SETPGID] {
        let e = entry(&report, tree.pids[i]);
        assert_eq!(e["outcome"], "ended", "{e:#}");
        assert_eq!(sent(e), ["SIGTERM"], "{e:#}");
        assert!(tree.handles[i].has_exited(), "member {i} survived");
    }
    // The orphan left the tree before afterlife came: not a descendant.
    assert!(!in_report(&report, tree.pids[ORPHAN]));
    assert!(!tree.handles[ORPHAN].has_exited());
    tree.reap();
}

#[test]
fn a_session_catches_the_orphan_but_not_setsid_children() {
    let mut tree = start("setsid-session");
    let (code, report, stderr) = kill_json(&["--session", "--grace", "3s", &tree.root().to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    for i in [ROOT, SETPGID, ORPHAN] {
        assert_eq!(entry(&report, tree.pids[i])["outcome"], "ended");
        assert!(tree.handles[i].has_exited(), "member {i} survived");
    }
    for i in [SETSID_SH, SETSID_GRANDCHILD, SETSID_SLEEP] {
        assert!(!in_report(&report, tree.pids[i]), "{i} left the session");
        assert!(!tree.handles[i].has_exited());
    }
    tree.reap();
}

#[test]
fn a_process_group_catches_the_orphan_but_not_setpgid_children() {
    let mut tree = start("setsid-pgroup");
    let (code, report, stderr) = kill_json(&["--pgroup", "--grace", "3s", &tree.root().to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    for i in [ROOT, ORPHAN] {
        assert_eq!(entry(&report, tree.pids[i])["outcome"], "ended");
        assert!(tree.handles[i].has_exited(), "member {i} survived");
    }
    for i in [SETSID_SH, SETSID_GRANDCHILD, SETSID_SLEEP, SETPGID] {
        assert!(!in_report(&report, tree.pids[i]), "{i} left the group");
        assert!(!tree.handles[i].has_exited());
    }
    tree.reap();
}
