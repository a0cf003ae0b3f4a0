//! Process calls `rustix` does not make, or not for every value the kernel
//! takes: `fork`, leaving at once, `pidfd_send_signal` with any signal
//! number (rustix refuses 32 and 33, which glibc keeps for itself but the
//! kernel delivers like any other), `PIDFD_GET_INFO` (6.15), the session
//! and group IDs as the kernel gives them (0 included, for a leader in an
//! ancestor PID namespace), a wait that names who ended (`si_pid`), the
//! resource use of reaped children, and `PR_SET_PDEATHSIG` with any signal.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::check;

/// Which side of a fork this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forked {
    /// The new process.
    Child,
    /// The caller, with the child's PID.
    Parent(i32),
}

/// `fork(2)`.
///
/// # Safety
///
/// In a process with more than one thread the child may only make
/// async-signal-safe calls (no allocation, no lock) until it execs or
/// exits: the caller must keep the child to that, or call this only while
/// the process is single-threaded.
pub(crate) unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: the caller keeps the child's side to the rule above.
    let pid = check(unsafe { libc::fork() })?;
    Ok(if pid == 0 { Forked::Child } else { Forked::Parent(pid) })
}

/// `CLONE_INTO_CGROUP` from `<linux/sched.h>` (5.7). libc's constant is a
/// `c_int` that this value overflows (deprecated in libc 0.2.188 for that).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3(2)` with `CLONE_INTO_CGROUP` (5.7): a fork whose child starts in
/// the cgroup v2 directory `cgroup` is open on, so it never migrates
/// there. A migration (writing to `cgroup.procs`) takes the cgroup
/// threadgroup lock for writing, which waits for an RCU grace period:
/// milliseconds on a busy machine. The error is the kernel's: `ENOSYS`
/// (no clone3, or a seccomp filter refusing it), `E2BIG`/`EINVAL` (a
/// kernel before 5.7 that does not know the flag), `EOPNOTSUPP` (a cgroup
/// that cannot take processes), `EBADF`, `EACCES`, `EAGAIN`, ...
///
/// # Safety
///
/// As [`fork`], and more: the child is made by the system call, not by the
/// C library's `fork`, so no `pthread_atfork` handler runs and the C
/// library's own record of the thread ID keeps the parent's. The caller
/// must keep the child to calls that do not depend on those (system calls,
/// std's `CommandExt::exec` in a single-threaded caller) until it execs or
/// exits with [`exit_now`].
pub(crate) unsafe fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> io::Result<Forked> {
    // SAFETY: `struct clone_args` is plain integers; all zeroes is a valid
    // value (no stack: the child runs on a copy of ours, as after fork).
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = libc::SIGCHLD as u64;
    args.cgroup = cgroup.as_raw_fd() as u64;
    // SAFETY: `args` is a live `struct clone_args` of the size passed; the
    // kernel reads no more than that. The caller keeps the child's side
    // to the rule above.
    let pid = check(unsafe { libc::syscall(libc::SYS_clone3, &raw mut args, size_of::<libc::clone_args>()) })?;
    Ok(if pid == 0 {
        Forked::Child
    } else {
        Forked::Parent(pid as i32)
    })
}

/// `_exit(2)`: ends the process now, without exit handlers and without
/// flushing any buffer. Async-signal-safe.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes no pointer and never returns.
    unsafe { libc::_exit(code) }
}

/// `exit(2)`, the system call: ends the calling thread only (what
/// `pthread_exit(3)` ends in); the process lives on in its other threads.
///
/// # Safety
///
/// Nothing may borrow from this thread's stack: it is left without
/// unwinding, so its destructors do not run.
pub(crate) unsafe fn exit_thread() {
    // SAFETY: SYS_exit takes no pointer and ends this thread only; the
    // caller promises nothing borrows its stack.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
}

/// `pidfd_send_signal(2)` with no siginfo and no flags; signal 0 only
/// checks that the process exists and may be signalled.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, number: i32) -> io::Result<()> {
    // SAFETY: the fd is borrowed for the call, a null siginfo is allowed
    // (the kernel fills one in as kill(2) would), and flags are 0.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            number,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    check(rc).map(drop)
}

/// `ioctl(PIDFD_GET_INFO)` asking for `PIDFD_INFO_EXIT` (6.15): the raw
/// wait status when the kernel kept one, `None` when it has none yet.
pub(crate) fn pidfd_exit_status(pidfd: BorrowedFd<'_>) -> io::Result<Option<i32>> {
    // SAFETY: `struct pidfd_info` is plain integers, for which all zeroes
    // is a valid value (libc marks it non-exhaustive, so it has no literal).
    let mut info: libc::pidfd_info = unsafe { std::mem::zeroed() };
    info.mask = u64::from(libc::PIDFD_INFO_EXIT);
    // SAFETY: `info` is a live `struct pidfd_info` of the size that libc's
    // `PIDFD_GET_INFO` encodes; the kernel copies no more than that.
    check(unsafe { libc::ioctl(pidfd.as_raw_fd(), libc::PIDFD_GET_INFO, &raw mut info) })?;
    Ok((info.mask & u64::from(libc::PIDFD_INFO_EXIT) != 0).then_some(info.exit_code))
}

/// `getsid(0)`: this process's session ID; 0 when the session leader
/// lives in an ancestor PID namespace.
pub(crate) fn own_session_id() -> i32 {
    // SAFETY: getsid takes no pointer; 0 names this process.
    unsafe { libc::getsid(0) }
}

/// `getpgrp(2)`: this process's group ID; 0 when the group leader lives
/// in an ancestor PID namespace.
pub(crate) fn own_group_id() -> i32 {
    // SAFETY: getpgrp has no arguments and cannot fail.
    unsafe { libc::getpgrp() }
}

/// `getrusage(RUSAGE_CHILDREN)`'s `ru_maxrss`: the largest resident set of
/// any reaped child, in kilobytes.
pub(crate) fn children_max_rss_kib() -> io::Result<i64> {
    // SAFETY: a rusage is plain integers; all zeroes is a valid one.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    check(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) })?;
    Ok(usage.ru_maxrss)
}

/// `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)`: the PID of a child that
/// has ended, left unreaped; `None` if none has (or no child is left:
/// `ECHILD`).
pub(crate) fn peek_ended_child() -> Option<i32> {
    // SAFETY: a siginfo_t is plain data; all zeroes is a valid one, and
    // si_pid reads 0 if waitid finds nobody.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let options = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: waitid writes into the siginfo we own.
    if unsafe { libc::waitid(libc::P_ALL, 0, &mut info, options) } != 0 {
        return None;
    }
    // SAFETY: waitid filled a SIGCHLD siginfo (or left zeroes), whose
    // si_pid field is the one read.
    let pid = unsafe { info.si_pid() };
    (pid != 0).then_some(pid)
}

/// `prctl(PR_SET_PDEATHSIG, number)`: the signal this process gets when
/// its parent thread dies (0: none). Async-signal-safe.
pub(crate) fn set_parent_death_signal(number: i32) -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes integers only and acts on this process.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, number as libc::c_ulong, 0, 0, 0) }).map(drop)
}

/// `kill(2)` of the caller's own unreaped child, whose PID cannot change
/// hands until it is reaped; any signal number.
pub(crate) fn signal_own_child(pid: i32, number: i32) -> io::Result<()> {
    // SAFETY: kill takes integers only.
    check(unsafe { libc::kill(pid, number) }).map(drop)
}

/// kcmp(2): `Ok(true)` when the kernel says the two resources are one (0).
/// rustix has no kcmp.
pub(crate) fn kcmp(a: i32, b: i32, kind: libc::c_long, arg_a: libc::c_long, arg_b: libc::c_long) -> io::Result<bool> {
    // SAFETY: kcmp takes five integers and reads no memory of ours.
    let result = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            libc::c_long::from(a),
            libc::c_long::from(b),
            kind,
            arg_a,
            arg_b,
        )
    };
    check(result).map(|r| r == 0)
}
