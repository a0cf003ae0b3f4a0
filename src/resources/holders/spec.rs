//! SPECs: what `holds` is asked about (a port, a unix socket, a path), as
//! users type them, and which sockets each one names.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::resources::sockets::{Protocol, Selection, Socket};

/// What to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// A TCP/UDP port or range of ports, optionally on one address.
    Port {
        /// `None`: TCP and UDP.
        protocol: Option<Protocol>,
        /// `None`: any local address.
        addr: Option<LocalAddr>,
        /// The ports: one (`8080..=8080`) or a range typed `8000-8100`.
        ports: std::ops::RangeInclusive<u16>,
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
    #[error("'{0}' is not a port (expected 1-65535, or a range such as 8000-8100)")]
    BadPort(String),
    /// A range whose first port is above its last.
    #[error("'{0}' is an empty range of ports (the first must not be above the last)")]
    EmptyRange(String),
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
    /// `[::1]:8080`, `localhost:8080`, `tcp:[::1]:8080` — every port form
    /// also with a range, `tcp:8000-8100` —, `unix:/run/x.sock`,
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
                let (addr, ports) = address_and_ports(rest, text)?;
                return Ok(Spec::Port {
                    protocol: Some(protocol),
                    addr,
                    ports,
                });
            }
        }
        if let Some(rest) = text.strip_prefix(':') {
            return Ok(Spec::Port {
                protocol: None,
                addr: None,
                ports: parse_ports(rest, text)?,
            });
        }
        if text.starts_with('[') || looks_like_host_port(text) {
            let (addr, ports) = address_and_ports(text, text)?;
            return Ok(Spec::Port {
                protocol: None,
                addr,
                ports,
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
/// its own error) and a port of digits (or a range, digits-digits).
fn looks_like_host_port(text: &str) -> bool {
    text.split_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && !port.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && port.bytes().all(|b| b.is_ascii_digit() || b == b'-')
    })
}

fn parse_port(text: &str, whole: &str) -> Result<u16, SpecError> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(SpecError::BadPort(whole.to_string())),
    }
}

/// `8080` or `8000-8100`: one port, or a range of them (first to last,
/// both included).
fn parse_ports(text: &str, whole: &str) -> Result<std::ops::RangeInclusive<u16>, SpecError> {
    let Some((first, last)) = text.split_once('-') else {
        let port = parse_port(text, whole)?;
        return Ok(port..=port);
    };
    let (first, last) = (parse_port(first, whole)?, parse_port(last, whole)?);
    if first > last {
        return Err(SpecError::EmptyRange(whole.to_string()));
    }
    Ok(first..=last)
}

/// `8080`, `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`, each also with
/// a range of ports.
fn address_and_ports(text: &str, whole: &str) -> Result<(Option<LocalAddr>, std::ops::RangeInclusive<u16>), SpecError> {
    if let Some(rest) = text.strip_prefix('[') {
        let (addr, ports) = rest
            .split_once("]:")
            .ok_or_else(|| SpecError::BadAddress(whole.to_string()))?;
        let addr: IpAddr = addr.parse().map_err(|_| SpecError::BadAddress(whole.to_string()))?;
        return Ok((Some(LocalAddr::Ip(addr)), parse_ports(ports, whole)?));
    }
    match text.rsplit_once(':') {
        Some((host, ports)) => {
            let addr = host.parse().map_err(|_| bad_host(host, whole))?;
            Ok((Some(addr), parse_ports(ports, whole)?))
        }
        None => Ok((None, parse_ports(text, whole)?)),
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
    /// Whether `socket` is what this spec names: the same protocol, a local
    /// port in the range, on the address asked for or a wildcard that
    /// covers it. Pure.
    pub fn matches_socket(&self, socket: &Socket) -> bool {
        match self {
            Spec::Port { protocol, addr, ports } => {
                let protocol_ok = match protocol {
                    Some(p) => socket.protocol == *p,
                    None => socket.protocol != Protocol::Unix,
                };
                let Some(local) = socket.local else { return false };
                let addr_ok = addr.is_none_or(|want| want.covered_by(local.ip()));
                protocol_ok && ports.contains(&local.port()) && addr_ok
            }
            Spec::Unix { name } => socket.protocol == Protocol::Unix && socket.path.as_deref() == Some(name.as_str()),
            Spec::Path(_) => false,
        }
    }

    pub(super) fn selection(&self) -> Selection {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::holders::inet;
    use crate::resources::sockets::SocketState;

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
                ports: 8080..=8080
            })
        );
        assert_eq!(
            spec("udp:53"),
            Ok(Spec::Port {
                protocol: Some(Protocol::Udp),
                addr: None,
                ports: 53..=53
            })
        );
        assert_eq!(
            spec(":8080"),
            Ok(Spec::Port {
                protocol: None,
                addr: None,
                ports: 8080..=8080
            })
        );
        assert_eq!(
            spec("127.0.0.1:8080"),
            Ok(Spec::Port {
                protocol: None,
                addr: Some("127.0.0.1".parse().unwrap()),
                ports: 8080..=8080
            })
        );
        assert_eq!(
            spec("[::1]:8080"),
            Ok(Spec::Port {
                protocol: None,
                addr: Some("::1".parse().unwrap()),
                ports: 8080..=8080
            })
        );
        assert_eq!(
            spec("tcp:[::1]:80"),
            Ok(Spec::Port {
                protocol: Some(Protocol::Tcp),
                addr: Some("::1".parse().unwrap()),
                ports: 80..=80
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
            ports: 80..=80,
        };
        assert_eq!(spec("TCP:80"), Ok(tcp80.clone()));
        assert_eq!(spec("Tcp:80"), Ok(tcp80));
        assert_eq!(spec("UNIX:@x"), Ok(Spec::Unix { name: "@x".into() }));
        let local = Spec::Port {
            protocol: None,
            addr: Some(LocalAddr::Loopback),
            ports: 80..=80,
        };
        assert_eq!(spec("localhost:80"), Ok(local.clone()));
        assert_eq!(spec("LOCALHOST:80"), Ok(local.clone()));
        assert_eq!(
            spec("udp:localhost:53"),
            Ok(Spec::Port {
                protocol: Some(Protocol::Udp),
                addr: Some(LocalAddr::Loopback),
                ports: 53..=53
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

    #[test]
    fn every_port_form_takes_a_range() {
        let range = |protocol, addr, first, last| {
            Ok(Spec::Port {
                protocol,
                addr,
                ports: first..=last,
            })
        };
        assert_eq!(spec("tcp:8000-8100"), range(Some(Protocol::Tcp), None, 8000, 8100));
        assert_eq!(spec("UDP:53-54"), range(Some(Protocol::Udp), None, 53, 54));
        assert_eq!(spec(":1-65535"), range(None, None, 1, 65535));
        let lo = Some(LocalAddr::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(spec("127.0.0.1:8000-8001"), range(None, lo, 8000, 8001));
        let v6 = Some(LocalAddr::Ip("::1".parse().unwrap()));
        assert_eq!(spec("tcp:[::1]:80-81"), range(Some(Protocol::Tcp), v6, 80, 81));
        assert_eq!(spec("localhost:80-80"), range(None, Some(LocalAddr::Loopback), 80, 80));
        assert_eq!(spec("tcp:9-8"), Err(SpecError::EmptyRange("tcp:9-8".into())));
        assert_eq!(spec("tcp:0-5"), Err(SpecError::BadPort("tcp:0-5".into())));
        assert_eq!(spec("tcp:80-"), Err(SpecError::BadPort("tcp:80-".into())));
        assert_eq!(spec("tcp:80-90-100"), Err(SpecError::BadPort("tcp:80-90-100".into())));
        let listener = inet(Protocol::Tcp, "0.0.0.0:8050", SocketState::Listen, 1);
        assert!(spec("tcp:8000-8100").unwrap().matches_socket(&listener));
        assert!(!spec("tcp:8000-8049").unwrap().matches_socket(&listener));
        assert!(!spec("udp:8000-8100").unwrap().matches_socket(&listener));
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
}
