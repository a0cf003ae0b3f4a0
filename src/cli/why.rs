//! `afterlife why`: text and JSON rendering of [`crate::resist::diagnose`].

use crate::cli::finding::{FindingText, render_finding};
use crate::cli::output::{Output, Style};
use crate::cli::{Failure, WhyArgs, refuse_quiet_json};
use crate::exit_code;
use crate::resist::{Diagnosis, FindingKind, KillEffect, diagnose_pid};
use crate::text::{display_command_line, escape};

pub(crate) fn run(args: &WhyArgs, output: &Output) -> Result<u8, Failure> {
    refuse_quiet_json(args.quiet, output)?;
    let diagnosis = diagnose_pid(args.pid).map_err(Failure::new)?;
    if args.quiet {
        output.line(&verdict(&diagnosis, output));
    } else if output.json() {
        output.json_document(&diagnosis);
    } else {
        render(&diagnosis, output);
    }
    Ok(exit_code::SUCCESS)
}

/// The first line: the process, its state, and what SIGKILL would do.
fn verdict(diagnosis: &Diagnosis, output: &Output) -> String {
    let verdict_style = match diagnosis.sigkill {
        KillEffect::EndsIt => Style::Good,
        KillEffect::Delayed => Style::Warn,
        _ => Style::Bad,
    };
    format!(
        "{} {}: {} — {}",
        diagnosis.pid,
        output.paint(Style::Bold, &escape(&diagnosis.name)),
        diagnosis.state,
        output.paint(verdict_style, diagnosis.sigkill.describe())
    )
}

fn render(diagnosis: &Diagnosis, output: &Output) {
    output.line(&verdict(diagnosis, output));
    if !diagnosis.command_line.is_empty() {
        output.line(&format!(
            "  {} {}",
            output.paint(Style::Dim, "command:"),
            display_command_line(&diagnosis.command_line)
        ));
    }
    if diagnosis.threads > 1 {
        output.line(&format!(
            "  {} {}",
            output.paint(Style::Dim, "threads:"),
            diagnosis.threads
        ));
    }
    for (index, finding) in diagnosis.findings.iter().enumerate() {
        let style = match (finding.kind, finding.sigkill) {
            (FindingKind::Running, _) => Style::Good,
            (FindingKind::SignalsPending, _) => Style::Dim,
            (_, KillEffect::EndsIt) => Style::Warn,
            _ => Style::Bad,
        };
        render_finding(
            output,
            index + 1,
            style,
            FindingText {
                title: &finding.title,
                explanation: &finding.explanation,
                evidence: &finding.evidence,
                next_step: &finding.next_step,
            },
        );
    }
    output.line("");
    output.line(&output.paint(Style::Bold, "what each signal would do now:"));
    for outcome in &diagnosis.signals {
        output.line(&format!(
            "  {:<8} {:<13} {}",
            outcome.signal.name(),
            outcome.handling,
            escape(&outcome.effect)
        ));
    }
}
