//! Every process a tree starts while it runs, from the proc connector's
//! fork events (drivers/connector/cn_proc.c), so that an IPC object whose
//! maker had already ended when afterlife looked is still known as the
//! tree's: a SysV segment names its creator's PID, a semaphore set or
//! queue its last user's, a creation event in `/dev/shm` its maker's — and
//! a short-lived process (`ipcmk -M` in a script, PostgreSQL's startup
//! process) is gone by the time anyone reads its parent.
//!
//! Kernel facts relied on: a fork event is sent while the new process is
//! made, before it can run (`copy_process`), so the events of one socket
//! come parent before child; a new thread's event has a `child_pid` other
//! than its `child_tgid`; the PIDs are the initial PID namespace's; a
//! receive queue that overflows makes the next `recv` fail with `ENOBUFS`
//! (then the list is incomplete and is not used).

use std::collections::{HashMap, HashSet};
use std::os::fd::BorrowedFd;

use crate::deaths::connector::{Connector, PROC_EVENT_FORK, parse_forks};
use crate::process::Pid;

/// The descendants of one process, followed from their fork events.
pub struct TreeForks {
    connector: Connector,
    root: i32,
    pids: Pids,
}

/// What the fork events of the machine told of the PIDs of one tree.
#[derive(Debug, Default)]
struct Pids {
    /// The PIDs whose latest holder is the root or one of its descendants.
    current: HashSet<i32>,
    /// Every PID a descendant (or the root) had.
    ever: HashSet<i32>,
    /// For each PID of `ever` but the root's, when the first descendant
    /// that had it was made (`CLOCK_MONOTONIC` ns).
    first_forked: HashMap<i32, u64>,
    /// Every PID a process outside the tree was given meanwhile, one bit
    /// each (at most `PID_MAX_LIMIT` bits, 512 KiB).
    outside: Vec<u64>,
    /// The PIDs held by a process of the tree and by one outside it, one
    /// after the other: what names such a PID (a SysV object's creator or
    /// last user, a creation event read late) may be either's.
    shared: HashSet<i32>,
}

impl Pids {
    fn new(root: i32) -> Pids {
        Pids {
            current: HashSet::from([root]),
            ever: HashSet::from([root]),
            ..Pids::default()
        }
    }

    fn was_outside(&self, pid: i32) -> bool {
        let pid = pid as usize;
        self.outside
            .get(pid / 64)
            .is_some_and(|word| word & (1 << (pid % 64)) != 0)
    }

    fn note_outside(&mut self, pid: i32) {
        let pid = pid as usize;
        if self.outside.len() <= pid / 64 {
            self.outside.resize(pid / 64 + 1, 0);
        }
        self.outside[pid / 64] |= 1 << (pid % 64);
    }
}

impl std::fmt::Debug for TreeForks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeForks")
            .field("root", &self.root)
            .field("seen", &self.pids.ever.len())
            .finish()
    }
}

impl TreeForks {
    /// Starts following the descendants of `root`, which must not have
    /// forked yet; `None` outside the initial PID namespace (whose PIDs
    /// the events carry) or without the privilege to listen
    /// (`CAP_NET_ADMIN` before Linux 6.6).
    pub fn start(root: Pid) -> Option<TreeForks> {
        if !crate::process::in_initial_pid_namespace() {
            return None;
        }
        // Forks alone where the kernel filters: the machine's execs and
        // exits would wake the run's loop for nothing.
        let connector = Connector::open_for(Some(PROC_EVENT_FORK)).ok()?;
        Some(TreeForks {
            connector,
            root: root.get(),
            pids: Pids::new(root.get()),
        })
    }

    /// The socket: readable when events wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.connector.fd()
    }

    /// Takes the events waiting now.
    pub fn read(&mut self) {
        let pids = &mut self.pids;
        self.connector
            .drain_datagrams(|datagram| note_forks(pids, &parse_forks(datagram)));
    }

    /// Every descendant seen so far, the events waiting read first, but
    /// those whose PID a process outside the tree also had meanwhile
    /// ([`TreeForks::shared`]); `None` if events were lost.
    pub fn descendants(&mut self) -> Option<impl Iterator<Item = i32> + '_> {
        self.read();
        let root = self.root;
        let shared = &self.pids.shared;
        (self.connector.lost() == 0).then(|| {
            self.pids
                .ever
                .iter()
                .copied()
                .filter(move |&pid| pid != root && !shared.contains(&pid))
        })
    }

    /// The PIDs that a process of the tree and one outside it had, one
    /// after the other, while the events were read: a PID alone does not
    /// tell which of them made or used an object.
    pub fn shared(&self) -> &HashSet<i32> {
        &self.pids.shared
    }

    /// For each descendant's PID, when the first descendant that had it
    /// was made, in seconds since the epoch (as the clocks read now): no
    /// process of the tree had the PID before then.
    pub fn first_forked(&self) -> impl Iterator<Item = (i32, f64)> + '_ {
        let seconds = |clock| {
            let t = rustix::time::clock_gettime(clock);
            t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
        };
        let epoch_of_monotonic = seconds(rustix::time::ClockId::Realtime) - seconds(rustix::time::ClockId::Monotonic);
        self.pids
            .first_forked
            .iter()
            .map(move |(&pid, &ns)| (pid, epoch_of_monotonic + ns as f64 / 1e9))
    }
}

/// Follows the forks of the machine in the events' order: a child of a
/// process of the tree is of the tree, any other is not; a PID given to
/// both, one after the other, is shared. Pure.
fn note_forks(pids: &mut Pids, forks: &[crate::deaths::connector::ForkEvent]) {
    for fork in forks {
        let child = fork.child_tgid;
        if pids.current.contains(&fork.parent_tgid) {
            if pids.was_outside(child) {
                pids.shared.insert(child);
            }
            pids.current.insert(child);
            pids.ever.insert(child);
            pids.first_forked.entry(child).or_insert(fork.timestamp_ns);
        } else {
            if pids.ever.contains(&child) {
                pids.shared.insert(child);
            }
            // Its forks are not the tree's.
            pids.current.remove(&child);
            pids.note_outside(child);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deaths::connector::ForkEvent;

    /// A fork of `child_tgid` by `parent_tgid`, at ten times the child's PID.
    fn fork(parent_tgid: i32, child_tgid: i32) -> ForkEvent {
        ForkEvent {
            parent_tgid,
            child_tgid,
            timestamp_ns: child_tgid as u64 * 10,
        }
    }

    #[test]
    fn descendants_are_followed_in_order() {
        let mut pids = Pids::new(10);
        // 10 -> 11 -> 12; 20 (someone else's) -> 21.
        note_forks(&mut pids, &[fork(10, 11), fork(20, 21), fork(11, 12)]);
        assert_eq!(pids.ever, HashSet::from([10, 11, 12]));
        assert!(pids.shared.is_empty());
    }

    #[test]
    fn a_pid_held_inside_and_outside_the_tree_is_shared() {
        let mut pids = Pids::new(10);
        // 11 is the tree's, then (ended) someone else's, whose child 13 is
        // not the tree's; 21 is someone else's, then (ended) the tree's.
        note_forks(
            &mut pids,
            &[
                fork(10, 11),
                fork(20, 11),
                fork(11, 13),
                fork(20, 21),
                fork(10, 21),
                fork(20, 22),
            ],
        );
        assert_eq!(pids.shared, HashSet::from([11, 21]));
        assert!(!pids.ever.contains(&13) && !pids.ever.contains(&22));
        assert!(pids.current.contains(&21) && !pids.current.contains(&11));
        assert!(pids.was_outside(22) && !pids.was_outside(10));
        // 11's first holder of the tree was made at 110, 21's at 210.
        assert_eq!(pids.first_forked.get(&11), Some(&110));
        assert_eq!(pids.first_forked.get(&21), Some(&210));
    }

    #[test]
    fn a_short_lived_grandchild_is_seen() {
        let Some(mut forks) = TreeForks::start(Pid::current()) else {
            eprintln!("skipped: the proc connector needs CAP_NET_ADMIN here");
            return;
        };
        let out = std::process::Command::new("sh")
            .args(["-c", "sh -c 'echo $$' & wait"])
            .output()
            .unwrap();
        let grandchild: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let seen: Vec<i32> = forks.descendants().expect("no events lost").collect();
        assert!(seen.contains(&grandchild), "{grandchild} not in {seen:?}");
        assert!(!seen.contains(&Pid::current().get()));
    }
}
