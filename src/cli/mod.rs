//! The command line: clap definitions, one module per command that turns a
//! typed report into text or JSON, and the mapping of errors to exit codes.
//!
//! Help, the man page and shell completions are all generated from the
//! definitions here.

mod completions;
mod explain;
mod output;
mod status;
mod wait;
mod watch;

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::duration::parse_duration;
use crate::exit_code;
use crate::process::Pid;

pub use output::{ColorChoice, Output};

/// afterlife: end processes for sure, say exactly how they died, find what
/// they left behind.
#[derive(Debug, Parser)]
#[command(
    name = "afterlife",
    version,
    about = "End processes for sure, say exactly how they died, and find what they left behind.",
    long_about = "afterlife makes process termination on Linux safe, complete and explainable. \
Every process is addressed through a pidfd checked against its start time, so a recycled PID is never signalled.",
    after_help = "Exit codes: 0 success; 1 the answer is no (not running, survived, not found); \
124 a deadline passed; 125 afterlife failed (bad input, no such process, permission denied); \
126/127 a command could not be run / was not found; 128+N a reported process died by signal N."
)]
pub struct Cli {
    /// When to use colors: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Print machine-readable JSON (shapes in docs/JSON.md) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain an exit code, signal or Windows status: 137, -9, 256, SIGSEGV, 0xC0000005.
    Explain(ExplainArgs),
    /// Is it still running? How did it end? (the Linux GetExitCodeProcess)
    Status(StatusArgs),
    /// Wait for any processes, children or not, and say how each ended.
    Wait(WaitArgs),
    /// Watch processes for fd and memory leaks: trends, verdicts, plots, Prometheus metrics.
    Watch(WatchArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (or write one page per command into a directory).
    Man(ManArgs),
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Numbers or signal names: 137, 143, -9, 256, 64, SIGSEGV, KILL, RTMIN+3,
    /// 0xC0000005, 3221225477, -1073741819.
    #[arg(required = true, allow_negative_numbers = true, value_name = "CODE")]
    pub codes: Vec<String>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
#[command(after_help = "Exit code: 0 if every PID is running, 1 otherwise, 125 on error.")]
pub struct StatusArgs {
    /// Process IDs.
    #[arg(required = true, allow_negative_numbers = true, value_name = "PID")]
    pub pids: Vec<Pid>,
}

/// Arguments of `wait`.
#[derive(Debug, Args)]
#[command(after_help = "Exit code: with one PID, that process's status as a shell shows it \
(its exit code, or 128+N if signal N killed it); with several, the last one's, as the shell's wait does; \
124 if the timeout passed first; 125 on error or when the status cannot be known.")]
pub struct WaitArgs {
    /// Give up after this long: 10, 10s, 1.5m, 500ms, 2h, 1d (0 or absent: no limit).
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// Process IDs; they need not be children of afterlife.
    #[arg(required = true, allow_negative_numbers = true, value_name = "PID")]
    pub pids: Vec<Pid>,
}

/// Arguments of `watch`.
#[derive(Debug, Args)]
#[command(
    group = clap::ArgGroup::new("target").required(true).args(["pids", "tree", "name", "command"]),
    after_help = "Exit code: 0 if no leak was found, 1 if a metric leaks, 125 on error \
(126/127 if the command cannot be run / is not found).\n\n\
A metric leaks when its Theil-Sen slope is positive, the Mann-Kendall test for growth is significant \
(p < 0.01) and its floor rises: the lowest value of the second half of the watch is above the lowest \
of the first half by a margin (3 fds, 2 threads or children, 1 MiB and 2% of memory). \
A process that grows and frees in cycles is not called leaking, nor is PSS that rises while RSS does not \
(other processes stopped sharing pages with it). The first second of a new process (loading) and the last half second of one that ended \
(freeing at exit) are not judged."
)]
pub struct WatchArgs {
    /// Process IDs to watch.
    #[arg(allow_negative_numbers = true, value_name = "PID")]
    pub pids: Vec<Pid>,

    /// Watch this process and all its descendants (new ones are added as they appear).
    #[arg(long, value_name = "PID")]
    pub tree: Option<Pid>,

    /// Watch processes whose name (comm, as in pgrep) contains PATTERN; new ones are added as they appear.
    #[arg(long, value_name = "PATTERN")]
    pub name: Option<String>,

    /// Time between samples: 1s, 100ms, 2m.
    #[arg(long, default_value = "1s", value_parser = parse_timeout, value_name = "DURATION")]
    pub interval: Duration,

    /// Stop after this long (default: until interrupted, or until every watched PID or command ended;
    /// with --until-exit, until every watched process ended).
    #[arg(long, value_parser = parse_timeout, value_name = "DURATION")]
    pub duration: Option<Duration>,

    /// Stop when the watched processes have ended (with --tree and --name too, which otherwise wait
    /// for new ones), and print the final verdicts with how each ended (exit code or signal).
    #[arg(long)]
    pub until_exit: bool,

    /// Write a chart of every metric with its trend line (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,

    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9256).
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<String>,

    /// A command to start and watch: afterlife watch -- CMD [ARGS...]
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Shells we generate completions for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// Arguments of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write afterlife.1 and one afterlife-COMMAND.1 per command here instead
    /// of printing afterlife.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

/// A failure to report: one line, and the exit code to leave with.
#[derive(Debug)]
pub struct Failure {
    /// The message.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

impl Failure {
    /// afterlife's own failure (exit 125).
    pub fn new(message: impl std::fmt::Display) -> Failure {
        Failure {
            message: message.to_string(),
            code: exit_code::FAILURE,
        }
    }
}

/// Parses the command line and runs the command; returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let output = Output::new(cli.color, cli.json);
    match run(cli.command, &output) {
        Ok(code) => code,
        Err(failure) => {
            output.error(&failure.message);
            failure.code
        }
    }
}

fn run(command: Command, output: &Output) -> Result<u8, Failure> {
    match command {
        Command::Explain(args) => explain::run(&args, output),
        Command::Status(args) => status::run(&args, output),
        Command::Wait(args) => wait::run(&args, output),
        Command::Watch(args) => watch::run(&args, output),
        Command::Completions(args) => completions::completions(args.shell, &mut Cli::command()),
        Command::Man(args) => completions::man(args.dir.as_deref(), Cli::command()),
    }
}

/// Help and version go to stdout with 0; a usage error gets one clear line
/// (or clap's usage text where a list helps) and exit 125, as timeout(1).
fn usage_error(error: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                exit_code::FAILURE
            } else {
                exit_code::SUCCESS
            }
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            use clap::error::{ContextKind, ContextValue};
            let argument = match error.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(name)) => name.clone(),
                _ => "argument".to_string(),
            };
            // Our own parse errors say what was wrong with which text; clap's
            // rendering would lose control characters instead of showing them.
            let line = match std::error::Error::source(&error) {
                Some(source) => format!("invalid {argument}: {source}"),
                None => {
                    let text = error.to_string();
                    let first = text.lines().next().unwrap_or_default();
                    first.strip_prefix("error: ").unwrap_or(first).to_string()
                }
            };
            eprintln!("afterlife: error: {}", crate::text::escape(&line));
            exit_code::FAILURE
        }
        _ => {
            let _ = error.print();
            exit_code::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
