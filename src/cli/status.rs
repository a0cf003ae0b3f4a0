//! `afterlife status`: text and JSON rendering of [`crate::observe::status`].

use serde::Serialize;

use crate::cli::output::{Output, Style};
use crate::cli::{Failure, StatusArgs, refuse_quiet_json};
use crate::exit_code;
use crate::observe::EndingReport;
use crate::observe::status::{PidStatus, status_of};
use crate::process::Pid;
use crate::text::{display_command_line, escape};

#[derive(Serialize)]
#[serde(untagged)]
enum Entry {
    Status(PidStatus),
    Error {
        pid: Pid,
        status: &'static str,
        error: String,
    },
}

pub(crate) fn run(args: &StatusArgs, output: &Output) -> Result<u8, Failure> {
    refuse_quiet_json(args.quiet, output)?;
    let mut entries = Vec::new();
    let mut code = exit_code::SUCCESS;
    for &pid in &args.pids {
        match status_of(pid) {
            Ok(status) => {
                if !status.is_running() && code == exit_code::SUCCESS {
                    code = exit_code::NEGATIVE;
                }
                entries.push(Entry::Status(status));
            }
            Err(error) => {
                code = exit_code::FAILURE;
                entries.push(Entry::Error {
                    pid,
                    status: "error",
                    error: error.to_string(),
                });
            }
        }
    }
    if output.json() {
        output.json_list("processes", &entries);
        return Ok(code);
    }
    for entry in &entries {
        match entry {
            Entry::Status(_) if args.quiet => {}
            Entry::Status(status) => output.line(&describe(status, output)),
            Entry::Error { error, .. } => output.error(error),
        }
    }
    Ok(code)
}

fn describe(status: &PidStatus, output: &Output) -> String {
    match status {
        PidStatus::Running { process } => {
            let command = if process.cmdline.is_empty() {
                format!("[{}]", escape(&process.name))
            } else {
                display_command_line(&process.cmdline)
            };
            format!(
                "{} {}: {} — {}, {}; parent {}; {}",
                process.pid,
                output.paint(Style::Bold, &escape(&process.name)),
                output.paint(Style::Good, "running (still active)"),
                process.state,
                process.state.meaning(),
                process.ppid,
                command
            )
        }
        PidStatus::Zombie {
            process,
            ending,
            parent,
        } => {
            let how = match ending {
                EndingReport::Known { views, .. } => format!("{} ($? = {})", views.status, views.shell_code),
                EndingReport::Unobservable { reason } => format!("ended; exit status not observable: {reason}"),
            };
            let reaper = match parent {
                Some(parent) => format!(
                    "its parent {} ({}, {}) has not reaped it",
                    parent.pid,
                    escape(&parent.name),
                    parent.state.name()
                ),
                None => format!("its parent {} has not reaped it", process.ppid),
            };
            format!(
                "{} {}: {} — {how}; {reaper}",
                process.pid,
                output.paint(Style::Bold, &escape(&process.name)),
                output.paint(Style::Warn, "zombie"),
            )
        }
        PidStatus::Gone { pid } => format!(
            "{pid}: {} — no such process (it never existed, or it ended and was reaped)",
            output.paint(Style::Dim, "gone")
        ),
    }
}
