//! `afterlife kill`: text and JSON rendering of [`crate::terminate`].

use std::time::Duration;

use crate::cli::output::{Output, Style, count};
use crate::cli::{Failure, KillArgs};
use crate::duration::format_duration;
use crate::exit_code;
use crate::observe::EndingReport;
use crate::resources::ipc_left::LiveTree;
use crate::terminate::plan::TerminationPlan;
use crate::terminate::report::{Containment, EndedBy, Outcome, ProcessReport, SurvivorReason, TerminationReport};
use crate::terminate::{Request, Scope, TerminateError, terminate};
use crate::text::escape;

pub(crate) fn run(args: &KillArgs, output: &Output) -> Result<u8, Failure> {
    let request = request(args);
    // After a dry run or --no-wait the tree may still live and remove its
    // objects itself: nothing is known to be left.
    let live = (args.tree && !args.dry_run && !args.no_wait)
        .then(|| tree_ipc(&args.pids))
        .flatten();
    let mut report = terminate(&request).map_err(|error| match error {
        TerminateError::Select(e) => Failure::new(format!("{e}; nothing was signalled")),
        other => Failure::new(other),
    })?;
    if let Some(mut live) = live {
        live.note(report.processes.iter().map(|p| p.pid));
        report.ipc = live.left(args.remove_ipc && report.all_ended());
    }
    if output.json() {
        output.json_document(&report);
    } else {
        render(&report, output);
    }
    Ok(if report.all_ended() {
        exit_code::SUCCESS
    } else {
        exit_code::NEGATIVE
    })
}

fn request(args: &KillArgs) -> Request {
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
        scope,
        plan: TerminationPlan {
            signal: args.signal,
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
    render_ipc(report, output);
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
