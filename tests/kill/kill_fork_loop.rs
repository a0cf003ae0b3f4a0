//! A tree that keeps forking while it is killed, and ignores SIGTERM: the
//! freeze (SIGSTOP to every member, walk again until nothing new appears)
//! catches every child, and nothing survives — whether the process table is
//! read through the BPF task iterator (as root) or from /proc. The loop is bounded: each
//! child lives at most a second, and the test's cgroup ends whatever is
//! left if afterlife does not.

use crate::common;

use std::time::Duration;

use common::kill::{Tree, entry, kill_json_env, sent};

const FORK_LOOP: &str = r#"
( trap '' TERM; while :; do sleep 1 & done ) &
echo $!
sleep 0.2
echo ready
wait
"#;

#[test]
fn a_live_fork_loop_leaves_no_survivor() {
    fork_loop_ends("fork-loop", &[]);
}

#[test]
fn a_live_fork_loop_leaves_no_survivor_with_the_proc_scan() {
    fork_loop_ends("fork-loop-proc", &[("AFTERLIFE_PROC_WALK", "1")]);
}

/// `name` names the test's cgroup: one per test.
fn fork_loop_ends(name: &str, env: &[(&str, &str)]) {
    let mut tree = Tree::start(name, FORK_LOOP);
    let looper = tree.pids[0];
    let (code, report, stderr) = kill_json_env(
        &["--tree", "--no-cgroup", "--grace", "300ms", &tree.root().to_string()],
        env,
    );
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["summary"]["survivors"], 0, "{report:#}");
    assert_eq!(report["containment"]["kind"], "freeze");
    let e = entry(&report, looper);
    assert_eq!(e["outcome"], "ended", "{e:#}");
    assert_eq!(sent(e), ["SIGTERM", "SIGKILL"], "{e:#}");
    assert!(report["summary"]["processes"].as_u64().unwrap() > 3, "{report:#}");
    assert!(tree.all_exited());
    // Nothing the fixture started is alive any more.
    match &tree.jail.cgroup {
        Some(cgroup) => {
            let left = cgroup.procs_recursive().unwrap();
            assert!(
                cgroup.wait_empty(Duration::from_secs(2)).unwrap(),
                "left alive: {left:?}"
            );
        }
        None => eprintln!("skipped: the cgroup check needs a cgroup v2 leaf (root)"),
    }
    tree.reap();
}
