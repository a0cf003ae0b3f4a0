//! `/metrics` in the Prometheus text exposition format (version 0.0.4), so
//! a fleet's Prometheus scrapes every host and alerts on leaks.
//!
//! The names follow the conventions of the client libraries' process
//! collectors and node_exporter (`process_open_fds`, `process_max_fds`,
//! `process_resident_memory_bytes`, `process_threads`); the rest are
//! afterlife's own, prefixed `afterlife_`. Every series is labelled by `pid`
//! and `name`; label values are escaped as the format requires (`\\`,
//! `\"`, `\n`).
//!
//! The server is a plain `std::net::TcpListener` on its own thread: one
//! request per connection, `GET /metrics` only, with read and write
//! timeouts so a stuck client cannot stall the next scrape. An HTTP crate
//! would bring an async runtime for a job that is a dozen lines.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::resources::fd::FdKind;
use crate::watch::sample::{Limits, Sample};
use crate::watch::series::MetricVerdict;

/// What is exported for one process.
#[derive(Debug, Clone)]
pub struct ProcessMetrics {
    /// The PID.
    pub pid: i32,
    /// Its name.
    pub name: String,
    /// The last sample.
    pub sample: Option<Sample>,
    /// Its limits.
    pub limits: Limits,
    /// Fds per kind.
    pub kinds: Vec<(FdKind, u64)>,
    /// The latest verdicts.
    pub verdicts: Vec<MetricVerdict>,
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

struct Family<'a> {
    name: &'a str,
    help: &'a str,
    lines: Vec<String>,
}

/// Renders the exposition text. Pure.
pub fn render(processes: &[ProcessMetrics]) -> String {
    let mut families: Vec<Family<'_>> = [
        ("process_open_fds", "Number of open file descriptors."),
        (
            "process_max_fds",
            "Maximum number of open file descriptors (soft RLIMIT_NOFILE).",
        ),
        ("process_resident_memory_bytes", "Resident memory size in bytes."),
        (
            "afterlife_process_pss_bytes",
            "Proportional set size in bytes (shared pages divided among their users).",
        ),
        ("afterlife_process_swap_bytes", "Swapped-out memory in bytes."),
        (
            "afterlife_process_memory_limit_bytes",
            "The smallest memory limit that applies (cgroup or RLIMIT_AS).",
        ),
        ("process_threads", "Number of OS threads in the process."),
        ("afterlife_process_children", "Number of direct child processes."),
        (
            "afterlife_process_open_fds_by_kind",
            "Number of open file descriptors by kind.",
        ),
        (
            "afterlife_trend_slope_per_second",
            "Theil-Sen slope of the metric per second over the watch.",
        ),
        (
            "afterlife_trend_confidence",
            "Mann-Kendall confidence (1 - p) that the metric grows.",
        ),
        ("afterlife_leak", "1 if the metric is judged to leak, else 0."),
    ]
    .into_iter()
    .map(|(name, help)| Family {
        name,
        help,
        lines: Vec::new(),
    })
    .collect();
    for p in processes {
        let labels = format!("pid=\"{}\",name=\"{}\"", p.pid, escape_label(&p.name));
        let mut push = |family: usize, extra: &str, value: f64| {
            let f = &mut families[family];
            f.lines.push(format!("{}{{{labels}{extra}}} {value}", f.name));
        };
        if let Some(s) = &p.sample {
            if let Some(fds) = s.fds {
                push(0, "", fds as f64);
            }
            push(2, "", s.rss_bytes as f64);
            if let Some(pss) = s.pss_bytes {
                push(3, "", pss as f64);
            }
            if let Some(swap) = s.swap_bytes {
                push(4, "", swap as f64);
            }
            push(6, "", s.threads as f64);
            push(7, "", s.children as f64);
        }
        if let Some(max) = p.limits.max_fds {
            push(1, "", max as f64);
        }
        if let Some(memory) = &p.limits.memory {
            push(5, &format!(",source=\"{}\"", memory.source), memory.bytes as f64);
        }
        for (kind, count) in &p.kinds {
            push(8, &format!(",kind=\"{}\"", kind.name()), *count as f64);
        }
        for v in &p.verdicts {
            let extra = format!(",metric=\"{}\"", escape_label(&v.metric));
            push(9, &extra, v.slope_per_second);
            push(10, &extra, v.confidence);
            push(11, &extra, if v.leaks() { 1.0 } else { 0.0 });
        }
    }
    let mut text = String::new();
    for f in &families {
        let _ = writeln!(text, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(text, "# TYPE {} gauge", f.name);
        for line in &f.lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// A running exporter.
#[derive(Debug, Clone)]
pub struct Exporter {
    address: SocketAddr,
    text: Arc<Mutex<String>>,
}

/// The exporter could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address} for Prometheus: {source}")]
pub struct ServeError {
    /// The address.
    pub address: String,
    /// The error.
    #[source]
    pub source: std::io::Error,
}

impl Exporter {
    /// Listens on `address` and serves `/metrics` from a thread.
    pub fn serve(address: &str) -> Result<Exporter, ServeError> {
        let listener = TcpListener::bind(address).map_err(|source| ServeError {
            address: address.to_string(),
            source,
        })?;
        let bound = listener.local_addr().map_err(|source| ServeError {
            address: address.to_string(),
            source,
        })?;
        let text = Arc::new(Mutex::new(render(&[])));
        let shared = Arc::clone(&text);
        std::thread::Builder::new()
            .name("prometheus".into())
            .spawn(move || {
                // A failed accept (ECONNABORTED, EMFILE) concerns one client;
                // keep serving the others.
                for stream in listener.incoming().flatten() {
                    let _ = answer(stream, &shared);
                }
            })
            .map_err(|source| ServeError {
                address: address.to_string(),
                source,
            })?;
        Ok(Exporter { address: bound, text })
    }

    /// The address actually bound (port 0 picks a free one).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Replaces what the next scrape sees.
    pub fn publish(&self, processes: &[ProcessMetrics]) {
        let text = render(processes);
        if let Ok(mut shared) = self.text.lock() {
            *shared = text;
        }
    }

    /// Replaces what the next scrape sees with text already in the
    /// exposition format (for metrics other than a watch's).
    pub fn publish_text(&self, text: String) {
        if let Ok(mut shared) = self.text.lock() {
            *shared = text;
        }
    }
}

fn answer(mut stream: TcpStream, text: &Mutex<String>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..n]);
    }
    let line = request.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            text.lock().map(|t| t.clone()).unwrap_or_default(),
        ),
        ("GET", _) => ("404 Not Found", "text/plain", "not found; try /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "text/plain", "only GET\n".to_string()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::sample::MemoryLimit;

    fn metrics() -> ProcessMetrics {
        ProcessMetrics {
            pid: 42,
            name: "we\"ird\\na\nme".to_string(),
            sample: Some(Sample {
                fds: Some(7),
                rss_bytes: 4096,
                rss_anon_bytes: 4096,
                rss_file_bytes: 0,
                rss_shmem_bytes: 0,
                pss_bytes: Some(2048),
                swap_bytes: Some(0),
                threads: 2,
                children: 1,
            }),
            limits: Limits {
                max_fds: Some(1024),
                memory: Some(MemoryLimit {
                    bytes: 1 << 30,
                    source: "cgroup_v2",
                    cgroup: None,
                    used_bytes: None,
                }),
            },
            kinds: vec![(FdKind::Socket, 4)],
            verdicts: Vec::new(),
        }
    }

    #[test]
    fn unread_pss_and_swap_are_left_out() {
        let mut m = metrics();
        if let Some(sample) = &mut m.sample {
            sample.pss_bytes = None;
            sample.swap_bytes = None;
        }
        let text = render(&[m]);
        assert!(text.contains("process_resident_memory_bytes{pid=\"42\""));
        assert!(!text.contains("afterlife_process_pss_bytes{"));
        assert!(!text.contains("afterlife_process_swap_bytes{"));
    }

    #[test]
    fn renders_conventional_names_with_escaped_labels() {
        let text = render(&[metrics()]);
        let labels = r#"pid="42",name="we\"ird\\na\nme""#;
        assert!(
            text.contains("# HELP process_open_fds Number of open file descriptors.\n# TYPE process_open_fds gauge\n")
        );
        assert!(text.contains(&format!("process_open_fds{{{labels}}} 7\n")), "{text}");
        assert!(text.contains(&format!("process_max_fds{{{labels}}} 1024\n")));
        assert!(text.contains(&format!("process_resident_memory_bytes{{{labels}}} 4096\n")));
        assert!(text.contains(&format!("process_threads{{{labels}}} 2\n")));
        assert!(text.contains(&format!(
            "afterlife_process_open_fds_by_kind{{{labels},kind=\"socket\"}} 4\n"
        )));
        assert!(text.contains(&format!(
            "afterlife_process_memory_limit_bytes{{{labels},source=\"cgroup_v2\"}} 1073741824\n"
        )));
        // Every sample line belongs to a family declared above it.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split('{').next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} gauge")), "{line}");
        }
    }

    #[test]
    fn serves_metrics_over_http() {
        let exporter = Exporter::serve("127.0.0.1:0").unwrap();
        exporter.publish(&[metrics()]);
        let get = |path: &str| {
            let mut stream = TcpStream::connect(exporter.address()).unwrap();
            write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        };
        let response = get("/metrics");
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.contains("process_open_fds{pid=\"42\""));
        assert!(get("/other").starts_with("HTTP/1.1 404"));
    }
}
