//! What a process holds: open fds and their kinds (sockets, pipes, files,
//! anonymous inodes), sockets from netlink sock_diag, memory-mapped files,
//! file locks and IPC objects; snapshots of a process tree, the holders of a
//! port or path, and what a tree left behind when it died.
//!
//! [`fd`] is the per-fd model every command shares: `snapshot`, `holds`,
//! `watch` (fd counts by kind) and the leftovers audit of `run`.

pub mod fd;
pub mod holders;
pub mod ipc;
pub mod ipc_created;
pub mod ipc_left;
pub mod leftovers;
pub mod locks;
pub mod maps;
pub mod snapshot;
pub mod sockets;
pub mod tree_forks;
pub mod walk;

pub use fd::{Access, Fd, FdInfo, FdKind};
pub use leftovers::{LeftoversReport, audit, compare};
pub use snapshot::Snapshot;
