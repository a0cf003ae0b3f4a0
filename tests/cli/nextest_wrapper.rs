//! The leaky fixture crate (tests/fixtures/leaky) under the real
//! `cargo nextest` with afterlife as its wrapper script, and under
//! `cargo test` with afterlife as the target runner: every clean test
//! passes, every leaky test fails with its leftover named, and nothing the
//! tests leaked stays running, nor any segment.
//!
//! The fixture builds offline (no dependencies) into a fixed directory of
//! target/ that later runs reuse. Without cargo-nextest the nextest test
//! is skipped with a printed reason.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::ipc::sysv_exists;
use common::{Scratch, kill_pids, pid_dead};

const CLEAN: &[&str] = &["clean_arithmetic", "clean_child_waited_for", "clean_file_removed"];
const LEAKY: &[&str] = &[
    "leak_a_child_keeps_stdout",
    "leak_b_setsid_daemon",
    "leak_c_double_fork",
    "leak_d_listening_port",
    "leak_e_sysv_segment",
    "leak_f_temp_file",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/leaky")
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(fixture())
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("leaky-fixture"),
        )
        .stdin(Stdio::null());
    command
}

/// The wrapper's command line, as the documentation gives it, with this
/// build's binary.
fn wrapper() -> [&'static str; 5] {
    [
        env!("CARGO_BIN_EXE_afterlife"),
        "run",
        "--fail-on-leftovers",
        "--tmpdir",
        "--",
    ]
}

/// Every PID named in a `leaked process PID` line: killed (if the test is
/// about to fail) and returned.
fn leaked_pids(text: &str) -> Vec<i32> {
    let pids: Vec<i32> = text
        .split("leaked process ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    kill_pids(&pids);
    pids
}

/// SysV segment ids in `segment ID` lines (printed by the fixture).
fn segments(text: &str) -> Vec<i64> {
    let ids: Vec<i64> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("segment ")?.trim().parse().ok())
        .collect();
    for id in &ids {
        let _ = Command::new("ipcrm").args(["-m", &id.to_string()]).output();
    }
    ids
}

/// nextest's output cut into one section per test: its status lines and
/// the output shown under them.
fn sections(text: &str) -> HashMap<String, (Vec<String>, String)> {
    let mut by_test: HashMap<String, (Vec<String>, String)> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let status = words.first().copied().unwrap_or("");
        let is_status = line.starts_with("        ") && words.get(1).is_some_and(|w| w.starts_with('['));
        if is_status && let Some(test) = words.last().and_then(|w| w.strip_prefix("tests::")) {
            let entry = by_test.entry(test.to_string()).or_default();
            entry.0.push(status.to_string());
            current = Some(test.to_string());
            continue;
        }
        if let Some(test) = &current {
            let entry = by_test.entry(test.clone()).or_default();
            entry.1.push_str(line);
            entry.1.push('\n');
        }
    }
    by_test
}

fn nextest_present() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn check_named(test: &str, section: &str) {
    let has = |needle: &str| assert!(section.contains(needle), "{test}: no {needle:?} in\n{section}");
    match test {
        "leak_a_child_keeps_stdout" => has("holds the stdout and stderr pipe the caller reads"),
        // As root the line also gives the PID in the run's namespace,
        // between the command line and how it escaped.
        "leak_b_setsid_daemon" => {
            has("leaked process ");
            has("sleep 300]");
            has(" (setsid, orphaned");
        }
        "leak_c_double_fork" => {
            has("leaked process ");
            has("[sleep 300]");
            has(" (orphaned");
        }
        "leak_d_listening_port" => {
            let port = section
                .split("listening on ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("no address printed in\n{section}"));
            has(&format!("tcp listen {port}"));
        }
        "leak_e_sysv_segment" => {
            let id = segments(section).first().copied().expect("segment id printed");
            has(&format!("leaked IPC object: SysV shared memory id {id} "));
            has("(the command itself) — removed");
        }
        "leak_f_temp_file" => {
            has("leaked file: ");
            has("/leaky-fixture-left-");
            has("— removed");
        }
        _ => unreachable!("{test}"),
    }
}

#[test]
fn nextest_with_the_wrapper_fails_each_leaky_test_with_its_leftover_named() {
    if !nextest_present() {
        eprintln!("skipped: cargo-nextest is not installed (cargo install cargo-nextest --locked)");
        return;
    }
    let scratch = Scratch::new("nextest-wrapper");
    let config = scratch.path().join("nextest.toml");
    let command: Vec<String> = wrapper().iter().map(|w| format!("'{w}'")).collect();
    std::fs::write(
        &config,
        format!(
            "experimental = [\"wrapper-scripts\"]\n\n\
             [scripts.wrapper.afterlife]\ncommand = [{}]\n\n\
             [[profile.default.scripts]]\nfilter = 'all()'\nrun-wrapper = 'afterlife'\n",
            command.join(", ")
        ),
    )
    .expect("config written");
    let output: Output = cargo()
        .args(["nextest", "run", "--offline", "--no-fail-fast", "--color", "never"])
        // Passing tests' output too: a segment a leaky test printed is
        // removed by its id even if the wrapper missed it.
        .args(["--success-output", "immediate", "--failure-output", "immediate"])
        .arg("--config-file")
        .arg(&config)
        // A leak that escaped the wrapper lands here, not in /tmp.
        .env("TMPDIR", scratch.path())
        .output()
        .expect("cargo nextest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let pids = leaked_pids(&text);
    let ids = segments(&text);
    assert!(!output.status.success(), "{text}");
    let by_test = sections(&text);
    for test in CLEAN {
        let (statuses, _) = by_test.get(*test).unwrap_or_else(|| panic!("{test} not run:\n{text}"));
        assert_eq!(statuses, &["PASS"], "{test}:\n{text}");
    }
    for test in LEAKY {
        let (statuses, section) = by_test.get(*test).unwrap_or_else(|| panic!("{test} not run:\n{text}"));
        assert_eq!(statuses.first().map(String::as_str), Some("FAIL"), "{test}:\n{text}");
        assert!(section.contains("exit code 121"), "{test}:\n{section}");
        check_named(test, section);
    }
    assert!(pids.len() >= 4, "{text}");
    for pid in pids {
        assert!(pid_dead(pid), "leaked process {pid} still runs");
    }
    for id in ids {
        assert!(!sysv_exists(id), "segment {id} stays");
    }
    let stray: Vec<_> = std::fs::read_dir(scratch.path())
        .expect("scratch")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("leaky-fixture-left-"))
        .collect();
    assert!(stray.is_empty(), "files left outside the wrapper's TMPDIR: {stray:?}");
}

/// The host triple, for `CARGO_TARGET_<TRIPLE>_RUNNER`.
fn host_triple() -> String {
    let output = Command::new("rustc").arg("-vV").output().expect("rustc runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("host line")
        .to_string()
}

#[test]
fn cargo_test_with_afterlife_as_the_runner_fails_a_leaky_binary() {
    let scratch = Scratch::new("cargo-runner");
    // Built for the host's triple, named, whatever target the project's
    // cargo configuration picks, so that this runner variable is the one
    // cargo reads.
    let triple = host_triple();
    let variable = format!("CARGO_TARGET_{}_RUNNER", triple.to_uppercase().replace(['-', '.'], "_"));
    let output = cargo()
        .args(["test", "--offline", "--lib", "--target", &triple])
        .env(&variable, wrapper().join(" "))
        .env("TMPDIR", scratch.path())
        .output()
        .expect("cargo test runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let pids = leaked_pids(&text);
    let ids = segments(&text);
    assert!(!output.status.success(), "{text}");
    // The whole binary is one run: its tests pass, and it exits 121.
    assert!(text.contains("test result: ok. 9 passed"), "{text}");
    assert!(text.contains("(exit 121)"), "{text}");
    assert!(text.contains("leaked IPC object: SysV shared memory"), "{text}");
    assert!(text.contains("leaked file: "), "{text}");
    assert!(text.contains("tcp listen 127.0.0.1:"), "{text}");
    assert!(pids.len() >= 4, "{text}");
    for pid in pids {
        assert!(pid_dead(pid), "leaked process {pid} still runs");
    }
    for id in ids {
        assert!(!sysv_exists(id), "segment {id} stays");
    }
}
