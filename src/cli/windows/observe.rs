//! `status` and `wait` on Windows: text and JSON rendering of
//! [`crate::sys::windows::observe`].

use crate::cli::output::{Output, Style};
use crate::cli::status_list::{self, StatusSide};
use crate::cli::{Failure, StatusArgs, WaitArgs, refuse_quiet_json};
use crate::duration::format_duration;
use crate::exit_code;
use crate::sys::windows::observe::{WaitOutcome, WindowsStatus, status_of, wait_for};
use crate::text::escape_native as escape;

fn pid_of(pid: crate::process::Pid) -> u32 {
    pid.get().unsigned_abs()
}

pub(crate) mod status {
    pub(crate) use super::status_run as run;
}

pub(crate) mod wait {
    pub(crate) use super::wait_run as run;
}

/// The Windows side of `status`: process handles.
struct Windows;

impl StatusSide for Windows {
    type Status = WindowsStatus;
    type Error = crate::sys::windows::handle::OpenError;
    fn status_of(&self, pid: crate::process::Pid) -> Result<WindowsStatus, Self::Error> {
        status_of(pid_of(pid))
    }
    fn is_running(&self, status: &WindowsStatus) -> bool {
        status.is_running()
    }
    fn describe(&self, status: &WindowsStatus, output: &Output) -> String {
        describe_status(status, output)
    }
}

pub(crate) fn status_run(args: &StatusArgs, output: &Output) -> Result<u8, Failure> {
    status_list::run(&Windows, args, output)
}

fn describe_status(status: &WindowsStatus, output: &Output) -> String {
    match status {
        WindowsStatus::Running { process } => format!(
            "{} {}: {} (GetExitCodeProcess: STILL_ACTIVE, and its handle is not signaled); parent {}",
            process.pid,
            output.paint(Style::Bold, &escape(&process.name)),
            output.paint(Style::Good, "running"),
            process.ppid
        ),
        WindowsStatus::Exited { pid, name, ending } => format!(
            "{pid} {}: {} with {} (a handle still holds its process object)",
            output.paint(Style::Bold, &escape(name)),
            output.paint(Style::Warn, "exited"),
            ending.describe()
        ),
        WindowsStatus::Gone { pid } => format!(
            "{pid}: {} — no such process (it never existed, or it ended and no handle holds it)",
            output.paint(Style::Dim, "gone")
        ),
    }
}

pub(crate) fn wait_run(args: &WaitArgs, output: &Output) -> Result<u8, Failure> {
    refuse_quiet_json(args.quiet, output)?;
    let timeout = args.timeout.filter(|t| !t.is_zero());
    let pids: Vec<u32> = args.pids.iter().map(|&p| pid_of(p)).collect();
    let report = wait_for(&pids, timeout, |outcome| {
        if args.quiet {
        } else if output.json() {
            output.json_line(outcome);
        } else {
            output.line(&describe_wait(outcome, output));
        }
    })
    .map_err(Failure::new)?;
    if report.timed_out {
        for outcome in report.processes.iter().filter(|p| p.ending.is_none()) {
            if args.quiet {
            } else if output.json() {
                output.json_line(outcome);
            } else {
                output.line(&format!(
                    "{} {}: {} after {}",
                    outcome.pid,
                    output.paint(Style::Bold, &escape(&outcome.name)),
                    output.paint(Style::Warn, "still running"),
                    format_duration(timeout.unwrap_or_default())
                ));
            }
        }
        return Ok(exit_code::TIMED_OUT);
    }
    // As the shell's `wait`: the status of the last PID given.
    Ok(report
        .processes
        .last()
        .and_then(|p| p.ending.as_ref())
        .map_or(exit_code::SUCCESS, |e| e.shell_code()))
}

fn describe_wait(outcome: &WaitOutcome, output: &Output) -> String {
    let after = outcome
        .ended_after
        .map(|s| format_duration(std::time::Duration::from_secs_f64(s)));
    format!(
        "{} {}: ended with {}{}",
        outcome.pid,
        output.paint(Style::Bold, &escape(&outcome.name)),
        outcome.ending.as_ref().map(|e| e.describe()).unwrap_or_default(),
        after.map(|a| format!(" after {a}")).unwrap_or_default()
    )
}
