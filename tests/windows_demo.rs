//! `afterlife demo` on Windows, run here under Wine: every scenario passes
//! every check, the JSON validates against docs/schema/demo.json, the list,
//! one scenario by number or name, a bad one refused in one line; and the
//! demo leaves no process and no file behind.
//!
//! Where Wine differs from Windows the demo says so in the scenario's notes
//! and its checks accept Wine's behaviour only under Wine; these tests
//! assert Wine's behaviour when the report says it ran under Wine, and
//! Windows's otherwise.

#![cfg(windows)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

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

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn scenario<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no scenario {name} in {report}"))
}

fn codes(scenario: &Value) -> Vec<u64> {
    scenario["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ending"]["exit_code"].as_u64().unwrap())
        .collect()
}

fn notes(scenario: &Value) -> String {
    scenario["notes"]
        .as_array()
        .map(|n| {
            n.iter()
                .map(|n| n.as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn failed_checks(report: &Value) -> Vec<String> {
    let mut failed = Vec::new();
    for scenario in report["scenarios"].as_array().unwrap() {
        if let Some(error) = scenario.get("error") {
            failed.push(format!("{}: {error}", scenario["name"]));
        }
        for run in scenario["runs"].as_array().unwrap() {
            for check in run["checks"].as_array().unwrap() {
                if check["held"] != true {
                    failed.push(format!("{} / {}: {check}", scenario["name"], run["label"]));
                }
            }
        }
    }
    failed
}

#[test]
fn the_whole_demo_passes_every_check_fast_and_leaves_nothing() {
    let started = Instant::now();
    let child = Command::new(EXE)
        .args(["--json", "demo"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let demo_pid = child.id();
    let output = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let report = schema::parse("demo", &stdout(&output));
    assert_eq!(failed_checks(&report), Vec::<String>::new());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(report["scenarios"].as_array().unwrap().len(), 13);
    // A few seconds alone; other tests of this file run beside it.
    assert!(took < Duration::from_secs(30), "{took:?}");

    // Every process a run names has ended. Wine reuses PIDs once many are
    // free, and the other tests start processes meanwhile: a PID that runs
    // again must be another process, one the demo did not start (its
    // parent is neither the demo nor a process of the demo).
    let pids: Vec<u64> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["runs"].as_array().unwrap().iter())
        .map(|r| r["pid"].as_u64().unwrap())
        .collect();
    for pid in &pids {
        let status = afterlife(&["--json", "status", &pid.to_string()]);
        let document = schema::parse("status", &stdout(&status));
        let entry = &document["processes"][0];
        if entry["status"] == "running" {
            let parent = entry["process"]["ppid"].as_u64().unwrap_or(0);
            assert!(
                parent != u64::from(demo_pid) && !pids.contains(&parent),
                "{pid} still runs: {entry}"
            );
        }
    }
    // No scratch file of this demo is left in the temp directory.
    let prefix = format!("afterlife-demo-{demo_pid}-");
    let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn endings_are_measured_with_their_windows_readings() {
    let output = afterlife(&[
        "--json",
        "demo",
        "exit",
        "return",
        "last-thread",
        "terminate",
        "faults",
        "still-active",
    ]);
    // A scenario that could not run says why in the report.
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let report = schema::parse("demo", &stdout(&output));
    assert_eq!(codes(scenario(&report, "exit")), [3]);
    assert_eq!(codes(scenario(&report, "return")), [7]);
    // The main thread's ExitThread(0) did not end the process: the worker's
    // ExitThread(5) did, and its code is the process's.
    assert_eq!(codes(scenario(&report, "last-thread")), [5]);
    assert_eq!(codes(scenario(&report, "terminate")), [99]);
    // The access violation and Rust's abort (a fail-fast): Windows and Wine
    // agree. The C runtime's abort() gives 3 with msvcrt (this build's,
    // mingw's), 0xC0000409 with a runtime that fails fast (the UCRT).
    let faults = scenario(&report, "faults");
    assert_eq!(codes(faults)[..2], [0xC000_0005, 0xC000_0409]);
    assert!([3, 0xC000_0409].contains(&codes(faults)[2]), "{faults}");
    let violation = &faults["runs"][0]["ending"];
    assert_eq!(violation["name"], "STATUS_ACCESS_VIOLATION");
    assert_eq!(violation["errorlevel"], -1_073_741_819);
    assert_eq!(violation["hex"], "0xC0000005");
    let still_active = scenario(&report, "still-active");
    assert_eq!(codes(still_active), [259]);
    assert_eq!(still_active["runs"][0]["checks"][0]["label"], "naive loop");
}

#[test]
fn console_events_show_what_wine_does_and_say_what_it_cannot() {
    let output = afterlife(&["--json", "demo", "ctrl-c", "ctrl-break"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = schema::parse("demo", &stdout(&output));
    let wine = report["machine"]["wine"].is_string();
    let ctrl_c = scenario(&report, "ctrl-c");
    let ctrl_break = scenario(&report, "ctrl-break");
    // Ctrl+C ignored in a new group (ended by the demo with 1); re-enabled
    // without a handler: STATUS_CONTROL_C_EXIT on Windows, 0 under Wine 8;
    // with a handler: the handler's 42.
    if wine {
        assert_eq!(codes(ctrl_c), [1, 0, 42]);
        assert!(notes(ctrl_c).contains("exits with 0"), "{}", notes(ctrl_c));
        // Wine 8 refuses CTRL_BREAK_EVENT to a group: the demo ends them.
        assert_eq!(codes(ctrl_break), [1, 1]);
        assert!(
            notes(ctrl_break).contains("Wine cannot show Ctrl+Break"),
            "{}",
            notes(ctrl_break)
        );
    } else {
        assert_eq!(codes(ctrl_c), [1, 0xC000_013A, 42]);
        assert_eq!(codes(ctrl_break), [0xC000_013A, 42]);
    }
}

#[test]
fn what_goes_and_what_stays_are_measured() {
    let output = afterlife(&[
        "--json",
        "demo",
        "what-goes",
        "files",
        "ghost-socket",
        "mapping",
        "orphan",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = schema::parse("demo", &stdout(&output));
    let labels = |name: &str, fact: &str| -> Vec<String> {
        scenario(&report, name)["runs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["checks"].as_array().unwrap().iter())
            .filter(|c| c["fact"] == fact && c["held"] == true)
            .map(|c| c["label"].as_str().unwrap().to_string())
            .collect()
    };
    let went = labels("what-goes", "went");
    for label in ["memory", "handles", "mutex"] {
        assert!(went.contains(&label.to_string()), "{went:?}");
    }
    assert_eq!(labels("files", "stayed"), ["file", "temp file"]);
    assert!(labels("ghost-socket", "stayed")[0].ends_with("(inherited)"));
    assert_eq!(labels("mapping", "stayed"), ["file mapping"]);
    assert_eq!(labels("orphan", "stayed"), ["orphan"]);
}

#[test]
fn the_text_report_has_the_table_and_the_notes() {
    let output = afterlife(&["demo", "8", "ctrl-break"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("afterlife demo — 2 scenarios run for real on Windows"),
        "{first}"
    );
    assert!(text.contains("%ERRORLEVEL%"), "{text}");
    // Two rows: the id column is one wide.
    assert!(text.contains("\n8  still-active"), "{text}");
    assert!(
        text.contains("── 8. exit code 259 and STILL_ACTIVE (still-active) ──"),
        "{text}"
    );
    if first.contains("(Wine ") {
        assert!(
            text.contains("note: under Wine 8 GenerateConsoleCtrlEvent refuses"),
            "{text}"
        );
    }
}

#[test]
fn list_names_every_scenario() {
    let output = afterlife(&["demo", "--list"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 13, "{text}");
    assert!(text.lines().next().unwrap().starts_with(" 1  exit"), "{text}");
    assert!(text.contains(" 8  still-active"), "{text}");

    let output = afterlife(&["--json", "demo", "--list"]);
    let list = schema::parse("demo", &stdout(&output));
    let names: Vec<&str> = list["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 13);
    assert_eq!(names[0], "exit");
    assert_eq!(names[12], "orphan");
}

#[test]
fn scenarios_run_by_number_or_name_in_the_order_given_once_each() {
    let output = afterlife(&["--json", "demo", "13", "exit", "1"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = schema::parse("demo", &stdout(&output));
    let names: Vec<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["orphan", "exit"]);
}

#[test]
fn an_unknown_scenario_is_one_line_and_125() {
    for bad in ["14", "sigkill", "0"] {
        let output = afterlife(&["demo", "exit", bad]);
        assert_eq!(output.status.code(), Some(125), "{bad}");
        assert!(stdout(&output).is_empty());
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "afterlife: error: no demo scenario '{bad}': give a number 1-13"
            )),
            "{err}"
        );
    }
}
