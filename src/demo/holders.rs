//! Who holds an fd: a walk of every process's `/proc/PID/fd`, each match
//! read with [`crate::resources::fd`], and the inode of a listening TCP socket
//! from `/proc/net/tcp` (proc_net(5)).
//!
//! This is the demo's own, self-contained answer to "who holds port P"; it
//! is the integration point for `afterlife holds`, which answers the same
//! question for every kind of socket with how the holder got it.

use serde::Serialize;

use std::os::unix::ffi::OsStrExt;

use crate::process::Pid;
use crate::resources::fd::{self, Fd};

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketHolder {
    /// The holder.
    pub pid: Pid,
    /// Its name (`comm`), unescaped.
    pub name: String,
    /// Its parent.
    pub ppid: i32,
    /// The fd number.
    pub fd: i32,
    /// Whether the fd is closed on exec.
    pub cloexec: bool,
}

/// The inode of the socket listening on TCP `port` (IPv4 or IPv6), from
/// `/proc/net/tcp` and `/proc/net/tcp6` of this network namespace.
pub fn listening_socket_inode(port: u16) -> Option<u64> {
    use procfs::net::TcpState;
    let v4 = procfs::net::tcp().unwrap_or_default();
    let v6 = procfs::net::tcp6().unwrap_or_default();
    v4.into_iter()
        .chain(v6)
        .find(|entry| entry.state == TcpState::Listen && entry.local_address.port() == port)
        .map(|entry| entry.inode)
}

/// Every fd of every process whose link target (`socket:[INODE]`,
/// `/path (deleted)`, as readlink(2) on `/proc/PID/fd/N` gives it) is
/// `matches`, read in full with [`fd::read_one`]. The link alone decides,
/// so the walk costs one readlink per fd; reading every fd in full
/// ([`fd::list`]: fdinfo and a stat as well) is four times the system calls,
/// which on a busy machine made a walk take seconds. Processes that end
/// during the walk, and those whose fds we may not read, are skipped.
pub(crate) fn fd_holders(matches: impl Fn(&[u8]) -> bool) -> Vec<(Pid, Fd)> {
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in proc.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse().ok())
            .and_then(Pid::new)
        else {
            continue;
        };
        // ENOENT (ended meanwhile) and EACCES (not ours to see): skip.
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd_entry in fds.flatten() {
            // ENOENT: the fd was closed after the listing.
            let Ok(link) = std::fs::read_link(fd_entry.path()) else {
                continue;
            };
            if !matches(link.as_os_str().as_bytes()) {
                continue;
            }
            let number = fd_entry.file_name().to_str().and_then(|n| n.parse().ok());
            if let Some(fd) = number.and_then(|n| fd::read_one(pid, n)) {
                found.push((pid, fd));
            }
        }
    }
    found
}

/// Every process holding the socket with `inode`.
///
/// Integration point for `afterlife holds`: until then the demo finds the
/// holders of the ghost socket here, on its own.
pub fn socket_holders(inode: u64) -> Vec<SocketHolder> {
    let target = format!("socket:[{inode}]");
    fd_holders(|link| link == target.as_bytes())
        .into_iter()
        .map(|(pid, f)| {
            // Gone since the walk: name and parent unknown.
            let stat = procfs::process::Process::new(pid.get()).and_then(|p| p.stat()).ok();
            SocketHolder {
                pid,
                name: stat.as_ref().map(|s| s.comm.clone()).unwrap_or_default(),
                ppid: stat.map_or(0, |s| s.ppid),
                fd: f.fd,
                cloexec: f.cloexec,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_holding_its_own_listener() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let inode = listening_socket_inode(port).expect("the listener is in /proc/net/tcp");
        let holders = socket_holders(inode);
        let me = holders.iter().find(|h| h.pid == Pid::current()).expect("we hold it");
        assert_eq!(me.fd, std::os::fd::AsRawFd::as_raw_fd(&listener));
        assert!(me.cloexec, "std sets O_CLOEXEC");
        drop(listener);
        assert_eq!(listening_socket_inode(port), None);
    }
}
