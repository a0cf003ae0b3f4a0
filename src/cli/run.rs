//! `afterlife run`: build a [`Supervisor`] from the options, then render its
//! [`RunReport`]: silence when all went well, one summary line on stderr
//! otherwise, the full report with `--report`, JSON with `--json` (stderr)
//! or `--report-json FILE`. The command's own stdout and stderr are never
//! touched.

use std::fmt::Write as _;

use crate::cli::output::{Output, Style, program_name, stderr_line};
use crate::cli::{Failure, RunArgs, SuperviseOptions};
use crate::duration::format_duration;
use crate::exit::{Cause, ExitStatus};
use crate::resources::ipc_left::{IpcAttribution, IpcFate, IpcLeftover};
use crate::supervise::cause::{CoreDestination, OomVerdict};
use crate::supervise::dir_left::{FileFate, FileLeftover};
use crate::supervise::report::{Escape, Fate, Leftover, PeakSource, Reason, RunReport, Target};
use crate::supervise::{Supervisor, signals};
use crate::text::{display_command_line, escape, escape_controls};

pub(crate) fn run(args: &RunArgs, output: &Output) -> Result<u8, Failure> {
    let (program, rest) = split_command(&args.command)?;
    let report_file = ReportFile::open(&args.options)?;
    let supervisor = Supervisor::new(program, rest)
        .timeout(args.timeout)
        .signal(args.signal)
        .grace(Some(args.grace))
        .preserve_status(args.preserve_status)
        .foreground(args.foreground)
        .containment(args.options.containment)
        .keep_leftovers(args.options.keep_leftovers)
        .remove_ipc(args.options.remove_ipc || (args.fail_on_leftovers && !args.options.keep_leftovers))
        .dirs(args.dirs.clone())
        .fresh_tmpdir(args.tmpdir.then(std::env::temp_dir))
        .fail_on_leftovers(args.fail_on_leftovers)
        .name_sender(!args.no_name_sender);
    // A signal that comes once the command has ended is not its end.
    let held = crate::supervise::signals::HeldSignals::hold();
    let report = supervisor.run().map_err(|e| Failure {
        message: e.to_string(),
        code: e.exit_code(),
    })?;
    drop(held);
    let summary = !args.quiet && (report.exit_code != 0 || report.leaked);
    let named = args.fail_on_leftovers && !args.quiet && !output.json() && !args.options.report;
    finish(&report, &args.options, report_file, output, summary, named)
}

/// The `--report-json` file, opened (created, emptied) before the command
/// starts: a path that cannot be written fails at once with 125, and
/// nothing is run.
pub(crate) struct ReportFile(Option<(std::fs::File, std::path::PathBuf)>);

impl ReportFile {
    /// Opens the file `--report-json` names, if any.
    pub(crate) fn open(options: &SuperviseOptions) -> Result<ReportFile, Failure> {
        let Some(path) = &options.report_json else {
            return Ok(ReportFile(None));
        };
        let file = open_report(path).map_err(|e| Failure::new(cannot_write(path, &e.to_string())))?;
        Ok(ReportFile(Some((file, path.clone()))))
    }

    /// Writes the report; the error line if that failed.
    fn write(self, report: &RunReport) -> Option<String> {
        use std::io::Write as _;
        let (mut file, path) = self.0?;
        let written = crate::cli::output::json_pretty(report)
            .map_err(|e| e.to_string())
            .and_then(|text| file.write_all((text + "\n").as_bytes()).map_err(|e| e.to_string()));
        written.err().map(|e| cannot_write(&path, &e))
    }
}

/// Opens (creates, empties) the report's file. A FIFO is opened without
/// waiting for a reader (`O_NONBLOCK`, which fails with `ENXIO` while none
/// holds it) and given [`crate::cli::leftovers::FIFO_WAIT`] for one to
/// come, as `leftovers` gives one for a writer: a plain open would wait for
/// ever before the command starts. Then it is written blocking.
fn open_report(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(target_os = "linux")]
    if std::fs::metadata(path).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type())) {
        return open_fifo_for_writing(path, &mut options);
    }
    options.open(path)
}

#[cfg(target_os = "linux")]
fn open_fifo_for_writing(path: &std::path::Path, options: &mut std::fs::OpenOptions) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let wait = crate::cli::leftovers::FIFO_WAIT;
    let deadline = std::time::Instant::now() + wait;
    options.custom_flags(libc::O_NONBLOCK);
    let file = loop {
        match options.open(path) {
            Ok(file) => break file,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "it is a FIFO and no process opened it for reading in {}s",
                        wait.as_secs()
                    ),
                ));
            }
            Err(e) => return Err(e),
        }
    };
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(file)
}

fn cannot_write(path: &std::path::Path, error: &str) -> String {
    format!(
        "cannot write the report to {}: {error}",
        escape(&path.to_string_lossy())
    )
}

/// The program and its arguments.
pub(crate) fn split_command(
    command: &[std::ffi::OsString],
) -> Result<(&std::ffi::OsString, &[std::ffi::OsString]), Failure> {
    command.split_first().ok_or_else(|| Failure::new("no command given"))
}

/// Writes the requested reports, then leaves as the command did: with its
/// code, or by dying of its signal.
pub(crate) fn finish(
    report: &RunReport,
    options: &SuperviseOptions,
    report_file: ReportFile,
    output: &Output,
    summary: bool,
    name_leftovers: bool,
) -> Result<u8, Failure> {
    let failed = report_file.write(report);
    // stderr may be closed or a broken pipe by now: what cannot be said is
    // dropped, and afterlife still leaves as the command did.
    if output.json() {
        match crate::cli::output::json_text(report) {
            Ok(text) => stderr_line(&text),
            Err(e) => output.error(&format!("cannot encode the report as JSON: {e}")),
        }
    } else if options.report {
        let text = human_report(report, output);
        stderr_line(text.strip_suffix('\n').unwrap_or(&text));
    } else if summary {
        stderr_line(&format!("{}: {}", program_name(), summary_line(report)));
        if name_leftovers {
            for line in leak_lines(report) {
                stderr_line(&format!("{}: {line}", program_name()));
            }
        }
    }
    if let Some(message) = failed {
        output.error(&message);
    }
    if let Some(signal) = report.dies_by {
        signals::die_by(signal);
    }
    Ok(report.exit_code)
}

fn command_text(report: &RunReport) -> String {
    let shown = display_command_line(&report.command);
    if shown.chars().count() > 60 {
        format!("{}…", shown.chars().take(59).collect::<String>())
    } else {
        shown
    }
}

/// The one line printed when something is worth saying.
pub(crate) fn summary_line(report: &RunReport) -> String {
    let mut line = format!("{}: ", command_text(report));
    match report.cause {
        Cause::TimedOut { after, needed_kill } => {
            let _ = write!(line, "timed out after {}", format_duration(after));
            if needed_kill {
                line.push_str(", SIGKILL needed");
            }
            let _ = write!(line, ": {}", report.exit.status);
        }
        Cause::OomKilled => line.push_str("was killed by the OOM killer"),
        _ => line.push_str(&report.exit.status.to_string()),
    }
    if let (Some(sender), crate::exit::ExitStatus::Signaled { signal, .. }) =
        (&report.signal_sender, report.exit.status)
    {
        let _ = write!(line, ", {}", crate::cli::deaths::sender_text(sender, signal.number()));
    }
    if let Some(core) = &report.core {
        let _ = write!(line, ", core: {}", core_text(core));
    }
    let _ = write!(line, " (exit {})", report.exit_code);
    if !report.leftovers.is_empty() {
        let kept = report.leftovers.iter().all(|l| l.fate == Fate::Kept);
        let _ = write!(
            line,
            "; {} leftover{} {}: {}",
            report.leftovers.len(),
            if report.leftovers.len() == 1 { "" } else { "s" },
            if kept { "still running" } else { "ended" },
            report
                .leftovers
                .iter()
                .take(5)
                .map(leftover_short)
                .collect::<Vec<_>>()
                .join(", ")
        );
        if report.leftovers.len() > 5 {
            line.push_str(", …");
        }
    }
    ipc_summary(report, &mut line);
    files_summary(report, &mut line);
    line
}

fn files_summary(report: &RunReport, line: &mut String) {
    if report.files.is_empty() {
        return;
    }
    let count = report.files.len();
    let removed = report.files.iter().all(|f| f.fate == FileFate::Removed);
    let _ = write!(
        line,
        "; {count} file{} {}",
        if count == 1 { "" } else { "s" },
        if removed { "removed" } else { "left" }
    );
}

/// One line per leftover, for `--fail-on-leftovers`: what it is, which
/// process made or holds it, its command line, port or path, and its fate.
pub(crate) fn leak_lines(report: &RunReport) -> Vec<String> {
    let mut lines = Vec::new();
    for leftover in &report.leftovers {
        lines.push(process_leak_line(leftover));
    }
    let name_of = |pid: i32| {
        report
            .leftovers
            .iter()
            .find(|l| l.pid.get() == pid)
            .map(|l| escape(&l.name).into_owned())
    };
    for left in &report.ipc {
        let mut line = format!("leaked IPC object: {}", ipc_line(left));
        if let Some(pid) = left.by {
            let who = if Some(pid) == report.pid.map(|p| p.get()) {
                Some("the command itself".to_string())
            } else {
                name_of(pid)
            };
            if let Some(who) = who {
                line = line.replacen(&format!(" by {pid}"), &format!(" by {pid} ({who})"), 1);
            }
        }
        lines.push(line);
    }
    for file in &report.files {
        lines.push(file_leak_line(file, &report.leftovers));
    }
    lines
}

fn process_leak_line(leftover: &Leftover) -> String {
    let mut line = format!(
        "leaked process {} {} [{}]",
        leftover.pid,
        escape(&leftover.name),
        display_command_line(&leftover.cmdline)
    );
    // The number the command's own scripts and logs know it by.
    if let Some(inner) = leftover.ns_pid.filter(|&inner| inner != leftover.pid.get()) {
        let _ = write!(line, ", PID {inner} in the run's PID namespace");
    }
    // An orphan's parent is afterlife or its keeper now: not worth naming.
    let orphaned = leftover.escaped.iter().any(|e| matches!(e, Escape::Orphaned { .. }));
    if !orphaned {
        let _ = write!(line, ", child of {}", leftover.ppid);
    }
    let how: Vec<&str> = leftover.escaped.iter().map(|e| e.short()).collect();
    if !how.is_empty() {
        let _ = write!(line, " ({})", how.join(", "));
    }
    for fd in &leftover.fds {
        if let Some(socket) = &fd.socket {
            let _ = write!(line, "; fd {}: {}", fd.fd, socket_text(socket));
        }
    }
    if !leftover.holds_output.is_empty() {
        let streams: Vec<&str> = leftover.holds_output.iter().map(|s| s.name()).collect();
        let _ = write!(
            line,
            "; holds the {} pipe the caller reads (a harness waiting for its end hangs until this process ends)",
            streams.join(" and ")
        );
    }
    let _ = write!(line, "; {}", fate_text(&leftover.fate));
    line
}

fn file_leak_line(file: &FileLeftover, leftovers: &[Leftover]) -> String {
    let mut line = format!(
        "leaked {}: {}, {} B",
        file.kind.word(),
        escape(&file.path.to_string_lossy()),
        file.size
    );
    if let Some(entries) = file.entries {
        let _ = write!(line, " in {entries} entr{}", if entries == 1 { "y" } else { "ies" });
    }
    for pid in &file.held_by {
        let name = leftovers
            .iter()
            .find(|l| l.pid.get() == *pid)
            .map(|l| escape(&l.name).into_owned())
            .unwrap_or_default();
        let _ = write!(line, ", held open by {pid} {name}");
    }
    let fate = match &file.fate {
        FileFate::Left => "left in place".to_string(),
        FileFate::Removed => "removed".to_string(),
        FileFate::RemoveFailed { error } => format!("could not be removed: {}", escape(error)),
    };
    let _ = write!(line, " — {fate}");
    line
}

fn leftover_short(leftover: &Leftover) -> String {
    let mut how: Vec<&str> = leftover.escaped.iter().map(|e| e.short()).collect();
    // The process a harness hangs on is named as such even in one line.
    let held: Vec<&str> = leftover.holds_output.iter().map(|s| s.name()).collect();
    let holds = format!("holds the caller's {}", held.join(" and "));
    if !held.is_empty() {
        how.push(&holds);
    }
    if how.is_empty() {
        format!("{} {}", leftover.pid, escape(&leftover.name))
    } else {
        format!("{} {} ({})", leftover.pid, escape(&leftover.name), how.join(", "))
    }
}

fn core_text(core: &CoreDestination) -> String {
    match core {
        CoreDestination::File { path } => escape(&path.to_string_lossy()).into_owned(),
        CoreDestination::Program { command } => format!("piped to |{}", escape(command)),
    }
}

fn fate_text(fate: &Fate) -> String {
    match fate {
        Fate::Ended { signal } => format!("ended by {signal}"),
        Fate::EndedAfter { signal } => format!("ended after {signal} (its status went to another parent)"),
        Fate::Killed => "killed with SIGKILL".to_string(),
        Fate::Exited { code, after } => format!("exited with code {code} after {after}"),
        Fate::ExitedOnItsOwn => "exited by itself".to_string(),
        Fate::Kept => "left running (--keep-leftovers)".to_string(),
        Fate::Survived => "still running after SIGKILL".to_string(),
    }
}

fn human_bytes(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib >= 1.0 {
        format!("{mib:.1} MiB")
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

/// Why it ended, in words. A death by a signal afterlife neither sent nor
/// passed on is not called the command's doing: someone else may have sent
/// it, and who cannot be known from the wait status (the `signal:` line
/// names the sender where the tracepoint saw it).
fn cause_text(report: &RunReport) -> String {
    match report.cause {
        Cause::TimedOut { after, needed_kill } => format!(
            "timed out after {}{}",
            format_duration(after),
            if needed_kill { "; SIGKILL was needed" } else { "" }
        ),
        Cause::OomKilled => "killed by the kernel's OOM killer".to_string(),
        _ => match report.exit.status {
            ExitStatus::Signaled { signal, .. } => {
                let passed_on = report
                    .timeline
                    .iter()
                    .any(|e| e.signal == signal && e.reason == Reason::Forwarded);
                if passed_on && report.signal_sender.is_some() {
                    // Sent to afterlife's group: the command took the
                    // sender's own before afterlife's passed-on one.
                    format!("killed by {signal} from another process, which afterlife also received and passed on")
                } else if passed_on {
                    format!("killed by {signal}, which afterlife received and passed on")
                } else if report.signal_sender.is_some() {
                    format!("killed by {signal}, which afterlife did not send")
                } else {
                    format!("killed by {signal}, which afterlife did not send (sender unknown)")
                }
            }
            ExitStatus::Exited { .. } => match report.timeline.iter().find(|e| e.reason == Reason::Forwarded) {
                // It exited with a code after a signal afterlife passed on:
                // it handled it, or went on and ended by itself.
                Some(e) => format!("it exited after {}, which afterlife received and passed on", e.signal),
                None => "the command's own doing (no deadline, no OOM kill)".to_string(),
            },
        },
    }
}

/// The full report, for `--report`.
pub(crate) fn human_report(report: &RunReport, output: &Output) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}", output.paint(Style::Bold, "afterlife report"));
    command_section(report, &mut text);
    exit_section(report, output, &mut text);
    signals_section(report, &mut text);
    leftovers_section(report, output, &mut text);
    ipc_section(report, &mut text);
    files_section(report, &mut text);
    let _ = match report.dies_by {
        Some(signal) => writeln!(text, "  afterlife:   dies of {signal} too, as the command did"),
        None => writeln!(text, "  afterlife:   exit code {}", report.exit_code),
    };
    text
}

/// The command, its containment, PID and duration.
fn command_section(report: &RunReport, text: &mut String) {
    let _ = writeln!(text, "  command:     {}", display_command_line(&report.command));
    let _ = write!(text, "  containment: {}", report.containment.name());
    if let Some(path) = &report.cgroup {
        let _ = write!(text, " ({})", escape(&path.to_string_lossy()));
    }
    if report.pid_namespace && report.cgroup.is_some() {
        text.push_str(", with a PID namespace inside");
    }
    text.push('\n');
    if let Some(pid) = report.pid {
        let _ = writeln!(text, "  pid:         {pid}");
    }
    let _ = writeln!(
        text,
        "  duration:    {}",
        format_duration(std::time::Duration::from_secs_f64(report.duration))
    );
}

/// How the command ended: exit status, cause, core dump, OOM check, peak
/// memory.
fn exit_section(report: &RunReport, output: &Output, text: &mut String) {
    let style = if report.exit.status.success() {
        Style::Good
    } else {
        Style::Bad
    };
    let _ = writeln!(
        text,
        "  exit:        {} (wait status {:#06x}, $? = {}) — {}",
        output.paint(style, &report.exit.status.to_string()),
        report.exit.wait_status,
        report.exit.shell_code,
        report.exit.meaning
    );
    let _ = writeln!(text, "  cause:       {}", cause_text(report));
    if let (Some(sender), crate::exit::ExitStatus::Signaled { signal, .. }) =
        (&report.signal_sender, report.exit.status)
    {
        let words = crate::cli::deaths::sender_text(sender, signal.number());
        let _ = writeln!(text, "  signal:      {words}");
    }
    if let Some(core) = &report.core {
        let _ = writeln!(text, "  core dump:   {}", core_text(core));
    }
    if let Some(oom) = &report.oom {
        let verdict = match oom.verdict {
            OomVerdict::Killed => "the OOM killer ended it",
            OomVerdict::NotKilled => "not the OOM killer",
            OomVerdict::Unknown => "unknown",
        };
        let _ = writeln!(text, "  OOM check:   {verdict} (from {})", oom.source);
    }
    if let Some(peak) = &report.peak_memory {
        let source = match peak.source {
            PeakSource::CgroupMemoryPeak => "whole tree, cgroup memory.peak",
            PeakSource::LargestProcessRss => "largest single process, getrusage",
        };
        let _ = writeln!(text, "  peak memory: {} ({source})", human_bytes(peak.bytes));
    }
}

/// Every signal sent, when, to whom and why.
fn signals_section(report: &RunReport, text: &mut String) {
    if report.timeline.is_empty() {
        let _ = writeln!(text, "  signals:     none sent");
        return;
    }
    let _ = writeln!(text, "  signals:");
    for event in &report.timeline {
        let to = match event.to {
            Target::Main => "the main process",
            Target::Group => "its process group",
            Target::Tree => "the whole tree",
            Target::Leftovers => "the leftovers",
            Target::Newcomers => "processes born since",
        };
        let why = match event.reason {
            Reason::Deadline => "deadline",
            Reason::GraceExpired => "grace period over",
            Reason::Forwarded => "forwarded",
            Reason::Leftovers => "ending leftovers",
            Reason::LeftoversGraceExpired => "leftovers' grace period over",
        };
        let _ = writeln!(
            text,
            "    +{:.3}s {} to {to} ({} process{}): {why}",
            event.at,
            event.signal,
            event.processes,
            if event.processes == 1 { "" } else { "es" }
        );
    }
}

/// The processes left behind: who, their fate, how they escaped, what
/// they hold.
fn leftovers_section(report: &RunReport, output: &Output, text: &mut String) {
    if report.leftovers.is_empty() {
        let _ = writeln!(text, "  leftovers:   none");
        return;
    }
    let _ = writeln!(text, "  leftovers:   {}", report.leftovers.len());
    for leftover in &report.leftovers {
        let _ = writeln!(
            text,
            "    {} {} [{}] — {}",
            leftover.pid,
            output.paint(Style::Bold, &escape(&leftover.name)),
            display_command_line(&leftover.cmdline),
            fate_text(&leftover.fate)
        );
        for escape_how in &leftover.escaped {
            let _ = writeln!(text, "      escaped: {}", escape_text(escape_how));
        }
        if !leftover.holds_output.is_empty() {
            let streams: Vec<&str> = leftover.holds_output.iter().map(|s| s.name()).collect();
            let _ = writeln!(
                text,
                "      holds afterlife's {}: a reader waiting for its end would wait for this process",
                streams.join(" and ")
            );
        }
        for fd in &leftover.fds {
            if let Some(socket) = &fd.socket {
                let _ = writeln!(text, "      fd {}: {}", fd.fd, socket_text(socket));
            }
        }
    }
}

/// How a leftover escaped the command's session, group or parent.
fn escape_text(escape: &crate::supervise::report::Escape) -> String {
    use crate::supervise::report::Escape;
    match escape {
        Escape::NewSession { sid } => format!("called setsid (session {sid})"),
        Escape::NewProcessGroup { pgid } => format!("left the process group (group {pgid})"),
        Escape::Orphaned {
            group_leader_gone: None,
        } => "orphaned: its parent exited (double fork or background child)".to_string(),
        Escape::Orphaned {
            group_leader_gone: Some(pgid),
        } => format!(
            "orphaned with its group: its parent exited, and its process group {pgid} still carries the PID of a leader that is gone (a background child left behind, or a worker whose master died)"
        ),
        Escape::OtherCgroup { cgroup } => format!(
            "moved out of the run's cgroup into {}, out of reach of its cgroup.kill",
            crate::text::escape(cgroup)
        ),
        Escape::InheritedFds { fds } => format!(
            "holds fds without O_CLOEXEC: {}",
            fds.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The files left in the watched directories.
fn files_section(report: &RunReport, text: &mut String) {
    if report.files.is_empty() {
        return;
    }
    let _ = writeln!(text, "  files left:  {}", report.files.len());
    for file in &report.files {
        let line = file_leak_line(file, &report.leftovers);
        let _ = writeln!(text, "    {}", line.strip_prefix("leaked ").unwrap_or(&line));
    }
}

/// The IPC objects the tree left, for the summary line: how many, and the
/// commands that remove them (or that they were removed).
fn ipc_summary(report: &RunReport, line: &mut String) {
    if report.ipc.is_empty() {
        return;
    }
    let count = report.ipc.len();
    let plural = if count == 1 { "" } else { "s" };
    let removed = report.ipc.iter().filter(|o| o.fate == IpcFate::Removed).count();
    if removed == count {
        let _ = write!(line, "; {count} IPC object{plural} removed");
        return;
    }
    let commands: Vec<String> = report
        .ipc
        .iter()
        .filter(|o| o.fate != IpcFate::Removed)
        .take(3)
        .map(|o| escape_controls(&o.remove_with).into_owned())
        .collect();
    let _ = write!(
        line,
        "; {} IPC object{plural} left: {}{} (--remove-ipc removes them)",
        count - removed,
        commands.join(", "),
        if count - removed > 3 { ", …" } else { "" }
    );
}

/// The IPC objects the tree left, for `--report`.
fn ipc_section(report: &RunReport, text: &mut String) {
    if report.ipc.is_empty() {
        let _ = writeln!(text, "  IPC left:    none");
        return;
    }
    let _ = writeln!(text, "  IPC left:    {}", report.ipc.len());
    for left in &report.ipc {
        let _ = writeln!(text, "    {}", ipc_line(left));
    }
}

/// One IPC object: what it is, who made it, and its removal.
/// A leftover's socket: `tcp listen 127.0.0.1:8080`, and ` -> PEER` when it
/// has one.
fn socket_text(socket: &crate::supervise::leftover_facts::SocketFact) -> String {
    let remote = socket
        .remote
        .as_ref()
        .map(|r| format!(" -> {}", escape(r)))
        .unwrap_or_default();
    format!("{} {} {}{remote}", socket.protocol, socket.state, escape(&socket.local))
}

pub(crate) fn ipc_line(left: &IpcLeftover) -> String {
    let object = &left.object;
    let size = object.size_text();
    let by = match (left.attribution, left.by) {
        (IpcAttribution::CreatorPid, Some(pid)) => format!(", created by {pid}"),
        (IpcAttribution::LastUser, Some(pid)) => format!(", new, last used by {pid} (no creator recorded)"),
        (IpcAttribution::HeldByTree, Some(pid)) => format!(", new, held by {pid} (no creator recorded)"),
        _ => String::new(),
    };
    let fate = match &left.fate {
        IpcFate::Left => format!("remove with: {}", escape_controls(&left.remove_with)),
        IpcFate::Removed => "removed".to_string(),
        IpcFate::RemoveFailed { error } => format!(
            "could not be removed ({}); remove with: {}",
            escape(error),
            escape_controls(&left.remove_with)
        ),
    };
    format!("{}, {size}{by} — {fate}", escape(&object.label()))
}
