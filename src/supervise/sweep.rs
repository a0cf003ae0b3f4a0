//! Freeze-then-kill for trees without `cgroup.kill`: stop every member with
//! SIGSTOP, look again until a round finds no new member (a stopped process
//! cannot fork), then SIGKILL them all.
//!
//! A process that forks between our listing and its SIGSTOP leaves a new
//! child, which the next round finds: the loop ends only when a listing
//! shows nothing that was not already stopped. SIGKILL ends stopped
//! processes too (signal(7)), so no SIGCONT is needed.

use std::collections::BTreeSet;

use crate::process::{Pid, Process, ProcessTable};
use crate::signal::Signal;

/// At most this many rounds of listing: a fork bomb faster than our rounds
/// still gets killed, as far as it was seen.
const MAX_ROUNDS: usize = 64;

/// Opens the descendants of `root` as they are now, each checked against
/// its start time so that a PID reused since the scan is not taken.
pub fn descendants(root: Pid) -> Vec<Process> {
    let table = ProcessTable::scan();
    table
        .descendants(root)
        .into_iter()
        .filter_map(|pid| {
            let entry = table.get(pid)?;
            // ESRCH/ENOENT: it ended since the scan; nothing to do.
            Process::open_expecting(pid, entry.start_ticks).ok()
        })
        .collect()
}

/// Stops every process `list` returns, again until no new one appears, then
/// kills them all. Returns how many were killed.
pub fn freeze_and_kill(mut list: impl FnMut() -> Vec<Process>) -> usize {
    let mut frozen: Vec<Process> = Vec::new();
    let mut seen: BTreeSet<(Pid, u64)> = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let mut new = 0;
        for process in list() {
            if seen.insert((process.pid(), process.start_ticks())) {
                // Exited meanwhile: ESRCH through the pidfd, nobody else hit.
                let _ = process.signal(Signal::STOP);
                frozen.push(process);
                new += 1;
            }
        }
        if new == 0 {
            break;
        }
    }
    let mut killed = 0;
    for process in &frozen {
        if process.signal(Signal::KILL).is_ok() {
            killed += 1;
        }
    }
    killed
}
