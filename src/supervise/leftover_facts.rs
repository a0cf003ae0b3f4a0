//! What a leftover holds, in the shape `run`'s report gives it: its open
//! fds with their kind, which of them lack `O_CLOEXEC` (and so were, or
//! will be, inherited across `exec`), and its sockets with their addresses
//! and states; and who it is (parent, session, group), to tell how it
//! escaped.
//!
//! The facts come from [`crate::resources`], the model `snapshot`, `holds`
//! and `leftovers` share: fds from [`fd::list`] (`/proc/PID/fd` links and
//! `/proc/PID/fdinfo` `flags:`, where `O_CLOEXEC` is `02000000`), sockets
//! from netlink sock_diag ([`sockets::with_inodes`], one dump per network
//! namespace, and only when a leftover holds a socket at all). This module
//! only puts them into the report's words.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::process::Pid;
use crate::resources::fd::{self, Fd, FdKind};
use crate::resources::sockets::{self, NetnsId, Protocol, Socket, SocketState};

/// One open file descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldFd {
    /// The descriptor number.
    pub fd: i32,
    /// What it refers to (a path, `pipe:[N]`, `socket:[N]`, ...).
    pub target: String,
    /// What kind of file it is.
    pub kind: FdKind,
    /// Whether `O_CLOEXEC` is set; without it the fd passes to every program
    /// the process `exec`s.
    pub cloexec: bool,
    /// The socket behind it, if it is one we could identify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<SocketFact>,
}

impl HeldFd {
    /// The report's view of one fd from [`fd::list`]. Pure.
    pub fn from_fd(fd: &Fd) -> HeldFd {
        // The target as /proc shows it: resources strips " (deleted)" from
        // paths and says so in the kind instead.
        let target = if fd.kind == FdKind::DeletedFile {
            format!("{} (deleted)", fd.target)
        } else {
            fd.target.clone()
        };
        HeldFd {
            fd: fd.fd,
            target,
            kind: fd.kind,
            cloexec: fd.cloexec,
            socket: None,
        }
    }
}

/// A socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketFact {
    /// `tcp`, `tcp6`, `udp`, `udp6` or `unix`.
    pub protocol: String,
    /// The local address (`127.0.0.1:8080`, or a unix path).
    pub local: String,
    /// The remote address, for connected sockets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// `listen`, `established`, ... (for UDP: `bound` or `connected`; for
    /// unix: `listen`, `connected` or `unconnected`).
    pub state: String,
}

impl SocketFact {
    /// Whether it listens for connections.
    pub fn listening(&self) -> bool {
        self.state == "listen"
    }

    /// The report's words for a socket from sock_diag. Pure.
    pub fn from_socket(socket: &Socket) -> SocketFact {
        let v6 = socket.local.is_some_and(|a| a.is_ipv6());
        let protocol = match (socket.protocol, v6) {
            (Protocol::Tcp, false) => "tcp",
            (Protocol::Tcp, true) => "tcp6",
            (Protocol::Udp, false) => "udp",
            (Protocol::Udp, true) => "udp6",
            (Protocol::Unix, _) => "unix",
        };
        let state = match socket.protocol {
            Protocol::Tcp => tcp_state(socket.state),
            // UDP sockets are TCP_ESTABLISHED once connected, else TCP_CLOSE.
            Protocol::Udp if socket.state == SocketState::Established => "connected",
            Protocol::Udp => "bound",
            Protocol::Unix => match socket.state {
                SocketState::Listen => "listen",
                SocketState::Established => "connected",
                _ => "unconnected",
            },
        };
        let local = match socket.protocol {
            Protocol::Unix => socket.path.clone().unwrap_or_default(),
            _ => socket.local.map(|a| a.to_string()).unwrap_or_default(),
        };
        let connected = matches!(state, "established" | "connected") && socket.protocol != Protocol::Unix;
        SocketFact {
            protocol: protocol.to_string(),
            local,
            remote: socket.remote.filter(|_| connected).map(|a| a.to_string()),
            state: state.to_string(),
        }
    }
}

/// TCP states in the report's words (include/net/tcp_states.h names).
fn tcp_state(state: SocketState) -> &'static str {
    match state {
        SocketState::Established => "established",
        SocketState::SynSent => "syn_sent",
        SocketState::SynRecv => "syn_recv",
        SocketState::FinWait1 => "fin_wait1",
        SocketState::FinWait2 => "fin_wait2",
        SocketState::TimeWait => "time_wait",
        SocketState::Close => "close",
        SocketState::CloseWait => "close_wait",
        SocketState::LastAck => "last_ack",
        SocketState::Listen => "listen",
        SocketState::Closing => "closing",
        SocketState::NewSynRecv | SocketState::Unknown => "unknown",
    }
}

/// Who a leftover is: name, parentage and command line, from
/// `/proc/PID/stat` and `cmdline`, checked against its start time.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `comm`.
    pub name: String,
    /// Parent PID.
    pub ppid: i32,
    /// Session.
    pub sid: i32,
    /// Process group.
    pub pgid: i32,
    /// Command line.
    pub cmdline: Vec<String>,
    /// Ending on its own when read (SIGKILL queued, or in `do_exit`):
    /// [`crate::process::ending`].
    pub ending: bool,
}

/// Reads the identity of `pid` if it is still the process that started at
/// `start_ticks`: name and command line of one program, read again where
/// the process called `execve` meanwhile (as `ProcessInfo` is).
pub fn identity(pid: Pid, start_ticks: u64) -> Option<Identity> {
    // ENOENT/ESRCH: it ended meanwhile; nothing to tell.
    let proc = crate::proc::Process::new(pid.get()).ok()?;
    let mut stat = crate::proc::stat::of(&proc).ok()?;
    if stat.starttime != start_ticks {
        return None;
    }
    let cmdline = crate::process::read_as_one_program(
        &proc,
        &mut stat,
        |stat| command_line(&proc, pid, stat),
        |cmdline| cmdline,
    );
    Some(Identity {
        name: stat.comm,
        ppid: stat.ppid,
        sid: stat.session,
        pgid: stat.pgrp,
        cmdline,
        ending: crate::process::ending(&proc, pid),
    })
}

/// The command line of the process in `proc`, whose `stat` is `stat`.
fn command_line(proc: &crate::proc::Process, pid: Pid, stat: &crate::proc::stat::Stat) -> Vec<String> {
    // A process whose main thread has ended while others run has no
    // command line at /proc/PID: its main thread's memory went with it.
    if crate::process::main_thread_ended(stat) {
        std::fs::read(format!("{}/cmdline", crate::process::files_dir(pid)))
            .map(|raw| crate::proc::cmdline::split(&raw))
            .unwrap_or_default()
    } else {
        crate::proc::cmdline::of(proc).unwrap_or_default()
    }
}

/// Whether the leader of the process group `pgid` of the leftover `pid`
/// (which started at `start_ticks`) is gone: no process with that PID in
/// that group, or one started after the leftover (the PID was reused).
pub fn group_leader_gone(pid: Pid, pgid: i32, start_ticks: u64) -> bool {
    let Some(group) = Pid::new(pgid) else {
        return false;
    };
    let leader = crate::resources::holders::brief(group).map(|b| (b.pgid, b.start_ticks));
    // A leader /proc hides (hidepid) is not known to be gone.
    if leader.is_none() && crate::process::Process::exists_unlisted(group) {
        return false;
    }
    crate::resources::holders::leader_gone((pid.get(), pgid, start_ticks), leader)
}

/// The open fds of each of `pids`, in the same order; empty for a process
/// that is gone or unreadable. Sockets are resolved with one sock_diag dump
/// per network namespace, and only when one of them holds a socket.
pub fn held_fds(pids: &[Pid]) -> Vec<Vec<HeldFd>> {
    // ENOENT: it ended; EACCES: not ours to read. Nothing to tell.
    let listed: Vec<Vec<Fd>> = pids.iter().map(|&pid| fd::list(pid).unwrap_or_default()).collect();
    let mut inodes = HashSet::new();
    let mut members: BTreeMap<NetnsId, Pid> = BTreeMap::new();
    for (&pid, fds) in pids.iter().zip(&listed) {
        let before = inodes.len();
        inodes.extend(fds.iter().filter(|f| f.kind == FdKind::Socket).filter_map(|f| f.inode));
        if inodes.len() > before
            && let Some(netns) = sockets::netns_of(pid)
        {
            members.entry(netns).or_insert(pid);
        }
    }
    let by_inode: HashMap<u64, SocketFact> = sockets::with_inodes(&members, &inodes)
        .iter()
        .map(|s| (s.inode, SocketFact::from_socket(s)))
        .collect();
    listed
        .iter()
        .map(|fds| {
            fds.iter()
                .map(|f| HeldFd {
                    socket: f
                        .inode
                        .filter(|_| f.kind == FdKind::Socket)
                        .and_then(|inode| by_inode.get(&inode).cloned()),
                    ..HeldFd::from_fd(f)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet(protocol: Protocol, state: SocketState, local: &str, remote: &str) -> Socket {
        Socket::inet_fixture(protocol, state, local, remote, 1)
    }

    #[test]
    fn words_inet_sockets_as_before() {
        let listener =
            SocketFact::from_socket(&inet(Protocol::Tcp, SocketState::Listen, "127.0.0.1:8080", "0.0.0.0:0"));
        assert_eq!(listener.protocol, "tcp");
        assert_eq!(listener.local, "127.0.0.1:8080");
        assert_eq!(listener.remote, None);
        assert!(listener.listening());
        let connected = SocketFact::from_socket(&inet(
            Protocol::Tcp,
            SocketState::Established,
            "127.0.0.1:8080",
            "127.0.0.1:50000",
        ));
        assert_eq!(connected.state, "established");
        assert_eq!(connected.remote.as_deref(), Some("127.0.0.1:50000"));
        let v6 = SocketFact::from_socket(&inet(Protocol::Tcp, SocketState::Listen, "[::1]:8080", "[::]:0"));
        assert_eq!((v6.protocol.as_str(), v6.local.as_str()), ("tcp6", "[::1]:8080"));
        let udp = SocketFact::from_socket(&inet(Protocol::Udp, SocketState::Close, "0.0.0.0:53", "0.0.0.0:0"));
        assert_eq!((udp.protocol.as_str(), udp.state.as_str()), ("udp", "bound"));
        assert_eq!(udp.remote, None);
        let udp = SocketFact::from_socket(&inet(Protocol::Udp, SocketState::Established, "[::1]:5353", "[::1]:53"));
        assert_eq!((udp.protocol.as_str(), udp.state.as_str()), ("udp6", "connected"));
        assert_eq!(udp.remote.as_deref(), Some("[::1]:53"));
    }

    #[test]
    fn words_unix_sockets_as_before() {
        let mut socket = inet(Protocol::Unix, SocketState::Listen, "0.0.0.0:0", "0.0.0.0:0");
        socket.local = None;
        socket.remote = None;
        socket.path = Some("/run/x.sock".to_string());
        let fact = SocketFact::from_socket(&socket);
        assert_eq!(
            (fact.protocol.as_str(), fact.local.as_str(), fact.state.as_str()),
            ("unix", "/run/x.sock", "listen")
        );
        socket.state = SocketState::Established;
        socket.path = None;
        let fact = SocketFact::from_socket(&socket);
        assert_eq!((fact.local.as_str(), fact.state.as_str()), ("", "connected"));
        assert_eq!(fact.remote, None);
        socket.state = SocketState::Close;
        assert_eq!(SocketFact::from_socket(&socket).state, "unconnected");
    }

    #[test]
    fn keeps_the_deleted_mark_in_the_target() {
        let fd = Fd {
            fd: 3,
            kind: FdKind::DeletedFile,
            target: "/tmp/x".to_string(),
            inode: Some(9),
            access: crate::resources::fd::Access::Read,
            cloexec: false,
            offset: 0,
            locks: vec![],
        };
        let held = HeldFd::from_fd(&fd);
        assert_eq!(held.target, "/tmp/x (deleted)");
        assert!(!held.cloexec);
        assert_eq!(held.kind, FdKind::DeletedFile);
    }

    #[test]
    fn finds_own_fds_and_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        let held = held_fds(&[Pid::current()]);
        let found = held[0].iter().find(|f| f.fd == fd).expect("the listener's fd");
        assert_eq!(found.kind, FdKind::Socket);
        assert!(found.cloexec, "std opens sockets with SOCK_CLOEXEC");
        let socket = found.socket.as_ref().expect("the socket from sock_diag");
        assert_eq!(socket.local, format!("127.0.0.1:{port}"));
        assert!(socket.listening());
    }
}
