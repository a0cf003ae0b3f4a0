//! The hidden child modes of the socket case study (`afterlife __child
//! MODE`), for the `holds` tests:
//!
//! - `listen tcp|udp ADDR`: a socket bound to `ADDR:0` (listening, for
//!   TCP); prints its port, then sleeps. Made by std, so not inheritable.
//! - `listen-parent inherit|no-inherit`: the talk's case study. A TCP
//!   listener on 127.0.0.1:0 made with `WSASocketW`, inheritable or with
//!   `WSA_FLAG_NO_HANDLE_INHERIT` (the Windows `O_CLOEXEC`); then a child
//!   (`__child sleep`) started with `bInheritHandles = TRUE` (std's
//!   `Command` always passes TRUE); prints `PORT CHILD_PID`, then sleeps
//!   until it is ended.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use windows_sys::Win32::Networking::WinSock::{
    AF_INET, INVALID_SOCKET, IP_TTL, IPPROTO_IP, IPPROTO_TCP, SOCK_STREAM, SOCKADDR, SOCKADDR_IN,
    WSA_FLAG_NO_HANDLE_INHERIT, WSA_FLAG_OVERLAPPED, WSADATA, WSAGetLastError, WSASocketW, WSAStartup, bind,
    getsockname, getsockopt,
};

/// How long the modes sleep: until the test ends them.
const LIFETIME: Duration = Duration::from_secs(600);

/// `listen tcp|udp ADDR`.
pub(crate) fn listen(args: &[String]) -> u8 {
    let address = args.get(1).map_or("127.0.0.1", String::as_str);
    let Ok(ip) = address.parse::<std::net::IpAddr>() else {
        eprintln!("afterlife: error: listen needs an IP address");
        return crate::exit_code::FAILURE;
    };
    let bound = SocketAddr::new(ip, 0);
    match args.first().map(String::as_str) {
        Some("udp") => hold(bound, UdpSocket::bind(bound), |s| s.ttl().and_then(|_| s.local_addr())),
        _ => hold(bound, TcpListener::bind(bound), |s| {
            s.ttl().and_then(|_| s.local_addr())
        }),
    }
}

/// Prints the port of a socket just bound, then keeps it open while it
/// sleeps. `local` reads an option of the socket (its TTL) before its
/// address: a socket this process has used, as a server uses its own
/// (Wine names a socket's owner only after the owner has used it through
/// a unix fd, see `port_owners`).
fn hold<T>(bound: SocketAddr, socket: io::Result<T>, local: fn(&T) -> io::Result<SocketAddr>) -> u8 {
    match socket.and_then(|s| local(&s).map(|a| (s, a))) {
        Ok((socket, local)) => {
            println!("{}", local.port());
            std::thread::sleep(LIFETIME);
            drop(socket);
            0
        }
        Err(error) => {
            eprintln!("afterlife: error: bind {bound}: {error}");
            crate::exit_code::FAILURE
        }
    }
}

/// `listen-parent inherit|no-inherit`.
pub(crate) fn listen_parent(args: &[String]) -> u8 {
    let inherit = args.first().is_some_and(|a| a == "inherit");
    let port = match loopback_listener(inherit) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("afterlife: error: listen-parent: {error}");
            return crate::exit_code::FAILURE;
        }
    };
    match start_sleeper() {
        Ok(child) => {
            println!("{port} {}", child.id());
            // The socket is never closed: it is open until this process ends.
            std::thread::sleep(LIFETIME);
            0
        }
        Err(error) => {
            eprintln!("afterlife: error: listen-parent: starting the child: {error}");
            crate::exit_code::FAILURE
        }
    }
}

/// `__child sleep`, started with `bInheritHandles = TRUE`. Started again
/// when creation fails with ERROR_INTERNAL_ERROR (1359), as Wine 8.0 does
/// now and then when many processes start at once.
fn start_sleeper() -> io::Result<std::process::Child> {
    let exe = std::env::current_exe()?;
    let start = || {
        Command::new(&exe)
            .args([super::child::CHILD_COMMAND, "sleep", "600000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
    };
    for _ in 0..5 {
        match start() {
            Err(error) if error.raw_os_error() == Some(1359) => std::thread::sleep(Duration::from_millis(200)),
            other => return other,
        }
    }
    start()
}

/// A TCP listener on 127.0.0.1 with a port the system picks, made with
/// `WSASocketW` (inheritable, or with `WSA_FLAG_NO_HANDLE_INHERIT`), left
/// open for the process's life; its port.
fn loopback_listener(inherit: bool) -> io::Result<u16> {
    // SAFETY: WSADATA is plain data; zero is a valid value.
    let mut data: WSADATA = unsafe { std::mem::zeroed() };
    // SAFETY: a local for WSAStartup to fill.
    let started = unsafe { WSAStartup(0x0202, &mut data) };
    if started != 0 {
        return Err(io::Error::from_raw_os_error(started));
    }
    let flags = WSA_FLAG_OVERLAPPED | if inherit { 0 } else { WSA_FLAG_NO_HANDLE_INHERIT };
    // SAFETY: plain call with no protocol info; the result is checked.
    let socket = unsafe { WSASocketW(i32::from(AF_INET), SOCK_STREAM, IPPROTO_TCP, std::ptr::null(), 0, flags) };
    if socket == INVALID_SOCKET {
        return Err(wsa_error("WSASocketW"));
    }
    // SAFETY: SOCKADDR_IN is plain data; zero is a valid value.
    let mut address: SOCKADDR_IN = unsafe { std::mem::zeroed() };
    address.sin_family = AF_INET;
    address.sin_addr.S_un.S_addr = u32::from_ne_bytes([127, 0, 0, 1]);
    let length = size_of::<SOCKADDR_IN>() as i32;
    // SAFETY: a valid socket and an address of `length` bytes.
    if unsafe { bind(socket, (&raw const address).cast::<SOCKADDR>(), length) } != 0 {
        return Err(wsa_error("bind"));
    }
    // SAFETY: a valid, bound socket.
    if unsafe { windows_sys::Win32::Networking::WinSock::listen(socket, 16) } != 0 {
        return Err(wsa_error("listen"));
    }
    // Used once by this process (see `hold`).
    let mut ttl = 0i32;
    let mut option_length = size_of::<i32>() as i32;
    // SAFETY: a valid socket and an i32 of `option_length` bytes.
    let read = unsafe { getsockopt(socket, IPPROTO_IP, IP_TTL, (&raw mut ttl).cast(), &mut option_length) };
    if read != 0 {
        return Err(wsa_error("getsockopt"));
    }
    let mut named_length = length;
    // SAFETY: a valid socket and an address buffer of `named_length` bytes.
    if unsafe { getsockname(socket, (&raw mut address).cast::<SOCKADDR>(), &mut named_length) } != 0 {
        return Err(wsa_error("getsockname"));
    }
    Ok(u16::from_be(address.sin_port))
}

fn wsa_error(call: &str) -> io::Error {
    // SAFETY: plain call.
    let code = unsafe { WSAGetLastError() };
    io::Error::new(
        io::Error::from_raw_os_error(code).kind(),
        format!("{call}: {}", io::Error::from_raw_os_error(code)),
    )
}
