//! `-q`/`--quiet` where it makes sense: `status`, `wait` and `leftovers`
//! print nothing (errors aside) and the exit code says it, as grep -q;
//! `kill -q` prints only what survived; `why -q` only its verdict line.
//! `-q` with `--json` is bad input; `snapshot` and `explain` have no `-q`.

mod common;

use std::process::{Command, Stdio};

use common::{Scratch, afterlife, unreaped_zombie, unused_pid};

fn run(args: &[&str]) -> (i32, String, String) {
    let output = afterlife().args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A `sleep` killed and reaped on drop.
struct Sleeper(std::process::Child);

impl Sleeper {
    fn start(seconds: &str) -> Sleeper {
        Sleeper(Command::new("sleep").arg(seconds).stdin(Stdio::null()).spawn().unwrap())
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn status_q_answers_with_the_exit_code_only() {
    let sleeper = Sleeper::start("60");
    let zombie = unreaped_zombie(0);
    let missing = unused_pid().to_string();
    let pid = sleeper.pid();
    assert_eq!(run(&["status", "-q", &pid]), (0, String::new(), String::new()));
    assert_eq!(
        run(&["status", "--quiet", &pid, &zombie.reported.to_string()]),
        (1, String::new(), String::new())
    );
    assert_eq!(run(&["status", "-q", &missing]), (1, String::new(), String::new()));
    // Without -q the same answers are printed.
    let (code, text, _) = run(&["status", &pid]);
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
    assert_eq!(run(&["wait", "-q", &pid]), (7, String::new(), String::new()));
    let _ = child.wait();
    let sleeper = Sleeper::start("60");
    assert_eq!(
        run(&["wait", "-q", "--timeout", "200ms", &sleeper.pid()]),
        (124, String::new(), String::new())
    );
}

#[test]
fn why_q_prints_only_the_verdict() {
    let sleeper = Sleeper::start("60");
    let pid = sleeper.pid();
    let (code, text, stderr) = run(&["why", "-q", &pid]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(text, format!("{pid} sleep: sleeping (S) — SIGKILL would end it now\n"));
    let (_, full, _) = run(&["why", &pid]);
    assert!(full.starts_with(&text) && full.len() > text.len(), "{full}");
    // An error is still one line on stderr.
    let (code, text, stderr) = run(&["why", "-q", &unused_pid().to_string()]);
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
    assert_eq!(run(&["leftovers", "-q", file]), (1, String::new(), String::new()));
    let (code, text, _) = run(&["leftovers", file]);
    assert_eq!(code, 1);
    assert!(!text.is_empty());
    common::kill_pids(&[child]);
    assert!(common::wait_until(std::time::Duration::from_secs(10), || {
        common::pid_dead(child)
    }));
    // The child was our grandchild, reparented to init: once it is gone
    // nothing of the tree stays.
    let clean = common::wait_until(std::time::Duration::from_secs(10), || {
        run(&["leftovers", "-q", file]).0 == 0
    });
    assert!(clean, "{:?}", run(&["leftovers", file]));
    assert_eq!(run(&["leftovers", "-q", file]), (0, String::new(), String::new()));
    // An error still says why.
    let (code, text, stderr) = run(&["leftovers", "-q", "/no/such/snapshot.json"]);
    assert_eq!((code, text.as_str()), (125, ""));
    assert!(stderr.starts_with("afterlife: error: cannot read snapshot"), "{stderr}");
}

#[test]
fn kill_q_is_silent_when_all_ended_and_names_only_survivors() {
    let sleeper = Sleeper::start("60");
    assert_eq!(
        run(&["kill", "-q", "--grace", "10s", &sleeper.pid()]),
        (0, String::new(), String::new())
    );
    // PID 1 is refused: it survives, and -q says so on stderr, one line.
    let comm = std::fs::read_to_string("/proc/1/comm").unwrap();
    let (code, text, stderr) = run(&["kill", "-q", "1"]);
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
    let sleeper = Sleeper::start("60");
    let pid = sleeper.pid();
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
        assert_eq!(run(args), (125, String::new(), expected.to_string()), "{args:?}");
    }
    // Nothing was signalled.
    assert_eq!(run(&["status", "-q", &pid]).0, 0);
}

#[test]
fn snapshot_and_explain_have_no_quiet() {
    for args in [&["snapshot", "-q", "1"][..], &["explain", "-q", "137"]] {
        let (code, text, stderr) = run(args);
        assert_eq!((code, text.as_str()), (125, ""), "{args:?}");
        assert!(
            stderr.starts_with("afterlife: error: unexpected argument '-q' found"),
            "{args:?}: {stderr}"
        );
    }
}
