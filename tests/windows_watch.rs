//! `watch` on Windows end to end: afterlife's own hidden child modes leak
//! handles or private bytes at a steady rate, or hold a steady handle
//! count, and `afterlife.exe watch` must tell which — with its NDJSON
//! checked against docs/schema/watch.json, its Prometheus endpoint scraped
//! over loopback and its plot written. Run here under Wine.
//!
//! Each watch is a few seconds at a short interval. Where Wine differs
//! from Windows the test says so and asserts what both agree on.

#![cfg(windows)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The JSON Schemas of docs/schema/, built in: every document checked.
#[allow(dead_code)]
#[path = "common/schema.rs"]
mod schema;

#[path = "common/wine.rs"]
mod wine;

const EXE: &str = env!("CARGO_BIN_EXE_afterlife");

fn afterlife(args: &[&str]) -> Output {
    wine::retrying(|| Command::new(EXE).args(args).stdin(Stdio::null()).output())
}

/// A child mode that prints its PID first; returns it once printed (the
/// mode has started leaking or holding by then).
fn started(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(EXE)
        .arg("__child")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid = line.split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(pid, child.id().to_string(), "{line}");
    (child, pid)
}

fn end(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every NDJSON line, each checked against the schema.
fn events(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| schema::parse("watch", line))
        .collect()
}

fn summary(events: &[serde_json::Value]) -> &serde_json::Value {
    let last = events.last().expect("no NDJSON line");
    assert_eq!(last["event"], "summary", "{last}");
    last
}

/// Whether a JSON number is the PID `pid`.
fn is_pid(value: &serde_json::Value, pid: &str) -> bool {
    value.as_u64().is_some() && value.as_u64() == pid.parse().ok()
}

/// The verdict event on `metric` of `pid`.
fn verdict<'a>(events: &'a [serde_json::Value], pid: &str, metric: &str) -> &'a serde_json::Value {
    events
        .iter()
        .find(|e| e["event"] == "verdict" && is_pid(&e["pid"], pid) && e["metric"] == metric)
        .unwrap_or_else(|| panic!("no verdict on {metric} of {pid}: {events:#?}"))
}

#[test]
fn a_handle_leak_is_found_and_named() {
    // An event opened every 25 ms and never closed: 40 handles a second.
    let (child, pid) = started(&["leak-handles", "25"]);
    let output = afterlife(&["--json", "watch", &pid, "--duration", "3s", "--interval", "100ms"]);
    end(child);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = events(&output);
    let samples: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "sample").collect();
    assert!(samples.len() >= 15, "{}", samples.len());
    let handles: Vec<u64> = samples.iter().map(|s| s["handles"].as_u64().unwrap()).collect();
    assert!(handles.last() > handles.first(), "{handles:?}");
    let leak = verdict(&events, &pid, "handles");
    assert_eq!(leak["verdict"], "leaking", "{leak}");
    assert_eq!(leak["judged"], true);
    assert_eq!(leak["limit"], 1u64 << 24);
    let summary = summary(&events);
    assert_eq!(summary["leak"], true);
    assert_eq!(summary["processes"][0]["leaking"], true);
    assert!(summary["processes"][0]["last"]["handles"].as_u64().unwrap() > 0);
}

#[test]
fn a_steady_handle_count_is_no_leak() {
    // 50 events held; one more opened and closed every 20 ms.
    let (child, pid) = started(&["hold-handles", "50", "20"]);
    let output = afterlife(&["watch", &pid, "--duration", "3s", "--interval", "100ms"]);
    end(child);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.contains(&format!("{pid} afterlife.exe: no leak")), "{text}");
    assert!(text.contains("  handles "), "{text}");
    assert!(text.contains("no leak found"), "{text}");
}

#[test]
fn a_private_bytes_leak_is_found() {
    // 512 KiB allocated and written every 40 ms: 12.5 MiB a second.
    let (child, pid) = started(&["leak-private", "512", "40"]);
    let output = afterlife(&["--json", "watch", &pid, "--duration", "3s", "--interval", "100ms"]);
    end(child);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = events(&output);
    let private = verdict(&events, &pid, "private_bytes");
    assert_eq!(private["verdict"], "leaking", "{private}");
    assert_eq!(private["judged"], true);
    assert_eq!(verdict(&events, &pid, "handles")["judged"], true);
    // The working set grows with it, but is shown, not judged.
    assert_eq!(verdict(&events, &pid, "working_set")["judged"], false);
}

#[test]
fn tree_watches_the_children_created_after_their_parent() {
    // A root and two children; the root prints its PID once they started.
    let (root, pid) = started(&["tree", "1", "2"]);
    let output = afterlife(&[
        "--json",
        "watch",
        "--tree",
        &pid,
        "--duration",
        "2s",
        "--interval",
        "100ms",
    ]);
    let events = events(&output);
    let processes = summary(&events)["processes"].as_array().unwrap().clone();
    assert!(processes.len() >= 3, "{processes:#?}\n{}", stderr(&output));
    assert!(is_pid(&processes[0]["pid"], &pid), "{processes:#?}");
    assert!(processes.iter().all(|p| p["name"] == "afterlife.exe"), "{processes:#?}");
    // Steady sleepers: no handle leak (their memory may still move as
    // they finish loading on a busy machine).
    assert_ne!(output.status.code(), Some(125), "{}", stderr(&output));
    for p in &processes {
        let handles = p["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["metric"] == "handles");
        assert!(handles.is_some_and(|v| v["verdict"] != "leaking"), "{p:#}");
    }
    let _ = Command::new(EXE)
        .args(["kill", "--tree", "--signal", "KILL", &pid])
        .output();
    end(root);
}

#[test]
fn a_process_that_ends_mid_watch_is_reported_with_its_ending() {
    // Exits with STATUS_ACCESS_VIOLATION after 2.5 s.
    let child = Command::new(EXE)
        .args(["__child", "exit", "3221225477", "2500"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let output = afterlife(&["--json", "watch", &pid, "--duration", "20s", "--interval", "100ms"]);
    end(child);
    assert_ne!(output.status.code(), Some(125), "{}", stderr(&output));
    let events = events(&output);
    let ended = events.iter().find(|e| e["event"] == "ended").expect("no ended event");
    assert_eq!(ended["ending"]["exit_code"], 3_221_225_477u64);
    assert_eq!(ended["ending"]["name"], "STATUS_ACCESS_VIOLATION");
    let summary = summary(&events);
    assert_eq!(summary["stopped"], "all_ended");
    assert!(summary["watched_seconds"].as_f64().unwrap() < 15.0, "{summary}");
    assert_eq!(summary["processes"][0]["ending"]["errorlevel"], -1_073_741_819);
}

#[test]
fn the_ending_reads_in_words() {
    let child = Command::new(EXE)
        .args(["__child", "exit", "3", "1500"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let output = afterlife(&["watch", &pid, "--interval", "100ms"]);
    end(child);
    let text = stdout(&output);
    assert!(
        text.contains(&format!("{pid} afterlife.exe ended: exit code 3")),
        "{text}"
    );
}

#[test]
fn a_started_command_is_watched_and_ended_with_the_watch() {
    let output = afterlife(&[
        "--json",
        "watch",
        "--duration",
        "2500ms",
        "--interval",
        "100ms",
        "--",
        EXE,
        "__child",
        "leak-handles",
        "25",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = events(&output);
    let process = &summary(&events)["processes"][0];
    assert_eq!(process["command_line"][1], "__child");
    assert_eq!(process["leaking"], true);
    // Still running when the watch stopped: ended with TerminateProcess.
    assert_eq!(process["ending"]["exit_code"], 1);
}

#[test]
fn name_watches_the_matching_processes() {
    let (child, pid) = started(&["hold-handles", "5", "50", "one arg"]);
    // Other tests' afterlife.exe processes may match too.
    let output = afterlife(&[
        "--json",
        "watch",
        "--name",
        "afterlife",
        "--duration",
        "1500ms",
        "--interval",
        "100ms",
    ]);
    end(child);
    let events = events(&output);
    let processes = summary(&events)["processes"].as_array().unwrap().clone();
    let found = processes.iter().find(|p| is_pid(&p["pid"], &pid));
    let found = found.unwrap_or_else(|| panic!("{processes:#?}"));
    // Its command line, read from the process itself (a quoted argument
    // with a space in it stays one).
    let line: Vec<&str> = found["command_line"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(line[1..], ["__child", "hold-handles", "5", "50", "one arg"], "{found}");
    let nothing = afterlife(&["watch", "--name", "no-such-program-anywhere", "--duration", "1s"]);
    assert_eq!(nothing.status.code(), Some(125));
    assert!(
        stderr(&nothing).contains("no process is named like"),
        "{}",
        stderr(&nothing)
    );
}

/// The `/metrics` text over loopback.
fn scrape(address: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn prometheus_serves_the_handle_count_family() {
    let (child, pid) = started(&["leak-handles", "25"]);
    let mut watch = Command::new(EXE)
        .args(["watch", &pid, "--duration", "5s", "--interval", "100ms"])
        .args(["--prometheus", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(watch.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    // The verdicts are published every 2 s of watching.
    std::thread::sleep(Duration::from_millis(2500));
    let response = scrape(&address);
    let _ = watch.wait();
    end(child);
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(
        response.contains("# TYPE afterlife_process_windows_handle_count gauge"),
        "{response}"
    );
    let series = format!("afterlife_process_windows_handle_count{{pid=\"{pid}\",name=\"afterlife.exe\"}} ");
    assert!(response.contains(&series), "{response}");
    assert!(
        response.contains("afterlife_process_private_memory_bytes{"),
        "{response}"
    );
    assert!(
        response.contains(&format!(
            "afterlife_leak{{pid=\"{pid}\",name=\"afterlife.exe\",metric=\"handles\"}}"
        )),
        "{response}"
    );
    assert!(!response.contains("afterlife_process_open_fds"), "{response}");
}

#[test]
fn plot_writes_an_svg_of_the_handles() {
    let (child, pid) = started(&["leak-handles", "25"]);
    let path = std::env::temp_dir().join(format!("afterlife-watch-{}.svg", std::process::id()));
    let path_text = path.to_string_lossy().into_owned();
    let output = afterlife(&[
        "watch",
        &pid,
        "--duration",
        "2s",
        "--interval",
        "100ms",
        "--plot",
        &path_text,
    ]);
    end(child);
    assert_ne!(output.status.code(), Some(125), "{}", stderr(&output));
    let svg = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("handles"), "no handles panel");
    let text = stdout(&output);
    assert!(text.contains("plot written to"), "{text}");
    // The same words as on Linux, with the Windows metric names.
    assert!(text.contains(&format!("{pid} afterlife.exe: LEAK")), "{text}");
    assert!(text.contains("  handles leaking +"), "{text}");
    assert!(text.contains("handle limit 16777216 reached in about"), "{text}");
}

#[test]
fn a_command_that_cannot_be_found_is_127() {
    let output = afterlife(&["watch", "--duration", "1s", "--", "no-such-program-anywhere.exe"]);
    assert_eq!(output.status.code(), Some(127), "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
}

#[test]
fn a_pid_no_process_has_is_one_line_and_125() {
    // PIDs are multiples of 4 on Windows (and Wine): 4194303 is none.
    let output = afterlife(&["watch", "4194303", "--duration", "1s"]);
    assert_eq!(output.status.code(), Some(125));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("no such process: 4194303"), "{text}");
}
