//! afterlife: process termination on Linux and Windows, made safe, complete and explainable.
//!
//! - [`process`]: one process, safely addressed — a pidfd handle checked
//!   against the start time, its facts from /proc, tree walks.
//! - [`exit`]: how a process ended ([`exit::ExitStatus`]) and what any exit
//!   number means ([`exit::explain`]).
//! - [`signal`]: signal numbers, names and default actions.
//! - [`observe`]: `status` and `wait` for any process, as typed reports which
//!   the binary renders as text or JSON.
//! - [`resources`]: what a process holds — every open fd with its kind,
//!   access mode and `O_CLOEXEC`; sockets, maps, locks, IPC; snapshots, who
//!   holds a port or path (`holds`), and what a dead tree left behind.
//! - [`terminate`]: ending processes and whole trees for sure (`kill`).
//! - [`resist`]: `why` — why a process does not die, with evidence and the next step.
//! - [`supervise`]: `run` and `timeout` — a command tree contained, its
//!   deadline enforced, its exact ending and its leftovers reported.
//! - [`demo`]: the talk's scenarios run for real: how each death looks, what went, what stayed.
//! - [`watch`]: `watch` — fd (Windows: handle) and memory trends of live
//!   processes, leak verdicts, Prometheus metrics, plots and a live view.
//! - [`cli`]: the command line; help, man page and completions come from
//!   its definitions.
//! - [`exit_code`]: the one table of afterlife's own exit codes.
//! - [`duration`], [`text`]: durations as users type them; escaping text from
//!   /proc before it reaches a terminal.
//! - `sys`: the platform seam. On Linux the modules above that touch the OS
//!   are built; on Windows `sys::windows` holds `status`, `wait`, `kill`,
//!   `run`, `timeout`, `holds`, `watch`'s sampler and the demo's scenarios on process handles, Toolhelp
//!   snapshots and job objects, and the OS-neutral modules (`exit`, `exit_code`, `duration`,
//!   `text`, `signal`, the clap definitions) are the same on both.

#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::multiple_unsafe_ops_per_block)]

/// The version of the JSON schema every `--json` document and NDJSON line
/// carries in its `version` field (docs/JSON.md, docs/schema/). Version 1
/// was the snapshot file's own format before every command shared one.
pub const JSON_VERSION: u32 = 2;

// OS-neutral: exit explanations, durations, exit codes, text escaping,
// signal names, `holds`' SPECs, the command line's definitions; the demo's
// registry, runner and reports (its scenarios are per OS).
pub mod cli;
pub mod demo;
pub mod duration;
pub mod exit;
pub mod exit_code;
pub mod finding;
pub mod holds_spec;
pub mod signal;
pub(crate) mod sys;
pub mod text;
// Both, with each OS's sampler and loop behind the seam.
pub mod watch;

// Linux only: pidfds, /proc, cgroups, BPF, netlink. On Windows the
// commands built on them say so (see `cli`), and `sys::windows` holds what
// Windows does instead.
#[cfg(target_os = "linux")]
pub mod bpf;
#[cfg(target_os = "linux")]
pub mod deaths;
#[cfg(target_os = "linux")]
pub mod netlink;
#[cfg(target_os = "linux")]
pub mod observe;
#[cfg(target_os = "linux")]
pub mod proc;
#[cfg(target_os = "linux")]
pub mod process;
#[cfg(target_os = "linux")]
pub mod resist;
#[cfg(target_os = "linux")]
pub mod resources;
#[cfg(target_os = "linux")]
pub(crate) mod stop_signals;
#[cfg(target_os = "linux")]
pub mod supervise;
#[cfg(target_os = "linux")]
pub mod terminate;

#[cfg(not(any(target_os = "linux", windows)))]
compile_error!("afterlife works on Linux (pidfds, /proc, cgroups) and Windows (process handles, job objects) only.");

/// `Pid`, the one type of `process` the OS-neutral command line names.
#[cfg(windows)]
pub mod process {
    #[path = "pid.rs"]
    mod pid;
    pub use pid::Pid;
}
