//! A process that ignores SIGTERM gets SIGKILL once the grace period is
//! over, and the report says it needed it; with `--no-escalate` it survives
//! and the report says why.

use crate::common;

use common::kill::{Tree, entry, kill_json, sent};

const IGNORER: &str = r#"
trap '' TERM
sleep 60 &
echo $!
echo ready
wait
"#;

#[test]
fn an_ignored_term_is_followed_by_kill_after_the_grace() {
    let mut tree = Tree::start("term-ignored", IGNORER);
    let root = tree.root();
    let (code, report, stderr) = kill_json(&["--tree", "--no-cgroup", "--grace", "300ms", &root.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["finish"], "all_ended");
    for pid in [root, tree.pids[0]] {
        let e = entry(&report, pid);
        assert_eq!(e["outcome"], "ended", "{e:#}");
        assert_eq!(e["by"], "kill", "{e:#}");
        assert_eq!(sent(e), ["SIGTERM", "SIGKILL"], "{e:#}");
        let after = e["after_seconds"].as_f64().unwrap();
        assert!((0.3..3.0).contains(&after), "ended {after}s after TERM: {e:#}");
        assert_eq!(e["ending"]["status"]["signal"]["name"], "SIGKILL", "{e:#}");
    }
    assert_eq!(report["summary"]["needed_kill"], 2);
    assert!(tree.all_exited());
    tree.reap();
}

#[test]
fn without_escalation_it_survives_and_the_report_says_why() {
    let tree = Tree::start("term-ignored-no-escalate", IGNORER);
    let sleep = tree.pids[0];
    let (code, report, stderr) = kill_json(&["--no-escalate", "--grace", "300ms", &sleep.to_string()]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let e = entry(&report, sleep);
    assert_eq!(e["outcome"], "alive", "{e:#}");
    assert_eq!(e["reason"], "ignores", "{e:#}");
    assert_eq!(e["signal"]["name"], "SIGTERM", "{e:#}");
    assert_eq!(sent(e), ["SIGTERM"]);
    // The survivor carries the full diagnosis of `afterlife why`.
    let findings = e["diagnosis"]["findings"].as_array().expect("a diagnosis");
    assert!(findings.iter().any(|f| f["kind"] == "signal_ignored"), "{e:#}");
    assert_eq!(e["diagnosis"]["sigkill"], "ends_it", "{e:#}");
    assert_eq!(report["finish"], "grace_over");
    assert_eq!(report["summary"]["survivors"], 1);
    assert!(!tree.handles[0].has_exited());

    // The human report lists it with the reason.
    let output = common::afterlife()
        .args(["kill", "--no-escalate", "--grace", "100ms", &sleep.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text.contains("ALIVE [S]: it ignores SIGTERM and SIGKILL was not sent"),
        "{text}"
    );
    assert!(text.contains("1 survived"), "{text}");
    assert!(text.contains(&format!("why {sleep} (")), "{text}");
    // One finding for every termination signal it ignores: a background
    // job of a shell also ignores SIGINT and SIGQUIT, and one started under
    // `nohup` SIGHUP.
    let phrase = ignored_words(sleep);
    assert!(phrase.starts_with("SIGTERM, SIGINT"), "{phrase}");
    assert!(text.contains(&format!("{phrase} ignored")), "{text}");
}

/// The termination signals `pid` ignores, as `why` lists them: "SIGTERM,
/// SIGINT and SIGQUIT".
fn ignored_words(pid: i32) -> String {
    let mask = common::status_field(pid, "SigIgn").expect("SigIgn");
    let mask = u64::from_str_radix(&mask, 16).expect("a hex mask");
    let names: Vec<&str> = [("SIGTERM", 15), ("SIGINT", 2), ("SIGHUP", 1), ("SIGQUIT", 3)]
        .into_iter()
        .filter(|&(_, n)| mask & (1 << (n - 1)) != 0)
        .map(|(name, _)| name)
        .collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[test]
fn a_survivor_whose_main_thread_ended_is_said_to_ignore_term_not_to_exit() {
    // Its main thread calls pthread_exit (and reads PF_EXITING) while a
    // worker runs on with SIGTERM ignored.
    let py = common::Py::start(
        r#"
import signal, threading
signal.signal(signal.SIGTERM, signal.SIG_IGN)
threading.Thread(target=time.sleep, args=(60,)).start()
report(ready=1)
libc.pthread_exit(None)
"#,
    );
    let pid = py.pid();
    assert!(common::wait_until(std::time::Duration::from_secs(5), || {
        common::state(pid) == Some('Z')
    }));
    let (code, report, stderr) = kill_json(&["--no-escalate", "--grace", "300ms", &pid.to_string()]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let e = entry(&report, pid);
    assert_eq!(e["outcome"], "alive", "{e:#}");
    assert_eq!(e["reason"], "ignores", "{e:#}");
    assert_eq!(e["signal"]["name"], "SIGTERM", "{e:#}");
    drop(py);
}
