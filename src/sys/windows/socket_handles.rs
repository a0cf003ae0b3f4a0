//! Which processes hold a handle to a socket: every handle of the system
//! (`NtQuerySystemInformation(SystemExtendedHandleInformation)`), those of
//! the kind a socket is (a `File` object: the type of a socket afterlife
//! opens itself) duplicated into afterlife (`DuplicateHandle`) and asked
//! for their addresses (`getsockname`, `getpeername`) and type
//! (`getsockopt(SO_TYPE)`).
//!
//! The socket tables name the process that created a socket, not those
//! that hold it: after the creator ends, a child that inherited the socket
//! keeps it bound, and only the handle tables show the child.
//!
//! A handle that is not a socket answers `getsockname` with an error; one
//! opened for synchronous I/O on which another thread waits may block the
//! call until that I/O ends. The walk runs on its own thread and is given
//! up when one handle keeps it waiting: the report then says it is
//! incomplete.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::mpsc;
use std::time::Duration;

use windows_sys::Wdk::System::SystemInformation::{NtQuerySystemInformation, SYSTEM_INFORMATION_CLASS};
use windows_sys::Win32::Foundation::{DUPLICATE_SAME_ACCESS, DuplicateHandle, HANDLE, STATUS_INFO_LENGTH_MISMATCH};
use windows_sys::Win32::Networking::WinSock::{
    AF_INET, AF_INET6, SO_TYPE, SOCK_DGRAM, SOCK_STREAM, SOCKADDR, SOCKET, SOL_SOCKET, WSAENOTCONN, WSAGetLastError,
    closesocket, getpeername, getsockname, getsockopt,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcess, PROCESS_DUP_HANDLE};

use super::handle::Handle;
use crate::holds_spec::Protocol;

// The table is decoded with 64-bit Windows' layout.
const _: () = assert!(size_of::<usize>() == 8);

/// `SystemExtendedHandleInformation`: every handle, with values above 65535.
const SYSTEM_EXTENDED_HANDLE_INFORMATION: SYSTEM_INFORMATION_CLASS = 64;

/// How long one handle may keep the walk waiting.
const PER_HANDLE: Duration = Duration::from_secs(1);

/// One entry of the system's handle table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HandleEntry {
    /// The process that holds it.
    pub pid: u32,
    /// The handle's value in that process.
    pub handle: usize,
    /// Its object type's index.
    pub type_index: u16,
}

/// A process's handle to a TCP or UDP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketHandle {
    /// The process.
    pub pid: u32,
    /// The handle's value in it.
    pub handle: usize,
    /// TCP or UDP, when it can be read (see [`socket_type`]).
    pub protocol: Option<Protocol>,
    /// The socket's local address.
    pub local: SocketAddr,
    /// Its peer.
    pub remote: Peer,
}

/// The peer of a socket handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Connected to this address.
    Connected(SocketAddr),
    /// Not connected (a listener, an unconnected UDP socket):
    /// `getpeername` answered WSAENOTCONN.
    NotConnected,
    /// `getpeername` failed otherwise: Wine 8.0 answers WSAENOTSOCK for a
    /// socket another process made.
    Unknown,
}

/// The socket handles found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Walk {
    /// The socket handles of the processes that could be read.
    pub sockets: Vec<SocketHandle>,
    /// Processes whose handles could not be duplicated (access denied).
    pub denied: Vec<u32>,
    /// Whether a handle kept the walk waiting and it was given up.
    pub cut_short: bool,
}

/// Reading the handle table failed.
#[derive(Debug, thiserror::Error)]
#[error("NtQuerySystemInformation(SystemExtendedHandleInformation): NTSTATUS {status:#010x}")]
pub(crate) struct HandleTableError {
    /// What it returned.
    pub status: u32,
}

/// Every handle of the system.
fn handle_table() -> Result<Vec<HandleEntry>, HandleTableError> {
    // u64 words: the table's alignment.
    let mut words: Vec<u64> = vec![0; 1 << 14];
    for _ in 0..16 {
        let length = (words.len() * 8) as u32;
        let mut needed = 0u32;
        // SAFETY: `words` has `length` writable bytes.
        let status = unsafe {
            NtQuerySystemInformation(
                SYSTEM_EXTENDED_HANDLE_INFORMATION,
                words.as_mut_ptr().cast(),
                length,
                &mut needed,
            )
        };
        if status == STATUS_INFO_LENGTH_MISMATCH {
            let grown = (needed as usize).max(words.len() * 16) / 8 * 2;
            words = vec![0; grown];
            continue;
        }
        if status < 0 {
            return Err(HandleTableError { status: status as u32 });
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        return Ok(decode_handles(&bytes));
    }
    Err(HandleTableError {
        status: STATUS_INFO_LENGTH_MISMATCH as u32,
    })
}

/// `SYSTEM_HANDLE_INFORMATION_EX` on 64-bit Windows: a count and a
/// reserved word, then 40-byte entries (object, PID, handle, access,
/// back-trace index, type index, attributes, reserved). Pure.
pub(crate) fn decode_handles(bytes: &[u8]) -> Vec<HandleEntry> {
    let read = |b: &[u8], at: usize| -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[at..at + 8]);
        u64::from_ne_bytes(word)
    };
    if bytes.len() < 16 {
        return Vec::new();
    }
    let count = read(bytes, 0) as usize;
    bytes[16..]
        .chunks_exact(40)
        .take(count)
        .map(|entry| HandleEntry {
            pid: read(entry, 8) as u32,
            handle: read(entry, 16) as usize,
            type_index: u16::from_ne_bytes([entry[30], entry[31]]),
        })
        .collect()
}

/// A socket address as `getsockname` writes it (family, port in network
/// order, then the IPv4 address; or flow info and the IPv6 address). Pure.
pub(crate) fn decode_sockaddr(bytes: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([*bytes.first()?, *bytes.get(1)?]);
    let port = u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]);
    if family == AF_INET {
        let a = bytes.get(4..8)?;
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])), port));
    }
    if family == AF_INET6 {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(bytes.get(8..24)?);
        return Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port));
    }
    None
}

/// The socket handles of every other process, the walk given up when one
/// handle keeps it waiting longer than [`PER_HANDLE`].
pub(crate) fn socket_handles() -> Result<Walk, HandleTableError> {
    // A socket of our own gives the type index of sockets.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").ok();
    let table = handle_table()?;
    let own = std::process::id();
    let socket_type = probe.as_ref().and_then(|probe| {
        use std::os::windows::io::AsRawSocket;
        let raw = probe.as_raw_socket() as usize;
        table
            .iter()
            .find(|e| e.pid == own && e.handle == raw)
            .map(|e| e.type_index)
    });
    let candidates: Vec<HandleEntry> = table
        .into_iter()
        .filter(|e| e.pid != own && e.pid > 4 && socket_type.is_none_or(|t| e.type_index == t))
        .collect();
    Ok(walk(candidates))
}

/// What the walking thread reports.
enum Step {
    /// One more handle asked.
    Asked,
    /// A socket handle.
    Found(SocketHandle),
    /// A process whose handles may not be duplicated.
    Denied(u32),
}

fn walk(candidates: Vec<HandleEntry>) -> Walk {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || ask_each(&candidates, &sender));
    let mut result = Walk::default();
    loop {
        match receiver.recv_timeout(PER_HANDLE) {
            Ok(Step::Asked) => {}
            Ok(Step::Found(socket)) => result.sockets.push(socket),
            Ok(Step::Denied(pid)) => result.denied.push(pid),
            Err(mpsc::RecvTimeoutError::Disconnected) => return result,
            // The thread is left blocked; it ends with the process.
            Err(mpsc::RecvTimeoutError::Timeout) => {
                result.cut_short = true;
                return result;
            }
        }
    }
}

/// Asks each handle, opening each process once (candidates come grouped
/// by process).
fn ask_each(candidates: &[HandleEntry], sender: &mpsc::Sender<Step>) {
    let mut current: Option<(u32, Option<Handle>)> = None;
    for entry in candidates {
        if current.as_ref().is_none_or(|(pid, _)| *pid != entry.pid) {
            let process = open_for_duplicating(entry.pid);
            if process.is_none() && sender.send(Step::Denied(entry.pid)).is_err() {
                return;
            }
            current = Some((entry.pid, process));
        }
        let Some((_, Some(process))) = &current else { continue };
        let step = socket_behind(process, entry.handle).map_or(Step::Asked, |(protocol, local, remote)| {
            Step::Found(SocketHandle {
                pid: entry.pid,
                handle: entry.handle,
                protocol,
                local,
                remote,
            })
        });
        if sender.send(step).is_err() {
            return;
        }
    }
}

fn open_for_duplicating(pid: u32) -> Option<Handle> {
    // SAFETY: plain call; the handle is checked.
    Handle::from_raw(unsafe { OpenProcess(PROCESS_DUP_HANDLE, 0, pid) })
}

/// The protocol, local address and peer of the socket behind `handle` in
/// `process`; `None` for any other handle.
fn socket_behind(process: &Handle, handle: usize) -> Option<(Option<Protocol>, SocketAddr, Peer)> {
    let mut copy: HANDLE = std::ptr::null_mut();
    // SAFETY: plain call; a pseudo handle that needs no closing.
    let own = unsafe { GetCurrentProcess() };
    // SAFETY: a process handle opened with PROCESS_DUP_HANDLE, a handle
    // value of that process, and a local for the copy.
    let ok = unsafe {
        DuplicateHandle(
            process.raw(),
            handle as HANDLE,
            own,
            &mut copy,
            0,
            0,
            DUPLICATE_SAME_ACCESS,
        )
    };
    if ok == 0 {
        return None;
    }
    let copy = Handle::from_raw(copy)?;
    let socket = copy.raw() as SOCKET;
    // Any other handle fails here (WSAENOTSOCK, or WSAEOPNOTSUPP under
    // Wine), and the copy is closed as a handle.
    let local = address(socket, getsockname)?;
    // A socket: closed with closesocket instead, so that Winsock forgets
    // what it learnt of this handle value (a later copy may get the same
    // value). Only this copy closes; the socket stays open in its holders.
    std::mem::forget(copy);
    let remote = match address(socket, getpeername) {
        Some(peer) => Peer::Connected(peer),
        None if last_wsa_error() == WSAENOTCONN => Peer::NotConnected,
        None => Peer::Unknown,
    };
    let kind = socket_type(socket);
    // SAFETY: our own copy, closed once.
    unsafe { closesocket(socket) };
    Some((kind, local, remote))
}

/// The error of the last Winsock call of this thread.
fn last_wsa_error() -> i32 {
    // SAFETY: plain call.
    unsafe { WSAGetLastError() }
}

/// TCP or UDP; `None` when the type cannot be read: Wine 8.0 answers
/// `getsockopt` with WSAENOTSOCK for a socket another process created
/// (while `getsockname` works).
fn socket_type(socket: SOCKET) -> Option<Protocol> {
    let mut kind = 0i32;
    let mut length = size_of::<i32>() as i32;
    // SAFETY: a socket handle we own and an i32 of `length` bytes.
    if unsafe { getsockopt(socket, SOL_SOCKET, SO_TYPE, (&raw mut kind).cast(), &mut length) } != 0 {
        return None;
    }
    match kind {
        SOCK_STREAM => Some(Protocol::Tcp),
        SOCK_DGRAM => Some(Protocol::Udp),
        _ => None,
    }
}

/// The address `call` (getsockname or getpeername) gives for `socket`.
fn address(
    socket: SOCKET,
    call: unsafe extern "system" fn(SOCKET, *mut SOCKADDR, *mut i32) -> i32,
) -> Option<SocketAddr> {
    let mut storage = [0u64; 16];
    let mut length = size_of::<[u64; 16]>() as i32;
    // SAFETY: a socket handle we own and a 128-byte, aligned buffer.
    if unsafe { call(socket, storage.as_mut_ptr().cast::<SOCKADDR>(), &mut length) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = storage.iter().flat_map(|w| w.to_ne_bytes()).collect();
    decode_sockaddr(&bytes[..(length.max(0) as usize).min(bytes.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_entries_decode() {
        let mut bytes = Vec::new();
        bytes.extend(2u64.to_ne_bytes());
        bytes.extend(0u64.to_ne_bytes());
        for (pid, handle, kind) in [(40u64, 0x1a4u64, 37u16), (44, 0x10, 3)] {
            bytes.extend(0xffffu64.to_ne_bytes());
            bytes.extend(pid.to_ne_bytes());
            bytes.extend(handle.to_ne_bytes());
            bytes.extend(0x1f01ffu32.to_ne_bytes());
            bytes.extend(0u16.to_ne_bytes());
            bytes.extend(kind.to_ne_bytes());
            bytes.extend([0u8; 8]);
        }
        let entries = decode_handles(&bytes);
        assert_eq!(
            entries,
            [
                HandleEntry {
                    pid: 40,
                    handle: 0x1a4,
                    type_index: 37
                },
                HandleEntry {
                    pid: 44,
                    handle: 0x10,
                    type_index: 3
                }
            ]
        );
        assert!(decode_handles(&bytes[..8]).is_empty());
    }

    #[test]
    fn socket_addresses_decode() {
        let mut v4 = AF_INET.to_ne_bytes().to_vec();
        v4.extend(8080u16.to_be_bytes());
        v4.extend([127, 0, 0, 1]);
        v4.extend([0; 8]);
        assert_eq!(decode_sockaddr(&v4), Some("127.0.0.1:8080".parse().unwrap()));
        let mut v6 = AF_INET6.to_ne_bytes().to_vec();
        v6.extend(443u16.to_be_bytes());
        v6.extend([0; 4]);
        v6.extend(Ipv6Addr::LOCALHOST.octets());
        v6.extend([0; 4]);
        assert_eq!(decode_sockaddr(&v6), Some("[::1]:443".parse().unwrap()));
        assert_eq!(decode_sockaddr(&[1, 0]), None);
    }

    #[test]
    fn the_walk_runs_to_its_end() {
        let walk = socket_handles().unwrap();
        assert!(!walk.cut_short);
    }
}
