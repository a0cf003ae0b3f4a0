//! `afterlife holds` on real sockets: fork-shared listeners, dup'ed fds,
//! IPv6, UDP, unix sockets with paths and abstract names.

use crate::common;

use common::{Py, Scratch, run, run_json, stderr, stdout};
use serde_json::Value;

/// Holders of the sockets of one result as (pid, fd) pairs.
fn holders(report: &Value, index: usize) -> Vec<(i64, i64)> {
    let mut pairs: Vec<(i64, i64)> = report["results"][index]["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["holders"].as_array().unwrap().clone())
        .map(|h| (h["pid"].as_i64().unwrap(), h["fd"].as_i64().unwrap()))
        .collect();
    pairs.sort();
    pairs
}

fn holder(report: &Value, pid: i64) -> Value {
    report["results"][0]["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["holders"].as_array().unwrap().clone())
        .find(|h| h["pid"].as_i64() == Some(pid))
        .unwrap_or_else(|| panic!("no holder {pid} in {report}"))
}

#[test]
fn fork_shared_listener_names_parent_and_inheriting_child() {
    let py = Py::start(
        r#"
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
os.set_inheritable(s.fileno(), True)
child = fork(hold_forever)
report(port=s.getsockname()[1], fd=s.fileno(), child=child)
finish()
"#,
    );
    let port = py.num("port");
    let fd = py.num("fd");
    let child = py.num("child");
    let parent = py.pid() as i64;
    let spec = format!("tcp:{port}");
    let (code, report) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(holders(&report, 0), {
        let mut v = vec![(parent, fd), (child, fd)];
        v.sort();
        v
    });
    let socket = &report["results"][0]["sockets"][0]["socket"];
    assert_eq!(socket["state"], "listen");
    assert_eq!(socket["local"], format!("127.0.0.1:{port}"));
    let c = holder(&report, child);
    assert_eq!(c["ppid"].as_i64(), Some(parent));
    assert_eq!(c["cloexec"], false);
    assert_eq!(c["access"], "read_write");
    let origins = c["origins"].as_array().unwrap();
    assert!(
        origins
            .iter()
            .any(|o| o["kind"] == "inherited" && o["parent"].as_i64() == Some(parent))
    );
    assert!(origins.iter().any(|o| o["kind"] == "no_cloexec"));
    let p = holder(&report, parent);
    assert!(
        !p["origins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "inherited")
    );

    let output = run(&["holds", &spec]);
    let text = stdout(&output);
    assert!(
        text.contains(&format!("inherited: its parent {parent} (python3) holds the same")),
        "{text}"
    );
    assert!(
        text.contains("this fd lacks O_CLOEXEC: every program this process starts inherits it"),
        "{text}"
    );
}

#[test]
fn a_socket_passed_to_a_child_is_not_said_to_be_inherited() {
    // The child is forked before the socket exists and receives it with
    // SCM_RIGHTS, at another fd number than its parent's.
    let py = Py::start(
        r#"
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
def receive():
    a.close()
    msg, fds, flags, addr = socket.recv_fds(b, 16, 1)
    os.dup2(fds[0], 9)
    hold_forever()
child = fork(receive)
b.close()
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
socket.send_fds(a, [b"x"], [s.fileno()])
time.sleep(0.3)
report(port=s.getsockname()[1], fd=s.fileno(), child=child)
finish()
"#,
    );
    let port = py.num("port");
    let child = py.num("child");
    let parent = py.pid() as i64;
    let (code, report) = run_json(&["holds", &format!("tcp:{port}")]);
    assert_eq!(code, Some(0), "{report}");
    let c = holder(&report, child);
    let origins = c["origins"].as_array().unwrap();
    assert!(!origins.iter().any(|o| o["kind"] == "inherited"), "{c}");
    assert!(
        origins.iter().any(|o| o["kind"] == "shared_with_parent"
            && o["parent"].as_i64() == Some(parent)
            && o["parent_fd"].as_i64() == Some(py.num("fd"))),
        "{c}"
    );
}

#[test]
fn dup_ipv6_and_udp_and_any_protocol() {
    let py = Py::start(
        r#"
t = socket.socket(socket.AF_INET6); t.bind(("::1", 0)); t.listen()
port = t.getsockname()[1]
d = os.dup(t.fileno())
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::1", port))
report(port=port, tcp=t.fileno(), dup=d, udp=u.fileno())
finish()
"#,
    );
    let me = py.pid() as i64;
    let port = py.num("port");
    let (tcp_fd, dup_fd, udp_fd) = (py.num("tcp"), py.num("dup"), py.num("udp"));
    let (code, report) = run_json(&[
        "holds",
        &format!("[::1]:{port}"),
        &format!("udp:{port}"),
        &format!(":{port}"),
    ]);
    assert_eq!(code, Some(0));
    let mut both = vec![(me, tcp_fd), (me, dup_fd), (me, udp_fd)];
    both.sort();
    assert_eq!(holders(&report, 0), both);
    assert_eq!(holders(&report, 1), vec![(me, udp_fd)]);
    assert_eq!(holders(&report, 2), both);
    let dup = report["results"][0]["sockets"][0]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["fd"].as_i64() == Some(dup_fd))
        .cloned()
        .unwrap();
    // os.dup makes a non-inheritable copy (O_CLOEXEC).
    assert_eq!(dup["cloexec"], true);
    // 127.0.0.1 is not ::1.
    let (code, _) = run_json(&["holds", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, Some(1));
}

#[test]
fn ipv4_and_ipv6_listeners_on_one_port_both_named_ipv4_first() {
    // The kernel gives both families in one dump; the report keeps IPv4
    // first, as it always listed them.
    let py = Py::start(
        r#"
s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 0)); s6.listen()
port = s6.getsockname()[1]
s4 = socket.socket(); s4.bind(("127.0.0.1", port)); s4.listen()
report(port=port, v4=s4.fileno(), v6=s6.fileno())
finish()
"#,
    );
    let me = py.pid() as i64;
    let port = py.num("port");
    let (code, report) = run_json(&["holds", &format!("tcp:{port}")]);
    assert_eq!(code, Some(0), "{report}");
    let sockets = report["results"][0]["sockets"].as_array().unwrap();
    let locals: Vec<&str> = sockets.iter().map(|s| s["socket"]["local"].as_str().unwrap()).collect();
    assert_eq!(
        locals,
        vec![format!("127.0.0.1:{port}"), format!("[::1]:{port}")],
        "{report}"
    );
    let fds: Vec<(i64, i64)> = sockets
        .iter()
        .map(|s| {
            (
                s["holders"][0]["pid"].as_i64().unwrap(),
                s["holders"][0]["fd"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(fds, vec![(me, py.num("v4")), (me, py.num("v6"))]);
}

#[test]
fn unix_sockets_by_path_and_abstract_name() {
    let scratch = Scratch::new("holds-unix");
    let path = scratch.path().join("x.sock");
    let abstract_name = format!("afterlife-test-{}", std::process::id());
    let py = Py::start(&format!(
        r#"
a = socket.socket(socket.AF_UNIX); a.bind({path:?}); a.listen()
b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); b.bind("\0" + {abstract_name:?})
report(path_fd=a.fileno(), abstract_fd=b.fileno())
finish()
"#,
        path = path.to_str().unwrap()
    ));
    let me = py.pid() as i64;
    let spec = format!("unix:{}", path.display());
    let (code, report) = run_json(&[
        "holds",
        &spec,
        &format!("unix:@{abstract_name}"),
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(holders(&report, 0), vec![(me, py.num("path_fd"))]);
    assert_eq!(report["results"][0]["sockets"][0]["socket"]["unix_type"], "stream");
    assert_eq!(holders(&report, 1), vec![(me, py.num("abstract_fd"))]);
    assert_eq!(
        report["results"][1]["sockets"][0]["socket"]["path"],
        format!("@{abstract_name}")
    );
    // A path that is a socket file is looked up as that unix socket.
    assert_eq!(holders(&report, 2), vec![(me, py.num("path_fd"))]);
}

#[test]
fn a_relative_unix_path_is_taken_under_the_current_directory() {
    let scratch = Scratch::new("holds-unix-relative");
    // getcwd(3) gives the directory without symbolic links: so is the
    // path the socket is bound to.
    let dir = scratch.path().canonicalize().unwrap();
    let py = Py::start(&format!(
        r#"
a = socket.socket(socket.AF_UNIX); a.bind({path:?}); a.listen()
report(fd=a.fileno())
finish()
"#,
        path = dir.join("rel.sock").to_str().unwrap()
    ));
    let output = common::afterlife()
        .current_dir(&dir)
        .args(["--json", "holds", "unix:rel.sock", "unix:./rel.sock", "rel.sock"])
        .output()
        .unwrap();
    let report = common::schema::parse("holds", &stdout(&output));
    assert_eq!(output.status.code(), Some(0), "{report}");
    for index in 0..3 {
        assert_eq!(
            holders(&report, index),
            vec![(py.pid() as i64, py.num("fd"))],
            "{report}"
        );
    }
    // The result keeps the SPEC as it was written.
    assert_eq!(report["results"][0]["spec"], "unix:rel.sock");
}

#[test]
fn a_port_nothing_holds_exits_one() {
    let port = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let output = run(&["holds", &format!("udp:{port}")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("nothing holds it"));
}

#[test]
fn bad_specs_fail_with_one_line() {
    for (spec, want) in [
        ("tcp:0", "'tcp:0' is not a port"),
        ("8080", "is ambiguous"),
        ("[::1]8080", "is not an IP address"),
        ("/no/such/path/here", "cannot examine /no/such/path/here"),
    ] {
        let output = run(&["holds", spec]);
        assert_eq!(output.status.code(), Some(125), "{spec}");
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("afterlife: error: ") && err.contains(want), "{err}");
    }
    let output = run(&["holds"]);
    assert_eq!(output.status.code(), Some(125));
}

/// A `unix:` path with no socket file here is matched by the name a socket
/// was bound by — but not a socket bound by that name in a chroot, whose
/// file is under its root: asked by its real path, it is named.
#[test]
fn a_socket_bound_in_a_chroot_is_not_taken_for_the_same_name_here() {
    if !common::is_root() {
        println!("skipped: chroot needs root");
        return;
    }
    let scratch = common::Scratch::new("holds-chroot");
    let name = format!("/afterlife-test-chroot-{}.sock", std::process::id());
    let mut py = common::Py::start(&format!(
        r#"
os.chroot({jail:?}); os.chdir("/")
u = socket.socket(socket.AF_UNIX); u.bind({name:?}); u.listen()
report(ready=1)
finish()
"#,
        jail = scratch.path().to_str().unwrap()
    ));
    assert!(!std::path::Path::new(&name).exists());
    let (code, report) = common::run_json(&["holds", &format!("unix:{name}")]);
    assert_eq!(code, Some(1), "{report:#}");
    assert!(
        report["results"][0]["sockets"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    let real = scratch.path().join(name.trim_start_matches('/'));
    let (code, report) = common::run_json(&["holds", &format!("unix:{}", real.display())]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        report["results"][0]["sockets"][0]["holders"][0]["pid"],
        py.pid(),
        "{report:#}"
    );
    py.finish();
}
