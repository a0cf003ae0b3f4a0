//! `afterlife status`'s list, the same on both sides of the seam: one entry
//! per PID (the OS's status, or the error that kept it), the exit code they
//! add up to, and their rendering; each side brings its status reader and
//! its words for one status.

use std::fmt::Display;

use serde::Serialize;

use crate::cli::output::Output;
use crate::cli::{Failure, StatusArgs, refuse_quiet_json};
use crate::exit_code;
use crate::process::Pid;

/// One PID's line of the list.
#[derive(Serialize)]
#[serde(untagged)]
enum Entry<T> {
    Status(T),
    Error {
        pid: u32,
        status: &'static str,
        error: String,
    },
}

/// How one side reads and words a status.
pub(crate) trait StatusSide {
    /// The status of one process, as its report serializes.
    type Status: Serialize;
    /// Why a status could not be read.
    type Error: Display;
    fn status_of(&self, pid: Pid) -> Result<Self::Status, Self::Error>;
    fn is_running(&self, status: &Self::Status) -> bool;
    /// The one line a person reads for `status`.
    fn describe(&self, status: &Self::Status, output: &Output) -> String;
}

/// `status PID...`: 0 when every process runs, 1 when one has ended (and
/// none failed), the failure code when one could not be read.
pub(crate) fn run<S: StatusSide>(side: &S, args: &StatusArgs, output: &Output) -> Result<u8, Failure> {
    refuse_quiet_json(args.quiet, output)?;
    let (entries, code) = entries(side, &args.pids);
    if output.json() {
        output.json_list("processes", &entries);
        return Ok(code);
    }
    for entry in &entries {
        match entry {
            Entry::Status(_) if args.quiet => {}
            Entry::Status(status) => output.line(&side.describe(status, output)),
            Entry::Error { error, .. } => output.error(error),
        }
    }
    Ok(code)
}

fn entries<S: StatusSide>(side: &S, pids: &[Pid]) -> (Vec<Entry<S::Status>>, u8) {
    let mut code = exit_code::SUCCESS;
    let entries = pids
        .iter()
        .map(|&pid| match side.status_of(pid) {
            Ok(status) => {
                if !side.is_running(&status) && code == exit_code::SUCCESS {
                    code = exit_code::NEGATIVE;
                }
                Entry::Status(status)
            }
            Err(error) => {
                code = exit_code::FAILURE;
                Entry::Error {
                    pid: pid.get().unsigned_abs(),
                    status: "error",
                    error: error.to_string(),
                }
            }
        })
        .collect();
    (entries, code)
}
