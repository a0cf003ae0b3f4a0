//! `why`: why a process does not die.
//!
//! The Linux counterparts of what makes a Windows process resist
//! `TerminateProcess` — a pending I/O request, a suspended process, an
//! attached debugger, a driver — are read from /proc and cgroupfs and turned
//! into findings, each with its evidence (the file and field, and the value
//! read), plain words and the next step that would work.
//!
//! - [`mod@gather`] reads the facts: `/proc/PID/stat` (state, `PF_EXITING`,
//!   `PF_KTHREAD`, tpgid), `/proc/PID/status` (`TracerPid`, `NSpid`,
//!   `SigBlk/SigIgn/SigCgt/SigPnd/ShdPnd`, `CoreDumping`), per thread
//!   `/proc/PID/task/TID/{stat,status,wchan,stack,syscall,cgroup}`,
//!   `/proc/PID/fd`, `fdinfo` and `mountinfo` for the file a blocked system
//!   call waits on, `/proc/PID/sched` for how long a zombie has been one,
//!   cgroup v2 `cgroup.freeze`/`cgroup.events` and v1 `freezer.state`,
//!   and kcmp(2) `KCMP_VM` (Linux 3.5) for a vfork parent's child.
//! - [`mod@decide`] turns the facts into a [`Diagnosis`] with pure functions.
//!
//! [`diagnose`] does both for a [`Process`]; other commands (`kill`, for
//! each survivor) call it and show [`Diagnosis::summary`].

pub mod decide;
pub mod facts;
pub mod gather;
pub mod parse;
pub mod report;

pub use decide::decide;
pub use facts::Facts;
pub use gather::gather;
pub use report::{Diagnosis, Evidence, Finding, FindingKind, KillEffect, SignalOutcome, ThreadRef};

use crate::process::{OpenError, Pid, Process, ReadError};

/// Diagnosing a process failed.
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    /// The process could not be opened (no such process, permission).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Its facts could not be read (it exited and was reaped meanwhile).
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Why `process` does not die, or that nothing holds it.
pub fn diagnose(process: &Process) -> Result<Diagnosis, DiagnoseError> {
    let facts = gather(process)?;
    Ok(decide(&facts))
}

/// Opens `pid` through a pidfd and diagnoses it.
pub fn diagnose_pid(pid: Pid) -> Result<Diagnosis, DiagnoseError> {
    let process = Process::open(pid)?;
    diagnose(&process)
}
