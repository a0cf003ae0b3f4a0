//! Namespaces: `unshare(2)` for a new PID namespace (rustix's `unshare` is
//! unsafe for every flag, since some unshare the fd table), a /proc of
//! afterlife's own PID namespace where it was given another's, and a file
//! read as a process of another PID namespace reads it.

use std::ffi::CStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::check;
use super::process::Forked;

/// `unshare(CLONE_NEWPID)`: the children started from now on are in a new
/// PID namespace (the caller stays in its own). Needs `CAP_SYS_ADMIN`.
pub(crate) fn unshare_pid_namespace() -> io::Result<()> {
    // SAFETY: CLONE_NEWPID changes only the namespace of future children;
    // no memory or descriptor of this process is touched.
    check(unsafe { libc::unshare(libc::CLONE_NEWPID) }).map(drop)
}

/// Gives this thread a /proc of its own PID namespace, in a mount
/// namespace of its own ([`unshare_mount_namespace`]): its copy of `/proc`
/// made private ([`make_private`]), so that nothing mounted on it reaches
/// the namespace it came from, and a new procfs mounted over it
/// ([`mount_proc`]), which numbers processes as the mounting process's PID
/// namespace does. The other mounts stay what they were, each in the same
/// peer group as before. Needs `CAP_SYS_ADMIN` over the mount and PID
/// namespaces. Async-signal-safe (for a child between fork and exec).
pub(crate) fn mount_own_proc() -> io::Result<()> {
    unshare_mount_namespace()?;
    make_private(c"/proc")?;
    mount_proc(c"/proc")
}

/// `unshare(CLONE_NEWNS)`: the calling thread gets a copy of its mount
/// namespace (and of its root and working directory, `CLONE_FS`).
pub(crate) fn unshare_mount_namespace() -> io::Result<()> {
    // SAFETY: CLONE_NEWNS copies the mount namespace; no memory or fd is touched.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNS) };
    check(rc).map(drop)
}

/// Makes the mount at `path` and those below it private in this mount
/// namespace (`MS_PRIVATE | MS_REC`).
pub(crate) fn make_private(path: &CStr) -> io::Result<()> {
    // SAFETY: a propagation change of the mount at a C string path; the
    // null source, type and data are allowed for it (mount(2)).
    check(unsafe {
        libc::mount(
            std::ptr::null(),
            path.as_ptr(),
            std::ptr::null(),
            libc::MS_PRIVATE | libc::MS_REC,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// Mounts a new procfs at `path` (`nosuid,nodev,noexec`).
pub(crate) fn mount_proc(path: &CStr) -> io::Result<()> {
    // SAFETY: C string arguments that live through the call, no data.
    check(unsafe {
        libc::mount(
            c"proc".as_ptr(),
            path.as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// The contents of the file at `path` as a process of the PID namespace
/// that `pidfd`'s process is in reads it: a child forked into that
/// namespace (`setns(2)` on the pidfd, Linux 5.8; our own namespace for
/// later children is restored right after the fork) opens the file and
/// copies it into a pipe. Files whose PIDs the kernel gives as the
/// opener's namespace sees them (`/proc/sysvipc/*`) then show 0 for every
/// process outside that namespace. Needs `CAP_SYS_ADMIN` over the
/// namespace. The child makes only async-signal-safe calls.
pub(crate) fn read_in_pid_namespace(pidfd: BorrowedFd<'_>, path: &CStr) -> io::Result<Vec<u8>> {
    use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
    let own = std::fs::File::open("/proc/self/ns/pid")?;
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    move_into_link_name_space(pidfd, Some(LinkNameSpaceType::ProcessID))?;
    // SAFETY: the child calls only open, read, write and _exit (all
    // async-signal-safe) on memory of its own stack.
    let forked = unsafe { super::process::fork() };
    let back = move_into_link_name_space(own.as_fd(), Some(LinkNameSpaceType::ProcessID));
    match forked? {
        Forked::Child => {
            drop(reader);
            super::process::exit_now(copy_into(path, writer.as_raw_fd()))
        }
        Forked::Parent(pid) => {
            drop(writer);
            let mut text = Vec::new();
            let read = std::fs::File::from(reader).read_to_end(&mut text);
            let status = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid),
                rustix::process::WaitOptions::empty(),
            )?;
            back?;
            read?;
            match status.and_then(|(_, s)| s.exit_status()) {
                Some(0) => Ok(text),
                _ => Err(io::Error::other(format!(
                    "the reader in the namespace could not read {}",
                    path.to_string_lossy()
                ))),
            }
        }
    }
}

/// The child's side of [`read_in_pid_namespace`]: copies the file into
/// `out`; the exit code (0: all of it). Async-signal-safe.
fn copy_into(path: &CStr, out: RawFd) -> i32 {
    // SAFETY: a NUL-terminated path we borrow; open takes no other pointer.
    let file = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if file < 0 {
        return 1;
    }
    let mut buffer = [0u8; 4096];
    loop {
        // SAFETY: `buffer` is ours and as long as the count passed.
        let got = unsafe { libc::read(file, buffer.as_mut_ptr().cast(), buffer.len()) };
        if got == 0 {
            return 0;
        }
        if got < 0 {
            return 1;
        }
        let mut rest = &buffer[..got as usize];
        while !rest.is_empty() {
            match super::fd::write_raw(out, rest) {
                Ok(wrote) if wrote > 0 => rest = &rest[wrote..],
                _ => return 1,
            }
        }
    }
}
