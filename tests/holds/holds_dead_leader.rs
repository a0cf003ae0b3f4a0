//! The talk's ghost socket on a real server: nginx's master is SIGKILLed and
//! its workers keep the listening socket. `holds` names the workers, says
//! they inherited it from a process that is gone (their group still carries
//! the dead master's PID), and gives the command that frees the port.

use crate::common;

use std::time::Duration;

use common::{pid_dead, run, run_json, servers, stdout, wait_until};
use serde_json::Value;

#[test]
fn workers_of_a_killed_nginx_master_point_to_their_group() {
    let Some(mut nginx) = servers::nginx("dead-leader", 2) else {
        return;
    };
    let master = nginx.pid();
    let mut workers = nginx.children();
    workers.sort_unstable();
    assert_eq!(workers.len(), 2, "nginx started two workers");
    // SAFETY: kill(2) on the master this test started; it is our unreaped
    // child, so its PID is still its own.
    assert_eq!(unsafe { libc::kill(master, libc::SIGKILL) }, 0);
    nginx.child.wait().expect("reap the master");
    assert!(nginx.accepts(), "the workers still answer on the port");

    let spec = format!("tcp:{}", nginx.port);
    let (code, report) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(0), "{report}");
    let sockets = report["results"][0]["sockets"].as_array().unwrap();
    let listener = sockets
        .iter()
        .find(|s| s["socket"]["state"] == "listen")
        .unwrap_or_else(|| panic!("the listener: {report}"));
    let holders = listener["holders"].as_array().unwrap();
    let mut pids: Vec<i32> = holders.iter().map(|h| h["pid"].as_i64().unwrap() as i32).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids, workers, "the workers hold it, nobody else: {listener}");
    for holder in holders {
        assert_eq!(holder["pgid"], master, "{holder}");
        let origins = holder["origins"].as_array().unwrap();
        assert!(
            origins.contains(&serde_json::json!({"kind": "leader_gone", "pgid": master})),
            "{holder}"
        );
        assert!(!origins.iter().any(|o| o["kind"] == "inherited"), "{holder}");
    }

    let text = stdout(&run(&["holds", &spec]));
    let inherited = format!(
        "its process group {master} still carries the PID of its leader, which has exited: the leader may have left it to its group (or this process made it itself)"
    );
    assert_eq!(text.matches(&inherited).count(), holders.len(), "{text}");
    // `--pgroup` takes the dead leader's PID while its group lives.
    let free =
        format!("    to free it: afterlife kill --pgroup {master} (every process of the group its dead leader left)\n");
    assert!(text.contains(&free), "{text}");
    assert!(!text.contains("double fork"), "{text}");

    // The command it gives frees the port.
    let killed = run(&["kill", "--pgroup", &master.to_string()]);
    assert_eq!(
        killed.status.code(),
        Some(0),
        "{}{}",
        stdout(&killed),
        common::stderr(&killed)
    );
    assert!(wait_until(Duration::from_secs(10), || workers
        .iter()
        .all(|&w| pid_dead(w))));
    let (code, after) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(1), "nothing holds the port now: {after}");
    let listening: Vec<&Value> = after["results"][0]["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["socket"]["state"] == "listen")
        .collect();
    assert!(listening.is_empty(), "{after}");
}
