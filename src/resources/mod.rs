//! What a process holds: open fds and their kinds (sockets, pipes, files,
//! anonymous inodes), read from /proc.
//!
//! [`fd`] is the per-fd model every command shares: `snapshot`, `holds`,
//! `watch` (fd counts by kind) and the leftovers audit of `run`.

pub mod fd;

pub use fd::{Access, Fd, FdInfo, FdKind};
