//! Process tree walks: children, descendants, sessions and process groups.
//!
//! A scan reads `/proc/PID/stat` of every process once (parsed by
//! [`crate::proc::stat`]); the walks are pure
//! functions over that table, so they can be tested without /proc. A scan is
//! a moment's picture: processes fork and exit meanwhile, which is why
//! termination walks again until nothing new appears (see `terminate`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::proc;
use crate::proc::stat::PF_KTHREAD;
use crate::process::Pid;

/// One row of the process table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableEntry {
    /// The PID.
    pub pid: Pid,
    /// The parent's PID (0 for PID 1 and kthreadd).
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
    /// Name (`comm`).
    pub name: String,
    /// Whether it is a kernel thread.
    pub kernel_thread: bool,
    /// Whether it sleeps in the kernel (state `D`): no signal but SIGKILL
    /// reaches it before the wait ends, and only in a killable wait.
    pub disk_sleep: bool,
}

/// A snapshot of every process's parentage.
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    entries: BTreeMap<Pid, TableEntry>,
}

#[cfg(test)]
impl TableEntry {
    /// A row for tests: named `pPID`, not a kernel thread, started at tick
    /// 1000 + PID.
    pub(crate) fn fixture(pid: i32, ppid: i32, pgid: i32, sid: i32) -> TableEntry {
        TableEntry {
            pid: Pid::new(pid).expect("a positive PID"),
            ppid,
            pgid,
            sid,
            start_ticks: 1000 + pid as u64,
            name: format!("p{pid}"),
            kernel_thread: false,
            disk_sleep: false,
        }
    }
}

impl TableEntry {
    /// The row that `/proc/PID/stat` gives.
    pub(crate) fn from_stat(stat: proc::stat::Stat) -> Option<TableEntry> {
        Some(TableEntry {
            pid: Pid::new(stat.pid)?,
            ppid: stat.ppid,
            pgid: stat.pgrp,
            sid: stat.session,
            start_ticks: stat.starttime,
            kernel_thread: stat.flags & PF_KTHREAD != 0,
            disk_sleep: stat.state == 'D',
            name: stat.comm,
        })
    }
}

impl ProcessTable {
    /// Reads every process in /proc. Processes that exit during the scan are
    /// skipped.
    pub fn scan() -> ProcessTable {
        let mut entries = BTreeMap::new();
        if let Ok(all) = proc::all_processes() {
            for process in all.flatten() {
                // ENOENT/ESRCH here: it exited after the directory listing.
                let Ok(stat) = proc::stat::of(&process) else { continue };
                let Some(entry) = TableEntry::from_stat(stat) else {
                    continue;
                };
                entries.insert(entry.pid, entry);
            }
        }
        ProcessTable { entries }
    }

    /// Adds rows, each replacing any row of the same PID.
    pub fn extend(&mut self, entries: impl IntoIterator<Item = TableEntry>) {
        self.entries.extend(entries.into_iter().map(|e| (e.pid, e)));
    }

    /// A table from given rows (for tests and for callers with their own scan).
    pub fn from_entries(entries: impl IntoIterator<Item = TableEntry>) -> ProcessTable {
        ProcessTable {
            entries: entries.into_iter().map(|e| (e.pid, e)).collect(),
        }
    }

    /// The row of `pid`, if it was seen.
    pub fn get(&self, pid: Pid) -> Option<&TableEntry> {
        self.entries.get(&pid)
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no row.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every row.
    pub fn entries(&self) -> impl Iterator<Item = &TableEntry> {
        self.entries.values()
    }

    /// Direct children of `pid`.
    pub fn children(&self, pid: Pid) -> Vec<Pid> {
        self.entries
            .values()
            .filter(|e| e.ppid == pid.get())
            .map(|e| e.pid)
            .collect()
    }

    /// Every descendant of `pid` (children, their children, ...), parents
    /// before their children; `pid` itself is not included.
    pub fn descendants(&self, pid: Pid) -> Vec<Pid> {
        let mut by_parent: BTreeMap<i32, Vec<Pid>> = BTreeMap::new();
        for entry in self.entries.values() {
            by_parent.entry(entry.ppid).or_default().push(entry.pid);
        }
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        let mut queue = VecDeque::from([pid]);
        while let Some(parent) = queue.pop_front() {
            for &child in by_parent.get(&parent.get()).into_iter().flatten() {
                if child != pid && seen.insert(child) {
                    order.push(child);
                    queue.push_back(child);
                }
            }
        }
        order
    }

    /// Every process in session `sid`.
    pub fn session_members(&self, sid: i32) -> Vec<Pid> {
        self.entries.values().filter(|e| e.sid == sid).map(|e| e.pid).collect()
    }

    /// Every process in process group `pgid`.
    pub fn pgroup_members(&self, pgid: i32) -> Vec<Pid> {
        self.entries
            .values()
            .filter(|e| e.pgid == pgid)
            .map(|e| e.pid)
            .collect()
    }

    /// The chain of ancestors of `pid`, nearest first.
    pub fn ancestors(&self, pid: Pid) -> Vec<Pid> {
        let mut chain = Vec::new();
        let mut current = pid;
        while let Some(entry) = self.entries.get(&current) {
            let Some(parent) = Pid::new(entry.ppid) else { break };
            if chain.contains(&parent) {
                break;
            }
            chain.push(parent);
            current = parent;
        }
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: i32, ppid: i32, pgid: i32, sid: i32) -> TableEntry {
        TableEntry {
            start_ticks: pid as u64,
            ..TableEntry::fixture(pid, ppid, pgid, sid)
        }
    }

    fn table() -> ProcessTable {
        // 1 ─ 10 ─ 11 ─ 12
        //   │    └ 13 (setsid: its own session 13)
        //   └ 20 (same session as 10, other group)
        ProcessTable::from_entries([
            entry(1, 0, 1, 1),
            entry(10, 1, 10, 10),
            entry(11, 10, 10, 10),
            entry(12, 11, 10, 10),
            entry(13, 10, 13, 13),
            entry(20, 1, 20, 10),
        ])
    }

    fn pids(list: &[i32]) -> Vec<Pid> {
        list.iter().map(|&p| Pid::new(p).unwrap()).collect()
    }

    #[test]
    fn walks_children_and_descendants() {
        let t = table();
        assert_eq!(t.children(Pid::new(10).unwrap()), pids(&[11, 13]));
        assert_eq!(t.descendants(Pid::new(10).unwrap()), pids(&[11, 13, 12]));
        assert_eq!(t.descendants(Pid::new(12).unwrap()), pids(&[]));
        assert_eq!(t.ancestors(Pid::new(12).unwrap()), pids(&[11, 10, 1]));
    }

    #[test]
    fn sessions_and_groups() {
        let t = table();
        assert_eq!(t.session_members(10), pids(&[10, 11, 12, 20]));
        assert_eq!(t.pgroup_members(10), pids(&[10, 11, 12]));
        assert_eq!(t.pgroup_members(13), pids(&[13]));
    }

    #[test]
    fn scan_sees_this_process_and_its_parent() {
        let t = ProcessTable::scan();
        let me = t.get(Pid::current()).expect("this process is in the table");
        assert_eq!(
            me.ppid,
            rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get())
        );
    }
}
