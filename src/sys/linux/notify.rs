//! fanotify(7) and file handles: `fanotify_init`, `fanotify_mark`,
//! `open_by_handle_at`, which rustix does not wrap.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::check;

/// `fanotify_init(flags, event_flags)`: a new fanotify group.
pub(crate) fn fanotify_init(flags: libc::c_uint, event_flags: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments; a new fd or -1.
    let raw = check(unsafe { libc::fanotify_init(flags, event_flags) })?;
    // SAFETY: `raw` was just returned to us and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// `fanotify_mark(fd, flags, mask, AT_FDCWD, path)`.
pub(crate) fn fanotify_mark(fd: BorrowedFd<'_>, flags: libc::c_uint, mask: u64, path: &CStr) -> io::Result<()> {
    // SAFETY: a NUL-terminated path; the fd is borrowed for the call.
    check(unsafe { libc::fanotify_mark(fd.as_raw_fd(), flags, mask, libc::AT_FDCWD, path.as_ptr()) }).map(drop)
}

/// `fanotify_mark(fd, flags, mask, dir, NULL)`: marks the inode `dir` is
/// open on.
pub(crate) fn fanotify_mark_fd(
    fd: BorrowedFd<'_>,
    flags: libc::c_uint,
    mask: u64,
    dir: BorrowedFd<'_>,
) -> io::Result<()> {
    // SAFETY: with a null path the kernel marks `dir` itself; both fds are
    // borrowed for the call.
    check(unsafe { libc::fanotify_mark(fd.as_raw_fd(), flags, mask, dir.as_raw_fd(), std::ptr::null()) }).map(drop)
}

/// `struct file_handle` with 8 bytes of `f_handle` inline: the handle of a
/// kernfs node (a cgroup), `FILEID_KERNFS` with the node's ID.
#[repr(C)]
struct Handle8 {
    bytes: u32,
    kind: i32,
    id: u64,
}

/// `open_by_handle_at(mount, {kind, id}, flags)` for an 8-byte handle
/// (needs `CAP_DAC_READ_SEARCH`).
pub(crate) fn open_by_handle8(mount: BorrowedFd<'_>, kind: i32, id: u64, flags: i32) -> io::Result<OwnedFd> {
    let mut handle = Handle8 { bytes: 8, kind, id };
    // SAFETY: `handle` is a `struct file_handle` with its 8 bytes of
    // `f_handle` inline; the kernel reads within them.
    let raw = check(unsafe { libc::open_by_handle_at(mount.as_raw_fd(), (&raw mut handle).cast(), flags) })?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}
