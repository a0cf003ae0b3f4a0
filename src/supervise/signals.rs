//! Signals while supervising: which are passed on, how they are taken in,
//! the terminal's foreground process group, and dying by the command's
//! signal.
//!
//! As tini does, signals are consumed synchronously: every signal afterlife
//! passes on is blocked and read from a `signalfd(2)` in the one event loop,
//! so no work happens in an asynchronous handler. The command gets an empty
//! signal mask: [`ChildSetup::apply`] clears it between fork and exec.
//!
//! Signal dispositions pass through as coreutils `timeout` passes them: a
//! signal ignored when afterlife started is ignored in the command too.
//! Rust's runtime sets SIGPIPE to ignored before `main` and std's `Command`
//! resets it to the default in every child; what it was before is read
//! from an `.init_array` entry, which the C runtime runs before `main`, and
//! put back between fork and exec. `SIGALRM` from outside means "time is
//! up", as for coreutils (whose own timer is SIGALRM).
//!
//! In a terminal the command gets its own process group and becomes the
//! terminal's foreground group (`tcsetpgrp(3)`), so the keys Ctrl+C, Ctrl+\
//! and Ctrl+Z reach it once, straight from the kernel, while afterlife in the
//! background sees none of them. Calling `tcsetpgrp` from a background group
//! raises `SIGTTOU` unless it is blocked (termios(3), "job control"), which
//! is why both sides block it around the call.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::process::{Pid, Process};
use crate::signal::{Signal, signal_set};

/// Signals passed on to the command.
pub const FORWARDED: [i32; 11] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGCONT,
];

/// The signals afterlife blocks and reads from its signalfd: the forwarded
/// ones, `SIGCHLD`, and `SIGALRM` (time is up).
fn watched() -> Vec<i32> {
    let mut all = FORWARDED.to_vec();
    all.push(libc::SIGCHLD);
    all.push(libc::SIGALRM);
    all
}

/// Whether SIGPIPE was ignored when afterlife started (as by a shell's
/// `trap '' PIPE`), before Rust's runtime made it so for itself.
static SIGPIPE_IGNORED_AT_START: AtomicBool = AtomicBool::new(false);

extern "C" fn record_sigpipe() {
    // SAFETY: sigaction with no new action only reads the disposition
    // into a struct we own.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0 {
            SIGPIPE_IGNORED_AT_START.store(old.sa_sigaction == libc::SIG_IGN, Ordering::Relaxed);
        }
    }
}

/// Runs [`record_sigpipe`] before `main` (the C runtime calls every
/// `.init_array` entry first), so before Rust's runtime ignores SIGPIPE.
#[used]
// SAFETY: `.init_array` holds `extern "C" fn()` pointers, which this is.
#[unsafe(link_section = ".init_array")]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

/// Whether SIGPIPE was ignored when afterlife started.
pub fn sigpipe_ignored_at_start() -> bool {
    SIGPIPE_IGNORED_AT_START.load(Ordering::Relaxed)
}

/// One signal read from the signalfd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The signal number.
    pub number: i32,
    /// `si_code`: `SI_KERNEL` for keys typed at a terminal, `SI_USER` for `kill`.
    pub code: i32,
    /// The sender's PID, for `SI_USER`.
    pub sender: u32,
}

impl Received {
    /// Whether the kernel sent it on behalf of a terminal (a typed key or a
    /// window size change) rather than a process calling `kill`.
    pub fn from_terminal(&self) -> bool {
        self.code == libc::SI_KERNEL
    }
}

/// The blocked signals and the signalfd they are read from; the old mask
/// is restored on drop.
#[derive(Debug)]
pub struct SignalInbox {
    fd: OwnedFd,
    old_mask: libc::sigset_t,
    /// SIGCHLD was ignored and is the default while the inbox is open.
    chld_was_ignored: bool,
}

impl SignalInbox {
    /// Blocks the watched signals and opens a non-blocking signalfd for them.
    ///
    /// SIGCHLD ignored by whoever started afterlife (`trap '' CHLD`) would
    /// make the kernel reap our children itself, and `waitid` fail with
    /// `ECHILD` (wait(2), "SA_NOCLDWAIT"): it is the default while the inbox
    /// is open, as coreutils `timeout` installs its own handler.
    pub fn open() -> io::Result<SignalInbox> {
        let set = signal_set(&watched());
        // SAFETY: plain disposition, mask and signalfd calls on structs
        // and sets we own.
        unsafe {
            let mut chld: libc::sigaction = std::mem::zeroed();
            let chld_was_ignored =
                libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut chld) == 0 && chld.sa_sigaction == libc::SIG_IGN;
            if chld_was_ignored {
                libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            }
            let mut old_mask: libc::sigset_t = std::mem::zeroed();
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask) != 0 {
                let error = io::Error::last_os_error();
                if chld_was_ignored {
                    libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                }
                return Err(error);
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                let error = io::Error::last_os_error();
                libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
                if chld_was_ignored {
                    libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                }
                return Err(error);
            }
            Ok(SignalInbox {
                fd: OwnedFd::from_raw_fd(fd),
                old_mask,
                chld_was_ignored,
            })
        }
    }

    /// The signalfd, to poll.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Reads every pending signal (none if nothing is pending).
    pub fn drain(&self) -> Vec<Received> {
        let mut received = Vec::new();
        loop {
            // SAFETY: signalfd_siginfo is plain data; all zeroes is valid.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: a read into the record we own, of its size; the kernel
            // writes whole records only.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n != size as isize {
                // EAGAIN: nothing more pending (EINTR: read again next time).
                return received;
            }
            received.push(Received {
                number: info.ssi_signo as i32,
                code: info.ssi_code,
                sender: info.ssi_pid,
            });
        }
    }
}

impl Drop for SignalInbox {
    fn drop(&mut self) {
        // SAFETY: restores the mask and SIGCHLD disposition saved in `open`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut());
            if self.chld_was_ignored {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            }
        }
    }
}

/// The controlling terminal, when afterlife runs in its foreground process
/// group: the command is then given the terminal, and it is taken back at
/// the end.
#[derive(Debug)]
pub struct Terminal {
    fd: RawFd,
    own_group: libc::pid_t,
}

impl Terminal {
    /// The terminal on stdin, stdout or stderr if afterlife is in its
    /// foreground group; `None` otherwise (not a terminal, or started in
    /// the background).
    pub fn foreground() -> Option<Terminal> {
        // A group led from an ancestor PID namespace reads as 0, as does a
        // terminal with no foreground group: never take those as a match.
        let own_group = crate::process::Pid::own_group()?.get();
        // SAFETY: isatty/tcgetpgrp only inspect.
        unsafe {
            [0, 1, 2]
                .into_iter()
                .find(|&fd| libc::isatty(fd) == 1 && libc::tcgetpgrp(fd) == own_group)
                .map(|fd| Terminal { fd, own_group })
        }
    }

    /// The terminal's file descriptor (one of 0, 1, 2).
    pub fn raw_fd(&self) -> RawFd {
        self.fd
    }

    /// Makes `group` the foreground group (SIGTTOU is blocked in afterlife).
    pub fn give_to(&self, group: Pid) {
        // SAFETY: tcsetpgrp on our own terminal fd. ENOTTY/EPERM (the
        // terminal went away, or the group is already gone): nothing to hand.
        unsafe {
            libc::tcsetpgrp(self.fd, group.get());
        }
    }

    /// Takes the terminal back for afterlife's own group.
    pub fn take_back(&self) {
        // SAFETY: as in `give_to`; failures mean the terminal is gone.
        unsafe {
            libc::tcsetpgrp(self.fd, self.own_group);
        }
    }
}

/// What the child does between fork and exec. Only async-signal-safe calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChildSetup {
    /// Put the command in its own process group.
    pub own_group: bool,
    /// Otherwise, join this process group (afterlife's, when a keeper in
    /// a group of its own starts the command).
    pub join_group: Option<libc::pid_t>,
    /// Make that group the foreground group of this terminal.
    pub terminal: Option<RawFd>,
    /// Write `0` here (a `cgroup.procs` file) to move into a cgroup.
    pub cgroup_procs: Option<RawFd>,
    /// The PID whose death must end the command (its parent).
    pub parent: Option<libc::pid_t>,
    /// The signal the command gets when that parent dies
    /// (`PR_SET_PDEATHSIG`): `timeout -s`'s, as coreutils sets it; `None`
    /// is SIGKILL; [`Signal::NULL`] none.
    pub death_signal: Option<Signal>,
    /// When afterlife itself dies: how long the keeper gives the tree to
    /// end on that signal before it kills what is left (as `timeout` after
    /// its own death, the command may handle the signal and clean up).
    pub death_grace: Duration,
}

/// The errno a failed move into the cgroup is reported with, so the caller
/// can tell it from a failed `exec` (which gives 126/127).
pub const SETUP_FAILED_ERRNO: i32 = libc::ENOTRECOVERABLE;

impl ChildSetup {
    /// Runs in the child after fork. Async-signal-safe calls only.
    pub fn apply(&self) -> io::Result<()> {
        // SAFETY: every call below is async-signal-safe and acts on this
        // process only.
        unsafe {
            if let Some(parent) = self.parent {
                let death = self.death_signal.map_or(libc::SIGKILL, Signal::number);
                libc::prctl(libc::PR_SET_PDEATHSIG, death as libc::c_ulong, 0, 0, 0);
                // The parent may have died before the prctl took effect.
                if libc::getppid() != parent {
                    libc::_exit(125);
                }
            }
            if let Some(procs) = self.cgroup_procs
                && libc::write(procs, b"0".as_ptr().cast(), 1) != 1
            {
                return Err(io::Error::from_raw_os_error(SETUP_FAILED_ERRNO));
            }
            if let (false, Some(group)) = (self.own_group, self.join_group) {
                // EPERM if that group is gone: stay where we are.
                libc::setpgid(0, group);
            }
            if self.own_group {
                libc::setpgid(0, 0);
                if let Some(fd) = self.terminal {
                    let ttou = signal_set(&[libc::SIGTTOU]);
                    let mut old: libc::sigset_t = std::mem::zeroed();
                    libc::pthread_sigmask(libc::SIG_BLOCK, &ttou, &mut old);
                    // ENOTTY/EPERM: the terminal is gone; run anyway.
                    libc::tcsetpgrp(fd, libc::getpid());
                    libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                }
            }
            // std's Command reset SIGPIPE to the default: put back the
            // ignored disposition afterlife was started with.
            if SIGPIPE_IGNORED_AT_START.load(Ordering::Relaxed) {
                libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            }
            // The command starts with no signal blocked: afterlife's mask
            // (every forwarded signal) must not leak into it.
            let empty = signal_set(&[]);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        }
        Ok(())
    }
}

/// Dies by `signal`, with our own core dump disabled, so that our parent
/// sees the same wait status as we saw; exits with 128+N if the signal
/// somehow does not kill us.
pub fn die_by(signal: Signal) -> ! {
    let number = signal.number();
    // SAFETY: resets our own limits, disposition and mask for one signal.
    unsafe {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::signal(number, libc::SIG_DFL);
        let set = signal_set(&[number]);
        // Signalled first, then unblocked: it is delivered as the mask opens.
        if let Ok(me) = Process::open(Pid::current()) {
            let _ = me.signal(signal);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    std::process::exit(128 + number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_the_signals_the_issue_names() {
        for n in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGWINCH,
            libc::SIGTSTP,
            libc::SIGCONT,
        ] {
            assert!(FORWARDED.contains(&n), "{n}");
        }
        assert!(!FORWARDED.contains(&libc::SIGKILL));
        assert!(!FORWARDED.contains(&libc::SIGALRM));
        assert!(watched().contains(&libc::SIGCHLD));
        assert!(watched().contains(&libc::SIGALRM));
    }
}
