//! SPECs: what `holds` is asked about (a port, a unix socket, a path), as
//! users type them, and which local addresses a port SPEC covers. Pure and
//! OS-neutral: Linux matches them against sock_diag's sockets, Windows
//! against the IP Helper's tables.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP over IPv4 or IPv6.
    Tcp,
    /// UDP over IPv4 or IPv6.
    Udp,
    /// A unix domain socket.
    Unix,
}

impl Protocol {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Unix => "unix",
        }
    }
}

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
    /// same address, or a wildcard that covers it (`::` covers IPv4 too,
    /// unless the socket is `v6only`). Pure.
    pub(crate) fn covered_by(self, local: IpAddr, v6only: bool) -> bool {
        // 0.0.0.0 covers IPv4; :: covers IPv6, and IPv4 unless v6only.
        let wildcard = |want_v4: bool| {
            local.is_unspecified()
                && match local {
                    IpAddr::V4(_) => want_v4,
                    IpAddr::V6(_) => !(want_v4 && v6only),
                }
        };
        match self {
            LocalAddr::Ip(want) => local == want || wildcard(want.is_ipv4()) || mapped_v4(local) == Some(want),
            LocalAddr::Loopback => {
                local.is_loopback() || local.is_unspecified() || mapped_v4(local).is_some_and(|v4| v4.is_loopback())
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
    /// A `unix:` name that is not UTF-8: names are matched as text.
    #[error(
        "'{0}' is not UTF-8: give the socket file's path without unix: (its holders are found by device and inode)"
    )]
    UnixNotUtf8(String),
}

impl Spec {
    /// This SPEC with a relative `unix:` path made absolute under `cwd`
    /// (`.` and `..` taken lexically, as the path is written), as the bare
    /// path form is: the kernel records the path a socket was bound to,
    /// which is absolute unless the binder gave a relative one. An
    /// abstract name (`@x`) or an absolute path is kept. Pure.
    pub fn with_unix_path_under(self, cwd: &std::path::Path) -> Spec {
        match self {
            Spec::Unix { name } if !name.starts_with('/') && !name.starts_with('@') => {
                // Joined as the kernel writes socket paths, with `/` on any
                // host (a `Path` join would use `\` on Windows).
                let joined = format!("{}/{name}", cwd.to_string_lossy());
                let mut parts: Vec<&str> = Vec::new();
                for part in joined.split('/') {
                    match part {
                        "" | "." => {}
                        ".." => {
                            parts.pop();
                        }
                        other => parts.push(other),
                    }
                }
                Spec::Unix {
                    name: format!("/{}", parts.join("/")),
                }
            }
            other => other,
        }
    }
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

impl Spec {
    /// Parses a SPEC as the OS gave it. Text that is not UTF-8 (a file
    /// name is any bytes but `/` and NUL) can only be a path: every other
    /// form is ASCII but a `unix:` name, which is matched as text and
    /// refused then. Pure.
    pub fn parse_os(text: &std::ffi::OsStr) -> Result<Spec, SpecError> {
        if let Some(text) = text.to_str() {
            return text.parse();
        }
        // The replacement characters keep every ASCII form apart from a
        // path (`tcp:`, `[`, `:`), and none of them holds one.
        let lossy = text.to_string_lossy();
        match lossy.parse()? {
            Spec::Path(_) => Ok(Spec::Path(PathBuf::from(text))),
            _ => Err(SpecError::UnixNotUtf8(lossy.into_owned())),
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// `HOST:PORT`: a host of letters, digits, dots and dashes (an IPv4
/// address, `localhost`, or a name or number that is neither, which gets
/// its own error) and a port of digits (or a range, digits-digits). An IPv4
/// address or `localhost` before the colon makes an address whatever
/// follows (`127.0.0.1:`, `localhost:http`), refused for its port rather
/// than looked up as a file.
fn looks_like_host_port(text: &str) -> bool {
    text.split_once(':').is_some_and(|(host, port)| {
        host.parse::<LocalAddr>().is_ok()
            || !host.is_empty()
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
    /// Whether a TCP or UDP socket of `protocol` bound to `local` is what
    /// this spec names: the same protocol, a port in the range, on the
    /// address asked for or a wildcard that covers it (an IPv6 wildcard
    /// covers IPv4 unless the socket is `v6only`). Pure.
    pub fn names_port(&self, protocol: Protocol, local: SocketAddr, v6only: bool) -> bool {
        let Spec::Port {
            protocol: want,
            addr,
            ports,
        } = self
        else {
            return false;
        };
        let protocol_ok = match want {
            Some(p) => protocol == *p,
            None => protocol != Protocol::Unix,
        };
        protocol_ok && ports.contains(&local.port()) && addr.is_none_or(|want| want.covered_by(local.ip(), v6only))
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

    fn spec(text: &str) -> Result<Spec, SpecError> {
        text.parse()
    }

    #[cfg(unix)]
    #[test]
    fn text_that_is_not_utf8_is_a_path_or_refused() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let os = |bytes: &[u8]| Spec::parse_os(OsStr::from_bytes(bytes));
        assert_eq!(
            os(b"/tmp/bad\xff.sock"),
            Ok(Spec::Path(PathBuf::from(OsStr::from_bytes(b"/tmp/bad\xff.sock"))))
        );
        assert_eq!(
            os(b"tcp:80"),
            Ok(Spec::Port {
                protocol: Some(Protocol::Tcp),
                addr: None,
                ports: 80..=80
            })
        );
        assert!(matches!(os(b"unix:/tmp/\xff"), Err(SpecError::UnixNotUtf8(_))));
        assert!(matches!(os(b"UNIX:@\xfe"), Err(SpecError::UnixNotUtf8(_))));
        assert!(matches!(os(b"tcp:\xff"), Err(SpecError::BadPort(_))));
        assert!(matches!(os(b":8\xff"), Err(SpecError::BadPort(_))));
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
        // A relative unix: path is made absolute under the working
        // directory, as a bare path is; abstract and absolute names stay.
        let under = |text: &str| spec(text).map(|s| s.with_unix_path_under(std::path::Path::new("/srv/app")));
        let unix = |name: &str| Ok(Spec::Unix { name: name.into() });
        assert_eq!(under("unix:rel.sock"), unix("/srv/app/rel.sock"));
        assert_eq!(under("unix:./run/x.sock"), unix("/srv/app/run/x.sock"));
        assert_eq!(under("unix:../x.sock"), unix("/srv/x.sock"));
        assert_eq!(under("unix:@abs"), unix("@abs"));
        assert_eq!(under("unix:/run/x.sock"), unix("/run/x.sock"));
        assert_eq!(under("rel.sock"), Ok(Spec::Path("rel.sock".into())));
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
        // An address with no port, or a port that is not digits, is an
        // address all the same: never a file to look for.
        for text in ["127.0.0.1:", "localhost:", "LOCALHOST:http", "10.0.0.1:x"] {
            assert_eq!(spec(text), Err(SpecError::BadPort(text.into())), "{text}");
        }
        // A file whose name looks like HOST:PORT is written as a path.
        assert_eq!(spec("./example.com:80"), Ok(Spec::Path("./example.com:80".into())));
        assert_eq!(spec("notes:draft"), Ok(Spec::Path("notes:draft".into())));
    }

    #[test]
    fn port_specs_name_a_protocol_a_port_and_an_address() {
        let bound = |text: &str| text.parse::<SocketAddr>().unwrap();
        let tcp = spec("tcp:8080").unwrap();
        assert!(tcp.names_port(Protocol::Tcp, bound("0.0.0.0:8080"), false));
        assert!(!tcp.names_port(Protocol::Udp, bound("0.0.0.0:8080"), false));
        assert!(!tcp.names_port(Protocol::Tcp, bound("0.0.0.0:8081"), false));
        let any = spec(":53").unwrap();
        assert!(any.names_port(Protocol::Udp, bound("[::1]:53"), false));
        assert!(!any.names_port(Protocol::Unix, bound("[::1]:53"), false));
        let v6 = spec("[::1]:80").unwrap();
        // A v6only wildcard takes no IPv4: 127.0.0.1:80 is not its.
        let v4 = spec("127.0.0.1:80").unwrap();
        assert!(v4.names_port(Protocol::Tcp, bound("[::]:80"), false));
        assert!(!v4.names_port(Protocol::Tcp, bound("[::]:80"), true));
        assert!(v4.names_port(Protocol::Tcp, bound("0.0.0.0:80"), false));
        assert!(
            spec("[::1]:80")
                .unwrap()
                .names_port(Protocol::Tcp, bound("[::]:80"), true)
        );
        assert!(
            spec("localhost:80")
                .unwrap()
                .names_port(Protocol::Tcp, bound("[::]:80"), true)
        );
        assert!(v6.names_port(Protocol::Tcp, bound("[::]:80"), false));
        assert!(!v6.names_port(Protocol::Tcp, bound("0.0.0.0:80"), false));
        assert!(
            spec("localhost:80")
                .unwrap()
                .names_port(Protocol::Tcp, bound("127.0.0.1:80"), false)
        );
        assert!(
            !spec("./x")
                .unwrap()
                .names_port(Protocol::Tcp, bound("127.0.0.1:80"), false)
        );
    }
}
