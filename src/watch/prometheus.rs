//! `/metrics` in the Prometheus text exposition format (version 0.0.4), so
//! a fleet's Prometheus scrapes every host and alerts on leaks.
//!
//! The names follow Prometheus' naming conventions: the unlabelled
//! `process_*` names of the client libraries' process collectors describe
//! an exporter's own process, so the series of the processes afterlife
//! watches live in its own namespace, `afterlife_process_*`, with the same
//! suffixes as the standard collector (`afterlife_process_open_fds`,
//! `afterlife_process_max_fds`, `afterlife_process_resident_memory_bytes`,
//! `afterlife_process_threads`); the verdicts are `afterlife_trend_*`,
//! `afterlife_leak` and `afterlife_time_to_limit_seconds`. On Windows the
//! handle count is `afterlife_process_windows_handle_count`, after
//! OpenTelemetry's `process.windows.handle.count` (a gauge: dots become
//! underscores, the `{handle}` unit annotation is dropped), private bytes
//! `afterlife_process_private_memory_bytes`, and the working set is the
//! resident memory family, as the client libraries' Windows collectors
//! have it. Which families an OS writes is its
//! sampler's ([`crate::watch::sample::FAMILIES`]). Every series is
//! labelled by `pid` and `name`; label values are escaped as the format
//! requires (`\\`, `\"`, `\n`).
//!
//! The server is a plain `std::net::TcpListener` on its own thread: one
//! request per connection, `GET` and `HEAD /metrics` only. Each connection
//! is answered on a thread of its own (a small stack), with a deadline for
//! the whole request and for the answer, so a client that connects and
//! sends nothing delays no other scrape; at most [`MAX_CONNECTIONS`] are
//! open at once, and a new one closes the oldest, so memory stays bounded
//! and a new scrape is always answered. An HTTP crate would bring an async
//! runtime for a job that is a few dozen lines.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::watch::sample::{FAMILIES, FdKind, Limits, Sample, StatFacts};
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
    /// CPU time, state and virtual memory, where read.
    pub stat: Option<StatFacts>,
    /// When it started, seconds since the epoch.
    pub started_at: Option<f64>,
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

/// A per-process metric family. Which families a watch writes, and in
/// which order, is its OS's ([`crate::watch::sample::FAMILIES`]). Their
/// names live in afterlife's own namespace: the unlabelled `process_*`
/// names of the client libraries describe an exporter's own process, and
/// would collide with a scrape of afterlife's own metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Open fds (Linux).
    OpenFds,
    /// Soft `RLIMIT_NOFILE` (Linux).
    MaxFds,
    /// RSS (Linux), working set (Windows).
    Resident,
    /// `RssAnon` (Linux).
    Anonymous,
    /// `RssShmem` (Linux).
    Shared,
    /// PSS (Linux).
    Pss,
    /// Swap (Linux).
    Swap,
    /// The memory limit that applies.
    MemoryLimit,
    /// Threads.
    Threads,
    /// Direct children (Linux).
    Children,
    /// Open fds by kind (Linux).
    FdsByKind,
    /// Theil–Sen slope per metric.
    Slope,
    /// Mann–Kendall confidence per metric.
    Confidence,
    /// Leak verdict per metric.
    Leak,
    /// Time to the limit per leaking metric.
    TimeToLimit,
    /// CPU time.
    Cpu,
    /// Start time.
    StartTime,
    /// Virtual memory size (Linux).
    VirtualMemory,
    /// The process state (Linux).
    State,
    /// Open handles (Windows): OpenTelemetry's `process.windows.handle.count`.
    WindowsHandleCount,
    /// Private bytes (Windows).
    PrivateMemory,
}

impl Family {
    /// How many families there are.
    const COUNT: usize = Family::PrivateMemory as usize + 1;

    /// The family's name and help text.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Family::OpenFds => ("afterlife_process_open_fds", "Number of open file descriptors."),
            Family::MaxFds => (
                "afterlife_process_max_fds",
                "Maximum number of open file descriptors (soft RLIMIT_NOFILE).",
            ),
            Family::Resident => (
                "afterlife_process_resident_memory_bytes",
                crate::watch::sample::RESIDENT_HELP,
            ),
            Family::Anonymous => (
                "afterlife_process_anonymous_memory_bytes",
                "Resident anonymous memory in bytes (RssAnon: heap, stacks; what leaks).",
            ),
            Family::Shared => (
                "afterlife_process_shared_memory_bytes",
                "Resident shared memory in bytes (RssShmem).",
            ),
            Family::Pss => (
                "afterlife_process_pss_bytes",
                "Proportional set size in bytes (shared pages divided among their users).",
            ),
            Family::Swap => ("afterlife_process_swap_bytes", "Swapped-out memory in bytes."),
            Family::MemoryLimit => (
                "afterlife_process_memory_limit_bytes",
                crate::watch::sample::MEMORY_LIMIT_HELP,
            ),
            Family::Threads => ("afterlife_process_threads", "Number of OS threads in the process."),
            Family::Children => ("afterlife_process_children", "Number of direct child processes."),
            Family::FdsByKind => (
                "afterlife_process_open_fds_by_kind",
                "Number of open file descriptors by kind.",
            ),
            Family::Slope => (
                "afterlife_trend_slope_per_second",
                "Theil-Sen slope of the metric per second over the watch.",
            ),
            Family::Confidence => (
                "afterlife_trend_confidence",
                "Mann-Kendall confidence (1 - p) that the metric grows.",
            ),
            Family::Leak => ("afterlife_leak", "1 if the metric is judged to leak, else 0."),
            Family::TimeToLimit => (
                "afterlife_time_to_limit_seconds",
                "Seconds until a leaking metric reaches its limit at its current slope.",
            ),
            Family::Cpu => (
                "afterlife_process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            ),
            Family::StartTime => (
                "afterlife_process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
            ),
            Family::VirtualMemory => (
                "afterlife_process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            ),
            Family::State => (
                "afterlife_process_state",
                "1 for the state the process is in (running, sleeping, uninterruptible_sleep, stopped, zombie, ...).",
            ),
            Family::WindowsHandleCount => (
                "afterlife_process_windows_handle_count",
                "Number of open handles (GetProcessHandleCount; OpenTelemetry process.windows.handle.count).",
            ),
            Family::PrivateMemory => (
                "afterlife_process_private_memory_bytes",
                "Private bytes: memory committed to the process alone (PrivateUsage; what leaks).",
            ),
        }
    }
}

struct Written {
    name: &'static str,
    help: &'static str,
    lines: Vec<String>,
}

/// Renders the exposition text. Pure.
pub fn render(processes: &[ProcessMetrics]) -> String {
    let mut families: Vec<Written> = FAMILIES
        .iter()
        .map(|family| {
            let (name, help) = family.describe();
            Written {
                name,
                help,
                lines: Vec::new(),
            }
        })
        .collect();
    // Where each family is written, if this OS writes it.
    let mut slot = [None; Family::COUNT];
    for (index, family) in FAMILIES.iter().enumerate() {
        slot[*family as usize] = Some(index);
    }
    for p in processes {
        let labels = format!("pid=\"{}\",name=\"{}\"", p.pid, escape_label(&p.name));
        let mut push = |family: Family, extra: &str, value: f64| {
            if let Some(index) = slot[family as usize] {
                let f = &mut families[index];
                f.lines.push(format!("{}{{{labels}{extra}}} {value}", f.name));
            }
        };
        if let Some(s) = &p.sample {
            s.export(&mut push);
        }
        if let Some(max) = p.limits.max_fds {
            push(Family::MaxFds, "", max as f64);
        }
        if let Some(memory) = &p.limits.memory {
            push(
                Family::MemoryLimit,
                &format!(",source=\"{}\"", memory.source),
                memory.bytes as f64,
            );
        }
        if let Some(stat) = &p.stat {
            stat.export(&mut push);
        }
        if let Some(started) = p.started_at {
            push(Family::StartTime, "", started);
        }
        for (kind, count) in &p.kinds {
            push(Family::FdsByKind, &format!(",kind=\"{}\"", kind.name()), *count as f64);
        }
        for v in &p.verdicts {
            let extra = format!(",metric=\"{}\"", escape_label(&v.metric));
            push(Family::Slope, &extra, v.slope_per_second);
            push(Family::Confidence, &extra, v.confidence);
            push(Family::Leak, &extra, if v.leaks() { 1.0 } else { 0.0 });
            if let Some(seconds) = v.time_to_limit_seconds {
                push(Family::TimeToLimit, &extra, seconds);
            }
        }
    }
    let mut text = String::new();
    for f in &families {
        let _ = writeln!(text, "# HELP {} {}", f.name, f.help);
        let kind = if f.name.ends_with("_total") { "counter" } else { "gauge" };
        let _ = writeln!(text, "# TYPE {} {kind}", f.name);
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
            .spawn(move || accept_loop(&listener, &shared))
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

/// Connections answered at once; a new one beyond closes the oldest.
pub const MAX_CONNECTIONS: usize = 32;

/// How long a client has to send its request, and to take the answer.
const CLIENT_DEADLINE: Duration = Duration::from_secs(5);

/// The connections being answered: an ID and a handle to shut each down.
type Open = Arc<Mutex<VecDeque<(u64, TcpStream)>>>;

/// Accepts for ever, each connection answered on a thread of its own.
fn accept_loop(listener: &TcpListener, text: &Arc<Mutex<String>>) {
    let open: Open = Arc::default();
    // A failed accept (ECONNABORTED, EMFILE) concerns one client; keep
    // serving the others.
    for (id, stream) in (0u64..).zip(listener.incoming().flatten()) {
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        if let Ok(mut open) = open.lock() {
            if open.len() >= MAX_CONNECTIONS
                && let Some((_, oldest)) = open.pop_front()
            {
                let _ = oldest.shutdown(Shutdown::Both);
            }
            open.push_back((id, handle));
        }
        let (text, mine) = (Arc::clone(text), Arc::clone(&open));
        let spawned = std::thread::Builder::new()
            .name("prometheus-client".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let _ = answer(stream, &text);
                forget(&mine, id);
            });
        if spawned.is_err() {
            forget(&open, id);
        }
    }
}

fn forget(open: &Open, id: u64) {
    if let Ok(mut open) = open.lock() {
        open.retain(|(other, _)| *other != id);
    }
}

/// Reads the request head (up to 16 KiB) until [`CLIENT_DEADLINE`] from
/// now: a client that sends a byte now and then gets no longer.
fn read_request(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + CLIENT_DEADLINE;
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..n]);
    }
    Ok(request)
}

fn answer(mut stream: TcpStream, text: &Mutex<String>) -> std::io::Result<()> {
    stream.set_write_timeout(Some(CLIENT_DEADLINE))?;
    let request = read_request(&mut stream)?;
    let line = request.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            text.lock().map(|t| t.clone()).unwrap_or_default(),
        ),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "not found; try /metrics\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET and HEAD\n".to_string(),
        ),
    };
    // HEAD: the headers GET would send, Content-Length included, no body.
    let length = body.len();
    let body = if method == "HEAD" { "" } else { body.as_str() };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}"
    )?;
    stream.flush()
}

// Built from Linux samples; the Windows families are tested beside the
// Windows sampler.
#[cfg(all(test, target_os = "linux"))]
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
                pss_read: true,
                swap_read: true,
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
            stat: Some(StatFacts {
                cpu_seconds: 1.5,
                state: crate::process::ProcessState::DiskSleep,
                virtual_memory_bytes: 8192,
            }),
            started_at: Some(1_700_000_000.25),
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
        assert!(text.contains(
            "# HELP afterlife_process_open_fds Number of open file descriptors.\n# TYPE afterlife_process_open_fds gauge\n"
        ));
        assert!(
            text.contains(&format!("\nafterlife_process_open_fds{{{labels}}} 7\n")),
            "{text}"
        );
        assert!(text.contains(&format!("\nafterlife_process_max_fds{{{labels}}} 1024\n")));
        assert!(text.contains(&format!("\nafterlife_process_resident_memory_bytes{{{labels}}} 4096\n")));
        assert!(text.contains(&format!(
            "\nafterlife_process_anonymous_memory_bytes{{{labels}}} 4096\n"
        )));
        assert!(text.contains(&format!("\nafterlife_process_threads{{{labels}}} 2\n")));
        assert!(text.contains("# TYPE afterlife_process_cpu_seconds_total counter\n"));
        assert!(text.contains(&format!("\nafterlife_process_cpu_seconds_total{{{labels}}} 1.5\n")));
        assert!(text.contains(&format!(
            "\nafterlife_process_start_time_seconds{{{labels}}} 1700000000.25\n"
        )));
        assert!(text.contains(&format!("\nafterlife_process_virtual_memory_bytes{{{labels}}} 8192\n")));
        assert!(text.contains(&format!(
            "\nafterlife_process_state{{{labels},state=\"uninterruptible_sleep\"}} 1\n"
        )));
        // The unlabelled process_* names are an exporter's own.
        assert!(!text.lines().any(|l| l.starts_with("process_")), "{text}");
        assert!(text.contains(&format!(
            "afterlife_process_open_fds_by_kind{{{labels},kind=\"socket\"}} 4\n"
        )));
        assert!(text.contains(&format!(
            "afterlife_process_memory_limit_bytes{{{labels},source=\"cgroup_v2\"}} 1073741824\n"
        )));
        // Every sample line belongs to a family declared above it.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split('{').next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} ")), "{line}");
        }
    }

    #[test]
    fn serves_metrics_over_http() {
        let exporter = Exporter::serve("127.0.0.1:0").unwrap();
        exporter.publish(&[metrics()]);
        let ask = |method: &str, path: &str| {
            let mut stream = TcpStream::connect(exporter.address()).unwrap();
            write!(stream, "{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        };
        let response = ask("GET", "/metrics");
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.contains("afterlife_process_open_fds{pid=\"42\""));
        assert!(ask("GET", "/other").starts_with("HTTP/1.1 404"));
        // HEAD: the same headers, the length of the body GET sends, no body.
        let head = ask("HEAD", "/metrics");
        let (headers, body) = head.split_once("\r\n\r\n").unwrap();
        assert!(headers.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        let length = response.split_once("\r\n\r\n").unwrap().1.len();
        assert!(headers.contains(&format!("Content-Length: {length}")), "{head}");
        assert_eq!(body, "");
        assert!(ask("POST", "/metrics").starts_with("HTTP/1.1 405"));
    }
}
