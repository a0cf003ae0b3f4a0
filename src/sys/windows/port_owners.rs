//! `holds` on Windows: the sockets a port SPEC names, from the IP Helper's
//! tables ([`super::socket_table`]), each with the process that owns it:
//! its name and parent (Toolhelp, [`super::snapshot`]), its user
//! ([`super::account`]) — or, when no process has the owner PID any more,
//! that it is gone, and the processes it started that still run — and the
//! processes that hold a handle to it ([`super::socket_handles`]).
//!
//! Windows facts behind the report:
//! - The owner PID of a socket is the process that created it, for the
//!   socket's whole life. A handle inherited by a child (`bInheritHandles =
//!   TRUE` and a socket created without `WSA_FLAG_NO_HANDLE_INHERIT`) keeps
//!   the socket — and its port — after the creator has ended, and the table
//!   still names the creator: the "unknown process" of netstat, the
//!   "non-existent" process of TCPView. Which process holds the handle now
//!   is not in the table; the creator's children that still run are the
//!   processes that can have inherited it.
//! - A process that has ended keeps its process object (and PID) while
//!   anyone holds a handle to it: it is not in a Toolhelp snapshot, but
//!   `OpenProcess` still opens it and its exit code can be read.
//! - A `TIME_WAIT` socket belongs to no process: owner PID 0.
//! - Wine 8.0 finds a socket's owner by looking for it among the unix fds
//!   of its processes; an operation that wineserver performs (bind, listen,
//!   accept, getsockname) leaves no fd in the process, so a socket its
//!   process has not used directly (an option read, a send or receive) is
//!   listed under PID 0 there, and an inherited socket under the process
//!   that used it, if any.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Serialize;

use super::account::user_of;
use super::handle::{OpenError, ProcessHandle};
use super::snapshot::{self, Row};
use super::socket_handles::{Peer, SocketHandle, Walk, socket_handles};
use super::socket_table::{self, TableError, TableRow, Tables, TcpState};
use crate::holds_spec::{Protocol, Spec};

/// A socket as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SocketView {
    /// `tcp` or `udp`.
    pub protocol: Protocol,
    /// A TCP socket's state (UDP sockets have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<TcpState>,
    /// The local address and port.
    pub local: String,
    /// The remote address and port of a connected TCP socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

/// A running process's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ProcessFacts {
    /// The PID.
    pub pid: u32,
    /// The executable's file name.
    pub name: String,
    /// The PID its parent had when it was created.
    pub parent: u32,
    /// `DOMAIN\name`, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Why the user could not be read (access denied, for one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_error: Option<String>,
}

/// The process that owns a socket, as the table names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum Owner {
    /// It runs.
    Running {
        /// Its facts.
        #[serde(flatten)]
        process: ProcessFacts,
    },
    /// It has ended; an open handle keeps its process object and PID.
    Ended {
        /// The PID.
        pid: u32,
        /// Its exit code.
        exit_code: u32,
    },
    /// No process has this PID: the process that created the socket is gone.
    Gone {
        /// The PID.
        pid: u32,
    },
    /// PID 0 on a closed connection the system finishes alone
    /// (`TIME_WAIT`, `FIN_WAIT_2`...): no process holds it.
    System {
        /// 0.
        pid: u32,
    },
    /// PID 0 on a socket some process uses (listening, connected, UDP): the
    /// table names no owner. Wine shows this for a socket no Windows
    /// process has used through a unix fd of its own (Wine finds owners by
    /// their unix fds; a socket that only wineserver has touched has none).
    Unknown {
        /// 0.
        pid: u32,
    },
}

impl Owner {
    /// The owner PID.
    pub(crate) fn pid(&self) -> u32 {
        match self {
            Owner::Running { process } => process.pid,
            Owner::Ended { pid, .. } | Owner::Gone { pid } | Owner::System { pid } | Owner::Unknown { pid } => *pid,
        }
    }

    /// Whether a process holds the socket: some process does unless the
    /// system keeps it. An ended or gone owner's socket is held by a handle
    /// another process has. Pure.
    pub(crate) fn socket_is_held(&self) -> bool {
        !matches!(self, Owner::System { .. })
    }
}

/// A process holding a handle to a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HandleHolder {
    /// The process.
    #[serde(flatten)]
    pub process: ProcessFacts,
    /// The handle's value in it.
    pub handle: u64,
    /// Whether a process with its parent's PID runs (when not, the parent
    /// it may have inherited the socket from has ended).
    pub parent_running: bool,
}

/// One socket a SPEC names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PortSocket {
    /// The socket.
    pub socket: SocketView,
    /// The process the table names as its owner.
    pub owner: Owner,
    /// The processes that hold a handle to it (the owner among them while
    /// it runs), from the system's handle table.
    pub holders: Vec<HandleHolder>,
    /// When the owner has ended or is gone: the processes it started that
    /// still run, which can hold the socket through an inherited handle.
    pub children: Vec<ProcessFacts>,
}

impl PortSocket {
    /// Whether the running owner holds no handle to its socket while other
    /// processes do: it closed its own, or its PID now names a newer process
    /// (PIDs are reused). Said only when the handle walk was complete and
    /// the owner's handles could be read. Pure.
    pub(crate) fn owner_holds_no_handle(&self, walk_complete: bool, unseen: &[u32]) -> bool {
        let Owner::Running { process } = &self.owner else {
            return false;
        };
        walk_complete
            && !unseen.contains(&process.pid)
            && !self.holders.is_empty()
            && self.holders.iter().all(|h| h.process.pid != process.pid)
    }
}

/// The answer for one SPEC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PortResult {
    /// The SPEC as given.
    pub spec: String,
    /// Whether a process holds any socket it names.
    pub held: bool,
    /// The sockets it names.
    pub sockets: Vec<PortSocket>,
}

/// How the handles of the system were read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct HandleWalk {
    /// Whether every handle was asked (none kept the walk waiting).
    pub complete: bool,
    /// Why the handle table could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Processes whose handles could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Unseen {
    /// How many.
    pub processes: usize,
    /// Which.
    pub pids: Vec<u32>,
}

/// The answer of `holds` on Windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PortsReport {
    /// One entry per SPEC.
    pub results: Vec<PortResult>,
    /// How the handles were read (only when a socket was found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle_walk: Option<HandleWalk>,
    /// Processes whose handles could not be duplicated (access denied).
    pub unseen: Unseen,
}

impl PortsReport {
    /// Whether a process holds any SPEC.
    pub(crate) fn any_held(&self) -> bool {
        self.results.iter().any(|r| r.held)
    }
}

/// `holds` failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PortsError {
    /// A socket table could not be read.
    #[error("failed to read sockets: {0}")]
    Table(#[from] TableError),
    /// The process snapshot failed.
    #[error("CreateToolhelp32Snapshot: {0}")]
    Snapshot(std::io::Error),
}

/// Which tables `specs` need. Pure.
fn tables_for(specs: &[(String, Spec)]) -> Tables {
    let mut tables = Tables { tcp: false, udp: false };
    for (_, spec) in specs {
        if let Spec::Port { protocol, .. } = spec {
            tables.tcp |= *protocol != Some(Protocol::Udp);
            tables.udp |= *protocol != Some(Protocol::Tcp);
        }
    }
    tables
}

/// The sockets, owners, holders and children of each port SPEC.
pub(crate) fn search(specs: &[(String, Spec)]) -> Result<PortsReport, PortsError> {
    let rows = socket_table::rows(tables_for(specs))?;
    let processes = snapshot::processes().map_err(PortsError::Snapshot)?;
    let any_named = rows.iter().any(|r| {
        specs
            .iter()
            .any(|(_, spec)| spec.names_port(r.protocol, r.local, false))
    });
    let (walk, handle_walk) = if any_named {
        read_handles()
    } else {
        (Walk::default(), None)
    };
    let listening: Vec<SocketAddr> = rows
        .iter()
        .filter(|r| r.state == Some(TcpState::Listen))
        .map(|r| r.local)
        .collect();
    let mut owners: HashMap<u32, Owner> = HashMap::new();
    let mut results = Vec::new();
    for (text, spec) in specs {
        let mut matched: Vec<&TableRow> = rows
            .iter()
            .filter(|r| spec.names_port(r.protocol, r.local, false))
            .collect();
        matched.sort_by_key(|r| (r.protocol, r.local.port(), r.local.is_ipv6(), r.local.ip(), r.pid));
        let sockets: Vec<PortSocket> = matched
            .into_iter()
            .map(|row| port_socket(row, &processes, &walk, &listening, &mut owners))
            .collect();
        results.push(PortResult {
            spec: text.clone(),
            held: sockets
                .iter()
                .any(|s| s.owner.socket_is_held() || !s.holders.is_empty()),
            sockets,
        });
    }
    Ok(PortsReport {
        results,
        handle_walk,
        unseen: unseen(walk.denied),
    })
}

/// The socket handles of every process, and how the walk went.
fn read_handles() -> (Walk, Option<HandleWalk>) {
    match socket_handles() {
        Ok(walk) => {
            let complete = !walk.cut_short;
            (walk, Some(HandleWalk { complete, error: None }))
        }
        Err(error) => (
            Walk::default(),
            Some(HandleWalk {
                complete: false,
                error: Some(error.to_string()),
            }),
        ),
    }
}

/// One row with its owner (looked up once per PID), holders and, for an
/// owner that has ended, its children that still run.
fn port_socket(
    row: &TableRow,
    processes: &[Row],
    walk: &Walk,
    listening: &[SocketAddr],
    owners: &mut HashMap<u32, Owner>,
) -> PortSocket {
    let owner = if row.pid == 0 {
        no_owner(row.state)
    } else {
        owners
            .entry(row.pid)
            .or_insert_with(|| owner_of(row.pid, processes))
            .clone()
    };
    let children = if matches!(owner, Owner::Ended { .. } | Owner::Gone { .. }) {
        children_of(row.pid, processes).into_iter().map(facts).collect()
    } else {
        Vec::new()
    };
    PortSocket {
        socket: view(row),
        owner,
        holders: holders_of(row, &walk.sockets, listening, processes),
        children,
    }
}

/// The processes whose handles were denied, the first 20 listed.
fn unseen(mut denied: Vec<u32>) -> Unseen {
    denied.sort_unstable();
    denied.dedup();
    Unseen {
        processes: denied.len(),
        pids: denied.into_iter().take(20).collect(),
    }
}

/// Whether a socket handle is the socket of a table row: the same
/// protocol (when it could be read), local address and peer (none for a
/// listener or a UDP socket). A handle whose peer could not be read (Wine)
/// is taken for a connection only when no listener shares its address:
/// else it may be the listener's or an accepted connection's. Pure.
fn same_socket(row: &TableRow, handle: &SocketHandle, listening: &[SocketAddr]) -> bool {
    let peer = row.remote.filter(|r| !r.ip().is_unspecified() || r.port() != 0);
    let peer_ok = match (handle.remote, peer) {
        (Peer::Connected(a), Some(b)) => a == b,
        (Peer::NotConnected, None) => true,
        (Peer::Unknown, None) => true,
        (Peer::Unknown, Some(_)) => !listening.contains(&row.local),
        _ => false,
    };
    handle.protocol.is_none_or(|p| p == row.protocol) && row.local == handle.local && peer_ok
}

/// The processes holding a handle to the socket of `row`, by PID.
fn holders_of(
    row: &TableRow,
    handles: &[SocketHandle],
    listening: &[SocketAddr],
    processes: &[Row],
) -> Vec<HandleHolder> {
    let mut holders: Vec<HandleHolder> = handles
        .iter()
        .filter(|h| same_socket(row, h, listening))
        .map(|h| {
            let process = processes.iter().find(|r| r.pid == h.pid).cloned().unwrap_or(Row {
                pid: h.pid,
                ppid: 0,
                name: String::new(),
            });
            HandleHolder {
                parent_running: processes.iter().any(|r| r.pid == process.ppid),
                process: facts(&process),
                handle: h.handle as u64,
            }
        })
        .collect();
    holders.sort_by_key(|h| (h.process.pid, h.handle));
    holders
}

/// A row as the report shows it; a listener's or UDP socket's unspecified
/// remote end is left out. Pure.
fn view(row: &TableRow) -> SocketView {
    SocketView {
        protocol: row.protocol,
        state: row.state,
        local: row.local.to_string(),
        remote: row
            .remote
            .filter(|r| !r.ip().is_unspecified() || r.port() != 0)
            .map(|r| r.to_string()),
    }
}

/// What PID 0 as a socket's owner means: the system's for a connection
/// that is closing or closed, else an owner the table does not name. Pure.
fn no_owner(state: Option<TcpState>) -> Owner {
    let closing = matches!(
        state,
        Some(
            TcpState::TimeWait
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::LastAck
                | TcpState::Closed
                | TcpState::DeleteTcb
        )
    );
    if closing {
        Owner::System { pid: 0 }
    } else {
        Owner::Unknown { pid: 0 }
    }
}

/// The owner PID's process now (not PID 0: see [`no_owner`]).
fn owner_of(pid: u32, processes: &[Row]) -> Owner {
    if let Some(row) = processes.iter().find(|r| r.pid == pid) {
        return Owner::Running { process: facts(row) };
    }
    // Not in the snapshot: ended with its object kept by a handle, gone,
    // or started just now.
    match ProcessHandle::open(pid, 0) {
        Ok(process) => match process.exit_code() {
            Some(exit_code) => Owner::Ended { pid, exit_code },
            None => unnamed(pid),
        },
        Err(OpenError::Gone { .. }) => Owner::Gone { pid },
        // It exists but may not be opened: it runs, we may not look.
        Err(_) => unnamed(pid),
    }
}

/// A running owner that the snapshot did not show (started since).
fn unnamed(pid: u32) -> Owner {
    Owner::Running {
        process: facts(&Row {
            pid,
            ppid: 0,
            name: String::new(),
        }),
    }
}

/// The processes of a snapshot whose parent PID is `pid`. Pure.
fn children_of(pid: u32, processes: &[Row]) -> Vec<&Row> {
    processes.iter().filter(|r| r.ppid == pid && r.pid != pid).collect()
}

fn facts(row: &Row) -> ProcessFacts {
    let (user, user_error) = match user_of(row.pid) {
        Ok(user) => (Some(user), None),
        // Denied (another user's or a protected process) is said, not fatal.
        Err(error) => (None, Some(error.to_string())),
    };
    ProcessFacts {
        pid: row.pid,
        name: row.name.clone(),
        parent: row.ppid,
        user,
        user_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: u32, ppid: u32, name: &str) -> Row {
        Row {
            pid,
            ppid,
            name: name.to_string(),
        }
    }

    fn spec(text: &str) -> (String, Spec) {
        (text.to_string(), text.parse().unwrap())
    }

    #[test]
    fn specs_read_only_the_tables_they_name() {
        assert_eq!(tables_for(&[spec("tcp:80")]), Tables { tcp: true, udp: false });
        assert_eq!(tables_for(&[spec("udp:53")]), Tables { tcp: false, udp: true });
        assert_eq!(tables_for(&[spec(":53")]), Tables { tcp: true, udp: true });
        assert_eq!(
            tables_for(&[spec("tcp:80"), spec("udp:53")]),
            Tables { tcp: true, udp: true }
        );
    }

    #[test]
    fn children_are_those_whose_parent_pid_is_the_owner() {
        let processes = [
            row(8, 4, "a.exe"),
            row(9, 8, "b.exe"),
            row(10, 8, "c.exe"),
            row(11, 9, "d.exe"),
        ];
        let pids: Vec<u32> = children_of(8, &processes).iter().map(|r| r.pid).collect();
        assert_eq!(pids, [9, 10]);
        assert!(children_of(12, &processes).is_empty());
    }

    #[test]
    fn pid_0_is_the_systems_only_on_a_closing_connection() {
        assert_eq!(no_owner(Some(TcpState::TimeWait)), Owner::System { pid: 0 });
        assert_eq!(no_owner(Some(TcpState::FinWait2)), Owner::System { pid: 0 });
        assert_eq!(no_owner(Some(TcpState::Listen)), Owner::Unknown { pid: 0 });
        assert_eq!(no_owner(None), Owner::Unknown { pid: 0 });
        assert!(Owner::Unknown { pid: 0 }.socket_is_held());
    }

    #[test]
    fn only_the_system_holds_nothing() {
        assert!(!Owner::System { pid: 0 }.socket_is_held());
        assert!(Owner::Gone { pid: 7 }.socket_is_held());
        assert!(Owner::Ended { pid: 7, exit_code: 1 }.socket_is_held());
        assert_eq!(Owner::Gone { pid: 7 }.pid(), 7);
    }

    #[test]
    fn a_handle_is_a_rows_socket_by_protocol_address_and_peer() {
        let listener = TableRow {
            protocol: Protocol::Tcp,
            local: "127.0.0.1:80".parse().unwrap(),
            remote: Some("0.0.0.0:0".parse().unwrap()),
            state: Some(TcpState::Listen),
            pid: 5,
        };
        let handle = SocketHandle {
            pid: 9,
            handle: 0x1a4,
            protocol: Some(Protocol::Tcp),
            local: "127.0.0.1:80".parse().unwrap(),
            remote: Peer::NotConnected,
        };
        assert!(same_socket(&listener, &handle, &[]));
        let accepted = SocketHandle {
            remote: Peer::Connected("127.0.0.1:50000".parse().unwrap()),
            ..handle
        };
        assert!(!same_socket(&listener, &accepted, &[]));
        let udp = SocketHandle {
            protocol: Some(Protocol::Udp),
            ..handle
        };
        assert!(!same_socket(&listener, &udp, &[]));
        // The type unread (Wine): the address decides.
        let untyped = SocketHandle {
            protocol: None,
            ..handle
        };
        assert!(same_socket(&listener, &untyped, &[]));
    }

    #[test]
    fn a_handle_whose_peer_is_unknown_is_a_connection_only_without_a_listener_there() {
        let connection = TableRow {
            protocol: Protocol::Tcp,
            local: "127.0.0.1:50000".parse().unwrap(),
            remote: Some("127.0.0.1:80".parse().unwrap()),
            state: Some(TcpState::Established),
            pid: 5,
        };
        let handle = SocketHandle {
            pid: 5,
            handle: 0x34,
            protocol: None,
            local: "127.0.0.1:50000".parse().unwrap(),
            remote: Peer::Unknown,
        };
        assert!(same_socket(&connection, &handle, &[]));
        assert!(!same_socket(
            &connection,
            &handle,
            &["127.0.0.1:50000".parse().unwrap()]
        ));
        let not_connected = SocketHandle {
            remote: Peer::NotConnected,
            ..handle
        };
        assert!(!same_socket(&connection, &not_connected, &[]));
    }

    #[test]
    fn a_running_owner_without_a_handle_is_noticed_only_when_certain() {
        let process = |pid| ProcessFacts {
            pid,
            name: "a.exe".into(),
            parent: 4,
            user: None,
            user_error: None,
        };
        let holder = |pid| HandleHolder {
            process: process(pid),
            handle: 8,
            parent_running: true,
        };
        let socket = PortSocket {
            socket: SocketView {
                protocol: Protocol::Tcp,
                state: Some(TcpState::Listen),
                local: "127.0.0.1:80".into(),
                remote: None,
            },
            owner: Owner::Running { process: process(8) },
            holders: vec![holder(12)],
            children: Vec::new(),
        };
        assert!(socket.owner_holds_no_handle(true, &[]));
        assert!(!socket.owner_holds_no_handle(false, &[]));
        assert!(!socket.owner_holds_no_handle(true, &[8]));
        let with_owner = PortSocket {
            holders: vec![holder(8), holder(12)],
            ..socket.clone()
        };
        assert!(!with_owner.owner_holds_no_handle(true, &[]));
        let nobody = PortSocket {
            holders: Vec::new(),
            ..socket
        };
        assert!(!nobody.owner_holds_no_handle(true, &[]));
    }

    #[test]
    fn a_listener_shows_no_remote_end() {
        let listener = TableRow {
            protocol: Protocol::Tcp,
            local: "127.0.0.1:80".parse().unwrap(),
            remote: Some("0.0.0.0:0".parse().unwrap()),
            state: Some(TcpState::Listen),
            pid: 5,
        };
        assert_eq!(view(&listener).remote, None);
        let connected = TableRow {
            remote: Some("10.0.0.1:5000".parse().unwrap()),
            ..listener
        };
        assert_eq!(view(&connected).remote.as_deref(), Some("10.0.0.1:5000"));
    }

    #[test]
    fn owners_serialize_with_their_status() {
        let gone = serde_json::to_value(Owner::Gone { pid: 7 }).unwrap();
        assert_eq!(gone, serde_json::json!({"status": "gone", "pid": 7}));
        let running = serde_json::to_value(Owner::Running {
            process: ProcessFacts {
                pid: 8,
                name: "a.exe".into(),
                parent: 4,
                user: None,
                user_error: Some("access denied".into()),
            },
        })
        .unwrap();
        assert_eq!(
            running,
            serde_json::json!({"status": "running", "pid": 8, "name": "a.exe", "parent": 4, "user_error": "access denied"})
        );
    }
}
