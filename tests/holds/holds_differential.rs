//! The holders of a port equal what `lsof -nP -i` and `ss -p` report on the
//! same machine state: fork-shared and dup'ed fds, IPv4 and IPv6, TCP and
//! UDP, an accepted connection, and a unix socket.

use crate::common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{Py, Scratch, run_json};

type Holders = BTreeSet<(i64, i64)>;

/// (pid, fd) pairs for sockets whose local port is `port`, from `lsof -F`.
fn lsof_holders(text: &str, protocol: &str, port: i64) -> Holders {
    let mut out = Holders::new();
    let (mut pid, mut fd, mut proto) = (0i64, -1i64, String::new());
    for line in text.lines() {
        let (tag, value) = line.split_at(1.min(line.len()));
        match tag {
            "p" => pid = value.parse().unwrap_or(0),
            "f" => fd = value.parse().unwrap_or(-1),
            "P" => proto = value.to_string(),
            "n" => {
                let local = value.split("->").next().unwrap_or("");
                let local_port = local.rsplit(':').next().and_then(|p| p.parse::<i64>().ok());
                if proto == protocol && local_port == Some(port) && fd >= 0 {
                    out.insert((pid, fd));
                }
            }
            _ => {}
        }
    }
    out
}

/// (pid, fd) pairs from the `users:((...))` column of `ss -p` lines whose
/// local address is `local` (a `:PORT` suffix or a unix path).
fn ss_holders(text: &str, netid: &str, matches_local: impl Fn(&str) -> bool) -> Holders {
    let mut out = Holders::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 || fields[0] != netid || !matches_local(fields[4]) {
            continue;
        }
        for user in line.split("pid=").skip(1) {
            let pid = user.split(',').next().and_then(|p| p.parse().ok());
            let fd = user
                .split("fd=")
                .nth(1)
                .and_then(|f| f.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|f| f.parse().ok());
            if let (Some(pid), Some(fd)) = (pid, fd) {
                out.insert((pid, fd));
            }
        }
    }
    out
}

fn ours(spec: &str) -> Holders {
    let (code, report) = run_json(&["holds", spec]);
    assert_eq!(code, Some(0), "{spec}: {report}");
    report["results"][0]["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["holders"].as_array().unwrap().clone())
        .map(|h| (h["pid"].as_i64().unwrap(), h["fd"].as_i64().unwrap()))
        .collect()
}

fn tool(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn holders_equal_lsof_and_ss() {
    let scratch = Scratch::new("holds-diff");
    let path = scratch.path().join("d.sock");
    let py = Py::start(&format!(
        r#"
t4 = socket.socket(); t4.bind(("127.0.0.1", 0)); t4.listen()
os.set_inheritable(t4.fileno(), True)
d4 = os.dup(t4.fileno())
t6 = socket.socket(socket.AF_INET6); t6.bind(("::1", 0)); t6.listen()
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4.bind(("127.0.0.1", 0))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::1", 0))
os.set_inheritable(u6.fileno(), True)
un = socket.socket(socket.AF_UNIX); un.bind({path:?}); un.listen()
os.set_inheritable(un.fileno(), True)
client = socket.create_connection(("::1", t6.getsockname()[1]))
accepted, _ = t6.accept()
kid1 = fork(hold_forever)
kid2 = fork(hold_forever)
report(t4=t4.getsockname()[1], t6=t6.getsockname()[1], u4=u4.getsockname()[1], u6=u6.getsockname()[1])
finish()
"#,
        path = path.to_str().unwrap()
    ));
    let lsof = tool("lsof", &["-nP", "-i", "-F", "pfPn"]);
    let ss_inet = tool("ss", &["-tuanpH"]);
    let ss_unix = tool("ss", &["-xanpH"]);
    for (protocol, key, netid) in [
        ("TCP", "t4", "tcp"),
        ("TCP", "t6", "tcp"),
        ("UDP", "u4", "udp"),
        ("UDP", "u6", "udp"),
    ] {
        let port = py.num(key);
        let spec = format!("{}:{port}", netid);
        let mine = ours(&spec);
        assert!(!mine.is_empty());
        let suffix = format!(":{port}");
        assert_eq!(mine, lsof_holders(&lsof, protocol, port), "{spec} vs lsof -nP -i");
        assert_eq!(
            mine,
            ss_holders(&ss_inet, netid, |local| local.ends_with(&suffix)),
            "{spec} vs ss -p"
        );
    }
    // The fork-shared listener: the parent's two fds and both children's.
    assert_eq!(ours(&format!("tcp:{}", py.num("t4"))).len(), 2 + 2 * 2);
    let unix_spec = format!("unix:{}", path.display());
    let mine = ours(&unix_spec);
    assert_eq!(mine.len(), 3, "the parent and both children");
    let want = path.to_str().unwrap().to_string();
    assert_eq!(
        mine,
        ss_holders(&ss_unix, "u_str", |local| local == want),
        "{unix_spec} vs ss -xp"
    );
}
