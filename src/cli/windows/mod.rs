//! The commands on Windows: `status`, `wait`, `kill`, `run`, `timeout`,
//! `holds` (ports), `watch` and `why`, rendered from [`crate::sys::windows`]'s reports, under the same module
//! names as the Linux renderers so that the dispatch in `cli` is one match
//! for both; the commands that need Linux say so in one line (exit 125).

pub(crate) mod holds;
pub(crate) mod kill;
pub(crate) mod observe;
pub(crate) mod supervise;
// The same renderer as on Linux, over the Windows sampler.
#[path = "../watch.rs"]
pub(crate) mod watch;
pub(crate) mod why;

pub(crate) use observe::{status, wait};
pub(crate) use supervise::{run, timeout};

use crate::cli::Failure;

/// The one line of a command that needs Linux.
fn needs_linux(command: &str, what: &str) -> Failure {
    Failure::new(format!(
        "'{command}' needs Linux ({what}); on Windows afterlife has status, wait, kill, run, timeout, holds, watch, why, demo and explain"
    ))
}

macro_rules! linux_only {
    ($module:ident, $args:ident, $what:literal) => {
        pub(crate) mod $module {
            pub(crate) fn run(_: &crate::cli::$args, _: &crate::cli::Output) -> Result<u8, crate::cli::Failure> {
                Err(super::needs_linux(stringify!($module), $what))
            }
        }
    };
}

linux_only!(snapshot, SnapshotArgs, "/proc fds, sockets, maps and locks");
linux_only!(leftovers, LeftoversArgs, "/proc fds, sockets and IPC");
linux_only!(deaths, DeathsArgs, "BPF tracepoints or the proc connector");
