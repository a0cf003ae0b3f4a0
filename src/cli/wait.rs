//! `afterlife wait`: text and JSON rendering of [`crate::observe::wait`].

use crate::cli::output::{Output, Style};
use crate::cli::{Failure, WaitArgs, refuse_quiet_json};
use crate::duration::format_duration;
use crate::exit_code;
use crate::observe::EndingReport;
use crate::observe::wait::{WaitOutcome, wait_for};
use crate::text::escape;

pub(crate) fn run(args: &WaitArgs, output: &Output) -> Result<u8, Failure> {
    refuse_quiet_json(args.quiet, output)?;
    // 0 means no limit, as in timeout(1).
    let timeout = args.timeout.filter(|t| !t.is_zero());
    let report = wait_for(&args.pids, timeout, |outcome| {
        if args.quiet {
            // The exit code says it.
        } else if output.json() {
            output.json_line(outcome);
        } else {
            output.line(&describe(outcome, output));
            if let Some(words) = sender_line(outcome) {
                output.line(&words);
            }
        }
    })
    .map_err(Failure::new)?;
    if report.timed_out {
        let still: Vec<&WaitOutcome> = report.processes.iter().filter(|p| p.ending.is_none()).collect();
        if args.quiet {
            // 124 says it.
        } else if output.json() {
            for outcome in &still {
                output.json_line(outcome);
            }
        } else {
            for outcome in &still {
                output.line(&format!(
                    "{} {}: {} after {}",
                    outcome.pid,
                    output.paint(Style::Bold, &escape(&outcome.name)),
                    output.paint(Style::Warn, "still running"),
                    format_duration(timeout.unwrap_or_default())
                ));
            }
        }
        return Ok(exit_code::TIMED_OUT);
    }
    // As the shell's `wait`: the status of the last PID given.
    let last = report.processes.last().and_then(|p| p.ending.as_ref());
    match last {
        Some(EndingReport::Known { views, .. }) => Ok(views.shell_code),
        Some(EndingReport::Unobservable { reason }) => Err(Failure::new(format!(
            "process {} ended, but its exit status cannot be known: {reason}",
            report.processes.last().map(|p| p.pid.get()).unwrap_or_default()
        ))),
        None => Ok(exit_code::SUCCESS),
    }
}

/// `  sent by pid 41 bash (user root) with kill(), ...` for a death by signal
/// whose sender was seen. Pure.
fn sender_line(outcome: &WaitOutcome) -> Option<String> {
    let sender = outcome.sender.as_ref()?;
    let signal = match outcome.ending.as_ref()?.status()? {
        crate::exit::ExitStatus::Signaled { signal, .. } => signal.number(),
        crate::exit::ExitStatus::Exited { .. } => return None,
    };
    Some(format!("  {}", crate::cli::deaths::sender_text(sender, signal)))
}

fn describe(outcome: &WaitOutcome, output: &Output) -> String {
    let name = output.paint(Style::Bold, &escape(&outcome.name));
    let after = outcome
        .ended_after
        .map(|s| format!(" after {}", format_duration(std::time::Duration::from_secs_f64(s))))
        .unwrap_or_default();
    match &outcome.ending {
        Some(EndingReport::Known { views, .. }) => {
            let style = if views.status.success() {
                Style::Good
            } else {
                Style::Bad
            };
            format!(
                "{} {name}: {}{after} ($? = {}, wait status {:#06x}) — {}",
                outcome.pid,
                output.paint(style, &views.status.to_string()),
                views.shell_code,
                views.wait_status,
                views.meaning
            )
        }
        Some(EndingReport::Unobservable { reason }) => format!(
            "{} {name}: {}{after}; exit status not observable: {reason}",
            outcome.pid,
            output.paint(Style::Warn, "ended")
        ),
        None => format!("{} {name}: still running", outcome.pid),
    }
}
