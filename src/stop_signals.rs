//! SIGINT, SIGTERM and SIGHUP blocked and read from a signalfd, for the
//! long-running commands (`watch`, `deaths`) that end cleanly on them: the
//! signals arrive as readable data in the same `poll` as everything else,
//! and no handler runs (signalfd(2)). The mask before is put back on drop.

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

/// The stop signals, blocked, and the signalfd they are read from.
pub(crate) struct StopSignals {
    fd: OwnedFd,
    previous: libc::sigset_t,
}

impl StopSignals {
    /// Blocks the stop signals in this thread (and the threads it starts
    /// later) and opens their signalfd; on failure, the call that failed.
    pub(crate) fn install() -> Result<StopSignals, (&'static str, std::io::Error)> {
        // SAFETY: plain libc calls on local sigset_t values; every result
        // is checked.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, signal);
            }
            let mut previous: libc::sigset_t = std::mem::zeroed();
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous);
            if rc != 0 {
                return Err(("pthread_sigmask", std::io::Error::from_raw_os_error(rc)));
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                let source = std::io::Error::last_os_error();
                libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
                return Err(("signalfd", source));
            }
            Ok(StopSignals {
                fd: OwnedFd::from_raw_fd(fd),
                previous,
            })
        }
    }

    /// The signalfd, readable when a stop signal is pending.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved at install.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut());
        }
    }
}
