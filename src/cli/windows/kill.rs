//! `kill` on Windows: text and JSON rendering of
//! [`crate::sys::windows::terminate`].

use crate::cli::output::{Output, Style};
use crate::cli::{Failure, KillArgs, KillSignal};
use crate::exit_code;
use crate::signal::Signal;
use crate::sys::windows::terminate::{KillMode, KillOptions, Member, kill};
use crate::text::escape_native as escape;

/// The Windows counterpart of a signal: TERM, INT, HUP and QUIT ask for a
/// graceful close; KILL is TerminateProcess; the others have none.
fn mode_of(signal: KillSignal) -> Result<KillMode, Failure> {
    match signal {
        KillSignal::Check => Ok(KillMode::Check),
        KillSignal::Send(Signal::KILL) => Ok(KillMode::Immediate),
        KillSignal::Send(s) if [Signal::TERM, Signal::INT, Signal::HUP, Signal::QUIT].contains(&s) => {
            Ok(KillMode::Graceful)
        }
        KillSignal::Send(s) => Err(Failure::new(format!(
            "{} has no Windows counterpart: use TERM (a graceful close, then TerminateProcess) or KILL (TerminateProcess)",
            s.name()
        ))),
    }
}

pub(crate) fn run(args: &KillArgs, output: &Output) -> Result<u8, Failure> {
    crate::cli::refuse_quiet_json(args.quiet, output)?;
    if args.name.is_some() || args.session || args.pgroup || args.remove_ipc {
        return Err(Failure::new(
            "--name, --session, --pgroup and --remove-ipc need Linux; on Windows kill takes PIDs, with --tree",
        ));
    }
    let mode = mode_of(args.signal)?;
    let options = KillOptions {
        mode,
        tree: args.tree,
        grace: args.grace,
        escalate: !args.no_escalate && !args.no_wait,
        wait: !args.no_wait,
        dry_run: args.dry_run,
        force: args.force,
    };
    let pids: Vec<u32> = args.pids.iter().map(|p| p.get().unsigned_abs()).collect();
    let report = kill(&pids, options).map_err(Failure::new)?;
    let alive = report.processes.iter().filter(|m| m.ending.is_none()).count();
    let code = match mode {
        _ if args.dry_run => exit_code::SUCCESS,
        KillMode::Check if alive == report.processes.len() => exit_code::SUCCESS,
        KillMode::Check => exit_code::NEGATIVE,
        _ if args.no_wait || report.survivors == 0 => exit_code::SUCCESS,
        _ => exit_code::NEGATIVE,
    };
    if output.json() {
        output.json_document(&report);
        return Ok(code);
    }
    for member in &report.processes {
        let line = describe(member, mode, args.dry_run, output);
        if !args.quiet {
            output.line(&line);
        } else if member.ending.is_none() && mode != KillMode::Check && !args.no_wait && !args.dry_run {
            output.error(&line);
        }
    }
    if code == exit_code::NEGATIVE && mode != KillMode::Check && !args.quiet {
        output.error(&format!(
            "{} still running",
            crate::cli::output::count(report.survivors, "process", "processes")
        ));
    }
    Ok(code)
}

fn describe(member: &Member, mode: KillMode, dry_run: bool, output: &Output) -> String {
    let name = output.paint(Style::Bold, &escape(&member.name));
    let under = member.parent.map(|p| format!(" (child of {p})")).unwrap_or_default();
    let what = if dry_run {
        "would be ended".to_string()
    } else {
        match (&member.ending, mode) {
            (None, KillMode::Check) => output.paint(Style::Good, "running"),
            (Some(e), KillMode::Check) => format!("already ended with {}", e.describe()),
            (Some(e), _) => {
                let sent = if member.sent.is_empty() {
                    "ended by itself".to_string()
                } else {
                    member.sent.join(", then ")
                };
                format!("{} ({sent}) with {}", output.paint(Style::Good, "ended"), e.describe())
            }
            (None, _) => output.paint(Style::Bad, "still running"),
        }
    };
    let graceful = match &member.graceful {
        Some(g) if g.signal == "none" && !dry_run => format!(" — no graceful close: {}", escape(&g.reason)),
        Some(g) if !dry_run && !member.sent.contains(&g.signal) && member.ending.is_some() => {
            format!(" — {} not sent: {}", g.signal, escape(&g.reason))
        }
        _ => String::new(),
    };
    format!("{} {name}{under}: {what}{graceful}", member.pid)
}
