//! `kill --tree` ends nested children: every level gets the graceful
//! signal, and processes that exit on it are never sent SIGKILL. Without
//! `--tree` only the named process is signalled.

use crate::common;

use std::time::Duration;

use common::kill::{Tree, entry, kill_json, sent};

/// root sh ─ sh ─ sh ─ sh ─ sleep; prints the five PIDs.
const NESTED: &str = r#"
export NEST='echo $$; if [ "$DEPTH" -gt 0 ]; then DEPTH=$((DEPTH-1)) sh -c "$NEST" & wait; else sleep 60 & echo $!; echo ready; wait; exec sleep 60; fi'
export DEPTH=3
exec sh -c "$NEST"
"#;

#[test]
fn a_tree_of_nested_children_ends_on_term() {
    let mut tree = Tree::start("nested", NESTED);
    assert_eq!(tree.pids.len(), 5, "{:?}", tree.pids);
    assert_eq!(tree.pids[0], tree.root());
    let root = tree.root().to_string();
    let (code, report, stderr) = kill_json(&["--tree", "--no-cgroup", "--grace", "5s", &root]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["containment"]["kind"], "freeze");
    assert_eq!(report["summary"]["survivors"], 0);
    assert_eq!(report["summary"]["needed_kill"], 0);
    for &pid in &tree.pids {
        let e = entry(&report, pid);
        assert_eq!(e["outcome"], "ended", "{e:#}");
        assert_eq!(e["by"], "signal", "{e:#}");
        assert_eq!(sent(e), ["SIGTERM"], "never SIGKILL: {e:#}");
        assert!(e["after_seconds"].as_f64().is_some_and(|s| s < 5.0), "{e:#}");
    }
    assert_eq!(entry(&report, tree.pids[0])["named"], true);
    assert_eq!(entry(&report, tree.pids[4])["named"], false);
    // The sleep died of SIGTERM, and its parent saw that.
    let sleep = entry(&report, tree.pids[4]);
    assert_eq!(sleep["ending"]["status"]["signal"]["name"], "SIGTERM", "{sleep:#}");
    assert!(tree.all_exited());
    tree.reap();
}

#[test]
fn without_tree_only_the_named_process_is_signalled() {
    let tree = Tree::start("nested-one", NESTED);
    let sleep = tree.pids[4];
    let (code, report, stderr) = kill_json(&["--grace", "2s", &sleep.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["processes"].as_array().unwrap().len(), 1, "{report:#}");
    assert_eq!(entry(&report, sleep)["outcome"], "ended");
    assert!(tree.handles[4].has_exited());
    std::thread::sleep(Duration::from_millis(50));
    for handle in &tree.handles[..4] {
        assert!(!handle.has_exited(), "a parent of the named process was ended");
    }
}
