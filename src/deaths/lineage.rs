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
//! own but `PROC_EVENT_EXEC`, after which the name is unknown here (a read
//! of /proc then could give a later exec's name);
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
    /// Whether it has had more than one thread since it was forked, read
    /// or last exec'd: only then can a thread's `execve` end its main
    /// thread.
    pub threaded: bool,
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
            if let Ok(stat) = crate::proc::stat::of(&process) {
                self.known.insert(process.pid, read_with(&process, stat));
            }
        }
    }

    /// Takes one event into what is known; an exit is handed back.
    pub fn take(&mut self, event: Event) -> Option<ExitEvent> {
        match event {
            Event::Fork(fork) => self.fork(fork.parent_tgid, fork.child_tgid, fork.timestamp_ns),
            Event::Exec { tgid, .. } => self.exec(tgid),
            Event::Comm { tgid, name } => self.rename(tgid, name),
            Event::Uid { tgid, ruid } => self.set_uid(tgid, ruid),
            Event::Thread { tgid } => self.thread(tgid),
            Event::Exit(exit) => return Some(exit),
        }
        None
    }

    /// A new process: its parent's name and user, started at
    /// `timestamp_ns`. (The kernel copies them from the thread that forks,
    /// which is the main thread but for a fork from another thread, or
    /// with `CLONE_PARENT`: taskstats, where it runs, names the process at
    /// its exit in any case.) A parent unknown leaves the child unnamed.
    pub fn fork(&mut self, parent_tgid: i32, child_tgid: i32, timestamp_ns: u64) {
        let parent = self.known.get(&parent_tgid).cloned().unwrap_or_default();
        let facts = Facts {
            start_ns: Some(timestamp_ns),
            ppid: Some(parent_tgid),
            cgroup: None,
            threaded: false,
            ..parent
        };
        self.known.insert(child_tgid, facts);
    }

    /// A process ran `execve`: its new name is not in the event, and a
    /// read of /proc later could give the name of a later exec, which a
    /// child forked in between would then inherit; so it is unknown from
    /// here (taskstats, or /proc while its zombie waits, names it at its
    /// exit).
    pub fn exec(&mut self, tgid: i32) {
        if let Some(entry) = self.known.get_mut(&tgid) {
            entry.name = None;
            entry.threaded = false;
        }
    }

    /// A process started a thread.
    pub fn thread(&mut self, tgid: i32) {
        if let Some(entry) = self.known.get_mut(&tgid) {
            entry.threaded = true;
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

    /// Forgets `tgid` once its process has ended at `exit_ns`: its entry
    /// unless it is of a process that started after that (one given the
    /// PID since).
    pub fn forget(&mut self, tgid: i32, exit_ns: u64) {
        if self
            .known
            .get(&tgid)
            .is_some_and(|f| f.start_ns.is_none_or(|s| s <= exit_ns))
        {
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

/// The facts of a process whose `stat` was read as `stat`, with its real
/// user read through the same `/proc/PID` directory fd (`status`). No
/// cgroup: only a zombie's is read, by the look at its end.
pub fn read_with(process: &crate::proc::Process, stat: crate::proc::stat::Stat) -> Facts {
    Facts {
        uid: crate::proc::status::of(process).ok().map(|s| s.ruid),
        cgroup: None,
        start_ns: Some(stat_start_ns(&stat)),
        ppid: Some(stat.ppid).filter(|&p| p > 0),
        threaded: stat.num_threads > 1,
        name: Some(stat.comm),
    }
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
                threaded: false,
            },
        );
        lineage
    }

    #[test]
    fn a_thread_marks_its_process_until_it_execs_and_a_child_starts_with_one() {
        let mut lineage = lineage_with(10, "python3");
        lineage.take(Event::Thread { tgid: 10 });
        assert!(lineage.get(10).unwrap().threaded);
        lineage.fork(10, 11, 2);
        assert!(!lineage.get(11).unwrap().threaded, "a child has one thread");
        lineage.exec(10);
        assert!(!lineage.get(10).unwrap().threaded);
    }

    #[test]
    fn a_child_has_its_parents_name_and_user_and_its_own_start() {
        let mut lineage = lineage_with(10, "bash");
        lineage.fork(10, 11, 500);
        let child = lineage.get(11).unwrap();
        assert_eq!(child.name.as_deref(), Some("bash"));
        assert_eq!(child.uid, Some(1000));
        assert_eq!(child.cgroup, None, "a cgroup is read of the process itself alone");
        assert_eq!((child.start_ns, child.ppid), (Some(500), Some(10)));
        lineage.exec(11);
        assert_eq!(
            lineage.get(11).unwrap().name,
            None,
            "the exec'd program is not the shell"
        );
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
        lineage.forget(10, 0);
        assert!(
            lineage.get(10).is_some(),
            "started after that exit: it took the PID since"
        );
        lineage.forget(10, 1);
        assert!(lineage.is_empty());
    }
}
