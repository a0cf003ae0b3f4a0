//! The `bpf(2)` system call, with its attribute as bytes (the callers
//! write its fields at the offsets of `union bpf_attr`).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use super::check;

/// `bpf(cmd, attr, attr.len())`; the call's non-negative result.
///
/// # Safety
///
/// Every pointer written into `attr` (a log buffer, instructions, an info
/// struct) must point to memory that is live, and writable where the
/// kernel writes, for the size the attribute gives with it.
pub(crate) unsafe fn bpf(cmd: libc::c_long, attr: &mut [u8]) -> io::Result<i64> {
    // SAFETY: the kernel reads (and for some commands writes) only within
    // the `attr.len()` bytes of attr, and through the pointers in it,
    // which the caller vouches for.
    check(unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) })
}

/// `bpf(2)` for a command that returns a new fd.
///
/// # Safety
///
/// As for [`bpf`].
pub(crate) unsafe fn bpf_fd(cmd: libc::c_long, attr: &mut [u8]) -> io::Result<OwnedFd> {
    // SAFETY: the caller vouches for the pointers in attr.
    let fd = unsafe { bpf(cmd, attr) }?;
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("bpf(2) returned no fd"))?;
    // SAFETY: the kernel returned a new file descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
