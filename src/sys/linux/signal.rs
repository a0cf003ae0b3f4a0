//! Signal sets, this thread's mask, dispositions and the signalfd.
//!
//! Every call here but [`read_signalfd`] is async-signal-safe
//! (signal-safety(7) lists `sigemptyset`, `sigaddset`, `pthread_sigmask`,
//! `sigaction`, `signal`, `sigsuspend`), so they may run between fork and
//! exec.

use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

use super::check;

/// A set of signal numbers (`sigset_t`).
#[derive(Clone, Copy)]
pub(crate) struct SigSet(libc::sigset_t);

impl std::fmt::Debug for SigSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigSet { .. }")
    }
}

impl SigSet {
    /// The empty set.
    pub(crate) fn empty() -> SigSet {
        // SAFETY: a sigset_t is plain integers; all zeroes is valid storage.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: sigemptyset writes only into the set we own.
        unsafe { libc::sigemptyset(&mut set) };
        SigSet(set)
    }

    /// The set of these signals.
    pub(crate) fn of(numbers: &[i32]) -> SigSet {
        let mut set = SigSet::empty();
        for &number in numbers {
            set.add(number);
        }
        set
    }

    /// Adds one signal (a number out of range is refused and left out).
    pub(crate) fn add(&mut self, number: i32) {
        // SAFETY: sigaddset writes only into the set we own.
        unsafe { libc::sigaddset(&mut self.0, number) };
    }
}

/// `pthread_sigmask(how, set)`; the mask before.
fn change_mask(how: libc::c_int, set: &SigSet) -> io::Result<SigSet> {
    let mut previous = SigSet::empty();
    // SAFETY: pthread_sigmask reads `set` and writes `previous`, both ours;
    // it changes only this thread's mask.
    let rc = unsafe { libc::pthread_sigmask(how, &set.0, &mut previous.0) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(previous)
}

/// Blocks `set` in this thread (and the threads it starts later); the mask
/// before.
pub(crate) fn block(set: &SigSet) -> io::Result<SigSet> {
    change_mask(libc::SIG_BLOCK, set)
}

/// Unblocks `set` in this thread; the mask before.
pub(crate) fn unblock(set: &SigSet) -> io::Result<SigSet> {
    change_mask(libc::SIG_UNBLOCK, set)
}

/// Makes `set` this thread's mask; the mask before.
pub(crate) fn set_mask(set: &SigSet) -> io::Result<SigSet> {
    change_mask(libc::SIG_SETMASK, set)
}

/// `sigsuspend(2)`: waits with `mask` as the mask until a handler has run.
pub(crate) fn suspend(mask: &SigSet) {
    // SAFETY: sigsuspend reads the set we own; it returns (EINTR) once a
    // handler has run, the mask back as it was.
    unsafe { libc::sigsuspend(&mask.0) };
}

/// A non-blocking, close-on-exec signalfd for `set` (signalfd(2)).
pub(crate) fn signalfd(set: &SigSet) -> io::Result<OwnedFd> {
    // SAFETY: signalfd reads the set we own; -1 asks for a new fd.
    let fd = check(unsafe { libc::signalfd(-1, &set.0, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) })?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The fields of one `struct signalfd_siginfo` the callers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignalfdRecord {
    /// `ssi_signo`.
    pub(crate) number: i32,
    /// `ssi_code`.
    pub(crate) code: i32,
    /// `ssi_pid`.
    pub(crate) sender: u32,
}

/// Reads one record from a signalfd; `None` when nothing is pending
/// (`EAGAIN`) or the read was interrupted. The layout is signalfd(2)'s:
/// `ssi_signo` at 0, `ssi_code` at 8, `ssi_pid` at 12, 128 bytes in all.
pub(crate) fn read_signalfd(fd: BorrowedFd<'_>) -> Option<SignalfdRecord> {
    const SIZE: usize = std::mem::size_of::<libc::signalfd_siginfo>();
    let mut record = [0u8; SIZE];
    // The kernel writes whole records only.
    match rustix::io::read(fd, &mut record) {
        Ok(SIZE) => {}
        _ => return None,
    }
    let field = |at: usize| [record[at], record[at + 1], record[at + 2], record[at + 3]];
    Some(SignalfdRecord {
        number: i32::from_ne_bytes(field(0)),
        code: i32::from_ne_bytes(field(8)),
        sender: u32::from_ne_bytes(field(12)),
    })
}

/// Whether the signal's disposition is "ignore" (`SIG_IGN`).
pub(crate) fn is_ignored(number: i32) -> bool {
    // SAFETY: a sigaction is plain data; all zeroes is a valid one.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: with no new action, sigaction only writes the current one
    // into the struct we own.
    let rc = unsafe { libc::sigaction(number, std::ptr::null(), &mut current) };
    rc == 0 && current.sa_sigaction == libc::SIG_IGN
}

/// Sets the signal's disposition to the default.
pub(crate) fn set_default(number: i32) {
    // SAFETY: SIG_DFL installs no code of ours.
    unsafe { libc::signal(number, libc::SIG_DFL) };
}

/// Puts every signal this process ignores back to its default action,
/// except SIGPIPE (afterlife ignores it itself, to see EPIPE). "Ignore"
/// survives exec, so `nohup`, a shell's `&` (SIGINT, SIGQUIT) or a
/// `trap '' CHLD` pass theirs on to whatever they start.
pub(crate) fn default_every_ignored() {
    let last = libc::SIGRTMAX();
    for number in (1..=last).filter(|&n| n != libc::SIGPIPE && n != libc::SIGKILL && n != libc::SIGSTOP) {
        if is_ignored(number) {
            set_default(number);
        }
    }
}

/// Sets the signal's disposition to "ignore".
pub(crate) fn set_ignored(number: i32) {
    // SAFETY: SIG_IGN installs no code of ours.
    unsafe { libc::signal(number, libc::SIG_IGN) };
}

/// Installs `handler` for the signal, with no signal blocked while it runs.
///
/// # Safety
///
/// `handler` runs asynchronously, in the middle of any code of this
/// thread: it must make async-signal-safe calls only (store to an atomic,
/// say), never allocate or lock.
pub(crate) unsafe fn set_handler(number: i32, handler: extern "C" fn(libc::c_int)) -> io::Result<()> {
    // SAFETY: a sigaction is plain data; all zeroes (no flags, an empty
    // mask) is a valid one.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as usize;
    // SAFETY: sigaction reads the action we own; the caller vouches for the
    // handler.
    check(unsafe { libc::sigaction(number, &action, std::ptr::null_mut()) }).map(drop)
}
