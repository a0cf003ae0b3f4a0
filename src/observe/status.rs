//! `afterlife status`: is it still running, and if not, how did it end?
//!
//! The Linux counterpart of `GetExitCodeProcess`: STILL_ACTIVE becomes
//! "running" with its scheduler state; a zombie's exit status is read from
//! `/proc/PID/stat` field 52 along with the parent that has not reaped it.

use serde::Serialize;

use crate::observe::EndingReport;
use crate::process::{OpenError, Pid, Process, ProcessInfo, ProcessState};

/// The status of one PID.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PidStatus {
    /// Alive (anything but a zombie).
    Running {
        /// Its facts.
        process: Box<ProcessInfo>,
    },
    /// Dead, waiting for its parent to reap it.
    Zombie {
        /// Its facts.
        process: Box<ProcessInfo>,
        /// How it ended.
        ending: EndingReport,
        /// The parent that has to reap it.
        parent: Option<ParentFacts>,
    },
    /// No process has this PID.
    Gone {
        /// The PID.
        pid: Pid,
    },
}

/// The parent of a zombie.
#[derive(Debug, Clone, Serialize)]
pub struct ParentFacts {
    /// Its PID.
    pub pid: Pid,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: ProcessState,
}

impl PidStatus {
    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        matches!(self, PidStatus::Running { .. })
    }
}

/// Looks up one PID. "No such process" is an answer (`Gone`), not an error;
/// permission problems and other failures are errors.
pub fn status_of(pid: Pid) -> Result<PidStatus, OpenError> {
    let (process, info) = match Process::open_with_info(pid) {
        Ok(opened) => opened,
        Err(OpenError::NoSuchProcess { pid }) => return Ok(PidStatus::Gone { pid }),
        Err(other) => return Err(other),
    };
    if info.state.is_alive() {
        return Ok(PidStatus::Running {
            process: Box::new(info),
        });
    }
    let ending = process
        .peek_exit_observation()
        .map(EndingReport::from)
        .unwrap_or_else(|e| EndingReport::Unobservable { reason: e.to_string() });
    let parent = Pid::new(info.ppid)
        .and_then(|ppid| ProcessInfo::read(ppid).ok())
        .map(|parent| ParentFacts {
            pid: parent.pid,
            name: parent.name,
            state: parent.state,
        });
    Ok(PidStatus::Zombie {
        process: Box::new(info),
        ending,
        parent,
    })
}
