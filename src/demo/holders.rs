//! Who holds an fd: a walk of every process's `/proc/PID/fd`, each match
//! read with [`crate::resources::fd`]; and who holds a listening TCP port,
//! answered by the library of `afterlife holds`.

use serde::Serialize;

use std::os::unix::ffi::OsStrExt;

use crate::process::Pid;
use crate::resources::fd::{self, Fd};
use crate::resources::holders::{self, Spec};
use crate::resources::sockets::SocketState;

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

/// Every process holding the TCP socket listening on `port`, as
/// `afterlife holds tcp:PORT` finds them (sock_diag, then every
/// `/proc/PID/fd`). A port nothing listens on has no holders.
pub fn listening_port_holders(port: u16) -> Vec<SocketHolder> {
    let text = format!("tcp:{port}");
    let Ok(spec) = text.parse::<Spec>() else {
        return Vec::new();
    };
    // A failed socket dump reads as "no holder", which the demo's checks
    // then report as not holding.
    let Ok(report) = holders::search(&[(text, spec)]) else {
        return Vec::new();
    };
    report
        .results
        .iter()
        .flat_map(|result| &result.sockets)
        .filter(|found| found.socket.state == SocketState::Listen)
        .flat_map(|found| &found.holders)
        .filter_map(|holder| {
            Some(SocketHolder {
                pid: holder.pid,
                name: holder.name.clone(),
                ppid: holder.ppid,
                fd: holder.fd?,
                cloexec: holder.cloexec?,
            })
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
        let holders = listening_port_holders(port);
        let me = holders.iter().find(|h| h.pid == Pid::current()).expect("we hold it");
        assert_eq!(me.fd, std::os::fd::AsRawFd::as_raw_fd(&listener));
        assert!(me.cloexec, "std sets O_CLOEXEC");
        drop(listener);
        assert!(listening_port_holders(port).is_empty());
    }
}
