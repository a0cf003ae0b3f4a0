//! `kill --signal 0`: the liveness check of `kill -0`, through pidfds.
//!
//! The same selection as a termination (PIDs, trees, sessions, groups, a
//! name), then the null signal to each member through a pidfd opened
//! against the scan's start time: the kernel says whether the process
//! exists and whether afterlife may signal it (`EPERM`), and sends
//! nothing. Nothing is refused, since nothing is sent; a PID that names no
//! process is reported, not an error.

use serde::Serialize;

use crate::process::{OpenError, Pid, Process, ProcessTable, SignalError};
use crate::terminate::engine::{Request, TerminateError};
use crate::terminate::select::{Guard, Member, Scope, SelectError, left_by_dead_leader, matching, real_uid, select};

/// What the null signal found for one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// It runs, and afterlife may signal it.
    Signalable,
    /// It runs, but afterlife may not signal it (`EPERM`: another user's
    /// process, without `CAP_KILL`).
    PermissionDenied,
    /// It has exited and is a zombie until its parent reaps it.
    Zombie,
    /// No such process (never was, or ended and was reaped; or its PID
    /// went to another process since the scan).
    Gone,
}

impl Liveness {
    /// Whether this is the answer `kill -0` scripts hope for.
    pub fn ok(self) -> bool {
        self == Liveness::Signalable
    }

    /// Whether the process exists at all (a zombie does).
    pub fn exists(self) -> bool {
        self != Liveness::Gone
    }
}

/// One process checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessCheck {
    /// The PID.
    pub pid: Pid,
    /// Its name, when the scan saw it.
    pub name: Option<String>,
    /// Whether the user named it (or `--name` matched it) rather than a
    /// walk finding it.
    pub named: bool,
    /// The answer.
    pub result: Liveness,
    /// Whether it exists (a zombie does).
    pub exists: bool,
    /// Whether afterlife may signal it (false for a zombie or a gone one).
    pub signalable: bool,
}

impl ProcessCheck {
    fn new(pid: Pid, name: Option<String>, named: bool, result: Liveness) -> ProcessCheck {
        ProcessCheck {
            pid,
            name,
            named,
            result,
            exists: result.exists(),
            signalable: result.ok(),
        }
    }
}

/// Counts of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckSummary {
    /// Processes checked.
    pub processes: usize,
    /// Those that exist (zombies included).
    pub existing: usize,
    /// Those running that afterlife may signal.
    pub signalable: usize,
}

/// The report of `kill --signal 0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Always 0: nothing was sent.
    pub signal: u8,
    /// What the named PIDs stood for.
    pub scope: Scope,
    /// Counts.
    pub summary: CheckSummary,
    /// Each process, named ones first.
    pub processes: Vec<ProcessCheck>,
}

impl CheckReport {
    fn new(scope: Scope, mut processes: Vec<ProcessCheck>) -> CheckReport {
        // Stable: named ones keep the order given.
        processes.sort_by_key(|p| !p.named);
        let summary = CheckSummary {
            processes: processes.len(),
            existing: processes.iter().filter(|p| p.exists).count(),
            signalable: processes.iter().filter(|p| p.signalable).count(),
        };
        CheckReport {
            signal: 0,
            scope,
            summary,
            processes,
        }
    }

    /// Whether every process runs and may be signalled (exit code 0).
    pub fn all_signalable(&self) -> bool {
        !self.processes.is_empty() && self.processes.iter().all(|p| p.signalable)
    }
}

/// Checks the processes `request` selects (its plan is ignored: nothing is
/// sent, nothing is waited for).
pub fn check(request: &Request) -> Result<CheckReport, TerminateError> {
    let table = ProcessTable::scan();
    let guard = Guard::for_current(&table, true);
    let named = match &request.names {
        Some(names) => matching(&table, names, &guard, real_uid),
        None => request.pids.clone(),
    };
    let (present, missing) = split_missing(&table, &named, request.scope);
    // A named PID /proc hides (hidepid) is neither gone nor checkable.
    if let Some(&pid) = missing.iter().find(|&&pid| Process::exists_unlisted(pid)) {
        return Err(SelectError::Hidden(pid).into());
    }
    let (selected, _) = select(&table, &present, request.scope, &guard)?;
    let mut processes: Vec<ProcessCheck> = selected
        .members
        .iter()
        .chain(selected.refused.iter().map(|r| &r.member))
        .map(probe)
        .collect();
    processes.extend(
        missing
            .into_iter()
            .map(|pid| ProcessCheck::new(pid, None, true, Liveness::Gone)),
    );
    Ok(CheckReport::new(request.scope, processes))
}

/// The named PIDs the scan has (or that still name a group or session the
/// scope reaches), and those that name nothing. Pure.
fn split_missing(table: &ProcessTable, named: &[Pid], scope: Scope) -> (Vec<Pid>, Vec<Pid>) {
    let reachable = |pid: Pid| {
        table.get(pid).is_some() || {
            let (group, session) = left_by_dead_leader(table, pid);
            (scope == Scope::Pgroup && group > 0) || (scope == Scope::Session && session > 0)
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    named
        .iter()
        .copied()
        .filter(|pid| seen.insert(*pid))
        .partition(|&pid| reachable(pid))
}

/// The null signal to one member, through a pidfd checked against the
/// scan's start time.
fn probe(member: &Member) -> ProcessCheck {
    let result = match Process::open_expecting(member.pid, member.start_ticks) {
        Ok(process) => match process.may_signal() {
            _ if process.has_exited() => Liveness::Zombie,
            Ok(true) => Liveness::Signalable,
            Ok(false) | Err(SignalError::PermissionDenied { .. }) => Liveness::PermissionDenied,
            Err(SignalError::Exited { .. }) => Liveness::Gone,
            Err(SignalError::Io { .. }) => Liveness::PermissionDenied,
        },
        Err(OpenError::PermissionDenied { .. }) => Liveness::PermissionDenied,
        Err(_) => Liveness::Gone,
    };
    ProcessCheck::new(member.pid, Some(member.name.clone()), member.named, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::TableEntry;

    fn entry(pid: i32, pgid: i32) -> TableEntry {
        TableEntry {
            start_ticks: 1,
            ..TableEntry::fixture(pid, 1, pgid, pgid)
        }
    }

    fn p(n: i32) -> Pid {
        Pid::new(n).unwrap()
    }

    #[test]
    fn missing_pids_are_reported_not_refused_and_a_dead_leader_still_reaches_its_group() {
        let table = ProcessTable::from_entries([entry(10, 10), entry(11, 5), entry(12, 5)]);
        assert_eq!(
            split_missing(&table, &[p(10), p(99), p(10), p(5)], Scope::Pids),
            (vec![p(10)], vec![p(99), p(5)])
        );
        assert_eq!(
            split_missing(&table, &[p(5), p(99)], Scope::Pgroup),
            (vec![p(5)], vec![p(99)])
        );
    }

    #[test]
    fn only_running_signalable_processes_pass() {
        let check = |result| ProcessCheck::new(p(10), None, true, result);
        let report = CheckReport::new(Scope::Pids, vec![check(Liveness::Signalable)]);
        assert!(report.all_signalable());
        for bad in [Liveness::PermissionDenied, Liveness::Zombie, Liveness::Gone] {
            let report = CheckReport::new(Scope::Pids, vec![check(Liveness::Signalable), check(bad)]);
            assert!(!report.all_signalable(), "{bad:?}");
            assert_eq!(report.summary.signalable, 1);
            assert_eq!(report.summary.existing, if bad == Liveness::Gone { 1 } else { 2 });
        }
        assert!(!CheckReport::new(Scope::Pids, Vec::new()).all_signalable());
        let zombie = check(Liveness::Zombie);
        assert!(zombie.exists && !zombie.signalable);
    }
}
