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
        /// Its tracer (a debugger), while one is attached: the parent is
        /// told of the exit only once the tracer has waited for it or
        /// detached, so the tracer must collect it first.
        #[serde(skip_serializing_if = "Option::is_none")]
        tracer: Option<ParentFacts>,
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

/// Whether the zombie `process` has the parent `ppid` now: its status
/// read, then its pidfd asked whether it is still there (the status was
/// its own). A parent that ends hands its zombie on (reparenting) before
/// its PID is free again, so the parent read before this was its parent.
fn still_child_of(process: &Process, ppid: i32) -> bool {
    crate::proc::status::read(process.pid()).is_ok_and(|status| status.ppid == ppid)
        && process.exists().unwrap_or(false)
}

/// Looks up one PID. "No such process" is an answer (`Gone`), not an error;
/// permission problems and other failures are errors.
pub fn status_of(pid: Pid) -> Result<PidStatus, OpenError> {
    let (process, info) = match Process::open_with_info(pid) {
        Ok((process, info)) => (process, info.with_a_threads_tracer()),
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
    let facts_of = |pid: i32| {
        Pid::new(pid)
            .and_then(|pid| ProcessInfo::read(pid).ok())
            .map(|p| ParentFacts {
                pid: p.pid,
                name: p.name,
                state: p.state,
            })
    };
    let parent = facts_of(info.ppid);
    let tracer = info.tracer_pid.and_then(facts_of);
    // The parent read is its own only if it still is: one that ended
    // meanwhile may have left its PID to another process.
    let parent = parent.filter(|_| still_child_of(&process, info.ppid));
    Ok(PidStatus::Zombie {
        process: Box::new(info),
        ending,
        parent,
        tracer,
    })
}
