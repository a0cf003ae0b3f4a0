//! The command line: clap definitions, one module per command that turns a
//! typed report into text or JSON, and the mapping of errors to exit codes.
//!
//! Help, the man page and shell completions are all generated from the
//! definitions here.

mod completions;
mod demo;
mod explain;
mod finding;
mod layout;
mod output;
mod status_list;

// The commands built on Linux's pidfds, /proc and cgroups; on Windows the
// module `windows` gives the same names: `status`, `wait`, `kill`, `run` and
// `timeout` on process handles and job objects, the others one line saying
// they need Linux. `demo` renders the same report on both.
#[cfg(target_os = "linux")]
mod deaths;
#[cfg(target_os = "linux")]
mod holds;
#[cfg(target_os = "linux")]
mod kill;
#[cfg(target_os = "linux")]
mod leftovers;
#[cfg(target_os = "linux")]
mod run;
#[cfg(target_os = "linux")]
mod snapshot;
#[cfg(target_os = "linux")]
mod status;
#[cfg(target_os = "linux")]
mod timeout;
#[cfg(target_os = "linux")]
mod wait;
#[cfg(target_os = "linux")]
mod watch;
#[cfg(target_os = "linux")]
mod why;
#[cfg(target_os = "linux")]
use crate::demo::child::run_if_child;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use crate::sys::windows::child::run_if_child;
#[cfg(windows)]
use windows::{deaths, holds, kill, leftovers, run, snapshot, status, timeout, wait, watch, why};

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
    after_help = "Exit codes: 0 success; 1 the answer is no (not running, survived, not found, a leak); \
2 watch took too few samples to judge; 121 run --fail-on-leftovers: the command passed but left \
something behind; 124 a deadline passed; 125 afterlife failed (bad input, no such process, \
permission denied); 126/127 a command could not be run / was not found; 128+N a reported process \
died by signal N; wait and run pass a process's own code through."
)]
pub struct Cli {
    /// When to use colors: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(
        long,
        value_enum,
        default_value_t = ColorChoice::Auto,
        global = true,
        hide_possible_values = true,
        help_heading = "Global options",
        value_name = "WHEN"
    )]
    pub color: ColorChoice,

    /// Print machine-readable JSON (shapes in docs/JSON.md) instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands. Each one's arguments are built only when it is the one
/// invoked (or for help, completions and the man page): building all of
/// them took about 0.2 ms at every start. A deferred command's arguments
/// are added after its description, so the argument structs carry plain
/// comments, not doc comments, which clap would make the description.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Explain an exit code, signal or Windows status: 137, -9, 256, SIGSEGV, 0xC0000005.
    Explain(ExplainArgs),
    /// Is it still running? How did it end? (the Linux GetExitCodeProcess)
    Status(StatusArgs),
    /// Wait for any processes, children or not, and say how each ended.
    Wait(WaitArgs),
    /// End processes or whole trees for sure, and say how each ended.
    Kill(KillArgs),
    /// Why does this process not die? Evidence from /proc and the next step that would work.
    Why(WhyArgs),
    /// What a process (or a whole tree) holds now: fds, sockets, maps, locks, IPC.
    Snapshot(SnapshotArgs),
    /// Who holds a port, unix socket or path, and how they got it; ghosts; deleted files held open.
    Holds(HoldsArgs),
    /// What a dead tree left behind, against a snapshot taken while it lived.
    Leftovers(LeftoversArgs),
    /// Run a command as a contained tree, with an optional deadline; report
    /// exactly how it ended and what it left behind.
    Run(RunArgs),
    /// A drop-in for coreutils timeout(1) that also ends the whole tree.
    Timeout(TimeoutArgs),
    /// Watch processes for fd and memory leaks: trends, verdicts, plots, Prometheus metrics.
    Watch(WatchArgs),
    /// Every process death on the machine, live: how it ended and who or what killed it.
    Deaths(DeathsArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (or write one page per command into a directory).
    Man(ManArgs),
    /// Run the talk's demo for real: every way a process dies, its exit code, what went and what stayed.
    Demo(DemoArgs),
}

// Arguments of `explain`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(after_help = "Exit code: 0 when every CODE was explained, 125 if one cannot be (nothing is printed then).")]
pub struct ExplainArgs {
    /// Numbers or signal names: 137, 143, -9, 256, 64, SIGSEGV, KILL, RTMIN+3,
    /// 0xC0000005, 3221225477, -1073741819.
    #[arg(required = true, allow_negative_numbers = true, value_name = "CODE")]
    pub codes: Vec<String>,
}

// Arguments of `status`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(after_help = "Exit code: 0 if every PID is running, 1 otherwise, 125 on error.")]
pub struct StatusArgs {
    /// Print nothing (errors aside), as grep -q: the exit code says whether every PID runs.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Process IDs.
    #[arg(required = true, allow_negative_numbers = true, value_name = "PID", add = pids())]
    pub pids: Vec<Pid>,
}

// Arguments of `wait`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(after_help = "Exit code: with one PID, that process's status as a shell shows it \
(its exit code, or 128+N if signal N killed it); with several, the last one's, as the shell's wait does; \
124 if the timeout passed first; 125 on error or when the status cannot be known.")]
pub struct WaitArgs {
    /// Print nothing (errors aside): the exit code is the status, as without -q.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Give up after this long: 10, 10s, 1.5m, 500ms, 2h, 1d, inf (0, inf or absent: no limit).
    #[arg(long, value_parser = parse_timeout, allow_hyphen_values = true, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// Process IDs; they need not be children of afterlife.
    #[arg(required = true, allow_negative_numbers = true, value_name = "PID", add = pids())]
    pub pids: Vec<Pid>,
}

// Arguments of `kill`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(
    override_usage = "afterlife kill [OPTIONS] <PID>...\n       afterlife kill [OPTIONS] --name <PATTERN>",
    after_help = "Every target is opened through a pidfd checked against its start time, so a recycled PID \
is never signalled. The selection is frozen before the signal (cgroup.freeze, or SIGSTOP to every member and \
walking again until nothing new appears), so a tree that keeps forking is caught whole; SIGCONT then lets a \
graceful signal be handled. The report says how each process ended, or why it is still alive.\n\n\
What each selection reaches: --tree follows parent links, so it catches children that called \
setsid or setpgid, but not processes that already left the tree (a double fork reparents them to init); \
--session and --pgroup catch most of those, but a process may leave its session or group at will, \
and a session or group that reads 0 (the kernel's, shared by what init started without setsid, or one \
led from outside afterlife's PID namespace) cannot be told from others and is refused. Only a cgroup holds every process for sure: `afterlife run` starts a command in one, and --tree uses \
cgroup.freeze/cgroup.kill when the tree is exactly one cgroup afterlife may write.\n\n\
Refused unless --force: PID 1, the ancestors of afterlife (its shell), kernel threads. afterlife never signals itself.\n\n\
--name PATTERN selects as pkill does: PATTERN is an extended regular expression matched anywhere in the name \
(comm, at most 15 characters; --exact for the whole name), --user restricts to one real user ID; \
afterlife and its ancestors (so PID 1 too) are never selected, kernel threads are refused as when named.\n\n\
On a terminal, while the grace period runs, one line on stderr says who is left and when SIGKILL comes; \
it is erased before the report.\n\n\
--signal 0 sends nothing: it reports whether each target exists and whether afterlife may signal it.\n\n\
Exit code: 0 every target ended (with --signal 0: every target runs and may be signalled); \
1 some survived (listed with the reason), or --name matched no process (with --signal 0: a target is gone, \
a zombie, or may not be signalled, EPERM); 125 usage or operational error."
)]
pub struct KillArgs {
    /// The first signal, as kill(1) takes it: TERM, SIGTERM, 15, RTMIN+3. 0 sends nothing: it checks
    /// that each target exists and that afterlife may signal it, as kill -0 (no grace, no SIGKILL, no wait).
    #[arg(short, long, default_value = "TERM", value_parser = parse_kill_signal, value_name = "SIG", add = kill_signals())]
    pub signal: KillSignal,

    /// How long the targets get to exit before SIGKILL: 5s, 300ms, 1.5m, inf (never).
    #[arg(long, default_value = "5s", value_parser = parse_timeout, allow_hyphen_values = true, value_name = "DURATION")]
    pub grace: Duration,

    /// Never send SIGKILL; report what is still alive after the grace period.
    #[arg(long)]
    pub no_escalate: bool,

    /// Wait until every target is gone (the default).
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,

    /// Send the signal and return at once, like kill(1); no SIGKILL follows.
    #[arg(long, overrides_with = "wait")]
    pub no_wait: bool,

    /// Each PID and all its descendants, including those that called setsid.
    #[arg(long, group = "selection")]
    pub tree: bool,

    /// Every process in each PID's session.
    #[arg(long, group = "selection")]
    pub session: bool,

    /// Every process in each PID's process group.
    #[arg(long, group = "selection")]
    pub pgroup: bool,

    /// Also signal PID 1, ancestors of afterlife and kernel threads.
    #[arg(long)]
    pub force: bool,

    /// List what would be signalled; send nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not use cgroup.freeze/cgroup.kill even when the tree is exactly one cgroup.
    #[arg(long)]
    pub no_cgroup: bool,

    /// With --tree: remove the IPC objects the tree created and left, once
    /// every process of it has ended.
    #[arg(long, requires = "tree")]
    pub remove_ipc: bool,

    /// Instead of PIDs, every process whose name (comm, 15 characters) matches this extended regular
    /// expression, as pkill(1); never afterlife itself or its ancestors.
    #[arg(long, value_name = "PATTERN", conflicts_with = "pids")]
    pub name: Option<String>,

    /// With --name: the whole name must match (pkill -x).
    #[arg(long, short = 'x')]
    pub exact: bool,

    /// With --name: only processes of this real user (a name from /etc/passwd, or a numeric ID), as
    /// pkill -U.
    #[arg(long, short = 'U', value_name = "USER")]
    pub user: Option<String>,

    /// Print nothing when every target ended; otherwise only the processes still alive, one line each
    /// on stderr (with --signal 0 or a --name that matched nothing: nothing at all). The exit code says
    /// the rest.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Process IDs.
    #[arg(required_unless_present = "name", allow_negative_numbers = true, value_name = "PID", add = pids())]
    pub pids: Vec<Pid>,
}

/// Completes a PID argument with the processes running at TAB.
fn pids() -> clap_complete::ArgValueCandidates {
    clap_complete::ArgValueCandidates::new(completions::pid_candidates)
}

/// Completes a signal argument with the signal table.
fn signals() -> clap_complete::ArgValueCandidates {
    clap_complete::ArgValueCandidates::new(completions::signal_candidates)
}

/// Completes `kill --signal`: 0 (the check) and the signal table.
fn kill_signals() -> clap_complete::ArgValueCandidates {
    clap_complete::ArgValueCandidates::new(completions::kill_signal_candidates)
}

/// What `kill --signal` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillSignal {
    /// 0: the liveness check of `kill -0`.
    Check,
    /// A real signal.
    Send(crate::signal::Signal),
}

fn parse_kill_signal(text: &str) -> Result<KillSignal, String> {
    if text.trim() == "0" {
        return Ok(KillSignal::Check);
    }
    parse_signal(text).map(KillSignal::Send)
}

fn parse_signal(text: &str) -> Result<crate::signal::Signal, String> {
    crate::signal::Signal::parse(text).map_err(|e| e.to_string())
}

/// `deaths --signal`: a signal a process can die of. One that stops,
/// continues or is ignored by default (STOP, CONT, CHLD, WINCH) never
/// shows in a death's status, whatever the process does with it, so a
/// filter on it would match nothing. Pure.
fn parse_fatal_signal(text: &str) -> Result<crate::signal::Signal, String> {
    let signal = parse_signal(text)?;
    if signal.kills_by_default() {
        return Ok(signal);
    }
    Err(format!(
        "no process dies of {}: its default action is to {} (a death's status names only a signal whose default action ends the process: TERM, KILL, SEGV...)",
        signal.name(),
        signal.default_action().describe()
    ))
}

/// `timeout -s`, read as coreutils reads it (`operand2sig`): a number,
/// digits only, is a signal number or a shell's exit status for one —
/// 128+N (`-s 137` is KILL), or ksh's 256+N; `SIG` and a number is that
/// signal (`SIG9`); 0 and `EXIT` are the null signal. 32 and 33, which
/// glibc keeps for its threads and names no signal, are refused as
/// coreutils refuses them. Pure.
fn parse_timeout_signal(text: &str) -> Result<crate::signal::Signal, String> {
    use crate::signal::Signal;
    let invalid = || format!("'{text}' is not a signal (try TERM, KILL, 9, 137 or RTMIN+3)");
    let digits = |text: &str| text.starts_with(|c: char| c.is_ascii_digit());
    let number = |n: i32| match n {
        0 => Some(Signal::NULL),
        n if (32..crate::signal::rtmin()).contains(&n) => None,
        n => Signal::from_number(n),
    };
    if digits(text) {
        let n: i32 = text.parse().map_err(|_| invalid())?;
        return number(n & if n >= 0xFF { 0xFF } else { 0x7F }).ok_or_else(invalid);
    }
    // A name: no sign, no blank around it.
    if !text.starts_with(|c: char| c.is_ascii_alphabetic()) || text.trim_end() != text {
        return Err(invalid());
    }
    let upper = text.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if bare == "EXIT" {
        return Ok(Signal::NULL);
    }
    if digits(bare) {
        return bare.parse().ok().and_then(number).ok_or_else(invalid);
    }
    parse_signal(text)
}

// Arguments of `why`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(
    after_help = "Exit code: 0 when the diagnosis was made (whatever it says), 125 on error \
(bad PID, no such process)."
)]
pub struct WhyArgs {
    /// Print only the verdict line (the process, its state, what SIGKILL, or TerminateProcess on Windows, would do), no evidence.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// The process ID.
    #[arg(allow_negative_numbers = true, value_name = "PID", add = pids())]
    pub pid: Pid,
}

// Arguments of `snapshot`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(after_help = "Exit code: 0, or 125 on error (no such process). \
Save `--json` output to a file and give it to `afterlife leftovers` after the tree has ended.")]
pub struct SnapshotArgs {
    /// Include every descendant of PID.
    #[arg(long)]
    pub tree: bool,

    /// The process.
    #[arg(allow_negative_numbers = true, value_name = "PID", add = pids())]
    pub pid: Pid,
}

// Arguments of `holds`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(
    override_usage = "afterlife holds [OPTIONS] <SPEC>...\n       afterlife holds [OPTIONS] --deleted",
    after_help = "SPEC: tcp:8080, udp:53, :8080 (TCP and UDP), 127.0.0.1:8080, [::1]:8080, \
unix:/run/x.sock, unix:@abstract, or a path (file, directory, device, mount point). \
Every port form takes a range: tcp:8000-8100. \
Ports match the local port, on the address given or a wildcard that covers it.\n\n\
Exit code: 0 if a process holds a SPEC (or a deleted file is held open), 1 if none does \
(sockets no process holds are still shown, with the reason they exist), 125 on error."
)]
pub struct HoldsArgs {
    /// List deleted files still held open, with the disk space they keep
    /// (instead of SPECs: it answers nothing of them).
    #[arg(long, conflicts_with = "specs")]
    pub deleted: bool,

    /// What to look for.
    #[arg(value_name = "SPEC", required_unless_present = "deleted")]
    pub specs: Vec<OsString>,
}

// Arguments of `leftovers`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(after_help = "Exit code: 0 if nothing of the tree stayed, 1 if something did, 125 on error.")]
pub struct LeftoversArgs {
    /// Print nothing (errors aside): the exit code says whether something stayed.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// A snapshot taken while the tree lived (`afterlife --json snapshot --tree PID > FILE`).
    #[arg(value_name = "SNAPSHOT.json")]
    pub snapshot: std::path::PathBuf,

    /// Also list files created under this directory since the tree started (repeatable).
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<std::path::PathBuf>,
}

// Options of `run` and `timeout` beyond coreutils timeout's.
#[allow(missing_docs)]
#[derive(Debug, Args)]
pub struct SuperviseOptions {
    /// How to hold the tree together: auto (the strongest available; a PID
    /// namespace only where the command can have a /proc of it), cgroup (a
    /// cgroup v2 leaf), pidns (a PID namespace), subreaper (a child
    /// subreaper with freeze-then-kill). A forced one that is impossible here
    /// fails with 125.
    #[arg(long, value_enum, default_value_t = crate::sys::ContainmentChoice::Auto, value_name = "KIND")]
    pub containment: crate::sys::ContainmentChoice,

    /// List the processes left behind but leave them running.
    #[arg(long)]
    pub keep_leftovers: bool,

    /// Remove the IPC objects the tree created and left (SysV shared
    /// memory, semaphore sets, message queues; POSIX shared memory and
    /// message queues) once it has ended; without it they are listed with
    /// the command that removes each.
    #[arg(long)]
    pub remove_ipc: bool,

    /// Print the full report to stderr at the end.
    #[arg(long)]
    pub report: bool,

    /// Write the report as JSON (docs/JSON.md) to this file.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<std::path::PathBuf>,
}

// Arguments of `run`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes, as timeout(1): the command's own code; 124 if the deadline passed \
(unless --preserve-status); 137 if SIGKILL had to be sent; 125 if afterlife failed; 126 if the command \
cannot be executed; 127 if it was not found. A command killed by a signal makes afterlife die of the same \
signal. With --fail-on-leftovers, 121 if the command exited 0 but left something behind."
)]
pub struct RunArgs {
    /// Deadline: 10, 10s, 1.5m, 500ms, 2h, 1d, inf (0, inf or absent: none).
    #[arg(long, value_parser = parse_timeout, allow_hyphen_values = true, value_name = "DURATION")]
    pub timeout: Option<Duration>,

    /// The signal sent at the deadline: TERM, SIGINT, 9, RTMIN+3.
    #[arg(long, short = 's', value_parser = parse_signal, default_value = "TERM", value_name = "SIGNAL", add = signals())]
    pub signal: crate::signal::Signal,

    /// How long after that signal SIGKILL follows (also for leftovers).
    #[arg(long, visible_alias = "kill-after", value_parser = parse_timeout, allow_hyphen_values = true, default_value = "5s", value_name = "DURATION")]
    pub grace: Duration,

    /// Exit with the command's status even when the deadline passed.
    #[arg(long)]
    pub preserve_status: bool,

    /// Leave the command in afterlife's process group so it may read the
    /// terminal; only it is signalled at the deadline.
    #[arg(long)]
    pub foreground: bool,

    /// Print nothing of afterlife's own unless asked (no summary line).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Fail when the command leaves anything: a process, an IPC object, a
    /// file in a --dir or --tmpdir. Everything is ended and removed, each
    /// leftover is named, and a command that passed exits 121.
    #[arg(long)]
    pub fail_on_leftovers: bool,

    /// Do not name who sent a signal that killed the command. By default a
    /// death by a signal afterlife did not send names its sender (as root,
    /// with kernel BTF: a small BPF program on the `signal_generate`
    /// tracepoint, attached while the command runs; elsewhere nothing is
    /// named and nothing is said).
    #[arg(long)]
    pub no_name_sender: bool,

    /// Accepted for compatibility: naming the sender is the default.
    #[arg(long, hide = true)]
    pub name_sender: bool,

    /// Entries created under DIR during the run (paths absent at the
    /// start) are leftovers, removed at the end (repeatable).
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<std::path::PathBuf>,

    /// Give the command a fresh empty TMPDIR (also TMP, TEMP); whatever it
    /// leaves there is a leftover, and the directory is removed.
    #[arg(long)]
    pub tmpdir: bool,

    /// Containment and report options.
    #[command(flatten)]
    pub options: SuperviseOptions,

    /// The command and its arguments (after `--`). An option before the
    /// command is afterlife's: a mistyped one (`--timout 5`) is refused as
    /// unknown, not run as the command.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

// Arguments of `timeout`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(
    version,
    disable_version_flag = true,
    // getopt_long's abbreviations, as coreutils takes them: `--kill 5`,
    // `--pres` (an ambiguous one is refused).
    infer_long_args = true,
    after_help = "DURATION is a floating point number with an optional suffix: s for seconds (the default), \
m for minutes, h for hours or d for days; inf (or anything too large) is forever; 0 disables the timeout. \
Options are read only before DURATION: what follows it is the command, passed on untouched.\n\n\
As coreutils timeout: exit 124 if the command timed out (unless --preserve-status), \
125 if afterlife failed, 126 if the command cannot be run, 127 if it was not found, 137 if KILL was sent \
(afterlife then dies of SIGKILL itself, as coreutils does, unless --foreground), \
else the command's status. Unlike coreutils, every process the command started ends with it."
)]
pub struct TimeoutArgs {
    /// Do not give the command its own process group: it may read the
    /// terminal, and only it is timed out (its leftovers are still ended).
    #[arg(long, short = 'f')]
    pub foreground: bool,

    /// Also send KILL if the command still runs this long after the signal.
    #[arg(long, short = 'k', value_parser = parse_coreutils_timeout, allow_hyphen_values = true, value_name = "DURATION")]
    pub kill_after: Option<Duration>,

    /// Exit with the same status as the command, even when it timed out.
    #[arg(long, short = 'p')]
    pub preserve_status: bool,

    /// The signal to send on timeout: a name such as HUP or a number (0:
    /// none, only -k's KILL later; 128+N, an exit status, is signal N).
    #[arg(long, short = 's', value_parser = parse_timeout_signal, default_value = "TERM", value_name = "SIGNAL", add = signals())]
    pub signal: crate::signal::Signal,

    /// Say on stderr when a signal is sent, and what was left behind.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// Containment and report options.
    #[command(flatten)]
    pub options: SuperviseOptions,

    /// Print the version and exit.
    #[arg(long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,

    /// DURATION, then the command and its arguments. Everything from
    /// DURATION on is an operand, as coreutils' getopt reads it (`+`): an
    /// option after DURATION belongs to the command.
    #[arg(
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        value_names = ["DURATION", "COMMAND"]
    )]
    pub operands: Vec<OsString>,
}

impl TimeoutArgs {
    /// DURATION, read with coreutils' grammar, and the command.
    pub fn duration_and_command(&self) -> Result<(Duration, &[OsString]), Failure> {
        let (duration, command) = self
            .operands
            .split_first()
            .ok_or_else(|| Failure::new("missing operand: DURATION"))?;
        let duration = parse_coreutils_timeout(&duration.to_string_lossy()).map_err(Failure::new)?;
        Ok((duration, command))
    }
}

fn parse_coreutils_timeout(text: &str) -> Result<Duration, String> {
    crate::duration::parse_coreutils_duration(text).map_err(|e| crate::text::escape(&e.to_string()).into_owned())
}

// Arguments of `watch`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(
    group = clap::ArgGroup::new("target").required(true).args(["pids", "tree", "name", "command"]),
    after_help = "Exit code: 0 if no leak was found, 1 if a metric leaks, 2 if a process asked for got too few \
samples (10) to be judged, 125 on error (126/127 if the command cannot be run / is not found).\n\n\
A metric leaks when it grows significantly (Theil-Sen slope above 0, Mann-Kendall p < 0.01), its floor rises \
(the lowest value of the second half of the watch is above the lowest of the first half by a margin: 3 fds, \
2 threads or children, 1 MiB and 2% of memory) and it still rises in the latest third of the watch. A rise \
that stopped is a step or levelled off (warm-up, a cache or pool filling up); one that flattens third by \
third is warming up; one that returns to its floor is up and down (a sawtooth). Memory leaks are judged on \
anonymous memory: RSS from shared memory or file pages, and PSS, are shown, not judged. The first second of \
a new process (loading) and the last half second of one that ended (freeing at exit) are not judged. \
With --json, the output of a command started with -- CMD goes to stderr."
)]
pub struct WatchArgs {
    /// Process IDs to watch.
    #[arg(allow_negative_numbers = true, value_name = "PID", add = pids())]
    pub pids: Vec<Pid>,

    /// Watch this process and all its descendants (new ones are added as they appear).
    #[arg(long, value_name = "PID", add = pids())]
    pub tree: Option<Pid>,

    /// Watch processes whose name (comm, as in pgrep; the executable's name on Windows) contains PATTERN; new ones are added as they appear.
    #[arg(long, value_name = "PATTERN", value_parser = parse_name_pattern)]
    pub name: Option<String>,

    /// Time between samples: 1s, 100ms, 2m (at least 10ms: a shorter one is
    /// taken as 10ms, so that sampling never keeps a core busy; inf samples
    /// only at the start and at the end).
    #[arg(long, default_value = "1s", value_parser = parse_interval, allow_hyphen_values = true, value_name = "DURATION")]
    pub interval: Duration,

    /// Stop after this long (0: no limit; default: until interrupted, or until every watched PID,
    /// tree or command ended; --name waits for new matches unless --until-exit).
    #[arg(long, value_parser = parse_timeout, allow_hyphen_values = true, value_name = "DURATION")]
    pub duration: Option<Duration>,

    /// Stop when the watched processes have ended (with --name too, which otherwise waits for new
    /// matches), and print the final verdicts with how each ended (exit code or signal).
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

// Arguments of `deaths`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(
    after_help = "One line per process death (a whole process, not each thread): the process \
(PID, name, command line, parent, user, cgroup with its systemd unit or container, lifetime), how it ended \
(exit code, or signal and core flag), and for a signal who sent it (the sending process and the kind of \
sender from si_code: kill, tgkill, a fault, the terminal, a timer, a pipe with no reader, the OOM killer). \
An OOM kill names the memory cgroup and its limit.\n\n\
Sources: BPF tracepoints (root and kernel BTF), else the netlink proc connector (exit codes only, \
needs CAP_NET_ADMIN); AFTERLIFE_DEATHS_SOURCE=bpf or proc-connector chooses one. Lost records are counted \
on stderr.\n\n\
Exit code: 0 when the feed ends (--duration, SIGINT, SIGTERM, SIGHUP, or stdout closed), 125 if no source can run."
)]
pub struct DeathsArgs {
    /// Stop after this long (0: no limit, as for watch, wait and timeout; default: until interrupted).
    #[arg(long, value_parser = parse_timeout, allow_hyphen_values = true, value_name = "DURATION")]
    pub duration: Option<Duration>,

    /// Only these PIDs.
    #[arg(long = "pid", value_name = "PID", num_args = 1.., add = pids())]
    pub pids: Vec<Pid>,

    /// Only processes whose name (comm) contains PATTERN.
    #[arg(long, value_name = "PATTERN", value_parser = parse_name_pattern)]
    pub name: Option<String>,

    /// Only processes in this cgroup v2 path or below it (/system.slice/nginx.service),
    /// or in this systemd unit or container ID.
    #[arg(long, value_name = "PATH", value_parser = parse_cgroup_filter)]
    pub cgroup: Option<String>,

    /// Only deaths by this signal (KILL, SIGSEGV, 9): one whose default
    /// action ends a process.
    #[arg(long, value_name = "SIG", value_parser = parse_fatal_signal, add = signals())]
    pub signal: Option<crate::signal::Signal>,

    /// Only deaths other than exit 0.
    #[arg(long)]
    pub nonzero: bool,

    /// Serve afterlife_process_deaths_total on http://ADDR/metrics (e.g. 127.0.0.1:9257).
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<String>,
}

// Arguments of `completions`.
#[allow(missing_docs)]
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

// Arguments of `man`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write afterlife.1 and one afterlife-COMMAND.1 per command here instead
    /// of printing afterlife.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

// Arguments of `demo`.
#[allow(missing_docs)]
#[derive(Debug, Args)]
#[command(after_help = "Exit code: 0 if every check held, 1 if one did not, 125 if a scenario could not be run.")]
pub struct DemoArgs {
    /// List the scenarios (number, name, title) and exit: those named, or all.
    #[arg(long)]
    pub list: bool,

    /// Scenarios to run, by number or name (1, 15, ghost-socket); all if none.
    #[arg(value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
}

/// A `--name` that selects by substring: an empty one would select every
/// process, and is more likely an unset shell variable than a wish.
fn parse_name_pattern(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("it is empty and would match every process".to_string());
    }
    Ok(text.to_string())
}

/// `deaths --cgroup`: `/` is the whole hierarchy, said on purpose; an
/// empty value (an unset shell variable, most likely) is refused, as an
/// empty `--name` is.
fn parse_cgroup_filter(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("it is empty and would match every cgroup (/ is the whole hierarchy)".to_string());
    }
    // The mount's path (a directory under /sys/fs/cgroup) is no cgroup's
    // path, and would match no death, silently.
    if let Some(rest) = text.strip_prefix("/sys/fs/cgroup")
        && (rest.is_empty() || rest.starts_with('/'))
    {
        // A hybrid machine mounts cgroup v2 at /sys/fs/cgroup/unified.
        let rest = match rest.strip_prefix("/unified") {
            Some(below) if below.is_empty() || below.starts_with('/') => below,
            _ => rest,
        };
        let own = if rest.is_empty() { "/" } else { rest };
        return Err(format!(
            "it is a directory of the cgroup file system, which no cgroup's path starts with: give the cgroup's own path, {own}"
        ));
    }
    Ok(text.to_string())
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

/// The shortest `watch --interval`: a shorter positive one (`1e-10`) is
/// taken as this, so that sampling never keeps a core busy.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// `watch --interval`: any duration; 0 stays 0 (refused later, with its
/// own message), a positive one is at least [`MIN_INTERVAL`].
fn parse_interval(text: &str) -> Result<Duration, String> {
    parse_timeout(text).map(|d| if d.is_zero() { d } else { d.max(MIN_INTERVAL) })
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

/// `-q` asks for no report and `--json` for one in JSON: together they are
/// bad input, whichever order they came in.
pub(crate) fn refuse_quiet_json(quiet: bool, output: &Output) -> Result<(), Failure> {
    if quiet && output.json() {
        return Err(Failure::new(
            "-q/--quiet and --json cannot be used together: -q prints no report, --json prints it as JSON",
        ));
    }
    Ok(())
}

/// What Rust's runtime does before `main` that afterlife relies on, for
/// the binary, which brings its own C `main` (see `src/main.rs`): fds 0 to
/// 2 open, and SIGPIPE ignored, so that a write to a closed pipe fails with
/// `EPIPE` instead of ending afterlife.
#[cfg(target_os = "linux")]
pub fn prepare_process() {
    crate::sys::linux::stdio::open_closed_standard_fds();
    crate::sys::linux::signal::set_ignored(libc::SIGPIPE);
    // A mask is inherited through exec: a parent that ran afterlife with
    // SIGTERM or SIGINT blocked (a thread of a Python program, a daemon)
    // would leave `wait`, `watch` or `deaths` deaf to them. afterlife
    // blocks what it reads through a signalfd itself.
    let _ = crate::sys::linux::signal::set_mask(&crate::sys::linux::signal::SigSet::empty());
}

/// Parses the command line and runs the command; returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> u8 {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // The demo's hidden child mode, kept out of help and completions.
    if let Some(code) = run_if_child(&args) {
        return code;
    }
    if let Some(code) = completions::answer_shell(&args, Cli::command) {
        return code;
    }
    // Run as `timeout` (a link to afterlife): coreutils' timeout, with its
    // name in the messages.
    let as_timeout = args.first().is_some_and(|zero| invoked_as_timeout(zero));
    if as_timeout {
        output::set_program_name("timeout");
        args.insert(1, OsString::from("timeout"));
    }
    if let Some(at) = timeout_operands_at(&args) {
        args.insert(at, OsString::from("--"));
    }
    let cli = match parse(args, as_timeout) {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let output = Output::new(cli.color, cli.json);
    let code = match run(cli.command, &output) {
        Ok(code) => code,
        Err(failure) => {
            output.error(&failure.message);
            failure.code
        }
    };
    match output::stdout_failure() {
        Some(error) => {
            output.error(&format!("cannot write the output: {error}"));
            exit_code::FAILURE
        }
        None => code,
    }
}

fn run(command: Command, output: &Output) -> Result<u8, Failure> {
    #[cfg(target_os = "linux")]
    check_proc(&command)?;
    match command {
        Command::Explain(args) => explain::run(&args, output),
        Command::Status(args) => status::run(&args, output),
        Command::Wait(args) => wait::run(&args, output),
        Command::Kill(args) => kill::run(&args, output),
        Command::Why(args) => why::run(&args, output),
        Command::Snapshot(args) => snapshot::run(&args, output),
        Command::Holds(args) => holds::run(&args, output),
        Command::Leftovers(args) => leftovers::run(&args, output),
        Command::Run(args) => run::run(&args, output),
        Command::Timeout(args) => timeout::run(&args, output),
        Command::Watch(args) => watch::run(&args, output),
        Command::Deaths(args) => deaths::run(&args, output),
        Command::Completions(_) | Command::Man(_) if output.json() => Err(Failure::new(
            "completions and man pages have no JSON form: run the command without --json",
        )),
        Command::Completions(args) => completions::completions(args.shell),
        Command::Man(args) => completions::man(args.dir.as_deref(), Cli::command()),
        Command::Demo(args) => demo::run(&args, output),
    }
}

/// What a command needs of `/proc`.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcNeed {
    /// Nothing: it reads no process.
    Nothing,
    /// A procfs: `run` and `timeout` find their own command through its
    /// pidfd and cgroup, and a run inside another run's PID namespace
    /// (whose /proc is the outer one's) is allowed.
    Mounted,
    /// A procfs that numbers processes as afterlife's PID namespace does:
    /// every command that takes a PID or looks processes up by PID.
    OwnPids,
}

#[cfg(target_os = "linux")]
fn proc_need(command: &Command) -> ProcNeed {
    match command {
        Command::Explain(_) | Command::Completions(_) | Command::Man(_) => ProcNeed::Nothing,
        Command::Run(_) | Command::Timeout(_) => ProcNeed::Mounted,
        Command::Status(_)
        | Command::Wait(_)
        | Command::Kill(_)
        | Command::Why(_)
        | Command::Snapshot(_)
        | Command::Holds(_)
        | Command::Leftovers(_)
        | Command::Watch(_)
        | Command::Deaths(_)
        | Command::Demo(_) => ProcNeed::OwnPids,
    }
}

/// Refuses, in one line, a command whose answer would come from a /proc
/// that is not there or that numbers processes for another PID namespace:
/// there `/proc/N` is not the process `pidfd_open(N)` opens, and every
/// answer read from it would be another process's.
#[cfg(target_os = "linux")]
fn check_proc(command: &Command) -> Result<(), Failure> {
    use crate::proc::ns::{ProcViewError, check_proc_view};
    match (proc_need(command), check_proc_view()) {
        (ProcNeed::Nothing, _) | (_, Ok(())) => Ok(()),
        (ProcNeed::Mounted, Err(ProcViewError::OtherNamespace { .. })) => Ok(()),
        (_, Err(error)) => Err(Failure::new(error)),
    }
}

/// Whether the long option `--long` of `timeout` (written without
/// `=value`, perhaps abbreviated as getopt_long allows: `--kill` for
/// `--kill-after`) takes its value from the next argument: the option
/// named exactly, or the one option it is a prefix of, among `options`
/// ([`timeout_long_options`]). An unknown or ambiguous one takes none
/// (clap refuses it). Pure.
fn long_takes_value(options: &[(String, bool)], long: &str) -> bool {
    if let Some((_, takes)) = options.iter().find(|(name, _)| name == long) {
        return *takes;
    }
    let mut prefixed = options.iter().filter(|(name, _)| name.starts_with(long));
    match (prefixed.next(), prefixed.next()) {
        (Some((_, takes)), None) => *takes,
        _ => false,
    }
}

/// The long options of afterlife's global flags and of `timeout`, each
/// with whether it takes a value: read from the command line definition,
/// built (so that each argument's action is settled) once per command line.
fn timeout_long_options() -> Vec<(String, bool)> {
    let mut cli = Cli::command();
    cli.build();
    let timeout = cli.find_subcommand("timeout").expect("the timeout subcommand");
    cli.get_arguments()
        .chain(timeout.get_arguments())
        .filter_map(|a| Some((a.get_long()?.to_string(), a.get_action().takes_values())))
        .collect()
}

/// Where the operands of `afterlife timeout` begin (DURATION), when they
/// do and no `--` precedes them: coreutils reads its options with
/// getopt's `+`, so the first operand ends the options and every later
/// argument belongs to the command (`timeout 1 -s KILL sleep 2` runs the
/// command `-s`). A `--` is put there so that clap reads them the same way.
fn timeout_operands_at(args: &[OsString]) -> Option<usize> {
    let options = std::cell::OnceCell::new();
    let text = |i: usize| args.get(i).map(|a| a.to_string_lossy());
    // Past afterlife's global options, to the subcommand.
    let mut i = 1;
    loop {
        let arg = text(i)?;
        match arg.as_ref() {
            "--json" => i += 1,
            "--color" => i += 2,
            a if a.starts_with("--color=") => i += 1,
            "timeout" => break,
            _ => return None,
        }
    }
    i += 1;
    loop {
        let arg = text(i)?;
        if arg == "--" {
            return None;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let takes_value = !long.contains('=') && long_takes_value(options.get_or_init(timeout_long_options), long);
            i += if takes_value { 2 } else { 1 };
        } else if let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) {
            // -fv, -k5, -k 5, -sKILL, -vs KILL: a value option takes the
            // rest of the cluster, or the next argument.
            let valued = cluster.find(['k', 's']);
            i += match valued {
                Some(at) if at + 1 == cluster.len() => 2,
                _ => 1,
            };
        } else {
            return Some(i);
        }
    }
}

/// Parses the command line. Run as `timeout`, the `timeout` command's usage
/// (in its help and its usage errors) names the program `timeout` alone,
/// not the `timeout timeout` that clap would make of the program's name and
/// the subcommand's.
fn parse(args: Vec<OsString>, as_timeout: bool) -> Result<Cli, clap::Error> {
    use clap::FromArgMatches as _;
    let mut command = Cli::command();
    if as_timeout {
        command = command.mut_subcommand("timeout", |sub| {
            let mut alone = sub.clone().bin_name("timeout");
            let usage = alone.render_usage().to_string();
            let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage).to_string();
            sub.override_usage(usage)
        });
    }
    Cli::from_arg_matches(&command.try_get_matches_from(args)?)
}

/// Whether `argv[0]` names the program `timeout`.
fn invoked_as_timeout(zero: &std::ffi::OsStr) -> bool {
    std::path::Path::new(zero).file_name() == Some(std::ffi::OsStr::new("timeout"))
}

/// Help and version go to stdout with 0; a usage error gets one clear line
/// and a hint with the usage, and exit 125, as timeout(1).
fn usage_error(error: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            exit_code::FAILURE
        }
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => help_printed(&error),
        _ => {
            let (line, hint) = match own_parse_error(&error) {
                Some(line) => (crate::text::escape(&line).into_owned(), None),
                // Display strips clap's styles. The input it quotes is
                // escaped first: clap's lines would split at its newlines
                // and lose its escape sequences.
                None => {
                    let (line, hint) = usage_lines(&with_input_escaped(error).render().to_string());
                    (crate::text::escape_controls(&line).into_owned(), hint)
                }
            };
            let program = output::program_name();
            output::stderr_line(&format!("{program}: error: {line}"));
            if let Some(hint) = hint {
                output::stderr_line(&format!("{program}: hint: {}", crate::text::escape(&hint)));
            }
            exit_code::FAILURE
        }
    }
}

/// Prints help or the version to stdout: 0, or 125 with one line saying
/// why when stdout refused it (closed by the caller, a full disk), as
/// every command's output.
fn help_printed(error: &clap::Error) -> u8 {
    use std::io::Write as _;
    let printed = error.print().and_then(|()| std::io::stdout().flush());
    output::stdout_written(printed);
    match output::stdout_failure() {
        Some(failure) => {
            let program = output::program_name();
            output::stderr_line(&format!("{program}: error: cannot write the output: {failure}"));
            exit_code::FAILURE
        }
        None => exit_code::SUCCESS,
    }
}

/// `error` with the text it quotes from the command line (the argument,
/// the value, the subcommand) escaped as every error escapes input, in
/// its tips too.
fn with_input_escaped(mut error: clap::Error) -> clap::Error {
    use clap::error::ContextValue;
    let escape = |text: &str| crate::text::escape(text).into_owned();
    let quoted: Vec<String> = error
        .context()
        .flat_map(|(_, value)| match value {
            ContextValue::String(text) => vec![text.clone()],
            ContextValue::Strings(texts) => texts.clone(),
            _ => Vec::new(),
        })
        .collect();
    let escaped: Vec<_> = error
        .context()
        .filter_map(|(kind, value)| match value {
            ContextValue::String(text) => Some((kind, ContextValue::String(escape(text)))),
            ContextValue::Strings(texts) => {
                Some((kind, ContextValue::Strings(texts.iter().map(|t| escape(t)).collect())))
            }
            ContextValue::StyledStrs(tips) => Some((
                kind,
                ContextValue::StyledStrs(tips.iter().map(|tip| escaped_within(tip, &quoted).into()).collect()),
            )),
            _ => None,
        })
        .collect();
    for (kind, value) in escaped {
        error.insert(kind, value);
    }
    error
}

/// A tip's text (its styles dropped, as they drop escape sequences from
/// what it quotes) with each of `quoted` that needs escaping escaped.
fn escaped_within(tip: &clap::builder::StyledStr, quoted: &[String]) -> String {
    quoted.iter().fold(tip.to_string(), |text, raw| {
        let escaped = crate::text::escape(raw);
        if escaped == raw.as_str() {
            return text;
        }
        let shown = clap::builder::StyledStr::from(raw.clone()).to_string();
        text.replace(&shown, &escaped)
    })
}

/// Our own parsers' errors (PIDs, durations, signals) say what was wrong
/// with which text; clap's rendering would lose control characters instead
/// of showing them.
fn own_parse_error(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(error.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        return None;
    }
    let source = std::error::Error::source(error)?;
    let argument = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(name)) => name.clone(),
        _ => "argument".to_string(),
    };
    Some(format!("invalid {argument}: {source}"))
}

/// Folds clap's rendered usage error into one line (the message, its
/// indented continuation and its tips) and a hint (the usage line and where
/// to read more). Pure.
fn usage_lines(rendered: &str) -> (String, Option<String>) {
    let mut message: Vec<&str> = Vec::new();
    let mut tips: Vec<&str> = Vec::new();
    let mut usage = None;
    for line in rendered.lines() {
        let trimmed = line.trim();
        if let Some(first) = trimmed.strip_prefix("error: ") {
            message.push(first);
        } else if let Some(tip) = trimmed.strip_prefix("tip: ") {
            tips.push(tip);
        } else if let Some(found) = trimmed.strip_prefix("Usage: ") {
            usage = Some(found.to_string());
        } else if !trimmed.is_empty() && tips.is_empty() && usage.is_none() && !trimmed.starts_with("For more") {
            message.push(trimmed);
        }
    }
    let mut line = message.join(" ");
    if !tips.is_empty() {
        line = format!("{line} ({})", tips.join("; "));
    }
    let hint = usage.map(|usage| {
        let command: Vec<&str> = usage
            .split_whitespace()
            .take_while(|w| !w.starts_with(['[', '<', '-']))
            .collect();
        format!("usage: {usage}; more with '{} --help'", command.join(" "))
    });
    (line, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeout_reads_signals_as_coreutils_does() {
        use crate::signal::Signal;
        let number = |text: &str| parse_timeout_signal(text).map(Signal::number);
        for (text, want) in [
            ("KILL", 9),
            ("sigkill", 9),
            ("9", 9),
            ("09", 9),
            ("0", 0),
            ("EXIT", 0),
            ("sigexit", 0),
            // Exit statuses: 128+N, and ksh's 256+N.
            ("137", 9),
            ("143", 15),
            ("128", 0),
            ("265", 9),
            ("256", 0),
            ("34", 34),
            ("RTMIN+3", 37),
            ("64", 64),
            // SIG and a number: that signal, not an exit status.
            ("SIG9", 9),
            ("sig15", 15),
            ("SIG0", 0),
            ("SIG64", 64),
        ] {
            assert_eq!(number(text), Ok(want), "{text}");
        }
        for text in [
            "32",
            "33",
            "65",
            "383",
            "511",
            "1000",
            "4294967305",
            "9x",
            "+9",
            " 9",
            "9 ",
            " KILL",
            "KILL ",
            "-9",
            "",
        ] {
            assert!(parse_timeout_signal(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn usage_errors_fold_into_one_line_and_a_hint() {
        let rendered = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\nUsage: afterlife kill [OPTIONS] <PID>...\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_lines(rendered),
            (
                "unexpected argument '--bogus' found (to pass '--bogus' as a value, use '-- --bogus')".to_string(),
                Some("usage: afterlife kill [OPTIONS] <PID>...; more with 'afterlife kill --help'".to_string())
            )
        );
        let rendered = "error: the following required arguments were not provided:\n  <PID>...\n\nUsage: afterlife wait <PID>...\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_lines(rendered).0,
            "the following required arguments were not provided: <PID>..."
        );
    }

    #[test]
    fn every_usage_error_is_one_line_and_a_hint() {
        for args in [
            &["afterlife", "kill", "--bogus", "1"][..],
            &["afterlife", "wait"],
            &["afterlife", "frobnicate"],
            &["afterlife", "--color", "sometimes", "explain", "1"],
            &["afterlife", "holds"],
            &["afterlife", "status", "1", "--timeout", "3"],
        ] {
            let Err(error) = Cli::try_parse_from(args) else {
                panic!("{args:?} parsed")
            };
            let (line, hint) = usage_lines(&error.render().to_string());
            assert!(!line.is_empty() && !line.contains('\n'), "{args:?}: {line:?}");
            assert!(!line.starts_with("error"), "{args:?}: {line:?}");
            if let Some(hint) = hint {
                assert!(
                    hint.starts_with("usage: afterlife") && !hint.contains('\n'),
                    "{args:?}: {hint:?}"
                );
            }
        }
    }

    fn operands_at(line: &str) -> Option<usize> {
        let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        timeout_operands_at(&args)
    }

    #[test]
    fn timeout_options_end_at_the_first_operand() {
        assert_eq!(operands_at("afterlife timeout 1 -s KILL sleep 2"), Some(2));
        assert_eq!(operands_at("afterlife timeout -s KILL 1 sleep"), Some(4));
        assert_eq!(operands_at("afterlife timeout -sKILL -k1 1 sleep"), Some(4));
        assert_eq!(operands_at("afterlife timeout -vk 1 2 sleep"), Some(4));
        assert_eq!(operands_at("afterlife timeout -s0 -k .1 .1 sleep 10"), Some(5));
        assert_eq!(
            operands_at("afterlife timeout --kill-after 1 --signal=HUP 3 sh"),
            Some(5)
        );
        assert_eq!(operands_at("afterlife --json --color never timeout -v 1 true"), Some(6));
        assert_eq!(
            operands_at("afterlife --color=never timeout --report-json f 1 true"),
            Some(5)
        );
        // getopt_long's abbreviations.
        assert_eq!(operands_at("afterlife timeout --kill 5 --sig KILL 1 true"), Some(6));
        assert_eq!(operands_at("afterlife timeout --pres 1 true"), Some(3));
        assert_eq!(operands_at("afterlife timeout --kill=5 1 true"), Some(3));
        // Already marked, or no operand: nothing to do.
        assert_eq!(operands_at("afterlife timeout -- -1 true"), None);
        assert_eq!(operands_at("afterlife timeout -v"), None);
        // Other commands are left alone.
        assert_eq!(operands_at("afterlife run --timeout 1 -- true"), None);
        assert_eq!(operands_at("afterlife explain timeout"), None);
    }
}
