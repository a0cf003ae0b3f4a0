//! `holds`: who holds a port, a unix socket or a path, how each holder got
//! it, and why a socket no process holds still exists.
//!
//! The search is built for speed on busy machines: the sockets of a spec are
//! found first (one sock_diag dump per network namespace in use), then every
//! `/proc/PID/fd` is walked once comparing each link against `socket:[INODE]`
//! ([`crate::resources::walk`]); fdinfo, names and parents are read only for
//! the matches.
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bpf::task_file;
use crate::process::Pid;
use crate::resources::fd::{Access, FdInfo};
use crate::resources::sockets::{self, NetnsId, Protocol, Selection, Socket, SocketState, Source};
use crate::resources::walk::{self, Hit, Slot, socket_inode};
use crate::resources::{locks, maps};

/// What to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// A TCP/UDP port, optionally on one address.
    Port {
        /// `None`: TCP and UDP.
        protocol: Option<Protocol>,
        /// `None`: any local address.
        addr: Option<LocalAddr>,
        /// The port.
        port: u16,
    },
    /// A unix socket by its bound name: a path, or `@name` (abstract).
    Unix {
        /// The name.
        name: String,
    },
    /// A file, directory, device or mount point.
    Path(PathBuf),
}

/// The local address a port SPEC names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalAddr {
    /// One IP address.
    Ip(IpAddr),
    /// `localhost`: any loopback address, IPv4 or IPv6. afterlife resolves
    /// no other host name (it makes no NSS or DNS look-ups).
    Loopback,
}

impl std::str::FromStr for LocalAddr {
    type Err = std::net::AddrParseError;

    /// An IP address, or `localhost` in any case.
    fn from_str(text: &str) -> Result<LocalAddr, Self::Err> {
        if text.eq_ignore_ascii_case("localhost") {
            return Ok(LocalAddr::Loopback);
        }
        text.parse().map(LocalAddr::Ip)
    }
}

impl LocalAddr {
    /// Whether a socket bound to `local` can be reached on this address: the
    /// same address, or a wildcard that covers it. Pure.
    fn covered_by(self, local: IpAddr) -> bool {
        let wildcard = |v4: bool| local.is_unspecified() && (local.is_ipv6() || v4);
        match self {
            LocalAddr::Ip(want) => local == want || wildcard(want.is_ipv4()) || mapped_v4(local) == Some(want),
            LocalAddr::Loopback => {
                local.is_loopback() || wildcard(true) || mapped_v4(local).is_some_and(|v4| v4.is_loopback())
            }
        }
    }
}

/// Why a SPEC is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A port that is not 1-65535.
    #[error("'{0}' is not a port (expected 1-65535)")]
    BadPort(String),
    /// An address that does not parse.
    #[error("'{0}' is not an IP address (expected e.g. 127.0.0.1:80, [::1]:80 or localhost:80)")]
    BadAddress(String),
    /// `HOST:PORT` whose host is neither an IP address nor `localhost`.
    #[error(
        "'{whole}': '{host}' is not an IP address or localhost (afterlife looks up no host names); write ./{whole} for a file"
    )]
    BadHost {
        /// The SPEC as typed.
        whole: String,
        /// The part before the port.
        host: String,
    },
    /// A bare number: ambiguous.
    #[error("'{0}' is ambiguous: write :{0} (any protocol), tcp:{0} or udp:{0} for a port, or ./{0} for a file")]
    BarePort(String),
    /// Empty text.
    #[error("an empty SPEC (expected tcp:PORT, udp:PORT, :PORT, ADDR:PORT, unix:PATH, unix:@NAME or a path)")]
    Empty,
    /// `unix:` with nothing after it.
    #[error("'{0}' names no unix socket (expected unix:/path or unix:@name)")]
    EmptyUnix(String),
}

impl std::str::FromStr for Spec {
    type Err = SpecError;

    /// Parses a SPEC: `tcp:8080`, `udp:53`, `:8080`, `127.0.0.1:8080`,
    /// `[::1]:8080`, `localhost:8080`, `tcp:[::1]:8080`, `unix:/run/x.sock`,
    /// `unix:@name`, or a path. Protocol prefixes take any case (`TCP:80`).
    /// Text shaped like `HOST:PORT` is an address, never a file name (a
    /// file is written `./host:80`). Pure.
    fn from_str(text: &str) -> Result<Spec, SpecError> {
        if text.is_empty() {
            return Err(SpecError::Empty);
        }
        if let Some(name) = strip_prefix_ignore_case(text, "unix:") {
            if name.is_empty() || name == "@" {
                return Err(SpecError::EmptyUnix(text.to_string()));
            }
            return Ok(Spec::Unix { name: name.to_string() });
        }
        for (prefix, protocol) in [("tcp:", Protocol::Tcp), ("udp:", Protocol::Udp)] {
            if let Some(rest) = strip_prefix_ignore_case(text, prefix) {
                let (addr, port) = address_and_port(rest, text)?;
                return Ok(Spec::Port {
                    protocol: Some(protocol),
                    addr,
                    port,
                });
            }
        }
        if let Some(rest) = text.strip_prefix(':') {
            return Ok(Spec::Port {
                protocol: None,
                addr: None,
                port: parse_port(rest, text)?,
            });
        }
        if text.starts_with('[') || looks_like_host_port(text) {
            let (addr, port) = address_and_port(text, text)?;
            return Ok(Spec::Port {
                protocol: None,
                addr,
                port,
            });
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SpecError::BarePort(text.to_string()));
        }
        Ok(Spec::Path(PathBuf::from(text)))
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// `HOST:PORT`: a host of letters, digits, dots and dashes (an IPv4
/// address, `localhost`, or a name or number that is neither, which gets
/// its own error) and a port of digits.
fn looks_like_host_port(text: &str) -> bool {
    text.split_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && !port.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && port.bytes().all(|b| b.is_ascii_digit())
    })
}

fn parse_port(text: &str, whole: &str) -> Result<u16, SpecError> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(SpecError::BadPort(whole.to_string())),
    }
}

/// `8080`, `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`.
fn address_and_port(text: &str, whole: &str) -> Result<(Option<LocalAddr>, u16), SpecError> {
    if let Some(rest) = text.strip_prefix('[') {
        let (addr, port) = rest
            .split_once("]:")
            .ok_or_else(|| SpecError::BadAddress(whole.to_string()))?;
        let addr: IpAddr = addr.parse().map_err(|_| SpecError::BadAddress(whole.to_string()))?;
        return Ok((Some(LocalAddr::Ip(addr)), parse_port(port, whole)?));
    }
    match text.rsplit_once(':') {
        Some((host, port)) => {
            let addr = host.parse().map_err(|_| bad_host(host, whole))?;
            Ok((Some(addr), parse_port(port, whole)?))
        }
        None => Ok((None, parse_port(text, whole)?)),
    }
}

/// A host that is not an address: a dotted number that is not an IPv4
/// address, or a host name.
fn bad_host(host: &str, whole: &str) -> SpecError {
    let dotted_number = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if dotted_number || host.contains(':') {
        SpecError::BadAddress(whole.to_string())
    } else {
        SpecError::BadHost {
            whole: whole.to_string(),
            host: host.to_string(),
        }
    }
}

impl Spec {
    /// Whether `socket` is what this spec names: the same protocol and local
    /// port, on the address asked for or a wildcard that covers it. Pure.
    pub fn matches_socket(&self, socket: &Socket) -> bool {
        match self {
            Spec::Port { protocol, addr, port } => {
                let protocol_ok = match protocol {
                    Some(p) => socket.protocol == *p,
                    None => socket.protocol != Protocol::Unix,
                };
                let Some(local) = socket.local else { return false };
                let addr_ok = addr.is_none_or(|want| want.covered_by(local.ip()));
                protocol_ok && local.port() == *port && addr_ok
            }
            Spec::Unix { name } => socket.protocol == Protocol::Unix && socket.path.as_deref() == Some(name.as_str()),
            Spec::Path(_) => false,
        }
    }

    fn selection(&self) -> Selection {
        match self {
            Spec::Port { protocol, .. } => Selection {
                tcp: *protocol != Some(Protocol::Udp),
                udp: *protocol != Some(Protocol::Tcp),
                unix: false,
            },
            Spec::Unix { .. } => Selection {
                tcp: false,
                udp: false,
                unix: true,
            },
            Spec::Path(_) => Selection {
                tcp: false,
                udp: false,
                unix: false,
            },
        }
    }
}

fn mapped_v4(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    }
}

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
    /// Its parent holds the same socket or file: it came with `fork`.
    Inherited {
        /// The parent.
        parent: Pid,
        /// The parent's name.
        parent_name: String,
    },
    /// The fd lacks `O_CLOEXEC`: every program this process starts inherits it.
    NoCloexec,
    /// No living parent holds it, and its process group still carries the
    /// PID of a leader that is gone (a master killed under its workers): it
    /// inherited it from a process that no longer exists.
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
    /// Processes whose fds could not be read (permission denied).
    pub processes: usize,
    /// The first of them.
    pub pids: Vec<Pid>,
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

/// Brief facts about a process from `/proc/PID/stat` and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brief {
    /// Name.
    pub name: String,
    /// Parent PID.
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
    /// Resident set, pages.
    pub rss_pages: u64,
    /// Real UID (owner of /proc/PID).
    pub uid: Option<u32>,
}

/// Reads [`Brief`] facts; `None` if the process is gone.
pub fn brief(pid: Pid) -> Option<Brief> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let mut brief = parse_stat(&text)?;
    brief.uid = std::fs::metadata(format!("/proc/{pid}")).ok().map(|m| m.uid());
    Some(brief)
}

/// Parses `/proc/PID/stat`: the name is between the first `(` and the last
/// `)`. Pure.
pub fn parse_stat(text: &[u8]) -> Option<Brief> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let name = String::from_utf8_lossy(text.get(open + 1..close)?).into_owned();
    let rest = std::str::from_utf8(text.get(close + 2..)?).ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Brief {
        name,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
        rss_pages: fields.get(21).and_then(|v| v.parse().ok()).unwrap_or(0),
        uid: None,
    })
}

/// Caches briefs and user names of the processes a report names.
#[derive(Default)]
struct Briefs {
    briefs: HashMap<Pid, Option<Brief>>,
    users: HashMap<u32, Option<String>>,
}

impl Briefs {
    fn get(&mut self, pid: Pid) -> Option<&Brief> {
        self.briefs.entry(pid).or_insert_with(|| brief(pid)).as_ref()
    }

    /// Reads the briefs of many processes at once, on every core.
    fn prefetch(&mut self, pids: impl IntoIterator<Item = Pid>) {
        let mut wanted: Vec<Pid> = pids.into_iter().filter(|p| !self.briefs.contains_key(p)).collect();
        wanted.sort();
        wanted.dedup();
        let found = walk::parallel_map(&wanted, |&pid| brief(pid));
        self.briefs.extend(wanted.into_iter().zip(found));
    }

    fn user(&mut self, uid: Option<u32>) -> Option<String> {
        let uid = uid?;
        self.users
            .entry(uid)
            .or_insert_with(|| crate::process::user_name(uid))
            .clone()
    }

    fn process_ref(&mut self, pid: Pid) -> ProcessRef {
        ProcessRef {
            pid,
            name: self.get(pid).map(|b| b.name.clone()).unwrap_or_default(),
        }
    }
}

/// The holders of a set of links: per hit, a [`Holder`] with fdinfo and the
/// inheritance explanation (its parent holds an equal link).
fn holders_of(hits: &[&Hit], briefs: &mut Briefs) -> Vec<Holder> {
    let holding: HashSet<Pid> = hits.iter().map(|h| h.pid).collect();
    briefs.prefetch(holding.iter().copied());
    let parents: Vec<Pid> = holding
        .iter()
        .filter_map(|p| briefs.get(*p).and_then(|b| Pid::new(b.ppid)))
        .filter(|p| holding.contains(p))
        .collect();
    briefs.prefetch(parents);
    // ENOENT: closed since the walk; the holder is still reported, without fdinfo.
    let infos = walk::parallel_map(hits, |hit| match hit.slot {
        Slot::Fd(fd) => std::fs::read_to_string(format!("/proc/{}/fdinfo/{fd}", hit.pid))
            .ok()
            .map(|text| FdInfo::parse(&text)),
        _ => None,
    });
    let mut holders = Vec::with_capacity(hits.len());
    for (hit, info) in hits.iter().zip(infos) {
        // Gone since the walk: skip it.
        let Some(b) = briefs.get(hit.pid).cloned() else {
            continue;
        };
        let mut holder = Holder {
            pid: hit.pid,
            name: b.name,
            uid: b.uid,
            user: briefs.user(b.uid),
            ppid: b.ppid,
            pgid: b.pgid,
            via: match hit.slot {
                Slot::Fd(_) => Via::Fd,
                Slot::Cwd => Via::Cwd,
                Slot::Root => Via::Root,
                Slot::Exe => Via::Exe,
            },
            fd: None,
            access: None,
            cloexec: None,
            origins: Vec::new(),
        };
        if let Some(parent) = Pid::new(b.ppid)
            && holding.contains(&parent)
            && shares_with_parent(hit, parent, hits)
        {
            holder.origins.push(Origin::Inherited {
                parent,
                parent_name: briefs.get(parent).map(|p| p.name.clone()).unwrap_or_default(),
            });
        }
        let inherited = !holder.origins.is_empty();
        if !inherited && let Some(pgid) = Pid::new(b.pgid).filter(|&g| g != hit.pid) {
            let leader = briefs.get(pgid).map(|l| (l.pgid, l.start_ticks));
            if leader_gone((hit.pid.get(), b.pgid, b.start_ticks), leader) {
                holder.origins.push(Origin::LeaderGone { pgid: b.pgid });
            }
        }
        if let Slot::Fd(fd) = hit.slot {
            holder.fd = Some(fd);
            if let Some(info) = info {
                holder.access = Some(info.access());
                holder.cloexec = Some(info.cloexec());
                if !info.cloexec() {
                    holder.origins.push(Origin::NoCloexec);
                }
            }
        }
        holders.push(holder);
    }
    holders
}

/// Whether the process that made a holder's process group is gone, from the
/// holder's `(pid, pgid, start ticks)` and what the group ID's PID is now
/// (`(pgid, start ticks)`, `None` when no such process exists). The group's
/// ID is its leader's PID; a process with that PID that is not in the group,
/// or that started after the holder (the PID was reused), is not the leader.
/// Pure.
pub fn leader_gone(holder: (i32, i32, u64), leader_now: Option<(i32, u64)>) -> bool {
    let (pid, pgid, started) = holder;
    if pgid <= 0 || pgid == pid {
        return false;
    }
    match leader_now {
        None => true,
        Some((its_pgid, its_start)) => its_pgid != pgid || its_start > started,
    }
}

/// Whether `hit` refers to the same open file as one of `parent`'s hits: for
/// a socket the inode says so (a socket has one open file); for a path,
/// `kcmp(KCMP_FILE)` compares the open file descriptions, since a parent
/// and child may have opened the same path each on its own.
fn shares_with_parent(hit: &Hit, parent: Pid, hits: &[&Hit]) -> bool {
    let Slot::Fd(fd) = hit.slot else {
        // cwd, root, exe: the same path in parent and child is inherited or
        // chosen alike; both read as "holds the same".
        return hits.iter().any(|h| h.pid == parent && h.link == hit.link);
    };
    hits.iter().any(|h| {
        if h.pid != parent || h.link != hit.link {
            return false;
        }
        if socket_inode(&hit.link).is_some() {
            return true;
        }
        let Slot::Fd(parent_fd) = h.slot else { return false };
        kcmp_same_file(parent, parent_fd, hit.pid, fd)
    })
}

/// `kcmp(2)` with `KCMP_FILE`: whether two fds of two processes are the same
/// open file description. Refused (no ptrace access) or gone: `false`.
fn kcmp_same_file(a: Pid, fd_a: i32, b: Pid, fd_b: i32) -> bool {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: kcmp takes plain integers and touches no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            a.get() as libc::c_long,
            b.get() as libc::c_long,
            KCMP_FILE,
            fd_a as libc::c_long,
            fd_b as libc::c_long,
        )
    };
    r == 0
}

/// Searches for the holders of every SPEC.
pub fn search(specs: &[(String, Spec)]) -> Result<HoldsReport, HoldsError> {
    let pids = walk::all_pids();
    let own_netns = sockets::own_netns();
    let mut briefs = Briefs::default();

    // 1. The sockets the specs name, in every network namespace in use.
    let mut selection = Selection {
        tcp: false,
        udp: false,
        unix: false,
    };
    let mut path_specs: Vec<PathTarget> = Vec::new();
    for (i, (_, spec)) in specs.iter().enumerate() {
        let s = spec.selection();
        selection.tcp |= s.tcp;
        selection.udp |= s.udp;
        selection.unix |= s.unix;
        if let Spec::Path(path) = spec {
            let target = PathTarget::examine(i, path)?;
            if target.is_socket {
                selection.unix = true;
            }
            path_specs.push(target);
        }
    }
    let mut namespaces = Vec::new();
    let mut all_sockets: Vec<Socket> = Vec::new();
    let wants_sockets = selection.tcp || selection.udp || selection.unix;
    // Keep only what a spec names; with one port asked for, the kernel filters.
    let keep = |socket: &Socket| {
        specs.iter().any(|(_, spec)| spec.matches_socket(socket))
            || path_specs.iter().any(|p| {
                p.is_socket && socket.protocol == Protocol::Unix && socket.path.as_deref() == Some(p.text.as_str())
            })
    };
    let mut ports = specs.iter().filter_map(|(_, spec)| match spec {
        Spec::Port { port, .. } => Some(*port),
        _ => None,
    });
    let first_port = ports.next();
    let single_port = first_port.filter(|p| ports.all(|q| q == *p));
    let filter = sockets::Filter {
        local_port: single_port,
        keep: Some(&keep),
    };
    if wants_sockets && let Some(own) = own_netns {
        all_sockets.extend(sockets::dump_filtered(own, selection, &filter)?);
        namespaces.push(NamespaceRead {
            netns: own,
            member: None,
            source: Some(Source::SockDiag),
            error: None,
        });
    }
    let inodes_of =
        |sockets: &[Socket]| -> HashSet<u64> { sockets.iter().map(|s| s.inode).filter(|&i| i != 0).collect() };
    let wanted = inodes_of(&all_sockets);

    // 2. One walk of every fd (and cwd/root/exe when paths are asked for),
    // noting each process's network namespace on the way.
    let options = walk::Options {
        process_links: !path_specs.is_empty(),
        netns: wants_sockets,
    };
    let matcher = |link: &[u8]| {
        if let Some(inode) = socket_inode(link) {
            return wanted.contains(&inode).then_some(u32::MAX);
        }
        path_specs.iter().position(|p| p.matches_link(link)).map(|n| n as u32)
    };
    // Sockets alone: every process's open files in one pass inside the
    // kernel where the BPF iterator runs; paths need the /proc walk (cwd,
    // root and exe are not fds).
    let files = if wants_sockets && path_specs.is_empty() {
        task_file::open_files()
    } else {
        None
    };
    let mut walk = match &files {
        Some(files) => walk::walk_open_files(&pids, files, options, matcher),
        None => walk::walk(&pids, options, matcher),
    };
    let mut members: BTreeMap<NetnsId, Pid> = BTreeMap::new();
    for &(pid, netns) in &walk.netns {
        members.entry(netns).or_insert(pid);
    }
    // Other namespaces in use: their sockets, once each; a second walk only
    // if one of them has a socket the spec names.
    let own_count = all_sockets.len();
    for (&netns, &member) in &members {
        if Some(netns) == own_netns {
            continue;
        }
        match sockets::dump_namespace_filtered(netns, Some(member), selection, &filter) {
            Ok((found, source)) => {
                all_sockets.extend(found);
                namespaces.push(NamespaceRead {
                    netns,
                    member: Some(member),
                    source: Some(source),
                    error: None,
                });
            }
            // The member exited or its namespace is out of reach: say so.
            Err(error) => namespaces.push(NamespaceRead {
                netns,
                member: Some(member),
                source: None,
                error: Some(error.to_string()),
            }),
        }
    }
    let foreign: HashSet<u64> = inodes_of(&all_sockets[own_count..])
        .difference(&wanted)
        .copied()
        .collect();
    if !foreign.is_empty() {
        let matcher = |link: &[u8]| socket_inode(link).filter(|i| foreign.contains(i)).map(|_| u32::MAX);
        let more = match &files {
            Some(files) => walk::walk_open_files(&pids, files, walk::Options::default(), matcher),
            None => walk::walk(&pids, walk::Options::default(), matcher),
        };
        walk.hits.extend(more.hits);
    }
    let mut matched: Vec<Vec<usize>> = vec![Vec::new(); specs.len()];
    for (i, (_, spec)) in specs.iter().enumerate() {
        let unix_path = path_specs
            .iter()
            .find(|p| p.index == i && p.is_socket)
            .map(|p| Spec::Unix { name: p.text.clone() });
        for (s, socket) in all_sockets.iter().enumerate() {
            if spec.matches_socket(socket) || unix_path.as_ref().is_some_and(|u| u.matches_socket(socket)) {
                matched[i].push(s);
            }
        }
    }
    let mut by_inode: HashMap<u64, Vec<&Hit>> = HashMap::new();
    for hit in &walk.hits {
        if hit.needle == u32::MAX
            && let Some(inode) = socket_inode(&hit.link)
        {
            by_inode.entry(inode).or_default().push(hit);
        }
    }

    // 3. Holders, and for sockets nobody holds, why they exist.
    let mut results = Vec::new();
    let mut needs_receivers = false;
    for (i, (text, _)) in specs.iter().enumerate() {
        let mut socket_matches = Vec::new();
        for &s in &matched[i] {
            let socket = &all_sockets[s];
            let hits = by_inode.get(&socket.inode).map(Vec::as_slice).unwrap_or(&[]);
            let holders = if socket.inode == 0 {
                Vec::new()
            } else {
                holders_of(hits, &mut briefs)
            };
            let foreign_netns = (Some(socket.netns) != own_netns)
                .then(|| members.get(&socket.netns).map(|&m| briefs.process_ref(m)))
                .flatten();
            let ghost = if holders.is_empty() {
                let ghost = explain_ghost(socket, &all_sockets, &by_inode, &mut briefs, walk.unreadable.len());
                needs_receivers |= matches!(ghost, Ghost::InFlight { .. });
                Some(ghost)
            } else {
                None
            };
            socket_matches.push(SocketMatch {
                socket: socket.clone(),
                foreign_netns,
                holders,
                ghost,
            });
        }
        let mut path_holders = Vec::new();
        if let Some(target) = path_specs.iter().find(|p| p.index == i) {
            // A link may match several path specs (a file and its mount point).
            let hits: Vec<&Hit> = walk
                .hits
                .iter()
                .filter(|h| h.needle != u32::MAX && target.matches_link(&h.link))
                .collect();
            path_holders = holders_of(&hits, &mut briefs);
            path_holders.extend(target.mapped_and_locked(&pids, &mut briefs));
        }
        let held = socket_matches.iter().any(|m| !m.holders.is_empty()) || !path_holders.is_empty();
        results.push(SpecReport {
            spec: text.clone(),
            sockets: socket_matches,
            holders: path_holders,
            held,
        });
    }
    if needs_receivers {
        // The receiving socket is a unix socket: dump those now, once per namespace read.
        let mut unix = Vec::new();
        let only_unix = Selection {
            tcp: false,
            udp: false,
            unix: true,
        };
        for ns in namespaces.iter().filter(|n| n.error.is_none()) {
            if let Ok((found, _)) = sockets::dump_namespace(ns.netns, ns.member, only_unix) {
                unix.extend(found);
            }
        }
        fill_receivers(&mut results, &unix, &pids, &mut briefs);
    }
    let mut unseen_pids = walk.unreadable.clone();
    unseen_pids.truncate(20);
    Ok(HoldsReport {
        results,
        own_netns,
        namespaces,
        unseen: Unseen {
            processes: walk.unreadable.len(),
            pids: unseen_pids,
        },
    })
}

/// One process per network namespace in use (the lowest PID).
pub fn namespace_members(pids: &[Pid]) -> BTreeMap<NetnsId, Pid> {
    let found = walk::parallel_map(pids, |&pid| sockets::netns_of(pid));
    let mut members = BTreeMap::new();
    for (pid, netns) in pids.iter().zip(found) {
        // Unreadable (another user's process) or gone: skip it.
        if let Some(netns) = netns {
            members.entry(netns).or_insert(*pid);
        }
    }
    members
}

/// The explanation that fits a socket no process holds. Pure over the dump.
pub fn ghost_reason(socket: &Socket, all: &[Socket], unreadable: usize) -> GhostKind {
    match socket.state {
        SocketState::TimeWait => return GhostKind::TimeWait,
        SocketState::SynRecv | SocketState::NewSynRecv => return GhostKind::HalfOpen,
        _ => {}
    }
    if socket.protocol == Protocol::Unix
        && let Some(listener) = all
            .iter()
            .find(|l| l.pending.contains(&socket.inode) && l.netns == socket.netns)
    {
        return GhostKind::AcceptQueue(listener.inode);
    }
    if socket.inode == 0 {
        if socket.state == SocketState::Established
            && let Some(listener) = all.iter().find(|l| {
                l.state == SocketState::Listen
                    && l.protocol == socket.protocol
                    && l.netns == socket.netns
                    && l.port() == socket.port()
            })
        {
            return GhostKind::AcceptQueue(listener.inode);
        }
        return GhostKind::Orphaned(socket.state);
    }
    if unreadable > 0 {
        return GhostKind::Unreadable;
    }
    GhostKind::InFlight
}

/// The kinds of [`Ghost`], before holders of related sockets are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GhostKind {
    /// TIME_WAIT.
    TimeWait,
    /// Half-open.
    HalfOpen,
    /// In a listener's accept queue (the listener's inode).
    AcceptQueue(u64),
    /// Orphaned, in this state.
    Orphaned(SocketState),
    /// Processes could not be read.
    Unreadable,
    /// In flight in a unix socket queue.
    InFlight,
}

fn explain_ghost(
    socket: &Socket,
    all: &[Socket],
    by_inode: &HashMap<u64, Vec<&Hit>>,
    briefs: &mut Briefs,
    unreadable: usize,
) -> Ghost {
    match ghost_reason(socket, all, unreadable) {
        GhostKind::TimeWait => Ghost::TimeWait,
        GhostKind::HalfOpen => Ghost::HalfOpen,
        GhostKind::Orphaned(state) => Ghost::Orphaned { state },
        GhostKind::Unreadable => Ghost::Unreadable { processes: unreadable },
        GhostKind::InFlight => Ghost::InFlight { receivers: Vec::new() },
        GhostKind::AcceptQueue(listener) => {
            let mut pids: Vec<Pid> = by_inode
                .get(&listener)
                .map(|hits| hits.iter().map(|h| h.pid).collect())
                .unwrap_or_default();
            pids.dedup();
            Ghost::AcceptQueue {
                listener,
                holders: pids.into_iter().map(|p| briefs.process_ref(p)).collect(),
            }
        }
    }
}

/// Looks up the unix sockets with unread data and their holders: the
/// candidates for a socket in flight.
fn fill_receivers(results: &mut [SpecReport], all: &[Socket], pids: &[Pid], briefs: &mut Briefs) {
    let candidates: Vec<&Socket> = all
        .iter()
        .filter(|s| s.protocol == Protocol::Unix && s.recv_queue > 0 && s.state != SocketState::Listen)
        .collect();
    let wanted: HashSet<u64> = candidates.iter().map(|s| s.inode).collect();
    let walk = walk::walk(pids, walk::Options::default(), |link| {
        socket_inode(link).filter(|i| wanted.contains(i)).map(|_| 0)
    });
    let mut receivers: Vec<Receiver> = Vec::new();
    for socket in candidates {
        let mut holders: Vec<Pid> = walk
            .hits
            .iter()
            .filter(|h| socket_inode(&h.link) == Some(socket.inode))
            .map(|h| h.pid)
            .collect();
        holders.dedup();
        if holders.is_empty() {
            continue;
        }
        receivers.push(Receiver {
            inode: socket.inode,
            path: socket.path.clone(),
            recv_queue: socket.recv_queue,
            holders: holders.into_iter().map(|p| briefs.process_ref(p)).collect(),
        });
    }
    for result in results {
        for m in &mut result.sockets {
            if let Some(Ghost::InFlight { receivers: r }) = &mut m.ghost {
                *r = receivers.clone();
            }
        }
    }
}

/// A path SPEC, examined once.
struct PathTarget {
    index: usize,
    text: String,
    /// The canonical path as bytes, as /proc links show it.
    bytes: Vec<u8>,
    /// A mount point: everything under it counts.
    mount_point: bool,
    is_socket: bool,
    dev: u64,
    inode: u64,
}

impl PathTarget {
    fn examine(index: usize, path: &Path) -> Result<PathTarget, HoldsError> {
        let error = |source| HoldsError::Path {
            path: crate::text::escape(&path.to_string_lossy()).into_owned(),
            source,
        };
        let canonical = std::fs::canonicalize(path).map_err(error)?;
        let meta = std::fs::metadata(&canonical).map_err(error)?;
        let text = canonical.to_string_lossy().into_owned();
        let mount_point = meta.is_dir() && is_mount_point(&canonical);
        Ok(PathTarget {
            index,
            bytes: canonical.as_os_str().as_encoded_bytes().to_vec(),
            text,
            mount_point,
            is_socket: meta.file_type().is_socket(),
            dev: meta.dev(),
            inode: meta.ino(),
        })
    }

    fn matches_link(&self, link: &[u8]) -> bool {
        if link == self.bytes.as_slice() {
            return true;
        }
        if self.mount_point {
            if self.bytes == b"/" {
                return link.starts_with(b"/");
            }
            return link.starts_with(&self.bytes) && link.get(self.bytes.len()) == Some(&b'/');
        }
        false
    }

    /// Holders by mapping (`/proc/PID/maps`) and by lock (`/proc/locks`).
    fn mapped_and_locked(&self, pids: &[Pid], briefs: &mut Briefs) -> Vec<Holder> {
        let mapped = walk::parallel_map(pids, |&pid| {
            // Unreadable or gone: nothing mapped to report.
            maps::read(pid).ok().is_some_and(|files| {
                files
                    .iter()
                    .any(|f| self.matches_link(f.path.as_bytes()) || (f.inode == self.inode && !self.mount_point))
            })
        });
        let mut found: Vec<(Pid, Via)> = pids
            .iter()
            .zip(mapped)
            .filter(|(_, m)| *m)
            .map(|(p, _)| (*p, Via::Mapped))
            .collect();
        for lock in locks::read() {
            let on = if self.mount_point {
                lock.major == libc::major(self.dev) && lock.minor == libc::minor(self.dev)
            } else {
                lock.is_on(self.dev, self.inode)
            };
            if let (true, false, Some(pid)) = (on, lock.waiting, lock.pid.and_then(Pid::new)) {
                found.push((pid, Via::Locked));
            }
        }
        found.dedup();
        found
            .into_iter()
            .filter_map(|(pid, via)| {
                let b = briefs.get(pid)?.clone();
                Some(Holder {
                    pid,
                    name: b.name,
                    uid: b.uid,
                    user: briefs.user(b.uid),
                    ppid: b.ppid,
                    pgid: b.pgid,
                    via,
                    fd: None,
                    access: None,
                    cloexec: None,
                    origins: Vec::new(),
                })
            })
            .collect()
    }
}

/// Whether `path` is a mount point, from `/proc/self/mountinfo`.
fn is_mount_point(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .any(|m| unescape_mountinfo(m) == want)
}

/// mountinfo escapes space, tab, newline and backslash as `\NNN` octal. Pure.
pub fn unescape_mountinfo(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len() + 1
            && let Some(octal) = text.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(octal, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A deleted file still held open.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletedFile {
    /// Its last path.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Disk space it keeps (allocated blocks).
    pub disk_bytes: u64,
    /// Device number.
    pub device: u64,
    /// Inode.
    pub inode: u64,
    /// Who holds it.
    pub holders: Vec<Holder>,
}

/// The answer of `holds --deleted`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletedReport {
    /// The files, largest first.
    pub files: Vec<DeletedFile>,
    /// Disk space they keep together.
    pub disk_bytes: u64,
    /// What could not be read.
    pub unseen: Unseen,
}

/// Every deleted file still held open by an fd, with the space it keeps.
pub fn deleted_files() -> DeletedReport {
    let pids = walk::all_pids();
    let walk = walk::walk(&pids, walk::Options::default(), |link| {
        (link.starts_with(b"/") && link.ends_with(b" (deleted)") && !link.starts_with(b"/memfd:")).then_some(0)
    });
    let mut briefs = Briefs::default();
    let mut by_file: BTreeMap<(u64, u64), (DeletedFile, Vec<&Hit>)> = BTreeMap::new();
    for hit in &walk.hits {
        let Slot::Fd(fd) = hit.slot else { continue };
        // Closed since the walk, or a process we cannot stat through: skip it.
        let Ok(meta) = std::fs::metadata(format!("/proc/{}/fd/{fd}", hit.pid)) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let path = hit.link.strip_suffix(b" (deleted)").unwrap_or(&hit.link);
        let entry = by_file.entry((meta.dev(), meta.ino())).or_insert_with(|| {
            (
                DeletedFile {
                    path: String::from_utf8_lossy(path).into_owned(),
                    size: meta.size(),
                    disk_bytes: meta.blocks() * 512,
                    device: meta.dev(),
                    inode: meta.ino(),
                    holders: Vec::new(),
                },
                Vec::new(),
            )
        });
        entry.1.push(hit);
    }
    let mut files: BTreeMap<(u64, u64), DeletedFile> = by_file
        .into_iter()
        .map(|(key, (mut file, hits))| {
            file.holders = holders_of(&hits, &mut briefs);
            (key, file)
        })
        .filter(|(_, f)| !f.holders.is_empty())
        .collect();
    // Deleted files kept only by a mapping (a library replaced by an
    // upgrade, a mapped log): they keep their disk space as well.
    let mapped = walk::parallel_map(&pids, |&pid| deleted_mappings(pid));
    for (pid, mappings) in pids.iter().zip(mapped) {
        for m in mappings {
            let Some(b) = briefs.get(*pid).cloned() else { continue };
            let user = briefs.user(b.uid);
            let file = files.entry((m.device, m.inode)).or_insert_with(|| DeletedFile {
                path: m.path.clone(),
                size: m.size,
                disk_bytes: m.disk_bytes,
                device: m.device,
                inode: m.inode,
                holders: Vec::new(),
            });
            if file.holders.iter().any(|h| h.pid == *pid && h.via == Via::Mapped) {
                continue;
            }
            file.holders.push(Holder {
                pid: *pid,
                name: b.name,
                uid: b.uid,
                user,
                ppid: b.ppid,
                pgid: b.pgid,
                via: Via::Mapped,
                fd: None,
                access: None,
                cloexec: None,
                origins: Vec::new(),
            });
        }
    }
    let mut files: Vec<DeletedFile> = files.into_values().collect();
    files.sort_by(|a, b| b.disk_bytes.cmp(&a.disk_bytes).then(a.path.cmp(&b.path)));
    let mut pids = walk.unreadable.clone();
    pids.truncate(20);
    DeletedReport {
        disk_bytes: files.iter().map(|f| f.disk_bytes).sum(),
        files,
        unseen: Unseen {
            processes: walk.unreadable.len(),
            pids,
        },
    }
}

/// A deleted file mapped into a process.
struct DeletedMapping {
    path: String,
    device: u64,
    inode: u64,
    size: u64,
    disk_bytes: u64,
}

/// The deleted files mapped into `pid`: size and disk use through
/// `/proc/PID/map_files/RANGE` (needs `CAP_SYS_ADMIN`; else 0). SysV shared
/// memory (`/SYSV...`), memfds and shared anonymous memory are not files on
/// a disk. Unreadable or
/// gone: none.
fn deleted_mappings(pid: Pid) -> Vec<DeletedMapping> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut found: Vec<DeletedMapping> = Vec::new();
    for line in text.lines().filter(|l| l.ends_with(" (deleted)")) {
        let Some(m) = parse_deleted_mapping(line) else { continue };
        if found.iter().any(|f| f.device == m.device && f.inode == m.inode) {
            continue;
        }
        let (mut size, mut disk_bytes, mut device, mut inode) = (0, 0, m.device, m.inode);
        if let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/map_files/{}", m.range)) {
            (size, disk_bytes, device, inode) = (meta.size(), meta.blocks() * 512, meta.dev(), meta.ino());
        }
        found.push(DeletedMapping {
            path: m.path,
            device,
            inode,
            size,
            disk_bytes,
        });
    }
    found
}

/// One line of a maps file naming a deleted file.
#[derive(Debug, PartialEq, Eq)]
struct MapsDeleted {
    range: String,
    device: u64,
    inode: u64,
    path: String,
}

/// Parses a maps line of a deleted, file-backed mapping. Pure.
fn parse_deleted_mapping(line: &str) -> Option<MapsDeleted> {
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let _perms = fields.next()?;
    let _offset = fields.next()?;
    let (major, minor) = fields.next()?.split_once(':')?;
    let inode: u64 = fields.next()?.parse().ok()?;
    let path = fields.next()?.trim_start().strip_suffix(" (deleted)")?;
    // Shared anonymous memory shows as `/dev/zero (deleted)`.
    if inode == 0
        || !path.starts_with('/')
        || path.starts_with("/SYSV")
        || path.starts_with("/memfd:")
        || path == "/dev/zero"
    {
        return None;
    }
    let device = libc::makedev(
        u32::from_str_radix(major, 16).ok()?,
        u32::from_str_radix(minor, 16).ok()?,
    );
    Some(MapsDeleted {
        range: range.to_string(),
        device,
        inode,
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_mappings_parse() {
        let m = parse_deleted_mapping(
            "7f00-7f10 r--s 00000000 08:01 1234                       /var/log/a b.log (deleted)",
        )
        .unwrap();
        assert_eq!(m.range, "7f00-7f10");
        assert_eq!(m.device, libc::makedev(8, 1));
        assert_eq!(m.inode, 1234);
        assert_eq!(m.path, "/var/log/a b.log");
        assert_eq!(
            parse_deleted_mapping("7f00-7f10 rw-s 00000000 00:01 5 /SYSV00000000 (deleted)"),
            None
        );
        assert_eq!(
            parse_deleted_mapping("7f00-7f10 rw-s 00000000 00:01 5 /memfd:x (deleted)"),
            None
        );
        assert_eq!(parse_deleted_mapping("7f00-7f10 rw-p 00000000 00:00 0 [heap]"), None);
    }

    fn spec(text: &str) -> Result<Spec, SpecError> {
        text.parse()
    }

    #[test]
    fn specs_parse() {
        assert_eq!(
            spec("tcp:8080"),
            Ok(Spec::Port {
                protocol: Some(Protocol::Tcp),
                addr: None,
                port: 8080
            })
        );
        assert_eq!(
            spec("udp:53"),
            Ok(Spec::Port {
                protocol: Some(Protocol::Udp),
                addr: None,
                port: 53
            })
        );
        assert_eq!(
            spec(":8080"),
            Ok(Spec::Port {
                protocol: None,
                addr: None,
                port: 8080
            })
        );
        assert_eq!(
            spec("127.0.0.1:8080"),
            Ok(Spec::Port {
                protocol: None,
                addr: Some("127.0.0.1".parse().unwrap()),
                port: 8080
            })
        );
        assert_eq!(
            spec("[::1]:8080"),
            Ok(Spec::Port {
                protocol: None,
                addr: Some("::1".parse().unwrap()),
                port: 8080
            })
        );
        assert_eq!(
            spec("tcp:[::1]:80"),
            Ok(Spec::Port {
                protocol: Some(Protocol::Tcp),
                addr: Some("::1".parse().unwrap()),
                port: 80
            })
        );
        assert_eq!(
            spec("unix:/run/x.sock"),
            Ok(Spec::Unix {
                name: "/run/x.sock".into()
            })
        );
        assert_eq!(spec("unix:@abs"), Ok(Spec::Unix { name: "@abs".into() }));
        assert_eq!(spec("/tmp/x"), Ok(Spec::Path("/tmp/x".into())));
        assert_eq!(spec("notes.txt"), Ok(Spec::Path("notes.txt".into())));
    }

    #[test]
    fn bad_specs_say_why() {
        assert_eq!(spec("tcp:0"), Err(SpecError::BadPort("tcp:0".into())));
        assert_eq!(spec("tcp:70000"), Err(SpecError::BadPort("tcp:70000".into())));
        assert_eq!(spec(":x"), Err(SpecError::BadPort(":x".into())));
        assert_eq!(spec("tcp:+80"), Err(SpecError::BadPort("tcp:+80".into())));
        assert_eq!(spec("[::1]8080"), Err(SpecError::BadAddress("[::1]8080".into())));
        assert_eq!(spec("tcp:1.2.3:80"), Err(SpecError::BadAddress("tcp:1.2.3:80".into())));
        assert_eq!(spec("8080"), Err(SpecError::BarePort("8080".into())));
        assert_eq!(spec("unix:"), Err(SpecError::EmptyUnix("unix:".into())));
        assert_eq!(spec(""), Err(SpecError::Empty));
        assert_eq!(spec("300.1.1.1:80"), Err(SpecError::BadAddress("300.1.1.1:80".into())));
        assert_eq!(spec("1.2.3:80"), Err(SpecError::BadAddress("1.2.3:80".into())));
        assert_eq!(
            spec("example.com:80"),
            Err(SpecError::BadHost {
                whole: "example.com:80".into(),
                host: "example.com".into()
            })
        );
        assert_eq!(spec("localhost:0"), Err(SpecError::BadPort("localhost:0".into())));
        // A file whose name looks like HOST:PORT is written as a path.
        assert_eq!(spec("./example.com:80"), Ok(Spec::Path("./example.com:80".into())));
        assert_eq!(spec("notes:draft"), Ok(Spec::Path("notes:draft".into())));
    }

    #[test]
    fn prefixes_take_any_case_and_localhost_is_loopback() {
        let tcp80 = Spec::Port {
            protocol: Some(Protocol::Tcp),
            addr: None,
            port: 80,
        };
        assert_eq!(spec("TCP:80"), Ok(tcp80.clone()));
        assert_eq!(spec("Tcp:80"), Ok(tcp80));
        assert_eq!(spec("UNIX:@x"), Ok(Spec::Unix { name: "@x".into() }));
        let local = Spec::Port {
            protocol: None,
            addr: Some(LocalAddr::Loopback),
            port: 80,
        };
        assert_eq!(spec("localhost:80"), Ok(local.clone()));
        assert_eq!(spec("LOCALHOST:80"), Ok(local.clone()));
        assert_eq!(
            spec("udp:localhost:53"),
            Ok(Spec::Port {
                protocol: Some(Protocol::Udp),
                addr: Some(LocalAddr::Loopback),
                port: 53
            })
        );
        for (bound, covered) in [
            ("127.0.0.1:80", true),
            ("127.0.0.53:80", true),
            ("[::1]:80", true),
            ("0.0.0.0:80", true),
            ("[::]:80", true),
            ("[::ffff:127.0.0.1]:80", true),
            ("10.0.0.1:80", false),
            ("[fe80::1]:80", false),
            ("127.0.0.1:81", false),
        ] {
            let socket = inet(Protocol::Tcp, bound, SocketState::Listen, 1);
            assert_eq!(local.matches_socket(&socket), covered, "{bound}");
        }
    }

    fn inet(protocol: Protocol, local: &str, state: SocketState, inode: u64) -> Socket {
        Socket {
            inode,
            netns: 1,
            protocol,
            state,
            local: Some(local.parse().unwrap()),
            remote: Some("0.0.0.0:0".parse().unwrap()),
            path: None,
            unix_type: None,
            peer: None,
            recv_queue: 0,
            send_queue: 0,
            uid: Some(0),
            pending: Vec::new(),
        }
    }

    #[test]
    fn specs_match_sockets() {
        let any = inet(Protocol::Tcp, "0.0.0.0:8080", SocketState::Listen, 1);
        let lo = inet(Protocol::Tcp, "127.0.0.1:8080", SocketState::Listen, 2);
        let v6any = inet(Protocol::Tcp, "[::]:8080", SocketState::Listen, 3);
        let udp = inet(Protocol::Udp, "127.0.0.1:8080", SocketState::Close, 4);
        let loopback: Spec = "127.0.0.1:8080".parse().unwrap();
        assert!(loopback.matches_socket(&any));
        assert!(loopback.matches_socket(&lo));
        assert!(loopback.matches_socket(&v6any));
        assert!(loopback.matches_socket(&udp));
        let v6: Spec = "[::1]:8080".parse().unwrap();
        assert!(!v6.matches_socket(&any));
        assert!(v6.matches_socket(&v6any));
        assert!(!v6.matches_socket(&lo));
        let tcp: Spec = "tcp:8080".parse().unwrap();
        assert!(!tcp.matches_socket(&udp));
        assert!(!tcp.matches_socket(&inet(Protocol::Tcp, "127.0.0.1:8081", SocketState::Listen, 5)));
    }

    #[test]
    fn ghosts_are_explained() {
        let listener = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::Listen, 9);
        let tw = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::TimeWait, 0);
        let fin = inet(Protocol::Tcp, "127.0.0.1:81", SocketState::FinWait2, 0);
        let syn = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::NewSynRecv, 0);
        let queued = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::Established, 0);
        let all = vec![listener.clone(), tw.clone(), fin.clone(), syn.clone(), queued.clone()];
        assert_eq!(ghost_reason(&tw, &all, 0), GhostKind::TimeWait);
        assert_eq!(ghost_reason(&fin, &all, 0), GhostKind::Orphaned(SocketState::FinWait2));
        assert_eq!(ghost_reason(&syn, &all, 0), GhostKind::HalfOpen);
        assert_eq!(ghost_reason(&queued, &all, 0), GhostKind::AcceptQueue(9));
        assert_eq!(ghost_reason(&listener, &all, 0), GhostKind::InFlight);
        assert_eq!(ghost_reason(&listener, &all, 3), GhostKind::Unreadable);
    }

    #[test]
    fn stat_parses_names_with_parens() {
        let b = parse_stat(b"42 (a) b) S 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 1000 33 0").unwrap();
        assert_eq!(b.name, "a) b");
        assert_eq!(b.ppid, 7);
        assert_eq!(b.pgid, 42);
        assert_eq!(b.start_ticks, 12345);
        assert_eq!(b.rss_pages, 33);
    }

    #[test]
    fn a_group_without_its_leader_is_told() {
        // Worker 201 in group 200; the master 200 was killed.
        assert!(leader_gone((201, 200, 50), None));
        // The master lives.
        assert!(!leader_gone((201, 200, 50), Some((200, 40))));
        // PID 200 is a new process, in another group or started later.
        assert!(leader_gone((201, 200, 50), Some((300, 40))));
        assert!(leader_gone((201, 200, 50), Some((200, 60))));
        // A group leader itself, or the kernel's group 0.
        assert!(!leader_gone((200, 200, 50), None));
        assert!(!leader_gone((201, 0, 50), None));
    }

    #[test]
    fn mountinfo_unescapes() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }
}
