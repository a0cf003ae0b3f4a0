//! An IPv6 listener bound to `::` with `IPV6_V6ONLY` takes no IPv4: it is
//! not what holds `127.0.0.1:PORT` (a v4 bind of that port succeeds), while
//! a dual-stack one is.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common;

use common::run_json;

const LISTENERS: &str = r#"
import socket, sys
ports = []
for v6only in (1, 0):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind(("::", 0))
    s.listen()
    ports.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ports), flush=True)
sys.stdin.read()
"#;

fn held(spec: &str) -> bool {
    let (code, report) = run_json(&["holds", spec]);
    assert!(matches!(code, Some(0 | 1)), "{spec}: {report}");
    code == Some(0)
}

#[test]
fn a_v6only_wildcard_holds_no_ipv4_port() {
    if !std::path::Path::new("/proc/net/if_inet6").exists() {
        println!("skipped: no IPv6 on this machine");
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", LISTENERS])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ports: Vec<&str> = line.split_whitespace().collect();
    let (v6only, dual) = (ports[0], ports[1]);
    let answers = [
        held(&format!("127.0.0.1:{v6only}")),
        held(&format!("[::1]:{v6only}")),
        held(&format!("localhost:{v6only}")),
        held(&format!("127.0.0.1:{dual}")),
    ];
    drop(child.stdin.take());
    let _ = child.wait();
    assert_eq!(
        answers,
        [false, true, true, true],
        "v4, v6, localhost on the v6only one; v4 on the dual-stack one"
    );
}
