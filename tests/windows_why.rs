//! `why` on Windows, on real processes run here under Wine: afterlife's own
//! hidden child mode made to resist termination — every thread suspended
//! (by the freeze code `kill` uses), debugged by another child
//! (`DebugActiveProcess` and a debug-event loop), ended and held by another
//! child's open handle, and shielded by an empty DACL.
//!
//! Where Wine differs from Windows the test says so and asserts what both
//! agree on.

#![cfg(windows)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

fn child(args: &[&str]) -> Child {
    Command::new(EXE)
        .arg("__child")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The first line a child prints.
fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().to_string()
}

/// The first line a child prints, if it prints one within `limit`.
fn first_line_within(child: &mut Child, limit: Duration) -> Option<String> {
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(&mut out).read_line(&mut line);
        let _ = tx.send(line.trim().to_string());
    });
    rx.recv_timeout(limit).ok()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `why --json PID`, checked against docs/schema/why.json.
fn why(pid: u32) -> serde_json::Value {
    let output = afterlife(&["--json", "why", &pid.to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    schema::parse("why", &String::from_utf8_lossy(&output.stdout))
}

fn finding<'a>(diagnosis: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    diagnosis["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding: {diagnosis:#}"))
}

fn ending<'a>(diagnosis: &'a serde_json::Value, how: &str) -> &'a serde_json::Value {
    diagnosis["endings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["how"] == how)
        .unwrap()
}

fn listed_pids(finding: &serde_json::Value) -> Vec<u64> {
    finding["processes"]
        .as_array()
        .map(|list| list.iter().filter_map(|p| p["pid"].as_u64()).collect())
        .unwrap_or_default()
}

fn end(mut process: Child) {
    let _ = process.kill();
    let _ = process.wait();
}

#[test]
fn a_running_process_resists_nothing() {
    let sleeper = child(&["sleep", "60000"]);
    let diagnosis = why(sleeper.id());
    assert_eq!(diagnosis["state"], "running");
    assert_eq!(diagnosis["terminate_process"], "ends_it");
    assert_eq!(finding(&diagnosis, "running")["terminate_process"], "ends_it");
    assert_eq!(ending(&diagnosis, "TerminateProcess")["ends_it_now"], true);
    // Started without CREATE_NEW_PROCESS_GROUP it leads no group: no
    // CTRL_BREAK_EVENT for it (Windows reads its parent's group ID, Wine
    // 8.0 reads 0; neither is its PID).
    assert_eq!(ending(&diagnosis, "CTRL_BREAK_EVENT")["handling"], "not_sent");
    // The text: the verdict, each finding with its evidence and next step,
    // what each way of ending it would do.
    let output = afterlife(&["why", &sleeper.id().to_string()]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(": running — TerminateProcess would end it now"),
        "{text}"
    );
    for part in [
        "1. running: nothing resists TerminateProcess",
        "evidence CheckRemoteDebuggerPresent: FALSE",
        "next: ",
        "what each way of ending it would do now:",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    end(sleeper);
}

#[test]
fn every_thread_suspended_is_named_with_its_count() {
    let sleeper = child(&["sleep", "60000"]);
    let pid = sleeper.id().to_string();
    // Another process suspends it with the code `kill` freezes trees with.
    let suspender = afterlife(&["__child", "suspend", &pid]);
    assert_eq!(suspender.status.code(), Some(0), "{}", stderr(&suspender));
    let diagnosis = why(sleeper.id());
    assert_eq!(diagnosis["state"], "suspended");
    let suspended = finding(&diagnosis, "suspended");
    let threads = suspended["threads"].as_array().unwrap();
    assert_eq!(threads.len() as u64, diagnosis["threads"].as_u64().unwrap());
    assert!(
        threads.iter().all(|t| t["suspend_count"].as_u64() >= Some(1)),
        "{threads:?}"
    );
    assert!(
        suspended["title"].as_str().unwrap().starts_with("suspended: all"),
        "{suspended}"
    );
    // TerminateProcess needs no thread of it; a graceful close does.
    assert_eq!(diagnosis["terminate_process"], "ends_it");
    assert_ne!(ending(&diagnosis, "WM_CLOSE")["handling"], "handled");
    assert_ne!(ending(&diagnosis, "CTRL_BREAK_EVENT")["handling"], "handled");
    // -q: the verdict line alone.
    let quiet = afterlife(&["why", "-q", &pid]);
    assert_eq!(quiet.status.code(), Some(0));
    let text = String::from_utf8_lossy(&quiet.stdout).into_owned();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(": suspended — TerminateProcess would end it now"),
        "{text}"
    );
    // And it does.
    let killed = afterlife(&["kill", "--signal", "KILL", &pid]);
    assert_eq!(killed.status.code(), Some(0), "{}", stderr(&killed));
    end(sleeper);
}

#[test]
fn a_debugged_process_names_its_debugger_and_dies_with_it() {
    // Attached to only once it runs: under Wine a debugger attaching to a
    // process still starting up can wait for ever.
    let mut target = child(&["ready-sleep", "60000"]);
    assert_eq!(first_line(&mut target), target.id().to_string());
    let mut debugger = child(&["debug", &target.id().to_string()]);
    let Some(line) = first_line_within(&mut debugger, Duration::from_secs(30)) else {
        let _ = debugger.kill();
        let _ = target.kill();
        panic!("the debugger did not attach within 30 s");
    };
    let debugger_pid: u64 = line.parse().unwrap();
    assert_eq!(debugger_pid, u64::from(debugger.id()));
    let diagnosis = why(target.id());
    let debugged = finding(&diagnosis, "debugged");
    // Windows gives object addresses (to administrators before 24H2) and
    // the debugger is matched to this very debug object; Wine gives none
    // and every process holding a debug object is named — here only the
    // debugger. Both name it.
    assert!(listed_pids(debugged).contains(&debugger_pid), "{debugged}");
    assert!(
        debugged["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "CheckRemoteDebuggerPresent" && e["value"] == "TRUE"),
        "{debugged}"
    );
    assert_eq!(diagnosis["terminate_process"], "ends_it");
    // The debugger ends without DebugActiveProcessStop: the debuggee ends
    // with it (kill-on-exit, the default; Windows and Wine agree).
    debugger.kill().unwrap();
    debugger.wait().unwrap();
    let started = Instant::now();
    while target.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        target.try_wait().unwrap().is_some(),
        "the debuggee outlived its debugger"
    );
}

#[test]
fn an_ended_process_kept_by_a_handle_names_the_holder_then_is_gone() {
    let mut target = child(&["exit", "7"]);
    let pid = target.id();
    // This test's own handle (the std Child) keeps the object while the
    // holder opens it.
    assert_eq!(target.wait().unwrap().code(), Some(7));
    let mut holder = child(&["hold", &pid.to_string()]);
    let holder_pid: u64 = first_line(&mut holder).parse().unwrap();
    let diagnosis = why(pid);
    assert_eq!(diagnosis["state"], "ended");
    assert_eq!(diagnosis["terminate_process"], "already_dead");
    assert_eq!(diagnosis["threads"], 0);
    let ended = finding(&diagnosis, "ended");
    let holders = listed_pids(ended);
    assert!(holders.contains(&holder_pid), "{ended}");
    // This test process holds one too.
    assert!(holders.contains(&u64::from(std::process::id())), "{ended}");
    assert!(
        ended["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "GetExitCodeProcess" && e["value"] == "7 (0x00000007)"),
        "{ended}"
    );
    assert!(
        diagnosis["endings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["handling"] == "already_ended")
    );
    // Every handle closed: the object and its PID are freed, and `why`
    // says so in one line, exit 125 (as on Linux). A `why` of another test
    // running meanwhile may hold a copy of a handle for an instant (it
    // duplicates process handles to find holders), so this is asked until
    // it holds; and the PID may by then name a new process (Windows and
    // Wine both reuse PIDs soon), which has not ended.
    drop(target);
    end(holder);
    let started = Instant::now();
    loop {
        let output = afterlife(&["--json", "why", &pid.to_string()]);
        match output.status.code() {
            Some(125) => {
                assert_eq!(stderr(&output), format!("afterlife: error: no such process: {pid}\n"));
                break;
            }
            Some(0) => {
                let now = schema::parse("why", &String::from_utf8_lossy(&output.stdout));
                if now["state"] != "ended" {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(20), "still kept: {now:#}");
                std::thread::sleep(Duration::from_millis(200));
            }
            other => panic!("{other:?}: {}", stderr(&output)),
        }
    }
}

#[test]
fn a_process_that_refuses_access_says_which_rights_and_what_to_do() {
    let mut shielded = child(&["protect"]);
    assert_eq!(first_line(&mut shielded), shielded.id().to_string());
    let diagnosis = why(shielded.id());
    let denied = finding(&diagnosis, "access_denied");
    assert_eq!(diagnosis["terminate_process"], "not_permitted");
    assert_eq!(ending(&diagnosis, "TerminateProcess")["handling"], "not_permitted");
    let evidence = denied["evidence"].as_array().unwrap();
    // Windows refuses with ERROR_ACCESS_DENIED; Wine 8.0 with
    // ERROR_INVALID_HANDLE. Both refuse PROCESS_TERMINATE.
    let terminate = evidence
        .iter()
        .find(|e| e["source"] == "OpenProcess(PROCESS_TERMINATE)")
        .unwrap();
    assert_ne!(terminate["value"], "granted");
    assert!(denied["next_step"].as_str().unwrap().contains("elevated"), "{denied}");
    // The handle CreateProcess gave this test has every right: it ends it.
    end(shielded);
}

#[test]
fn bad_and_gone_pids_get_one_line_and_125() {
    let output = afterlife(&["why", "abc"]);
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    // PIDs are multiples of 4 on Windows and Wine: 4194303 is never one.
    let output = afterlife(&["why", "4194303"]);
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(stderr(&output), "afterlife: error: no such process: 4194303\n");
    let output = afterlife(&["--json", "why", "-q", "4"]);
    assert_eq!(output.status.code(), Some(125));
}
