//! `run` and `timeout` on Windows: text and JSON rendering of
//! [`crate::sys::windows::supervise`], and the exit codes of timeout(1).

use std::ffi::OsString;
use std::time::Duration;

use crate::cli::output::Output;
use crate::cli::{Failure, RunArgs, SuperviseOptions as CliOptions, TimeoutArgs};
use crate::exit_code;
use crate::signal::Signal;
use crate::sys::ContainmentChoice;
use crate::sys::windows::supervise::{RunError, RunReport, SuperviseOptions, supervise};

pub(crate) mod run {
    pub(crate) use super::run_command as run;
}

pub(crate) mod timeout {
    pub(crate) use super::timeout_command as run;
}

pub(crate) fn run_command(args: &RunArgs, output: &Output) -> Result<u8, Failure> {
    if args.foreground || args.fail_on_leftovers || args.tmpdir || !args.dirs.is_empty() || args.options.remove_ipc {
        return Err(Failure::new(
            "--foreground, --fail-on-leftovers, --tmpdir, --dir and --remove-ipc need Linux",
        ));
    }
    let options = options(
        args.timeout.filter(|t| !t.is_zero()),
        args.signal,
        args.grace,
        &args.options,
    )?;
    let report = start(&args.command, &options)?;
    finish(
        &report,
        args.preserve_status,
        !args.quiet || args.options.report,
        &args.options,
        output,
    )
}

pub(crate) fn timeout_command(args: &TimeoutArgs, output: &Output) -> Result<u8, Failure> {
    let (duration, command) = args.duration_and_command()?;
    let grace = args.kill_after.unwrap_or(Duration::ZERO);
    let options = options(
        Some(duration).filter(|d| !d.is_zero()),
        args.signal,
        grace,
        &args.options,
    )?;
    let report = start(command, &options)?;
    finish(
        &report,
        args.preserve_status,
        args.verbose || args.options.report,
        &args.options,
        output,
    )
}

fn options(
    timeout: Option<Duration>,
    signal: Signal,
    grace: Duration,
    cli: &CliOptions,
) -> Result<SuperviseOptions, Failure> {
    if cli.containment != ContainmentChoice::Auto {
        return Err(Failure::new(
            "--containment cgroup, pidns and subreaper need Linux; on Windows the command runs in a job object",
        ));
    }
    Ok(SuperviseOptions {
        timeout,
        graceful: signal != Signal::KILL && !grace.is_zero(),
        grace,
        keep_leftovers: cli.keep_leftovers,
    })
}

fn start(command: &[OsString], options: &SuperviseOptions) -> Result<RunReport, Failure> {
    supervise(command, options).map_err(|error| Failure {
        code: match error {
            RunError::NotFound { .. } => exit_code::NOT_FOUND,
            RunError::CannotExecute { .. } => exit_code::CANNOT_EXECUTE,
            RunError::Failed { .. } => exit_code::FAILURE,
        },
        message: error.to_string(),
    })
}

/// Reports, then returns the exit code; a code too wide for a byte (an
/// NTSTATUS) is passed through whole with `std::process::exit`, as the
/// Linux side re-raises a child's fatal signal on itself.
fn finish(report: &RunReport, preserve: bool, say: bool, cli: &CliOptions, output: &Output) -> Result<u8, Failure> {
    if let Some(path) = &cli.report_json {
        let text = crate::cli::output::json_pretty(report).map_err(Failure::new)?;
        std::fs::write(path, text + "\n").map_err(|e| Failure::new(format!("write {}: {e}", path.display())))?;
    }
    if output.json() {
        crate::cli::output::stderr_line(&crate::cli::output::json_text(report).unwrap_or_default());
    } else if say || report.timed_out || !report.leftovers.is_empty() || report.ending.name.is_some() {
        let program = crate::cli::output::program_name();
        let how = if report.timed_out {
            "timed out; the job ended, "
        } else {
            ""
        };
        crate::cli::output::stderr_line(&format!(
            "{program}: {} {how}{} (in a job object)",
            report.pid,
            report.ending.describe()
        ));
        for left in &report.leftovers {
            let fate = if left.ended { "ended" } else { "kept running" };
            crate::cli::output::stderr_line(&format!(
                "{program}: leftover {} {}: {fate}",
                left.pid,
                crate::text::escape_native(&left.name)
            ));
        }
    }
    if report.timed_out && !preserve {
        return Ok(exit_code::TIMED_OUT);
    }
    match u8::try_from(report.ending.exit_code) {
        Ok(code) => Ok(code),
        Err(_) => std::process::exit(report.ending.exit_code as i32),
    }
}
