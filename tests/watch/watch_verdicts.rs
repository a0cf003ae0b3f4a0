//! `afterlife watch` on real processes that leak at known rates, hold
//! steady, or saw up and down: each verdict, the leaking kind, the exit
//! code.

use crate::common;

use std::process::Command;

use afterlife::process::{Pid, Process};
use afterlife::signal::Signal;
use common::{Scratch, WatchFixture, afterlife, ndjson, stderr, stdout};
use serde_json::Value;

/// Watches `pid` for `seconds` at 50 ms and returns (exit code, NDJSON).
fn watch(pid: i32, seconds: &str) -> (i32, Vec<Value>) {
    let output = afterlife()
        .args([
            "--json",
            "watch",
            "--interval",
            "50ms",
            "--duration",
            seconds,
            &pid.to_string(),
        ])
        .output()
        .expect("afterlife runs");
    assert!(output.status.code().is_some(), "{}", stderr(&output));
    (output.status.code().unwrap(), ndjson(&output))
}

fn summary(events: &[Value]) -> &Value {
    events.iter().find(|e| e["event"] == "summary").expect("a summary line")
}

fn verdict<'a>(process: &'a Value, metric: &str) -> &'a Value {
    process["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["metric"] == metric)
        .unwrap_or_else(|| panic!("no verdict on {metric}: {process}"))
}

/// A fixture leaking one `kind` fd (two for pipes) every 50 ms.
fn assert_fd_leak(mode: &str, kind: &str, per_step: f64) {
    let fixture = WatchFixture::start(mode, 400, &[]);
    let (code, events) = watch(fixture.pid(), "2.5s");
    let process = &summary(&events)["processes"][0];
    assert_eq!(code, 1, "a leak exits 1: {process}");
    assert_eq!(process["leaking"], true);
    assert_eq!(process["leaking_kinds"], serde_json::json!([kind]), "{process}");
    let fds = verdict(process, "fds");
    assert_eq!(fds["verdict"], "leaking", "{fds}");
    // 20 steps a second: 1200 (or 2400) a minute; sleep jitter slows it a bit.
    let per_minute = fds["growth_per_minute"].as_f64().unwrap();
    let expected = 1200.0 * per_step;
    assert!(
        per_minute > expected * 0.6 && per_minute < expected * 1.1,
        "{per_minute} vs {expected}"
    );
    assert!(fds["confidence"].as_f64().unwrap() > 0.99);
    // The fd limit is known, and so is when it will be reached.
    assert!(fds["limit"].as_u64().is_some(), "{fds}");
    assert!(fds["time_to_limit_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(verdict(process, &format!("fds:{kind}"))["verdict"], "leaking");
    // Samples came with per-kind counts whenever the count changed.
    let with_kinds = events
        .iter()
        .filter(|e| e["event"] == "sample" && e["fd_breakdown"].is_object())
        .count();
    assert!(with_kinds > 10, "{with_kinds}");
}

#[test]
fn leaking_files_are_named() {
    assert_fd_leak("files", "file", 1.0);
}

#[test]
fn leaking_sockets_are_named_with_their_peer() {
    let fixture = WatchFixture::start("sockets", 400, &[]);
    let (code, events) = watch(fixture.pid(), "2.5s");
    assert_eq!(code, 1);
    let process = &summary(&events)["processes"][0];
    assert_eq!(process["leaking_kinds"], serde_json::json!(["socket"]), "{process}");
    // Every leaked socket connects to the same listener: one repeated target.
    let top = &process["fd_breakdown"]["top_targets"][0];
    assert_eq!(top["kind"], "socket");
    let target = top["target"].as_str().unwrap();
    assert!(target.starts_with("tcp -> 127.0.0.1:"), "{target}");
    assert!(top["count"].as_u64().unwrap() >= 20, "{top}");
}

#[test]
fn leaking_pipes_are_named() {
    assert_fd_leak("pipes", "pipe", 2.0);
}

#[test]
fn leaking_eventfds_are_named() {
    assert_fd_leak("eventfds", "eventfd", 1.0);
}

#[test]
fn leaking_memory_is_caught() {
    let fixture = WatchFixture::start("memory", 400, &[]);
    let (code, events) = watch(fixture.pid(), "2.5s");
    assert_eq!(code, 1);
    let process = &summary(&events)["processes"][0];
    let rss = verdict(process, "rss");
    assert_eq!(rss["verdict"], "leaking", "{rss}");
    // 1 MiB every 50 ms: about 1200 MiB a minute.
    let per_minute = rss["growth_per_minute"].as_f64().unwrap() / 1_048_576.0;
    assert!(per_minute > 700.0 && per_minute < 1400.0, "{per_minute}");
    assert_eq!(verdict(process, "fds")["verdict"], "steady");
    assert_eq!(process["leaking_kinds"], serde_json::json!([]));
}

#[test]
fn a_steady_process_is_not_leaking() {
    let fixture = WatchFixture::start("steady", 0, &[]);
    let (code, events) = watch(fixture.pid(), "2.5s");
    let process = &summary(&events)["processes"][0];
    assert_eq!(code, 0, "{process}");
    assert_eq!(process["leaking"], false);
    for metric in ["fds", "rss", "pss", "threads", "children"] {
        let v = verdict(process, metric);
        assert_ne!(v["verdict"], "leaking", "{v}");
    }
}

#[test]
fn a_sawtooth_is_not_leaking() {
    // Short cycles (0.5 s) and long ones (1 s, fewer than three in the window).
    for period in ["10", "20"] {
        let fixture = WatchFixture::start("sawtooth", 0, &[period]);
        let (code, events) = watch(fixture.pid(), "3s");
        let process = &summary(&events)["processes"][0];
        assert_eq!(code, 0, "period {period}: {process}");
        // It did grow and free: the fd count moved within the window.
        let fds = verdict(process, "fds");
        assert_ne!(fds["verdict"], "leaking");
        let counts: Vec<u64> = events
            .iter()
            .filter(|e| e["event"] == "sample")
            .map(|e| e["fds"].as_u64().unwrap())
            .collect();
        let (low, high) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(high - low >= 8, "{low}..{high}");
    }
}

#[test]
fn human_summary_names_the_leak_and_the_limit() {
    let fixture = WatchFixture::start("eventfds", 400, &[]);
    let output = afterlife()
        .args([
            "watch",
            "--interval",
            "50ms",
            "--duration",
            "2s",
            &fixture.pid().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains(&format!("{} python3: LEAK", fixture.pid())), "{text}");
    assert!(text.contains("fds leaking +"), "{text}");
    assert!(text.contains("fd limit"), "{text}");
    assert!(text.contains("reached in about"), "{text}");
    assert!(text.contains("leaking kind: fds:eventfd"), "{text}");
    assert!(text.contains("1 leaking process"), "{text}");
}

#[test]
fn until_exit_reports_how_the_command_ended() {
    // The fixture makes its file in TMPDIR, removed with the scratch dir.
    let tmp = Scratch::new("watch-until-exit");
    let output = afterlife()
        .env("TMPDIR", tmp.path())
        .args(["--json", "watch", "--interval", "50ms", "--until-exit", "--"])
        // The command's own stdout would mix with the NDJSON: send it away.
        .args(["sh", "-c", "exec python3 -c \"$1\" files 40 3 >/dev/null", "sh"])
        .arg(common::WATCH_FIXTURE)
        .output()
        .unwrap();
    let events = ndjson(&output);
    // The leak decides the exit code, not the command's.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let ended = events.iter().find(|e| e["event"] == "ended").expect("an ended line");
    assert_eq!(
        ended["ending"]["status"],
        serde_json::json!({"kind": "exited", "code": 3}),
        "{ended}"
    );
    assert_eq!(ended["ending"]["shell_code"], 3);
    let summary = summary(&events);
    assert_eq!(summary["stopped"], "all_ended");
    assert_eq!(summary["processes"][0]["ending"]["shell_code"], 3);

    // A signal death, in text.
    let output = afterlife()
        .args([
            "watch",
            "--interval",
            "50ms",
            "--until-exit",
            "--",
            "sh",
            "-c",
            "sleep 1; kill -9 $$",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("ended: killed by SIGKILL"), "{text}");
    assert!(text.contains("$? = 137"), "{text}");
}

#[test]
fn tree_watches_descendants() {
    use std::io::{BufRead, BufReader};
    let tmp = Scratch::new("watch-tree");
    let mut shell = Command::new("sh")
        .env("TMPDIR", tmp.path())
        .arg("-c")
        .arg("python3 -c \"$1\" files 400 0 >/dev/null & echo $!; wait")
        .arg("sh")
        .arg(common::WATCH_FIXTURE)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(shell.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let child_pid: i32 = line.trim().parse().unwrap();
    // Killed by its pidfd once the test is done, the shell by its Child.
    let python = Process::open(Pid::new(child_pid).unwrap()).unwrap();
    let shell = common::Fixture::adopt(shell, child_pid);
    // Leaking already: it holds its temporary file at least twice.
    assert!(common::wait_until(std::time::Duration::from_secs(10), || {
        std::fs::read_dir(format!("/proc/{child_pid}/fd")).is_ok_and(|fds| {
            fds.flatten()
                .filter(|fd| {
                    std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().contains("afterlife-watch-"))
                })
                .count()
                >= 2
        })
    }));
    let output = afterlife()
        .args(["--json", "watch", "--interval", "50ms", "--duration", "2.5s", "--tree"])
        .arg(shell.child.id().to_string())
        .output()
        .unwrap();
    let _ = python.signal(Signal::KILL);
    let events = ndjson(&output);
    let processes = summary(&events)["processes"].as_array().unwrap().clone();
    let pids: Vec<i64> = processes.iter().map(|p| p["pid"].as_i64().unwrap()).collect();
    assert!(pids.contains(&i64::from(child_pid)), "{pids:?}");
    assert!(pids.contains(&i64::from(shell.child.id())));
    let child = processes.iter().find(|p| p["pid"] == child_pid).unwrap();
    assert_eq!(child["leaking_kinds"], serde_json::json!(["file"]), "{child}");
    assert_eq!(output.status.code(), Some(1));
    // The shell itself only waits.
    let parent = processes.iter().find(|p| p["pid"] != child_pid).unwrap();
    assert_eq!(parent["leaking"], false, "{parent}");
}

#[test]
fn name_finds_processes_by_comm() {
    let fixture = WatchFixture::start("files", 400, &["1", "afl-leaky-fx"]);
    let output = afterlife()
        .args([
            "--json",
            "watch",
            "--interval",
            "50ms",
            "--duration",
            "2s",
            "--name",
            "afl-leaky-fx",
        ])
        .output()
        .unwrap();
    let events = ndjson(&output);
    let processes = summary(&events)["processes"].as_array().unwrap().clone();
    assert_eq!(processes.len(), 1, "{processes:?}");
    assert_eq!(processes[0]["pid"], fixture.pid());
    assert_eq!(processes[0]["name"], "afl-leaky-fx");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn name_with_until_exit_stops_when_the_processes_end() {
    // 30 steps of 50 ms, then it exits (with 0).
    let fixture = WatchFixture::start("steady", 30, &["1", "afl-until-fx"]);
    let output = afterlife()
        .args([
            "--json",
            "watch",
            "--interval",
            "50ms",
            "--until-exit",
            "--name",
            "afl-until-fx",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = ndjson(&output);
    let summary = summary(&events);
    assert_eq!(summary["stopped"], "all_ended");
    assert!(summary["watched_seconds"].as_f64().unwrap() < 10.0);
    let process = &summary["processes"][0];
    assert_eq!(process["pid"], fixture.pid());
    assert_eq!(process["ending"]["shell_code"], 0, "{process}");
}

/// A process that ended before its first sample has its ending and no
/// values: `first` and `last` are null, no metric is judged, and the text
/// says so instead of "too few samples". They were 0.0 and `judged: true`.
#[test]
fn a_process_that_ended_before_its_first_sample_has_no_values() {
    let unsampled = (0..5).find_map(|_| {
        let output = afterlife()
            .args(["--json", "watch", "--until-exit", "--", "sh", "-c", "exit 3"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let events = ndjson(&output);
        let process = summary(&events)["processes"][0].clone();
        (process["samples"] == 0).then_some((events, process))
    });
    let Some((events, process)) = unsampled else {
        eprintln!("skipped: sh -c 'exit 3' outlived the first sample five times");
        return;
    };
    assert_eq!(process["ending"]["shell_code"], 3, "{process}");
    let lines = events.iter().filter(|e| e["event"] == "verdict");
    for v in process["verdicts"].as_array().unwrap().iter().chain(lines) {
        assert_eq!(v["verdict"], "too_few_samples", "{v}");
        assert_eq!(v["samples"], 0, "{v}");
        assert!(v["first"].is_null() && v["last"].is_null(), "{v}");
        assert_eq!(v["judged"], false, "{v}");
    }
    assert!(verdict(&process, "fds")["limit"].is_u64(), "{process}");

    let output = afterlife()
        .args(["watch", "--until-exit", "--", "sh", "-c", "exit 3"])
        .output()
        .unwrap();
    let text = stdout(&output);
    if text.contains("(0 samples)") {
        assert!(text.contains("ended before its first sample (0 samples)"), "{text}");
        assert!(!text.contains("now "), "{text}");
        assert!(text.contains("ended: exited with code 3"), "{text}");
    }
}
