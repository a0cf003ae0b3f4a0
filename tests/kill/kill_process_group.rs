//! Freezing a tree with SIGSTOP must not make the kernel hang up other
//! processes of its process group. When a member's exit leaves the group
//! with no parent in another group of the session while members are still
//! stopped, the kernel sends SIGHUP and SIGCONT to the whole group (POSIX
//! orphaned process groups). afterlife signals the frozen members deepest
//! first and continues each right after its signal, so the link (the root
//! shell) goes last — even when it dies of SIGTERM before its SIGSTOP took
//! effect.

use crate::common;

use common::kill::{Tree, kill_json};

/// The root shell links the fixture's process group to the test's session.
/// It prints first a bystander in the same group that is not in the tree
/// (its parent exited at once: init adopted it), then starts 200 sleeps.
const GROUP: &str = r#"
( sleep 60 & echo $! )
for i in $(seq 200); do sleep 60 & done
echo ready
wait
"#;

#[test]
fn a_bystander_in_the_group_is_not_hung_up() {
    for _ in 0..3 {
        let mut tree = Tree::start("pgroup-bystander", GROUP);
        let bystander = &tree.handles[0];
        let root = tree.root().to_string();
        let (code, report, stderr) = kill_json(&["--tree", "--no-cgroup", "--grace", "2s", &root]);
        assert_eq!(code, 0, "{report:#}\n{stderr}");
        assert_eq!(report["summary"]["processes"], 201, "{report:#}");
        assert!(
            !report["processes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["pid"] == tree.pids[0]),
            "the bystander is not in the tree"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!bystander.has_exited(), "the kernel hung up the bystander");
        tree.reap();
    }
}
