//! The pidfd system calls, in one place.
//!
//! - `pidfd_open(2)` (Linux 5.3): a file descriptor that refers to one
//!   process for as long as it is open, whatever later happens to its PID.
//! - `pidfd_send_signal(2)` (Linux 5.1): signal the process the pidfd refers
//!   to; `ESRCH` once it has exited, never a newer process with the same PID.
//! - `poll(2)` on a pidfd (Linux 5.3): readable once the process has exited
//!   (zombie or reaped).
//! - `waitid(P_PIDFD)` (Linux 5.4): reap our own child through its pidfd.
//! - `ioctl(PIDFD_GET_INFO)` with `PIDFD_INFO_EXIT` (Linux 6.15): the exit
//!   status of any process, child or not, once it has been reaped, provided a
//!   pidfd to it was open when it was reaped.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{PidfdFlags, WaitId, WaitIdOptions};

use crate::exit::ExitStatus;
use crate::process::Pid;
use crate::signal::Signal;
// `pidfd_send_signal(2)` with no siginfo and no flags, any number (0 only
// checks that the process exists and may be signalled).
use crate::sys::linux::process::pidfd_send_signal as raw_pidfd_send_signal;

/// Opens a pidfd for `pid`.
pub(crate) fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    rustix::process::pidfd_open(pid.to_rustix(), PidfdFlags::empty()).map_err(io::Error::from)
}

/// Sends `signal` through a pidfd.
///
/// Through the raw system call rather than rustix's: `Signal` holds every
/// number from 1 to SIGRTMAX, and rustix may not be handed 32 and 33, which
/// glibc keeps for itself but the kernel delivers like any other.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: Signal) -> io::Result<()> {
    raw_pidfd_send_signal(pidfd, signal.number()).map(drop)
}

/// Sends the null signal through a pidfd: the kernel checks that the
/// process exists and that we may signal it, and sends nothing.
pub(crate) fn pidfd_signal_zero(pidfd: BorrowedFd<'_>) -> io::Result<()> {
    raw_pidfd_send_signal(pidfd, 0)
}

/// Checks that the process behind a pidfd has not exited, by sending the null
/// signal (`EPERM` still proves it exists).
pub(crate) fn pidfd_alive(pidfd: BorrowedFd<'_>) -> io::Result<bool> {
    let Err(error) = raw_pidfd_send_signal(pidfd, 0) else {
        return Ok(true);
    };
    match error.raw_os_error() {
        Some(libc::ESRCH) => Ok(false),
        // EPERM: it exists, we may just not signal it.
        Some(libc::EPERM) => Ok(true),
        _ => Err(error),
    }
}

/// Waits until one of `pidfds` is readable (its process exited) or the
/// timeout passes; returns the indexes of the readable ones (empty on
/// timeout). `None` waits without limit.
pub(crate) fn poll_exited(pidfds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<usize>> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let mut fds: Vec<PollFd<'_>> = pidfds.iter().map(|fd| PollFd::new(fd, PollFlags::IN)).collect();
        let remaining = match (timeout, deadline) {
            (None, _) | (Some(_), None) => None,
            (Some(_), Some(deadline)) => Some(deadline.saturating_duration_since(Instant::now())),
        };
        let spec = remaining.map(|d| Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        match rustix::event::poll(&mut fds, spec.as_ref()) {
            Ok(_) => {
                let ready: Vec<usize> = fds
                    .iter()
                    .enumerate()
                    .filter(|(_, fd)| !fd.revents().is_empty())
                    .map(|(i, _)| i)
                    .collect();
                if !ready.is_empty() || remaining.is_some_and(|r| r.is_zero()) {
                    return Ok(ready);
                }
                if let Some(deadline) = deadline
                    && Instant::now() >= deadline
                {
                    return Ok(ready);
                }
            }
            // A signal interrupted the wait: go on with the time left.
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reaps our own child through its pidfd (`waitid(P_PIDFD, WEXITED)`).
/// `Ok(None)` when it has not exited yet (with `WNOHANG`).
pub(crate) fn waitid_pidfd(pidfd: BorrowedFd<'_>) -> io::Result<Option<ExitStatus>> {
    loop {
        match rustix::process::waitid(WaitId::PidFd(pidfd), WaitIdOptions::EXITED | WaitIdOptions::NOHANG) {
            Ok(Some(status)) => {
                let value = status
                    .exit_status()
                    .or_else(|| status.terminating_signal())
                    .unwrap_or(0);
                return Ok(exit_status_from_siginfo(status.raw_code(), value));
            }
            Ok(None) => return Ok(None),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn exit_status_from_siginfo(code: i32, status: i32) -> Option<ExitStatus> {
    match code {
        libc::CLD_EXITED => Some(ExitStatus::Exited { code: status as u8 }),
        libc::CLD_KILLED | libc::CLD_DUMPED => Signal::from_number(status).map(|signal| ExitStatus::Signaled {
            signal,
            core_dumped: code == libc::CLD_DUMPED,
        }),
        _ => None,
    }
}

/// What `PIDFD_GET_INFO` said about a process's exit.
pub(crate) enum PidfdExitInfo {
    /// The kernel recorded this wait status.
    Status(i32),
    /// The kernel answered but has no exit status for this pidfd: the
    /// process has not been reaped yet.
    NotRecorded,
    /// The kernel does not know `PIDFD_GET_INFO` (before Linux 6.13) or
    /// `PIDFD_INFO_EXIT` (before 6.15).
    Unsupported,
    /// The process is not in our PID namespace or its descendants.
    OtherNamespace,
}

/// Asks the kernel for the exit status recorded on a pidfd.
pub(crate) fn pidfd_exit_info(pidfd: BorrowedFd<'_>) -> io::Result<PidfdExitInfo> {
    let recorded = match crate::sys::linux::process::pidfd_exit_status(pidfd) {
        Ok(recorded) => recorded,
        Err(error) => {
            return match error.raw_os_error() {
                Some(libc::ENOTTY) | Some(libc::EINVAL) => Ok(PidfdExitInfo::Unsupported),
                // ESRCH: reaped with no exit information kept, or not visible
                // from our PID namespace.
                Some(libc::ESRCH) => Ok(PidfdExitInfo::OtherNamespace),
                _ => Err(error),
            };
        }
    };
    if let Some(status) = recorded {
        Ok(PidfdExitInfo::Status(status))
    } else if kernel_supports_pidfd_info_exit() {
        Ok(PidfdExitInfo::NotRecorded)
    } else {
        Ok(PidfdExitInfo::Unsupported)
    }
}

/// Whether the running kernel is 6.15 or later, where `PIDFD_INFO_EXIT`
/// exists. Asked once (a report asks it of each of a thousand members).
pub(crate) fn kernel_supports_pidfd_info_exit() -> bool {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| {
        let uname = rustix::system::uname();
        crate::resources::walk::kernel_at_least(&uname.release().to_string_lossy(), 6, 15)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn pidfd_info_layout_matches_the_kernel() {
        // include/uapi/linux/pidfd.h: exit_code is the s32 at byte 60, inside
        // PIDFD_INFO_SIZE_VER0 (64); the ioctl number carries the size.
        assert_eq!(std::mem::offset_of!(libc::pidfd_info, exit_code), 60);
        // An ioctl request is a c_ulong to glibc and a c_int to musl.
        #[allow(clippy::unnecessary_cast)]
        let size = ((libc::PIDFD_GET_INFO >> 16) & 0x3fff) as usize;
        assert_eq!(size, std::mem::size_of::<libc::pidfd_info>());
        assert_eq!(libc::PIDFD_GET_INFO & 0xffff, 0xff0b);
    }

    #[test]
    fn the_signals_glibc_keeps_can_be_sent() {
        // The kernel takes 32 and 33 like any other number (what the
        // receiver then does with them is its C library's business).
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = Pid::new(child.id() as i32).unwrap();
        let pidfd = pidfd_open(pid).unwrap();
        let stop = Signal::from_number(libc::SIGSTOP).unwrap();
        pidfd_send_signal(pidfd.as_fd(), stop).unwrap();
        for number in [32, 33] {
            pidfd_send_signal(pidfd.as_fd(), Signal::from_number(number).unwrap()).unwrap();
        }
        pidfd_send_signal(pidfd.as_fd(), Signal::from_number(libc::SIGKILL).unwrap()).unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn siginfo_codes_decode() {
        assert_eq!(
            exit_status_from_siginfo(libc::CLD_EXITED, 42),
            Some(ExitStatus::Exited { code: 42 })
        );
        assert_eq!(
            exit_status_from_siginfo(libc::CLD_DUMPED, 11),
            Some(ExitStatus::Signaled {
                signal: Signal::from_number(11).unwrap(),
                core_dumped: true
            })
        );
        assert_eq!(exit_status_from_siginfo(libc::CLD_STOPPED, 19), None);
    }
}
