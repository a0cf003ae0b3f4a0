//! afterlife: process termination on Linux, made safe, complete and explainable.
//!
//! - [`process`]: one process, safely addressed — a pidfd handle checked
//!   against the start time, its facts from /proc, tree walks.
//! - [`exit`]: how a process ended ([`exit::ExitStatus`]) and what any exit
//!   number means ([`exit::explain`]).
//! - [`signal`]: signal numbers, names and default actions.
//! - [`observe`]: `status` and `wait` for any process, as typed reports which
//!   the binary renders as text or JSON.
//! - [`resources`]: what a process holds — every open fd with its kind,
//!   access mode and `O_CLOEXEC`.
//! - [`terminate`]: ending processes and whole trees for sure (`kill`).
//! - [`resist`]: `why` — why a process does not die, with evidence and the next step.
//!   access mode and `O_CLOEXEC`; sockets, maps, locks, IPC; snapshots, who
//!   holds a port or path (`holds`), and what a dead tree left behind.
//! - [`supervise`]: `run` and `timeout` — a command tree contained, its
//!   deadline enforced, its exact ending and its leftovers reported.
//! - [`demo`]: the talk's scenarios run for real: how each death looks, what went, what stayed.
//! - [`watch`]: `watch` — fd and memory trends of live processes, leak
//!   verdicts, Prometheus metrics, plots and a live view.
//! - [`cli`]: the command line; help, man page and completions come from
//!   its definitions.
//! - [`exit_code`]: the one table of afterlife's own exit codes.
//! - [`duration`], [`text`]: durations as users type them; escaping text from
//!   /proc before it reaches a terminal.

#![deny(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!("afterlife works only on Linux: it is built on pidfds, /proc and cgroups.");

pub mod bpf;
pub mod cli;
pub mod deaths;
pub mod demo;
pub mod duration;
pub mod exit;
pub mod exit_code;
pub mod observe;
pub mod proc;
pub mod process;
pub mod resist;
pub mod resources;
pub mod signal;
pub(crate) mod stop_signals;
pub mod supervise;
pub mod terminate;
pub mod text;
pub mod watch;
