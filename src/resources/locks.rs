//! File locks of the whole system, from `/proc/locks` (proc_locks(5)).
//!
//! A POSIX (`fcntl`) lock belongs to a process and goes with it; a `flock`
//! or open-file-description lock belongs to the open file and lives as long
//! as any fd for it does — a child that inherited the fd keeps it locked
//! after the locker died, and `/proc/locks` still names the locker's PID.
//! OFD locks show PID -1. Device numbers are printed in hex.
//!
//! Outside the initial PID namespace (a container) `/proc/locks` leaves out
//! every lock whose recorded PID is not visible there, among them a `flock`
//! whose locker died while a child still holds the file. Such a lock is
//! still listed in the holder's `/proc/PID/fdinfo/FD`, as a `lock:` line in
//! the same format with PID 0: [`from_fdinfo`] reads those.

pub use crate::proc::locks::{Lock, LockKind, from_fdinfo, parse};

/// Reads `/proc/locks`; an unreadable file gives no locks.
pub fn read() -> Vec<Lock> {
    std::fs::read_to_string("/proc/locks")
        .map(|t| parse(&t))
        .unwrap_or_default()
}
