//! A write through a raw descriptor, for the child between fork and exec
//! (which holds descriptors by number: the closure std's `pre_exec` takes
//! must be `'static`). Async-signal-safe.

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
