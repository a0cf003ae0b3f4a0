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

use std::collections::HashSet;
use std::os::fd::BorrowedFd;

use crate::deaths::connector::{Connector, PROC_EVENT_FORK, parse_forks};
use crate::process::Pid;

/// The descendants of one process, followed from their fork events.
pub struct TreeForks {
    connector: Connector,
    root: i32,
    /// The root and every descendant seen.
    seen: HashSet<i32>,
}

impl std::fmt::Debug for TreeForks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeForks")
            .field("root", &self.root)
            .field("seen", &self.seen.len())
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
            seen: HashSet::from([root.get()]),
        })
    }

    /// The socket: readable when events wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.connector.fd()
    }

    /// Takes the events waiting now.
    pub fn read(&mut self) {
        let seen = &mut self.seen;
        self.connector
            .drain_datagrams(|datagram| note_forks(seen, &parse_forks(datagram)));
    }

    /// Every descendant seen so far, the events waiting read first; `None`
    /// if events were lost.
    pub fn descendants(&mut self) -> Option<impl Iterator<Item = i32> + '_> {
        self.read();
        let root = self.root;
        (self.connector.lost() == 0).then(|| self.seen.iter().copied().filter(move |&pid| pid != root))
    }
}

/// Adds the children of processes in `seen` to it, in the events' order.
/// Pure.
fn note_forks(seen: &mut HashSet<i32>, forks: &[crate::deaths::connector::ForkEvent]) {
    for fork in forks {
        if seen.contains(&fork.parent_tgid) {
            seen.insert(fork.child_tgid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deaths::connector::ForkEvent;

    #[test]
    fn descendants_are_followed_in_order() {
        let fork = |parent_tgid, child_tgid| ForkEvent {
            parent_tgid,
            child_tgid,
        };
        let mut seen = HashSet::from([10]);
        // 10 -> 11 -> 12; 20 (someone else's) -> 21.
        note_forks(&mut seen, &[fork(10, 11), fork(20, 21), fork(11, 12)]);
        assert_eq!(seen, HashSet::from([10, 11, 12]));
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
