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

pub mod cli;
pub mod duration;
pub mod exit;
pub mod exit_code;
pub mod observe;
pub mod process;
pub mod resources;
pub mod signal;
pub mod text;
pub mod watch;
