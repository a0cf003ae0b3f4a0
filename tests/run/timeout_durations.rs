//! Durations at the extremes, for every command that takes one: huge
//! values (`inf`, `1e30`, `1e400`, twenty digits) mean forever and never
//! panic; a tiny positive one (`1e-10`) means at once, as in coreutils
//! `timeout`; `watch --interval` never keeps a core busy.

use crate::common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, afterlife, kill_pids, pid_dead, pids_in, shell_code, stderr, stdout};

fn quiet(mut command: Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

fn no_panic(output: &Output) {
    let err = stderr(output);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(output.status.code(), Some(101), "{err}");
}

fn ours(args: &[&str]) -> Output {
    let mut command = afterlife();
    command.args(args);
    quiet(command)
}

#[test]
fn a_grace_of_forever_never_panics_and_never_kills() {
    // The issue's own case: TERM is ignored, KILL never comes, the command
    // ends by itself: 124, as coreutils says. (A deadline of 1s: the shell
    // has run its `trap` by then, even on a loaded machine.)
    let mut cases: Vec<Vec<String>> = Vec::new();
    for containment in ["auto", "subreaper"] {
        for grace in ["inf", "1e30", "1e400", "99999999999999999999"] {
            let args = ["timeout", "--containment", containment, "-k", grace, "1"];
            cases.push(args.iter().map(|s| s.to_string()).collect());
        }
    }
    let run = ["run", "-q", "--timeout", "1", "--grace", "inf", "--"];
    cases.push(run.iter().map(|s| s.to_string()).collect());
    let runs: Vec<_> = cases
        .into_iter()
        .map(|mut args| {
            std::thread::spawn(move || {
                args.extend(["sh", "-c", "trap '' TERM; sleep 2"].iter().map(|s| s.to_string()));
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let start = Instant::now();
                let output = ours(&refs);
                (args, output, start.elapsed())
            })
        })
        .collect();
    for run in runs {
        let (args, output, elapsed) = run.join().unwrap();
        no_panic(&output);
        assert_eq!(shell_code(output.status), 124, "{args:?}: {}", stderr(&output));
        assert!(elapsed >= Duration::from_millis(1900), "{args:?}: KILL came after all");
    }
}

#[test]
fn leftovers_under_a_grace_of_forever_still_get_their_signal() {
    for containment in ["auto", "subreaper"] {
        let output = ours(&[
            "run",
            "--containment",
            containment,
            "--grace",
            "1e30",
            "--",
            "sh",
            "-c",
            "sleep 30 & exit 0",
        ]);
        no_panic(&output);
        assert_eq!(output.status.code(), Some(0), "{containment}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(err.contains("1 leftover ended"), "{containment}: {err}");
    }
}

#[test]
fn watch_for_forever_ends_with_the_command_and_leaves_nothing() {
    let scratch = Scratch::new("watch-forever");
    let pidfile = scratch.path().join("pid");
    let script = format!("echo $$ > '{}'; exec sleep 1", pidfile.display());
    for extra in [
        &["--duration", "1e30"][..],
        &["--interval", "inf", "--duration", "inf"][..],
    ] {
        let start = Instant::now();
        let mut command = afterlife();
        command.arg("watch").args(extra).args(["--", "sh", "-c", &script]);
        let output = quiet(command);
        no_panic(&output);
        // A second of watching is too few samples for a verdict: exit 2.
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {}", stderr(&output));
        assert!(start.elapsed() < Duration::from_secs(20));
        let pids = pids_in(&pidfile);
        assert_eq!(pids.len(), 1);
        assert!(pid_dead(pids[0]), "{extra:?}: the watched command still runs");
        std::fs::remove_file(&pidfile).unwrap();
    }
}

#[test]
fn a_tiny_watch_interval_does_not_spin_a_core() {
    let mut child = afterlife()
        .args(["watch", "--interval", "1e-10", "--duration", "1.5", "--", "sleep", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: a rusage is plain integers; all zeroes is a valid one.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 fills the rusage we own and reaps our own child.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    // std must not wait for it again.
    let _ = child.try_wait();
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let used = cpu(usage.ru_utime) + cpu(usage.ru_stime);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status:#x}"
    );
    // A spinning loop would use about the whole 1.5 s; 10 ms ticks use a
    // small part of it, even in a debug build on a loaded machine.
    assert!(used < 0.75, "afterlife watch used {used:.3}s of CPU in 1.5s");
}

#[test]
fn a_tiny_timeout_is_at_once() {
    for args in [
        &["timeout", "1e-10", "sleep", "10"][..],
        &["timeout", "1e-10000", "sleep", "10"][..],
        &["timeout", "0x1p-1100", "sleep", "10"][..],
        &["run", "-q", "--timeout", "1e-10", "--", "sleep", "10"][..],
    ] {
        let start = Instant::now();
        let output = ours(args);
        assert_eq!(shell_code(output.status), 124, "{args:?}: {}", stderr(&output));
        assert!(start.elapsed() < Duration::from_secs(5), "{args:?}");
    }
    // Only a true zero is "no timeout".
    let output = ours(&["timeout", "0", "sh", "-c", "sleep 0.2; exit 3"]);
    assert_eq!(shell_code(output.status), 3);
    // A tiny -k: KILL at once after TERM.
    let output = ours(&["timeout", "-k", "1e-10", "1", "sh", "-c", "trap '' TERM; sleep 10"]);
    assert_eq!(shell_code(output.status), 137, "{}", stderr(&output));
}

#[test]
fn every_command_takes_inf() {
    let output = ours(&["run", "--timeout", "inf", "--", "sh", "-c", "exit 4"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));

    let mut sleeper = Command::new("sleep").arg("0.3").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let output = ours(&["wait", "--timeout", "inf", &pid]);
    no_panic(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let _ = sleeper.wait();

    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let output = ours(&["kill", "--grace", "inf", &pid]);
    no_panic(&output);
    kill_pids(&[sleeper.id() as i32]);
    let _ = sleeper.wait();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // Dry run: the plan says "forever", not a 15-digit number of days.
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let output = ours(&["kill", "--dry-run", "--grace", "1e400", &pid]);
    kill_pids(&[sleeper.id() as i32]);
    let _ = sleeper.wait();
    no_panic(&output);
    let text = stdout(&output) + &stderr(&output);
    assert!(!text.contains("213503982334601d"), "{text}");
}

#[test]
fn bad_durations_get_one_line_and_125() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["timeout", "500ms", "true"],
            "afterlife: error: invalid time interval '500ms': unknown unit; use s, m, h or d \
             (examples: 10, 0.5, 1.5m, 2h, 1d, inf)\n",
        ),
        (
            &["timeout", "--", "-1", "true"],
            "afterlife: error: invalid time interval '-1': negative (examples: 10, 0.5, 1.5m, 2h, 1d, inf)\n",
        ),
        (
            &["run", "--timeout", "nan", "--", "true"],
            "afterlife: error: invalid --timeout <DURATION>: invalid duration 'nan': not a number \
             (examples: 10, 10s, 1.5m, 500ms, 2h, 1d, inf)\n",
        ),
        (
            &["watch", "--interval", "1x", "--", "true"],
            "afterlife: error: invalid --interval <DURATION>: invalid duration '1x': unknown unit; \
             use ms, s, m, h or d (examples: 10, 10s, 1.5m, 500ms, 2h, 1d, inf)\n",
        ),
    ];
    for (args, expected) in cases {
        let output = ours(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}");
        assert_eq!(stderr(&output), expected, "{args:?}");
    }
}

#[test]
fn with_no_grace_sigkill_is_needed_only_if_it_ended_the_command() {
    // --grace 0 sends TERM and KILL at once: sleep dies of TERM, so the
    // report does not say SIGKILL was needed, and the code is 124.
    let output = afterlife()
        .args([
            "run",
            "--report",
            "--grace",
            "0",
            "--timeout",
            "0.1",
            "--",
            "sleep",
            "5",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    let died_of_term = text.contains("exit:        killed by SIGTERM");
    if died_of_term {
        assert!(!text.contains("SIGKILL was needed"), "{text}");
        assert_eq!(output.status.code(), Some(124), "{text}");
    } else {
        assert!(text.contains("SIGKILL was needed"), "{text}");
    }
}
