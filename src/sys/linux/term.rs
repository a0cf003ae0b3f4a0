//! The controlling terminal, by raw descriptor (0, 1 or 2, which the
//! callers neither own nor close): `isatty(3)`, `tcgetpgrp(3)`,
//! `tcsetpgrp(3)`. A descriptor that is not a terminal, or not open, only
//! makes the call fail. All three are async-signal-safe.

use std::io;
use std::os::fd::RawFd;

use super::check;

/// Whether `fd` is a terminal.
pub(crate) fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty takes an integer only.
    unsafe { libc::isatty(fd) == 1 }
}

/// The terminal's foreground process group; `None` if it has none or `fd`
/// is not a terminal.
pub(crate) fn foreground_group(fd: RawFd) -> Option<i32> {
    // SAFETY: tcgetpgrp takes an integer only.
    let group = unsafe { libc::tcgetpgrp(fd) };
    (group > 0).then_some(group)
}

/// Makes `group` the terminal's foreground process group.
pub(crate) fn set_foreground_group(fd: RawFd, group: i32) -> io::Result<()> {
    // SAFETY: tcsetpgrp takes integers only.
    check(unsafe { libc::tcsetpgrp(fd, group) }).map(drop)
}
