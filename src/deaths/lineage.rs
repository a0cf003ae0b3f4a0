//! What each process is, kept from its fork to its exit from the proc
//! connector's own events, so that a death can be named although its
//! parent reaped it before anyone could read `/proc/PID`: the connector
//! sends an exit after `exit_notify()`, and a shell or a service manager
//! reaps at once, so a name read from /proc after the exit was missing for
//! nearly every death.
//!
//! Kernel facts relied on: a new process has its parent's name, users and
//! cgroup (`copy_process`), and its fork event is sent before it runs; an
//! `execve` gives it a new name (the file's base name) with no event of its
//! own but `PROC_EVENT_EXEC`, so the name is read from /proc then, with its
//! cgroup (a service manager moves a process between fork and exec);
//! `PR_SET_NAME` and the `setuid` family send `PROC_EVENT_COMM` and
//! `PROC_EVENT_UID` with the new value.

use std::collections::HashMap;

use super::connector::{Event, ExitEvent};

/// What is known of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Its name (`comm`), where known.
    pub name: Option<String>,
    /// Its real user ID.
    pub uid: Option<u32>,
    /// Its cgroup v2 path.
    pub cgroup: Option<String>,
    /// When it started, `CLOCK_MONOTONIC` ns: its fork event's time, or,
    /// for a process older than the feed, `stat`'s start (to the tick).
    pub start_ns: Option<u64>,
    /// Its parent, as `stat` said when it was read.
    pub ppid: Option<i32>,
}

/// Every process the feed knows, by PID.
#[derive(Debug, Default)]
pub struct Lineage {
    known: HashMap<i32, Facts>,
}

impl Lineage {
    /// Every process /proc lists now.
    pub fn from_proc() -> Lineage {
        let mut lineage = Lineage::default();
        lineage.read_all();
        lineage
    }

    /// Starts over from what /proc lists: after events were lost, an
    /// entry may be of a process long gone.
    pub fn read_all(&mut self) {
        self.known.clear();
        let Ok(processes) = crate::proc::all_processes() else {
            return;
        };
        for process in processes.flatten() {
            if let Some(facts) = read(&process, u64::MAX) {
                self.known.insert(process.pid, facts);
            }
        }
    }

    /// Takes one event into what is known; an exit is handed back.
    pub fn take(&mut self, event: Event) -> Option<ExitEvent> {
        match event {
            Event::Fork(fork) => self.fork(fork.parent_tgid, fork.child_tgid, fork.timestamp_ns),
            Event::Exec { tgid, timestamp_ns } => self.exec(tgid, timestamp_ns),
            Event::Comm { tgid, name } => self.rename(tgid, name),
            Event::Uid { tgid, ruid } => self.set_uid(tgid, ruid),
            Event::Exit(exit) => return Some(exit),
        }
        None
    }

    /// A new process: its parent's facts, started at `timestamp_ns`. A
    /// parent unknown (its fork was lost) leaves the child to be read.
    pub fn fork(&mut self, parent_tgid: i32, child_tgid: i32, timestamp_ns: u64) {
        let facts = match self.known.get(&parent_tgid) {
            Some(parent) => Facts {
                start_ns: Some(timestamp_ns),
                ppid: Some(parent_tgid),
                ..parent.clone()
            },
            None => read_pid(child_tgid, timestamp_ns).unwrap_or(Facts {
                start_ns: Some(timestamp_ns),
                ppid: Some(parent_tgid),
                ..Facts::default()
            }),
        };
        self.known.insert(child_tgid, facts);
    }

    /// A process ran `execve` at `timestamp_ns`: its new name and cgroup
    /// from /proc. If it is gone already (or its PID names a process that
    /// started after the exec), its new name is unknown: the old one is
    /// not kept, it would name the program it left.
    pub fn exec(&mut self, tgid: i32, timestamp_ns: u64) {
        let read = read_pid(tgid, timestamp_ns);
        let entry = self.known.entry(tgid).or_default();
        match read {
            Some(read) => {
                entry.name = read.name;
                entry.uid = read.uid;
                entry.cgroup = read.cgroup.or(entry.cgroup.take());
                entry.start_ns = entry.start_ns.or(read.start_ns);
            }
            None => entry.name = None,
        }
    }

    /// A process's main thread was renamed.
    pub fn rename(&mut self, tgid: i32, name: String) {
        if let Some(entry) = self.known.get_mut(&tgid) {
            entry.name = Some(name);
        }
    }

    /// A process's main thread took a new real user ID.
    pub fn set_uid(&mut self, tgid: i32, ruid: u32) {
        if let Some(entry) = self.known.get_mut(&tgid) {
            entry.uid = Some(ruid);
        }
    }

    /// What is known of `tgid` now.
    pub fn get(&self, tgid: i32) -> Option<&Facts> {
        self.known.get(&tgid)
    }

    /// Forgets `tgid` if its entry is the process that started at
    /// `start_ns` (not one that took its PID since).
    pub fn forget(&mut self, tgid: i32, start_ns: Option<u64>) {
        if self.known.get(&tgid).is_some_and(|f| f.start_ns == start_ns) {
            self.known.remove(&tgid);
        }
    }

    /// How many processes are known.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

/// Reads the facts of `pid` from /proc, unless its process started after
/// `not_after_ns` (its PID was handed out again since).
fn read_pid(pid: i32, not_after_ns: u64) -> Option<Facts> {
    read(&crate::proc::Process::new(pid).ok()?, not_after_ns)
}

/// Reads a process's facts through its `/proc/PID` directory fd: `stat`
/// (name, parent, start), `status` (real user) and `cgroup`. `None` if it
/// is gone or started after `not_after_ns` (the start time reads in clock
/// ticks, early rather than late, so a process never reads as started
/// after an event of its own).
pub fn read(process: &crate::proc::Process, not_after_ns: u64) -> Option<Facts> {
    let stat = crate::proc::stat::of(process).ok()?;
    let start_ns = stat_start_ns(&stat);
    if start_ns > not_after_ns {
        return None;
    }
    let uid = crate::proc::status::of(process).ok().map(|s| s.ruid);
    let cgroup = process
        .cgroups()
        .ok()
        .and_then(|groups| crate::proc::cgroup::v2_path(&groups.0));
    Some(Facts {
        name: Some(stat.comm),
        uid,
        cgroup,
        start_ns: Some(start_ns),
        ppid: Some(stat.ppid).filter(|&p| p > 0),
    })
}

/// When `stat`'s process started, on `CLOCK_MONOTONIC` (stat's start
/// counts from boot, with suspend).
pub fn stat_start_ns(stat: &crate::proc::stat::Stat) -> u64 {
    (stat.starttime * (1_000_000_000 / crate::proc::ticks_per_second()))
        .wrapping_add(super::connector::monotonic_minus_boottime())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lineage_with(pid: i32, name: &str) -> Lineage {
        let mut lineage = Lineage::default();
        lineage.known.insert(
            pid,
            Facts {
                name: Some(name.to_string()),
                uid: Some(1000),
                cgroup: Some("/user.slice".to_string()),
                start_ns: Some(1),
                ppid: Some(1),
            },
        );
        lineage
    }

    #[test]
    fn a_child_has_its_parents_name_user_and_cgroup_and_its_own_start() {
        let mut lineage = lineage_with(10, "bash");
        lineage.fork(10, 11, 500);
        let child = lineage.get(11).unwrap();
        assert_eq!(child.name.as_deref(), Some("bash"));
        assert_eq!(child.uid, Some(1000));
        assert_eq!(child.cgroup.as_deref(), Some("/user.slice"));
        assert_eq!((child.start_ns, child.ppid), (Some(500), Some(10)));
    }

    #[test]
    fn renames_and_user_changes_are_taken_from_the_events() {
        let mut lineage = lineage_with(10, "nginx");
        lineage.rename(10, "worker".to_string());
        lineage.set_uid(10, 33);
        let facts = lineage.get(10).unwrap();
        assert_eq!((facts.name.as_deref(), facts.uid), (Some("worker"), Some(33)));
    }

    #[test]
    fn an_entry_is_forgotten_only_for_the_process_it_was() {
        let mut lineage = lineage_with(10, "sh");
        lineage.forget(10, Some(2));
        assert!(
            lineage.get(10).is_some(),
            "another start: a process that took the PID since"
        );
        lineage.forget(10, Some(1));
        assert!(lineage.is_empty());
    }
}
