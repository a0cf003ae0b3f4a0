//! The commands on Windows: `status`, `wait`, `kill`, `run`, `timeout` and `why`
//! rendered from [`crate::sys::windows`]'s reports, under the same module
//! names as the Linux renderers so that the dispatch in `cli` is one match
//! for both; the commands that need Linux say so in one line (exit 125).

pub(crate) mod kill;
pub(crate) mod observe;
pub(crate) mod supervise;
pub(crate) mod why;

pub(crate) use observe::{status, wait};
pub(crate) use supervise::{run, timeout};

use crate::cli::Failure;

/// The one line of a command that needs Linux.
fn needs_linux(command: &str, what: &str) -> Failure {
    Failure::new(format!(
        "'{command}' needs Linux ({what}); on Windows afterlife has status, wait, kill, run, timeout, why and explain"
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
linux_only!(holds, HoldsArgs, "/proc fds and sock_diag");
linux_only!(leftovers, LeftoversArgs, "/proc fds, sockets and IPC");
linux_only!(watch, WatchArgs, "/proc fd and memory counts");
linux_only!(deaths, DeathsArgs, "BPF tracepoints or the proc connector");
linux_only!(demo, DemoArgs, "the scenarios run Linux processes");
