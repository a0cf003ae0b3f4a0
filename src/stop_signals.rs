//! SIGINT, SIGTERM and SIGHUP blocked and read from a signalfd, for the
//! long-running commands (`watch`, `deaths`) that end cleanly on them: the
//! signals arrive as readable data in the same `poll` as everything else,
//! and no handler runs (signalfd(2)). The mask before is put back on drop.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::sys::linux::signal::{self as sys_signal, SigSet};

/// The stop signals, blocked, and the signalfd they are read from.
pub(crate) struct StopSignals {
    fd: OwnedFd,
    previous: SigSet,
}

impl StopSignals {
    /// Blocks the stop signals in this thread (and the threads it starts
    /// later) and opens their signalfd; on failure, the call that failed.
    pub(crate) fn install() -> Result<StopSignals, (&'static str, std::io::Error)> {
        let set = SigSet::of(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP]);
        let previous = sys_signal::block(&set).map_err(|e| ("pthread_sigmask", e))?;
        match sys_signal::signalfd(&set) {
            Ok(fd) => Ok(StopSignals { fd, previous }),
            Err(source) => {
                let _ = sys_signal::set_mask(&previous);
                Err(("signalfd", source))
            }
        }
    }

    /// The signalfd, readable when a stop signal is pending.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        // Putting back a mask saved earlier cannot fail.
        let _ = sys_signal::set_mask(&self.previous);
    }
}
