//! A handle to a process that has exited never signals the process that gets
//! its PID next. The reuse is forced inside a new PID namespace by writing
//! `/proc/sys/kernel/ns_last_pid` (needs root), so the test does not depend on
//! PID wrap-around.
//!
//! The outer test re-runs this test binary as PID 1 of a new PID namespace
//! (`unshare --pid --fork --mount-proc`), where the inner test does the work.

use crate::common;

use std::process::Command;
use std::time::Duration;

use afterlife::process::{OpenError, Pid, Process, SignalError};
use afterlife::signal::Signal;

const INNER: &str = "AFTERLIFE_PID_REUSE_INNER";

#[test]
fn a_recycled_pid_is_never_signalled() {
    if std::env::var_os(INNER).is_some() {
        return;
    }
    let Some((status, text)) =
        common::run_in_new_pid_namespace(&common::test_name(module_path!(), "inner_pid_reuse"), INNER)
    else {
        return;
    };
    assert!(status.success(), "inner test failed:\n{text}");
    assert!(text.contains("1 passed"), "inner test did not run:\n{text}");
    assert!(text.contains("reuse forced"), "{text}");
}

#[test]
#[ignore = "runs only inside the PID namespace the outer test makes"]
fn inner_pid_reuse() {
    assert!(
        std::env::var_os(INNER).is_some(),
        "run through a_recycled_pid_is_never_signalled"
    );
    assert_eq!(std::process::id(), 1, "the inner test runs as PID 1 of its namespace");

    let mut old = Command::new("sleep").arg("300").spawn().unwrap();
    let pid = Pid::new(old.id() as i32).unwrap();
    let handle = Process::from_child(&old).unwrap();
    let old_start = handle.start_ticks();

    handle.signal(Signal::KILL).unwrap();
    old.wait().unwrap();
    // Let at least one clock tick pass so the start times differ.
    std::thread::sleep(Duration::from_millis(30));

    // The next PID handed out will be the one just freed.
    std::fs::write("/proc/sys/kernel/ns_last_pid", (pid.get() - 1).to_string()).unwrap();
    let mut new = Command::new("sleep").arg("300").spawn().unwrap();
    assert_eq!(new.id() as i32, pid.get(), "the PID was not reused");
    println!("reuse forced: PID {pid} now belongs to a new process");

    // The old handle refuses: its process is gone.
    match handle.signal(Signal::TERM) {
        Err(SignalError::Exited { pid: p }) => assert_eq!(p, pid),
        other => panic!("expected Exited, got {other:?}"),
    }
    assert!(handle.has_exited());
    // Opening the PID again expecting the old start time detects the reuse.
    match Process::open_expecting(pid, old_start) {
        Err(OpenError::Reused { expected, found, .. }) => {
            assert_eq!(expected, old_start);
            assert_ne!(found, old_start);
        }
        other => panic!("expected Reused, got {other:?}"),
    }
    // The new process was not touched.
    assert!(new.try_wait().unwrap().is_none(), "the new process must still run");
    let fresh = Process::from_child(&new).unwrap();
    assert!(fresh.start_ticks() > old_start);
    fresh.signal(Signal::KILL).unwrap();
    new.wait().unwrap();
}
