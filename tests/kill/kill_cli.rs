//! The command line of `kill`: bad input gets one line and exit 125 with
//! nothing signalled; `--dry-run` sends nothing; `--no-wait` returns at
//! once; signal names as kill(1) takes them; names from /proc are escaped.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::kill::{Tree, entry, kill_json, kill_text, sent};

#[test]
fn bad_input_is_one_line_and_125() {
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let missing = (4_000_000..4_194_304)
        .rev()
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .unwrap()
        .to_string();
    for (args, expected) in [
        (
            vec!["--signal", "NOPE", pid.as_str()],
            "afterlife: error: invalid --signal",
        ),
        (vec!["--signal", "99", pid.as_str()], "out of range"),
        (
            vec!["--grace", "soon", pid.as_str()],
            "afterlife: error: invalid --grace",
        ),
        (vec!["abc"], "is not a process ID"),
        (vec!["-5"], "PIDs are positive"),
        (vec![pid.as_str(), missing.as_str()], "no such process"),
    ] {
        let (code, stdout, stderr) = kill_text(&args);
        assert_eq!(code, 125, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    }
    let (code, _, stderr) = kill_text(&["--tree", "--session", &pid]);
    assert_eq!(code, 125, "{stderr}");
    let (code, _, _) = kill_text(&[]);
    assert_eq!(code, 125);
    assert!(sleeper.try_wait().unwrap().is_none(), "bad input must signal nothing");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

#[test]
fn dry_run_lists_and_sends_nothing() {
    let tree = Tree::start("cli-dry", "sleep 60 &\necho $!\necho ready\nwait\n");
    let (code, report, _) = kill_json(&["--tree", "--dry-run", &tree.root().to_string()]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["dry_run"], true);
    for pid in [tree.root(), tree.pids[0]] {
        let e = entry(&report, pid);
        assert_eq!(e["outcome"], "would_signal", "{e:#}");
        assert!(sent(e).is_empty());
    }
    let (code, text, _) = kill_text(&["--tree", "--dry-run", "--grace", "2s", &tree.root().to_string()]);
    assert_eq!(code, 0);
    assert!(text.contains("would send SIGTERM, then SIGKILL after 2s"), "{text}");
    assert!(text.contains("dry run: 2 processes would be signalled"), "{text}");
    std::thread::sleep(Duration::from_millis(50));
    assert!(!tree.handles[0].has_exited());
}

#[test]
fn a_grace_of_forever_plans_no_kill() {
    let tree = Tree::start("cli-forever", "sleep 60 &\necho $!\necho ready\nwait\n");
    let pid = tree.pids[0].to_string();
    for grace in ["1e300", "inf"] {
        let (code, report, _) = kill_json(&["--dry-run", "--grace", grace, &pid]);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(report["plan"]["grace_seconds"], serde_json::Value::Null, "{report:#}");
        assert_eq!(report["plan"]["escalate"], false, "{report:#}");
        let (code, text, _) = kill_text(&["--dry-run", "--grace", grace, &pid]);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("would send SIGTERM"), "{text}");
        assert!(!text.contains("SIGKILL"), "{text}");
    }
    assert!(!tree.handles[0].has_exited());
}

#[test]
fn no_wait_returns_at_once_and_signal_names_work() {
    let tree = Tree::start(
        "cli-no-wait",
        "( trap '' TERM; exec sleep 60 ) &\necho $!\nsleep 60 &\necho $!\necho ready\nwait\n",
    );
    let (ignorer, plain) = (tree.pids[0].to_string(), tree.pids[1].to_string());
    let start = Instant::now();
    let (code, report, _) = kill_json(&["--no-wait", "--grace", "10s", &ignorer]);
    assert!(start.elapsed() < Duration::from_secs(5), "--no-wait waited");
    assert_eq!(code, 0, "{report:#}");
    let e = entry(&report, tree.pids[0]);
    assert_eq!(e["reason"], "not_waited", "{e:#}");
    assert_eq!(report["finish"], "not_waiting");
    assert!(!tree.handles[0].has_exited());

    for name in ["SIGKILL", "9", "kill"] {
        let (code, report, _) = kill_json(&["--signal", name, "--dry-run", &plain]);
        assert_eq!(code, 0);
        assert_eq!(report["plan"]["signal"]["name"], "SIGKILL", "{name}");
    }
    let (code, report, _) = kill_json(&["--signal", "RTMIN+3", "--dry-run", &plain]);
    assert_eq!(code, 0);
    // RTMIN is 34, as glibc and kill(1) have it, whatever the C library.
    assert_eq!(report["plan"]["signal"]["number"], 34 + 3);
    let (code, report, _) = kill_json(&["-s", "USR1", "--grace", "2s", &plain]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        entry(&report, tree.pids[1])["ending"]["status"]["signal"]["name"],
        "SIGUSR1"
    );
}

#[test]
fn names_from_proc_are_escaped_in_the_table() {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(
            "import ctypes, sys, time\n\
             ctypes.CDLL(None).prctl(15, b'evil\\x1b[2J\\nx', 0, 0, 0)\n\
             print('ready', flush=True)\n\
             time.sleep(60)",
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let (code, text, _) = kill_text(&["--grace", "2s", &child.id().to_string()]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains('\x1b'), "raw escape reached the terminal: {text:?}");
    assert!(text.contains("evil\\e[2J\\nx"), "{text}");
    let _ = child.wait();
}
