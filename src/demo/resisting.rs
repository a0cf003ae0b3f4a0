//! Scenario 18: processes that do not die when asked — a stopped process
//! (SIGTERM stays pending until SIGCONT), one that ignores SIGTERM, and a
//! zombie whose parent does not reap it — each with why, read from /proc
//! (state, `SigIgn`, `SigBlk`, `ShdPnd`, `TracerPid`: proc_pid_status(5)).
//!
//! [`why_it_stays`] is the integration point for `afterlife why`, which
//! looks further (wchan, kernel stack, frozen cgroups, namespace init);
//! until then the demo describes the state here, on its own.

use std::time::{Duration, Instant};

use crate::demo::child::ZOMBIE_CODE;
use crate::demo::error::DemoError;
use crate::demo::spawn::{DemoChild, STEP, Spawn, known};
use crate::demo::{Check, Outcome, fds_check, gone_check, run_report, status_check};
use crate::exit::ExitStatus;
use crate::process::{Pid, Process, ProcessInfo, ProcessState};
use crate::signal::Signal;

/// How long a resisting process is watched after it was asked to end.
const SURVIVAL: Duration = Duration::from_millis(250);

/// Why a process with these facts does not end on `signal`, in plain words.
///
/// Integration point for `afterlife why`.
pub fn why_it_stays(info: &ProcessInfo, signal: Signal) -> Vec<String> {
    let mut why = Vec::new();
    let masks = &info.signals;
    let pending: Vec<String> = masks
        .pending_process
        .iter()
        .chain(&masks.pending_thread)
        .map(|s| s.to_string())
        .collect();
    match info.state {
        ProcessState::Zombie => why.push(format!(
            "it is a zombie (state Z): it has already exited; no signal can end it again; only its parent {} can make it go, by reaping it",
            info.ppid
        )),
        ProcessState::Stopped => why.push(
            "it is stopped (state T): signals other than SIGKILL and SIGCONT stay pending until it is continued".to_string(),
        ),
        ProcessState::TracingStop => why.push(format!(
            "it is stopped by its tracer{} (state t): signals wait for the debugger",
            info.tracer_pid.map_or(String::new(), |t| format!(" {t}"))
        )),
        ProcessState::DiskSleep => why.push(
            "it is in uninterruptible sleep (state D): signals wait until the kernel call returns".to_string(),
        ),
        _ => {}
    }
    if info.state != ProcessState::Zombie {
        if masks.ignored.contains(&signal) {
            why.push(format!("it ignores {signal} (SigIgn): the kernel drops it on arrival"));
        }
        if masks.blocked.contains(&signal) {
            why.push(format!("it blocks {signal} (SigBlk): it stays pending until unblocked"));
        }
        if masks.caught.contains(&signal) {
            why.push(format!(
                "it catches {signal} (SigCgt): its handler decides what happens"
            ));
        }
        if let Some(tracer) = info.tracer_pid
            && info.state != ProcessState::TracingStop
        {
            why.push(format!("it is traced by {tracer}"));
        }
    }
    if !pending.is_empty() {
        why.push(format!("pending: {}", pending.join(", ")));
    }
    if why.is_empty() {
        why.push(format!("nothing in /proc keeps it from ending on {signal}"));
    }
    why
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
    let why = info.as_ref().map(|i| why_it_stays(i, Signal::TERM)).unwrap_or_default();
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
    let why = info.as_ref().map(|i| why_it_stays(i, Signal::TERM)).unwrap_or_default();
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
    let zombie_pid = fields
        .get("child")
        .and_then(|v| v.parse().ok())
        .and_then(Pid::new)
        .ok_or(DemoError::Protocol {
            pid: parent_pid,
            message: "no child PID in its ready line".to_string(),
        })?;
    // Its parent never reaps it, so the PID stays the zombie's until the
    // parent ends: the handle is safe to open now.
    let zombie = Process::open(zombie_pid)?;
    let info = wait_for_state(&zombie, ProcessState::Zombie);
    let is_zombie = info.as_ref().is_some_and(|i| i.state == ProcessState::Zombie);
    // A zombie takes signals without effect: SIGKILL is accepted and changes nothing.
    let kill_result = zombie.signal(Signal::KILL);
    let still = zombie.info().ok();
    let still_zombie = still.as_ref().is_some_and(|i| i.state == ProcessState::Zombie);
    let why = still
        .as_ref()
        .map(|i| why_it_stays(i, Signal::KILL))
        .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: ProcessState) -> ProcessInfo {
        let mut info = ProcessInfo::read(Pid::current()).unwrap();
        info.state = state;
        info.signals = Default::default();
        info.tracer_pid = None;
        info
    }

    #[test]
    fn stopped_with_term_pending() {
        let mut stopped = info(ProcessState::Stopped);
        stopped.signals.pending_process = vec![Signal::TERM];
        let why = why_it_stays(&stopped, Signal::TERM);
        assert!(why[0].contains("stopped (state T)"), "{why:?}");
        assert_eq!(why.last().unwrap(), "pending: SIGTERM");
    }

    #[test]
    fn ignored_blocked_caught_traced() {
        let mut sleeping = info(ProcessState::Sleeping);
        sleeping.signals.ignored = vec![Signal::TERM];
        sleeping.signals.blocked = vec![Signal::TERM];
        sleeping.tracer_pid = Some(42);
        let why = why_it_stays(&sleeping, Signal::TERM);
        assert!(why.iter().any(|w| w.contains("ignores SIGTERM (SigIgn)")), "{why:?}");
        assert!(why.iter().any(|w| w.contains("blocks SIGTERM (SigBlk)")), "{why:?}");
        assert!(why.iter().any(|w| w == "it is traced by 42"), "{why:?}");
        sleeping.signals = Default::default();
        sleeping.signals.caught = vec![Signal::INT];
        assert!(why_it_stays(&sleeping, Signal::INT)[0].contains("catches SIGINT"));
    }

    #[test]
    fn zombie_names_its_parent_and_nothing_else() {
        let mut zombie = info(ProcessState::Zombie);
        zombie.ppid = 77;
        zombie.signals.ignored = vec![Signal::TERM];
        let why = why_it_stays(&zombie, Signal::KILL);
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("only its parent 77"), "{why:?}");
    }

    #[test]
    fn nothing_in_the_way() {
        let running = info(ProcessState::Running);
        assert_eq!(
            why_it_stays(&running, Signal::TERM),
            ["nothing in /proc keeps it from ending on SIGTERM"]
        );
    }
}
