//! A target killed during the grace period by a signal afterlife did not
//! send (another process's SIGKILL or SIGUSR1) is reported as such,
//! `by: other_signal`, never as ended on afterlife's SIGTERM, and an
//! outside SIGKILL does not count as one afterlife needed.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use afterlife::signal::Signal;
use common::kill::{Tree, entry, sent};
use common::{Scratch, wait_until};

/// A shell that notes each SIGTERM in `$NOTE` and carries on.
const SURVIVES_TERM: &str = r#"
sh -c 'trap "echo term >> \"$NOTE\"" TERM; while :; do sleep 0.05; done' &
echo $!
echo ready
wait
"#;

/// Starts `afterlife kill --grace 20s PID` (with `extra` arguments first),
/// sends `signal` to the target once afterlife's SIGTERM has reached it,
/// and returns afterlife's exit code and stdout.
fn killed_from_outside(name: &str, signal: Signal, extra: &[&str]) -> (i32, String, i32) {
    let scratch = Scratch::new(name);
    let note = scratch.path().join("note");
    let tree = Tree::start(name, &SURVIVES_TERM.replace("$NOTE", &note.display().to_string()));
    let pid = tree.pids[0];
    let child = common::afterlife()
        .args(extra)
        .args(["kill", "--grace", "20s", &pid.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("afterlife runs");
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(&note)
            .is_ok_and(|n| n.contains("term"))),
        "SIGTERM did not reach the target"
    );
    tree.handles[0].signal(signal).expect("the target is signalled");
    let output = child.wait_with_output().expect("afterlife ends");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        pid,
    )
}

#[test]
fn an_outside_sigkill_in_the_grace_is_not_one_afterlife_needed() {
    let (code, stdout, pid) = killed_from_outside("other-signal-kill", Signal::KILL, &["--json"]);
    let report = common::schema::parse("kill", &stdout);
    assert_eq!(code, 0, "{report:#}");
    let e = entry(&report, pid);
    assert_eq!(e["outcome"], "ended", "{e:#}");
    assert_eq!(e["by"], "other_signal", "{e:#}");
    assert_eq!(sent(e), ["SIGTERM"], "{e:#}");
    assert_eq!(e["ending"]["status"]["signal"]["name"], "SIGKILL", "{e:#}");
    assert_eq!(report["summary"]["needed_kill"], 0, "{report:#}");
    assert_eq!(report["summary"]["ended"], 1, "{report:#}");
}

#[test]
fn the_text_names_the_signal_that_ended_it_not_the_one_afterlife_sent() {
    let usr1 = Signal::from_number(10).unwrap();
    let (code, stdout, pid) = killed_from_outside("other-signal-usr1", usr1, &[]);
    assert_eq!(code, 0, "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&pid.to_string()))
        .unwrap_or_else(|| panic!("no row for {pid}:\n{stdout}"));
    assert!(
        row.contains("  TERM  killed by SIGUSR1 ")
            && row.contains(" after SIGTERM (not a signal afterlife sent; $? = 138)"),
        "{stdout}"
    );
    assert!(!row.contains("ended on"), "{stdout}");
    assert!(stdout.contains("1 ended (0 needed SIGKILL)"), "{stdout}");
}
