//! A handle to one process that cannot hit the wrong one.
//!
//! Opening takes a pidfd first, then reads `/proc/PID/stat`, then checks that
//! the pidfd's process is still there: while it exists (even as a zombie) its
//! PID cannot be handed to anyone else, so the start time read is its own.
//! From then on every signal goes through the pidfd, which the kernel refuses
//! with `ESRCH` once that process is gone, whoever has the PID by then.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use serde::Serialize;

use crate::exit::ExitStatus;
use crate::process::error::{OpenError, ReadError, SignalError, WaitError};
use crate::process::sys::{self, PidfdExitInfo};
use crate::process::{ExitFacts, Pid, ProcessInfo, ProcessState, TableEntry};
use crate::signal::Signal;

/// The start time of a process that ended before it could be read: no
/// process has it (even PID 1 starts some ticks after boot).
const UNKNOWN_START: u64 = 0;

/// One process, pinned down by a pidfd and its start time.
#[derive(Debug)]
pub struct Process {
    pid: Pid,
    pidfd: OwnedFd,
    start_ticks: u64,
}

/// How an ended process's exit status was learned, or why it cannot be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "observed", rename_all = "snake_case")]
pub enum ExitObservation {
    /// The status is known.
    Known {
        /// The status.
        status: ExitStatus,
        /// Where it came from.
        source: StatusSource,
    },
    /// The process ended but its status cannot be known.
    Unobservable {
        /// Why.
        reason: Unobservable,
    },
}

/// Where an exit status came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusSource {
    /// `waitid(P_PIDFD)`: we reaped our own child.
    Waitid,
    /// `ioctl(PIDFD_GET_INFO)` with `PIDFD_INFO_EXIT` after it was reaped.
    PidfdInfo,
    /// `/proc/PID/stat` field 52 of the zombie, before its parent reaped it.
    ZombieStat,
}

/// Why an exit status cannot be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unobservable {
    /// The kernel predates `PIDFD_INFO_EXIT` (Linux 6.15) and the process was
    /// reaped by its parent before we could read its zombie.
    KernelTooOld,
    /// A zombie of another user: the kernel hides its exit code without
    /// ptrace access, and its parent has not reaped it.
    NotPermitted,
    /// The kernel kept no exit status for our pidfd.
    NotRecorded,
    /// The process is in a PID namespace we cannot see into.
    OtherNamespace,
}

impl Unobservable {
    /// The reason in plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Unobservable::KernelTooOld => {
                "its parent reaped it, and this kernel keeps no exit status for other processes (PIDFD_INFO_EXIT needs Linux 6.15)"
            }
            Unobservable::NotPermitted => {
                "it is a zombie of another user: the kernel hides its exit code from us until its parent reaps it"
            }
            Unobservable::NotRecorded => {
                "the kernel kept no exit status for our handle (it was opened after the process exited)"
            }
            Unobservable::OtherNamespace => "it lives in a PID namespace this process cannot see into",
        }
    }
}

impl ExitObservation {
    /// The status, if known.
    pub fn status(&self) -> Option<ExitStatus> {
        match self {
            ExitObservation::Known { status, .. } => Some(*status),
            ExitObservation::Unobservable { .. } => None,
        }
    }
}

fn open_error(pid: Pid, syscall: &'static str, error: std::io::Error) -> OpenError {
    match error.raw_os_error() {
        // pidfd_open refuses a thread that does not lead its group (ENOENT
        // since Linux 6.9, EINVAL before).
        Some(libc::ENOENT | libc::EINVAL) if let Some(thread) = not_a_process(pid) => thread,
        Some(libc::ESRCH) | Some(libc::ENOENT) => OpenError::NoSuchProcess { pid },
        Some(libc::EPERM) | Some(libc::EACCES) => OpenError::PermissionDenied { pid, syscall },
        _ => OpenError::Io {
            pid,
            syscall,
            source: error,
        },
    }
}

/// The refusal of an ID that is one of a process's threads, not a process
/// (`None`: a process's own ID, or no such thread).
pub fn not_a_process(pid: Pid) -> Option<OpenError> {
    thread_group_of(pid)
        .filter(|&tgid| tgid != pid.get())
        .map(|tgid| OpenError::Thread { tid: pid, tgid })
}

/// The process a thread ID belongs to (`Tgid` of `/proc/TID/status`, which
/// exists for any thread though `/proc` does not list it); `None` if gone.
fn thread_group_of(tid: Pid) -> Option<i32> {
    crate::proc::status::read(tid).ok().map(|status| status.tgid)
}

fn stat_open_error(pid: Pid, error: crate::proc::ProcError) -> OpenError {
    read_open_error(ReadError::from_proc(pid, "stat", error))
}

/// A process whose /proc entry is missing though its pidfd still says it
/// exists is hidden from us (`hidepid`), not gone.
fn hidden_if_alive(error: OpenError, pidfd: BorrowedFd<'_>) -> OpenError {
    match error {
        OpenError::NoSuchProcess { pid } if sys::pidfd_alive(pidfd).unwrap_or(false) => OpenError::Hidden { pid },
        other => other,
    }
}

/// A failed read of a process's facts while opening it, as an open error.
fn read_open_error(error: ReadError) -> OpenError {
    match error {
        ReadError::Gone { pid } => OpenError::NoSuchProcess { pid },
        ReadError::PermissionDenied { pid, file } => OpenError::PermissionDenied { pid, syscall: file },
        ReadError::Io { pid, source, .. } => OpenError::Io {
            pid,
            syscall: "read /proc/PID/stat",
            source,
        },
    }
}

impl Process {
    /// Opens the process that has `pid` now.
    pub fn open(pid: Pid) -> Result<Process, OpenError> {
        Self::open_inner(pid, None).map(|(process, _)| process)
    }

    /// Whether a process has `pid` though `/proc` does not show it (a
    /// `/proc` mounted with `hidepid` hides other users' processes): for a
    /// named PID a scan of /proc did not find, before calling it gone.
    pub fn exists_unlisted(pid: Pid) -> bool {
        sys::pidfd_open(pid).is_ok_and(|pidfd| {
            sys::pidfd_alive(pidfd.as_fd()).unwrap_or(false) && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        })
    }

    /// Opens `pid` only if it is still the process that started at
    /// `start_ticks` (clock ticks after boot, `/proc/PID/stat` field 22).
    pub fn open_expecting(pid: Pid, start_ticks: u64) -> Result<Process, OpenError> {
        // Only the start time is needed here, so only `/proc/PID/stat` is
        // read: this is the call that opens every member of a large tree.
        let pidfd = sys::pidfd_open(pid).map_err(|e| open_error(pid, "pidfd_open", e))?;
        let found = crate::proc::stat::read(pid)
            .map_err(|e| stat_open_error(pid, e))?
            .starttime;
        // As in `open_inner`: the start time is this pidfd's process's only
        // if that process still exists after the read.
        let process = Process {
            pid,
            pidfd,
            start_ticks: found,
        };
        if !process.exists().map_err(|e| open_error(pid, "pidfd_send_signal", e))? {
            return Err(OpenError::NoSuchProcess { pid });
        }
        if found != start_ticks {
            return Err(OpenError::Reused {
                pid,
                expected: start_ticks,
                found,
            });
        }
        Ok(process)
    }

    /// Opens `pid` without reading anything of it: for a caller that
    /// checks afterwards that the PID still names the process it expects
    /// (the BPF task scan asks the PID allocator's cursor whether any
    /// opened PID was handed out again, or compares start times in
    /// nanoseconds from two passes around all its opens) and then vouches
    /// for it with
    /// [`Process::vouched`].
    pub(crate) fn open_unchecked(pid: Pid) -> Result<std::os::fd::OwnedFd, OpenError> {
        sys::pidfd_open(pid).map_err(|e| open_error(pid, "pidfd_open", e))
    }

    /// A handle from a pidfd the caller has checked (see
    /// [`Process::open_unchecked`]) to refer to the process that started at
    /// `start_ticks`.
    pub(crate) fn vouched(pid: Pid, pidfd: std::os::fd::OwnedFd, start_ticks: u64) -> Process {
        Process {
            pid,
            pidfd,
            start_ticks,
        }
    }

    /// Opens `pid` and returns its row of the process table, read from
    /// `/proc/PID/stat` once while the pidfd was held: a scan that opens
    /// every process this way needs no second read to check, later, that a
    /// PID it chose still names the process it scanned.
    pub fn open_entry(pid: Pid) -> Result<(Process, TableEntry), OpenError> {
        let pidfd = sys::pidfd_open(pid).map_err(|e| open_error(pid, "pidfd_open", e))?;
        let stat = crate::proc::stat::read(pid).map_err(|e| stat_open_error(pid, e))?;
        let entry = TableEntry::from_stat(stat).ok_or(OpenError::NoSuchProcess { pid })?;
        // As in `open_inner`: the row is this pidfd's process's only if that
        // process still exists after the read.
        let process = Process {
            pid,
            pidfd,
            start_ticks: entry.start_ticks,
        };
        if !process.exists().map_err(|e| open_error(pid, "pidfd_send_signal", e))? {
            return Err(OpenError::NoSuchProcess { pid });
        }
        Ok((process, entry))
    }

    /// Opens `pid` and returns its facts as read while opening.
    pub fn open_with_info(pid: Pid) -> Result<(Process, ProcessInfo), OpenError> {
        Self::open_inner(pid, None)
    }

    /// Opens `pid` to wait for it. Like [`Process::open_with_info`], except
    /// that a process which ends between `pidfd_open` and the read of its
    /// /proc entry is still returned, without facts (`None`): the pidfd
    /// refers to the process that had the PID when the call was made, and
    /// its exit status can still be asked of the kernel
    /// ([`Process::exit_observation`]). Its start time is then unknown, so
    /// [`Process::info`] reports it gone.
    pub fn open_to_wait(pid: Pid) -> Result<(Process, Option<ProcessInfo>), OpenError> {
        let pidfd = sys::pidfd_open(pid).map_err(|e| open_error(pid, "pidfd_open", e))?;
        match Self::checked(pid, pidfd, None) {
            Ok((process, info)) => Ok((process, Some(info))),
            // A process /proc hides (hidepid) is waited for all the same.
            Err((OpenError::NoSuchProcess { .. } | OpenError::Hidden { .. }, pidfd)) => Ok((
                Process {
                    pid,
                    pidfd,
                    start_ticks: UNKNOWN_START,
                },
                None,
            )),
            Err((error, _)) => Err(error),
        }
    }

    /// Opens our own child, which cannot be reaped (and its PID reused) while
    /// the `Child` has not been waited for.
    pub fn from_child(child: &std::process::Child) -> Result<Process, OpenError> {
        let pid = Pid::new(child.id() as i32).expect("a child's PID is positive");
        Self::open(pid)
    }

    /// Opens our own child that has not been reaped (so its PID cannot
    /// change hands), reading only its start time rather than all its facts:
    /// the cheap way for a supervisor on its hot path.
    pub fn open_own_child(pid: Pid) -> Result<Process, OpenError> {
        let pidfd = sys::pidfd_open(pid).map_err(|e| open_error(pid, "pidfd_open", e))?;
        let stat = crate::proc::stat::read(pid).map_err(|e| stat_open_error(pid, e))?;
        Ok(Process {
            pid,
            pidfd,
            start_ticks: stat.starttime,
        })
    }

    fn open_inner(pid: Pid, expected: Option<u64>) -> Result<(Process, ProcessInfo), OpenError> {
        let pidfd = sys::pidfd_open(pid).map_err(|e| open_error(pid, "pidfd_open", e))?;
        Self::checked(pid, pidfd, expected).map_err(|(error, _)| error)
    }

    /// Reads the facts of the process behind a fresh `pidfd` and checks
    /// them; on failure the pidfd is handed back with the error.
    fn checked(
        pid: Pid,
        pidfd: OwnedFd,
        expected: Option<u64>,
    ) -> Result<(Process, ProcessInfo), (OpenError, OwnedFd)> {
        let info = match ProcessInfo::read(pid) {
            Ok(info) => info,
            Err(e) => return Err((hidden_if_alive(read_open_error(e), pidfd.as_fd()), pidfd)),
        };
        // The facts were read from the pidfd's process only if it still
        // exists now: then the PID cannot have changed hands in between.
        let process = Process {
            pid,
            pidfd,
            start_ticks: info.start_ticks,
        };
        match process.exists() {
            Ok(true) => {}
            Ok(false) => return Err((OpenError::NoSuchProcess { pid }, process.pidfd)),
            Err(e) => return Err((open_error(pid, "pidfd_send_signal", e), process.pidfd)),
        }
        if let Some(expected) = expected
            && expected != info.start_ticks
        {
            return Err((
                OpenError::Reused {
                    pid,
                    expected,
                    found: info.start_ticks,
                },
                process.pidfd,
            ));
        }
        Ok((process, info))
    }

    /// The PID.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The start time, in clock ticks after boot.
    pub fn start_ticks(&self) -> u64 {
        self.start_ticks
    }

    /// The pidfd, for polling together with other event sources.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Whether the process still exists (running, stopped or zombie).
    pub(crate) fn exists(&self) -> std::io::Result<bool> {
        sys::pidfd_alive(self.pidfd.as_fd())
    }

    /// Which of `processes` have exited, in one `poll` of all their
    /// pidfds (a failed poll: none known to).
    pub fn exited_among(processes: &[&Process]) -> Vec<bool> {
        let fds: Vec<BorrowedFd<'_>> = processes.iter().map(|p| p.pidfd.as_fd()).collect();
        let mut exited = vec![false; fds.len()];
        for index in sys::poll_exited(&fds, Some(Duration::ZERO)).unwrap_or_default() {
            exited[index] = true;
        }
        exited
    }

    /// Whether the process has exited (it may still be a zombie).
    pub fn has_exited(&self) -> bool {
        // A pidfd polls readable once its process has exited.
        sys::poll_exited(&[self.pidfd.as_fd()], Some(Duration::ZERO)).is_ok_and(|ready| !ready.is_empty())
    }

    /// Sends `signal` through the pidfd: never to a process that merely
    /// inherited the PID.
    pub fn signal(&self, signal: Signal) -> Result<(), SignalError> {
        sys::pidfd_send_signal(self.pidfd.as_fd(), signal).map_err(|error| match error.raw_os_error() {
            Some(libc::ESRCH) => SignalError::Exited { pid: self.pid },
            Some(libc::EPERM) => SignalError::PermissionDenied { pid: self.pid },
            _ => SignalError::Io {
                pid: self.pid,
                source: error,
            },
        })
    }

    /// Sends the null signal (`kill -0`): `Ok(true)` if afterlife may
    /// signal the process, `Ok(false)` on `EPERM`; nothing is sent.
    pub fn may_signal(&self) -> Result<bool, SignalError> {
        match sys::pidfd_signal_zero(self.pidfd.as_fd()) {
            Ok(()) => Ok(true),
            Err(error) => match error.raw_os_error() {
                Some(libc::EPERM) => Ok(false),
                Some(libc::ESRCH) => Err(SignalError::Exited { pid: self.pid }),
                _ => Err(SignalError::Io {
                    pid: self.pid,
                    source: error,
                }),
            },
        }
    }

    /// Reads the facts of this process from /proc, making sure they are its
    /// own and not those of a process that got its PID later.
    pub fn info(&self) -> Result<ProcessInfo, ReadError> {
        let info = ProcessInfo::read(self.pid)?;
        if info.start_ticks != self.start_ticks {
            return Err(ReadError::Gone { pid: self.pid });
        }
        Ok(info)
    }

    /// What telling how it ended needs ([`ExitFacts`]), checked against its
    /// start time like [`Process::info`].
    fn exit_facts(&self) -> Result<ExitFacts, ReadError> {
        let facts = ExitFacts::read(self.pid)?;
        if facts.start_ticks != self.start_ticks {
            return Err(ReadError::Gone { pid: self.pid });
        }
        Ok(facts)
    }

    /// Waits for the process to exit, at most `timeout` (`None`: no limit),
    /// and says how it ended. `Ok(None)` means it is still running.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Option<ExitObservation>, WaitError> {
        let ready = sys::poll_exited(&[self.pidfd.as_fd()], timeout).map_err(|source| WaitError::Io {
            pid: self.pid,
            syscall: "poll",
            source,
        })?;
        if ready.is_empty() {
            return Ok(None);
        }
        self.exit_observation().map(Some)
    }

    /// How the process ended; call once it has exited. Our own child is
    /// reaped here (`waitid(P_PIDFD)`); for any other process the zombie's
    /// /proc entry or, once reaped, `PIDFD_INFO_EXIT` gives the status.
    pub fn exit_observation(&self) -> Result<ExitObservation, WaitError> {
        self.observe_exit(true)
    }

    /// Like [`Process::exit_observation`], but never reaps: an own child
    /// that is a zombie stays one, and its status is read from /proc. One
    /// already reaped (most are, under a reaper that collects at once) is
    /// asked through its pidfd first, with no /proc read.
    pub fn peek_exit_observation(&self) -> Result<ExitObservation, WaitError> {
        match self.pidfd_exit_observation()? {
            known @ ExitObservation::Known { .. } => Ok(known),
            _ => self.observe_exit(false),
        }
    }

    /// How the process ended, read once and at once, without reaping: its
    /// zombie's /proc entry or, once reaped, its pidfd. `None` when that
    /// one look does not tell (still between exit and zombie, or not
    /// permitted), for a later [`Process::peek_exit_observation`] to settle.
    pub fn exit_observation_now(&self) -> Option<ExitObservation> {
        match self.try_exit_observation(false) {
            Ok(known @ ExitObservation::Known { .. }) => Some(known),
            _ => None,
        }
    }

    /// How the process ended, given the raw wait status a pass over every
    /// process read for it as a zombie (its `task->exit_code`, which
    /// `/proc/PID/stat` shows as field 52): no /proc read. A status that
    /// decodes to nothing is looked up as usual.
    pub fn zombie_exit_observation(&self, raw: i32) -> Result<ExitObservation, WaitError> {
        match ExitStatus::from_wait_status(raw) {
            Some(status) => Ok(ExitObservation::Known {
                status,
                source: StatusSource::ZombieStat,
            }),
            None => self.peek_exit_observation(),
        }
    }

    fn observe_exit(&self, reap: bool) -> Result<ExitObservation, WaitError> {
        // Right after the pidfd turns readable the process may still be
        // between "exited" and "zombie"; give that a moment to settle.
        let mut observation = self.try_exit_observation(reap)?;
        for _ in 0..100 {
            if observation
                != (ExitObservation::Unobservable {
                    reason: Unobservable::NotRecorded,
                })
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
            observation = self.try_exit_observation(reap)?;
        }
        Ok(observation)
    }

    fn try_exit_observation(&self, reap: bool) -> Result<ExitObservation, WaitError> {
        let io = |syscall| {
            move |source| WaitError::Io {
                pid: self.pid,
                syscall,
                source,
            }
        };
        match self.exit_facts() {
            Ok(info) if reap && info.ppid == Pid::current().get() => {
                if let Some(status) = sys::waitid_pidfd(self.pidfd.as_fd()).map_err(io("waitid"))? {
                    return Ok(ExitObservation::Known {
                        status,
                        source: StatusSource::Waitid,
                    });
                }
            }
            Ok(info) if info.state == ProcessState::Zombie => {
                if !info.exit_code_readable {
                    return Ok(ExitObservation::Unobservable {
                        reason: Unobservable::NotPermitted,
                    });
                }
                if let Some(status) = info.zombie_wait_status.and_then(ExitStatus::from_wait_status) {
                    return Ok(ExitObservation::Known {
                        status,
                        source: StatusSource::ZombieStat,
                    });
                }
            }
            // Reaped meanwhile (or not yet fully a zombie): ask the pidfd.
            Ok(_) | Err(ReadError::Gone { .. }) => {}
            Err(ReadError::PermissionDenied { .. }) | Err(ReadError::Io { .. }) => {}
        }
        self.pidfd_exit_observation()
    }

    /// The status the kernel kept on the pidfd (`PIDFD_INFO_EXIT`, once
    /// the process was reaped).
    fn pidfd_exit_observation(&self) -> Result<ExitObservation, WaitError> {
        let io = |source| WaitError::Io {
            pid: self.pid,
            syscall: "ioctl(PIDFD_GET_INFO)",
            source,
        };
        Ok(match sys::pidfd_exit_info(self.pidfd.as_fd()).map_err(io)? {
            PidfdExitInfo::Status(raw) => match ExitStatus::from_wait_status(raw) {
                Some(status) => ExitObservation::Known {
                    status,
                    source: StatusSource::PidfdInfo,
                },
                None => ExitObservation::Unobservable {
                    reason: Unobservable::NotRecorded,
                },
            },
            PidfdExitInfo::NotRecorded => ExitObservation::Unobservable {
                reason: Unobservable::NotRecorded,
            },
            PidfdExitInfo::Unsupported => ExitObservation::Unobservable {
                reason: Unobservable::KernelTooOld,
            },
            PidfdExitInfo::OtherNamespace => ExitObservation::Unobservable {
                reason: Unobservable::OtherNamespace,
            },
        })
    }
}

/// Waits until any of `processes` exits or `timeout` passes; returns the
/// indexes of those that exited (empty on timeout).
pub fn wait_any(processes: &[&Process], timeout: Option<Duration>) -> Result<Vec<usize>, WaitError> {
    let fds: Vec<BorrowedFd<'_>> = processes.iter().map(|p| p.pidfd()).collect();
    sys::poll_exited(&fds, timeout).map_err(|source| WaitError::Io {
        pid: processes.first().map_or(Pid::current(), |p| p.pid()),
        syscall: "poll",
        source,
    })
}
