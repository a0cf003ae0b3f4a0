//! `afterlife kill`: text and JSON rendering of [`crate::terminate`].

use std::time::Duration;

use serde::Serialize;

use crate::cli::output::{Output, Style, count};
use crate::cli::{Failure, KillArgs, KillSignal};
use crate::duration::format_duration;
use crate::exit_code;
use crate::observe::EndingReport;
use crate::terminate::check::{CheckReport, Liveness, check};
use crate::terminate::plan::TerminationPlan;
use crate::terminate::report::{Containment, EndedBy, Outcome, ProcessReport, SurvivorReason, TerminationReport};
use crate::terminate::select::{NameMatch, resolve_user};
use crate::terminate::{Request, Scope, TerminateError, terminate};
use crate::text::escape;

pub(crate) fn run(args: &KillArgs, output: &Output) -> Result<u8, Failure> {
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
    let report = terminate(request).map_err(failure)?;
    let matched_nothing = names.is_some() && report.processes.is_empty();
    if args.quiet {
        quiet(&report);
    } else if output.json() {
        json(output, names, &report);
    } else if let (true, Some(names)) = (matched_nothing, names) {
        output.line(&no_match_line(names, args.user.as_deref()));
    } else {
        render(&report, output);
    }
    Ok(if report.all_ended() && !matched_nothing {
        exit_code::SUCCESS
    } else {
        exit_code::NEGATIVE
    })
}

/// `--signal 0`: who exists and may be signalled; nothing is sent.
fn run_check(args: &KillArgs, request: &Request, names: Option<&NameMatch>, output: &Output) -> Result<u8, Failure> {
    let report = check(request).map_err(failure)?;
    let matched_nothing = names.is_some() && report.processes.is_empty();
    if args.quiet {
    } else if output.json() {
        json(output, names, &report);
    } else if let (true, Some(names)) = (matched_nothing, names) {
        output.line(&no_match_line(names, args.user.as_deref()));
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
}

impl NameJson {
    fn of(names: &NameMatch) -> NameJson {
        NameJson {
            pattern: names.pattern().to_string(),
            exact: names.exact(),
            uid: names.uid,
        }
    }
}

/// `no process matched ...`, saying what was looked for. Pure.
fn no_match_line(names: &NameMatch, user: Option<&str>) -> String {
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
    format!(
        "no process matched: none {how} /{}/{whose} (afterlife and its ancestors are never selected); \
         nothing was signalled",
        escape(names.pattern())
    )
}

/// `-q`: nothing when every target ended; otherwise one line on stderr for
/// each process still alive, with the reason.
fn quiet(report: &TerminationReport) {
    for line in survivor_lines(report) {
        eprintln!("afterlife: {line}");
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
        },
        force: args.force,
        dry_run: args.dry_run,
        use_cgroup: !args.no_cgroup,
    }
}

fn render(report: &TerminationReport, output: &Output) {
    let rows: Vec<[String; 4]> = report
        .processes
        .iter()
        .map(|p| {
            [
                p.pid.to_string(),
                escape(p.title.as_deref().unwrap_or(&p.name)).into_owned(),
                sent(p),
                result(p, report, output),
            ]
        })
        .collect();
    let header = ["PID", "NAME", "SENT", if report.dry_run { "PLAN" } else { "RESULT" }];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
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
    for row in &rows {
        output.line(&format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {}",
            row[0], row[1], row[2], row[3]
        ));
    }
    output.line(&summary(report, output));
    for process in &report.processes {
        if let Some(diagnosis) = &process.diagnosis {
            output.line(&format!("why {}", escape(&diagnosis.summary())));
        }
    }
}

fn sent(process: &ProcessReport) -> String {
    if process.sent.is_empty() {
        "-".to_string()
    } else {
        process
            .sent
            .iter()
            .map(|s| s.name().trim_start_matches("SIG").to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn seconds(after: Option<f64>) -> String {
    after
        .map(|s| format!(" after {}", format_duration(Duration::from_secs_f64(s))))
        .unwrap_or_default()
}

fn status(status: &Option<EndingReport>) -> String {
    match status {
        Some(EndingReport::Known { views, .. }) => format!(" ({}, $? = {})", views.status, views.shell_code),
        Some(EndingReport::Unobservable { .. }) | None => String::new(),
    }
}

fn result(process: &ProcessReport, report: &TerminationReport, output: &Output) -> String {
    match &process.outcome {
        Outcome::WouldSignal => {
            let mut plan = format!("would send {}", report.plan.signal);
            if report.plan.wait && report.plan.escalate && !report.plan.starts_with_kill() {
                plan.push_str(&format!(", then SIGKILL after {}", format_duration(report.plan.grace)));
            }
            plan
        }
        Outcome::Ended {
            unreaped_by: Some(reaper),
            status: ending,
            ..
        } => {
            let how = match ending.as_ref().and_then(EndingReport::status) {
                Some(status) => format!("already {status}"),
                None => "already exited".to_string(),
            };
            format!(
                "{}; a zombie until {}",
                output.paint(Style::Dim, &how),
                escape(&reaper.describe())
            )
        }
        Outcome::Ended {
            by,
            after_seconds,
            status: ending,
            ..
        } => {
            let how = match by {
                EndedBy::Signal => output.paint(Style::Good, &format!("ended on {}", report.plan.signal)),
                EndedBy::Kill => output.paint(Style::Warn, "needed SIGKILL"),
                EndedBy::BeforeSignal => output.paint(Style::Dim, "had already exited"),
            };
            format!("{how}{}{}", seconds(*after_seconds), status(ending))
        }
        Outcome::Alive { state, reason } => {
            let label = match reason {
                SurvivorReason::Refused { .. } => output.paint(Style::Warn, "refused"),
                SurvivorReason::NotWaited => output.paint(Style::Dim, "signalled"),
                _ => output.paint(Style::Bad, "ALIVE"),
            };
            let state = state.map(|s| format!(" [{}]", s.letter())).unwrap_or_default();
            format!("{label}{state}: {}", escape(&reason.describe()))
        }
    }
}

fn summary(report: &TerminationReport, output: &Output) -> String {
    let s = &report.summary;
    if report.dry_run {
        let would = report
            .processes
            .iter()
            .filter(|p| matches!(p.outcome, Outcome::WouldSignal))
            .count();
        return format!(
            "dry run: {} would be signalled, {} refused; nothing was sent",
            count(would, "process", "processes"),
            s.refused
        );
    }
    let signalled = report.processes.iter().any(|p| !p.sent.is_empty());
    let containment = match &report.containment {
        Containment::Cgroup { path } => format!("; cgroup {} (cgroup.freeze, cgroup.kill)", escape(path)),
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
