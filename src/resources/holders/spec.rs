//! Which sockets a SPEC ([`crate::holds_spec`], shared with Windows) names
//! among sock_diag's, and which socket tables it needs.

pub use crate::holds_spec::{LocalAddr, Spec, SpecError};
use crate::resources::sockets::{Protocol, Selection, Socket};

impl Spec {
    /// Whether `socket` is what this spec names: the same protocol, a local
    /// port in the range, on the address asked for or a wildcard that
    /// covers it. Pure.
    pub fn matches_socket(&self, socket: &Socket) -> bool {
        match self {
            Spec::Port { .. } => socket
                .local
                .is_some_and(|local| self.names_port(socket.protocol, local, socket.v6only)),
            Spec::Unix { name } => {
                socket.protocol == Protocol::Unix && socket.path.as_deref().is_some_and(|bound| names_unix(name, bound))
            }
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

/// Whether `name`, as typed after `unix:`, names the socket bound as
/// `bound`: the same path, or for an abstract name (`@...`) the text
/// afterlife shows for it. An abstract name may hold any byte, a NUL
/// included, which no argument can carry: `@ab\x00cd` as shown asks for
/// it, and `@ab\\x00cd` for a name with a backslash there. Pure.
fn names_unix(name: &str, bound: &str) -> bool {
    if !name.starts_with('@') {
        return name == bound;
    }
    // Text with an escape afterlife writes (`\x00`, `\n`, `\\`) asks for
    // what it shows so, and only that: `@ij\x00kl` is the name with a NUL,
    // not the one with a backslash there (shown `@ij\\x00kl`).
    crate::text::escape(bound) == name || (name == bound && !holds_an_escape(name))
}

/// Whether `text` holds one of the escapes [`crate::text::escape`] writes,
/// whole: a backslash before `\`, `n`, `t`, `r` or `e`, before `x` and two
/// hex digits, or before `u{`. Pure.
fn holds_an_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        let rest = &bytes[i + 1..];
        b == b'\\'
            && match rest.first() {
                Some(b'\\' | b'n' | b't' | b'r' | b'e') => true,
                Some(b'x') => rest.len() >= 3 && rest[1..3].iter().all(u8::is_ascii_hexdigit),
                Some(b'u') => rest.get(1) == Some(&b'{'),
                _ => false,
            }
    })
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
    fn an_abstract_name_is_asked_for_as_it_is_shown() {
        let mut socket = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::Listen, 1);
        socket.protocol = Protocol::Unix;
        socket.local = None;
        socket.path = Some("@ab\0cd\n".into());
        assert!(spec("unix:@ab\\x00cd\\n").unwrap().matches_socket(&socket));
        assert!(!spec("unix:@ab").unwrap().matches_socket(&socket));
        socket.path = Some("@a\\b".into());
        assert!(spec("unix:@a\\b").unwrap().matches_socket(&socket));
        assert!(spec("unix:@a\\\\b").unwrap().matches_socket(&socket));
        // A name with a backslash where another has a NUL: each is asked
        // for as shown, and `\x00` is the NUL.
        socket.path = Some("@ij\\x00kl".into());
        assert!(!spec("unix:@ij\\x00kl").unwrap().matches_socket(&socket));
        assert!(spec("unix:@ij\\\\x00kl").unwrap().matches_socket(&socket));
        socket.path = Some("@ij\0kl".into());
        assert!(spec("unix:@ij\\x00kl").unwrap().matches_socket(&socket));
        // A backslash that begins no whole escape is itself.
        for raw in ["@a\\", "@a\\xyz", "@a\\q"] {
            socket.path = Some(raw.into());
            assert!(spec(&format!("unix:{raw}")).unwrap().matches_socket(&socket), "{raw}");
        }
        // A path is matched as it is: it holds no NUL.
        socket.path = Some("/tmp/a\nb".into());
        assert!(!spec("unix:/tmp/a\\nb").unwrap().matches_socket(&socket));
        assert!(spec("unix:/tmp/a\nb").unwrap().matches_socket(&socket));
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
