//! A PID that is gone but still names a live process group (a leader that
//! was SIGKILLed and left its group's members running): `kill --tree PID`
//! says so and points to `--pgroup`, signalling nothing; `kill --pgroup PID`
//! ends the group. Shown with a shell's background jobs and with a real
//! nginx whose master was SIGKILLed (its workers keep the master's PGID).
//! A leader not yet reaped (a zombie) is ended as named, and the report
//! names the group it left, with exit code 1.

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

/// A parent that never waits: its child, the leader of a process group of
/// its own, starts two `sleep`s in that group and exits. Prints the
/// leader (a zombie by then), then the two sleeps.
const ZOMBIE_LEADER: &str = r#"
exec python3 - <<'PY'
import os, time
r, w = os.pipe()
leader = os.fork()
if leader == 0:
    os.setpgid(0, 0)
    kids = []
    for _ in range(2):
        kid = os.fork()
        if kid == 0:
            os.execvp("sleep", ["sleep", "300"])
        kids.append(kid)
    os.write(w, " ".join(map(str, kids)).encode())
    os._exit(0)
os.close(w)
kids = os.read(r, 100).decode().split()
for _ in range(2000):
    if open(f"/proc/{leader}/stat").read().rsplit(") ", 1)[1][0] == "Z":
        break
    time.sleep(0.01)
print(leader)
for kid in kids:
    print(kid)
print("ready", flush=True)
time.sleep(300)
PY
"#;

#[test]
fn a_zombie_leader_is_ended_and_the_report_names_the_group_it_left() {
    let tree = Tree::start("zombie-leader", ZOMBIE_LEADER);
    let leader = tree.pids[0];
    let workers = &tree.pids[1..];
    assert!(
        std::fs::read_to_string(format!("/proc/{leader}/stat")).is_ok_and(|s| s.contains(") Z ")),
        "{leader} is no zombie"
    );
    for scope in [&["--tree"][..], &[]] {
        let mut args = scope.to_vec();
        let leader_arg = leader.to_string();
        args.push(&leader_arg);
        let (code, report, stderr) = kill_json(&args);
        // The named process had ended, but what its ID names still runs.
        assert_eq!(code, 1, "{args:?}: {report:#}\n{stderr}");
        let e = entry(&report, leader);
        assert_eq!(e["outcome"], "ended", "{e:#}");
        assert_eq!(e["by"], "before_signal", "{e:#}");
        assert_eq!(report["summary"]["processes"], 1, "{report:#}");
        assert_eq!(
            report["left_by_leaders"],
            serde_json::json!([{"pid": leader, "pgroup_members": 2, "session_members": 0}]),
            "{report:#}"
        );
    }
    assert!(
        tree.handles[1..].iter().all(|h| !h.has_exited()),
        "the group was left alone"
    );

    let (code, stdout, _) = kill_text(&["--tree", &leader.to_string()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.lines().any(|l| l
            == format!(
                "note: {leader} has exited, but its ID still names process group {leader} (2 live processes): \
afterlife kill --pgroup {leader}"
            )),
        "{stdout}"
    );

    // A dry run says so too.
    let (code, report, stderr) = kill_json(&["--dry-run", "--tree", &leader.to_string()]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    assert_eq!(
        report["left_by_leaders"],
        serde_json::json!([{"pid": leader, "pgroup_members": 2, "session_members": 0}]),
        "{report:#}"
    );

    // The note's command ends them.
    let (code, report, stderr) = kill_json(&["--pgroup", &leader.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    for &worker in workers {
        assert_eq!(entry(&report, worker)["by"], "signal", "{report:#}");
    }
    assert!(report.get("left_by_leaders").is_none(), "{report:#}");
}
