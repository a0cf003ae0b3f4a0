//! The few facts of a process a report names (from `/proc/PID/stat`, parsed
//! by [`crate::proc::stat`], and the owner of `/proc/PID`), read once per
//! process and kept for the report.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

use crate::proc;
use crate::process::Pid;
use crate::resources::holders::ProcessRef;
use crate::resources::walk;

/// Brief facts about a process from `/proc/PID/stat` and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brief {
    /// Name.
    pub name: String,
    /// Parent PID.
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
    /// Resident set, pages.
    pub rss_pages: u64,
    /// Real UID (owner of /proc/PID).
    pub uid: Option<u32>,
    /// It has exited and waits to be reaped (state `Z` with no other
    /// thread left: a main thread that ended while others run shows `Z`
    /// too, and its process lives on).
    pub zombie: bool,
    /// It is on its way out (`PF_EXITING`, or `PF_SIGNALED`): its memory,
    /// command line and fds go in the next moments, and may be gone
    /// already while it is read. Not for a main thread that ended while
    /// others run.
    pub exiting: bool,
}

impl Brief {
    /// The facts of a stat line; the owner is not in it. Pure.
    pub fn of_stat(stat: proc::stat::Stat) -> Brief {
        let main_ended = crate::process::main_thread_ended(&stat);
        Brief {
            zombie: stat.state == 'Z' && !main_ended,
            exiting: stat.state != 'Z' && !main_ended && proc::stat::on_its_way_out(stat.flags),
            name: stat.comm,
            ppid: stat.ppid,
            pgid: stat.pgrp,
            start_ticks: stat.starttime,
            rss_pages: stat.rss,
            uid: None,
        }
    }
}

/// Reads [`Brief`] facts; `None` if the process is gone.
pub fn brief(pid: Pid) -> Option<Brief> {
    let mut brief = Brief::of_stat(proc::stat::read(pid).ok()?);
    brief.uid = std::fs::metadata(format!("/proc/{pid}")).ok().map(|m| m.uid());
    Some(brief)
}

/// Caches briefs and user names of the processes a report names.
#[derive(Default)]
pub(super) struct Briefs {
    briefs: HashMap<Pid, Option<Brief>>,
    users: HashMap<u32, Option<String>>,
}

impl Briefs {
    pub(super) fn get(&mut self, pid: Pid) -> Option<&Brief> {
        self.briefs.entry(pid).or_insert_with(|| brief(pid)).as_ref()
    }

    /// Reads the briefs of many processes at once, on every core.
    pub(super) fn prefetch(&mut self, pids: impl IntoIterator<Item = Pid>) {
        let mut wanted: Vec<Pid> = pids.into_iter().filter(|p| !self.briefs.contains_key(p)).collect();
        wanted.sort();
        wanted.dedup();
        let found = walk::parallel_map(&wanted, |&pid| brief(pid));
        self.briefs.extend(wanted.into_iter().zip(found));
    }

    pub(super) fn user(&mut self, uid: Option<u32>) -> Option<String> {
        let uid = uid?;
        self.users
            .entry(uid)
            .or_insert_with(|| crate::process::user_name(uid))
            .clone()
    }

    pub(super) fn process_ref(&mut self, pid: Pid) -> ProcessRef {
        ProcessRef {
            pid,
            name: self.get(pid).map(|b| b.name.clone()).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn briefs_come_from_stat() {
        let line =
            b"42 (a) b) S 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 1000 33 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let b = Brief::of_stat(proc::stat::parse(line).unwrap());
        assert_eq!(b.name, "a) b");
        assert_eq!(b.ppid, 7);
        assert_eq!(b.pgid, 42);
        assert_eq!(b.start_ticks, 12345);
        assert_eq!(b.rss_pages, 33);
        assert_eq!(b.uid, None);
        assert!(!b.zombie);
    }

    #[test]
    fn a_dead_main_thread_is_no_zombie_while_other_threads_run() {
        // State Z and 3 threads: `pthread_exit` in main, two threads run.
        let running =
            b"42 (a) Z 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 3 0 12345 1000 33 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert!(!Brief::of_stat(proc::stat::parse(running).unwrap()).zombie);
        let ended = b"42 (a) Z 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 1000 33 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert!(Brief::of_stat(proc::stat::parse(ended).unwrap()).zombie);
        // The main thread of a pthread_exit has PF_EXITING: no exiting process.
        let thread_ended =
            b"42 (a) Z 7 42 42 0 -1 4227084 0 0 0 0 0 0 0 0 20 0 3 0 12345 1000 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert!(!Brief::of_stat(proc::stat::parse(thread_ended).unwrap()).exiting);
    }

    #[test]
    fn a_process_in_do_exit_is_exiting() {
        // R with PF_EXITING (0x4) in 4194380: releasing its memory.
        let line = b"42 (a) R 7 42 42 0 -1 4194380 0 0 0 0 0 0 0 0 20 0 1 0 12345 1000 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let b = Brief::of_stat(proc::stat::parse(line).unwrap());
        assert!(b.exiting && !b.zombie);
    }

    #[test]
    fn reads_its_own() {
        let me = brief(Pid::current()).unwrap();
        assert_eq!(me.uid, Some(rustix::process::getuid().as_raw()));
        assert!(me.rss_pages > 0);
    }
}
