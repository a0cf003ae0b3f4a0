//! `/proc/PID/net/{tcp,tcp6,udp,udp6}` and `/proc/PID/net/unix` (proc(5)):
//! the socket tables of a network namespace as text, read where sock_diag
//! cannot be used.
//!
//! TCP and UDP go through procfs's `TcpNetEntries` and `UdpNetEntries`.
//! The kernel prints each 32-bit word of an address as the hex of the
//! word in host byte order, so the bytes come back out with the machine's
//! own endianness (procfs asks the running system which that is): correct
//! on big-endian machines too. procfs rejects a whole table over one line
//! it cannot read; such a table is read again line by line, and only the
//! line is lost.
//!
//! The unix table is parsed here: procfs's `UnixNetEntries` skips the flags
//! field (where `__SO_ACCEPTCON` marks a listener) and cuts a path at its
//! first space.

use std::io::BufRead;
use std::net::SocketAddr;

use procfs::FromBufReadSI;

/// One row of a TCP or UDP table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetEntry {
    /// Local address.
    pub local: SocketAddr,
    /// Remote address (unspecified, port 0, when unconnected).
    pub remote: SocketAddr,
    /// The state, as the kernel's `TCP_*` number (UDP uses the same).
    pub state: u8,
    /// Bytes unread.
    pub rx_queue: u32,
    /// Bytes unsent or unacknowledged.
    pub tx_queue: u32,
    /// Owner UID.
    pub uid: u32,
    /// The socket inode (0 for sockets no file refers to).
    pub inode: u64,
}

/// `TCP_LISTEN`.
pub const TCP_LISTEN: u8 = 10;

/// Which table a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InetTable {
    /// `tcp` or `tcp6`.
    Tcp,
    /// `udp` or `udp6`.
    Udp,
}

/// Parses a `tcp`, `tcp6`, `udp` or `udp6` table. Pure.
pub fn inet_table(text: &str, table: InetTable) -> Vec<InetEntry> {
    let system = procfs::current_system_info();
    let parse = |bytes: &[u8]| -> procfs::ProcResult<Vec<InetEntry>> {
        Ok(match table {
            InetTable::Tcp => procfs::net::TcpNetEntries::from_buf_read(bytes, system)?
                .0
                .into_iter()
                .map(|e| InetEntry {
                    local: e.local_address,
                    remote: e.remote_address,
                    state: e.state.to_u8(),
                    rx_queue: e.rx_queue,
                    tx_queue: e.tx_queue,
                    uid: e.uid,
                    inode: e.inode,
                })
                .collect(),
            InetTable::Udp => procfs::net::UdpNetEntries::from_buf_read(bytes, system)?
                .0
                .into_iter()
                .map(|e| InetEntry {
                    local: e.local_address,
                    remote: e.remote_address,
                    state: e.state.to_u8(),
                    rx_queue: e.rx_queue,
                    tx_queue: e.tx_queue,
                    uid: e.uid,
                    inode: e.inode,
                })
                .collect(),
        })
    };
    if let Ok(all) = parse(text.as_bytes()) {
        return all;
    }
    // One line procfs cannot read (a state it does not know): the others.
    let mut lines = text.as_bytes().lines();
    let Some(Ok(header)) = lines.next() else {
        return Vec::new();
    };
    lines
        .map_while(Result::ok)
        .filter_map(|line| parse(format!("{header}\n{line}\n").as_bytes()).ok())
        .flatten()
        .collect()
}

/// One row of the unix table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixEntry {
    /// The socket inode.
    pub inode: u64,
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    pub socket_type: i32,
    /// Whether it listens (`__SO_ACCEPTCON` in its flags).
    pub listening: bool,
    /// Whether it is connected (`St` 03, `SS_CONNECTED`).
    pub connected: bool,
    /// Its bound name: a path, or `@name` for an abstract one.
    pub path: Option<String>,
}

/// `__SO_ACCEPTCON` in the flags of `/proc/net/unix`.
const SO_ACCEPTCON: u32 = 0x10000;

/// Parses `/proc/net/unix`. Pure.
pub fn unix_table(text: &str) -> Vec<UnixEntry> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // Num RefCount Protocol Flags Type St Inode Path: the path may
            // hold spaces, so the line is cut in eight.
            let fields: Vec<&str> = line.splitn(8, ' ').filter(|f| !f.is_empty()).collect();
            let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            let socket_type = u32::from_str_radix(fields.get(4)?, 16).ok()? as i32;
            let connected = fields.get(5)? == &"03";
            let inode = fields.get(6)?.parse().ok()?;
            let path = fields.get(7).map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
            Some(UnixEntry {
                inode,
                socket_type,
                listening: flags & SO_ACCEPTCON != 0,
                connected,
                path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:A1B2 0100007F:1F90 01 00000003:00000000 00:00000000 00000000     0        0 1235 1 0000000000000000 20 4 30 10 -1\n";

    #[test]
    fn tcp_tables_parse() {
        // The literal addresses are as a little-endian kernel prints them.
        let rows = inet_table(TCP, InetTable::Tcp);
        assert_eq!(rows.len(), 2);
        if cfg!(target_endian = "little") {
            assert_eq!(rows[0].local, "127.0.0.1:8080".parse().unwrap());
            assert_eq!(rows[1].remote, "127.0.0.1:8080".parse().unwrap());
        }
        assert_eq!(rows[0].state, TCP_LISTEN);
        assert_eq!((rows[0].rx_queue, rows[0].tx_queue), (2, 0));
        assert_eq!(rows[0].uid, 1000);
        assert_eq!(rows[0].inode, 12345);
        assert_eq!(rows[1].state, 1);
        assert_eq!(rows[1].tx_queue, 3);
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1\n";
        let rows = inet_table(tcp6, InetTable::Tcp);
        if cfg!(target_endian = "little") {
            assert_eq!(rows[0].local, "[::1]:8080".parse().unwrap());
        }
        assert_eq!(rows[0].remote, "[::]:0".parse().unwrap());
    }

    #[test]
    fn addresses_decode_in_host_order() {
        // What this machine's kernel would print for 10.1.2.3:80: the
        // address's bytes loaded as a host-order word, in hex.
        let word = u32::from_ne_bytes([10, 1, 2, 3]);
        let text = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: {word:08X}:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1\n"
        );
        let rows = inet_table(&text, InetTable::Tcp);
        assert_eq!(rows[0].local, "10.1.2.3:80".parse().unwrap());
        let words: Vec<String> = [[0x20, 0x01, 0x0d, 0xb8], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
            .iter()
            .map(|bytes| format!("{:08X}", u32::from_ne_bytes(*bytes)))
            .collect();
        let text6 = format!(
            "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: {}:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9 2\n",
            words.concat()
        );
        let rows = inet_table(&text6, InetTable::Udp);
        assert_eq!(rows[0].local, "[2001:db8::1]:53".parse().unwrap());
        assert_eq!(rows[0].state, 7);
    }

    #[test]
    fn a_line_procfs_rejects_costs_only_itself() {
        let odd = TCP.replace(" 01 00000003", " 7F 00000003");
        let rows = inet_table(&odd, InetTable::Tcp);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].inode, 12345);
        assert!(inet_table("", InetTable::Udp).is_empty());
    }

    #[test]
    fn unix_tables_parse() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
0000000000000000: 00000002 00000000 00010000 0001 01 2001 /run/x.sock\n\
0000000000000000: 00000002 00000000 00000000 0002 01 2002 @abs\n\
0000000000000000: 00000003 00000000 00000000 0001 03 2003\n\
0000000000000000: 00000002 00000000 00000000 0005 01 2004 /tmp/a b.sock\n";
        let rows = unix_table(text);
        assert_eq!(rows.len(), 4);
        assert!(rows[0].listening && !rows[0].connected);
        assert_eq!(rows[0].path.as_deref(), Some("/run/x.sock"));
        assert_eq!(rows[0].socket_type, libc::SOCK_STREAM);
        assert_eq!(rows[1].socket_type, libc::SOCK_DGRAM);
        assert_eq!(rows[1].path.as_deref(), Some("@abs"));
        assert!(rows[2].connected && !rows[2].listening);
        assert_eq!(rows[2].path, None);
        assert_eq!(rows[3].path.as_deref(), Some("/tmp/a b.sock"));
        assert_eq!(rows[3].socket_type, libc::SOCK_SEQPACKET);
    }
}
