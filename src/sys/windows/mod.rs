//! The Windows side of the seam: the talk's own primitives.
//!
//! - [`handle`]: a process held by a handle checked against its creation
//!   time (`GetProcessTimes`), so a recycled PID is never hit; its exit code
//!   (`GetExitCodeProcess`, asked only after `WaitForSingleObject(h, 0)`
//!   says it has ended, so an exit code of 259 is never taken for
//!   `STILL_ACTIVE`).
//! - [`snapshot`]: Toolhelp snapshots of processes (with parent PIDs) and
//!   threads.
//! - [`tree`]: which rows of a snapshot are children, as a pure function:
//!   only those created after their parent (PIDs are reused).
//! - [`ending`]: an exit code as cmd, PowerShell and NTSTATUS read it.
//! - [`observe`]: `status` and `wait` for any process.
//! - [`terminate`]: `kill`: suspend every member, walk again until nothing
//!   new appears, a graceful close (WM_CLOSE to their windows) and then
//!   `TerminateProcess`; CTRL_BREAK_EVENT to a member that leads its own
//!   console process group.
//! - [`job`]: job objects with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`.
//! - [`supervise`]: `run` and `timeout`: the command in a job object.
//! - [`console`]: a process's console process group, read from its process
//!   parameters ([`peb`]), and CTRL_BREAK_EVENT sent to a group leader by a
//!   helper.
//! - [`resist`], [`resist_gather`]: `why`: suspended threads
//!   ([`threads`]), a debugger ([`debug`]), an ended process kept by open
//!   handles ([`handle_table`]), access denied, and what `TerminateProcess`
//!   would do; [`child_resist`] holds the child modes that make them.
//! - [`demo`]: `afterlife demo`'s scenarios on Windows primitives.
//! - [`socket_table`], [`socket_handles`], [`account`], [`port_owners`]:
//!   `holds`: the TCP and UDP tables of the IP Helper with each socket's
//!   owner PID, the processes holding a handle to a socket (the system's
//!   handle table), the user a process runs as, and the report: owner,
//!   holders, user, state, or that the owner is gone.
//! - [`sample`], [`watch_wake`], [`watcher`]: `watch`: handle counts,
//!   private bytes, working set and threads per tick (and each process's
//!   command line, [`command_line`]), the wait between
//!   ticks, and the loop (`crate::watch` takes them under its side's
//!   names: `sample`, `wake`, `watcher`).
//! - [`child`]: afterlife's hidden child mode for the tests
//!   ([`child_sockets`]: the socket case study's processes; [`child_leaks`]:
//!   the modes that leak, for `watch`; [`child_resist`]: the processes
//!   that resist, for `why`).
//! - [`linux_abi`]: Linux's signal numbers, for the OS-neutral tables.

pub(crate) mod account;
pub(crate) mod child;
pub(crate) mod child_leaks;
pub(crate) mod child_resist;
pub(crate) mod child_sockets;
pub(crate) mod command_line;
pub(crate) mod console;
pub(crate) mod debug;
pub(crate) mod demo;
pub(crate) mod ending;
pub(crate) mod handle;
pub(crate) mod handle_table;
pub(crate) mod job;
pub(crate) mod linux_abi;
pub(crate) mod observe;
pub(crate) mod peb;
pub(crate) mod port_owners;
pub(crate) mod resist;
pub(crate) mod resist_gather;
pub(crate) mod sample;
pub(crate) mod snapshot;
pub(crate) mod socket_handles;
pub(crate) mod socket_table;
pub(crate) mod supervise;
pub(crate) mod terminate;
pub(crate) mod threads;
pub(crate) mod tree;
pub(crate) mod watch_wake;
pub(crate) mod watcher;

/// `run --containment`: the values the command line takes on Linux, so
/// that the same command line parses the same way; on Windows only `auto`
/// (a job object) exists, and the others fail with 125.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ContainmentChoice {
    /// The strongest the machine allows: a job object.
    #[default]
    Auto,
    /// A cgroup v2 leaf (Linux only).
    Cgroup,
    /// A PID namespace (Linux only).
    Pidns,
    /// A child subreaper (Linux only).
    Subreaper,
}

/// Every process now (PID and name), for PID completions.
pub(crate) fn process_names() -> Vec<(u32, String)> {
    snapshot::processes()
        .unwrap_or_default()
        .into_iter()
        .map(|row| (row.pid, row.name))
        .collect()
}

/// `explain` on Windows: the Windows readings of a number first (a user
/// here meets exit codes as `%ERRORLEVEL%`), the others after in their
/// order. Pure.
pub(crate) fn host_readings_first(
    mut explanation: crate::exit::explain::Explanation,
) -> crate::exit::explain::Explanation {
    use crate::exit::explain::ReadingKind;
    // A stable sort keeps each group's own order.
    explanation
        .readings
        .sort_by_key(|reading| reading.kind != ReadingKind::Windows);
    explanation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::explain::{ReadingKind, explain};

    #[test]
    fn windows_readings_come_first_on_windows() {
        let explanation = host_readings_first(explain("3").unwrap());
        assert_eq!(explanation.readings[0].kind, ReadingKind::Windows);
        assert!(explanation.readings.len() > 1);
        // A signal name has no Windows reading: unchanged.
        assert_eq!(
            host_readings_first(explain("SIGTERM").unwrap()),
            explain("SIGTERM").unwrap()
        );
    }
}
