//! `afterlife timeout`: coreutils `timeout(1)`'s options, duration syntax,
//! exit codes and messages, over the same [`Supervisor`] as `run`, so that
//! nothing the command started outlives it.
//!
//! Like coreutils it prints nothing of its own unless `-v` is given or a
//! command cannot be run; run under the name `timeout` its messages start
//! with `timeout:`.

use crate::cli::output::{Output, program_name, stderr_line};
use crate::cli::run::{ReportFile, finish, split_command, summary_line};
use crate::cli::{Failure, TimeoutArgs};
use crate::supervise::Supervisor;
use crate::supervise::report::{Target, TimelineEvent};
use crate::text::escape;

pub(crate) fn run(args: &TimeoutArgs, output: &Output) -> Result<u8, Failure> {
    let (duration, command) = args.duration_and_command()?;
    let (program, rest) = split_command(command)?;
    let report_file = ReportFile::open(&args.options)?;
    let name = escape(&program.to_string_lossy()).into_owned();
    let mut supervisor = Supervisor::new(program, rest)
        .timeout(Some(duration))
        .signal(args.signal)
        // -k 0, as in coreutils, means no KILL.
        .grace(args.kill_after.filter(|k| !k.is_zero()))
        .preserve_status(args.preserve_status)
        .foreground(args.foreground)
        .containment(args.options.containment)
        .keep_leftovers(args.options.keep_leftovers)
        .remove_ipc(args.options.remove_ipc)
        .dies_with_its_kill(true)
        .grace_after_own_death(true);
    if args.verbose {
        supervisor = supervisor.on_signal(move |event: &TimelineEvent| stderr_line(&verbose_line(event, &name)));
    }
    // A signal that comes once the command has ended is not its end.
    let held = crate::supervise::signals::HeldSignals::hold();
    let report = supervisor.run().map_err(|e| Failure {
        message: e.to_string(),
        code: e.exit_code(),
    })?;
    drop(held);
    let summary = args.verbose && (!report.leftovers.is_empty() || !report.ipc.is_empty());
    if summary && !args.options.report && !output.json() {
        stderr_line(&format!("{}: {}", program_name(), summary_line(&report)));
    }
    finish(&report, &args.options, report_file, output, false, false)
}

/// What `-v` says of one signal sent: coreutils' words for the command,
/// and what it was for leftovers (processes that outlived it), which
/// coreutils never signals.
fn verbose_line(event: &TimelineEvent, command: &str) -> String {
    let bare = event.signal.name();
    let bare = bare.strip_prefix("SIG").unwrap_or(&bare);
    let to = match event.to {
        Target::Main | Target::Group | Target::Tree => format!("command '{command}'"),
        Target::Leftovers => format!(
            "{} process{} left behind by command '{command}'",
            event.processes,
            if event.processes == 1 { "" } else { "es" }
        ),
        Target::Newcomers => format!(
            "{} process{} command '{command}' started since",
            event.processes,
            if event.processes == 1 { "" } else { "es" }
        ),
    };
    format!("{}: sending signal {bare} to {to}", program_name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Signal;
    use crate::supervise::report::Reason;

    fn event(signal: Signal, to: Target, processes: usize, reason: Reason) -> TimelineEvent {
        TimelineEvent {
            at: 0.1,
            signal,
            to,
            processes,
            reason,
        }
    }

    #[test]
    fn verbose_names_the_command_only_when_it_was_signalled() {
        assert_eq!(
            verbose_line(&event(Signal::TERM, Target::Tree, 3, Reason::Deadline), "sleep"),
            "afterlife: sending signal TERM to command 'sleep'"
        );
        assert_eq!(
            verbose_line(&event(Signal::TERM, Target::Leftovers, 1, Reason::Leftovers), "sh"),
            "afterlife: sending signal TERM to 1 process left behind by command 'sh'"
        );
        assert_eq!(
            verbose_line(
                &event(Signal::KILL, Target::Leftovers, 2, Reason::LeftoversGraceExpired),
                "sh"
            ),
            "afterlife: sending signal KILL to 2 processes left behind by command 'sh'"
        );
    }
}
