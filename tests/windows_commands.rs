//! The Windows backend end to end: `status`, `wait`, `kill --tree`, `run`
//! and `timeout` on real Windows processes — `cmd`, `ping` and afterlife's
//! own hidden child mode (`__child`) — run here under Wine.
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

/// The document `command` printed, checked against its schema.
fn json(command: &str, output: &Output) -> serde_json::Value {
    schema::parse(command, &String::from_utf8_lossy(&output.stdout))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn status_says_running_then_exited_with_259_not_still_active() {
    let mut sleeper = child(&["exit", "259", "1500"]);
    let pid = sleeper.id().to_string();
    let running = afterlife(&["--json", "status", &pid]);
    assert_eq!(running.status.code(), Some(0), "{}", stderr(&running));
    assert_eq!(json("status", &running)["processes"][0]["status"], "running");
    sleeper.wait().unwrap();
    // `sleeper` still holds the process object: its exit code can be read,
    // and 259 is read as an exit code, not as STILL_ACTIVE.
    let ended = afterlife(&["--json", "status", &pid]);
    assert_eq!(ended.status.code(), Some(1));
    let entry = &json("status", &ended)["processes"][0];
    assert_eq!(entry["status"], "exited");
    assert_eq!(entry["ending"]["exit_code"], 259);
}

#[test]
fn wait_names_an_ntstatus_and_returns_its_low_byte() {
    let mut crasher = child(&["exit", "3221225477", "800"]);
    let pid = crasher.id().to_string();
    let output = afterlife(&["--json", "wait", &pid]);
    crasher.wait().unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let line = schema::parse("wait", String::from_utf8_lossy(&output.stdout).lines().next().unwrap());
    assert_eq!(line["ending"]["exit_code"], 3_221_225_477u64);
    assert_eq!(line["ending"]["errorlevel"], -1_073_741_819);
    assert_eq!(line["ending"]["name"], "STATUS_ACCESS_VIOLATION");
}

#[test]
fn wait_times_out_with_124() {
    let mut sleeper = child(&["sleep", "20000"]);
    let started = Instant::now();
    let output = afterlife(&["wait", "--timeout", "300ms", &sleeper.id().to_string()]);
    assert_eq!(output.status.code(), Some(124));
    assert!(started.elapsed() < Duration::from_secs(10));
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

/// Reads the root's PID line, printed once its children are started.
fn started_tree(depth: &str, width: &str) -> Child {
    let mut root = child(&["tree", depth, width]);
    let mut line = String::new();
    BufReader::new(root.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), root.id().to_string());
    root
}

#[test]
fn kill_tree_ends_every_member_with_terminate_process() {
    // 1 + 3 + 9 processes. The root prints its PID after starting its
    // children, but its children may still be starting theirs: the walk
    // counts what exists, so only a lower bound is certain here.
    let mut root = started_tree("2", "3");
    std::thread::sleep(Duration::from_millis(1500));
    let output = afterlife(&["--json", "kill", "--tree", "--signal", "KILL", &root.id().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json("kill", &output);
    assert_eq!(report["survivors"], 0);
    let members = report["processes"].as_array().unwrap();
    assert!(members.len() >= 4, "{members:?}");
    assert!(members.iter().all(|m| m["ending"]["exit_code"] == 1), "{members:?}");
    assert_eq!(report["freeze"], "suspend");
    root.wait().unwrap();
}

/// A dry run sends nothing, so nothing can survive it: the document says
/// it was a dry run, counts no survivor, and the tree still runs after it.
#[test]
fn a_dry_run_reports_no_survivors_and_ends_nothing() {
    let mut root = started_tree("1", "2");
    std::thread::sleep(Duration::from_millis(1000));
    let pid = root.id().to_string();
    let output = afterlife(&["--json", "kill", "--tree", "--dry-run", &pid]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json("kill", &output);
    assert_eq!(report["dry_run"], true, "{report}");
    assert_eq!(report["survivors"], 0, "{report}");
    assert_eq!(report["freeze"], "none", "{report}");
    let members = report["processes"].as_array().unwrap();
    assert!(!members.is_empty() && members.iter().all(|m| m["sent"] == serde_json::json!([])));
    assert!(root.try_wait().unwrap().is_none(), "the dry run ended the root");
    let output = afterlife(&["--json", "kill", "--tree", "--signal", "KILL", &pid]);
    let report = json("kill", &output);
    assert_eq!(report["dry_run"], false, "{report}");
    assert_eq!(report["survivors"], 0, "{report}");
    root.wait().unwrap();
}

#[test]
fn kill_tree_catches_a_process_that_keeps_spawning() {
    let mut spawner = child(&["spawner"]);
    std::thread::sleep(Duration::from_millis(1000));
    let output = afterlife(&[
        "--json",
        "kill",
        "--tree",
        "--grace",
        "200ms",
        &spawner.id().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json("kill", &output);
    assert_eq!(report["survivors"], 0);
    assert!(report["processes"].as_array().unwrap().len() >= 2);
    spawner.wait().unwrap();
}

#[test]
fn run_passes_the_exit_code_through_whole() {
    assert_eq!(
        afterlife(&["run", "-q", "--", "cmd", "/c", "exit 3"]).status.code(),
        Some(3)
    );
    // An NTSTATUS does not fit a byte: afterlife exits with all 32 bits.
    let output = afterlife(&["run", "--", EXE, "__child", "exit", "3221225477"]);
    assert_eq!(output.status.code(), Some(-1_073_741_819));
    assert!(
        stderr(&output).contains("STATUS_ACCESS_VIOLATION"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn run_lists_and_ends_the_leftovers_in_the_job() {
    let report = std::env::temp_dir().join(format!("afterlife-leftovers-{}.json", std::process::id()));
    let output = afterlife(&[
        "run",
        "--report-json",
        report.to_str().unwrap(),
        "--",
        EXE,
        "__child",
        "leave",
        "60000",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = schema::parse("run", &std::fs::read_to_string(&report).unwrap());
    assert_eq!(report["containment"], "job");
    let leftovers = report["leftovers"].as_array().unwrap();
    assert_eq!(leftovers.len(), 1, "{report}");
    assert_eq!(leftovers[0]["ended"], true);
}

#[test]
fn timeout_ends_cmd_and_the_ping_it_started() {
    // Terminating cmd alone would leave its ping running (Windows and Wine
    // agree); the job ends both.
    let started = Instant::now();
    let output = afterlife(&["timeout", "1", "cmd", "/c", "ping -n 30 127.0.0.1 >nul"]);
    assert_eq!(output.status.code(), Some(124), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(15));
    // No other test of this file starts ping.
    assert!(
        !running_names().iter().any(|n| n.eq_ignore_ascii_case("ping.exe")),
        "{:?}",
        running_names()
    );
}

#[test]
fn commands_that_need_linux_say_so_in_one_line() {
    for args in [&["deaths"][..], &["snapshot", "4"], &["leftovers", "snap.json"]] {
        let output = afterlife(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}");
        let text = stderr(&output);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("needs Linux"), "{text}");
    }
}

#[test]
fn bad_input_gets_the_same_errors_as_on_linux() {
    let output = afterlife(&["kill", "abc"]);
    assert_eq!(output.status.code(), Some(125));
    // The line Linux prints (tests/cli_errors.rs).
    assert_eq!(
        stderr(&output),
        "afterlife: error: invalid [PID]...: 'abc' is not a process ID (expected digits only, such as 1234)\n"
    );
    let output = afterlife(&["wait", "--timeout", "soon", "4"]);
    assert_eq!(output.status.code(), Some(125));
    // Windows PIDs are DWORDs and may pass Linux's limit, never 2^31.
    let output = afterlife(&["status", "2147483648"]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stderr(&output).contains("never uses PIDs above"), "{}", stderr(&output));
}

/// The names of every process now (a Toolhelp snapshot).
fn running_names() -> Vec<String> {
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
    };
    let mut names = Vec::new();
    // SAFETY: a snapshot handle checked, read and closed here; the entry is
    // plain data with dwSize set.
    unsafe {
        let snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
        assert!(!snap.is_null() && snap != windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE);
        let mut entry: PROCESSENTRY32W = std::mem::zeroed();
        entry.dwSize = size_of::<PROCESSENTRY32W>() as u32;
        let mut more = Process32FirstW(snap, &mut entry) != 0;
        while more {
            let len = entry.szExeFile.iter().position(|&c| c == 0).unwrap_or(0);
            names.push(String::from_utf16_lossy(&entry.szExeFile[..len]));
            more = Process32NextW(snap, &mut entry) != 0;
        }
        CloseHandle(snap);
    }
    names
}

#[test]
fn the_deadline_sends_ctrl_break_to_the_commands_group_first() {
    // The command leads its own process group; CTRL_BREAK_EVENT goes to it
    // alone. Windows delivers it and the command exits with its own code
    // (42, kept by --preserve-status); if it is not delivered the job ends
    // it after the grace. Both end it within the grace, which is asserted,
    // and the code is reported as seen.
    let started = Instant::now();
    let output = afterlife(&["timeout", "-p", "-k", "3", "1", EXE, "__child", "break", "42"]);
    let code = output.status.code();
    assert!(code == Some(42) || code == Some(1), "{code:?}: {}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(15));
    eprintln!("CTRL_BREAK_EVENT under this system: exit code {code:?}");
}

#[test]
fn kill_refuses_afterlifes_own_ancestors() {
    // This test process is an ancestor of the afterlife it starts.
    let own = std::process::id().to_string();
    let output = afterlife(&["kill", "--signal", "0", &own]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stderr(&output).contains("ancestor of afterlife"), "{}", stderr(&output));
}

#[test]
fn a_pid_no_process_has_reads_as_on_linux() {
    // PIDs are multiples of 4 on Windows and Wine: 4194303 is never one.
    let output = afterlife(&["status", "4194303"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "4194303: gone — no such process (it never existed, or it ended and no handle holds it)\n"
    );
    let output = afterlife(&["wait", "4194303"]);
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(stderr(&output), "afterlife: error: no such process: 4194303\n");
    // Past Linux's PID_MAX_LIMIT: a PID a long-running Windows server can
    // hand out, asked for, not refused as impossible.
    let output = afterlife(&["status", "67108860"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("67108860: gone"));
    let output = afterlife(&["kill", "0"]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stderr(&output).contains("System Idle Process"), "{}", stderr(&output));
}

#[test]
fn the_tree_ends_when_run_itself_is_terminated() {
    // afterlife holds the only handle to the job: TerminateProcess on
    // afterlife closes it, and KILL_ON_JOB_CLOSE ends the tree (Windows and
    // Wine agree; Wine reports exit code 0 for the processes so ended,
    // Windows the job's, so only the ending is asserted).
    let mut run = Command::new(EXE)
        .args(["run", "-q", "--", EXE, "__child", "tree", "1", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(run.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let root = line.trim().to_string();
    let watcher = Command::new(EXE)
        .args(["wait", "--timeout", "20", &root])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The watcher holds the root by its handle before afterlife goes.
    std::thread::sleep(Duration::from_millis(1000));
    run.kill().unwrap();
    run.wait().unwrap();
    let waited = watcher.wait_with_output().unwrap();
    assert_ne!(waited.status.code(), Some(124), "the tree outlived afterlife");
    assert_ne!(waited.status.code(), Some(125), "{}", stderr(&waited));
}

#[test]
fn kill_sends_ctrl_break_only_to_a_console_group_leader() {
    use std::os::windows::process::CommandExt;
    use windows_sys::Win32::System::Threading::CREATE_NEW_PROCESS_GROUP;
    // The leader: its own console process group, and a handler that exits
    // with 42 on CTRL_BREAK_EVENT. The other: the same mode, in this
    // test's group.
    let mut leader = Command::new(EXE)
        .args(["__child", "break", "42"])
        .creation_flags(CREATE_NEW_PROCESS_GROUP)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut other = child(&["break", "43"]);
    for process in [&mut leader, &mut other] {
        let mut line = String::new();
        BufReader::new(process.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), process.id().to_string());
    }
    let asked = Instant::now();
    let output = afterlife(&["--json", "kill", "--grace", "5", &leader.id().to_string()]);
    let took = asked.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The process that leads no group was not hit.
    assert!(other.try_wait().unwrap().is_none());
    let report = json("kill", &output);
    let member = &report["processes"][0];
    let graceful = &member["graceful"];
    if graceful["signal"] == "CTRL_BREAK_EVENT" {
        // Windows fills ProcessGroupId: the leader's group ID is its PID,
        // the event goes to its group, and its handler ends it with 42.
        assert_eq!(member["sent"][0], "CTRL_BREAK_EVENT", "{member}");
        assert_eq!(member["ending"]["exit_code"], 42, "{member}");
    } else {
        // Wine 8.0 leaves ProcessGroupId 0 for every process (it keeps
        // groups in its server only): no process reads as a leader, no
        // event is sent, and with nothing graceful sent TerminateProcess
        // ends it at once, not after the 5 s grace.
        assert_eq!(graceful["signal"], "none", "{member}");
        assert!(
            took < Duration::from_secs(4),
            "waited out a grace for nothing: {took:?}"
        );
        assert!(graceful["reason"].as_str().unwrap().contains("reads 0"), "{member}");
        assert_eq!(member["sent"], serde_json::json!(["TerminateProcess"]), "{member}");
        assert_eq!(member["ending"]["exit_code"], 1, "{member}");
    }
    eprintln!("kill's graceful phase under this system: {graceful}");
    let started = Instant::now();
    while leader.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(leader.try_wait().unwrap().is_some(), "kill reported it ended");
    other.kill().unwrap();
    other.wait().unwrap();
}
