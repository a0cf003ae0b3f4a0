//! A process asleep in a killable wait in the kernel — a FUSE request
//! waiting for a connection that was never initialised — ends on SIGTERM
//! at once, as it does under kill(1). The freeze does not stop it: a
//! SIGSTOP it cannot take there would stay pending, and with a signal
//! pending the kernel does not wake it for the fatal SIGTERM that follows.

use crate::common;

use common::Scratch;
use common::fuse::{FUSE_NEVER_READY, FuseMount, sleeps_in, stat_client};
use common::kill::{entry, kill_json, sent};

fn ends_on_term(extra: &[&str]) {
    let scratch = Scratch::new("kill-killable");
    let Some(fuse) = FuseMount::start(FUSE_NEVER_READY, &scratch, "mnt") else {
        return;
    };
    let mount_point = fuse.mount_point().to_path_buf();
    let mut client = stat_client(&mount_point.join("x"));
    let pid = client.id() as i32;
    let asleep = sleeps_in(pid, "fuse_get_req");
    let report = asleep.then(|| {
        let pid = pid.to_string();
        let mut args = vec!["--grace", "5s"];
        args.extend_from_slice(extra);
        args.push(&pid);
        kill_json(&args)
    });
    // The server's end aborts the connection and fails any request left.
    drop(fuse);
    let _ = client.wait();
    assert!(asleep, "the FUSE client did not sleep in fuse_get_req");
    let (code, report, stderr) = report.unwrap();
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let e = entry(&report, pid);
    assert_eq!(e["outcome"], "ended", "{e:#}");
    assert_eq!(e["by"], "signal", "SIGTERM was enough, as under kill(1): {e:#}");
    assert_eq!(sent(e), ["SIGTERM"], "{e:#}");
    assert!(e["after_seconds"].as_f64().unwrap() < 2.0, "{e:#}");
    assert_eq!(e["ending"]["status"]["signal"]["name"], "SIGTERM", "{e:#}");
}

#[test]
fn a_killable_sleeper_ends_on_term() {
    ends_on_term(&[]);
}

#[test]
fn a_killable_sleeper_ends_on_term_through_the_tree_freeze() {
    ends_on_term(&["--tree", "--no-cgroup"]);
}
