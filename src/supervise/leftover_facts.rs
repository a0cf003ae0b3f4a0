//! What a leftover process holds: its open files, which of them lack
//! `O_CLOEXEC` (and so were, or will be, inherited across `exec`), and its
//! sockets with their addresses and states.
//!
//! Kernel facts relied on (proc_pid_fd(5), proc_pid_fdinfo(5), proc_net(5)):
//! - `/proc/PID/fd/N` links to the file, or to `socket:[INODE]`;
//! - `/proc/PID/fdinfo/N` has `flags:` in octal, where `O_CLOEXEC` is
//!   `02000000`;
//! - `/proc/PID/net/{tcp,tcp6,udp,udp6,unix}` list the sockets of that
//!   process's network namespace, each with its inode.

use std::collections::HashMap;

use serde::Serialize;

use crate::process::Pid;

/// `O_CLOEXEC` as fdinfo shows it (octal 02000000).
const O_CLOEXEC: u32 = 0o2_000_000;

/// One open file descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldFd {
    /// The descriptor number.
    pub fd: i32,
    /// What it refers to (a path, `pipe:[N]`, `socket:[N]`, ...).
    pub target: String,
    /// Whether `O_CLOEXEC` is set; without it the fd passes to every program
    /// the process `exec`s.
    pub cloexec: bool,
    /// The socket behind it, if it is one we could identify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<SocketFact>,
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
    /// `listen`, `established`, ... (for unix: `listen` or `connected`).
    pub state: String,
}

impl SocketFact {
    /// Whether it listens for connections.
    pub fn listening(&self) -> bool {
        self.state == "listen"
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
}

/// Reads the identity of `pid` if it is still the process that started at
/// `start_ticks`.
pub fn identity(pid: Pid, start_ticks: u64) -> Option<Identity> {
    // ENOENT/ESRCH: it ended meanwhile; nothing to tell.
    let proc = procfs::process::Process::new(pid.get()).ok()?;
    let stat = proc.stat().ok()?;
    if stat.starttime != start_ticks {
        return None;
    }
    Some(Identity {
        name: stat.comm,
        ppid: stat.ppid,
        sid: stat.session,
        pgid: stat.pgrp,
        cmdline: proc.cmdline().unwrap_or_default(),
    })
}

/// Socket tables already read, by network namespace, so that a tree of
/// many leftovers reads /proc/PID/net once.
#[derive(Debug, Default)]
pub struct SocketCache {
    by_namespace: HashMap<u64, SocketTable>,
}

impl SocketCache {
    fn table(&mut self, pid: Pid) -> &SocketTable {
        // The namespace's inode; 0 (unreadable) shares one slot, read once.
        let namespace = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap_or(0);
        self.by_namespace
            .entry(namespace)
            .or_insert_with(|| SocketTable::read(pid))
    }
}

/// The open fds of `pid`; empty if it is gone or unreadable. Socket tables
/// are read only when it holds a socket.
pub fn held_fds(pid: Pid, sockets: &mut SocketCache) -> Vec<HeldFd> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        // ENOENT: it ended; EACCES: not ours to read. Nothing to tell.
        return Vec::new();
    };
    let mut fds: Vec<HeldFd> = entries
        .flatten()
        .filter_map(|entry| {
            let fd: i32 = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?.to_string_lossy().into_owned();
            let fdinfo = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
            let flags = fdinfo_flags(&fdinfo)?;
            Some(HeldFd {
                fd,
                target,
                cloexec: flags & O_CLOEXEC != 0,
                socket: None,
            })
        })
        .collect();
    if fds.iter().any(|f| socket_inode(&f.target).is_some()) {
        let table = sockets.table(pid);
        for fd in &mut fds {
            fd.socket = socket_inode(&fd.target).and_then(|inode| table.get(inode));
        }
    }
    fds.sort_by_key(|f| f.fd);
    fds
}

/// The `flags:` value of an fdinfo file (octal).
pub fn fdinfo_flags(text: &str) -> Option<u32> {
    let value = text.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(value.trim(), 8).ok()
}

/// The inode of a `socket:[N]` link target.
pub fn socket_inode(target: &str) -> Option<u64> {
    target.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// The sockets of one network namespace, by inode.
#[derive(Debug, Default)]
pub struct SocketTable {
    by_inode: HashMap<u64, SocketFact>,
}

impl SocketTable {
    /// Reads the tables of `pid`'s network namespace.
    pub fn read(pid: Pid) -> SocketTable {
        let mut table = SocketTable::default();
        for protocol in ["tcp", "tcp6", "udp", "udp6"] {
            if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{protocol}")) {
                table.by_inode.extend(parse_inet(protocol, &text));
            }
        }
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/unix")) {
            table.by_inode.extend(parse_unix(&text));
        }
        table
    }

    /// The socket with this inode.
    pub fn get(&self, inode: u64) -> Option<SocketFact> {
        self.by_inode.get(&inode).cloned()
    }
}

/// TCP states as numbered in include/net/tcp_states.h.
fn tcp_state(code: &str) -> &'static str {
    match code {
        "01" => "established",
        "02" => "syn_sent",
        "03" => "syn_recv",
        "04" => "fin_wait1",
        "05" => "fin_wait2",
        "06" => "time_wait",
        "07" => "close",
        "08" => "close_wait",
        "09" => "last_ack",
        "0A" => "listen",
        "0B" => "closing",
        _ => "unknown",
    }
}

/// Parses /proc/net/tcp, tcp6, udp or udp6 into (inode, socket).
pub fn parse_inet(protocol: &str, text: &str) -> Vec<(u64, SocketFact)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = decode_address(fields.get(1)?)?;
            let remote = decode_address(fields.get(2)?)?;
            let state_code = *fields.get(3)?;
            let inode: u64 = fields.get(9)?.parse().ok()?;
            let udp = protocol.starts_with("udp");
            let state = if udp {
                // UDP uses 07 (close) for unconnected, bound sockets.
                if state_code == "01" { "connected" } else { "bound" }
            } else {
                tcp_state(state_code)
            };
            let connected = state == "established" || state == "connected";
            Some((
                inode,
                SocketFact {
                    protocol: protocol.to_string(),
                    local,
                    remote: connected.then_some(remote),
                    state: state.to_string(),
                },
            ))
        })
        .collect()
}

/// Decodes `0100007F:1F90` (IPv4) or the 32-hex-digit IPv6 form.
fn decode_address(text: &str) -> Option<String> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let bytes: Vec<u8> = (0..address.len() / 2)
        .map(|i| u8::from_str_radix(&address[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    match bytes.len() {
        4 => {
            // The kernel prints the address as a native-endian u32.
            let ip = std::net::Ipv4Addr::from(u32::from_be_bytes([bytes[3], bytes[2], bytes[1], bytes[0]]));
            Some(format!("{ip}:{port}"))
        }
        16 => {
            let mut octets = [0u8; 16];
            for word in 0..4 {
                for b in 0..4 {
                    octets[word * 4 + b] = bytes[word * 4 + (3 - b)];
                }
            }
            Some(format!("[{}]:{port}", std::net::Ipv6Addr::from(octets)))
        }
        _ => None,
    }
}

/// Parses /proc/net/unix into (inode, socket).
pub fn parse_unix(text: &str) -> Vec<(u64, SocketFact)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Num RefCount Protocol Flags Type St Inode [Path]
            let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            let state = fields.get(5)?;
            let inode: u64 = fields.get(6)?.parse().ok()?;
            let path = fields.get(7).map(|p| p.to_string()).unwrap_or_default();
            // __SO_ACCEPTCON (1 << 16) marks a listening socket; state 03 is
            // SS_CONNECTED.
            let state = if flags & (1 << 16) != 0 {
                "listen"
            } else if *state == "03" {
                "connected"
            } else {
                "unconnected"
            };
            Some((
                inode,
                SocketFact {
                    protocol: "unix".to_string(),
                    local: path,
                    remote: None,
                    state: state.to_string(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cloexec_from_fdinfo() {
        assert_eq!(
            fdinfo_flags("pos:\t0\nflags:\t02100002\nmnt_id:\t25\n"),
            Some(0o2100002)
        );
        assert!(fdinfo_flags("flags:\t02100002\n").unwrap() & O_CLOEXEC != 0);
        assert!(fdinfo_flags("flags:\t0100002\n").unwrap() & O_CLOEXEC == 0);
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn parses_tcp_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
";
        let parsed = parse_inet("tcp", tcp);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].0, 4242);
        assert_eq!(parsed[0].1.local, "127.0.0.1:8080");
        assert!(parsed[0].1.listening());
        assert_eq!(parsed[1].1.state, "established");
        assert_eq!(parsed[1].1.remote.as_deref(), Some("127.0.0.1:50000"));
        let tcp6 = "header\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 77 1\n";
        assert_eq!(parse_inet("tcp6", tcp6)[0].1.local, "[::1]:8080");
    }

    #[test]
    fn parses_unix_tables() {
        let unix = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 5555 /run/x.sock
0000000000000000: 00000003 00000000 00000000 0001 03 5556
";
        let parsed = parse_unix(unix);
        assert_eq!(parsed[0].1.state, "listen");
        assert_eq!(parsed[0].1.local, "/run/x.sock");
        assert_eq!(parsed[1].1.state, "connected");
    }
}
