//! A real Prometheus server scrapes `afterlife watch --prometheus` on
//! loopback and answers a query for the watched process's
//! `afterlife_process_open_fds` through its HTTP API.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Reaped, Scratch, afterlife};

fn prometheus_binary() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join("prometheus"))
        .find(|p| p.is_file())
}

/// A port nobody listens on now (bound to port 0, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().unwrap().port()
}

/// GET `path` from 127.0.0.1:`port`; the body, if the server answered.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

#[test]
fn prometheus_scrapes_and_answers_afterlife_process_open_fds() {
    let Some(prometheus) = prometheus_binary() else {
        println!("skipped: the prometheus binary is not installed (Debian package prometheus)");
        return;
    };
    let scratch = Scratch::new("watch-prometheus");
    // The watched process: a sleep with a fixed set of fds.
    let sleeper = Reaped(
        Command::new("sleep")
            .arg("120")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = sleeper.0.id();

    let mut watch = Reaped(
        afterlife()
            .args(["watch", "--interval", "200ms", "--prometheus", "127.0.0.1:0"])
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // afterlife says where it listens (port 0 picked a free one).
    let mut line = String::new();
    BufReader::new(watch.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("afterlife: serving Prometheus metrics on http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();

    let port = free_port();
    let config = scratch.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: afterlife\n    static_configs:\n      - targets: ['{address}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(scratch.path().join("prometheus.log")).unwrap();
    let _server = Reaped(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", scratch.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    // afterlife_process_open_fds{pid="N"}, URL-encoded.
    let query = format!("/api/v1/query?query=afterlife_process_open_fds%7Bpid%3D%22{pid}%22%7D");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    let answered = loop {
        if let Some(body) = http_get(port, &query)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&body)
        {
            let result = &json["data"]["result"][0];
            if let Some(value) = result["value"][1].as_str() {
                assert_eq!(result["metric"]["name"], "sleep", "{json}");
                assert_eq!(result["metric"]["job"], "afterlife");
                break Some(value.to_string());
            }
            last = Some(body);
        }
        if Instant::now() >= deadline {
            break None;
        }
        // Prometheus scrapes once a second; ask again a little later.
        std::thread::sleep(Duration::from_millis(250));
    };
    let log = std::fs::read_to_string(scratch.path().join("prometheus.log")).unwrap_or_default();
    let answered = answered.unwrap_or_else(|| panic!("no answer within 30 s; last reply {last:?}; log:\n{log}"));
    // Counted now: right after spawn returns, exec may still be closing
    // the O_CLOEXEC fds it inherited.
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    assert_eq!(answered, fds.to_string());
    // The verdicts are exported too: afterlife_leak{metric="fds"} is 0 for a
    // sleep (verdicts are refreshed every 2 s while exporting).
    let query = format!("/api/v1/query?query=afterlife_leak%7Bpid%3D%22{pid}%22%2Cmetric%3D%22fds%22%7D");
    let deadline = Instant::now() + Duration::from_secs(30);
    let leak = loop {
        let value = http_get(port, &query)
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .and_then(|json| json["data"]["result"][0]["value"][1].as_str().map(str::to_string));
        if value.is_some() || Instant::now() >= deadline {
            break value;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(leak.as_deref(), Some("0"));
    // The watch is still running (and so is the process it watches).
    assert!(watch.0.try_wait().unwrap().is_none());
}

/// Clients that connect and send nothing delay no scrape: four idle
/// connections stalled the endpoint (each held it for its 5 s read
/// timeout, one after another). Forty, more than are kept open at once,
/// leave it answering too.
#[test]
fn idle_connections_do_not_stall_a_scrape() {
    let sleeper = Reaped(
        Command::new("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut watch = Reaped(
        afterlife()
            .args(["watch", "--interval", "200ms", "--prometheus", "127.0.0.1:0"])
            .arg(sleeper.0.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(watch.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_suffix("/metrics")
        .and_then(|rest| rest.rsplit(':').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let mut idle = Vec::new();
    for count in [4, 40] {
        while idle.len() < count {
            idle.push(TcpStream::connect(("127.0.0.1", port)).unwrap());
        }
        // Let the server take them all before the scrape.
        std::thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        let body = http_get(port, "/metrics");
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "{count} idle: the scrape took {took:?}");
        let body = body.unwrap_or_else(|| panic!("{count} idle: no answer"));
        assert!(body.contains("# TYPE afterlife_process_open_fds gauge"), "{body}");
    }
    assert!(watch.0.try_wait().unwrap().is_none());
}
