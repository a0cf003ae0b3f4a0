//! `why` on Windows: text and JSON rendering of
//! [`crate::sys::windows::resist`].

use crate::cli::finding::{FindingText, render_finding};
use crate::cli::output::{Output, Style};
use crate::cli::{Failure, WhyArgs, refuse_quiet_json};
use crate::exit_code;
use crate::sys::windows::resist::{Effect, FindingKind, WindowsDiagnosis};
use crate::sys::windows::resist_gather::diagnose;
use crate::text::escape_native as escape;

pub(crate) fn run(args: &WhyArgs, output: &Output) -> Result<u8, Failure> {
    refuse_quiet_json(args.quiet, output)?;
    let diagnosis = diagnose(args.pid.get().unsigned_abs()).map_err(Failure::new)?;
    if args.quiet {
        output.line(&verdict(&diagnosis, output));
    } else if output.json() {
        output.json_document(&diagnosis);
    } else {
        render(&diagnosis, output);
    }
    Ok(exit_code::SUCCESS)
}

/// The first line: the process, its state, and what TerminateProcess would do.
fn verdict(diagnosis: &WindowsDiagnosis, output: &Output) -> String {
    let style = match diagnosis.terminate_process {
        Effect::EndsIt => Style::Good,
        _ => Style::Bad,
    };
    format!(
        "{} {}: {} — {}",
        diagnosis.pid,
        output.paint(Style::Bold, &escape(&diagnosis.name)),
        diagnosis.state,
        output.paint(style, diagnosis.terminate_process.describe())
    )
}

fn render(diagnosis: &WindowsDiagnosis, output: &Output) {
    output.line(&verdict(diagnosis, output));
    if let Some(image) = &diagnosis.image {
        output.line(&format!("  {} {}", output.paint(Style::Dim, "image:"), escape(image)));
    }
    if diagnosis.threads > 1 {
        output.line(&format!(
            "  {} {}",
            output.paint(Style::Dim, "threads:"),
            diagnosis.threads
        ));
    }
    for (index, finding) in diagnosis.findings.iter().enumerate() {
        let style = match (finding.kind, finding.terminate_process) {
            (FindingKind::Running, _) => Style::Good,
            (_, Effect::EndsIt) => Style::Warn,
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
    output.line(&output.paint(Style::Bold, "what each way of ending it would do now:"));
    for outcome in &diagnosis.endings {
        output.line(&format!(
            "  {:<17} {:<14} {}",
            outcome.how,
            outcome.handling,
            escape(&outcome.effect)
        ));
    }
}
