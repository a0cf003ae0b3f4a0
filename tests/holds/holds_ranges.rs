//! `afterlife holds` with a range of ports: every listener in the range is
//! found, in every port form (`tcp:`, `:`, `ADDR:`), and none outside it.

use crate::common;

use common::run_json;

#[test]
fn a_range_finds_every_listener_in_it_and_none_outside() {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (pa, pb) = (a.local_addr().unwrap().port(), b.local_addr().unwrap().port());
    let (low, high) = (pa.min(pb), pa.max(pb));
    for spec in [
        format!("tcp:{low}-{high}"),
        format!(":{low}-{high}"),
        format!("127.0.0.1:{low}-{high}"),
    ] {
        let (code, report) = run_json(&["holds", &spec]);
        assert_eq!(code, Some(0), "{spec}: {report}");
        let locals: Vec<String> = report["results"][0]["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["socket"]["local"].as_str().unwrap_or_default().to_string())
            .collect();
        for port in [pa, pb] {
            assert!(locals.contains(&format!("127.0.0.1:{port}")), "{spec}: {locals:?}");
        }
        for local in &locals {
            let port: u16 = local.rsplit(':').next().unwrap().parse().unwrap();
            assert!((low..=high).contains(&port), "{spec}: {local} is outside the range");
        }
    }
    // Just below the range: neither of them.
    if low > 1 {
        let (_, report) = run_json(&["holds", &format!("tcp:{}-{}", low - 1, low - 1)]);
        let text = report.to_string();
        assert!(
            !text.contains(&format!("127.0.0.1:{pa}\"")) && !text.contains(&format!("127.0.0.1:{pb}\"")),
            "{text}"
        );
    }
    // An empty range is bad input: one line, exit 125.
    let output = common::run(&["holds", &format!("tcp:{high}-{low}")]);
    if high > low {
        assert_eq!(output.status.code(), Some(125));
        assert!(
            common::stderr(&output).contains("is an empty range of ports"),
            "{}",
            common::stderr(&output)
        );
    }
}
