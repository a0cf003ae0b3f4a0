//! Who holds an fd: a walk of every process's `/proc/PID/fd` with
//! [`crate::resources::fd::list`], and the inode of a listening TCP socket
//! from `/proc/net/tcp` (proc_net(5)).
//!
//! This is the demo's own, self-contained answer to "who holds port P"; it
//! is the integration point for `afterlife holds`, which answers the same
//! question for every kind of socket with how the holder got it.

use serde::Serialize;

use crate::process::{Pid, ProcessTable};
use crate::resources::fd::{self, Fd, FdKind};

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

/// Every fd of every process that `matches`. Processes that end during the
/// walk, and those whose fds we may not read, are skipped.
pub(crate) fn fd_holders(matches: impl Fn(&Fd) -> bool) -> Vec<(Pid, Fd)> {
    let table = ProcessTable::scan();
    let mut found = Vec::new();
    for entry in table.entries().filter(|e| !e.kernel_thread) {
        // ENOENT (ended meanwhile) and EACCES: nothing to see there.
        let Ok(fds) = fd::list(entry.pid) else { continue };
        found.extend(fds.into_iter().filter(|f| matches(f)).map(|f| (entry.pid, f)));
    }
    found
}

/// Every process holding the socket with `inode`.
///
/// Integration point for `afterlife holds`: until then the demo finds the
/// holders of the ghost socket here, on its own.
pub fn socket_holders(inode: u64) -> Vec<SocketHolder> {
    let table = ProcessTable::scan();
    fd_holders(|f| f.kind == FdKind::Socket && f.inode == Some(inode))
        .into_iter()
        .map(|(pid, f)| {
            let entry = table.get(pid);
            SocketHolder {
                pid,
                name: entry.map(|e| e.name.clone()).unwrap_or_default(),
                ppid: entry.map_or(0, |e| e.ppid),
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
