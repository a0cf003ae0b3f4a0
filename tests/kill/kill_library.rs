//! The library API: `Process::terminate(plan)` (the `Terminate` trait) and
//! `terminate(&Request)` for a selection, both returning the typed report.

use crate::common;

use std::process::Command;
use std::time::Duration;

use afterlife::process::{Pid, Process};
use afterlife::signal::Signal;
use afterlife::terminate::report::ReaperRole;
use afterlife::terminate::{EndedBy, Outcome, Request, Scope, SurvivorReason, Terminate, TerminationPlan, terminate};
use common::kill::Tree;

#[test]
fn process_terminate_escalates_for_an_ignorer() {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("trap '' TERM; echo ready; while :; do sleep 0.05; done")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let process = Process::from_child(&child).unwrap();
    let plan = TerminationPlan {
        grace: Duration::from_millis(300),
        ..TerminationPlan::default()
    };
    let report = process.terminate(&plan).unwrap();
    assert_eq!(report.sent, [Signal::TERM, Signal::KILL]);
    match &report.outcome {
        Outcome::Ended {
            by: EndedBy::Kill,
            after_seconds: Some(after),
            status: Some(status),
            unreaped_by: Some(reaper),
        } => {
            assert!(*after >= 0.3, "{after}");
            // This test is its parent and has not waited for it yet.
            assert_eq!(reaper.role, ReaperRole::Parent);
            assert_eq!(reaper.pid, std::process::id() as i32);
            assert_eq!(
                status.status().map(|s| s.to_string()).as_deref(),
                Some("killed by SIGKILL")
            );
        }
        other => panic!("{other:?}"),
    }
    child.wait().unwrap();
}

#[test]
fn process_terminate_without_escalation_reports_why_it_survived() {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("trap '' TERM; echo ready; while :; do sleep 0.05; done")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let process = Process::from_child(&child).unwrap();
    let plan = TerminationPlan {
        grace: Duration::from_millis(200),
        escalate: false,
        ..TerminationPlan::default()
    };
    let report = process.terminate(&plan).unwrap();
    match &report.outcome {
        Outcome::Alive { reason, .. } => assert_eq!(*reason, SurvivorReason::Ignores { signal: Signal::TERM }),
        other => panic!("{other:?}"),
    }
    process.signal(Signal::KILL).unwrap();
    child.wait().unwrap();
}

#[test]
fn a_selection_terminate_returns_the_report() {
    let mut tree = Tree::start("library", "sleep 60 &\necho $!\necho ready\nwait\n");
    let root = Pid::new(tree.root()).unwrap();
    let request = Request {
        use_cgroup: false,
        plan: TerminationPlan {
            grace: Duration::from_secs(2),
            ..TerminationPlan::default()
        },
        ..Request::new(vec![root], Scope::Tree)
    };
    let report = terminate(&request).unwrap();
    assert!(report.all_ended(), "{report:?}");
    assert_eq!(report.summary.processes, 2);
    assert_eq!(report.summary.ended, 2);
    assert!(report.process(Pid::new(tree.pids[0]).unwrap()).is_some());
    tree.reap();
}
