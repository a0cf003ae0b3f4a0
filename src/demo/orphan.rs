//! Scenario 14: a child outlives its parent. The kernel reparents it, at
//! its parent's exit, to the nearest ancestor that called
//! `prctl(PR_SET_CHILD_SUBREAPER)` or else to PID 1 of its PID namespace
//! (prctl(2)); it runs on until someone ends it — here, the demo, through
//! a pidfd opened while its first parent was still alive. A second run
//! puts a subreaper between the demo and the orphan's parent: the orphan
//! goes to it instead of init, and it reaps it.

use crate::demo::error::DemoError;
use crate::demo::spawn::{STEP, Spawn, Stray, field, wait_gone};
use crate::demo::{Check, Outcome, RunReport, fds_check, gone_check, run_report, status_check};
use crate::exit::ExitStatus;
use crate::process::{Pid, ProcessInfo, StatusSource};
use crate::signal::Signal;

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|n| n.trim_end().to_string())
        .unwrap_or_else(|_| "?".to_string())
}

/// 14: an orphan lives on, adopted by init or a subreaper.
pub(crate) fn orphan(outcome: &mut Outcome) -> Result<(), DemoError> {
    to_init(outcome)?;
    outcome.run(to_subreaper()?);
    Ok(())
}

/// The orphan of a subreaper's child goes to the subreaper.
fn to_subreaper() -> Result<RunReport, DemoError> {
    let mut subreaper = Spawn::new("subreaper").start()?;
    let subreaper_pid = subreaper.pid();
    let fields = subreaper.ready()?;
    let middle: Pid = field(&fields, "middle", subreaper_pid)?;
    let orphan_pid: Pid = field(&fields, "child", subreaper_pid)?;
    // The middle has exited and was reaped; the orphan sleeps, so its PID
    // is still its own.
    let mut orphan = Stray::open(orphan_pid)?;
    let info = orphan.process().info().ok();
    let ppid = info.as_ref().map_or(0, |i| i.ppid);
    let alive = info.as_ref().is_some_and(|i| i.state.is_alive());
    let orphan_end = orphan.end(Signal::KILL)?;
    subreaper.go()?;
    let reaped = wait_gone(orphan_pid, orphan.process().start_ticks(), STEP);
    let subreaper_end = subreaper.wait()?;
    let checks = vec![
        Check::stayed(
            "orphan",
            format!("the child of {middle} lives on after {middle} exited"),
            format!(
                "{orphan_pid} is {}",
                info.as_ref().map_or("gone".to_string(), |i| i.state.name().to_string())
            ),
            alive,
        ),
        Check::observed(
            "reparented",
            format!("the orphan goes to the subreaper {subreaper_pid}, not to init"),
            format!(
                "PPID now {ppid} ({})",
                if ppid == subreaper_pid.get() {
                    "the subreaper"
                } else {
                    "not the subreaper"
                }
            ),
            ppid == subreaper_pid.get(),
        ),
        status_check(
            orphan_end.0,
            ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false,
            },
        ),
        Check::went(
            "orphan (reaped)",
            "the subreaper reaps it and then exits 0",
            format!(
                "/proc/{orphan_pid} {}; subreaper: {}",
                if reaped { "gone" } else { "still there" },
                subreaper_end.0
            ),
            reaped && subreaper_end.0 == ExitStatus::Exited { code: 0 },
        ),
    ];
    Ok(run_report(
        "under a subreaper",
        format!(
            "a child that set PR_SET_CHILD_SUBREAPER started {middle}, which started {orphan_pid} and exited; the demo ended {orphan_pid} through its pidfd (SIGKILL)"
        ),
        orphan_pid,
        orphan_end,
        checks,
    ))
}

/// With no subreaper in between, the orphan goes to init.
fn to_init(outcome: &mut Outcome) -> Result<(), DemoError> {
    let mut parent = Spawn::new("orphan-parent").start()?;
    let parent_pid = parent.pid();
    let fields = parent.ready()?;
    let orphan_pid: Pid = field(&fields, "child", parent_pid)?;
    let mut orphan = Stray::open(orphan_pid)?;
    let ppid_before = orphan.process().info().map(|i| i.ppid).unwrap_or(0);
    parent.go()?;
    let parent_end = parent.wait()?;
    // The reparenting happens in the parent's exit, before it is reaped;
    // poll briefly in case /proc lags.
    let deadline = std::time::Instant::now() + STEP;
    let mut info: Option<ProcessInfo> = orphan.process().info().ok();
    while info.as_ref().is_some_and(|i| i.ppid == parent_pid.get()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
        info = orphan.process().info().ok();
    }
    let alive = info.as_ref().is_some_and(|i| i.state.is_alive()) && !orphan.process().has_exited();
    let new_ppid = info.as_ref().map_or(0, |i| i.ppid);
    let adopter = if new_ppid == 1 {
        format!("PID 1 ({}), init", comm(1))
    } else {
        format!("PID {new_ppid} ({}), the nearest child subreaper", comm(new_ppid))
    };
    let checks = vec![
        status_check(parent_end.0, ExitStatus::Exited { code: 0 }),
        Check::stayed(
            "orphan",
            format!("its child {orphan_pid} lives on"),
            format!(
                "{orphan_pid} is {} after its parent's end",
                info.as_ref().map_or("gone".to_string(), |i| i.state.name().to_string())
            ),
            alive,
        ),
        Check::observed(
            "reparented",
            format!("the orphan is reparented away from {parent_pid}, to init or a subreaper"),
            format!("PPID was {ppid_before}, is now {new_ppid}: {adopter}"),
            ppid_before == parent_pid.get() && new_ppid != parent_pid.get() && new_ppid > 0,
        ),
        fds_check(&mut parent),
        gone_check(parent_pid),
    ];
    outcome.run(run_report(
        "the parent",
        format!("the child started {orphan_pid} and exited 0 without waiting for it"),
        parent_pid,
        parent_end,
        checks,
    ));

    let orphan_end = orphan.end(Signal::KILL)?;
    // Not ours to reap: wait (bounded) for its new parent to do it.
    let reap_start = std::time::Instant::now();
    let reaped = wait_gone(orphan_pid, orphan.process().start_ticks(), STEP);
    let reap_time = reap_start.elapsed();
    let checks = vec![
        status_check(
            orphan_end.0,
            ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false,
            },
        ),
        Check::observed(
            "status known",
            "its exit status is known though another process is its parent",
            format!(
                "from {}",
                match orphan_end.1 {
                    StatusSource::Waitid => "waitid",
                    StatusSource::PidfdInfo => "PIDFD_INFO_EXIT, after its new parent reaped it",
                    StatusSource::ZombieStat => "the zombie's /proc/PID/stat, before its new parent reaped it",
                }
            ),
            orphan_end.1 != StatusSource::Waitid,
        ),
        Check::went(
            "orphan (reaped)",
            format!("its new parent {new_ppid} reaps it"),
            if reaped {
                format!("/proc/{orphan_pid} gone after {} ms", reap_time.as_millis())
            } else {
                format!("/proc/{orphan_pid} still there after {} s", STEP.as_secs())
            },
            reaped,
        ),
    ];
    outcome.run(run_report(
        "the orphan",
        "ended through the pidfd the demo opened while its first parent lived (SIGKILL)",
        orphan_pid,
        orphan_end,
        checks,
    ));
    Ok(())
}
