//! When a tree is exactly one cgroup v2 subtree afterlife may write, it is
//! frozen with `cgroup.freeze` and ended with `cgroup.kill`: a process that
//! handles SIGTERM ends on it, one that ignores it and a live fork loop end
//! by the cgroup kill, and nothing is left. A cgroup that holds other
//! processes too is not used.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::kill::{Jail, Tree, entry, kill_json, sent};

const TREE: &str = r#"
sleep 60 &
echo $!
( trap '' TERM; exec sleep 60 ) &
echo $!
setsid sleep 60 &
echo $!
( trap '' TERM; while :; do sleep 1 & done ) &
echo $!
sleep 0.2
echo ready
wait
"#;

fn jail(name: &str) -> Option<Jail> {
    match Jail::required(name) {
        Ok(jail) => Some(jail),
        Err(reason) if !common::is_root() => {
            eprintln!("skipped: creating a cgroup v2 leaf needs root: {reason}");
            None
        }
        Err(reason) => panic!("cannot create a cgroup v2 leaf as root: {reason}"),
    }
}

#[test]
fn a_tree_that_is_exactly_a_cgroup_is_frozen_and_killed_there() {
    let Some(jail) = jail("cgroup") else { return };
    let relative = jail.cgroup.as_ref().unwrap().relative().to_string();
    let mut tree = Tree::start_in(jail, TREE);
    let (code, report, stderr) = kill_json(&["--tree", "--grace", "300ms", &tree.root().to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["containment"]["kind"], "cgroup", "{report:#}");
    assert_eq!(report["containment"]["path"], relative.as_str());
    assert_eq!(report["summary"]["survivors"], 0);

    let handler = entry(&report, tree.pids[0]);
    assert_eq!(handler["by"], "signal", "{handler:#}");
    assert_eq!(sent(handler), ["SIGTERM"]);
    for i in [1, 3] {
        let e = entry(&report, tree.pids[i]);
        assert_eq!(e["by"], "kill", "{e:#}");
        assert_eq!(sent(e), ["SIGTERM", "SIGKILL"], "{e:#}");
    }
    assert_eq!(entry(&report, tree.pids[2])["outcome"], "ended");
    assert!(tree.all_exited());
    let cgroup = tree.jail.cgroup.as_ref().unwrap();
    assert!(
        cgroup.wait_empty(Duration::from_secs(2)).unwrap(),
        "the cgroup is not empty"
    );
    let events = cgroup.events().unwrap();
    assert!(!events.frozen, "the cgroup was left frozen");
    tree.reap();
}

/// A cgroup frozen before afterlife came (`docker pause`, `systemctl
/// freeze`) is signalled frozen and left frozen: a process whose SIGTERM
/// takes its default action ends on it all the same, one that ignores it
/// stays frozen through the grace rather than being let run by a thaw that
/// was not afterlife's to make, and SIGKILL ends it frozen.
#[test]
fn a_cgroup_frozen_by_someone_else_is_left_frozen() {
    let Some(jail) = jail("cgroup-paused") else { return };
    let mut tree = Tree::start_in(jail, TREE);
    let cgroup = tree.jail.cgroup.clone().unwrap();
    cgroup.freeze().unwrap();
    assert!(cgroup.wait_frozen(Duration::from_secs(5)).unwrap());
    let root = tree.root().to_string();
    let (code, report, stderr) = kill_json(&["--tree", "--grace", "300ms", "--no-escalate", &root]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    assert_eq!(report["containment"]["kind"], "cgroup", "{report:#}");
    assert_eq!(report["containment"]["left_frozen"], true, "{report:#}");
    let plain = entry(&report, tree.pids[0]);
    assert_eq!(plain["outcome"], "ended", "{plain:#}");
    assert_eq!(plain["by"], "signal", "{plain:#}");
    assert_eq!(entry(&report, tree.pids[1])["outcome"], "alive", "{report:#}");
    assert!(cgroup.events().unwrap().frozen, "afterlife thawed the cgroup");
    let freeze = std::fs::read_to_string(cgroup.path().join("cgroup.freeze")).unwrap();
    assert_eq!(freeze.trim(), "1");
    // SIGKILL ends the member that ignores SIGTERM, frozen as it is.
    let ignoring = tree.pids[1].to_string();
    let (code, report, stderr) = kill_json(&["--signal", "KILL", &ignoring]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(entry(&report, tree.pids[1])["outcome"], "ended", "{report:#}");
    tree.reap();
}

/// Without the cgroup (`--no-cgroup`, or PIDs rather than a tree), the
/// members the cgroup freezer holds are not stopped: a SIGSTOP they cannot
/// act on stays pending and holds up a SIGTERM, which ends a frozen
/// process with no handler at once, as `kill -TERM` does. One that ignores
/// SIGTERM stays frozen through the grace.
#[test]
fn the_freeze_leaves_members_the_cgroup_freezer_holds_to_it() {
    let Some(jail) = jail("cgroup-paused-freeze") else {
        return;
    };
    let mut tree = Tree::start_in(jail, TREE);
    let cgroup = tree.jail.cgroup.clone().unwrap();
    cgroup.freeze().unwrap();
    assert!(cgroup.wait_frozen(Duration::from_secs(5)).unwrap());

    let plain = tree.pids[0].to_string();
    let (code, report, stderr) = kill_json(&["--grace", "30s", &plain]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let e = entry(&report, tree.pids[0]);
    assert_eq!(e["by"], "signal", "{e:#}");
    assert_eq!(sent(e), ["SIGTERM"], "{e:#}");

    let root = tree.root().to_string();
    let (code, report, stderr) = kill_json(&["--tree", "--no-cgroup", "--grace", "300ms", "--no-escalate", &root]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let setsid = entry(&report, tree.pids[2]);
    assert_eq!(setsid["by"], "signal", "{setsid:#}");
    assert_eq!(entry(&report, tree.pids[1])["outcome"], "alive", "{report:#}");
    assert_eq!(report["containment"]["kind"], "none", "nothing was stopped: {report:#}");
    assert!(cgroup.events().unwrap().frozen, "the cgroup was thawed");
    tree.reap();
}

#[test]
fn kill_first_uses_cgroup_kill_at_once() {
    let Some(jail) = jail("cgroup-kill") else { return };
    let mut tree = Tree::start_in(jail, TREE);
    let (code, report, stderr) = kill_json(&["--tree", "--signal", "KILL", &tree.root().to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["containment"]["kind"], "cgroup");
    for &pid in &tree.pids {
        assert_eq!(sent(entry(&report, pid)), ["SIGKILL"]);
    }
    assert!(tree.all_exited());
    tree.reap();
}

#[test]
fn a_cgroup_shared_with_others_is_not_used() {
    let Some(jail) = jail("cgroup-shared") else { return };
    let path = jail.cgroup.as_ref().unwrap().path();
    let mut other = Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$JAIL/cgroup.procs\" && exec sleep 60")
        .env("JAIL", &path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let other_pid = other.id();
    assert!(common::wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(path.join("cgroup.procs")).is_ok_and(|s| s.lines().any(|l| l == other_pid.to_string()))
            && std::fs::read_to_string(format!("/proc/{other_pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    }));
    let mut tree = Tree::start_in(jail, "sleep 60 &\necho $!\necho ready\nwait\n");
    let (code, report, stderr) = kill_json(&["--tree", "--grace", "2s", &tree.root().to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["containment"]["kind"], "freeze", "{report:#}");
    assert!(tree.all_exited());
    assert!(
        other.try_wait().unwrap().is_none(),
        "a process outside the tree was ended"
    );
    let _ = other.kill();
    let _ = other.wait();
    tree.reap();
}

#[test]
fn the_cgroup_interface_freezes_thaws_lists_and_kills() {
    use afterlife::terminate::cgroup::{Cgroup, v2_mount};
    let Some(jail) = jail("cgroup-api") else { return };
    let path = jail.cgroup.as_ref().unwrap().path();
    assert!(path.starts_with(v2_mount().unwrap()));
    let cgroup = Cgroup::open(&path).unwrap();
    assert!(cgroup.writable());
    let tree = Tree::start_in(jail, "sleep 60 &\necho $!\necho ready\nwait\n");
    let listed = cgroup.procs().unwrap();
    assert!(listed.iter().any(|p| p.get() == tree.root()), "{listed:?}");
    assert!(
        cgroup
            .procs_recursive()
            .unwrap()
            .iter()
            .any(|p| p.get() == tree.pids[0])
    );
    assert_eq!(
        Cgroup::of_process(afterlife::process::Pid::new(tree.root()).unwrap()).unwrap(),
        cgroup
    );
    assert!(cgroup.events().unwrap().populated);

    cgroup.freeze().unwrap();
    assert!(cgroup.wait_frozen(Duration::from_secs(5)).unwrap());
    assert!(cgroup.events().unwrap().frozen);
    cgroup.thaw().unwrap();
    assert!(cgroup.wait_events(Duration::from_secs(5), |e| !e.frozen).unwrap());

    cgroup.kill().unwrap();
    assert!(cgroup.wait_empty(Duration::from_secs(5)).unwrap());
    assert!(tree.all_exited());
    assert!(Cgroup::open("/proc").is_err(), "not a cgroup");
}
