//! `afterlife kill`: text and JSON rendering of [`crate::terminate`].

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::output::{Output, Style, count, stderr_line};
use crate::cli::{Failure, KillArgs, KillSignal, refuse_quiet_json};
use crate::duration::format_duration;
use crate::exit::ExitStatus;
use crate::exit_code;
use crate::observe::EndingReport;
use crate::resources::ipc_left::LiveTree;
use crate::terminate::check::{CheckReport, Liveness, check};
use crate::terminate::plan::{TerminationPlan, ends_by_default};
use crate::terminate::report::{Containment, EndedBy, Outcome, ProcessReport, SurvivorReason, TerminationReport};
use crate::terminate::select::{NameMatch, resolve_user};
use crate::terminate::{NextMove, Progress, Request, Scope, TerminateError, terminate, terminate_observed};
use crate::text::escape;

pub(crate) fn run(args: &KillArgs, output: &Output) -> Result<u8, Failure> {
    refuse_quiet_json(args.quiet, output)?;
    // A thread's ID is no process to end or check: `kill(1)` would signal
    // its whole process.
    if let Some(thread) = args.pids.iter().find_map(|&pid| crate::process::not_a_process(pid)) {
        return Err(Failure::new(format!("{thread}; nothing was signalled")));
    }
    let names = name_match(args)?;
    let request = request(args, names.clone());
    match args.signal {
        KillSignal::Check => run_check(args, &request, names.as_ref(), output),
        KillSignal::Send(_) => run_terminate(args, &request, names.as_ref(), output),
    }
}

fn run_terminate(
    args: &KillArgs,
    request: &Request,
    names: Option<&NameMatch>,
    output: &Output,
) -> Result<u8, Failure> {
    // After a dry run or --no-wait the tree may still live and remove its
    // objects itself: nothing is known to be left.
    let live = (args.tree && !args.dry_run && !args.no_wait)
        .then(|| tree_ipc(&args.pids))
        .flatten();
    let show_progress = !args.quiet && !output.json() && std::io::stderr().is_terminal();
    let mut report = if show_progress {
        let mut line = ProgressLine::new();
        let report = terminate_observed(request, &mut |progress| line.show(progress));
        line.erase();
        report
    } else {
        terminate(request)
    }
    .map_err(failure)?;
    if let Some(mut live) = live {
        live.note(report.processes.iter().map(|p| p.pid));
        report.ipc = live.left(args.remove_ipc && report.all_ended());
    }
    let matched_nothing = names.is_some() && report.processes.is_empty();
    if args.quiet {
        quiet(&report);
    } else if output.json() {
        json(output, names, &report);
    } else if let (true, Some(names)) = (matched_nothing, names) {
        output.line(&no_match_line(names, args.user.as_deref(), hidden_note().as_deref()));
    } else {
        render(&report, output);
    }
    // A zombie leader ended while its group or session runs on: what the
    // user named is not all gone (as when the leader is already reaped,
    // which is an error).
    Ok(
        if report.all_ended() && !matched_nothing && report.left_by_leaders.is_empty() {
            exit_code::SUCCESS
        } else {
            exit_code::NEGATIVE
        },
    )
}

/// How long a wait goes unshown: a kill that is over at once never
/// flashes a line.
const PROGRESS_AFTER: Duration = Duration::from_millis(300);

/// A wait at least this long is shown as having no deadline.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The self-overwriting status line on a terminal's stderr while a kill
/// waits out its grace period; erased when done.
struct ProgressLine {
    /// When the wait was first reported: the scan and the signals before
    /// it (long on a loaded machine) do not count towards the delay.
    start: Option<Instant>,
    shown: bool,
    columns: usize,
}

impl ProgressLine {
    fn new() -> ProgressLine {
        let columns = rustix::termios::tcgetwinsize(std::io::stderr())
            .map(|size| usize::from(size.ws_col))
            .ok()
            .filter(|&c| c > 0)
            .unwrap_or(80);
        ProgressLine {
            start: None,
            shown: false,
            columns,
        }
    }

    fn show(&mut self, progress: &Progress) {
        let start = *self.start.get_or_insert_with(Instant::now);
        if start.elapsed() < PROGRESS_AFTER || progress.waiting.is_empty() {
            return;
        }
        // One column short of the width: a line that reaches the margin
        // wraps on some terminals, and \r would return to the wrong row.
        let text = progress_text(progress, self.columns.saturating_sub(1));
        let mut stderr = std::io::stderr().lock();
        if write!(stderr, "\r\x1b[K{text}").and_then(|()| stderr.flush()).is_ok() {
            self.shown = true;
        }
    }

    fn erase(&mut self) {
        if self.shown {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[K").and_then(|()| stderr.flush());
            self.shown = false;
        }
    }
}

/// `waiting for 3 of 12 processes (nginx 4242, nginx 4243, …), SIGKILL in
/// 3.2 s`, cut to `width` characters. Pure.
fn progress_text(progress: &Progress, width: usize) -> String {
    let next = match progress.next {
        NextMove::Kill => "SIGKILL in",
        NextMove::Report => "giving up in",
    };
    // `--grace inf`: the wait has no end to count down to.
    let tail = if progress.left >= FOREVER {
        "), no deadline".to_string()
    } else {
        format!("), {next} {:.1} s", progress.left.as_secs_f64())
    };
    let head = format!(
        "waiting for {} of {} (",
        progress.waiting.len(),
        count(progress.total, "process", "processes")
    );
    let mut names = String::new();
    for (index, (pid, name)) in progress.waiting.iter().enumerate() {
        let item = format!("{}{} {pid}", if index == 0 { "" } else { ", " }, escape(name));
        let rest = progress.waiting.len() - index - 1;
        let more = if rest == 0 { 0 } else { 3 };
        if (head.chars().count() + names.chars().count() + item.chars().count() + more + tail.chars().count()) > width {
            names.push_str(if index == 0 { "…" } else { ", …" });
            break;
        }
        names.push_str(&item);
    }
    let line = format!("{head}{names}{tail}");
    line.chars().take(width).collect()
}

/// `--signal 0`: who exists and may be signalled; nothing is sent.
fn run_check(args: &KillArgs, request: &Request, names: Option<&NameMatch>, output: &Output) -> Result<u8, Failure> {
    let report = check(request).map_err(failure)?;
    let matched_nothing = names.is_some() && report.processes.is_empty();
    if args.quiet {
        // The exit code says it all.
    } else if output.json() {
        json(output, names, &report);
    } else if let (true, Some(names)) = (matched_nothing, names) {
        output.line(&no_match_line(names, args.user.as_deref(), hidden_note().as_deref()));
    } else {
        render_check(&report, output);
    }
    Ok(if report.all_signalable() {
        exit_code::SUCCESS
    } else {
        exit_code::NEGATIVE
    })
}

fn failure(error: TerminateError) -> Failure {
    match error {
        TerminateError::Select(e) => Failure::new(format!("{e}; nothing was signalled")),
        other => Failure::new(other),
    }
}

/// The `--json` document: with `--name`, what was matched first.
fn json<T: Serialize>(output: &Output, names: Option<&NameMatch>, report: &T) {
    match names {
        Some(names) => output.json_document(&ByName {
            name_match: NameJson::of(names),
            report,
        }),
        None => output.json_document(report),
    }
}

fn render_check(report: &CheckReport, output: &Output) {
    let rows: Vec<[String; 3]> = report
        .processes
        .iter()
        .map(|p| {
            [
                p.pid.to_string(),
                p.name
                    .as_deref()
                    .map_or_else(|| "-".to_string(), |n| escape(n).into_owned()),
                liveness(p.result, output),
            ]
        })
        .collect();
    let width = |i: usize, header: &str| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0, "PID"), width(1, "NAME"));
    output.line(&output.paint(Style::Bold, &format!("{:>w0$}  {:<w1$}  CHECK", "PID", "NAME")));
    for row in &rows {
        output.line(&format!("{:>w0$}  {:<w1$}  {}", row[0], row[1], row[2]));
    }
    let s = &report.summary;
    let verdict = if report.all_signalable() {
        output.paint(Style::Good, "every target runs and may be signalled")
    } else {
        output.paint(
            Style::Bad,
            &format!("{} of {} run and may be signalled", s.signalable, s.processes),
        )
    };
    let exist = if s.existing == 1 { "exists" } else { "exist" };
    output.line(&format!(
        "{verdict}: {} checked, {} {exist}; signal 0 sends nothing",
        count(s.processes, "process", "processes"),
        s.existing
    ));
}

/// A check's answer in words. Pure but for the colors.
fn liveness(result: Liveness, output: &Output) -> String {
    match result {
        Liveness::Signalable => output.paint(Style::Good, "running; may be signalled"),
        Liveness::PermissionDenied => output.paint(
            Style::Bad,
            "running; may NOT be signalled (EPERM: another user's process, and afterlife lacks CAP_KILL)",
        ),
        Liveness::Zombie => output.paint(Style::Warn, "exited; a zombie until its parent reaps it"),
        Liveness::Gone => output.paint(
            Style::Dim,
            "no such process (it never existed, or it ended and was reaped)",
        ),
    }
}

/// `--name`, `--exact` and `--user` as a [`NameMatch`].
fn name_match(args: &KillArgs) -> Result<Option<NameMatch>, Failure> {
    let Some(pattern) = &args.name else {
        if args.exact || args.user.is_some() {
            return Err(Failure::new("--exact and --user select by name: give --name PATTERN"));
        }
        return Ok(None);
    };
    let uid = args
        .user
        .as_deref()
        .map(resolve_user)
        .transpose()
        .map_err(|e| Failure::new(format!("--user: {e}")))?;
    // Every user outside afterlife's user namespace reads as the overflow
    // ID there: its processes are not that user's alone.
    if let Some(uid) = uid
        && Some(uid) == crate::process::unmapped_overflow_uid()
    {
        return Err(Failure::new(format!(
            "--user: UID {uid} is the overflow ID, which afterlife's user namespace does not map: every user outside the namespace reads as it here, so that user's processes cannot be told apart (run afterlife outside the user namespace)"
        )));
    }
    NameMatch::new(pattern, args.exact, uid).map(Some).map_err(Failure::new)
}

/// The `--json` report of a selection by name: what was matched, then the
/// report as for PIDs.
#[derive(Serialize)]
struct ByName<'a, T: Serialize> {
    name_match: NameJson,
    #[serde(flatten)]
    report: &'a T,
}

#[derive(Serialize)]
struct NameJson {
    pattern: String,
    exact: bool,
    uid: Option<u32>,
    /// Where /proc hides other users' processes, which were not matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    hidepid: Option<String>,
}

impl NameJson {
    fn of(names: &NameMatch) -> NameJson {
        NameJson {
            pattern: names.pattern().to_string(),
            exact: names.exact(),
            uid: names.uid,
            hidepid: hidden_note(),
        }
    }
}

/// The `hidepid` of a /proc that hides other users' processes from
/// afterlife (which does not see through it): they may match unseen.
fn hidden_note() -> Option<String> {
    crate::proc::mountinfo::proc_hides_others()
}

/// `no process matched ...`, saying what was looked for; `hidepid`: that
/// of [`hidden_note`], where /proc hides processes. Pure.
fn no_match_line(names: &NameMatch, user: Option<&str>, hidepid: Option<&str>) -> String {
    let how = if names.exact() {
        "named exactly"
    } else {
        "with a name matching"
    };
    let whose = match (user, names.uid) {
        (Some(user), Some(uid)) if user != uid.to_string() => format!(" of user {} (uid {uid})", escape(user)),
        (_, Some(uid)) => format!(" of uid {uid}"),
        _ => String::new(),
    };
    // As pgrep warns: the kernel keeps 15 bytes of a name.
    let long = if names.pattern().trim_matches(['^', '$']).len() > 15 {
        "; a process name (comm) is at most 15 characters, so a longer pattern may match nothing"
    } else {
        ""
    };
    let hidden = hidepid.map_or_else(String::new, |hidepid| {
        format!(
            "; /proc is mounted with hidepid={}, which hides other users' processes: one of them may match \
             (run as root, or with CAP_SYS_PTRACE, to see them)",
            escape(hidepid)
        )
    });
    format!(
        "no process matched: none {how} /{}/{whose} (afterlife and its ancestors are never selected); \
         nothing was signalled{long}{hidden}",
        escape(names.pattern())
    )
}

/// `-q`: nothing when every target ended; otherwise one line on stderr for
/// each process still alive, with the reason.
fn quiet(report: &TerminationReport) {
    for line in survivor_lines(report) {
        stderr_line(&format!("afterlife: {line}"));
    }
    for left in &report.left_by_leaders {
        stderr_line(&format!("afterlife: {}", left.describe()));
    }
}

/// One line per process still alive that counts as a survivor (refused
/// ones included; not those left unwaited by --no-wait). Pure.
fn survivor_lines(report: &TerminationReport) -> Vec<String> {
    report
        .processes
        .iter()
        .filter_map(|p| match &p.outcome {
            Outcome::Alive {
                reason: SurvivorReason::NotWaited,
                ..
            } => None,
            Outcome::Alive { reason, .. } => Some(format!(
                "{} {} is still alive: {}",
                p.pid,
                escape(p.title.as_deref().unwrap_or(&p.name)),
                escape(&reason.describe())
            )),
            _ => None,
        })
        .collect()
}

fn request(args: &KillArgs, names: Option<NameMatch>) -> Request {
    let scope = if args.tree {
        Scope::Tree
    } else if args.session {
        Scope::Session
    } else if args.pgroup {
        Scope::Pgroup
    } else {
        Scope::Pids
    };
    Request {
        pids: args.pids.clone(),
        names,
        scope,
        plan: TerminationPlan {
            signal: match args.signal {
                KillSignal::Send(signal) => signal,
                // Not sent: a check uses only the selection.
                KillSignal::Check => TerminationPlan::default().signal,
            },
            grace: args.grace,
            escalate: !args.no_escalate,
            wait: !args.no_wait,
            ..TerminationPlan::default()
        }
        .carried_out(),
        force: args.force,
        dry_run: args.dry_run,
        use_cgroup: !args.no_cgroup,
    }
}

fn render(report: &TerminationReport, output: &Output) {
    let mut cells = Cells::with_rows(report.processes.len());
    for p in &report.processes {
        let _ = write!(cells.text, "{}", p.pid);
        cells.end();
        cells.text.push_str(&escape(p.title.as_deref().unwrap_or(&p.name)));
        cells.end();
        write_sent(&mut cells.text, p);
        cells.end();
        write_result(&mut cells.text, p, report, output);
        cells.end();
    }
    let header = ["PID", "NAME", "SENT", if report.dry_run { "PLAN" } else { "RESULT" }];
    let rows = report.processes.len();
    let width = |column: usize| {
        (0..rows)
            .map(|row| cells.get(row * 4 + column).chars().count())
            .chain([header[column].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    output.line(&output.paint(
        Style::Bold,
        &format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {}",
            header[0], header[1], header[2], header[3]
        ),
    ));
    // The rows as one block: a thousand members are one write, not a
    // thousand (stdout is line-buffered).
    let mut block = String::with_capacity(cells.text.len() + rows * (w0 + w1 + w2 + 8));
    for row in 0..rows {
        if row > 0 {
            block.push('\n');
        }
        let cell = |column| cells.get(row * 4 + column);
        let _ = write!(
            block,
            "{:>w0$}  {:<w1$}  {:<w2$}  {}",
            cell(0),
            cell(1),
            cell(2),
            cell(3)
        );
    }
    if rows > 0 {
        output.line(&block);
    }
    output.line(&summary(report, output));
    for left in &report.left_by_leaders {
        output.line(&format!("{}: {}", output.paint(Style::Warn, "note"), left.describe()));
    }
    render_ipc(report, output);
    for process in &report.processes {
        if let Some(diagnosis) = &process.diagnosis {
            output.line(&format!("why {}", escape(&diagnosis.summary())));
        }
    }
}

/// A table's cells in one buffer, cell `i` being `text[ends[i - 1]..ends[i]]`:
/// the table of a thousand members is written into one string, not four
/// thousand. It is printed right after the last member died, where its
/// cost is part of how long the command takes to return.
struct Cells {
    text: String,
    ends: Vec<usize>,
}

impl Cells {
    fn with_rows(rows: usize) -> Cells {
        Cells {
            text: String::with_capacity(rows * 96),
            ends: Vec::with_capacity(rows * 4),
        }
    }

    /// Ends the cell being written.
    fn end(&mut self) {
        self.ends.push(self.text.len());
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// The signals sent, without their `SIG` (`TERM,KILL`), or `-`.
fn write_sent(out: &mut String, process: &ProcessReport) {
    if process.sent.is_empty() {
        out.push('-');
    }
    for (i, signal) in process.sent.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&signal.short_name());
    }
}

/// ` after 54ms`, or nothing.
fn write_seconds(out: &mut String, after: Option<f64>) {
    if let Some(s) = after {
        let _ = write!(out, " after {}", format_duration(Duration::from_secs_f64(s)));
    }
}

/// ` (killed by SIGKILL, $? = 137)`, or nothing.
fn write_status(out: &mut String, status: &Option<EndingReport>) {
    if let Some(EndingReport::Known { views, .. }) = status {
        let _ = write!(out, " ({}, $? = {})", views.status, views.shell_code);
    }
}

fn write_result(out: &mut String, process: &ProcessReport, report: &TerminationReport, output: &Output) {
    match &process.outcome {
        Outcome::WouldSignal => {
            let _ = write!(out, "would send {}", report.plan.signal);
            if report.plan.wait && report.plan.escalate && !report.plan.starts_with_kill() {
                let _ = write!(out, ", then SIGKILL after {}", format_duration(report.plan.grace));
            }
        }
        Outcome::Ended {
            by: EndedBy::BeforeSignal,
            unreaped_by: Some(reaper),
            status: ending,
            ..
        } => {
            match ending.as_ref().and_then(EndingReport::status) {
                Some(status) => output.paint_fmt(out, Style::Dim, format_args!("already {status}")),
                None => output.paint_fmt(out, Style::Dim, format_args!("already exited")),
            }
            let _ = write!(out, "; a zombie until {}", escape(&reaper.describe()));
        }
        Outcome::Ended {
            by,
            after_seconds,
            status: ending,
            unreaped_by,
        } => {
            write_ended(out, process, *by, *after_seconds, ending, report, output);
            // Ended, and still there: its parent (or tracer) has not
            // collected its status yet.
            if let Some(reaper) = unreaped_by {
                let _ = write!(out, "; a zombie until {}", escape(&reaper.describe()));
            }
        }
        Outcome::Alive { state, reason } => {
            match reason {
                SurvivorReason::Refused { .. } => output.paint_fmt(out, Style::Warn, format_args!("refused")),
                SurvivorReason::NotWaited => output.paint_fmt(out, Style::Dim, format_args!("signalled")),
                _ => output.paint_fmt(out, Style::Bad, format_args!("ALIVE")),
            }
            if let Some(state) = state {
                let _ = write!(out, " [{}]", state.letter());
            }
            match reason {
                SurvivorReason::NotWaited if !ends_by_default(report.plan.signal) => {
                    let _ = write!(
                        out,
                        ": not waited for ({} does not end a process by default)",
                        report.plan.signal
                    );
                }
                _ => {
                    let _ = write!(out, ": {}", escape(&reason.describe()));
                }
            }
            if matches!(reason, SurvivorReason::Refused { .. }) && process.named && report.scope == Scope::Tree {
                out.push_str("; its tree was not walked from it (a descendant is ended only if named on its own)");
            }
        }
    }
}

/// How a process that ended did: `ended on SIGTERM after 2ms (killed by
/// SIGTERM, $? = 143)`, `needed SIGKILL ...`, `killed by SIGINT ...`.
fn write_ended(
    out: &mut String,
    process: &ProcessReport,
    by: EndedBy,
    after_seconds: Option<f64>,
    ending: &Option<EndingReport>,
    report: &TerminationReport,
    output: &Output,
) {
    // A process that exited with a code after the signal handled it,
    // or ignored it and ended on its own: it did not die of it.
    let exited = ending
        .as_ref()
        .and_then(EndingReport::status)
        .is_some_and(|s| matches!(s, ExitStatus::Exited { .. }));
    let signal = report.plan.signal;
    if by == EndedBy::Signal && exited {
        match after_seconds {
            Some(s) => {
                let when = format_duration(Duration::from_secs_f64(s));
                output.paint_fmt(out, Style::Good, format_args!("exited {when} after {signal}"));
            }
            None => output.paint_fmt(out, Style::Good, format_args!("exited after {signal}")),
        }
        write_status(out, ending);
        return;
    }
    match by {
        EndedBy::Signal => output.paint_fmt(out, Style::Good, format_args!("ended on {signal}")),
        // SIGKILL was the signal asked for: nothing was escalated.
        EndedBy::Kill if report.plan.starts_with_kill() => {
            output.paint_fmt(out, Style::Good, format_args!("ended on SIGKILL"))
        }
        EndedBy::Kill => output.paint_fmt(out, Style::Warn, format_args!("needed SIGKILL")),
        EndedBy::BeforeSignal => output.paint_fmt(out, Style::Dim, format_args!("had already exited")),
        EndedBy::OtherSignal => {
            write_other_signal(out, process, after_seconds, ending, signal, output);
            return;
        }
    }
    write_seconds(out, after_seconds);
    write_status(out, ending);
}

fn write_other_signal(
    out: &mut String,
    process: &ProcessReport,
    after_seconds: Option<f64>,
    ending: &Option<EndingReport>,
    first: crate::signal::Signal,
    output: &Output,
) {
    let first = process.sent.first().copied().unwrap_or(first);
    let Some(EndingReport::Known { views, .. }) = ending else {
        output.paint_fmt(
            out,
            Style::Warn,
            format_args!("killed by a signal afterlife did not send"),
        );
        return;
    };
    let (killer, core) = match &views.status {
        ExitStatus::Signaled { signal, core_dumped } => (signal.to_string(), *core_dumped),
        ExitStatus::Exited { code } => (format!("exit code {code}"), false),
    };
    output.paint_fmt(out, Style::Warn, format_args!("killed by {killer}"));
    match after_seconds {
        Some(s) => {
            let _ = write!(out, " {} after {first}", format_duration(Duration::from_secs_f64(s)));
        }
        None => {
            let _ = write!(out, " after {first}");
        }
    }
    let core = if core { "; core dumped" } else { "" };
    let _ = write!(out, " (not a signal afterlife sent{core}; $? = {})", views.shell_code);
}

fn summary(report: &TerminationReport, output: &Output) -> String {
    let s = &report.summary;
    if report.dry_run {
        let would = report
            .processes
            .iter()
            .filter(|p| matches!(p.outcome, Outcome::WouldSignal))
            .count();
        let denied = report
            .processes
            .iter()
            .filter(|p| {
                matches!(
                    p.outcome,
                    Outcome::Alive {
                        reason: SurvivorReason::PermissionDenied,
                        ..
                    }
                )
            })
            .count();
        let denied = match denied {
            0 => String::new(),
            n => format!(", {n} may not be signalled (EPERM)"),
        };
        return format!(
            "dry run: {} would be signalled, {} refused{denied}; nothing was sent",
            count(would, "process", "processes"),
            s.refused
        );
    }
    let signalled = report.processes.iter().any(|p| !p.sent.is_empty());
    let containment = match &report.containment {
        Containment::Cgroup {
            path,
            left_frozen: false,
        } => format!("; cgroup {} (cgroup.freeze, cgroup.kill)", escape(path)),
        Containment::Cgroup {
            path,
            left_frozen: true,
        } => format!(
            "; cgroup {} (cgroup.kill), frozen before afterlife came and left frozen: a process that handles the signal cannot run its handler until the cgroup is thawed",
            escape(path)
        ),
        Containment::Freeze { stopped, walks: 0 } => {
            format!("; stopped {} first", count(*stopped, "process", "processes"))
        }
        Containment::Freeze { stopped, walks } => format!(
            "; stopped {} first ({} until nothing new appeared)",
            count(*stopped, "process", "processes"),
            count(*walks, "walk", "walks")
        ),
        Containment::None if signalled => "; signals sent as they are".to_string(),
        Containment::None => "; nothing was signalled".to_string(),
    };
    let not_waited = report.processes.iter().any(|p| {
        matches!(
            p.outcome,
            Outcome::Alive {
                reason: SurvivorReason::NotWaited,
                ..
            }
        )
    });
    let verdict = if report.all_ended() && not_waited {
        output.paint(Style::Good, "signalled; not waited for")
    } else if report.all_ended() && !report.left_by_leaders.is_empty() {
        // The leader named is gone, but its group or session still runs.
        output.paint(Style::Warn, "every target ended; its group or session did not")
    } else if report.all_ended() {
        output.paint(Style::Good, "every target ended")
    } else {
        output.paint(Style::Bad, &format!("{} survived", s.survivors))
    };
    format!(
        "{verdict}: {}, {} ended ({} needed SIGKILL), {} refused, in {}{containment}",
        count(s.processes, "process", "processes"),
        s.ended,
        s.needed_kill,
        s.refused,
        format_duration(Duration::from_secs_f64(report.elapsed_seconds))
    )
}

/// The IPC of the trees of `pids`, read before they are signalled.
fn tree_ipc(pids: &[crate::process::Pid]) -> Option<LiveTree> {
    LiveTree::read(pids, || {
        let table = crate::process::ProcessTable::scan();
        let members: std::collections::BTreeSet<crate::process::Pid> = pids
            .iter()
            .flat_map(|&pid| std::iter::once(pid).chain(table.descendants(pid)))
            .collect();
        members.into_iter().collect()
    })
}

/// The IPC objects the tree left, each with the command that removes it.
fn render_ipc(report: &TerminationReport, output: &Output) {
    if report.ipc.is_empty() {
        return;
    }
    output.line(&format!(
        "{}: {}",
        output.paint(Style::Warn, "IPC left by the tree"),
        report.ipc.len()
    ));
    for left in &report.ipc {
        output.line(&format!("  {}", crate::cli::run::ipc_line(left)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Pid;

    fn progress(waiting: &[(i32, &str)], total: usize, next: NextMove, left_ms: u64) -> Progress {
        Progress {
            total,
            waiting: waiting
                .iter()
                .map(|&(pid, name)| (Pid::new(pid).unwrap(), name.to_string()))
                .collect(),
            next,
            left: Duration::from_millis(left_ms),
        }
    }

    #[test]
    fn no_match_says_what_was_looked_for() {
        let names = NameMatch::new("nginx", true, Some(33)).unwrap();
        assert_eq!(
            no_match_line(&names, Some("www-data"), None),
            "no process matched: none named exactly /nginx/ of user www-data (uid 33) (afterlife and its \
             ancestors are never selected); nothing was signalled"
        );
        let names = NameMatch::new("^postgres-checkpointer$", false, Some(0)).unwrap();
        assert_eq!(
            no_match_line(&names, Some("0"), None),
            "no process matched: none with a name matching /^postgres-checkpointer$/ of uid 0 (afterlife and \
             its ancestors are never selected); nothing was signalled; a process name (comm) is at most 15 \
             characters, so a longer pattern may match nothing"
        );
        let names = NameMatch::new("sleep", false, None).unwrap();
        assert!(no_match_line(&names, None, Some("invisible")).ends_with(
            "nothing was signalled; /proc is mounted with hidepid=invisible, which hides other users' \
                 processes: one of them may match (run as root, or with CAP_SYS_PTRACE, to see them)"
        ));
    }

    #[test]
    fn the_progress_line_says_who_is_left_and_what_comes_next() {
        let p = progress(&[(4242, "nginx"), (4243, "nginx")], 12, NextMove::Kill, 3_240);
        assert_eq!(
            progress_text(&p, 200),
            "waiting for 2 of 12 processes (nginx 4242, nginx 4243), SIGKILL in 3.2 s"
        );
        let p = progress(&[(7, "sleep")], 1, NextMove::Report, 950);
        assert_eq!(
            progress_text(&p, 200),
            "waiting for 1 of 1 process (sleep 7), giving up in 0.9 s"
        );
        let mut p = progress(&[(7, "sleep")], 1, NextMove::Kill, 0);
        p.left = Duration::MAX;
        assert_eq!(
            progress_text(&p, 200),
            "waiting for 1 of 1 process (sleep 7), no deadline"
        );
    }

    #[test]
    fn the_progress_line_fits_the_terminal() {
        let p = progress(
            &[(4242, "nginx"), (4243, "nginx"), (4244, "nginx")],
            12,
            NextMove::Kill,
            3_240,
        );
        let line = progress_text(&p, 63);
        assert_eq!(line, "waiting for 3 of 12 processes (nginx 4242, …), SIGKILL in 3.2 s");
        assert_eq!(line.chars().count(), 63);
        let line = progress_text(&p, 62);
        assert_eq!(line, "waiting for 3 of 12 processes (…), SIGKILL in 3.2 s");
        assert_eq!(progress_text(&p, 20).chars().count(), 20);
        // Control characters in a name never reach the terminal raw.
        let p = progress(&[(5, "a\x1b[2Jb")], 1, NextMove::Kill, 1_000);
        assert!(!progress_text(&p, 200).contains('\x1b'));
    }
}
