//! Scenario 18: processes that do not die when asked — a stopped process
//! (SIGTERM stays pending until SIGCONT), one that ignores SIGTERM, and a
//! zombie whose parent does not reap it — each with why, read from /proc
//! (state, `SigIgn`, `SigBlk`, `ShdPnd`, `TracerPid`: proc_pid_status(5)).
//!
//! [`why_it_stays`] asks `afterlife why` ([`crate::resist`]) for the
//! reasons, with their evidence and the next step.

use std::time::{Duration, Instant};

use crate::demo::child::ZOMBIE_CODE;
use crate::demo::error::DemoError;
use crate::demo::spawn::{DemoChild, STEP, Spawn, field, known};
use crate::demo::{Check, Outcome, fds_check, gone_check, run_report, status_check};
use crate::exit::ExitStatus;
use crate::process::{Pid, Process, ProcessInfo, ProcessState};
use crate::signal::Signal;

/// How long a resisting process is watched after it was asked to end.
const SURVIVAL: Duration = Duration::from_millis(250);

/// What `afterlife why` says about `process`: one line per finding, with
/// the first piece of evidence and the next step that would work.
pub fn why_it_stays(process: &Process) -> Vec<String> {
    match crate::resist::diagnose(process) {
        Ok(diagnosis) => diagnosis
            .findings
            .iter()
            .map(|finding| {
                let evidence = finding
                    .evidence
                    .first()
                    .map(|e| format!(" [{}: {}]", e.source, e.value))
                    .unwrap_or_default();
                format!("{}{evidence} — next: {}", finding.title, finding.next_step)
            })
            .collect(),
        Err(error) => vec![format!("why could not tell: {error}")],
    }
}

/// Waits (bounded) until `process` is in `state`.
fn wait_for_state(process: &Process, state: ProcessState) -> Option<ProcessInfo> {
    let deadline = Instant::now() + STEP;
    loop {
        let info = process.info().ok();
        if info.as_ref().is_some_and(|i| i.state == state) || Instant::now() >= deadline {
            return info;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn survived_check(child: &DemoChild, signal: Signal, survived: bool) -> Check {
    let state = child.process().info().map(|i| i.state.to_string()).unwrap_or_default();
    Check::stayed(
        "process",
        format!("it is still there {} ms after {signal}", SURVIVAL.as_millis()),
        if survived {
            format!("still there, {state}")
        } else {
            "it ended".to_string()
        },
        survived,
    )
}

/// 18: stopped, TERM ignored, an unreaped zombie.
pub(crate) fn resisting(outcome: &mut Outcome) -> Result<(), DemoError> {
    stopped(outcome)?;
    term_ignored(outcome)?;
    zombie(outcome)
}

fn stopped(outcome: &mut Outcome) -> Result<(), DemoError> {
    let mut child = Spawn::new("wait").start()?;
    let pid = child.pid();
    child.ready()?;
    child.signal(Signal::STOP)?;
    let stopped = wait_for_state(child.process(), ProcessState::Stopped);
    child.signal(Signal::TERM)?;
    let survived = child.survives(SURVIVAL)?;
    let info = child.process().info().ok();
    let why = why_it_stays(child.process());
    let pending = info
        .as_ref()
        .is_some_and(|i| i.signals.pending_process.contains(&Signal::TERM));
    let checks_before = vec![
        Check::observed(
            "stopped",
            "SIGSTOP stops it: state T",
            stopped.as_ref().map_or("gone".to_string(), |i| i.state.to_string()),
            stopped.as_ref().is_some_and(|i| i.state == ProcessState::Stopped),
        ),
        survived_check(&child, Signal::TERM, survived),
        Check::observed(
            "pending",
            "SIGTERM waits in its pending set (ShdPnd)",
            info.as_ref().map_or("unknown".to_string(), |i| {
                format!(
                    "pending: {}",
                    i.signals
                        .pending_process
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
            pending,
        ),
    ];
    child.signal(Signal::CONT)?;
    let ended = child.wait()?;
    let mut checks = checks_before;
    checks.push(status_check(
        ended.0,
        ExitStatus::Signaled {
            signal: Signal::TERM,
            core_dumped: false,
        },
    ));
    checks.push(fds_check(&mut child));
    checks.push(gone_check(pid));
    let mut run = run_report(
        "stopped",
        "sent SIGSTOP, then SIGTERM (it stayed), then SIGCONT: the pending SIGTERM was delivered",
        pid,
        ended,
        checks,
    );
    run.why = why;
    outcome.run(run);
    Ok(())
}

fn term_ignored(outcome: &mut Outcome) -> Result<(), DemoError> {
    let mut child = Spawn::new("ignore").arg("TERM").start()?;
    let pid = child.pid();
    child.ready()?;
    child.signal(Signal::TERM)?;
    let survived = child.survives(SURVIVAL)?;
    let info = child.process().info().ok();
    let why = why_it_stays(child.process());
    let ignored = info.as_ref().is_some_and(|i| i.signals.ignored.contains(&Signal::TERM));
    let mut checks = vec![
        Check::observed(
            "ignored",
            "SIGTERM is in its ignored set (SigIgn)",
            if ignored {
                "SigIgn has SIGTERM"
            } else {
                "SigIgn lacks SIGTERM"
            },
            ignored,
        ),
        survived_check(&child, Signal::TERM, survived),
    ];
    child.signal(Signal::KILL)?;
    let ended = child.wait()?;
    checks.push(status_check(
        ended.0,
        ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false,
        },
    ));
    checks.push(fds_check(&mut child));
    checks.push(gone_check(pid));
    let mut run = run_report(
        "TERM ignored",
        "sent SIGTERM to a child that ignores it (it stayed), then SIGKILL, which cannot be ignored",
        pid,
        ended,
        checks,
    );
    run.why = why;
    outcome.run(run);
    Ok(())
}

fn zombie(outcome: &mut Outcome) -> Result<(), DemoError> {
    let mut parent = Spawn::new("zombie-parent").start()?;
    let parent_pid = parent.pid();
    let fields = parent.ready()?;
    let zombie_pid: Pid = field(&fields, "child", parent_pid)?;
    // Its parent never reaps it, so the PID stays the zombie's until the
    // parent ends: the handle is safe to open now.
    let zombie = Process::open(zombie_pid)?;
    let info = wait_for_state(&zombie, ProcessState::Zombie);
    let is_zombie = info.as_ref().is_some_and(|i| i.state == ProcessState::Zombie);
    // A zombie takes signals without effect: SIGKILL is accepted and changes nothing.
    let kill_result = zombie.signal(Signal::KILL);
    let still = zombie.info().ok();
    let still_zombie = still.as_ref().is_some_and(|i| i.state == ProcessState::Zombie);
    let why = why_it_stays(&zombie);
    let observed = known(zombie_pid, zombie.peek_exit_observation()?)?;
    let mut checks = vec![
        Check::observed(
            "zombie",
            format!("it exited, and its parent {parent_pid} does not reap it: state Z"),
            info.as_ref().map_or("gone".to_string(), |i| i.state.to_string()),
            is_zombie,
        ),
        Check::stayed(
            "zombie",
            "SIGKILL does not remove a zombie",
            format!(
                "SIGKILL {}; afterwards: {}",
                if kill_result.is_ok() { "accepted" } else { "refused" },
                still.as_ref().map_or("gone".to_string(), |i| i.state.to_string())
            ),
            still_zombie,
        ),
    ];
    // Ending the parent hands the zombie to init (or a subreaper), which reaps it.
    parent.signal(Signal::KILL)?;
    parent.wait()?;
    let reaped =
        zombie.wait(Some(STEP))?.is_some() && crate::demo::spawn::wait_gone(zombie_pid, zombie.start_ticks(), STEP);
    checks.push(status_check(
        observed.0,
        ExitStatus::Exited {
            code: ZOMBIE_CODE as u8,
        },
    ));
    checks.push(Check::went(
        "zombie (reaped)",
        "once its parent ends, its new parent (init or a subreaper) reaps it",
        if reaped {
            format!("/proc/{zombie_pid} gone after its parent {parent_pid} was ended")
        } else {
            format!("/proc/{zombie_pid} still there")
        },
        reaped,
    ));
    checks.push(fds_check(&mut parent));
    checks.push(gone_check(parent_pid));
    let mut run = run_report(
        "zombie",
        format!("the child's child exited {ZOMBIE_CODE}; its parent never called wait; then the parent was ended"),
        zombie_pid,
        observed,
        checks,
    );
    run.why = why;
    outcome.run(run);
    Ok(())
}
