//! Freeze-then-kill for trees without `cgroup.kill`: stop every member with
//! SIGSTOP, look again until a round finds no new member (a stopped process
//! cannot fork), then SIGKILL them all.
//!
//! A process that forks between our listing and its SIGSTOP leaves a new
//! child, which the next round finds: the loop ends only when a listing
//! shows nothing that was not already stopped. SIGKILL ends stopped
//! processes too (signal(7)), so no SIGCONT is needed.
//!
//! This is not [`crate::terminate::terminate`], which does the same
//! freeze-then-signal for `kill`, because `run` needs something else of it:
//! - the keeper calls it after a fork, on end of file from afterlife; the
//!   engine scans every process of the machine on several threads
//!   (`/proc/*/stat`), where this walks only the keeper's descendants
//!   through `children` files, a few reads for a small tree;
//! - the engine's tree includes its root and signals it (unless it is the
//!   caller), but the root here is the keeper (subreaper or namespace
//!   init), which must outlive the sweep to reap and report;
//! - the engine waits for its targets to end and escalates by its own plan;
//!   `run` sends SIGKILL now, counts it in its timeline, and waits by its
//!   own limits (the grace period, then a settling time), and lists the
//!   members its own way (the cgroup leaf's members when `cgroup.kill`
//!   fails).

use std::collections::BTreeSet;

use crate::process::{Pid, Process, ProcessTable};
use crate::signal::Signal;

/// At most this many rounds of listing: a fork bomb faster than our rounds
/// still gets killed, as far as it was seen.
const MAX_ROUNDS: usize = 64;

/// Opens the descendants of `root` as they are now, walking
/// `/proc/PID/task/TID/children` (Linux 3.5, `CONFIG_PROC_CHILDREN`) from
/// `root` down, so a small tree costs a few reads however many processes
/// the machine runs; without that file, a scan of every process.
///
/// Each child is opened by pidfd and then checked to still have the parent
/// it was listed under, so a PID reused meanwhile is not taken.
pub fn descendants(root: Pid) -> Vec<Process> {
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        let Some(children) = children_of(parent) else {
            return descendants_by_scan(root);
        };
        for pid in children {
            if let Some(process) = open_child_of(parent, pid) {
                queue.push(pid);
                found.push(process);
            }
        }
    }
    found
}

/// The children of every thread of `pid`; `None` if the kernel has no
/// `children` files.
pub(crate) fn children_of(pid: Pid) -> Option<Vec<Pid>> {
    // ENOENT on the task directory: it ended; it has no children then.
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Some(Vec::new());
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        match crate::proc::read_small(&format!("/proc/{pid}/task/{tid}/children")) {
            Ok(text) => children.extend(crate::proc::children::pids(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && task.path().exists() => return None,
            // The thread ended meanwhile.
            Err(_) => {}
        }
    }
    Some(children)
}

/// Opens `pid` if it is still a child of `parent` and has not exited: its
/// row is read after the pidfd is opened, and counts only if that process
/// still exists after the read ([`Process::open_entry`]), so the row and
/// the pidfd are one process's. A zombie (its parent has not reaped it;
/// `children` lists it, `cgroup.procs` does not) runs no more, holds
/// nothing and has no children: it is no member to end or to report as
/// left behind. A process whose main thread alone has ended runs on, and
/// its pidfd is not readable until its last thread ends.
fn open_child_of(parent: Pid, pid: Pid) -> Option<Process> {
    // ESRCH/ENOENT: it ended since the listing.
    let (process, entry) = Process::open_entry(pid).ok()?;
    (entry.ppid == parent.get() && !process.has_exited()).then_some(process)
}

fn descendants_by_scan(root: Pid) -> Vec<Process> {
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
    // Deepest first: the listing finds parents before their children, and
    // a group's link to its session (a child of the keeper) must exit
    // last, or the kernel hangs up the group while members are still
    // stopped (POSIX orphaned process groups), whoever else is in it.
    let mut killed = 0;
    for process in frozen.iter().rev() {
        if process.signal(Signal::KILL).is_ok() {
            killed += 1;
        }
    }
    killed
}
