//! Starting the command, straight into its cgroup leaf where the kernel
//! allows it.
//!
//! A process forked outside the leaf must migrate into it (writing `0` to
//! `cgroup.procs` between fork and exec), and a migration takes the cgroup
//! threadgroup lock for writing, which waits for an RCU grace period:
//! 15 ms and more on a busy machine, most of what `run` added to a short
//! test. `clone3(CLONE_INTO_CGROUP)` (Linux 5.7, cgroup v2) starts the child
//! in the leaf instead, with no migration. The child then runs std's
//! `CommandExt::exec`, which does what `Command::spawn` does in its child
//! (stdio, environment, the `pre_exec` hooks of [`ChildSetup`], the `PATH`
//! search), and tells an exec failure back on a close-on-exec pipe, as
//! `spawn` does: end of file means the exec happened.
//!
//! Where the kernel refuses the clone (`ENOSYS`: no clone3, or a seccomp
//! filter in a container; `E2BIG`/`EINVAL`: a kernel before 5.7;
//! `EOPNOTSUPP`, `EBUSY`, `EACCES`: a leaf that cannot take the process),
//! and in a process with more than one thread (where the child may not
//! allocate), the command is started as before: `Command::spawn`, whose
//! child writes to `cgroup.procs` ([`ChildSetup::apply`]); that write's own
//! failure still reports the leaf as unusable.
//!
//! `AFTERLIFE_CGROUP_MIGRATE` set to anything but empty or `0` takes that
//! second way on purpose, as where the kernel refuses the clone.
//!
//! [`ChildSetup`]: super::signals::ChildSetup
//! [`ChildSetup::apply`]: super::signals::ChildSetup::apply

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;

use crate::supervise::signals::mark_started_in_leaf;
use crate::sys::linux::process::{self as sys_process, Forked};

/// How a started command is told apart from one whose exec failed: what
/// the child wrote on the close-on-exec pipe before it closed. Pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecOutcome {
    /// Nothing: the pipe closed on exec.
    Started,
    /// The exec (or a `pre_exec` hook) failed with this errno.
    Failed(i32),
}

/// Reads the child's report: no byte, or the four of an errno (anything
/// else, a child that died mid-write, counts as `EIO`). Pure.
pub fn exec_outcome(report: &[u8]) -> ExecOutcome {
    if report.is_empty() {
        return ExecOutcome::Started;
    }
    <[u8; 4]>::try_from(report).map_or(ExecOutcome::Failed(libc::EIO), |bytes| {
        ExecOutcome::Failed(i32::from_ne_bytes(bytes))
    })
}

/// Whether `st_nlink` of `/proc/self/task` (threads plus two) says this
/// process has one thread. Pure.
pub fn one_thread(task_links: u64) -> bool {
    task_links == 3
}

/// Whether `AFTERLIFE_CGROUP_MIGRATE` asks for the fork and the move into
/// the leaf rather than `clone3`.
fn migrate_asked() -> bool {
    std::env::var_os("AFTERLIFE_CGROUP_MIGRATE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether this process has one thread now (unknown: no).
fn single_threaded() -> bool {
    rustix::fs::stat(c"/proc/self/task").is_ok_and(|s| one_thread(s.st_nlink))
}

/// Starts `command` (its [`ChildSetup`](super::signals::ChildSetup)
/// installed) and waits until it has exec'd or failed to: in the cgroup
/// `leaf` is open on with `clone3(CLONE_INTO_CGROUP)` when the kernel
/// allows it, else with `Command::spawn`. The PID, or the errno of the
/// failure as `spawn` gives it.
pub fn start(command: &mut std::process::Command, leaf: Option<BorrowedFd<'_>>) -> io::Result<libc::pid_t> {
    if let Some(leaf) = leaf.filter(|_| !migrate_asked() && single_threaded())
        && let Some(started) = start_in_leaf(command, leaf)
    {
        return started;
    }
    let child = command.spawn()?;
    let pid = child.id() as libc::pid_t;
    // Not waited through std: the caller reaps it by its PID or pidfd
    // (dropping a `Child` neither waits nor kills).
    drop(child);
    Ok(pid)
}

/// `clone3(CLONE_INTO_CGROUP)`, then exec in the child; `None` when the
/// kernel refused the clone (see the module docs).
fn start_in_leaf(command: &mut std::process::Command, leaf: BorrowedFd<'_>) -> Option<io::Result<libc::pid_t>> {
    let (report_read, report_write) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(ends) => ends,
        Err(e) => return Some(Err(e.into())),
    };
    // SAFETY: the caller is single-threaded (checked by `start`), and the
    // child only execs through std (which allocates: sound with one
    // thread) or leaves with `_exit`; neither depends on fork handlers or
    // the C library's cached thread ID.
    match unsafe { sys_process::fork_into_cgroup(leaf) } {
        // Refused: the caller falls back to fork and a cgroup.procs write.
        Err(_) => None,
        Ok(Forked::Child) => {
            drop(report_read);
            exec_child(command, report_write)
        }
        Ok(Forked::Parent(pid)) => {
            drop(report_write);
            Some(await_exec(pid, &report_read))
        }
    }
}

/// The child's side: exec, or write the errno and leave.
fn exec_child(command: &mut std::process::Command, report: OwnedFd) -> ! {
    // Born in the leaf: no write to cgroup.procs (it would migrate this
    // process into the leaf it is in, and wait as any migration does).
    mark_started_in_leaf();
    let error = command.exec();
    let errno = error.raw_os_error().unwrap_or(libc::EIO);
    // Four bytes, far below PIPE_BUF: written whole (pipe(7)).
    let _ = rustix::io::write(&report, &errno.to_ne_bytes());
    sys_process::exit_now(127)
}

/// The parent's side: end of file on the report pipe means the child has
/// exec'd; an errno means it failed, and the child is reaped.
fn await_exec(pid: libc::pid_t, report: &OwnedFd) -> io::Result<libc::pid_t> {
    let mut buf = [0u8; 4];
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::io::read(report, &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    match exec_outcome(&buf[..filled]) {
        ExecOutcome::Started => Ok(pid),
        ExecOutcome::Failed(errno) => {
            // Our own child, which exits right after its write.
            let _ = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid),
                rustix::process::WaitOptions::empty(),
            );
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_an_exec_from_a_failure() {
        assert_eq!(exec_outcome(&[]), ExecOutcome::Started);
        assert_eq!(exec_outcome(&2i32.to_ne_bytes()), ExecOutcome::Failed(2));
        assert_eq!(exec_outcome(&[1, 0]), ExecOutcome::Failed(libc::EIO));
    }

    #[test]
    fn one_thread_is_three_links() {
        assert!(one_thread(3));
        assert!(!one_thread(4));
        assert!(!one_thread(0));
    }
}
