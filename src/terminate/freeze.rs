//! Freeze, then signal: the way to end a tree that keeps forking when no
//! cgroup holds it.
//!
//! A process with `SIGSTOP` pending cannot complete a `fork` (the kernel
//! restarts the call once the signal is handled, kernel/fork.c), and a
//! stopped process neither forks nor exits, so its children keep it as
//! their parent instead of being reparented out of reach. So: stop every
//! member through its pidfd, scan again, stop what appeared, until a scan
//! finds nothing new. Then every member gets the signal, and `SIGCONT` lets a
//! graceful one be handled (a stopped process runs no handler; `SIGKILL`
//! needs no continue).

use crate::process::ProcessTable;
use crate::signal::Signal;
use crate::terminate::select::Scope;
use crate::terminate::targets::Targets;

/// A bound on walks: a tree that outgrows this many rounds of stopping is
/// reported with what was caught, never walked forever.
const MAX_WALKS: usize = 100;

/// Stops every member and walks until no new member appears; returns the
/// number of walks.
pub(crate) fn stop_and_walk(targets: &mut Targets<'_>) -> usize {
    stop_unstopped(targets);
    if targets.anchors.scope == Scope::Pids {
        return 0;
    }
    let mut walks = 0;
    while walks < MAX_WALKS {
        let table = ProcessTable::scan();
        walks += 1;
        let new = targets.walk_new(&table);
        if new.is_empty() {
            break;
        }
        stop_unstopped(targets);
    }
    walks
}

fn stop_unstopped(targets: &mut Targets<'_>) {
    for index in 0..targets.list.len() {
        if targets.list[index].pending() && !targets.list[index].stopped {
            targets.send(index, Signal::STOP, false);
            targets.list[index].stopped = true;
        }
    }
}

/// Continues every member that was stopped.
pub(crate) fn continue_all(targets: &mut Targets<'_>) {
    for index in 0..targets.list.len() {
        if targets.list[index].stopped {
            targets.send(index, Signal::CONT, false);
            targets.list[index].stopped = false;
        }
    }
}
