//! `afterlife timeout`: coreutils `timeout(1)`'s options, duration syntax,
//! exit codes and messages, over the same [`Supervisor`] as `run`, so that
//! nothing the command started outlives it.
//!
//! Like coreutils it prints nothing of its own unless `-v` is given or a
//! command cannot be run.

use crate::cli::output::Output;
use crate::cli::run::{finish, split_command, summary_line};
use crate::cli::{Failure, TimeoutArgs};
use crate::supervise::Supervisor;
use crate::supervise::report::TimelineEvent;
use crate::text::escape;

pub(crate) fn run(args: &TimeoutArgs, output: &Output) -> Result<u8, Failure> {
    let (program, rest) = split_command(&args.command)?;
    let name = escape(&program.to_string_lossy()).into_owned();
    let mut supervisor = Supervisor::new(program, rest)
        .timeout(Some(args.duration))
        .signal(args.signal)
        // -k 0, as in coreutils, means no KILL.
        .grace(args.kill_after.filter(|k| !k.is_zero()))
        .preserve_status(args.preserve_status)
        .foreground(args.foreground)
        .containment(args.options.containment)
        .keep_leftovers(args.options.keep_leftovers)
        .remove_ipc(args.options.remove_ipc);
    if args.verbose {
        supervisor = supervisor.on_signal(move |event: &TimelineEvent| {
            let bare = event.signal.name();
            let bare = bare.strip_prefix("SIG").unwrap_or(&bare).to_string();
            eprintln!("afterlife: sending signal {bare} to command '{name}'");
        });
    }
    let report = supervisor.run().map_err(|e| Failure {
        message: e.to_string(),
        code: e.exit_code(),
    })?;
    let summary = args.verbose && (!report.leftovers.is_empty() || !report.ipc.is_empty());
    if summary && !args.options.report && !output.json() {
        eprintln!("afterlife: {}", summary_line(&report));
    }
    finish(&report, &args.options, output, false)
}
