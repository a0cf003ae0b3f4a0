//! `-q`/`--quiet` where it makes sense: `status`, `wait` and `leftovers`
//! print nothing (errors aside) and the exit code says it, as grep -q;
//! `kill -q` prints only what survived; `why -q` only its verdict line.
//! `-q` with `--json` is bad input; `snapshot` and `explain` have no `-q`.

use crate::common;

use std::process::{Command, Stdio};

use common::{Scratch, afterlife, run_text, sleeper, unreaped_zombie, unused_pid};

#[test]
fn status_q_answers_with_the_exit_code_only() {
    let sleeper = sleeper("60");
    let zombie = unreaped_zombie(0);
    let missing = unused_pid().to_string();
    let pid = sleeper.pid().to_string();
    assert_eq!(run_text(&["status", "-q", &pid]), (0, String::new(), String::new()));
    assert_eq!(
        run_text(&["status", "--quiet", &pid, &zombie.reported.to_string()]),
        (1, String::new(), String::new())
    );
    assert_eq!(run_text(&["status", "-q", &missing]), (1, String::new(), String::new()));
    // Without -q the same answers are printed.
    let (code, text, _) = run_text(&["status", &pid]);
    assert_eq!(code, 0);
    assert!(
        text.starts_with(&format!("{pid} sleep: running (still active)")),
        "{text}"
    );
}

#[test]
fn wait_q_prints_nothing_and_exits_with_the_status() {
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.3; exit 7"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    assert_eq!(run_text(&["wait", "-q", &pid]), (7, String::new(), String::new()));
    let _ = child.wait();
    let sleeper = sleeper("60");
    assert_eq!(
        run_text(&["wait", "-q", "--timeout", "200ms", &sleeper.pid().to_string()]),
        (124, String::new(), String::new())
    );
}

#[test]
fn why_q_prints_only_the_verdict() {
    let sleeper = sleeper("60");
    let pid = sleeper.pid().to_string();
    // Asleep first: just after its exec it may still be running (R).
    let asleep = common::wait_until(std::time::Duration::from_secs(10), || {
        common::state(sleeper.pid()) == Some('S')
    });
    assert!(asleep, "the sleeper never slept");
    let (code, text, stderr) = run_text(&["why", "-q", &pid]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(text, format!("{pid} sleep: sleeping (S) — SIGKILL would end it now\n"));
    let (_, full, _) = run_text(&["why", &pid]);
    assert!(full.starts_with(&text) && full.len() > text.len(), "{full}");
    // An error is still one line on stderr.
    let (code, text, stderr) = run_text(&["why", "-q", &unused_pid().to_string()]);
    assert_eq!((code, text.as_str()), (125, ""));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("afterlife: error: "), "{stderr}");
}

#[test]
fn leftovers_q_says_it_with_the_exit_code() {
    let scratch = Scratch::new("quiet-leftovers");
    // A tree whose child outlives its root: something stays.
    let mut root = Command::new("sh")
        .args(["-c", "sleep 60 & echo $!; exec sleep 60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(root.stdout.take().unwrap()), &mut line).unwrap();
    let child: i32 = line.trim().parse().unwrap();
    let snapshot = afterlife()
        .args(["--json", "snapshot", "--tree", &root.id().to_string()])
        .output()
        .unwrap();
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    let _ = root.kill();
    let _ = root.wait();
    let file = file.to_str().unwrap();
    assert_eq!(run_text(&["leftovers", "-q", file]), (1, String::new(), String::new()));
    let (code, text, _) = run_text(&["leftovers", file]);
    assert_eq!(code, 1);
    assert!(!text.is_empty());
    common::kill_pids(&[child]);
    assert!(common::wait_until(std::time::Duration::from_secs(10), || {
        common::pid_dead(child)
    }));
    // The child was our grandchild, reparented to init: once it is gone
    // nothing of the tree stays.
    let clean = common::wait_until(std::time::Duration::from_secs(10), || {
        run_text(&["leftovers", "-q", file]).0 == 0
    });
    assert!(clean, "{:?}", run_text(&["leftovers", file]));
    assert_eq!(run_text(&["leftovers", "-q", file]), (0, String::new(), String::new()));
    // An error still says why.
    let (code, text, stderr) = run_text(&["leftovers", "-q", "/no/such/snapshot.json"]);
    assert_eq!((code, text.as_str()), (125, ""));
    assert!(stderr.starts_with("afterlife: error: cannot read snapshot"), "{stderr}");
}

#[test]
fn kill_q_is_silent_when_all_ended_and_names_only_survivors() {
    let sleeper = sleeper("60");
    assert_eq!(
        run_text(&["kill", "-q", "--grace", "10s", &sleeper.pid().to_string()]),
        (0, String::new(), String::new())
    );
    // PID 1 is refused: it survives, and -q says so on stderr, one line.
    let comm = std::fs::read_to_string("/proc/1/comm").unwrap();
    let (code, text, stderr) = run_text(&["kill", "-q", "1"]);
    assert_eq!((code, text.as_str()), (1, ""));
    assert_eq!(
        stderr,
        format!(
            "afterlife: 1 {} is still alive: it is PID 1, the init of this PID namespace (use --force to signal it)\n",
            comm.trim_end()
        )
    );
}

#[test]
fn quiet_and_json_together_are_bad_input() {
    let sleeper = sleeper("60");
    let pid = sleeper.pid().to_string();
    let expected = "afterlife: error: -q/--quiet and --json cannot be used together: -q prints no report, \
                    --json prints it as JSON\n";
    for args in [
        &["--json", "status", "-q", &pid][..],
        &["status", "-q", "--json", &pid],
        &["--json", "wait", "-q", "--timeout", "1s", &pid],
        &["--json", "why", "-q", &pid],
        &["--json", "kill", "-q", &pid],
        &["--json", "leftovers", "-q", "/no/such/file"],
    ] {
        assert_eq!(run_text(args), (125, String::new(), expected.to_string()), "{args:?}");
    }
    // Nothing was signalled.
    assert_eq!(run_text(&["status", "-q", &pid]).0, 0);
}

#[test]
fn snapshot_and_explain_have_no_quiet() {
    for args in [&["snapshot", "-q", "1"][..], &["explain", "-q", "137"]] {
        let (code, text, stderr) = run_text(args);
        assert_eq!((code, text.as_str()), (125, ""), "{args:?}");
        assert!(
            stderr.starts_with("afterlife: error: unexpected argument '-q' found"),
            "{args:?}: {stderr}"
        );
    }
}
