//! `holds`: who holds a port, a unix socket or a path, how each holder got
//! it, and why a socket no process holds still exists.
//!
//! The search is built for speed on busy machines: the sockets of a spec are
//! found first (one sock_diag dump per network namespace in use), then every
//! `/proc/PID/fd` is walked once comparing each link against `socket:[INODE]`
//! ([`crate::resources::walk`]); fdinfo, names and parents are read only for
//! the matches.
//!
//! The parts: `spec.rs` (what a SPEC names), `search.rs` (the search, in
//! its steps), `brief.rs` (the few facts of a process a report names),
//! `explain.rs` (how each holder got what it holds), `ghosts.rs` (why a
//! socket no process holds exists), `path.rs` (path SPECs: fds, mappings,
//! locks), `deleted.rs` (`holds --deleted`).
//!
//! Kernel facts behind the explanations:
//! - `fork(2)` copies every fd; `execve(2)` keeps every fd without
//!   `O_CLOEXEC`. A child holding its parent's socket inherited it (a socket
//!   has one open file); for files, `kcmp(2)` `KCMP_FILE` tells a shared open
//!   file description from two opens of the same path.
//! - A socket sent with `SCM_RIGHTS` and not yet received is held by the
//!   receiving socket's queue, not by any fd table (unix(7)).
//! - `TIME_WAIT` sockets, orphaned sockets still finishing their close
//!   (`FIN_WAIT*`, `CLOSING`, `LAST_ACK`) and half-open request sockets
//!   (`SYN_RECV`) belong to the kernel: sock_diag shows them with inode 0
//!   (tcp(7): `tcp_fin_timeout`, `tcp_max_orphans`).
//! - A socket belongs to the network namespace it was created in; the same
//!   port can be bound in each namespace.
//! - A process group keeps the ID of the process that made it (its leader,
//!   `setpgid(2)`) after that process is gone: workers forked by a master
//!   that was SIGKILLed hold its sockets in a group that still carries the
//!   dead master's PID, and `kill --pgroup PGID` reaches them all.

use serde::Serialize;

use crate::process::Pid;
use crate::resources::fd::Access;
use crate::resources::sockets::{self, NetnsId, Socket, SocketState, Source};

mod brief;
mod deleted;
mod explain;
mod ghosts;
mod path;
mod search;
mod spec;

pub use brief::{Brief, brief};
pub use deleted::{DeletedFile, DeletedReport, deleted_files};
pub use explain::leader_gone;
pub use ghosts::{GhostKind, ghost_reason};
pub use search::{namespace_members, search};
pub use spec::{LocalAddr, Spec, SpecError};

/// A process named in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessRef {
    /// The PID.
    pub pid: Pid,
    /// Its name (`comm`).
    pub name: String,
}

/// How a holder refers to the thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// An open fd.
    Fd,
    /// Its working directory.
    Cwd,
    /// Its root directory.
    Root,
    /// Its executable.
    Exe,
    /// A memory mapping.
    Mapped,
    /// A file lock recorded under its PID.
    Locked,
}

/// How a holder got what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Its parent holds the same socket or file at the same fd number: it
    /// came with `fork`.
    Inherited {
        /// The parent.
        parent: Pid,
        /// The parent's name.
        parent_name: String,
    },
    /// Its parent holds the same socket or file at another fd number: it
    /// was passed to it (SCM_RIGHTS, pidfd_getfd), or inherited and then
    /// moved (dup2); the two are not told apart.
    SharedWithParent {
        /// The parent.
        parent: Pid,
        /// The parent's name.
        parent_name: String,
        /// The parent's fd.
        parent_fd: i32,
    },
    /// The fd lacks `O_CLOEXEC`: every program this process starts inherits it.
    NoCloexec,
    /// No living parent holds it, and its process group still carries the
    /// PID of a leader that is gone (a master killed under its workers):
    /// that leader may have made it and left it to its group, or this
    /// process made it itself; the two are not told apart.
    LeaderGone {
        /// The process group, named after the dead leader's PID.
        pgid: i32,
    },
}

/// One process holding the thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The PID.
    pub pid: Pid,
    /// Its name.
    pub name: String,
    /// Its real UID, if readable.
    pub uid: Option<u32>,
    /// The user name.
    pub user: Option<String>,
    /// Its parent's PID.
    pub ppid: i32,
    /// Its process group.
    pub pgid: i32,
    /// How it refers to it.
    pub via: Via,
    /// The fd number (`via: fd`).
    pub fd: Option<i32>,
    /// Access mode of the fd.
    pub access: Option<Access>,
    /// Whether the fd has `O_CLOEXEC`.
    pub cloexec: Option<bool>,
    /// How it got there.
    pub origins: Vec<Origin>,
}

/// Why a socket that no process holds still exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Ghost {
    /// Closed; the kernel keeps it in TIME_WAIT (about 60 s).
    TimeWait,
    /// Its last process closed it; the kernel finishes the close handshake.
    Orphaned {
        /// The state it is in.
        state: SocketState,
    },
    /// A handshake the kernel answers on behalf of a listener.
    HalfOpen,
    /// A connection waiting in a listener's accept queue.
    AcceptQueue {
        /// The listener's inode.
        listener: u64,
        /// Who holds the listener.
        holders: Vec<ProcessRef>,
    },
    /// Sent with `SCM_RIGHTS` and not yet received: it sits in a unix socket
    /// queue. `receivers` are the unix sockets with unread data.
    InFlight {
        /// Candidate receiving sockets.
        receivers: Vec<Receiver>,
    },
    /// Some processes could not be read: one of them may hold it.
    Unreadable {
        /// How many.
        processes: usize,
    },
    /// /proc hides other users' processes (`hidepid`): one of them may
    /// hold it.
    Hidden {
        /// The `hidepid` option of /proc.
        hidepid: String,
    },
}

/// A unix socket with unread data, and who holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receiver {
    /// Its inode.
    pub inode: u64,
    /// Its bound name, if any.
    pub path: Option<String>,
    /// Bytes unread.
    pub recv_queue: u32,
    /// Who holds it.
    pub holders: Vec<ProcessRef>,
}

/// A socket the spec names, its holders, and for one no process holds, why
/// it exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SocketMatch {
    /// The socket.
    pub socket: Socket,
    /// Set when the socket is in another network namespace than afterlife:
    /// a process in that namespace.
    pub foreign_netns: Option<ProcessRef>,
    /// Who holds it.
    pub holders: Vec<Holder>,
    /// When no process holds it: why it exists.
    pub ghost: Option<Ghost>,
    /// For a TCP socket no process holds: what it does to a new `bind` of
    /// its address and port while it lasts. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindEffect>,
}

/// What a TCP socket does to a new `bind(2)` of its local port on its
/// local address, or on a wildcard address that covers it, as the kernel
/// decides (`inet_bind_conflict`): a socket without `SO_REUSEADDR` (or
/// `SO_REUSEPORT`) conflicts with every socket bound there, TIME_WAIT
/// included; one with `SO_REUSEADDR` only with a listener, or with a
/// socket that had no `SO_REUSEADDR` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BindEffect {
    /// A bind without `SO_REUSEADDR` fails with `EADDRINUSE`.
    pub fails_without_reuseaddr: bool,
    /// Whether a bind with `SO_REUSEADDR` fails; `None` where that turns
    /// on whether the socket itself had `SO_REUSEADDR` (a connection
    /// accepted from a listener has the listener's), which the kernel
    /// does not report (sock_diag has no such attribute).
    pub fails_with_reuseaddr: Option<bool>,
}

impl BindEffect {
    /// The effect of a TCP socket in this state; `None` for UDP and unix
    /// sockets and for a handshake under way (a request socket is not
    /// bound: its listener is). Pure.
    pub fn of(socket: &Socket) -> Option<BindEffect> {
        if socket.protocol != sockets::Protocol::Tcp {
            return None;
        }
        match socket.state {
            SocketState::SynRecv | SocketState::NewSynRecv => None,
            SocketState::Listen => Some(BindEffect {
                fails_without_reuseaddr: true,
                fails_with_reuseaddr: Some(true),
            }),
            _ => Some(BindEffect {
                fails_without_reuseaddr: true,
                fails_with_reuseaddr: None,
            }),
        }
    }
}

/// The answer for one SPEC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecReport {
    /// The SPEC as given.
    pub spec: String,
    /// Sockets it names.
    pub sockets: Vec<SocketMatch>,
    /// Holders of a path.
    pub holders: Vec<Holder>,
    /// Whether any process holds it.
    pub held: bool,
    /// A path whose file system did not answer `stat` within two seconds
    /// (a hung FUSE or NFS mount): matched by the path as written and by
    /// its mount, not by its inode.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unanswered: bool,
}

/// A network namespace that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceRead {
    /// The namespace.
    pub netns: NetnsId,
    /// A process in it (none for afterlife's own).
    pub member: Option<Pid>,
    /// How it was read.
    pub source: Option<Source>,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// What could not be seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unseen {
    /// Processes whose fds could not be read (permission denied): all of them.
    pub processes: usize,
    /// The first 20 of them, in PID order (shorter than `processes` when
    /// more were unseen).
    pub pids: Vec<Pid>,
    /// The `hidepid` option of /proc when it hides other users' processes
    /// from afterlife altogether (absent otherwise): those are not counted
    /// above, since /proc does not list them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidepid: Option<String>,
}

/// The answer of `holds`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldsReport {
    /// One entry per SPEC.
    pub results: Vec<SpecReport>,
    /// afterlife's own network namespace.
    pub own_netns: Option<NetnsId>,
    /// Namespaces read.
    pub namespaces: Vec<NamespaceRead>,
    /// What could not be read.
    pub unseen: Unseen,
}

impl HoldsReport {
    /// Whether any process holds any SPEC.
    pub fn any_held(&self) -> bool {
        self.results.iter().any(|r| r.held)
    }
}

/// `holds` failed.
#[derive(Debug, thiserror::Error)]
pub enum HoldsError {
    /// Our own namespace's sockets could not be read.
    #[error("failed to read sockets: {0}")]
    Sockets(#[from] sockets::SocketError),
    /// A path could not be examined.
    #[error("cannot examine {path}: {source}")]
    Path {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// A TCP or UDP socket bound to `local`, for the tests of the parts.
#[cfg(test)]
fn inet(protocol: sockets::Protocol, local: &str, state: SocketState, inode: u64) -> Socket {
    Socket::inet_fixture(protocol, state, local, "0.0.0.0:0", inode)
}
