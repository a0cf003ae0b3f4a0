//! A PID that is gone but still names a live process group (a leader that
//! was SIGKILLed and left its group's members running): `kill --tree PID`
//! says so and points to `--pgroup`, signalling nothing; `kill --pgroup PID`
//! ends the group. Shown with a shell's background jobs and with a real
//! nginx whose master was SIGKILLed (its workers keep the master's PGID).

use crate::common;

use std::time::Duration;

use afterlife::process::{Pid, Process};
use afterlife::signal::Signal;
use common::kill::{Tree, entry, kill_json, kill_text, sent};
use common::servers;
use common::wait_until;

/// Whether `pid`'s parent is no longer `parent`.
fn reparented(pid: i32, parent: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(") ")
                .map(|(_, rest)| rest.split(' ').nth(1).map(str::to_owned))
        })
        .flatten()
        .is_some_and(|ppid| ppid != parent.to_string())
}

/// `kill --tree LEADER` refuses with one line naming the group; returns it.
fn refused_with_a_pointer(leader: i32, members: usize) -> String {
    let (code, stdout, stderr) = kill_text(&["--tree", &leader.to_string()]);
    assert_eq!(code, 125, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let expected = format!(
        "afterlife: error: no process {leader}: it has exited, but its ID still names process group {leader} \
({members} live processes): afterlife kill --pgroup {leader}"
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(stderr.trim_end().ends_with("; nothing was signalled"), "{stderr}");
    stderr
}

#[test]
fn a_dead_shell_still_names_the_group_of_its_jobs() {
    let mut tree = Tree::start(
        "dead-leader-shell",
        "sleep 300 &\necho $!\nsleep 300 &\necho $!\necho ready\nwait\n",
    );
    let leader = tree.root();
    let jobs = tree.pids.clone();
    tree.child.kill().unwrap();
    tree.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(10), || jobs
        .iter()
        .all(|&j| reparented(j, leader))));

    refused_with_a_pointer(leader, 2);
    assert!(tree.handles.iter().all(|h| !h.has_exited()), "nothing was signalled");

    let (code, report, stderr) = kill_json(&["--pgroup", "--grace", "3s", &leader.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["scope"], "pgroup");
    assert_eq!(report["summary"]["processes"], 2, "{report:#}");
    for &job in &jobs {
        let e = entry(&report, job);
        assert_eq!(e["outcome"], "ended", "{e:#}");
        assert_eq!(e["named"], false, "{e:#}");
        assert_eq!(sent(e), ["SIGTERM"], "{e:#}");
    }
    assert!(tree.all_exited());
}

#[test]
fn a_killed_nginx_master_still_names_the_group_of_its_workers() {
    let Some(mut server) = servers::nginx("dead-leader", 2) else {
        return;
    };
    let master = server.pid();
    let workers = server.children();
    assert_eq!(workers.len(), 2, "{workers:?}");
    let handles: Vec<Process> = workers
        .iter()
        .map(|&w| Process::open(Pid::new(w).unwrap()).expect("worker is open"))
        .collect();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(10), || workers
        .iter()
        .all(|&w| reparented(w, master))));

    refused_with_a_pointer(master, 2);
    assert!(handles.iter().all(|h| !h.has_exited()), "nothing was signalled");

    let (code, report, stderr) = kill_json(&["--pgroup", "--grace", "5s", &master.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    for &worker in &workers {
        let e = entry(&report, worker);
        assert_eq!(e["outcome"], "ended", "{e:#}");
        assert_eq!(e["name"], "nginx", "{e:#}");
    }
    assert!(handles.iter().all(|h| h.has_exited()));
    // Whatever is left of the group, by the handles opened above.
    for h in &handles {
        let _ = h.signal(Signal::KILL);
    }
}
