//! `afterlife demo SCENARIO --json`, one test per scenario: each runs real
//! processes and must end as the kernel says it does, with every measured
//! check holding.

use crate::common;

use common::*;
use serde_json::Value;

/// Runs one scenario and returns its report, after checking that it ran,
/// that every check held and that afterlife exited 0.
fn scenario(name: &str) -> Value {
    let output = run(&["demo", name, "--json"]);
    let text = stdout(&output);
    let report: Value = crate::common::schema::parse("demo", &text);
    let scenario = report["scenarios"][0].clone();
    assert_eq!(scenario["name"], name);
    assert!(scenario["error"].is_null(), "{}", scenario["error"]);
    for run in scenario["runs"].as_array().unwrap() {
        for check in run["checks"].as_array().unwrap() {
            assert_eq!(check["held"], true, "in {}: {check}", run["label"]);
        }
    }
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    scenario
}

fn runs(scenario: &Value) -> &Vec<Value> {
    scenario["runs"].as_array().unwrap()
}

fn check<'a>(run: &'a Value, label: &str) -> &'a Value {
    run["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == label)
        .unwrap_or_else(|| panic!("no check {label:?} in {run}"))
}

fn assert_exited(run: &Value, code: u64) {
    assert_eq!(run["ending"]["status"]["kind"], "exited", "{run}");
    assert_eq!(run["ending"]["status"]["code"], code, "{run}");
    assert_eq!(run["ending"]["shell_code"], code, "{run}");
    assert_eq!(run["ending"]["wait_status"], code << 8, "{run}");
}

fn assert_signaled(run: &Value, signal: &str, shell_code: u64) {
    assert_eq!(run["ending"]["status"]["kind"], "signaled", "{run}");
    assert_eq!(run["ending"]["status"]["signal"]["name"], signal, "{run}");
    assert_eq!(run["ending"]["shell_code"], shell_code, "{run}");
}

/// Whether this machine's core_pattern and hard RLIMIT_CORE let a child
/// write a core file into its working directory.
fn core_files_possible() -> bool {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let hard = rustix::process::getrlimit(rustix::process::Resource::Core).maximum;
    !pattern.trim().is_empty() && !pattern.starts_with('|') && !pattern.starts_with('/') && hard != Some(0)
}

#[test]
fn s01_exit_three() {
    let s = scenario("exit");
    let run = &runs(&s)[0];
    assert_exited(run, 3);
    assert_eq!(run["ending"]["source"], "waitid");
    assert_eq!(
        check(run, "destructors")["measured"],
        "the Drop impl's marker file is absent"
    );
    assert_eq!(run["explain"]["readings"][0], "exit code 3");
}

#[test]
fn s02_return_from_main() {
    let s = scenario("return");
    let run = &runs(&s)[0];
    assert_exited(run, 0);
    assert_eq!(
        check(run, "destructors")["measured"],
        "a Drop impl wrote its marker file"
    );
}

#[test]
fn s03_last_thread() {
    let s = scenario("last-thread");
    let run = &runs(&s)[0];
    assert_exited(run, 0);
    let lived = check(run, "main thread gone, process alive")["measured"]
        .as_str()
        .unwrap();
    assert!(
        lived.contains("state Z") && lived.contains("process exited: no"),
        "{lived}"
    );
}

#[test]
fn s04_sigkill() {
    let s = scenario("sigkill");
    let run = &runs(&s)[0];
    assert_signaled(run, "SIGKILL", 137);
    assert_eq!(run["ending"]["wait_status"], 9);
    assert_eq!(check(run, "fds")["measured"], "EOF read");
    assert!(
        check(run, "memory")["measured"]
            .as_str()
            .unwrap()
            .contains("VmRSS absent")
    );
    assert_eq!(run["explain"]["readings"][0], "128+9: killed by SIGKILL");
}

#[test]
fn s05_ctrl_c() {
    let s = scenario("ctrl-c");
    let [default, handler] = &runs(&s)[..] else {
        panic!("two runs")
    };
    assert_signaled(default, "SIGINT", 130);
    assert_exited(handler, 0);
    assert_eq!(
        check(handler, "disposition")["measured"],
        "SIGINT is in SigCgt (caught by a handler)"
    );
    assert_eq!(check(handler, "cleanup")["measured"], "its cleanup file was written");
}

#[test]
fn s06_ctrl_break() {
    let s = scenario("ctrl-break");
    let [off, on] = &runs(&s)[..] else { panic!("two runs") };
    assert_signaled(off, "SIGQUIT", 131);
    assert_eq!(off["ending"]["status"]["core_dumped"], false);
    assert_signaled(on, "SIGQUIT", 131);
    if core_files_possible() {
        assert_eq!(on["ending"]["status"]["core_dumped"], true, "{on}");
        assert_eq!(on["ending"]["wait_status"], 0x83);
    }
    assert!(s["notes"][0].as_str().unwrap().starts_with("core_pattern is"));
}

#[test]
fn s07_logoff() {
    let s = scenario("logoff");
    let [default, nohup] = &runs(&s)[..] else {
        panic!("two runs")
    };
    assert_signaled(default, "SIGHUP", 129);
    assert_signaled(nohup, "SIGTERM", 143);
    assert_eq!(check(nohup, "disposition")["measured"], "SIGHUP is in SigIgn (ignored)");
}

#[test]
fn s08_shutdown() {
    let s = scenario("shutdown");
    let [handles, ignores] = &runs(&s)[..] else {
        panic!("two runs")
    };
    assert_exited(handles, 0);
    assert_eq!(check(handles, "saved state")["measured"], "its state file exists");
    assert_signaled(ignores, "SIGKILL", 137);
    assert!(
        check(ignores, "survived the grace")["measured"]
            .as_str()
            .unwrap()
            .starts_with("still running")
    );
}

#[test]
fn s09_faults() {
    let s = scenario("faults");
    let [segv, abort, panic] = &runs(&s)[..] else {
        panic!("three runs")
    };
    assert_signaled(segv, "SIGSEGV", 139);
    if core_files_possible() {
        assert_eq!(segv["ending"]["status"]["core_dumped"], true, "{segv}");
    }
    assert_signaled(abort, "SIGABRT", 134);
    assert_eq!(abort["ending"]["status"]["core_dumped"], false);
    assert_exited(panic, 101);
    assert!(
        check(panic, "panic message")["measured"]
            .as_str()
            .unwrap()
            .contains("panicked")
    );
}

#[test]
fn s10_exit_range() {
    let s = scenario("exit-range");
    let [big, negative] = &runs(&s)[..] else {
        panic!("two runs")
    };
    assert_exited(big, 0);
    assert_eq!(big["explain"]["input"], "256");
    assert_exited(negative, 255);
    assert_eq!(negative["explain"]["input"], "-1");
}

#[test]
fn s11_buffered_output() {
    let s = scenario("buffered-output");
    let sizes: Vec<(&str, &str)> = runs(&s)
        .iter()
        .map(|r| {
            let c = r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["label"].as_str().unwrap().contains("bytes"))
                .unwrap();
            (r["label"].as_str().unwrap(), c["measured"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        sizes,
        [
            ("SIGKILL", "0 bytes while it ran; 0 bytes after its end"),
            ("return from main", "0 bytes while it ran; 4096 bytes after its end"),
            ("std::process::exit", "0 bytes while it ran; 0 bytes after its end"),
            ("C exit(3)", "0 bytes while it ran; 4096 bytes after its end"),
        ]
    );
}

#[test]
fn s12_memory() {
    let s = scenario("memory");
    let run = &runs(&s)[0];
    assert_exited(run, 0);
    assert!(
        check(run, "allocated")["measured"]
            .as_str()
            .unwrap()
            .starts_with("VmRSS 20")
    );
    let memory = check(run, "memory")["measured"].as_str().unwrap();
    assert!(
        memory.ends_with("as a zombie (state Z): VmRSS absent (no memory map), statm size+resident 0 pages"),
        "{memory}"
    );
}

#[test]
fn s13_files() {
    let s = scenario("files");
    let run = &runs(&s)[0];
    assert_signaled(run, "SIGKILL", 137);
    assert_eq!(check(run, "file")["measured"], "report.txt: 1000 bytes");
    assert_eq!(check(run, "temp file")["measured"], "afterlife-demo.tmp: 2000 bytes");
    assert!(
        check(run, "unnamed temp file")["measured"]
            .as_str()
            .unwrap()
            .contains("no process holds inode")
    );
}

#[test]
fn s14_orphan() {
    let s = scenario("orphan");
    let [parent, orphan, adopted] = &runs(&s)[..] else {
        panic!("three runs")
    };
    assert_exited(parent, 0);
    let reparented = check(parent, "reparented")["measured"].as_str().unwrap();
    assert!(
        reparented.starts_with(&format!("PPID was {}, is now ", parent["pid"])),
        "{reparented}"
    );
    assert_signaled(orphan, "SIGKILL", 137);
    assert_ne!(
        orphan["ending"]["source"], "waitid",
        "an orphan is reaped by its new parent"
    );
    assert!(
        check(orphan, "orphan (reaped)")["measured"]
            .as_str()
            .unwrap()
            .contains("gone after")
    );
    assert_eq!(adopted["label"], "under a subreaper");
    assert_signaled(adopted, "SIGKILL", 137);
    assert!(
        check(adopted, "reparented")["measured"]
            .as_str()
            .unwrap()
            .ends_with("(the subreaper)")
    );
}

#[test]
fn s15_ghost_socket() {
    let s = scenario("ghost-socket");
    let [inherited, cloexec] = &runs(&s)[..] else {
        panic!("two runs")
    };
    assert_signaled(inherited, "SIGKILL", 137);
    assert_eq!(
        check(inherited, "port (inherited)")["measured"],
        "bind failed: EADDRINUSE"
    );
    let holder = check(inherited, "child holds it")["measured"].as_str().unwrap();
    assert!(holder.contains("no O_CLOEXEC"), "{holder}");
    assert_eq!(check(cloexec, "port (O_CLOEXEC)")["measured"], "bind succeeded");
    assert!(
        check(cloexec, "no holder")["measured"]
            .as_str()
            .unwrap()
            .starts_with("no process holds it")
    );
}

#[test]
fn s16_pipe() {
    let s = scenario("pipe");
    let run = &runs(&s)[0];
    assert_signaled(run, "SIGKILL", 137);
    assert_eq!(
        check(run, "pipe data")["measured"],
        "read 16384 bytes after its death, identical"
    );
}

#[test]
fn s17_shm() {
    let s = scenario("shm");
    let run = &runs(&s)[0];
    assert_signaled(run, "SIGKILL", 137);
    assert_eq!(check(run, "attachment")["measured"], "1 attached while it ran, 0 after");
    // The segment was removed afterwards: none of this creator is left.
    let shm = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
    let creator = run["pid"].to_string();
    assert!(
        !shm.lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(6) == Some(creator.as_str())),
        "{shm}"
    );
}

#[test]
fn s18_resisting() {
    let s = scenario("resisting");
    let [stopped, ignored, zombie] = &runs(&s)[..] else {
        panic!("three runs")
    };
    assert_signaled(stopped, "SIGTERM", 143);
    // What `afterlife why` says, finding by finding.
    let says = |run: &Value, text: &str| {
        run["why"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line.as_str().unwrap().contains(text))
    };
    assert!(
        stopped["why"][0].as_str().unwrap().starts_with("stopped (T)"),
        "{stopped:#}"
    );
    assert!(says(stopped, "pending: SIGTERM"), "{stopped:#}");
    assert_eq!(check(stopped, "pending")["measured"], "pending: SIGTERM");
    assert_signaled(ignored, "SIGKILL", 137);
    assert!(says(ignored, "SIGTERM ignored"), "{ignored:#}");
    assert_exited(zombie, 7);
    assert_eq!(zombie["ending"]["source"], "zombie_stat");
    assert!(
        zombie["why"][0].as_str().unwrap().starts_with("zombie (Z)"),
        "{zombie:#}"
    );
}

/// A caller's umask of 0777 (every permission masked) does not reach the
/// demo's own files: run unprivileged, a scratch directory or marker file
/// made with no permissions could not be entered or read back, and a check
/// would report (wrongly) that a destructor or handler did not run.
#[test]
fn a_umask_of_0777_changes_no_answer() {
    if !is_root() {
        eprintln!("skipped: running the demo as another user needs root");
        return;
    }
    for name in ["exit", "ctrl-break", "files"] {
        let output = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(["sh", "-c", "cd /; umask 0777; exec \"$@\"", "sh"])
            .arg(env!("CARGO_BIN_EXE_afterlife"))
            .args(["demo", name, "--json"])
            .output()
            .expect("setpriv runs");
        let report: Value = serde_json::from_slice(&output.stdout).expect("a report");
        let scenario = &report["scenarios"][0];
        assert!(scenario["error"].is_null(), "{name}: {}", scenario["error"]);
        for run in runs(scenario) {
            for check in run["checks"].as_array().unwrap() {
                assert_eq!(check["held"], true, "{name}, in {}: {check}", run["label"]);
            }
        }
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
    }
}
