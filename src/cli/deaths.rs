//! `afterlife deaths`: the live feed, one line (or one JSON object) per
//! process death.

use crate::cli::output::{Style, stderr_line, stdout_written};
use crate::cli::{DeathsArgs, Failure, Output};
use crate::deaths::metrics::DeathCounters;
use crate::deaths::{Choice, Death, Feed, Filter, Observer, Sender, SenderKind};
use crate::exit::ExitStatus;
use crate::exit_code;
use crate::text::escape;
use crate::watch::prometheus::Exporter;

pub fn run(args: &DeathsArgs, output: &Output) -> Result<u8, Failure> {
    let source = std::env::var_os("AFTERLIFE_DEATHS_SOURCE");
    let source = source.as_deref().map(std::ffi::OsStr::to_string_lossy);
    let choice = Choice::from_env_value(source.as_deref()).map_err(Failure::new)?;
    crate::deaths::tracepoints::ring_bytes_from_env().map_err(Failure::new)?;
    // The feed first: it blocks the stop signals, and the exporter's
    // thread inherits that mask, so a SIGTERM reaches the feed's signalfd.
    let mut feed = Feed::open(choice).map_err(Failure::new)?;
    let exporter = match &args.prometheus {
        Some(address) => Some(Exporter::serve(address).map_err(Failure::new)?),
        None => None,
    };
    stderr_line(&format!("afterlife: deaths from {}", feed.source().describe()));
    if let Some(limits) = feed.limits() {
        stderr_line(&format!("afterlife: {limits}"));
    }
    if let Some(exporter) = &exporter {
        stderr_line(&format!(
            "afterlife: Prometheus metrics on http://{}/metrics",
            exporter.address()
        ));
    }
    let filter = Filter {
        pids: args.pids.iter().map(|p| p.get()).collect(),
        name: args.name.clone(),
        cgroup: args.cgroup.clone(),
        signal: args.signal,
        nonzero: args.nonzero,
    };
    let mut printer = Printer {
        output,
        pending: String::new(),
        pending_ends: Vec::new(),
        written: 0,
        closed: false,
        counters: exporter.map(|e| (e, DeathCounters::default(), 0)),
        lost_records: feed.source().lost_records(),
    };
    // 0 means no limit, as for every other duration limit.
    let duration = args.duration.filter(|d| !d.is_zero());
    let summary = feed.run(duration, &filter, &mut printer).map_err(Failure::new)?;
    // Shown: written to stdout, not only matched (a closed or full stdout
    // takes the rest).
    stderr_line(&format!(
        "afterlife: {} deaths seen, {} shown, {} lost",
        summary.seen,
        summary.shown.min(printer.written),
        summary.lost
    ));
    Ok(exit_code::SUCCESS)
}

struct Printer<'a> {
    output: &'a Output,
    /// The lines of the batch so far, written at its end in one `write`.
    pending: String,
    /// Where each of those lines ends in `pending` (one line per death).
    pending_ends: Vec<usize>,
    /// Deaths written to stdout.
    written: u64,
    /// stdout is closed.
    closed: bool,
    counters: Option<(Exporter, DeathCounters, u64)>,
    /// What a lost record is on the feed's source.
    lost_records: &'static str,
}

impl Observer for Printer<'_> {
    fn death(&mut self, death: &Death) {
        let line = if self.output.json() {
            crate::cli::output::json_text(death)
                .map_err(|e| self.output.error(&format!("cannot encode a death as JSON: {e}")))
                .ok()
        } else {
            Some(text_line(death, self.output))
        };
        // A death that could not be encoded has no line, and is not shown.
        if let Some(line) = line {
            self.pending.push_str(&line);
            self.pending.push('\n');
            self.pending_ends.push(self.pending.len());
        }
        if let Some((_, counters, _)) = &mut self.counters {
            counters.count(death);
        }
    }

    fn closed(&self) -> bool {
        self.closed
    }

    fn lost(&mut self, total: u64, new: u64) {
        stderr_line(&format!(
            "afterlife: warning: {new} {} lost ({total} in all): the reader fell behind",
            self.lost_records
        ));
        if let Some((_, _, lost)) = &mut self.counters {
            *lost = total;
        }
    }

    fn batch_done(&mut self) {
        if !self.pending.is_empty() {
            // EPIPE: the reader went away (`| head`); the feed ends. The
            // deaths whose whole line went out before that count as shown.
            let (bytes, result) = write_counted(&mut std::io::stdout().lock(), self.pending.as_bytes());
            self.written += lines_within(&self.pending_ends, bytes);
            if !stdout_written(result) {
                self.closed = true;
            }
            self.pending.clear();
            self.pending_ends.clear();
        }
        if let Some((exporter, counters, lost)) = &self.counters {
            exporter.publish_text(counters.render(*lost));
        }
    }
}

/// Writes all of `bytes` as `write_all` does, and says how many went out
/// before an error stopped it.
fn write_counted(out: &mut impl std::io::Write, bytes: &[u8]) -> (usize, std::io::Result<()>) {
    let mut done = 0;
    while done < bytes.len() {
        match out.write(&bytes[done..]) {
            Ok(0) => return (done, Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Err(e)),
        }
    }
    (done, out.flush())
}

/// How many of the lines ending at `ends` (byte offsets just past each
/// line's newline) lie wholly within the first `bytes` bytes. Pure.
fn lines_within(ends: &[usize], bytes: usize) -> u64 {
    ends.iter().take_while(|&&end| end <= bytes).count() as u64
}

/// `HH:MM:SS.mmm` (UTC) of a Unix time. Pure.
fn clock(unix: f64) -> String {
    let millis = (unix * 1000.0).round() as u64;
    let day = millis % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day / 3_600_000,
        day / 60_000 % 60,
        day / 1000 % 60,
        day % 1000
    )
}

fn status_words(status: ExitStatus) -> String {
    match status {
        ExitStatus::Exited { code } => format!("exit {code}"),
        ExitStatus::Signaled { signal, core_dumped } => {
            format!("{signal}{}", if core_dumped { " (core dumped)" } else { "" })
        }
    }
}

fn terminal_key(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => " (Ctrl+C)",
        libc::SIGQUIT => " (Ctrl+\\)",
        libc::SIGTSTP => " (Ctrl+Z)",
        _ => "",
    }
}

/// Who sent it, in words. Pure.
fn sender_words(death: &Death) -> Option<String> {
    let sender = death.sender.as_ref()?;
    let signal = crate::deaths::death_signal(death).map_or(0, |s| s.number());
    Some(sender_text(sender, signal))
}

/// A signal's sender in words (`sent by pid 41 bash (user root) with
/// kill(), pidfd_send_signal() or cgroup.kill`, `from a fault: SEGV_MAPERR (...)`, `from the terminal (Ctrl+C)`).
/// Pure.
pub(crate) fn sender_text(sender: &Sender, signal: i32) -> String {
    let code = sender.code_name.unwrap_or("");
    match sender.kind {
        SenderKind::ParentDeath => format!(
            "sent as its parent pid {} {} (user {}) exited: the signal it asked for with PR_SET_PDEATHSIG",
            sender.pid,
            escape(&sender.name),
            sender.user.clone().unwrap_or_else(|| sender.uid.to_string()),
        ),
        kind if kind.names_a_process() && sender.itself => format!("sent by itself with {}", kind.describe()),
        // SI_USER is all the kernel keeps of how: kill(),
        // pidfd_send_signal() without a siginfo and a write to cgroup.kill
        // all queue it.
        kind if kind.names_a_process() => format!(
            "sent by pid {} {} (user {}) with {}",
            sender.pid,
            escape(&sender.name),
            sender.user.clone().unwrap_or_else(|| sender.uid.to_string()),
            kind.describe(),
        ),
        SenderKind::Fault => format!(
            "from a fault: {code}{}",
            sender.fault.map(|f| format!(" ({f})")).unwrap_or_default()
        ),
        SenderKind::Terminal => format!("from the terminal{}", terminal_key(signal)),
        SenderKind::OomKiller => "from the OOM killer".to_string(),
        kind => format!("from {} ({code})", kind.describe()),
    }
}

fn bytes(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
}

/// The OOM part, in words. Pure.
fn oom_words(death: &Death) -> Option<String> {
    let oom = death.oom.as_ref()?;
    let cgroup = oom.memory_cgroup.as_deref().map_or("?".into(), escape);
    let limit = match (oom.limit_bytes, oom.limit_file) {
        (Some(limit), Some(file)) => format!("at its limit of {} ({file})", bytes(limit)),
        (Some(limit), None) => format!("at its limit of {}", bytes(limit)),
        (None, _) => "with no limit".to_string(),
    };
    Some(format!(
        "OOM kill: memory cgroup {cgroup} {limit}, victim rss {}",
        bytes(oom.rss_bytes)
    ))
}

/// One death as a line of text. Pure but for the colours.
fn text_line(death: &Death, output: &Output) -> String {
    let name = death.name.as_deref().map_or("?".into(), escape);
    let status = status_words(death.status());
    let style = if death.status().success() {
        Style::Good
    } else {
        Style::Bad
    };
    let mut line = format!(
        "{} pid {} {}: {}",
        clock(death.time),
        death.pid,
        output.paint(Style::Bold, &name),
        output.paint(style, &status)
    );
    for part in [sender_words(death), oom_words(death)].into_iter().flatten() {
        line.push_str(", ");
        line.push_str(&part);
    }
    let mut facts = Vec::new();
    if let Some(ppid) = death.ppid {
        facts.push(format!("parent {ppid}"));
    }
    match (&death.user, death.uid) {
        (Some(user), _) => facts.push(format!("user {}", escape(user))),
        (None, Some(uid)) => facts.push(format!("uid {uid}")),
        _ => {}
    }
    if let Some(lifetime) = death.lifetime {
        facts.push(format!("lived {lifetime:.3}s"));
    }
    if let Some(cgroup) = &death.cgroup {
        let label = death.unit.as_ref().or(death.container.as_ref());
        facts.push(match label {
            Some(label) if !cgroup.ends_with(label.as_str()) => {
                format!("cgroup {} ({})", escape(cgroup), escape(label))
            }
            _ => format!("cgroup {}", escape(cgroup)),
        });
    }
    line.push_str(&output.paint(Style::Dim, &format!("; {}", facts.join(", "))));
    if let Some(cmdline) = death.cmdline.as_ref().filter(|c| !c.is_empty()) {
        line.push_str(&format!("; cmd: {}", crate::text::display_command_line(cmdline)));
        if death.cmdline_cut {
            line.push_str(" …");
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ColorChoice;

    /// A stdout that takes `room` bytes, a few at a time, then refuses.
    struct Narrow {
        room: usize,
        taken: Vec<u8>,
    }

    impl std::io::Write for Narrow {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let n = bytes.len().min(self.room - self.taken.len()).min(7);
            if n == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.taken.extend_from_slice(&bytes[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_batch_cut_short_counts_the_lines_that_went_out_whole() {
        let batch = b"one\ntwo two\nthree\n";
        let ends = [4, 12, 18];
        let mut out = Narrow {
            room: 14,
            taken: Vec::new(),
        };
        let (bytes, result) = write_counted(&mut out, batch);
        assert_eq!(bytes, 14);
        assert!(result.is_err());
        assert_eq!(lines_within(&ends, bytes), 2);
        let mut out = Narrow {
            room: 100,
            taken: Vec::new(),
        };
        let (bytes, result) = write_counted(&mut out, batch);
        assert!(result.is_ok());
        assert_eq!((out.taken.as_slice(), lines_within(&ends, bytes)), (&batch[..], 3));
        assert_eq!(lines_within(&ends, 3), 0);
    }
    use crate::deaths::{OomKill, Sender};
    use crate::signal::Signal;

    fn death(status: ExitStatus) -> Death {
        Death {
            name: Some("sleep".to_string()),
            cmdline: Some(vec!["sleep".to_string(), "100".to_string()]),
            ppid: Some(1),
            uid: Some(0),
            user: Some("root".to_string()),
            cgroup: Some("/system.slice/cron.service".to_string()),
            unit: Some("cron.service".to_string()),
            lifetime: Some(1.5),
            time: 3723.004,
            ..Death::fixture(4321, status)
        }
    }

    fn sender(kind: SenderKind, code: i32, code_name: &'static str) -> Sender {
        Sender {
            kind,
            code,
            code_name: Some(code_name),
            fault: None,
            pid: 99,
            name: "bash".to_string(),
            uid: 0,
            user: Some("root".to_string()),
            itself: false,
            before_death: None,
        }
    }

    #[test]
    fn lines_say_who_sent_it() {
        let output = Output::new(ColorChoice::Never, false);
        let exited = death(ExitStatus::Exited { code: 7 });
        assert_eq!(
            text_line(&exited, &output),
            "01:02:03.004 pid 4321 sleep: exit 7; parent 1, user root, lived 1.500s, cgroup /system.slice/cron.service; cmd: sleep 100"
        );
        let mut usr1 = death(ExitStatus::Signaled {
            signal: Signal::from_number(libc::SIGUSR1).unwrap(),
            core_dumped: false,
        });
        usr1.sender = Some(sender(SenderKind::Kill, 0, "SI_USER"));
        assert!(
            text_line(&usr1, &output).contains("pid 4321 sleep: SIGUSR1, sent by pid 99 bash (user root) with kill(), pidfd_send_signal() or cgroup.kill;"),
            "{}",
            text_line(&usr1, &output)
        );
        let mut int = death(ExitStatus::Signaled {
            signal: Signal::from_number(libc::SIGINT).unwrap(),
            core_dumped: false,
        });
        int.sender = Some(sender(SenderKind::Terminal, 0x80, "SI_KERNEL"));
        assert!(text_line(&int, &output).contains("SIGINT, from the terminal (Ctrl+C);"));
        let mut oom = death(ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false,
        });
        oom.sender = Some(sender(SenderKind::OomKiller, 0x80, "SI_KERNEL"));
        oom.oom = Some(OomKill {
            memory_cgroup: Some("/t".to_string()),
            limit_file: Some("memory.limit_in_bytes"),
            limit_bytes: Some(64 << 20),
            rss_bytes: 63 << 20,
            anon_rss_bytes: 63 << 20,
            file_rss_bytes: 0,
            shmem_rss_bytes: 0,
            total_vm_bytes: 70 << 20,
        });
        assert!(text_line(&oom, &output).contains(
            "SIGKILL, from the OOM killer, OOM kill: memory cgroup /t at its limit of 64.0 MiB (memory.limit_in_bytes), victim rss 63.0 MiB;"
        ));
    }
}
