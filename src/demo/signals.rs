//! Scenarios 4, 5, 7 and 8: a signal from outside — SIGKILL
//! (TerminateProcess), SIGINT (Ctrl+C), SIGHUP (logoff), SIGTERM then
//! SIGKILL (shutdown) — with the default action, a handler, or the signal
//! ignored. Every signal goes through the child's pidfd.

use std::time::{Duration, Instant};

use crate::demo::error::DemoError;
use crate::demo::spawn::{DemoChild, ScratchDir, Spawn};
use crate::demo::{Check, Outcome, fds_check, gone_check, run_report, status_check, zombie_memory_check};
use crate::exit::ExitStatus;
use crate::signal::Signal;

/// How long a process that should survive a signal is watched.
const SURVIVAL: Duration = Duration::from_millis(250);

/// The grace a shutdown gives between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_millis(300);

fn killed(signal: Signal) -> ExitStatus {
    ExitStatus::Signaled {
        signal,
        core_dumped: false,
    }
}

/// Whether `signal` is in the child's caught (`SigCgt`) or ignored
/// (`SigIgn`) mask, as /proc shows it now.
fn disposition_check(child: &DemoChild, signal: Signal, expected: &str) -> Check {
    let (caught, ignored) = match child.process().info() {
        Ok(info) => (
            info.signals.caught.contains(&signal),
            info.signals.ignored.contains(&signal),
        ),
        // Gone already: neither.
        Err(_) => (false, false),
    };
    let measured = match (caught, ignored) {
        (true, _) => format!("{signal} is in SigCgt (caught by a handler)"),
        (_, true) => format!("{signal} is in SigIgn (ignored)"),
        _ => format!("{signal} is in neither SigCgt nor SigIgn (default action)"),
    };
    let held = match expected {
        "caught" => caught,
        "ignored" => ignored,
        _ => !caught && !ignored,
    };
    Check::observed(
        "disposition",
        format!("{signal} is {expected}, per /proc"),
        measured,
        held,
    )
}

/// 4: SIGKILL from outside.
pub(crate) fn sigkill(outcome: &mut Outcome) -> Result<(), DemoError> {
    let scratch = ScratchDir::new("sigkill")?;
    let marker = scratch.path().join("dropped");
    let mut child = Spawn::new("wait").arg(marker.display()).start()?;
    let pid = child.pid();
    child.ready()?;
    let rss = procfs_rss(pid);
    child.signal(Signal::KILL)?;
    child.wait_exited()?;
    let memory = zombie_memory_check(pid, rss);
    let ended = child.wait()?;
    let checks = vec![
        status_check(ended.0, killed(Signal::KILL)),
        memory,
        fds_check(&mut child),
        Check::observed(
            "no cleanup",
            "no destructor, atexit handler or signal handler runs: SIGKILL cannot be caught",
            if marker.exists() {
                "the Drop impl's marker file exists"
            } else {
                "the Drop impl's marker file is absent"
            },
            !marker.exists(),
        ),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "SIGKILL",
        "sent SIGKILL through the child's pidfd",
        pid,
        ended,
        checks,
    ));
    Ok(())
}

/// VmRSS of `pid` in kB.
pub(crate) fn procfs_rss(pid: crate::process::Pid) -> Option<u64> {
    crate::proc::Process::new(pid.get()).ok()?.status().ok()?.vmrss
}

/// 5: SIGINT with the default action, and with a handler that exits cleanly.
pub(crate) fn ctrl_c(outcome: &mut Outcome) -> Result<(), DemoError> {
    let mut child = Spawn::new("wait").start()?;
    let pid = child.pid();
    child.ready()?;
    let disposition = disposition_check(&child, Signal::INT, "default");
    child.signal(Signal::INT)?;
    let ended = child.wait()?;
    let checks = vec![
        disposition,
        status_check(ended.0, killed(Signal::INT)),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "default action",
        "sent SIGINT (what Ctrl+C sends to the foreground process group)",
        pid,
        ended,
        checks,
    ));

    let scratch = ScratchDir::new("ctrl-c")?;
    let marker = scratch.path().join("cleaned-up");
    let mut child = Spawn::new("sigint-handler").arg(marker.display()).start()?;
    let pid = child.pid();
    child.ready()?;
    let disposition = disposition_check(&child, Signal::INT, "caught");
    child.signal(Signal::INT)?;
    let ended = child.wait()?;
    let checks = vec![
        disposition,
        status_check(ended.0, ExitStatus::Exited { code: 0 }),
        Check::observed(
            "cleanup",
            "the handler's cleanup ran before the exit",
            if marker.exists() {
                "its cleanup file was written"
            } else {
                "no cleanup file"
            },
            marker.exists(),
        ),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "with a handler",
        "sent SIGINT to a child whose sigaction handler cleans up and exits 0",
        pid,
        ended,
        checks,
    ));
    Ok(())
}

/// 7: SIGHUP by default and ignored (nohup).
pub(crate) fn logoff(outcome: &mut Outcome) -> Result<(), DemoError> {
    let mut child = Spawn::new("wait").start()?;
    let pid = child.pid();
    child.ready()?;
    child.signal(Signal::HUP)?;
    let ended = child.wait()?;
    let checks = vec![
        status_check(ended.0, killed(Signal::HUP)),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "default action",
        "sent SIGHUP (what the processes of a terminal get when the user logs off)",
        pid,
        ended,
        checks,
    ));

    let mut child = Spawn::new("ignore").arg("HUP").start()?;
    let pid = child.pid();
    child.ready()?;
    let disposition = disposition_check(&child, Signal::HUP, "ignored");
    child.signal(Signal::HUP)?;
    let survived = child.survives(SURVIVAL)?;
    child.signal(Signal::TERM)?;
    let ended = child.wait()?;
    let checks = vec![
        disposition,
        Check::stayed(
            "process",
            "a process that ignores SIGHUP (as under nohup) survives the logoff",
            format!(
                "{} {} ms after SIGHUP",
                if survived { "still running" } else { "ended" },
                SURVIVAL.as_millis()
            ),
            survived,
        ),
        status_check(ended.0, killed(Signal::TERM)),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "ignored (nohup)",
        "sent SIGHUP to a child that ignores it, then SIGTERM",
        pid,
        ended,
        checks,
    ));
    Ok(())
}

/// 8: SIGTERM, then SIGKILL after a grace.
pub(crate) fn shutdown(outcome: &mut Outcome) -> Result<(), DemoError> {
    let scratch = ScratchDir::new("shutdown")?;
    let marker = scratch.path().join("state-saved");
    let mut child = Spawn::new("term-handler").arg(marker.display()).start()?;
    let pid = child.pid();
    child.ready()?;
    let sent = Instant::now();
    child.signal(Signal::TERM)?;
    let within_grace = !child.survives(GRACE)?;
    let took = sent.elapsed();
    if !within_grace {
        child.signal(Signal::KILL)?;
    }
    let ended = child.wait()?;
    let checks = vec![
        status_check(ended.0, ExitStatus::Exited { code: 0 }),
        Check::observed(
            "within the grace",
            format!("it ends by itself within the {} ms grace", GRACE.as_millis()),
            format!("ended {:.1} ms after SIGTERM", took.as_secs_f64() * 1000.0),
            within_grace,
        ),
        Check::stayed(
            "saved state",
            "what its handler saved stays",
            if marker.exists() {
                "its state file exists"
            } else {
                "no state file"
            },
            marker.exists(),
        ),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "handles SIGTERM",
        format!(
            "sent SIGTERM; its handler saved its state and exited; SIGKILL would have followed after {} ms",
            GRACE.as_millis()
        ),
        pid,
        ended,
        checks,
    ));

    let mut child = Spawn::new("ignore").arg("TERM").start()?;
    let pid = child.pid();
    child.ready()?;
    child.signal(Signal::TERM)?;
    let survived = child.survives(GRACE)?;
    child.signal(Signal::KILL)?;
    let ended = child.wait()?;
    let checks = vec![
        Check::observed(
            "survived the grace",
            "a process that ignores SIGTERM is still there when the grace ends",
            format!(
                "{} {} ms after SIGTERM",
                if survived { "still running" } else { "ended" },
                GRACE.as_millis()
            ),
            survived,
        ),
        status_check(ended.0, killed(Signal::KILL)),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "ignores SIGTERM",
        format!(
            "sent SIGTERM, waited the {} ms grace on its pidfd, then sent SIGKILL",
            GRACE.as_millis()
        ),
        pid,
        ended,
        checks,
    ));
    Ok(())
}
