//! `afterlife demo` as a whole: the list, bad names, the human report, and
//! the full run — all 18 scenarios in under 30 s, leaving nothing behind.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

#[test]
fn list_names_every_scenario() {
    let output = run(&["demo", "--list"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 18, "{text}");
    assert!(text.lines().next().unwrap().starts_with(" 1  exit"), "{text}");
    assert!(text.contains("15  ghost-socket"), "{text}");

    let output = run(&["demo", "--list", "--json"]);
    let list: Value = crate::common::schema::parse("demo", &stdout(&output));
    assert_eq!(list["version"], 2);
    let list = &list["scenarios"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 18);
    assert_eq!(names[17], "resisting");
    assert_eq!(list[14]["id"], 15);
}

#[test]
fn list_with_names_lists_those_and_refuses_an_unknown_one() {
    let output = run(&["demo", "--list", "ghost-socket", "1"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("15  ghost-socket"), "{text}");
    assert!(lines[1].starts_with(" 1  exit"), "{text}");

    let output = run(&["demo", "--list", "nineteen"]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stdout(&output).is_empty());
    assert!(
        stderr(&output).starts_with("afterlife: error: no demo scenario 'nineteen'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_scenario_is_one_clear_line_and_125() {
    let output = run(&["demo", "exit", "nineteen"]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stdout(&output).is_empty());
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("afterlife: error: no demo scenario 'nineteen'"),
        "{err}"
    );
}

#[test]
fn hidden_child_mode_is_not_in_help_or_completions() {
    let output = run(&["--help"]);
    let text = stdout(&output);
    assert!(text.contains("demo"), "{text}");
    assert!(!text.contains("demo-child"), "{text}");
    // What the shells' completion functions are offered for `afterlife `.
    let offered = afterlife()
        .env("COMPLETE", "fish")
        .args(["--", "afterlife", ""])
        .output()
        .unwrap();
    let offered = stdout(&offered);
    assert!(offered.lines().any(|l| l.starts_with("demo\t")), "{offered}");
    assert!(!offered.contains("demo-child"), "{offered}");
    // The hidden mode is the first argument, as the demo passes it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_afterlife"))
        .args(["demo-child", "no-such-mode"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        stderr(&output),
        "afterlife: error: unknown demo child mode 'no-such-mode'\n"
    );
}

/// Set, with a value of its own, in the environment of the demo a test
/// runs: its children inherit it, other tests' demos running meanwhile in
/// this process do not have it.
const DEMO_RUN: &str = "AFTERLIFE_TEST_DEMO_RUN";

/// Processes of this build's binary still running a demo child mode, of
/// the demo run with `DEMO_RUN=tag`.
fn stray_demo_children(tag: &str) -> Vec<String> {
    let marker = format!("{DEMO_RUN}={tag}");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_afterlife")).unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let path = entry.path();
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let same_exe = std::fs::read_link(path.join("exe")).is_ok_and(|e| e == exe);
        let ours =
            std::fs::read(path.join("environ")).is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == marker.as_bytes()));
        if same_exe && ours && args.get(1) == Some(&&b"demo-child"[..]) {
            found.push(format!("{}: {}", path.display(), String::from_utf8_lossy(&cmdline)));
        }
    }
    found
}

#[test]
fn the_whole_demo_runs_in_under_30_seconds_and_leaves_nothing() {
    let tag = format!("{}-{}", std::process::id(), unique());
    let start = Instant::now();
    let child = afterlife()
        .env(DEMO_RUN, &tag)
        .args(["demo"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let demo_pid = child.id();
    let output = child.wait_with_output().unwrap();
    let took = start.elapsed();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    assert!(took < Duration::from_secs(30), "took {took:?}");

    // The summary table, then one section per scenario, in order.
    let header = text.lines().nth(2).unwrap();
    for column in ["#", "scenario", "how it ended", "$?", "what went", "what stayed"] {
        assert!(header.contains(column), "{header}");
    }
    let row = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap()
    };
    assert!(row("sigkill").contains("SIGKILL") && row("sigkill").contains("137"));
    assert!(row("faults").contains("139 / 134 / 101"), "{}", row("faults"));
    assert!(row("exit-range").contains("0 / 255"), "{}", row("exit-range"));
    let mut last = 0;
    for id in 1..=18 {
        let heading = format!("── {id}. ");
        let at = text.find(&heading).unwrap_or_else(|| panic!("no section {id}"));
        assert!(at > last, "section {id} out of order");
        last = at;
    }
    assert!(!text.contains('\x1b'), "no colors with --color=never");

    // Nothing left: no demo child of this run, no scratch directory.
    assert!(
        wait_until(Duration::from_secs(5), || stray_demo_children(&tag).is_empty()),
        "{:?}",
        stray_demo_children(&tag)
    );
    let prefix = format!("afterlife-demo-{demo_pid}-");
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_report_fits_a_100_column_terminal() {
    let output = afterlife()
        .env("COLUMNS", "100")
        .args(["demo", "sigkill", "ctrl-break", "faults", "ghost-socket"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for line in text.lines() {
        assert!(line.chars().count() <= 100, "{} columns: {line}", line.chars().count());
    }
    // The table's rows wrap inside their cells: the header still leads.
    assert!(text.lines().nth(2).unwrap().starts_with("#   scenario"), "{text}");
    // Our own words are not escaped twice.
    assert!(text.contains("(Ctrl+\\)"), "{text}");
    assert!(!text.contains("Ctrl+\\\\"), "{text}");
    // A Windows term is explained where it first appears.
    assert!(
        text.contains("TerminateProcess is how one Windows process ends another"),
        "{text}"
    );
    assert!(
        text.contains("Ctrl+Break is the Windows console's second interrupt key"),
        "{text}"
    );
    // Without COLUMNS and a terminal, lines stay whole (for grep).
    let output = afterlife()
        .env_remove("COLUMNS")
        .args(["demo", "sigkill"])
        .output()
        .unwrap();
    assert!(
        stdout(&output).lines().any(|l| l.chars().count() > 100),
        "{}",
        stdout(&output)
    );
}

#[test]
fn signals_ignored_by_whoever_started_the_demo_do_not_hide_their_default_actions() {
    // `nohup`, a script's `&` and `trap ''` leave SIGHUP, SIGINT, SIGQUIT
    // ignored in what they start, and exec keeps that: each demo child
    // must still show the default action.
    let exe = env!("CARGO_BIN_EXE_afterlife");
    let script = format!("trap '' HUP INT QUIT; exec '{exe}' demo --json ctrl-c ctrl-break logoff");
    let started = Instant::now();
    let output = std::process::Command::new("sh").args(["-c", &script]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 3, "{report}");
    for scenario in scenarios {
        assert!(scenario.get("error").is_none(), "{scenario}");
        let runs = scenario["runs"].as_array().unwrap();
        // The first run of each is the default action: killed by the signal.
        assert_eq!(runs[0]["ending"]["status"]["kind"], "signaled", "{scenario}");
        for check in runs.iter().flat_map(|r| r["checks"].as_array().unwrap()) {
            assert_eq!(check["held"], true, "{check}");
        }
    }
}
