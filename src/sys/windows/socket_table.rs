//! Every TCP and UDP socket of the machine with the PID that owns it, from
//! the IP Helper's tables: `GetExtendedTcpTable` (`TCP_TABLE_OWNER_PID_ALL`)
//! and `GetExtendedUdpTable` (`UDP_TABLE_OWNER_PID`), IPv4 and IPv6 — what
//! `netstat -ano` and TCPView show.
//!
//! Facts relied on:
//! - The owner PID is the process that created the socket. It stays in the
//!   table after that process has ended while another process still holds
//!   a handle to the socket (inherited, or duplicated): netstat then shows
//!   a PID no process has, TCPView a "non-existent" process.
//! - A socket in `TIME_WAIT` belongs to no process: its owner PID is 0.
//! - Each table is a count followed by fixed-size rows; addresses are in
//!   network byte order, and a port is the low 16 bits of a `u32`, in
//!   network byte order too. The rows are decoded here from the bytes,
//!   without syscalls.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;
use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, NO_ERROR};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, GetExtendedUdpTable, MIB_TCP6ROW_OWNER_PID, MIB_TCPROW_OWNER_PID, MIB_UDP6ROW_OWNER_PID,
    MIB_UDPROW_OWNER_PID, TCP_TABLE_OWNER_PID_ALL, UDP_TABLE_OWNER_PID,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};

use crate::holds_spec::Protocol;

/// A TCP socket's state, as the `MIB_TCP_STATE` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TcpState {
    /// 1: closed.
    Closed,
    /// 2: listening.
    Listen,
    /// 3: connecting.
    SynSent,
    /// 4: a handshake answered for a listener.
    SynRcvd,
    /// 5: connected.
    Established,
    /// 6: closing, our FIN sent.
    FinWait1,
    /// 7: closing, our FIN acknowledged.
    FinWait2,
    /// 8: the peer closed; we have not.
    CloseWait,
    /// 9: both closed at once.
    Closing,
    /// 10: waiting for the last ACK.
    LastAck,
    /// 11: closed; kept a while so late packets are not taken for a new
    /// connection.
    TimeWait,
    /// 12: being deleted.
    DeleteTcb,
    /// Any other number.
    Unknown,
}

impl TcpState {
    /// The state of a `MIB_TCP_STATE` number. Pure.
    pub(crate) fn from_mib(number: u32) -> TcpState {
        const STATES: [TcpState; 12] = [
            TcpState::Closed,
            TcpState::Listen,
            TcpState::SynSent,
            TcpState::SynRcvd,
            TcpState::Established,
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::CloseWait,
            TcpState::Closing,
            TcpState::LastAck,
            TcpState::TimeWait,
            TcpState::DeleteTcb,
        ];
        number
            .checked_sub(1)
            .and_then(|i| STATES.get(i as usize))
            .copied()
            .unwrap_or(TcpState::Unknown)
    }

    /// The name as netstat and TCPView show it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRcvd => "SYN_RCVD",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::DeleteTcb => "DELETE_TCB",
            TcpState::Unknown => "UNKNOWN",
        }
    }
}

/// One row of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableRow {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The local address and port.
    pub local: SocketAddr,
    /// The remote address of a TCP socket (unspecified for a listener).
    pub remote: Option<SocketAddr>,
    /// A TCP socket's state; UDP sockets have none.
    pub state: Option<TcpState>,
    /// The PID of the process that created it (0: the system's).
    pub pid: u32,
}

/// Which rows to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tables {
    /// The TCP tables (IPv4 and IPv6).
    pub tcp: bool,
    /// The UDP tables (IPv4 and IPv6).
    pub udp: bool,
}

/// Reading a table failed.
#[derive(Debug, thiserror::Error)]
#[error("{call} ({family}): {source}")]
pub(crate) struct TableError {
    /// The call.
    pub call: &'static str,
    /// `AF_INET` or `AF_INET6`.
    pub family: &'static str,
    /// The error it returned.
    pub source: io::Error,
}

/// Every row of the tables asked for.
pub(crate) fn rows(tables: Tables) -> Result<Vec<TableRow>, TableError> {
    let mut rows = Vec::new();
    for (family, name) in [(AF_INET, "AF_INET"), (AF_INET6, "AF_INET6")] {
        let v6 = family == AF_INET6;
        if tables.tcp {
            let bytes = read_table("GetExtendedTcpTable", name, |buffer, size| {
                // SAFETY: `buffer` has `*size` writable bytes (or is null with
                // `*size` 0, to ask for the size).
                unsafe { GetExtendedTcpTable(buffer, size, 0, u32::from(family), TCP_TABLE_OWNER_PID_ALL, 0) }
            })?;
            rows.extend(if v6 { decode_tcp6(&bytes) } else { decode_tcp4(&bytes) });
        }
        if tables.udp {
            let bytes = read_table("GetExtendedUdpTable", name, |buffer, size| {
                // SAFETY: as above.
                unsafe { GetExtendedUdpTable(buffer, size, 0, u32::from(family), UDP_TABLE_OWNER_PID, 0) }
            })?;
            rows.extend(if v6 { decode_udp6(&bytes) } else { decode_udp4(&bytes) });
        }
    }
    Ok(one_row_per_connection(rows))
}

/// The rows with a TCP connection listed once: its local and remote
/// address make it one socket, but Wine's table can list it twice, which
/// would report one socket as two. Listeners and UDP sockets are kept as
/// they come (two may share an address legitimately). Pure.
pub(crate) fn one_row_per_connection(rows: Vec<TableRow>) -> Vec<TableRow> {
    let mut kept: Vec<TableRow> = Vec::with_capacity(rows.len());
    for row in rows {
        let connected = row.protocol == Protocol::Tcp
            && row.state != Some(TcpState::Listen)
            && row.remote.is_some_and(|r| r.port() != 0);
        if connected && kept.contains(&row) {
            continue;
        }
        kept.push(row);
    }
    kept
}

/// Calls `get` until the buffer is large enough (a socket may open between
/// the size asked and the table read); the table's bytes.
fn read_table(
    call: &'static str,
    family: &'static str,
    get: impl Fn(*mut core::ffi::c_void, *mut u32) -> u32,
) -> Result<Vec<u8>, TableError> {
    // u32 words: the rows' alignment.
    let mut words: Vec<u32> = Vec::new();
    let mut size = 0u32;
    for _ in 0..8 {
        let pointer = if words.is_empty() {
            std::ptr::null_mut()
        } else {
            words.as_mut_ptr().cast()
        };
        match get(pointer, &mut size) {
            NO_ERROR => {
                let bytes = words.iter().flat_map(|w| w.to_ne_bytes()).take(size as usize);
                return Ok(bytes.collect());
            }
            ERROR_INSUFFICIENT_BUFFER => {
                // Room for a few more rows than asked.
                words = vec![0; (size as usize).div_ceil(4) + 64];
                size = (words.len() * 4) as u32;
            }
            error => {
                return Err(TableError {
                    call,
                    family,
                    source: io::Error::from_raw_os_error(error as i32),
                });
            }
        }
    }
    Err(TableError {
        call,
        family,
        source: io::Error::other("the table kept growing"),
    })
}

/// The `u32` at `offset`, in memory order.
fn word(bytes: &[u8], offset: usize) -> u32 {
    bytes
        .get(offset..offset + 4)
        .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// A port: the low 16 bits of a `u32`, its two bytes in network order.
fn port(bytes: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([bytes[offset], bytes[offset + 1]])
}

fn v4(bytes: &[u8], offset: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    ))
}

fn v6(bytes: &[u8], offset: usize) -> IpAddr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&bytes[offset..offset + 16]);
    IpAddr::V6(Ipv6Addr::from(octets))
}

/// The rows of a table: a `u32` count, then (at offset 4) rows of `size`
/// bytes, as many as both the count and the bytes hold.
fn each_row(bytes: &[u8], size: usize) -> impl Iterator<Item = &[u8]> {
    let count = word(bytes, 0) as usize;
    bytes.get(4..).unwrap_or_default().chunks_exact(size).take(count)
}

/// `MIB_TCPTABLE_OWNER_PID`: state, local address, local port, remote
/// address, remote port, PID. Pure.
pub(crate) fn decode_tcp4(bytes: &[u8]) -> Vec<TableRow> {
    each_row(bytes, size_of::<MIB_TCPROW_OWNER_PID>())
        .map(|row| TableRow {
            protocol: Protocol::Tcp,
            local: SocketAddr::new(v4(row, 4), port(row, 8)),
            remote: Some(SocketAddr::new(v4(row, 12), port(row, 16))),
            state: Some(TcpState::from_mib(word(row, 0))),
            pid: word(row, 20),
        })
        .collect()
}

/// `MIB_TCP6TABLE_OWNER_PID`: local address, scope, port; remote address,
/// scope, port; state; PID. Pure.
pub(crate) fn decode_tcp6(bytes: &[u8]) -> Vec<TableRow> {
    each_row(bytes, size_of::<MIB_TCP6ROW_OWNER_PID>())
        .map(|row| TableRow {
            protocol: Protocol::Tcp,
            local: SocketAddr::new(v6(row, 0), port(row, 20)),
            remote: Some(SocketAddr::new(v6(row, 24), port(row, 44))),
            state: Some(TcpState::from_mib(word(row, 48))),
            pid: word(row, 52),
        })
        .collect()
}

/// `MIB_UDPTABLE_OWNER_PID`: local address, port, PID. Pure.
pub(crate) fn decode_udp4(bytes: &[u8]) -> Vec<TableRow> {
    each_row(bytes, size_of::<MIB_UDPROW_OWNER_PID>())
        .map(|row| TableRow {
            protocol: Protocol::Udp,
            local: SocketAddr::new(v4(row, 0), port(row, 4)),
            remote: None,
            state: None,
            pid: word(row, 8),
        })
        .collect()
}

/// `MIB_UDP6TABLE_OWNER_PID`: local address, scope, port, PID. Pure.
pub(crate) fn decode_udp6(bytes: &[u8]) -> Vec<TableRow> {
    each_row(bytes, size_of::<MIB_UDP6ROW_OWNER_PID>())
        .map(|row| TableRow {
            protocol: Protocol::Udp,
            local: SocketAddr::new(v6(row, 0), port(row, 20)),
            remote: None,
            state: None,
            pid: word(row, 24),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|w| w.to_ne_bytes()).collect()
    }

    /// A port as the tables store it: network order in the low 16 bits.
    fn stored_port(port: u16) -> u32 {
        let [hi, lo] = port.to_be_bytes();
        u32::from_ne_bytes([hi, lo, 0, 0])
    }

    fn stored_v4(a: [u8; 4]) -> u32 {
        u32::from_ne_bytes(a)
    }

    #[test]
    fn the_row_sizes_are_windows_own() {
        assert_eq!(size_of::<MIB_TCPROW_OWNER_PID>(), 24);
        assert_eq!(size_of::<MIB_TCP6ROW_OWNER_PID>(), 56);
        assert_eq!(size_of::<MIB_UDPROW_OWNER_PID>(), 12);
        assert_eq!(size_of::<MIB_UDP6ROW_OWNER_PID>(), 28);
    }

    #[test]
    fn tcp4_rows_decode() {
        let bytes = words(&[
            2,
            2,
            stored_v4([127, 0, 0, 1]),
            stored_port(8080),
            0,
            0,
            4242,
            11,
            stored_v4([10, 0, 0, 2]),
            stored_port(50000),
            stored_v4([10, 0, 0, 3]),
            stored_port(443),
            0,
        ]);
        let rows = decode_tcp4(&bytes);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(rows[0].state, Some(TcpState::Listen));
        assert_eq!(rows[0].pid, 4242);
        assert_eq!(rows[1].remote, Some("10.0.0.3:443".parse().unwrap()));
        assert_eq!(rows[1].state, Some(TcpState::TimeWait));
        assert_eq!(rows[1].pid, 0);
    }

    #[test]
    fn v6_and_udp_rows_decode() {
        let mut tcp6 = words(&[1]);
        tcp6.extend(Ipv6Addr::LOCALHOST.octets());
        tcp6.extend(words(&[0, stored_port(9000)]));
        tcp6.extend([0u8; 16]);
        tcp6.extend(words(&[0, 0, 5, 77]));
        let rows = decode_tcp6(&tcp6);
        assert_eq!(rows[0].local, "[::1]:9000".parse().unwrap());
        assert_eq!(rows[0].state, Some(TcpState::Established));
        assert_eq!(rows[0].pid, 77);
        let udp4 = words(&[1, stored_v4([0, 0, 0, 0]), stored_port(53), 9]);
        let rows = decode_udp4(&udp4);
        assert_eq!(rows[0].local, "0.0.0.0:53".parse().unwrap());
        assert_eq!((rows[0].state, rows[0].pid, rows[0].protocol), (None, 9, Protocol::Udp));
        let mut udp6 = words(&[1]);
        udp6.extend(Ipv6Addr::UNSPECIFIED.octets());
        udp6.extend(words(&[0, stored_port(5353), 10]));
        assert_eq!(decode_udp6(&udp6)[0].local, "[::]:5353".parse().unwrap());
    }

    #[test]
    fn a_short_or_empty_table_gives_only_whole_rows() {
        assert!(decode_tcp4(&[]).is_empty());
        // A count of 3 with bytes for one row.
        let bytes = words(&[3, 1, 0, stored_port(1), 0, 0, 5]);
        assert_eq!(decode_tcp4(&bytes).len(), 1);
    }

    #[test]
    fn a_connection_listed_twice_is_one_row_and_listeners_stay() {
        let row = |state, remote: &str| TableRow {
            protocol: Protocol::Tcp,
            local: "127.0.0.1:5000".parse().unwrap(),
            remote: Some(remote.parse().unwrap()),
            state: Some(state),
            pid: 7,
        };
        let connection = row(TcpState::Established, "127.0.0.1:6000");
        let listener = row(TcpState::Listen, "0.0.0.0:0");
        let rows = vec![
            connection.clone(),
            listener.clone(),
            connection.clone(),
            listener.clone(),
        ];
        assert_eq!(one_row_per_connection(rows), [connection, listener.clone(), listener]);
    }

    #[test]
    fn states_have_their_mib_numbers() {
        assert_eq!(TcpState::from_mib(2), TcpState::Listen);
        assert_eq!(TcpState::from_mib(5), TcpState::Established);
        assert_eq!(TcpState::from_mib(11), TcpState::TimeWait);
        assert_eq!(TcpState::from_mib(12), TcpState::DeleteTcb);
        assert_eq!(TcpState::from_mib(0), TcpState::Unknown);
        assert_eq!(TcpState::from_mib(100), TcpState::Unknown);
        assert_eq!(TcpState::TimeWait.name(), "TIME_WAIT");
    }
}
