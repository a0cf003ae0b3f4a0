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
//! signal ignored when afterlife started is ignored in the command too,
//! except those `timeout` catches itself ([`CAUGHT_BY_TIMEOUT`] and the
//! `-s` signal), whose handlers become the default at `exec`.
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
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::process::{Pid, Process};
use crate::signal::Signal;
use crate::sys::linux::signal::{self as sys_signal, SigSet};
use crate::sys::linux::{fd as sys_fd, ns as sys_ns, process as sys_process, term};

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

/// The signals coreutils `timeout` installs its own handler for, whatever
/// their disposition when it started: the command, in which a caught
/// signal becomes the default at `exec`, can be ended by them even when
/// the caller ignored them (a script's `cmd &` ignores INT and QUIT,
/// `nohup` HUP). The `-s` signal is the sixth.
pub const CAUGHT_BY_TIMEOUT: [i32; 5] = [libc::SIGALRM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM];

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
    SIGPIPE_IGNORED_AT_START.store(sys_signal::is_ignored(libc::SIGPIPE), Ordering::Relaxed);
}

/// Runs [`record_sigpipe`] before `main` (the C runtime calls every
/// `.init_array` entry first), so before Rust's runtime ignores SIGPIPE.
#[used]
// SAFETY: `.init_array` holds `extern "C" fn()` pointers, which this is.
#[unsafe(link_section = ".init_array")]
static RECORD_SIGPIPE: extern "C" fn() = record_sigpipe;

/// Set in a child that `clone3(CLONE_INTO_CGROUP)` started in its leaf
/// ([`super::spawn`]), in the child's own copy of memory: its
/// [`ChildSetup::apply`] then skips the write to `cgroup.procs`.
static STARTED_IN_LEAF: AtomicBool = AtomicBool::new(false);

/// Marks this process (a child about to exec) as started in its leaf.
pub(crate) fn mark_started_in_leaf() {
    STARTED_IN_LEAF.store(true, Ordering::Relaxed);
}

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

/// The signals a [`SignalInbox`] watches, blocked around a whole run by a
/// caller that writes a report after it (the `run` and `timeout`
/// commands): the inbox's mask is restored to this one when the run ends,
/// so a signal no inbox read — a kill of afterlife's process group, which
/// also ended the command, noticed after the command's end — stays
/// pending instead of ending afterlife there. On drop, such late signals
/// are discarded (the run has answered them: the command has ended) and
/// the mask from before is restored, so that a signal after that (Ctrl+C
/// while a report is written to a pipe no one reads) acts as usual.
#[derive(Debug)]
pub struct HeldSignals {
    old_mask: Option<SigSet>,
}

impl HeldSignals {
    /// Blocks the watched signals until dropped.
    pub fn hold() -> HeldSignals {
        HeldSignals {
            old_mask: sys_signal::block(&SigSet::of(&watched())).ok(),
        }
    }
}

impl Drop for HeldSignals {
    fn drop(&mut self) {
        let Some(old_mask) = &self.old_mask else { return };
        // Read (and so discard) what is pending, then restore the mask.
        if let Ok(fd) = sys_signal::signalfd(&SigSet::of(&watched())) {
            while sys_signal::read_signalfd(fd.as_fd()).is_some() {}
        }
        let _ = sys_signal::set_mask(old_mask);
    }
}

/// The blocked signals and the signalfd they are read from; the old mask
/// is restored on drop.
#[derive(Debug)]
pub struct SignalInbox {
    fd: OwnedFd,
    old_mask: SigSet,
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
        let set = SigSet::of(&watched());
        let chld_was_ignored = sys_signal::is_ignored(libc::SIGCHLD);
        if chld_was_ignored {
            sys_signal::set_default(libc::SIGCHLD);
        }
        let opened = sys_signal::block(&set).and_then(|old_mask| match sys_signal::signalfd(&set) {
            Ok(fd) => Ok((fd, old_mask)),
            Err(error) => {
                let _ = sys_signal::set_mask(&old_mask);
                Err(error)
            }
        });
        match opened {
            Ok((fd, old_mask)) => Ok(SignalInbox {
                fd,
                old_mask,
                chld_was_ignored,
            }),
            Err(error) => {
                if chld_was_ignored {
                    sys_signal::set_ignored(libc::SIGCHLD);
                }
                Err(error)
            }
        }
    }

    /// The signalfd, to poll.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Reads every pending signal (none if nothing is pending).
    pub fn drain(&self) -> Vec<Received> {
        // EAGAIN: nothing more pending (EINTR: read again next time).
        std::iter::from_fn(|| sys_signal::read_signalfd(self.fd.as_fd()))
            .map(|record| Received {
                number: record.number,
                code: record.code,
                sender: record.sender,
            })
            .collect()
    }
}

impl Drop for SignalInbox {
    fn drop(&mut self) {
        // Restores the mask and SIGCHLD disposition saved in `open`.
        let _ = sys_signal::set_mask(&self.old_mask);
        if self.chld_was_ignored {
            sys_signal::set_ignored(libc::SIGCHLD);
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
        [0, 1, 2]
            .into_iter()
            .find(|&fd| term::is_terminal(fd) && term::foreground_group(fd) == Some(own_group))
            .map(|fd| Terminal { fd, own_group })
    }

    /// The terminal's file descriptor (one of 0, 1, 2).
    pub fn raw_fd(&self) -> RawFd {
        self.fd
    }

    /// Makes `group` the foreground group (SIGTTOU is blocked in afterlife).
    pub fn give_to(&self, group: Pid) {
        // ENOTTY/EPERM (the terminal went away, or the group is already
        // gone): nothing to hand.
        let _ = term::set_foreground_group(self.fd, group.get());
    }

    /// Takes the terminal back for afterlife's own group.
    pub fn take_back(&self) {
        // As in `give_to`: failures mean the terminal is gone.
        let _ = term::set_foreground_group(self.fd, self.own_group);
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
    /// The command is the first process of a new PID namespace (after the
    /// keeper, its init): give it a /proc of that namespace
    /// (`sys::linux::ns::mount_own_proc`), so that `ps`, `pgrep`
    /// and `pkill` inside see the PIDs `kill(2)` takes there.
    pub own_proc: bool,
}

/// How many setups were installed: the number of the last one, which alone
/// applies ([`ChildSetup::install`]).
static INSTALLED: AtomicU64 = AtomicU64::new(0);

/// The errno a failed move into the cgroup is reported with, so the caller
/// can tell it from a failed `exec` (which gives 126/127).
pub const SETUP_FAILED_ERRNO: i32 = libc::ENOTRECOVERABLE;

impl ChildSetup {
    /// Has `command` run [`ChildSetup::apply`] between fork and exec. A
    /// `Command` keeps every hook installed on it: where a containment
    /// could not start the command and the next one tries with the same
    /// `Command`, only the setup installed last applies (an earlier one
    /// would write to a leaf's `cgroup.procs` that is gone, by an fd
    /// number that may be another file's now).
    pub fn install(self, command: &mut std::process::Command) {
        let this = INSTALLED.fetch_add(1, Ordering::Relaxed) + 1;
        // SAFETY: `apply` makes system calls only, and the check an atomic
        // load: no allocation, no lock, so it is sound after a fork even
        // from a multi-threaded process.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(command, move || {
                if INSTALLED.load(Ordering::Relaxed) != this {
                    return Ok(());
                }
                self.apply()
            });
        }
    }

    /// Runs in the child after fork. Async-signal-safe calls only.
    pub fn apply(&self) -> io::Result<()> {
        // Every call below is a system call alone (async-signal-safe, no
        // allocation) and acts on this process only.
        if let Some(parent) = self.parent {
            let death = self.death_signal.map_or(libc::SIGKILL, Signal::number);
            let _ = sys_process::set_parent_death_signal(death);
            // The parent may have died before the prctl took effect.
            if rustix::process::Pid::as_raw(rustix::process::getppid()) != parent {
                sys_process::exit_now(125);
            }
        }
        if let Some(procs) = self.cgroup_procs.filter(|_| !STARTED_IN_LEAF.load(Ordering::Relaxed))
            && !matches!(sys_fd::write_raw(procs, b"0"), Ok(1))
        {
            return Err(io::Error::from_raw_os_error(SETUP_FAILED_ERRNO));
        }
        if self.own_proc {
            // Without the privilege (or a /proc to mount on), the command
            // runs with the /proc it had, as before.
            let _ = sys_ns::mount_own_proc();
        }
        // A standard fd the caller closed is the command's closed too, not
        // the `/dev/null` afterlife put there for itself.
        for fd in (0..3).filter(|&fd| crate::sys::linux::stdio::closed_at_start(fd)) {
            let _ = sys_fd::close_raw(fd);
        }
        if let (false, Some(group)) = (self.own_group, self.join_group) {
            // EPERM if that group is gone: stay where we are.
            let _ = rustix::process::setpgid(None, rustix::process::Pid::from_raw(group));
        }
        if self.own_group {
            let _ = rustix::process::setpgid(None, None);
            if let Some(fd) = self.terminal {
                let old = sys_signal::block(&SigSet::of(&[libc::SIGTTOU]));
                // ENOTTY/EPERM: the terminal is gone; run anyway.
                let _ = term::set_foreground_group(fd, rustix::process::getpid().as_raw_nonzero().get());
                if let Ok(old) = old {
                    let _ = sys_signal::set_mask(&old);
                }
            }
        }
        // std's Command reset SIGPIPE to the default: put back the
        // ignored disposition afterlife was started with.
        if SIGPIPE_IGNORED_AT_START.load(Ordering::Relaxed) {
            sys_signal::set_ignored(libc::SIGPIPE);
        }
        // What coreutils timeout catches reaches the command at its default.
        for number in CAUGHT_BY_TIMEOUT {
            sys_signal::set_default(number);
        }
        if let Some(signal) = self.death_signal.filter(|s| *s != Signal::NULL) {
            sys_signal::set_default(signal.number());
        }
        // The command starts with no signal blocked: afterlife's mask
        // (every forwarded signal) must not leak into it.
        let _ = sys_signal::set_mask(&SigSet::empty());
        Ok(())
    }
}

/// Dies by `signal`, with our own core dump disabled, so that our parent
/// sees the same wait status as we saw; exits with 128+N if the signal
/// somehow does not kill us.
pub fn die_by(signal: Signal) -> ! {
    let number = signal.number();
    // Our own limit, disposition and mask for this one signal.
    let none = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = rustix::process::setrlimit(rustix::process::Resource::Core, none);
    sys_signal::set_default(number);
    // Signalled first, then unblocked: it is delivered as the mask opens.
    if let Ok(me) = Process::open(Pid::current()) {
        let _ = me.signal(signal);
    }
    let _ = sys_signal::unblock(&SigSet::of(&[number]));
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
