//! Why a scenario could not be run to its end. Each variant carries the PID
//! or the object involved; messages are lowercase and read well after
//! "failed to".

use std::io;

use crate::process::{OpenError, Pid, SignalError, WaitError};

/// A scenario could not be run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The afterlife binary could not start itself in its hidden mode.
    #[error("start the demo child '{mode}': {source}")]
    Spawn {
        /// The hidden mode.
        mode: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A child said something other than what its mode promises.
    #[error("understand demo child {pid}: {message}")]
    Protocol {
        /// The child.
        pid: Pid,
        /// What was wrong.
        message: String,
    },
    /// A child did not do what it should within the time allowed.
    #[error("see demo child {pid} {what} in time")]
    Timeout {
        /// The child.
        pid: Pid,
        /// What it should have done.
        what: &'static str,
    },
    /// Opening a process handle failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Sending a signal failed.
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// Waiting failed.
    #[error(transparent)]
    Wait(#[from] WaitError),
    /// The exit status of a process could not be known.
    #[error("learn how process {pid} ended: {reason}")]
    Unobservable {
        /// The process.
        pid: Pid,
        /// Why.
        reason: String,
    },
    /// A system call or file operation of the scenario itself failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl DemoError {
    /// An I/O failure while doing `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> DemoError {
        let what = what.into();
        move |source| DemoError::Io { what, source }
    }
}
