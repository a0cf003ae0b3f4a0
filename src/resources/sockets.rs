//! Every TCP, UDP and unix socket of a network namespace, from netlink
//! sock_diag, with its state, addresses, queues and inode.
//!
//! Kernel facts relied on (sock_diag(7)):
//! - A `NETLINK_SOCK_DIAG` socket answers `SOCK_DIAG_BY_FAMILY` dump requests
//!   with one `inet_diag_msg` per TCP/UDP socket (`inet_diag_req_v2`, states
//!   as a bit mask, including `TIME_WAIT` and `NEW_SYN_RECV` sockets, which
//!   have inode 0: no file, no process) and one `unix_diag_msg` per unix
//!   socket (`unix_diag_req`; `UDIAG_SHOW_NAME|PEER|RQLEN|ICONS` add the bound
//!   path, the peer's inode, the queue lengths and, for a listener, the inodes
//!   of connections waiting to be accepted).
//! - A netlink socket answers for the network namespace it was created in;
//!   a thread may `setns(CLONE_NEWNET)` (needs `CAP_SYS_ADMIN`), create one
//!   there and leave, which is how other namespaces are read once each.
//! - Without that privilege `/proc/PID/net/{tcp,tcp6,udp,udp6,unix}` of a
//!   member process shows the same sockets of its namespace (no unix peers or
//!   queues); [`crate::proc::net`] parses them.
//!
//! The netlink messages are two fixed-size structs each way, parsed here
//! over `rustix` sockets with one reused buffer: the rust-netlink crates
//! decode every attribute into owned values per socket, which the hot path
//! of `holds` (inode, port and state only) does not need.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use serde::{Deserialize, Serialize};

use crate::netlink::{NLMSG_DONE, NLMSG_ERROR, error_of, messages, u32_at};
use crate::proc::net::InetTable;
use crate::process::Pid;

/// A network namespace, named by its inode (`net:[INODE]`).
pub type NetnsId = u64;

/// The transport (OS-neutral: the SPECs of `holds` name it on Windows too).
pub use crate::holds_spec::Protocol;

/// A socket state, as the kernel's `TCP_*` numbers (unix and UDP sockets use
/// the same numbers: `Close` is an unconnected socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SocketState {
    /// Connected.
    Established,
    /// Connecting.
    SynSent,
    /// Half-open: a handshake the kernel answers for a listener.
    SynRecv,
    /// Closing, our FIN sent.
    FinWait1,
    /// Closing, our FIN acknowledged.
    FinWait2,
    /// Closed; the kernel keeps it for 2*MSL.
    TimeWait,
    /// Unconnected (UDP, unix) or closed.
    Close,
    /// The peer closed; we have not.
    CloseWait,
    /// Closing after the peer did.
    LastAck,
    /// Listening.
    Listen,
    /// Both sides closing at once.
    Closing,
    /// A request socket (half-open handshake, Linux 4.4+).
    NewSynRecv,
    /// A number this build does not know.
    Unknown,
}

impl SocketState {
    /// From the kernel's number.
    pub fn from_raw(raw: u8) -> SocketState {
        match raw {
            1 => SocketState::Established,
            2 => SocketState::SynSent,
            3 => SocketState::SynRecv,
            4 => SocketState::FinWait1,
            5 => SocketState::FinWait2,
            6 => SocketState::TimeWait,
            7 => SocketState::Close,
            8 => SocketState::CloseWait,
            9 => SocketState::LastAck,
            10 => SocketState::Listen,
            11 => SocketState::Closing,
            12 => SocketState::NewSynRecv,
            _ => SocketState::Unknown,
        }
    }

    /// The name as `ss` shows it.
    pub fn name(self) -> &'static str {
        match self {
            SocketState::Established => "ESTAB",
            SocketState::SynSent => "SYN-SENT",
            SocketState::SynRecv => "SYN-RECV",
            SocketState::FinWait1 => "FIN-WAIT-1",
            SocketState::FinWait2 => "FIN-WAIT-2",
            SocketState::TimeWait => "TIME-WAIT",
            SocketState::Close => "UNCONN",
            SocketState::CloseWait => "CLOSE-WAIT",
            SocketState::LastAck => "LAST-ACK",
            SocketState::Listen => "LISTEN",
            SocketState::Closing => "CLOSING",
            SocketState::NewSynRecv => "SYN-RECV",
            SocketState::Unknown => "UNKNOWN",
        }
    }
}

/// The kind of a unix socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnixType {
    /// `SOCK_STREAM`.
    Stream,
    /// `SOCK_DGRAM`.
    Dgram,
    /// `SOCK_SEQPACKET`.
    Seqpacket,
    /// Another type.
    Other,
}

/// One socket of a network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Socket {
    /// The socket inode (`socket:[INODE]` in /proc/PID/fd); 0 for sockets
    /// no file refers to (TIME_WAIT, request sockets, unaccepted children).
    pub inode: u64,
    /// The network namespace it was found in.
    pub netns: NetnsId,
    /// The transport.
    pub protocol: Protocol,
    /// The state.
    pub state: SocketState,
    /// Local address (TCP/UDP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<SocketAddr>,
    /// Remote address (TCP/UDP; unspecified when unconnected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<SocketAddr>,
    /// Bound name of a unix socket: a path, or `@name` for an abstract one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Unix socket type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_type: Option<UnixType>,
    /// The inode of the connected peer (unix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<u64>,
    /// Receive queue: bytes unread; for a listener, connections not yet accepted.
    pub recv_queue: u32,
    /// Send queue: bytes unacknowledged; for a listener, the backlog.
    pub send_queue: u32,
    /// Owner UID (TCP/UDP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// For a unix listener: inodes of connections waiting to be accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<u64>,
    /// An IPv6 socket that takes IPv6 alone (`IPV6_V6ONLY`): bound to `::`
    /// it does not take IPv4 (sock_diag's `INET_DIAG_SKV6ONLY`, sent for
    /// listening and unconnected sockets; false where unknown).
    #[serde(skip)]
    pub v6only: bool,
    /// The file a unix socket is bound to: its device (as `stat`'s
    /// `st_dev`) and the low 32 bits of its inode (sock_diag's
    /// `UNIX_DIAG_VFS`); `None` where unknown (abstract, unbound, or read
    /// from `/proc/net/unix`). A path names another file in another mount
    /// namespace; the bound file is the socket's own. Kept in a snapshot,
    /// so that `leftovers` names only that very file as left behind.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "bound_file_json")]
    pub bound_file: Option<(u64, u32)>,
}

/// [`Socket::bound_file`] in JSON: `{"dev": ..., "inode": ...}`.
mod bound_file_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct BoundFile {
        dev: u64,
        inode: u32,
    }

    pub fn serialize<S: Serializer>(file: &Option<(u64, u32)>, serializer: S) -> Result<S::Ok, S::Error> {
        file.map(|(dev, inode)| BoundFile { dev, inode }).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<(u64, u32)>, D::Error> {
        Ok(Option::<BoundFile>::deserialize(deserializer)?.map(|f| (f.dev, f.inode)))
    }
}

#[cfg(test)]
impl Socket {
    /// A TCP or UDP socket for tests: bound to `local`, connected to
    /// `remote` (`0.0.0.0:0` when not), owned by root, in namespace 1.
    pub(crate) fn inet_fixture(
        protocol: Protocol,
        state: SocketState,
        local: &str,
        remote: &str,
        inode: u64,
    ) -> Socket {
        Socket {
            inode,
            netns: 1,
            protocol,
            state,
            local: Some(local.parse().expect("a socket address")),
            remote: Some(remote.parse().expect("a socket address")),
            path: None,
            unix_type: None,
            peer: None,
            recv_queue: 0,
            send_queue: 0,
            uid: Some(0),
            pending: Vec::new(),
            v6only: false,
            bound_file: None,
        }
    }
}

impl Socket {
    /// The local port of a TCP/UDP socket.
    pub fn port(&self) -> Option<u16> {
        self.local.map(|a| a.port())
    }

    /// A one-line description: `tcp LISTEN 127.0.0.1:8080`.
    pub fn describe(&self) -> String {
        match self.protocol {
            Protocol::Unix => {
                let name = self.path.clone().unwrap_or_else(|| "(unnamed)".to_string());
                let kind = match self.unix_type {
                    Some(UnixType::Dgram) => "dgram",
                    Some(UnixType::Seqpacket) => "seqpacket",
                    _ => "stream",
                };
                format!("unix {kind} {} {name} (inode {})", self.state.name(), self.inode)
            }
            _ => {
                let local = self.local.map(|a| a.to_string()).unwrap_or_default();
                let remote = match self.remote {
                    Some(r) if !r.ip().is_unspecified() || r.port() != 0 => format!(" -> {r}"),
                    _ => String::new(),
                };
                format!("{} {} {local}{remote}", self.protocol.name(), self.state.name())
            }
        }
    }

    /// [`Socket::describe`] for a reader in network namespace `own`
    /// (afterlife's; `None` where unknown): a socket of another namespace
    /// says so, since `127.0.0.1:8080` there is not the host's
    /// `127.0.0.1:8080`. Pure.
    pub fn describe_from(&self, own: Option<NetnsId>) -> String {
        match own {
            Some(own) if own == self.netns => self.describe(),
            _ => format!(
                "{} [network namespace net:[{}], not afterlife's]",
                self.describe(),
                self.netns
            ),
        }
    }
}

/// Reading sockets failed.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// A system call failed.
    #[error("{syscall} for sock_diag: {source}")]
    Sys {
        /// The call.
        syscall: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The kernel answered a dump with an error.
    #[error("sock_diag dump of {what} refused: {source}")]
    Refused {
        /// What was asked.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Entering another network namespace failed.
    #[error("setns into the network namespace of process {pid}: {source}")]
    Setns {
        /// The member process.
        pid: Pid,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Reading /proc/PID/net failed.
    #[error("reading /proc/{pid}/net/{file}: {source}")]
    ProcNet {
        /// The member process.
        pid: Pid,
        /// The file.
        file: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Which sockets to dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// TCP over IPv4 and IPv6.
    pub tcp: bool,
    /// UDP over IPv4 and IPv6.
    pub udp: bool,
    /// Unix sockets.
    pub unix: bool,
}

impl Selection {
    /// Everything.
    pub const ALL: Selection = Selection {
        tcp: true,
        udp: true,
        unix: true,
    };
}

/// The network namespace of a process: the inode in `/proc/PID/ns/net`.
pub fn netns_of(pid: Pid) -> Option<NetnsId> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    parse_ns_link(link.as_os_str().as_encoded_bytes())
}

/// Parses `net:[4026531840]`. Pure.
pub fn parse_ns_link(link: &[u8]) -> Option<NetnsId> {
    let inner = link.strip_prefix(b"net:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

/// The network namespace afterlife itself is in.
pub fn own_netns() -> Option<NetnsId> {
    let link = std::fs::read_link("/proc/thread-self/ns/net").ok()?;
    parse_ns_link(link.as_os_str().as_encoded_bytes())
}

/// How the sockets of a namespace were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// netlink sock_diag.
    SockDiag,
    /// `/proc/PID/net/*` of a member (no unix peers or queues).
    ProcNet,
}

/// Dumps the sockets of the namespace `netns`, which `member` is in: with
/// sock_diag from inside it (our own, or entered on a short-lived thread), or
/// else from `/proc/MEMBER/net/*`.
pub fn dump_namespace(
    netns: NetnsId,
    member: Option<Pid>,
    selection: Selection,
) -> Result<(Vec<Socket>, Source), SocketError> {
    dump_namespace_filtered(netns, member, selection, &Filter::default())
}

/// [`dump_namespace`] keeping only what passes `filter`.
pub fn dump_namespace_filtered(
    netns: NetnsId,
    member: Option<Pid>,
    selection: Selection,
    filter: &Filter<'_>,
) -> Result<(Vec<Socket>, Source), SocketError> {
    let member = match member {
        Some(member) if own_netns() != Some(netns) => member,
        _ => return dump_filtered(netns, selection, filter).map(|s| (s, Source::SockDiag)),
    };
    let entered = std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<Vec<Socket>, SocketError> {
                let ns = std::fs::File::open(format!("/proc/{member}/ns/net"))
                    .map_err(|source| SocketError::Setns { pid: member, source })?;
                // setns(2) on this thread only; the thread ends after the dump.
                rustix::thread::move_into_link_name_space(ns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
                    .map_err(|errno| SocketError::Setns {
                        pid: member,
                        source: errno.into(),
                    })?;
                dump_filtered(netns, selection, filter)
            })
            .join()
    });
    match entered {
        Ok(Ok(sockets)) => Ok((sockets, Source::SockDiag)),
        // EPERM without CAP_SYS_ADMIN (or a vanished member): read its /proc/PID/net.
        _ => read_proc_net(netns, member, selection).map(|mut s| {
            s.retain(|s| {
                filter.local_port.is_none_or(|p| s.port() == Some(p)) && filter.keep.is_none_or(|keep| keep(s))
            });
            (s, Source::ProcNet)
        }),
    }
}

/// The sockets with these inodes, found with one dump of each network
/// namespace in `members` (which names one process in each). A namespace
/// that cannot be read is passed over: its sockets stay bare inodes to the
/// caller. Each socket appears once.
pub fn with_inodes(
    members: &std::collections::BTreeMap<NetnsId, Pid>,
    inodes: &std::collections::HashSet<u64>,
) -> Vec<Socket> {
    if inodes.is_empty() {
        return Vec::new();
    }
    let keep = |s: &Socket| inodes.contains(&s.inode);
    let filter = Filter {
        local_port: None,
        keep: Some(&keep),
    };
    let mut found = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (&netns, &member) in members {
        let Ok((sockets, _)) = dump_namespace_filtered(netns, Some(member), Selection::ALL, &filter) else {
            continue;
        };
        found.extend(sockets.into_iter().filter(|s| seen.insert(s.inode)));
    }
    found
}

/// Dumps the sockets of the namespace this thread is in.
pub fn dump(netns: NetnsId, selection: Selection) -> Result<Vec<Socket>, SocketError> {
    dump_filtered(netns, selection, &Filter::default())
}

/// What a dump keeps.
#[derive(Default)]
pub struct Filter<'a> {
    /// Only TCP/UDP sockets with this local port; the kernel applies it
    /// (an `INET_DIAG_REQ_BYTECODE` program, as `ss 'sport = :P'` sends).
    pub local_port: Option<u16>,
    /// Only sockets this accepts (applied as each arrives, so a busy
    /// machine's sockets are never all held in memory).
    pub keep: Option<&'a (dyn Fn(&Socket) -> bool + Sync)>,
}

/// Dumps the sockets of the namespace this thread is in that pass `filter`.
pub fn dump_filtered(netns: NetnsId, selection: Selection, filter: &Filter<'_>) -> Result<Vec<Socket>, SocketError> {
    let sock = DiagSocket::open()?;
    let mut sockets = Vec::new();
    let mut push = |socket: Socket| {
        if filter.keep.is_none_or(|keep| keep(&socket)) {
            sockets.push(socket);
        }
    };
    if selection.tcp {
        // Both families in one pass over the kernel's TCP tables when it
        // answers the older request; two passes otherwise.
        match dump_tcp_both_families(&sock, netns, filter.local_port) {
            Ok(found) => found.into_iter().for_each(&mut push),
            Err(_) => dump_inet(&sock, Protocol::Tcp, netns, filter.local_port, &mut push)?,
        }
    }
    if selection.udp {
        dump_inet(&sock, Protocol::Udp, netns, filter.local_port, &mut push)?;
    }
    if selection.unix {
        let mut req = [0u8; 24];
        req[0] = libc::AF_UNIX as u8;
        req[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        let show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
        req[12..16].copy_from_slice(&show.to_ne_bytes());
        sock.request(SOCK_DIAG_BY_FAMILY, &req, 2)?;
        sock.receive("unix", |payload| {
            if let Some(socket) = parse_unix_msg(payload, netns) {
                push(socket);
            }
        })?;
    }
    Ok(sockets)
}

/// The TCP or UDP sockets of both address families, one
/// `SOCK_DIAG_BY_FAMILY` dump each.
fn dump_inet(
    sock: &DiagSocket,
    protocol: Protocol,
    netns: NetnsId,
    local_port: Option<u16>,
    push: &mut impl FnMut(Socket),
) -> Result<(), SocketError> {
    let ipproto = if protocol == Protocol::Tcp {
        libc::IPPROTO_TCP
    } else {
        libc::IPPROTO_UDP
    } as u8;
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        let mut req = vec![0u8; 56];
        req[0] = family;
        req[1] = ipproto;
        req[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        if let Some(port) = local_port {
            req.extend_from_slice(&local_port_bytecode(port));
        }
        sock.request(SOCK_DIAG_BY_FAMILY, &req, 1)?;
        receive_inet(sock, protocol, netns, &mut *push)?;
    }
    Ok(())
}

/// The `inet_diag_msg`s answering one request.
fn receive_inet(
    sock: &DiagSocket,
    protocol: Protocol,
    netns: NetnsId,
    push: &mut impl FnMut(Socket),
) -> Result<(), SocketError> {
    sock.receive("tcp/udp", |payload| {
        if let Some(socket) = parse_inet_msg(payload, protocol, netns) {
            push(socket);
        }
    })
}

/// Every TCP socket of both address families in one dump: the older
/// `TCPDIAG_GETSOCK` request (`struct inet_diag_req`) takes the family
/// `AF_UNSPEC`, which makes the kernel walk its TCP hash tables once for
/// IPv4 and IPv6 together; `SOCK_DIAG_BY_FAMILY` needs one walk per family,
/// and the established table is walked bucket by bucket however few
/// sockets it holds (262,144 buckets, about 4 ms, on a machine with 24 GiB).
/// The answers are the same `inet_diag_msg`s. Collected whole, so that a
/// kernel refusing the request leaves nothing half read.
fn dump_tcp_both_families(
    sock: &DiagSocket,
    netns: NetnsId,
    local_port: Option<u16>,
) -> Result<Vec<Socket>, SocketError> {
    // struct inet_diag_req: family, src_len, dst_len, ext, the socket id
    // (48 bytes), states, dbs.
    let mut req = vec![0u8; 60];
    req[0] = libc::AF_UNSPEC as u8;
    req[52..56].copy_from_slice(&u32::MAX.to_ne_bytes());
    if let Some(port) = local_port {
        req.extend_from_slice(&local_port_bytecode(port));
    }
    sock.request(TCPDIAG_GETSOCK, &req, 3)?;
    let mut found = Vec::new();
    receive_inet(sock, Protocol::Tcp, netns, &mut |socket| found.push(socket))?;
    // IPv4 first, each family in the kernel's order, as two dumps give them.
    found.sort_by_key(|socket| socket.local.is_some_and(|address| address.is_ipv6()));
    Ok(found)
}

/// `INET_DIAG_REQ_BYTECODE` attribute holding the program "local port ==
/// PORT": an `INET_DIAG_BC_S_EQ` op (yes: go on to the end, accept; no: jump
/// past the end, reject) followed by an op whose `no` field is the port
/// (inet_diag_bc_run in net/ipv4/inet_diag.c). Pure.
pub fn local_port_bytecode(port: u16) -> [u8; 12] {
    const INET_DIAG_REQ_BYTECODE: u16 = 1;
    const INET_DIAG_BC_S_EQ: u8 = 11;
    let mut attr = [0u8; 12];
    attr[0..2].copy_from_slice(&12u16.to_ne_bytes());
    attr[2..4].copy_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    attr[4] = INET_DIAG_BC_S_EQ;
    attr[5] = 8; // yes: the length of this program
    attr[6..8].copy_from_slice(&12u16.to_ne_bytes()); // no: past the end
    attr[10..12].copy_from_slice(&port.to_ne_bytes());
    attr
}

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const TCPDIAG_GETSOCK: u16 = 18;
const UDIAG_SHOW_NAME: u32 = 1;
const UDIAG_SHOW_VFS: u32 = 2;
const UDIAG_SHOW_PEER: u32 = 4;
const UDIAG_SHOW_ICONS: u32 = 8;
const UDIAG_SHOW_RQLEN: u32 = 16;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_VFS: u16 = 1;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_ICONS: u16 = 3;
const UNIX_DIAG_RQLEN: u16 = 4;

struct DiagSocket(OwnedFd);

impl DiagSocket {
    fn open() -> Result<DiagSocket, SocketError> {
        rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )
        .map(DiagSocket)
        .map_err(|errno| SocketError::Sys {
            syscall: "socket(NETLINK_SOCK_DIAG)",
            source: errno.into(),
        })
    }

    fn request(&self, kind: u16, body: &[u8], seq: u32) -> Result<(), SocketError> {
        let len = 16 + body.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        let flags: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // Addressed to the kernel: port ID 0, no multicast group.
        let kernel = SocketAddrNetlink::new(0, 0);
        rustix::net::sendto(&self.0, &msg, SendFlags::empty(), &kernel).map_err(|errno| SocketError::Sys {
            syscall: "sendto",
            source: errno.into(),
        })?;
        Ok(())
    }

    /// Reads the messages of one dump until `NLMSG_DONE`.
    fn receive(&self, what: &'static str, mut each: impl FnMut(&[u8])) -> Result<(), SocketError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match rustix::net::recv(&self.0, &mut buf[..], RecvFlags::empty()) {
                Ok((n, _)) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(errno) => {
                    return Err(SocketError::Sys {
                        syscall: "recv",
                        source: errno.into(),
                    });
                }
            };
            if n == 0 {
                return Ok(());
            }
            for (kind, payload) in messages(&buf[..n]) {
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        let errno = error_of(payload).unwrap_or(0);
                        if errno != 0 {
                            return Err(SocketError::Refused {
                                what,
                                source: io::Error::from_raw_os_error(-errno),
                            });
                        }
                    }
                    _ => each(payload),
                }
            }
        }
    }
}

/// Parses one `inet_diag_msg`. Pure.
pub fn parse_inet_msg(payload: &[u8], protocol: Protocol, netns: NetnsId) -> Option<Socket> {
    if payload.len() < 72 {
        return None;
    }
    let family = payload[0];
    let state = SocketState::from_raw(payload[1]);
    let id = &payload[4..52];
    let sport = u16::from_be_bytes([id[0], id[1]]);
    let dport = u16::from_be_bytes([id[2], id[3]]);
    let addr = |bytes: &[u8]| -> IpAddr {
        if family == libc::AF_INET6 as u8 {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&bytes[..16]);
            IpAddr::V6(Ipv6Addr::from(octets))
        } else {
            IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
        }
    };
    let src = addr(&id[4..20]);
    let dst = addr(&id[20..36]);
    let recv_queue = u32_at(payload, 56)?;
    let send_queue = u32_at(payload, 60)?;
    let uid = u32_at(payload, 64)?;
    let inode = u32_at(payload, 68)? as u64;
    Some(Socket {
        inode,
        netns,
        protocol,
        state,
        local: Some(SocketAddr::new(src, sport)),
        remote: Some(SocketAddr::new(dst, dport)),
        path: None,
        unix_type: None,
        peer: None,
        recv_queue,
        send_queue,
        uid: Some(uid),
        pending: Vec::new(),
        v6only: family == libc::AF_INET6 as u8 && v6only_attribute(payload.get(72..).unwrap_or(&[])),
        bound_file: None,
    })
}

/// Whether the attributes after an `inet_diag_msg` say `IPV6_V6ONLY`
/// (`INET_DIAG_SKV6ONLY`, 11: one byte). Pure.
fn v6only_attribute(attributes: &[u8]) -> bool {
    const INET_DIAG_SKV6ONLY: u16 = 11;
    crate::netlink::attributes(attributes)
        .any(|(kind, data)| kind == INET_DIAG_SKV6ONLY && data.first().is_some_and(|&b| b != 0))
}

/// Parses one `unix_diag_msg` with its attributes. Pure.
pub fn parse_unix_msg(payload: &[u8], netns: NetnsId) -> Option<Socket> {
    if payload.len() < 16 {
        return None;
    }
    let unix_type = unix_type(i32::from(payload[1]));
    let state = SocketState::from_raw(payload[2]);
    let inode = u32_at(payload, 4)? as u64;
    let mut socket = Socket {
        inode,
        netns,
        protocol: Protocol::Unix,
        state,
        local: None,
        remote: None,
        path: None,
        unix_type: Some(unix_type),
        peer: None,
        recv_queue: 0,
        send_queue: 0,
        uid: None,
        pending: Vec::new(),
        v6only: false,
        bound_file: None,
    };
    for (kind, data) in crate::netlink::attributes(&payload[16..]) {
        match kind {
            UNIX_DIAG_NAME => socket.path = Some(unix_name(data)),
            UNIX_DIAG_VFS => socket.bound_file = bound_file(data),
            UNIX_DIAG_PEER => socket.peer = u32_at(data, 0).map(u64::from).filter(|&p| p != 0),
            UNIX_DIAG_RQLEN => {
                socket.recv_queue = u32_at(data, 0).unwrap_or(0);
                socket.send_queue = u32_at(data, 4).unwrap_or(0);
            }
            UNIX_DIAG_ICONS => {
                socket.pending = data
                    .chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) as u64)
                    .collect();
            }
            _ => {}
        }
    }
    Some(socket)
}

/// `struct unix_diag_vfs` (`udiag_vfs_ino`, `udiag_vfs_dev`): the bound
/// file's inode, low 32 bits, and its device as the kernel keeps it
/// (`MAJOR << 20 | MINOR`), turned into `stat`'s encoding. Pure.
pub fn bound_file(data: &[u8]) -> Option<(u64, u32)> {
    let inode = u32_at(data, 0)?;
    let dev = u32_at(data, 4)?;
    Some((libc::makedev(dev >> 20, dev & 0xf_ffff), inode))
}

/// A unix socket name as users write it: a path, or `@name` for an abstract
/// one (which starts with a NUL byte).
pub fn unix_name(raw: &[u8]) -> String {
    match raw.strip_prefix(b"\0") {
        Some(abstract_name) => format!("@{}", String::from_utf8_lossy(abstract_name)),
        None => String::from_utf8_lossy(raw.strip_suffix(b"\0").unwrap_or(raw)).into_owned(),
    }
}

fn read_proc_net(netns: NetnsId, member: Pid, selection: Selection) -> Result<Vec<Socket>, SocketError> {
    let mut sockets = Vec::new();
    let read = |file: &'static str| {
        std::fs::read_to_string(format!("/proc/{member}/net/{file}")).map_err(|source| SocketError::ProcNet {
            pid: member,
            file,
            source,
        })
    };
    if selection.tcp {
        sockets.extend(parse_proc_net_inet(&read("tcp")?, Protocol::Tcp, netns));
        sockets.extend(parse_proc_net_inet(&read("tcp6")?, Protocol::Tcp, netns));
    }
    if selection.udp {
        sockets.extend(parse_proc_net_inet(&read("udp")?, Protocol::Udp, netns));
        sockets.extend(parse_proc_net_inet(&read("udp6")?, Protocol::Udp, netns));
    }
    if selection.unix {
        sockets.extend(parse_proc_net_unix(&read("unix")?, netns));
    }
    Ok(sockets)
}

/// The sockets of a `/proc/net/tcp`-style text (`tcp`, `tcp6`, `udp`,
/// `udp6`), parsed by [`crate::proc::net`]. Pure.
pub fn parse_proc_net_inet(text: &str, protocol: Protocol, netns: NetnsId) -> Vec<Socket> {
    let table = if protocol == Protocol::Udp {
        InetTable::Udp
    } else {
        InetTable::Tcp
    };
    crate::proc::net::inet_table(text, table)
        .into_iter()
        .map(|row| Socket {
            inode: row.inode,
            netns,
            protocol,
            state: SocketState::from_raw(row.state),
            local: Some(row.local),
            remote: Some(row.remote),
            path: None,
            unix_type: None,
            peer: None,
            recv_queue: row.rx_queue,
            send_queue: row.tx_queue,
            uid: Some(row.uid),
            pending: Vec::new(),
            v6only: false,
            bound_file: None,
        })
        .collect()
}

/// The sockets of a `/proc/net/unix` text, parsed by [`crate::proc::net`].
/// Pure.
pub fn parse_proc_net_unix(text: &str, netns: NetnsId) -> Vec<Socket> {
    crate::proc::net::unix_table(text)
        .into_iter()
        .map(|row| Socket {
            inode: row.inode,
            netns,
            protocol: Protocol::Unix,
            // St: 01 unconnected, 03 connected; the listening flag is __SO_ACCEPTCON.
            state: if row.listening {
                SocketState::Listen
            } else if row.connected {
                SocketState::Established
            } else {
                SocketState::Close
            },
            local: None,
            remote: None,
            path: row.path,
            unix_type: Some(unix_type(row.socket_type)),
            peer: None,
            recv_queue: 0,
            send_queue: 0,
            uid: None,
            pending: Vec::new(),
            v6only: false,
            bound_file: None,
        })
        .collect()
}

fn unix_type(raw: i32) -> UnixType {
    match raw {
        libc::SOCK_STREAM => UnixType::Stream,
        libc::SOCK_DGRAM => UnixType::Dgram,
        libc::SOCK_SEQPACKET => UnixType::Seqpacket,
        _ => UnixType::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6only_is_read_from_its_attribute() {
        // INET_DIAG_SHUTDOWN (8) then INET_DIAG_SKV6ONLY (11), 4-aligned.
        let attributes = [5, 0, 8, 0, 0, 0, 0, 0, 5, 0, 11, 0, 1, 0, 0, 0, 8, 0, 15, 0, 0, 0, 0, 0];
        assert!(v6only_attribute(&attributes));
        let mut dual = attributes;
        dual[12] = 0;
        assert!(!v6only_attribute(&dual));
        assert!(!v6only_attribute(&attributes[..8]));
        assert!(!v6only_attribute(&[]));
    }

    // The literal addresses are as a little-endian kernel prints them.
    #[cfg(target_endian = "little")]
    #[test]
    fn proc_net_tcp_parses() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n";
        let sockets = parse_proc_net_inet(text, Protocol::Tcp, 7);
        assert_eq!(sockets.len(), 1);
        let s = &sockets[0];
        assert_eq!(s.local, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(s.state, SocketState::Listen);
        assert_eq!(s.inode, 12345);
        assert_eq!(s.uid, Some(1000));
        assert_eq!(s.recv_queue, 2);
        let text6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0000000000000000 0\n";
        let sockets = parse_proc_net_inet(text6, Protocol::Udp, 7);
        assert_eq!(sockets[0].local, Some("[::1]:53".parse().unwrap()));
        assert_eq!(sockets[0].state, SocketState::Close);
    }

    #[test]
    fn proc_net_unix_parses() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 2001 /run/x.sock\n0000000000000000: 00000002 00000000 00000000 0002 01 2002 @abs\n0000000000000000: 00000003 00000000 00000000 0001 03 2003\n";
        let sockets = parse_proc_net_unix(text, 1);
        assert_eq!(sockets.len(), 3);
        assert_eq!(sockets[0].state, SocketState::Listen);
        assert_eq!(sockets[0].path.as_deref(), Some("/run/x.sock"));
        assert_eq!(sockets[1].unix_type, Some(UnixType::Dgram));
        assert_eq!(sockets[1].path.as_deref(), Some("@abs"));
        assert_eq!(sockets[2].state, SocketState::Established);
        assert_eq!(sockets[2].path, None);
    }

    #[test]
    fn the_bound_file_is_read_in_stats_encoding() {
        // /dev/sda1 (8:1) as the kernel keeps it, and tmpfs 0:42.
        let vfs = |dev: u32, inode: u32| [inode.to_ne_bytes(), dev.to_ne_bytes()].concat();
        assert_eq!(bound_file(&vfs(8 << 20 | 1, 77)), Some((libc::makedev(8, 1), 77)));
        assert_eq!(bound_file(&vfs(42, 5)), Some((libc::makedev(0, 42), 5)));
        assert_eq!(bound_file(&[0u8; 4]), None);
    }

    #[test]
    fn unix_names() {
        assert_eq!(unix_name(b"\0abc"), "@abc");
        assert_eq!(unix_name(b"/run/x.sock"), "/run/x.sock");
        assert_eq!(parse_ns_link(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link(b"mnt:[1]"), None);
    }

    #[test]
    fn dump_sees_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let netns = own_netns().unwrap();
        let sockets = dump(netns, Selection::ALL).unwrap();
        let found = sockets
            .iter()
            .find(|s| s.protocol == Protocol::Tcp && s.port() == Some(port) && s.state == SocketState::Listen)
            .expect("listener in the dump");
        assert!(found.inode > 0);
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let filter = Filter {
            local_port: Some(port),
            keep: None,
        };
        let filtered = dump_filtered(netns, Selection::ALL, &filter).unwrap();
        let other_port = other.local_addr().unwrap().port();
        assert!(filtered.iter().any(|s| s.inode == found.inode));
        assert!(
            filtered
                .iter()
                .all(|s| s.protocol == Protocol::Unix || s.port() == Some(port))
        );
        assert!(!filtered.iter().any(|s| s.port() == Some(other_port)));
        let (_a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let sockets = dump(netns, Selection::ALL).unwrap();
        assert!(sockets.iter().any(|s| s.protocol == Protocol::Unix && s.peer.is_some()));
    }
}
