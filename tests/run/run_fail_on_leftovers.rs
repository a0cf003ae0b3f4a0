//! `run --fail-on-leftovers`, `--dir` and `--tmpdir` with real processes:
//! a command that passes but leaves a process (setsid daemon, double fork,
//! a listener), an IPC object or a file fails with 121 and each leftover is
//! named; a failing command keeps its code; a clean one passes silently;
//! the holder of the caller's stdout pipe is named; nothing stays.

use crate::common;

use std::process::{Output, Stdio};

use common::ipc::sysv_exists;
use common::{IpcCleanup, Scratch, afterlife, kill_pids, pid_dead, stderr};
use serde_json::Value;

/// A shell function: `ran PID` returns once PID runs `sleep`, so that a
/// leftover is listed as the sleep it becomes, not the shell before it.
const RAN: &str =
    "ran() { for _ in $(seq 500); do [ \"$(cat /proc/$1/comm 2>/dev/null)\" = sleep ] && return; sleep 0.01; done; }; ";

/// Runs `afterlife run --fail-on-leftovers EXTRA -- sh -c SCRIPT` with its
/// JSON report in `scratch`; returns the output and the report. Every
/// leftover it names is killed on the way out, whatever the test asserts.
fn gate(scratch: &Scratch, extra: &[&str], script: &str) -> (Output, Value) {
    gate_in(afterlife(), scratch, extra, script)
}

/// [`gate`] with afterlife started by `command` (a wrapper that execs it).
fn gate_in(mut command: std::process::Command, scratch: &Scratch, extra: &[&str], script: &str) -> (Output, Value) {
    let report = scratch.path().join("report.json");
    let output = command
        .args(["run", "--fail-on-leftovers", "--report-json"])
        .arg(&report)
        .args(extra)
        .args(["--", "sh", "-c", &format!("{RAN}{script}")])
        .stdin(Stdio::null())
        .output()
        .expect("afterlife runs");
    let value: Value = crate::common::schema::parse("run", &std::fs::read_to_string(&report).expect("report written"));
    let pids: Vec<i32> = value["leftovers"]
        .as_array()
        .map(|l| l.iter().filter_map(|p| p["pid"].as_i64()).map(|p| p as i32).collect())
        .unwrap_or_default();
    kill_pids(&pids);
    (output, value)
}

fn leftover_pids(report: &Value) -> Vec<i32> {
    report["leftovers"]
        .as_array()
        .expect("leftovers")
        .iter()
        .map(|l| l["pid"].as_i64().expect("pid") as i32)
        .collect()
}

/// The ids of SysV segments printed on `output`'s stdout.
fn printed_ids(output: &Output) -> Vec<i64> {
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// A segment made with shmget by a Python process that prints its id.
const SHMGET: &str = "python3 -c 'import ctypes; print(ctypes.CDLL(None).shmget(0, 4096, 0o1600))'";

#[test]
fn a_clean_command_passes_silently() {
    let scratch = Scratch::new("gate-clean");
    let (output, report) = gate(&scratch, &["--tmpdir"], "echo hi; sleep 0.1 & wait");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    assert_eq!(report["leaked"], false);
}

#[test]
fn a_setsid_daemon_with_stdio_closed_fails_the_run_and_is_named() {
    let scratch = Scratch::new("gate-setsid");
    let (output, report) = gate(
        &scratch,
        &[],
        "setsid sleep 300 </dev/null >/dev/null 2>&1 & ran $!; exit 0",
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    assert_eq!(report["exit_code"], 121);
    assert_eq!(report["leaked"], true);
    let pids = leftover_pids(&report);
    assert_eq!(pids.len(), 1, "{report}");
    assert!(
        text.contains(&format!("leaked process {} sleep [sleep 300]", pids[0])),
        "{text}"
    );
    // With a PID namespace of the run's own, the PID `ran $!` saw too.
    let inner = report["leftovers"][0]["ns_pid"].as_i64();
    let named = match inner {
        Some(inner) => format!("[sleep 300], PID {inner} in the run's PID namespace (setsid"),
        None => "[sleep 300] (setsid".to_string(),
    };
    assert!(text.contains(&named), "{text}");
    assert!(text.contains("setsid"), "{text}");
    assert!(pid_dead(pids[0]), "the daemon was ended");
}

#[test]
fn a_double_fork_on_dev_null_is_caught() {
    let scratch = Scratch::new("gate-double-fork");
    let (output, report) = gate(
        &scratch,
        &[],
        "ran $( (sleep 300 </dev/null >/dev/null 2>&1 & echo $!) ); exit 0",
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    assert!(text.contains("orphaned"), "{text}");
    for pid in leftover_pids(&report) {
        assert!(pid_dead(pid));
    }
}

#[test]
fn a_leftover_whose_main_thread_ended_is_named_by_its_command_line() {
    // The main thread of python3 calls pthread_exit while a worker sleeps:
    // /proc/PID/cmdline is empty, the worker's own is not. The worker
    // makes READY once the main thread reads Z.
    let scratch = Scratch::new("gate-main-thread-ended");
    let ready = scratch.path().join("READY");
    let script = format!(
        r#"import ctypes, threading, time
def worker():
    while open("/proc/self/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    open({ready:?}, "w").close()
    time.sleep(300)
threading.Thread(target=worker).start()
ctypes.CDLL(None).pthread_exit(None)
"#,
        ready = ready.display().to_string()
    );
    let program = scratch.path().join("main_thread_ends.py");
    std::fs::write(&program, script).expect("script written");
    let (output, report) = gate(&scratch, &[], &left_running(&program, &ready));
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    let named: Vec<&Value> = report["leftovers"]
        .as_array()
        .expect("leftovers")
        .iter()
        .filter(|l| l["name"] == "python3")
        .collect();
    assert_eq!(named.len(), 1, "{report}");
    let line = named[0]["command_line"].as_array().expect("command line");
    assert_eq!(
        line.last(),
        Some(&Value::from(program.display().to_string())),
        "{report}"
    );
    for pid in leftover_pids(&report) {
        assert!(pid_dead(pid), "the leftover {pid} was ended");
    }
}

/// A command line that starts the Python `program` in the background,
/// waits (at most 5 s) until it has made the file `ready`, and exits 0,
/// leaving it running.
fn left_running(program: &std::path::Path, ready: &std::path::Path) -> String {
    format!(
        "python3 {} </dev/null >/dev/null 2>&1 & for _ in $(seq 500); do [ -e {} ] && break; sleep 0.01; done; exit 0",
        program.display(),
        ready.display()
    )
}

#[test]
fn a_leftover_reaped_before_it_is_read_is_not_described_from_nothing() {
    // A leftover that keeps starting short-lived children: some end and
    // are reaped between the listing of the tree and the reading of who
    // each is. None may be reported with a parent of 0, no name, or a
    // session it does not have (a reaped one reads 0, taken as "setsid").
    // A session of 0 is not wrong in itself: a machine whose init never
    // called setsid runs everything in the kernel's session 0.
    let own_session = common::stat_number("self", 3).expect("own session");
    for round in 0..5 {
        let scratch = Scratch::new(&format!("gate-reaped-{round}"));
        let (output, report) = gate(
            &scratch,
            &[],
            "(while :; do setsid sleep 0.001 & done) </dev/null >/dev/null 2>&1 & sleep 0.3; exit 0",
        );
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(121), "{text}");
        for leftover in report["leftovers"].as_array().expect("leftovers") {
            assert_ne!(leftover["ppid"], 0, "{leftover}");
            // The loop's subshell is in the test's session; each `setsid
            // sleep` leads its own.
            let sid = leftover["sid"].as_i64().expect("sid");
            assert!(
                sid == own_session || sid == leftover["pid"].as_i64().expect("pid"),
                "{leftover}"
            );
            assert_ne!(leftover["name"], "", "{leftover}");
        }
        assert!(!text.contains("child of 0"), "{text}");
    }
}

#[test]
fn a_zombie_of_a_leftover_is_no_leftover_of_its_own() {
    // The leftover python3 never reaps its child, which exited with 3
    // before the command did: a zombie, not a process that ran on and was
    // ended by afterlife's SIGTERM. cgroup.procs never lists it; the walk
    // of the subreaper's children must not either.
    let scratch = Scratch::new("gate-zombie-child");
    let ready = scratch.path().join("READY");
    let program = scratch.path().join("zombie_parent.py");
    std::fs::write(
        &program,
        format!(
            r#"import os, time
child = os.fork()
if child == 0:
    os._exit(3)
while open("/proc/%d/stat" % child).read().rsplit(")", 1)[1].split()[0] != "Z":
    time.sleep(0.01)
with open({ready:?} + ".tmp", "w") as f:
    f.write(str(child))
os.rename({ready:?} + ".tmp", {ready:?})
time.sleep(300)
"#,
            ready = ready.display().to_string()
        ),
    )
    .expect("script written");
    let (output, report) = gate(
        &scratch,
        &["--containment", "subreaper"],
        &left_running(&program, &ready),
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    let zombie: i32 = std::fs::read_to_string(&ready)
        .expect("the zombie's PID")
        .parse()
        .expect("a PID");
    let pids = leftover_pids(&report);
    assert_eq!(pids.len(), 1, "only its parent is left: {report}");
    assert!(!pids.contains(&zombie), "{report}");
    assert!(!text.contains(&format!("leaked process {zombie} ")), "{text}");
    assert!(pid_dead(pids[0]), "the leftover was ended");
}

#[test]
fn a_failing_command_keeps_its_own_code() {
    let scratch = Scratch::new("gate-failing");
    let (output, report) = gate(&scratch, &[], "sleep 300 </dev/null >/dev/null 2>&1 & exit 4");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert_eq!(report["leaked"], true);
    assert!(stderr(&output).contains("leaked process"), "{}", stderr(&output));
}

#[test]
fn a_listening_port_is_named_with_its_address() {
    let scratch = Scratch::new("gate-port");
    let port_file = scratch.path().join("port");
    let script = format!(
        "python3 -c 'import socket,os,sys
s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen()
open(sys.argv[1],\"w\").write(str(s.getsockname()[1]))
if os.fork(): os._exit(0)
os.setsid(); os.close(0); os.close(1); os.close(2)
import time; time.sleep(300)' {} && exit 0",
        port_file.display()
    );
    let (output, report) = gate(&scratch, &[], &script);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    let port = std::fs::read_to_string(&port_file).expect("port written");
    assert!(text.contains(&format!("tcp listen 127.0.0.1:{port}")), "{text}");
    assert!(text.contains("python3"), "{text}");
    for pid in leftover_pids(&report) {
        assert!(pid_dead(pid));
    }
}

#[test]
fn a_sysv_segment_left_by_the_command_is_named_and_removed() {
    let scratch = Scratch::new("gate-sysv");
    // The command itself creates it (its PID is the segment's creator), as
    // a test that calls shmget does.
    let (output, report) = gate(&scratch, &[], &format!("exec {SHMGET}"));
    // Removed by the id it printed whatever the report says.
    let printed = printed_ids(&output);
    let _cleanup = IpcCleanup(printed.clone());
    let ids: Vec<i64> = report["ipc"]
        .as_array()
        .expect("ipc")
        .iter()
        .filter_map(|o| o["object"]["id"].as_i64())
        .collect();
    assert_eq!(ids, printed, "{report}");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    assert_eq!(ids.len(), 1, "{report}");
    assert!(text.contains("leaked IPC object: SysV shared memory id"), "{text}");
    assert!(text.contains(" (the command itself) — removed"), "{text}");
    assert!(text.contains("removed"), "{text}");
    assert!(!sysv_exists(ids[0]), "segment {} still there", ids[0]);
}

#[test]
fn a_sysv_segment_whose_maker_ended_first_is_still_the_trees() {
    if !common::is_root() {
        eprintln!("skipped: the tree's short-lived processes are known only as root");
        return;
    }
    // A child of the command makes it and ends before the command does (as
    // `ipcmk -M` in a test script): its PID is known only to the kernel.
    // Where every mount is shared the tree has a PID namespace, which reads
    // the segment's creator as one of its own; where they are private it
    // has none, and the proc connector's fork events name the tree's
    // processes, however short-lived.
    for (propagation, namespace) in [("shared", true), ("private", false)] {
        let scratch = Scratch::new(&format!("gate-sysv-ended-{propagation}"));
        let mut wrapped = std::process::Command::new("unshare");
        wrapped.args(["--mount", "--propagation", propagation, env!("CARGO_BIN_EXE_afterlife")]);
        let (output, report) = gate_in(wrapped, &scratch, &[], &format!("{SHMGET}; true"));
        let printed = printed_ids(&output);
        let _cleanup = IpcCleanup(printed.clone());
        assert_eq!(report["pid_namespace"], namespace, "{propagation}: {report}");
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(121), "{propagation}: {text}");
        let ipc = report["ipc"].as_array().expect("ipc");
        assert_eq!(ipc.len(), 1, "{propagation}: {report}");
        assert_eq!(ipc[0]["object"]["id"].as_i64(), printed.first().copied(), "{report}");
        assert_eq!(ipc[0]["attribution"], "creator_pid", "{report}");
        assert!(text.contains("leaked IPC object: SysV shared memory id"), "{text}");
        assert!(!sysv_exists(printed[0]), "segment {} still there", printed[0]);
    }
}

#[test]
fn a_sysv_segment_made_outside_the_tree_during_the_run_is_not_its() {
    let scratch = Scratch::new("gate-sysv-outside");
    let report = scratch.path().join("report.json");
    let mut run = afterlife()
        .args(["run", "--fail-on-leftovers", "--report-json"])
        .arg(&report)
        .args(["--", "sleep", "1"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("afterlife runs");
    // Made once the command runs: after the IPC objects were first read.
    let sleeping = common::wait_until(std::time::Duration::from_secs(5), || {
        common::children(run.id() as i32)
            .iter()
            .any(|c| std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == "sleep"))
    });
    assert!(sleeping, "the command did not start");
    let outside = std::process::Command::new("sh")
        .args(["-c", SHMGET])
        .output()
        .expect("python3 runs");
    let printed = printed_ids(&outside);
    let _cleanup = IpcCleanup(printed.clone());
    assert_eq!(printed.len(), 1, "{}", stderr(&outside));
    let status = run.wait().expect("afterlife ends");
    assert_eq!(status.code(), Some(0));
    let value: Value = crate::common::schema::parse("run", &std::fs::read_to_string(&report).expect("report written"));
    assert!(value["ipc"].as_array().is_none_or(|a| a.is_empty()), "{value}");
    assert!(sysv_exists(printed[0]), "segment {} was removed", printed[0]);
}

#[test]
fn dir_counts_only_paths_absent_at_the_start() {
    let scratch = Scratch::new("gate-dir");
    let watched = scratch.path().join("w");
    std::fs::create_dir(&watched).expect("dir");
    std::fs::write(watched.join("old"), "old").expect("old file");
    let dir = watched.to_string_lossy().into_owned();
    let script =
        format!("echo more >> {dir}/old; echo new > {dir}/new; mkdir {dir}/sub; touch {dir}/sub/a {dir}/sub/b");
    let (output, report) = gate(&scratch, &["--dir", &dir], &script);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    let files = report["files"].as_array().expect("files");
    let paths: Vec<&str> = files.iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths, [format!("{dir}/new"), format!("{dir}/sub")], "{report}");
    assert_eq!(files[1]["entries"], 2);
    assert!(
        text.contains(&format!("leaked file: {dir}/new, 4 B — removed")),
        "{text}"
    );
    assert!(!watched.join("new").exists() && !watched.join("sub").exists());
    assert_eq!(std::fs::read_to_string(watched.join("old")).expect("kept"), "oldmore\n");
}

#[test]
fn tmpdir_is_fresh_checked_and_removed() {
    let scratch = Scratch::new("gate-tmpdir");
    let said = scratch.path().join("tmpdir");
    let script = format!("echo \"$TMPDIR\" > {}; touch \"$TMPDIR/left\"", said.display());
    let (output, report) = gate(&scratch, &["--tmpdir"], &script);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    let tmpdir = std::fs::read_to_string(&said).expect("TMPDIR written");
    let tmpdir = tmpdir.trim();
    assert!(tmpdir.contains("afterlife-tmp-"), "{tmpdir}");
    assert_eq!(report["files"][0]["path"], format!("{tmpdir}/left"));
    assert!(!std::path::Path::new(tmpdir).exists(), "the fresh TMPDIR is removed");
}

#[test]
fn the_holder_of_the_callers_stdout_pipe_is_named() {
    let scratch = Scratch::new("gate-pipe");
    let report_path = scratch.path().join("report.json");
    // stdout is a pipe this test reads to its end, as a harness does: the
    // read returns only once the leftover holding it has been ended.
    let output = afterlife()
        .args(["run", "--fail-on-leftovers", "--report-json"])
        .arg(&report_path)
        .args(["--", "sh", "-c", "sleep 300 & echo started"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("afterlife runs");
    let report: Value = crate::common::schema::parse("run", &std::fs::read_to_string(&report_path).expect("report"));
    kill_pids(&leftover_pids(&report));
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "started\n");
    assert_eq!(
        report["leftovers"][0]["holds_output"],
        serde_json::json!(["stdout", "stderr"])
    );
    assert!(
        text.contains("holds the stdout and stderr pipe the caller reads"),
        "{text}"
    );
}

#[test]
fn the_one_line_summary_names_the_pipe_holder_too() {
    // Without --fail-on-leftovers the leftover is ended and one summary
    // line is printed: it still says which leftover held the pipe.
    let output = afterlife()
        .args(["run", "--", "sh", "-c", "sleep 300 & echo started"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("afterlife runs");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "started\n");
    assert!(text.contains("1 leftover ended: "), "{text}");
    // Its name may still be sh's, if it was read before the exec of sleep.
    assert!(text.contains(" (orphaned, "), "{text}");
    assert!(text.contains(", holds the caller's stdout and stderr)"), "{text}");
}

#[test]
fn a_dir_that_cannot_be_listed_is_one_error_line() {
    let output = afterlife()
        .args([
            "run",
            "--fail-on-leftovers",
            "--dir",
            "/nonexistent/afterlife",
            "--",
            "true",
        ])
        .output()
        .expect("afterlife runs");
    assert_eq!(output.status.code(), Some(125));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("--dir /nonexistent/afterlife: "), "{text}");
}

#[test]
fn a_file_held_open_by_a_leftover_names_its_holder() {
    let scratch = Scratch::new("gate-held");
    let watched = scratch.path().join("w");
    std::fs::create_dir(&watched).expect("dir");
    let log = watched.join("daemon.log");
    let script = format!("sleep 300 </dev/null >{} 2>&1 & ran $!", log.display());
    let (output, report) = gate(&scratch, &["--dir", &watched.to_string_lossy()], &script);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{text}");
    let pids = leftover_pids(&report);
    assert_eq!(report["files"][0]["held_by"], serde_json::json!(pids), "{report}");
    assert!(
        text.contains(&format!(
            "leaked file: {}, 0 B, held open by {} sleep — removed",
            log.display(),
            pids[0]
        )),
        "{text}"
    );
    assert!(!log.exists());
}

/// `--tmpdir`'s directory is 0700 whatever the caller's umask: under
/// `umask 0777` a directory made with mkdir's mode alone would have no
/// permissions at all, and a command not run as root could not use it.
#[test]
fn tmpdir_is_usable_under_a_umask_of_0777() {
    let output = std::process::Command::new("sh")
        .args(["-c", "umask 0777; exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["run", "-q", "--tmpdir", "--", "sh", "-c", "stat -c %a \"$TMPDIR\""])
        .output()
        .expect("sh runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "700\n");
}

/// A child the command killed and did not wait for is still dying when the
/// command ends (releasing a gigabyte takes tens of milliseconds): it is
/// no leftover, and no signal of afterlife's ended it. It was named as
/// one "ended by SIGTERM", and failed the gate.
#[test]
fn a_child_killed_and_still_dying_when_the_command_ends_is_no_leftover() {
    let scratch = Scratch::new("dying-child");
    let (output, report) = gate(
        &scratch,
        &[],
        r#"exec python3 - <<'EOF'
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    # MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE: its exit has it all to free.
    libc.mmap(None, 1 << 30, 3, 0x22 | 0x8000, -1, 0)
    os.write(w, b"r")
    signal.pause()
os.read(r, 1)
os.kill(pid, signal.SIGKILL)
os._exit(0)
EOF"#,
    );
    assert_eq!(output.status.code(), Some(0), "{}\n{report:#}", stderr(&output));
    assert_eq!(leftover_pids(&report), Vec::<i32>::new(), "{report:#}");
    assert_eq!(report["leaked"], false, "{report:#}");
}

/// A leftover that calls `execve` while it is listed (two scripts that
/// exec each other) is named as one program: its name and command line
/// were read from two files, and an exec between them named it `ping`
/// with no command line, or with `pong`'s, in about one listing in ten.
#[test]
fn a_leftover_listed_while_it_execs_is_named_as_one_program() {
    let scratch = Scratch::new("exec-leftover");
    for (name, next) in [("ping", "pong"), ("pong", "ping")] {
        let path = scratch.path().join(name);
        let next = scratch.path().join(next);
        std::fs::write(
            &path,
            format!("#!/bin/sh\n[ \"$1\" -gt 0 ] && exec {} $(($1 - 1))\n", next.display()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let ping = scratch.path().join("ping").display().to_string();
    let mut mixed = Vec::new();
    for _ in 0..40 {
        let (_, report) = gate(&scratch, &[], &format!("{ping} 1000000 & sleep 0.05"));
        for leftover in report["leftovers"].as_array().expect("leftovers") {
            let name = leftover["name"].as_str().unwrap_or_default();
            // No command line is no mix (an exec a loaded machine
            // stretched past every re-read: the arguments not in place yet).
            let Some(script) = leftover["command_line"].get(1).and_then(|a| a.as_str()) else {
                continue;
            };
            if !script.ends_with(&format!("/{name}")) {
                mixed.push(format!("{name}: {}", leftover["command_line"]));
            }
        }
    }
    // Before the re-reads about one listing in ten was mixed. A process
    // that does nothing but exec can still, rarely, be read between two
    // execs of the same name: it is named then by a stat of one and the
    // command line of the other (up to about one listing in a hundred,
    // with a busy core beside it). Three in forty stays far below the old rate.
    assert!(mixed.len() <= 3, "{} of 40 listings mixed: {mixed:?}", mixed.len());
}
