//! An IPv6 listener bound to `::` with `IPV6_V6ONLY` takes no IPv4: it is
//! not what holds `127.0.0.1:PORT` (a v4 bind of that port succeeds), while
//! a dual-stack one is.

use crate::common;

use common::{Py, run_json};

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
    let py = Py::start(
        r#"
def listener(v6only):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind(("::", 0))
    s.listen()
    return s
v6only, dual = listener(1), listener(0)
report(v6only=v6only.getsockname()[1], dual=dual.getsockname()[1])
finish()
"#,
    );
    let (v6only, dual) = (py.num("v6only"), py.num("dual"));
    let answers = [
        held(&format!("127.0.0.1:{v6only}")),
        held(&format!("[::1]:{v6only}")),
        held(&format!("localhost:{v6only}")),
        held(&format!("127.0.0.1:{dual}")),
    ];
    assert_eq!(
        answers,
        [false, true, true, true],
        "v4, v6, localhost on the v6only one; v4 on the dual-stack one"
    );
}
