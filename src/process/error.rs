//! Errors of the process operations, one enum per operation, each carrying the
//! PID and the system call or /proc file involved. Messages are lowercase and
//! read well after "failed to ...".

use std::io;

use crate::process::Pid;

/// Opening a process handle failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// No process has this PID (it never existed, or it exited and was reaped).
    #[error("no such process: {pid}")]
    NoSuchProcess {
        /// The PID asked for.
        pid: Pid,
    },
    /// The PID now belongs to a process started at another time.
    #[error(
        "process {pid} is not the one expected: it started {found} clock ticks after boot, not {expected} (the PID was reused)"
    )]
    Reused {
        /// The PID.
        pid: Pid,
        /// The start time we expected, in clock ticks after boot.
        expected: u64,
        /// The start time found.
        found: u64,
    },
    /// The ID is one of a process's threads, not a process's own: the
    /// kernel opens no pidfd on it (and `kill` would signal its process).
    #[error("{tid} is a thread of process {tgid}, not a process: ask about {tgid}")]
    Thread {
        /// The thread ID asked for.
        tid: Pid,
        /// Its process.
        tgid: i32,
    },
    /// The process exists (its pidfd says so) but /proc does not show it:
    /// /proc is mounted with `hidepid`, which hides other users' processes.
    #[error(
        "process {pid} exists, but /proc does not show it (mounted with hidepid, which hides other users' processes): ask as its user or as root"
    )]
    Hidden {
        /// The PID.
        pid: Pid,
    },
    /// The kernel refused.
    #[error("permission denied for process {pid} ({syscall})")]
    PermissionDenied {
        /// The PID.
        pid: Pid,
        /// The call that was refused.
        syscall: &'static str,
    },
    /// Another failure of a system call or /proc read.
    #[error("{syscall} for process {pid}: {source}")]
    Io {
        /// The PID.
        pid: Pid,
        /// The call that failed.
        syscall: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Sending a signal failed.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// The process has exited; its PID may now be someone else's, and was not
    /// signalled.
    #[error("process {pid} has already exited; nothing was signalled")]
    Exited {
        /// The PID it had.
        pid: Pid,
    },
    /// `EPERM`: not allowed to signal it.
    #[error("permission denied to signal process {pid} (pidfd_send_signal)")]
    PermissionDenied {
        /// The PID.
        pid: Pid,
    },
    /// Another failure.
    #[error("pidfd_send_signal to process {pid}: {source}")]
    Io {
        /// The PID.
        pid: Pid,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Reading a process's facts from /proc failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The process exited and was reaped while we read.
    #[error("process {pid} exited while it was being read")]
    Gone {
        /// The PID.
        pid: Pid,
    },
    /// Permission denied reading a /proc file.
    #[error("permission denied reading /proc/{pid}/{file}")]
    PermissionDenied {
        /// The PID.
        pid: Pid,
        /// The file under /proc/PID.
        file: &'static str,
    },
    /// Another failure.
    #[error("reading /proc/{pid}/{file}: {source}")]
    Io {
        /// The PID.
        pid: Pid,
        /// The file under /proc/PID.
        file: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Waiting for a process failed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// A system call failed.
    #[error("{syscall} for process {pid}: {source}")]
    Io {
        /// The PID.
        pid: Pid,
        /// The call that failed.
        syscall: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    /// Maps a procfs error on `/proc/PID/file`.
    pub(crate) fn from_proc(pid: Pid, file: &'static str, error: crate::proc::ProcError) -> ReadError {
        match error {
            // ENOENT/ESRCH on /proc/PID: the process vanished mid-read.
            crate::proc::ProcError::NotFound(_) => ReadError::Gone { pid },
            crate::proc::ProcError::PermissionDenied(_) => ReadError::PermissionDenied { pid, file },
            crate::proc::ProcError::Io(source, _) => match source.raw_os_error() {
                Some(libc::ESRCH) | Some(libc::ENOENT) => ReadError::Gone { pid },
                Some(libc::EACCES) | Some(libc::EPERM) => ReadError::PermissionDenied { pid, file },
                _ => ReadError::Io { pid, file, source },
            },
            other => ReadError::Io {
                pid,
                file,
                source: io::Error::other(other.to_string()),
            },
        }
    }

    /// Maps an I/O error on `/proc/PID/file`.
    pub fn from_io(pid: Pid, file: &'static str, source: io::Error) -> ReadError {
        match source.raw_os_error() {
            // ENOENT/ESRCH on /proc/PID: the process vanished mid-read.
            Some(libc::ESRCH) | Some(libc::ENOENT) => ReadError::Gone { pid },
            Some(libc::EACCES) | Some(libc::EPERM) => ReadError::PermissionDenied { pid, file },
            _ => ReadError::Io { pid, file, source },
        }
    }
}
