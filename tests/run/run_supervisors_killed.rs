//! afterlife and its keeper SIGKILLed at the same moment (as an OOM kill of
//! both would): what happens to the tree in each containment. With a PID
//! namespace (`pidns`, and `cgroup` when privileged, which puts one inside
//! the leaf) the kernel ends the tree with the keeper, its init; a
//! subreaper tree stays (said in the README). The empty leaf the dead
//! afterlife left is removed by the next afterlife that starts.
//!
//! Every afterlife that makes a leaf removes the stale ones beside it, and
//! the other tests of this binary start afterlifes all the time: the tests
//! that look at leaves run afterlife in a cgroup of their own ([`Parent`]),
//! where no other afterlife looks.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Orphan, afterlife, children, comm, is_root, pid_dead, send_signal, unused_pid, wait_until};

/// The tree: a child that called setsid, a background child, and the shell.
const TREE: &str = "setsid sleep 1000 & sleep 1000 & wait";

fn descendants(pid: i32) -> Vec<i32> {
    let mut all = Vec::new();
    let mut next = children(pid);
    while let Some(p) = next.pop() {
        next.extend(children(p));
        all.push(p);
    }
    all
}

/// This process's cgroup v2 directory.
fn own_cgroup() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        (right.split_whitespace().next()? == "cgroup2").then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
    })?;
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let relative = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(mount.join(relative.trim_start_matches('/')))
}

/// A cgroup of one test's own under this process's cgroup v2 directory:
/// an afterlife started in it makes its leaf inside it and removes stale
/// leaves only there. Removed on drop, with the leaves left in it.
struct Parent(PathBuf);

impl Parent {
    /// `None` (with the reason printed) where there is no cgroup v2.
    fn new() -> Option<Parent> {
        let Some(own) = own_cgroup() else {
            eprintln!("skipped: no cgroup v2 here");
            return None;
        };
        let name = format!("afterlife-test-supervisors-{}-{}", std::process::id(), common::unique());
        let dir = own.join(name);
        std::fs::create_dir(&dir).expect("make a cgroup");
        Some(Parent(dir))
    }

    /// `afterlife` started inside this cgroup: a shell moves itself in and
    /// execs afterlife, which keeps its PID. It runs in a mount namespace
    /// whose mounts are shared, so that the command may have a /proc of
    /// its own and a cgroup leaf holds a PID namespace as root (on a
    /// machine whose mounts are private, it would not).
    fn afterlife(&self) -> Command {
        let mut command = Command::new("sh");
        command
            .args([
                "-c",
                "echo $$ > \"$0/cgroup.procs\" && exec unshare --mount --propagation shared \"$@\"",
            ])
            .arg(&self.0)
            .args([env!("CARGO_BIN_EXE_afterlife"), "--color=never"])
            .env_remove("NO_COLOR");
        command
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        // Its processes are gone (reaped) by now; a cgroup may still be
        // busy for a moment while the kernel lets go of them.
        wait_until(Duration::from_secs(5), || {
            if let Ok(entries) = std::fs::read_dir(&self.0) {
                for entry in entries.flatten().filter(|e| e.path().is_dir()) {
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
            std::fs::remove_dir(&self.0).is_ok()
        });
    }
}

/// afterlife running the tree, with the keeper and the tree's processes.
struct Running {
    afterlife: Child,
    keeper: i32,
    tree: Vec<i32>,
}

/// afterlife (started in `parent`, if given) running the tree.
fn start(containment: &str, parent: Option<&Parent>) -> Running {
    let mut afterlife = parent
        .map_or_else(afterlife, Parent::afterlife)
        .args(["run", "--containment", containment, "--", "sh", "-c", TREE])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("afterlife runs");
    let me = afterlife.id() as i32;
    let mut keeper = 0;
    let mut tree = Vec::new();
    let ready = wait_until(Duration::from_secs(20), || {
        keeper = children(me)
            .into_iter()
            .find(|&c| comm(c) == "afterlife-keep")
            .unwrap_or(0);
        tree = descendants(me).into_iter().filter(|&p| p != keeper).collect();
        tree.iter().filter(|&&p| comm(p) == "sleep").count() == 2
    });
    if !ready {
        let _ = afterlife.kill();
        let _ = afterlife.wait();
        common::kill_pids(&tree);
        panic!("{containment}: the tree did not start: {tree:?}");
    }
    Running {
        afterlife,
        keeper,
        tree,
    }
}

/// Stops afterlife and its keeper, then SIGKILLs both: neither runs another
/// instruction, as when the OOM killer takes both.
fn kill_both(running: &mut Running) {
    let me = running.afterlife.id() as i32;
    send_signal(running.keeper, libc::SIGSTOP);
    send_signal(me, libc::SIGSTOP);
    send_signal(running.keeper, libc::SIGKILL);
    send_signal(me, libc::SIGKILL);
    running.afterlife.wait().expect("reap afterlife");
}

fn check_tree_ends(containment: &str, parent: Option<&Parent>) -> Running {
    let mut running = start(containment, parent);
    let _guards: Vec<Orphan> = running.tree.iter().map(|&p| Orphan(p)).collect();
    kill_both(&mut running);
    assert!(
        wait_until(Duration::from_secs(10), || running.tree.iter().all(|&p| pid_dead(p))),
        "{containment}: the tree outlived afterlife and its keeper: {:?}",
        running.tree.iter().filter(|&&p| !pid_dead(p)).collect::<Vec<_>>()
    );
    running
}

#[test]
fn a_cgroup_tree_ends_with_its_pid_namespace_and_the_next_afterlife_removes_the_leaf() {
    if !is_root() {
        eprintln!("skipped: a PID namespace inside the leaf needs CAP_SYS_ADMIN");
        return;
    }
    let Some(parent) = Parent::new() else { return };
    // The report says the leaf has a namespace inside.
    let scratch = common::Scratch::new("supervisors-killed");
    let report_path = scratch.path().join("report.json");
    let out = parent
        .afterlife()
        .args(["run", "--containment", "cgroup", "--report-json"])
        .arg(&report_path)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let report: serde_json::Value =
        crate::common::schema::parse("run", &std::fs::read_to_string(&report_path).unwrap());
    assert_eq!(report["containment"], "cgroup");
    assert_eq!(report["pid_namespace"], true);

    let running = check_tree_ends("cgroup", Some(&parent));
    let leaf = parent.0.join(format!("afterlife-{}", running.afterlife.id()));
    // Its keeper could not remove it: it is left, empty.
    assert!(leaf.is_dir(), "{}", leaf.display());
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(leaf.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty())
    }));
    let out = parent.afterlife().args(["run", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let gone = !leaf.exists();
    let _ = std::fs::remove_dir(&leaf);
    assert!(gone, "the next afterlife removed {}", leaf.display());
}

#[test]
fn a_pid_namespace_tree_ends_with_its_init() {
    if !is_root() {
        eprintln!("skipped: a PID namespace needs CAP_SYS_ADMIN");
        return;
    }
    check_tree_ends("pidns", None);
}

#[test]
fn a_subreaper_tree_stays_unguarded() {
    let mut running = start("subreaper", None);
    let guards: Vec<Orphan> = running.tree.iter().map(|&p| Orphan(p)).collect();
    kill_both(&mut running);
    // Nothing is left to end it: the tree is reparented and keeps running.
    std::thread::sleep(Duration::from_millis(300));
    let sleeping: Vec<i32> = running.tree.iter().copied().filter(|&p| comm(p) == "sleep").collect();
    assert_eq!(sleeping.len(), 2, "README: a subreaper tree stays when both die");
    drop(guards);
    assert!(wait_until(Duration::from_secs(10), || running
        .tree
        .iter()
        .all(|&p| pid_dead(p))));
}

#[test]
fn only_empty_leaves_of_gone_afterlifes_are_removed() {
    if !is_root() {
        eprintln!("skipped: making cgroups needs root here");
        return;
    }
    let Some(parent) = Parent::new() else { return };
    let make = |name: String| -> PathBuf {
        let path = parent.0.join(name);
        std::fs::create_dir(&path).expect("make a cgroup");
        path
    };
    struct Removed(Vec<PathBuf>);
    impl Drop for Removed {
        fn drop(&mut self) {
            for path in &self.0 {
                let _ = std::fs::remove_dir(path);
            }
        }
    }
    // Owner gone, empty: removed.
    let stale = make(format!("afterlife-{}", unused_pid()));
    let stale_retry = make(format!("afterlife-{}-2", unused_pid()));
    // Owner gone, with the empty leaf of a run that ran inside it (killed
    // with it by its cgroup.kill): removed, the inner leaf first.
    let nested = make(format!("afterlife-{}-4", unused_pid()));
    let inner = nested.join("afterlife-2");
    std::fs::create_dir(&inner).expect("make a nested cgroup");
    // Owner alive (this test, started before the leaf was made): kept.
    let alive = make(format!("afterlife-{}-9", std::process::id()));
    // Owner gone, not empty: kept (the kernel refuses with EBUSY).
    let busy = make(format!("afterlife-{}-3", unused_pid()));
    let mut guard = Removed(vec![
        stale.clone(),
        stale_retry.clone(),
        alive.clone(),
        busy.clone(),
        inner.clone(),
        nested.clone(),
    ]);
    let mut sleeper = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(busy.join("cgroup.procs"), sleeper.id().to_string()).expect("move sleep into the leaf");

    let out = parent.afterlife().args(["run", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let (stale_gone, retry_gone, alive_kept, busy_kept) =
        (!stale.exists(), !stale_retry.exists(), alive.is_dir(), busy.is_dir());
    let nested_gone = !nested.exists();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(busy.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty())
    }));
    guard.0.retain(|p| p.exists());
    drop(guard);
    assert!(stale_gone && retry_gone, "stale leaves removed");
    assert!(nested_gone, "a stale leaf with a nested run's leaf removed");
    assert!(alive_kept, "a living afterlife's leaf kept");
    assert!(busy_kept, "a leaf with a process in it kept");
    assert!(!Path::new(&busy).exists() && !Path::new(&alive).exists(), "cleaned up");
}
