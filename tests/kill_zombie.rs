//! Zombies: a zombie child in a tree has already exited; once afterlife ends
//! its parent, a reaper takes it, and the report says it had exited before
//! any signal (with its exit code). A zombie named alone cannot be ended by
//! any signal: it survives, and the report names the parent that must reap
//! it.

mod common;
mod kill_support;

use kill_support::{entry, kill_json, sent};

#[test]
fn a_zombie_child_in_a_tree_is_reported_as_already_exited() {
    let mut parent = common::unreaped_zombie(5);
    let zombie = parent.reported;
    let parent_pid = parent.child.id() as i32;
    let (code, report, stderr) = kill_json(&["--tree", "--grace", "3s", &parent_pid.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let p = entry(&report, parent_pid);
    assert_eq!(p["outcome"], "ended", "{p:#}");
    assert_eq!(p["by"], "signal", "{p:#}");
    let z = entry(&report, zombie);
    assert_eq!(z["outcome"], "ended", "{z:#}");
    assert_eq!(z["by"], "before_signal", "{z:#}");
    assert!(sent(z).is_empty(), "a zombie is not signalled: {z:#}");
    assert_eq!(z["status"]["status"]["code"], 5, "{z:#}");
    let _ = parent.child.wait();
}

#[test]
fn a_lone_zombie_survives_and_names_its_parent() {
    let parent = common::unreaped_zombie(0);
    let zombie = parent.reported;
    let parent_pid = parent.child.id() as i32;
    let (code, report, stderr) = kill_json(&["--grace", "300ms", &zombie.to_string()]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let z = entry(&report, zombie);
    assert_eq!(z["outcome"], "alive", "{z:#}");
    assert_eq!(z["reason"], "zombie", "{z:#}");
    assert_eq!(z["parent_pid"], parent_pid, "{z:#}");
    assert_eq!(z["parent_name"], "sleep", "{z:#}");
    assert_eq!(z["state"]["code"], "Z", "{z:#}");
    assert_eq!(report["summary"]["survivors"], 1);
}
