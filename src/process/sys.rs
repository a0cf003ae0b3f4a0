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
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{PidfdFlags, WaitId, WaitIdOptions};

use crate::exit::ExitStatus;
use crate::process::Pid;
use crate::signal::Signal;

/// Opens a pidfd for `pid`.
pub(crate) fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    rustix::process::pidfd_open(pid.to_rustix(), PidfdFlags::empty()).map_err(io::Error::from)
}

/// Sends `signal` through a pidfd.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: Signal) -> io::Result<()> {
    // SAFETY: `Signal` only holds numbers from 1 to SIGRTMAX, all of which the
    // kernel accepts; we never install handlers or masks with this value.
    let raw = unsafe { rustix::process::Signal::from_raw_unchecked(signal.number()) };
    rustix::process::pidfd_send_signal(pidfd, raw).map_err(io::Error::from)
}

/// Sends the null signal through a pidfd: the kernel checks that the
/// process exists and that we may signal it, and sends nothing.
pub(crate) fn pidfd_signal_zero(pidfd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: there is no signal 0 in `rustix::process::Signal`; the raw
    // syscall with signal 0 only checks existence and permission.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Checks that the process behind a pidfd has not exited, by sending the null
/// signal (`EPERM` still proves it exists).
pub(crate) fn pidfd_alive(pidfd: BorrowedFd<'_>) -> io::Result<bool> {
    let Err(error) = pidfd_signal_zero(pidfd) else {
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

/// `struct pidfd_info` as of Linux 6.15 (include/uapi/linux/pidfd.h). The
/// kernel takes the size from the ioctl number and copies what both sides
/// know, so this layout also works with later, larger versions.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    exit_code: i32,
    coredump_mask: u32,
    spare: u32,
}

const PIDFD_INFO_EXIT: u64 = 1 << 3;
const PIDFS_IOCTL_MAGIC: u64 = 0xFF;
/// `_IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: u64 =
    (3 << 30) | ((std::mem::size_of::<PidfdInfo>() as u64) << 16) | (PIDFS_IOCTL_MAGIC << 8) | 11;

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
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..PidfdInfo::default()
    };
    // SAFETY: `info` is a live, correctly sized `struct pidfd_info` and the
    // ioctl number encodes that size.
    let rc = unsafe {
        libc::ioctl(
            pidfd.as_fd().as_raw_fd(),
            PIDFD_GET_INFO as _,
            &mut info as *mut PidfdInfo,
        )
    };
    if rc != 0 {
        let error = io::Error::last_os_error();
        return match error.raw_os_error() {
            Some(libc::ENOTTY) | Some(libc::EINVAL) => Ok(PidfdExitInfo::Unsupported),
            // ESRCH: reaped with no exit information kept, or not visible
            // from our PID namespace.
            Some(libc::ESRCH) => Ok(PidfdExitInfo::OtherNamespace),
            _ => Err(error),
        };
    }
    if info.mask & PIDFD_INFO_EXIT != 0 {
        Ok(PidfdExitInfo::Status(info.exit_code))
    } else if kernel_supports_pidfd_info_exit() {
        Ok(PidfdExitInfo::NotRecorded)
    } else {
        Ok(PidfdExitInfo::Unsupported)
    }
}

/// Whether the running kernel is 6.15 or later, where `PIDFD_INFO_EXIT` exists.
pub(crate) fn kernel_supports_pidfd_info_exit() -> bool {
    let release = rustix::system::uname().release().to_string_lossy().into_owned();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfd_info_layout_matches_the_kernel() {
        // PIDFD_INFO_SIZE_VER0 is 64; 6.15 added exit_code, coredump_mask and
        // a spare word.
        assert_eq!(std::mem::size_of::<PidfdInfo>(), 72);
        assert_eq!(PIDFD_GET_INFO, 0xc048_ff0b);
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
