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
