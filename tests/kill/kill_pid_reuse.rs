//! A recycled PID is never signalled: a member found by a scan is opened
//! expecting the start time the scan recorded, and a handle whose process
//! has exited refuses to signal whoever has the PID next. The reuse is
//! forced inside a new PID namespace by writing
//! `/proc/sys/kernel/ns_last_pid` (needs root), as in `pid_reuse`.

use crate::common;

use std::process::Command;
use std::time::Duration;

use afterlife::process::{Pid, Process, ProcessTable};
use afterlife::signal::Signal;
use afterlife::terminate::{EndedBy, Outcome, Request, Scope, Terminate, TerminationPlan, terminate_with_scan};

const INNER: &str = "AFTERLIFE_KILL_PID_REUSE_INNER";

#[test]
fn kill_never_signals_a_recycled_pid() {
    if std::env::var_os(INNER).is_some() {
        return;
    }
    let Some((status, text)) =
        common::run_in_new_pid_namespace(&common::test_name(module_path!(), "inner_kill_pid_reuse"), INNER)
    else {
        return;
    };
    assert!(status.success(), "inner test failed:\n{text}");
    assert!(text.contains("1 passed"), "inner test did not run:\n{text}");
    assert!(text.contains("reuse forced twice"), "{text}");
}

/// Ends `old` and starts a new `sleep` that gets the same PID.
fn recycle(old: &mut std::process::Child) -> std::process::Child {
    let pid = old.id() as i32;
    Process::from_child(old).unwrap().signal(Signal::KILL).unwrap();
    old.wait().unwrap();
    // Let a clock tick pass so the start times differ.
    std::thread::sleep(Duration::from_millis(30));
    std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
    let new = Command::new("sleep").arg("300").spawn().unwrap();
    assert_eq!(new.id() as i32, pid, "the PID was not reused");
    new
}

#[test]
#[ignore = "runs only inside the PID namespace the outer test makes"]
fn inner_kill_pid_reuse() {
    assert!(
        std::env::var_os(INNER).is_some(),
        "run through kill_never_signals_a_recycled_pid"
    );
    assert_eq!(std::process::id(), 1);
    let plan = TerminationPlan {
        grace: Duration::from_millis(300),
        ..TerminationPlan::default()
    };

    // A selection scanned before the reuse: the member is opened expecting
    // the old start time, and the new process is left alone.
    let mut old = Command::new("sleep").arg("300").spawn().unwrap();
    let pid = Pid::new(old.id() as i32).unwrap();
    let stale = ProcessTable::scan();
    let mut new = recycle(&mut old);
    let request = Request {
        plan,
        ..Request::new(vec![pid], Scope::Pids)
    };
    let report = terminate_with_scan(&request, &stale).unwrap();
    let entry = report.process(pid).unwrap();
    assert!(entry.sent.is_empty(), "{entry:?}");
    assert!(
        matches!(
            entry.outcome,
            Outcome::Ended {
                by: EndedBy::BeforeSignal,
                ..
            }
        ),
        "{entry:?}"
    );
    assert!(new.try_wait().unwrap().is_none(), "the new process was signalled");

    // A handle to a process that has exited: terminate sends nothing.
    let handle = Process::from_child(&new).unwrap();
    let mut newer = recycle(&mut new);
    println!("reuse forced twice: PID {pid} went to two newer processes");
    let outcome = handle.terminate(&plan).unwrap();
    assert!(outcome.sent.is_empty(), "{outcome:?}");
    assert!(matches!(outcome.outcome, Outcome::Ended { .. }), "{outcome:?}");
    assert!(newer.try_wait().unwrap().is_none(), "the newer process was signalled");
    Process::from_child(&newer).unwrap().signal(Signal::KILL).unwrap();
    newer.wait().unwrap();
}
