//! A write through a raw descriptor, for the child between fork and exec
//! (which holds descriptors by number: the closure std's `pre_exec` takes
//! must be `'static`), and closing every descriptor but a few, for a
//! forked keeper. Async-signal-safe.

use std::io;
use std::os::fd::RawFd;

use super::check;

/// `write(2)` of `bytes` to `fd`; how many were written.
pub(crate) fn write_raw(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: write reads at most `bytes.len()` bytes of the slice we
    // borrow; a bad fd only makes it fail (EBADF).
    let written = check(unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) })?;
    Ok(written as usize)
}

/// `close(2)` of descriptor number `fd`, which the caller owns and no
/// longer needs (a child between fork and exec).
pub(crate) fn close_raw(fd: RawFd) -> io::Result<()> {
    // SAFETY: closing a number touches no memory of ours; the caller owns
    // the descriptor, and nothing here uses it afterwards.
    check(unsafe { libc::close(fd) }).map(drop)
}

/// Closes every descriptor from 3 up except those in `keep`
/// (`close_range(2)`, Linux 5.9, over the gaps between them), so that a
/// forked process holds only what it uses. Before 5.9 nothing is closed.
/// System calls only, no allocation: async-signal-safe.
pub(crate) fn close_all_but<const N: usize>(mut keep: [RawFd; N]) {
    keep.sort_unstable();
    let mut first: u32 = 3;
    for fd in keep {
        let Ok(fd) = u32::try_from(fd) else { continue };
        if fd > first {
            close_range(first, fd - 1);
        }
        first = first.max(fd.saturating_add(1));
    }
    close_range(first, u32::MAX);
}

fn close_range(first: u32, last: u32) {
    // SAFETY: close_range takes no pointer; the caller owns every
    // descriptor in the range and no longer uses them.
    let _ = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
}

/// How many messages the kernel dropped for want of room in a socket's
/// receive queue (`SO_MEMINFO`'s `SK_MEMINFO_DROPS`, Linux 4.12): on a
/// netlink socket, each one multicast message. `ENOBUFS` tells only that
/// some were; this tells how many.
pub(crate) fn socket_drops(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    // SK_MEMINFO_VARS since Linux 4.12 (`include/uapi/linux/sock_diag.h`).
    let mut info = [0u32; 9];
    let mut length = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: the kernel writes at most `length` bytes into `info`, which
    // we own and which outlives the call, and sets `length` to how many.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut length,
        )
    })?;
    let drops = libc::SK_MEMINFO_DROPS as usize;
    if (length as usize) < (drops + 1) * std::mem::size_of::<u32>() {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    }
    Ok(info[drops])
}
