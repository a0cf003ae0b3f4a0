//! The alert rules and the Grafana dashboard in `contrib/prometheus/`:
//! the rules pass `promtool check rules` and their unit tests (`promtool
//! test rules`), and every metric the rules and the dashboard name is one
//! a running `watch --prometheus` serves, with the values a process has.

use crate::common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn contrib() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus")
}

fn promtool(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("promtool").args(args).current_dir(contrib()).output() {
        Ok(output) => Some(output),
        Err(e) => {
            println!("skipped: promtool cannot run ({e}); install Debian's prometheus");
            None
        }
    }
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let Some(check) = promtool(&["check", "rules", "afterlife.rules.yml"]) else {
        return;
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("SUCCESS: 4 rules found"), "{}", text(&check));
    let test = promtool(&["test", "rules", "rules_test.yml"]).unwrap();
    assert!(test.status.success(), "{}", text(&test));
}

/// Every `afterlife_*` metric name in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("afterlife_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        // Rule and alert names are CamelCase (AfterlifeLeak): not metrics.
        names.insert(name);
    }
    names
}

fn scrape(address: &str, method: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "{method} /metrics HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_rules_and_the_dashboard_name_only_metrics_watch_serves() {
    let rules = std::fs::read_to_string(contrib().join("afterlife.rules.yml")).unwrap();
    let dashboard = std::fs::read_to_string(contrib().join("afterlife-dashboard.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let exprs: Vec<String> = parsed["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");
    let mut wanted = metric_names(&rules);
    wanted.extend(exprs.iter().flat_map(|e| metric_names(e)));

    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let mut watch = common::afterlife()
        .args([
            "watch",
            "--interval",
            "100ms",
            "--duration",
            "30s",
            "--prometheus",
            "127.0.0.1:0",
        ])
        .arg(sleeper.id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(watch.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    // Served once the sleeper has been sampled asleep: a sample taken while
    // it still started (before its exec, or running) shows another name or
    // state until the next one.
    let served = |text: &str| {
        text.contains(&format!(
            "afterlife_process_state{{pid=\"{}\",name=\"sleep\",state=\"sleeping\"}} 1\n",
            sleeper.id()
        ))
    };
    let mut metrics = String::new();
    let ready = common::wait_until(std::time::Duration::from_secs(10), || {
        metrics = scrape(&address, "GET");
        served(&metrics)
    });
    let head = scrape(&address, "HEAD");
    let _ = watch.kill();
    let _ = watch.wait();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(ready, "{metrics}");
    for name in &wanted {
        assert!(
            metrics.contains(&format!("# TYPE {name} ")),
            "{name} is not served:\n{metrics}"
        );
    }
    // A sleeping process, its start time and its CPU time, as the
    // standard collector has them.
    let pid = sleeper.id();
    assert!(
        metrics.contains(&format!(
            "afterlife_process_state{{pid=\"{pid}\",name=\"sleep\",state=\"sleeping\"}} 1\n"
        )),
        "{metrics}"
    );
    for family in [
        "afterlife_process_cpu_seconds_total",
        "afterlife_process_start_time_seconds",
        "afterlife_process_virtual_memory_bytes",
        "afterlife_process_anonymous_memory_bytes",
    ] {
        assert!(
            metrics.contains(&format!("{family}{{pid=\"{pid}\",name=\"sleep\"}} ")),
            "no {family}:\n{metrics}"
        );
    }
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
}
