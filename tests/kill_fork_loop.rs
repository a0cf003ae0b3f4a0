//! A tree that keeps forking while it is killed, and ignores SIGTERM: the
//! freeze (SIGSTOP to every member, walk again until nothing new appears)
//! catches every child, and nothing survives. The loop is bounded: each
//! child lives at most a second, and the test's cgroup ends whatever is
//! left if afterlife does not.

mod kill_support;

use std::time::Duration;

use kill_support::{Tree, entry, kill_json, sent};

const FORK_LOOP: &str = r#"
( trap '' TERM; while :; do sleep 1 & done ) &
echo $!
sleep 0.2
echo ready
wait
"#;

#[test]
fn a_live_fork_loop_leaves_no_survivor() {
    let mut tree = Tree::start("fork-loop", FORK_LOOP);
    let looper = tree.pids[0];
    let (code, report, stderr) = kill_json(&["--tree", "--no-cgroup", "--grace", "300ms", &tree.root().to_string()]);
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
