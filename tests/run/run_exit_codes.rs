//! `afterlife run`: every exit-code rule of timeout(1), the deadline with
//! and without SIGKILL, and dying of the command's signal.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{Scratch, afterlife, shell_code, stderr, stdout};

fn run(args: &[&str]) -> std::process::Output {
    afterlife().arg("run").args(args).output().expect("afterlife runs")
}

#[test]
fn success_is_silent_and_stdout_passes_through() {
    let output = run(&["--", "echo", "hello"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "hello\n");
    assert_eq!(stderr(&output), "");
}

#[test]
fn the_commands_code_passes_through_with_one_summary_line() {
    let output = run(&["--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(stdout(&output), "out\n");
    assert_eq!(
        stderr(&output),
        "err\nafterlife: sh -c 'echo out; echo err >&2; exit 3': exited with code 3 (exit 3)\n"
    );
    let quiet = run(&["-q", "--", "sh", "-c", "exit 4"]);
    assert_eq!(quiet.status.code(), Some(4));
    assert_eq!(stderr(&quiet), "");
}

#[test]
fn not_found_is_127_and_not_executable_is_126() {
    let output = run(&["--", "afterlife-no-such-command"]);
    assert_eq!(output.status.code(), Some(127));
    assert!(
        stderr(&output).starts_with("afterlife: error: failed to run command 'afterlife-no-such-command'"),
        "{}",
        stderr(&output)
    );
    let scratch = Scratch::new("run-126");
    let script = scratch.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(&["--", script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(126));
    let output = run(&["--", scratch.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(126), "a directory cannot be executed");
}

#[test]
fn bad_input_is_125() {
    for args in [
        &["--timeout", "abc", "--", "true"][..],
        &["--signal", "NOPE", "--", "true"],
        &["--containment", "jail", "--", "true"],
        &["--grace", "-1", "--", "true"],
        &[],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("error"), "{args:?}");
    }
}

#[test]
fn a_term_handling_command_times_out_cleanly_with_124() {
    let start = Instant::now();
    let output = run(&["--timeout", "0.3", "--", "sleep", "10"]);
    assert_eq!(output.status.code(), Some(124));
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(
        stderr(&output).contains("timed out after 300ms: killed by SIGTERM (exit 124)"),
        "{}",
        stderr(&output)
    );
    // Exiting 0 on TERM is still a timeout.
    let output = run(&[
        "--timeout",
        "0.3",
        "--",
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 10 & wait",
    ]);
    assert_eq!(output.status.code(), Some(124));
}

#[test]
fn a_term_ignoring_command_gets_kill_and_137() {
    let start = Instant::now();
    let output = run(&[
        "--timeout",
        "0.3",
        "--grace",
        "0.3",
        "--",
        "sh",
        "-c",
        "trap '' TERM; while :; do sleep 0.05; done",
    ]);
    assert_eq!(output.status.code(), Some(137), "{}", stderr(&output));
    assert!(start.elapsed() < Duration::from_secs(4));
    assert!(stderr(&output).contains("SIGKILL needed"), "{}", stderr(&output));
}

#[test]
fn preserve_status_gives_the_commands_own_status() {
    let output = run(&["--timeout", "0.3", "--preserve-status", "--", "sleep", "10"]);
    assert_eq!(output.status.code(), Some(143));
    let output = run(&[
        "--timeout",
        "0.3",
        "--signal",
        "INT",
        "--preserve-status",
        "--",
        "sleep",
        "10",
    ]);
    assert_eq!(output.status.code(), Some(130));
    let output = run(&[
        "--timeout",
        "0.3",
        "--preserve-status",
        "--",
        "sh",
        "-c",
        "trap 'exit 9' TERM; sleep 10 & wait",
    ]);
    assert_eq!(output.status.code(), Some(9));
    // KILL sent by afterlife is still 137.
    let output = run(&[
        "--timeout",
        "0.2",
        "--signal",
        "KILL",
        "--preserve-status",
        "--",
        "sleep",
        "10",
    ]);
    assert_eq!(output.status.code(), Some(137));
}

#[test]
fn a_signal_death_is_passed_on_by_dying_of_it_without_a_core() {
    let output = run(&["--", "sh", "-c", "kill -USR1 $$"]);
    assert_eq!(output.status.signal(), Some(libc::SIGUSR1));
    assert_eq!(shell_code(output.status), 138);
    // The sender is named where the signal_generate program loads.
    let err = stderr(&output);
    assert!(
        err.contains("killed by SIGUSR1 (exit 138)")
            || err.contains(
                "killed by SIGUSR1, sent by itself with kill(), pidfd_send_signal() or cgroup.kill (exit 138)"
            ),
        "{err}"
    );
    // A core-dumping signal with core dumps allowed: the command dumps, we
    // die of the same signal without a core of our own.
    let scratch = Scratch::new("run-core");
    let report = scratch.path().join("report.json");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -c unlimited 2>/dev/null; cd '{}' && exec '{}' run -q --report-json '{}' -- sh -c 'kill -QUIT $$'",
            scratch.path().display(),
            env!("CARGO_BIN_EXE_afterlife"),
            report.display()
        ))
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGQUIT));
    assert!(!status.core_dumped(), "afterlife dumped core itself");
    let json: serde_json::Value = crate::common::schema::parse("run", &std::fs::read_to_string(&report).unwrap());
    assert_eq!(json["ending"]["status"]["signal"]["name"], "SIGQUIT");
    assert_eq!(json["dies_by"]["name"], "SIGQUIT");
    if json["ending"]["status"]["core_dumped"] == true {
        // The kernel wrote one: the report says where, per core_pattern.
        let core = &json["core"];
        assert!(core["to"] == "file" || core["to"] == "program", "{core}");
        if core["to"] == "file" {
            let path = core["path"].as_str().unwrap();
            assert!(std::path::Path::new(path).exists(), "no core at {path}");
        }
    } else {
        println!("skipped: core location check: the kernel wrote no core here (RLIMIT_CORE or core_pattern)");
    }
}

#[test]
fn foreground_signals_only_the_main_process_at_the_deadline() {
    let output = afterlife()
        .args([
            "run",
            "--report-json",
            "/dev/stdout",
            "-q",
            "--foreground",
            "--timeout",
            "0.3",
            "--",
        ])
        .args(["sh", "-c", "sleep 10; true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(124));
    let json: serde_json::Value = crate::common::schema::parse("run", &String::from_utf8_lossy(&output.stdout));
    assert_eq!(json["timeline"][0]["to"], "main");
    assert_eq!(json["timeline"][0]["reason"], "deadline");
    // The sleep was not signalled at the deadline: it was ended as a leftover.
    assert_eq!(json["leftovers"][0]["name"], "sleep");
    assert_eq!(json["leftovers"][0]["fate"]["fate"], "ended");
}

#[test]
fn after_a_deadline_the_tree_shares_one_grace_period() {
    // The main process obeys TERM; a setsid escapee ignores it. It is listed
    // as a leftover and killed when the grace period ends, not signalled twice.
    let output = afterlife()
        .args([
            "run",
            "-q",
            "--timeout",
            "0.3",
            "--grace",
            "0.3",
            "--report-json",
            "/dev/stdout",
            "--",
        ])
        .args(["sh", "-c", "setsid sh -c 'trap \"\" TERM; exec sleep 30' & sleep 30"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(124), "{}", stderr(&output));
    let json: serde_json::Value = crate::common::schema::parse("run", &String::from_utf8_lossy(&output.stdout));
    let reasons: Vec<&str> = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["deadline", "leftovers_grace_expired"]);
    let leftovers = json["leftovers"].as_array().unwrap();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    assert_eq!(leftovers[0]["fate"]["fate"], "killed", "{json}");
    assert_eq!(leftovers[0]["escaped"][0]["how"], "new_session");
}
