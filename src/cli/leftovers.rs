//! `afterlife leftovers`: text and JSON rendering of
//! [`crate::resources::leftovers`].

use crate::cli::holds::human_bytes;
use crate::cli::output::{Output, Style, count};
use crate::cli::{Failure, LeftoversArgs, refuse_quiet_json};
use crate::exit_code;
use crate::observe::EndingReport;
use crate::resources::leftovers::{self, Attribution, GoneProcess, LeftoversReport};
use crate::resources::{Snapshot, holders::ProcessRef};
use crate::text::{escape, escape_controls};

/// The largest snapshot read: far above what a whole busy machine writes
/// (tens of MiB for thousands of processes), far below what could exhaust
/// memory. A file, pipe or device that goes on past it is refused.
pub const MAX_SNAPSHOT_BYTES: u64 = 256 << 20;

/// How long a FIFO (or a pipe named as `/dev/stdin`) is given to have a
/// writer: `open(2)` of a FIFO waits for one, for ever if none comes.
/// Once a writer holds it, it is read as long as the writer takes.
pub const FIFO_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) fn run(args: &LeftoversArgs, output: &Output) -> Result<u8, Failure> {
    refuse_quiet_json(args.quiet, output)?;
    let before = read_snapshot(&args.snapshot)?;
    // Nothing of another boot compares (PIDs, start times, IPC ids): no
    // verdict, not an empty one.
    let this_boot = crate::resources::snapshot::boot_id();
    if !leftovers::same_boot(&before.boot_id, &this_boot) {
        return Err(Failure::new(format!(
            "{} was taken in another boot (boot_id {}, now {this_boot}): its processes and objects cannot be compared",
            escape(&args.snapshot.to_string_lossy()),
            escape(&before.boot_id)
        )));
    }
    for dir in &args.dirs {
        if !dir.is_dir() {
            return Err(Failure::new(format!(
                "--dir {} is not a directory",
                escape(&dir.to_string_lossy())
            )));
        }
    }
    let report = leftovers::audit(&before, &args.dirs);
    if args.quiet {
        // The exit code says it.
    } else if output.json() {
        output.json_document(&report);
    } else {
        render(&report, output);
    }
    Ok(if report.clean {
        exit_code::SUCCESS
    } else {
        exit_code::NEGATIVE
    })
}

/// Parses a snapshot as it streams in, never holding more than
/// [`MAX_SNAPSHOT_BYTES`] of it: what is not JSON (`/dev/zero`, a binary)
/// fails at its first byte, and what is too long fails at the limit.
fn read_snapshot(path: &std::path::Path) -> Result<Snapshot, Failure> {
    use std::io::Read;
    let shown = escape(&path.to_string_lossy()).into_owned();
    let (file, first) = open_snapshot(path).map_err(|e| Failure::new(format!("cannot read snapshot {shown}: {e}")))?;
    let too_large = || {
        Failure::new(format!(
            "{shown} is larger than {} MiB, more than any snapshot afterlife writes",
            MAX_SNAPSHOT_BYTES >> 20
        ))
    };
    match file.metadata() {
        Ok(m) if m.is_dir() => return Err(Failure::new(format!("cannot read snapshot {shown}: it is a directory"))),
        Ok(m) if m.is_file() && m.len() > MAX_SNAPSHOT_BYTES => return Err(too_large()),
        _ => {}
    }
    let mut limited = std::io::BufReader::new(std::io::Cursor::new(first).chain(file)).take(MAX_SNAPSHOT_BYTES + 1);
    let parsed = serde_json::from_reader(&mut limited);
    if limited.limit() == 0 {
        return Err(too_large());
    }
    let newer = |version: u32| {
        Failure::new(format!(
            "{shown} was written by a newer afterlife (version {version}; this one reads up to {})",
            crate::JSON_VERSION
        ))
    };
    let snapshot: Snapshot = parsed.map_err(|e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Io => Failure::new(format!("cannot read snapshot {shown}: {e}")),
        // A later version may lack what this one needs: its version, read
        // again on its own, is the better answer.
        serde_json::error::Category::Data => match version_of(path) {
            Some(version) if version > crate::JSON_VERSION => newer(version),
            _ => Failure::new(format!("{shown} is not an afterlife snapshot: {e}")),
        },
        _ => Failure::new(format!("{shown} is not an afterlife snapshot: {e}")),
    })?;
    if snapshot.version > crate::JSON_VERSION {
        return Err(newer(snapshot.version));
    }
    Ok(snapshot)
}

/// Opens the snapshot at `path`, with the bytes already read from it. A
/// FIFO is opened without waiting for a writer (`O_NONBLOCK`) and given
/// [`FIFO_WAIT`] for one to come: a read that would wait says a writer
/// holds it, one that gives nothing says none does yet. From the first
/// sign of a writer on, it is read blocking, as long as the writer takes.
fn open_snapshot(path: &std::path::Path) -> std::io::Result<(std::fs::File, Vec<u8>)> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    // stat(2) of a FIFO does not wait; a path that is gone fails in open.
    if !std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
        return Ok((std::fs::File::open(path)?, Vec::new()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    // An anonymous pipe (`<(...)`, a shell's `|` as /dev/stdin) gets no
    // writer it has not had: its end is the end.
    let anonymous = std::fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file)))
        .is_ok_and(|link| link.as_os_str().as_encoded_bytes().starts_with(b"pipe:["));
    let wait = if anonymous {
        std::time::Duration::ZERO
    } else {
        FIFO_WAIT
    };
    let first = wait_for_writer(&file, wait)?;
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok((file, first))
}

/// Reads `fifo` (non-blocking) until a writer shows, for up to `wait`:
/// the bytes it already wrote (none if it holds the FIFO and has not
/// written yet). An error if no writer came in that time; with no time
/// at all, an end of file is the end (nothing read).
fn wait_for_writer(fifo: &std::fs::File, wait: std::time::Duration) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let deadline = std::time::Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        match (&*fifo).read(&mut buf) {
            Ok(0) => {}
            Ok(n) => return Ok(buf[..n].to_vec()),
            // No data, but a writer holds it.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Vec::new()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        // End of file: no writer holds it (yet, or any more).
        if wait.is_zero() {
            return Ok(Vec::new());
        }
        if std::time::Instant::now() >= deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("it is a FIFO and it had no writer for {}s", wait.as_secs()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The `version` of the JSON object in the file at `path`, read on its
/// own (every other field skipped) within the same size limit; `None` if
/// it has none or is no such object. Only a regular file is read again:
/// a FIFO or pipe gave its bytes once (opened again, it would wait for
/// another writer), and a device would give others.
fn version_of(path: &std::path::Path) -> Option<u32> {
    use std::io::Read;
    #[derive(serde::Deserialize)]
    struct Versioned {
        version: Option<u32>,
    }
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let limited = std::io::BufReader::new(file).take(MAX_SNAPSHOT_BYTES);
    serde_json::from_reader::<_, Versioned>(limited).ok()?.version
}

fn refs(list: &[ProcessRef]) -> String {
    if list.is_empty() {
        return "no process we could see".into();
    }
    list.iter()
        .map(|p| format!("{} {}", p.pid, escape(&p.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report as text; also used by other commands that audit a tree.
pub(crate) fn render(report: &LeftoversReport, output: &Output) {
    if !report.same_boot {
        output.line("note: the snapshot is from another boot; its processes and objects cannot be compared");
    }
    let gone = &report.gone;
    let by_kind = if gone.fds_by_kind.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            gone.fds_by_kind
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    output.line(&format!(
        "{}: {}, {}{by_kind}, {} resident (summed per process: shared pages count in each), {}, {}, {}",
        output.paint(Style::Bold, "went with it"),
        count(gone.processes.len(), "process", "processes"),
        count(gone.fds, "fd", "fds"),
        human_bytes(gone.memory_bytes),
        count(gone.sockets, "socket", "sockets"),
        count(gone.locks, "lock", "locks"),
        count(gone.mapped_files, "mapped file", "mapped files")
    ));
    for p in gone.processes.iter().filter(|p| p.zombie.is_some()) {
        output.line(&format!("  {}", zombie_line(p)));
    }
    let own_netns = crate::resources::sockets::own_netns();
    for c in &gone.closing {
        output.line(&format!(
            "  connection {}: no process has it; the kernel is still closing it",
            escape(&c.socket.describe_from(own_netns))
        ));
        if let Some(local) = c.socket.local {
            output.line(&format!("    {}", crate::cli::holds::bind_text(c.bind, local)));
        }
    }
    for i in &report.ipc_held_by_others {
        output.line(&format!(
            "not the tree's: ipc {} ({}): held or used last by {}, outside the tree",
            escape(&i.object.label()),
            i.object.size_text(),
            refs(&i.holders)
        ));
    }
    if report.clean {
        output.line(&format!("{}: nothing", output.paint(Style::Good, "stayed")));
        return;
    }
    output.line(&format!("{}:", output.paint(Style::Warn, "stayed")));
    let stayed = &report.stayed;
    for s in &stayed.processes {
        let how = if s.in_snapshot {
            match s.ppid_then {
                Some(then) if then != s.ppid_now => format!("survived; reparented from {then} to {}", s.ppid_now),
                _ => format!("survived; parent {}", s.ppid_now),
            }
        } else {
            format!("started since by a survivor; parent {}", s.ppid_now)
        };
        output.line(&format!("  process {} {}: {how}", s.pid, escape(&s.name)));
    }
    for l in &stayed.sockets {
        output.line(&format!(
            "  socket {}: still open, held by {}",
            escape(&l.socket.describe_from(own_netns)),
            refs(&l.holders)
        ));
    }
    for i in &stayed.ipc {
        let why = match i.attribution {
            Attribution::Pid => "the kernel records a process of the tree as its creator or last user",
            Attribution::Snapshot => "the tree used it",
            Attribution::TimeAndUser => "created since the tree started, by its user (no PID recorded)",
        };
        output.line(&format!(
            "  ipc {} ({}): {why}",
            escape(&i.object.label()),
            i.object.size_text()
        ));
    }
    for f in &stayed.files {
        output.line(&format!(
            // When the tree ended is not known: a file made after that,
            // by another process, reads the same.
            "  file {} ({}): created since the tree started",
            escape(&f.path),
            count(f.size as usize, "byte", "bytes")
        ));
    }
    for s in &stayed.socket_files {
        output.line(&format!(
            "  unix socket file {}: nothing is bound to it; a bind to it fails until it is removed ({})",
            escape(&s.path),
            escape_controls(&s.remove_with)
        ));
    }
    for l in &stayed.locks {
        let path = l
            .path
            .clone()
            .unwrap_or_else(|| format!("{:x}:{:x}:{}", l.lock.major, l.lock.minor, l.lock.inode));
        let recorded = match (l.lock.pid, l.recorded_pid_alive) {
            (Some(p), true) => format!("recorded for {p}"),
            (Some(p), false) => format!("recorded for {p}, which is gone: an inherited fd keeps it"),
            (None, _) => "an open-file lock".into(),
        };
        output.line(&format!(
            "  lock {} on {}: still held ({recorded}); open by {}",
            l.lock.kind.name(),
            escape(&path),
            refs(&l.holders)
        ));
    }
}

/// `process 4242 sleep: killed by SIGKILL ($? = 137); a zombie until its
/// parent 812 (sleep) reaps it`.
fn zombie_line(p: &GoneProcess) -> String {
    let Some(zombie) = &p.zombie else {
        return format!("process {} {}: ended", p.pid, escape(&p.name));
    };
    let status = match &zombie.status {
        Some(EndingReport::Known { views, .. }) => format!("{} ($? = {})", views.status, views.shell_code),
        Some(EndingReport::Unobservable { .. }) | None => "ended (status not readable)".to_string(),
    };
    format!(
        "process {} {}: {status}; a zombie until {}",
        p.pid,
        escape(&p.name),
        escape(&zombie.unreaped_by.describe())
    )
}
