//! When a whole process has ended, told from the proc connector's
//! per-thread exit events.
//!
//! The connector sends one event per exiting thread, after `exit_notify()`.
//! The main thread's (`pid == tgid`) is the process's end only when no
//! other thread outlives it: a main thread that calls `pthread_exit` sends
//! its event (code 0) while the process runs on, and the process then ends
//! with the event of its last thread. Kernel facts relied on:
//! - a thread that has sent its event is no longer listed in
//!   `/proc/PID/task`, or is listed as a zombie (`Z`, a traced thread
//!   its tracer has not reaped) or dead (`X`): its event is sent after
//!   `exit_notify()`, which releases or zombifies it. A thread listed in
//!   any other state has not sent its event yet;
//! - the process's wait status is the group's exit code after a group exit
//!   (`exit_group`, a fatal signal), which every thread then exits with,
//!   and the main thread's own code otherwise (kernel/exit.c,
//!   `wait_task_zombie`).

use std::collections::{HashMap, HashSet};

use super::connector::{Event, ExitEvent};

/// What /proc says of a process whose main thread has sent its exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look<F> {
    /// No thread of it is left that has not sent its exit: it has ended.
    /// The facts /proc still gives of it, if any.
    Ended(Option<F>),
    /// A thread of it runs on; what /proc says of it meanwhile (kept for
    /// its end, when its parent may have reaped it before it is read).
    LivesOn(Option<F>),
}

/// A whole process that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End<F> {
    /// Its main thread's exit event.
    pub leader: ExitEvent,
    /// The exit event of its last thread (the main thread's, as a rule).
    pub last: ExitEvent,
    /// Its wait status.
    pub wait_status: i32,
    /// What /proc still said of it.
    pub facts: Option<F>,
}

/// The processes whose main thread has exited while others ran on, each
/// with its main thread's exit and what /proc said of it then.
#[derive(Debug)]
pub struct ProcessEnds<F> {
    waiting: HashMap<i32, (ExitEvent, Option<F>)>,
}

impl<F> Default for ProcessEnds<F> {
    fn default() -> Self {
        ProcessEnds {
            waiting: HashMap::new(),
        }
    }
}

impl<F> ProcessEnds<F> {
    /// How many processes are waited for: their main thread has exited,
    /// another thread had not.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Waits again for a process whose end was taken too soon: an event
    /// of it came after it was looked at.
    pub fn wait_again(&mut self, leader: ExitEvent, facts: Option<F>) {
        self.waiting.insert(leader.tgid, (leader, facts));
    }

    /// Keeps only the waited-for processes `keep` says are still there:
    /// after lost events, one whose last exit was lost would wait for ever,
    /// and a thread of a process given its PID later would end it.
    pub fn retain(&mut self, mut keep: impl FnMut(&ExitEvent) -> bool) {
        self.waiting.retain(|_, (leader, _)| keep(leader));
    }

    /// Takes one drain's thread exits, in the order they were sent, and
    /// returns the processes they ended. `look` is asked of a process
    /// whose main thread has exited, at its last event in `exits` only
    /// (an event after it in the same drain would decide anew).
    pub fn take(&mut self, exits: &[ExitEvent], mut look: impl FnMut(&ExitEvent) -> Look<F>) -> Vec<End<F>> {
        let last_of: HashMap<i32, usize> = exits.iter().enumerate().map(|(i, e)| (e.tgid, i)).collect();
        let mut ends = Vec::new();
        for (i, exit) in exits.iter().enumerate() {
            if exit.pid == exit.tgid {
                self.waiting.insert(exit.tgid, (*exit, None));
            }
            let Some((leader, earlier)) = self.waiting.remove(&exit.tgid) else {
                continue;
            };
            if last_of[&exit.tgid] != i {
                self.waiting.insert(exit.tgid, (leader, earlier));
                continue;
            }
            match look(&leader) {
                Look::LivesOn(facts) => {
                    self.waiting.insert(exit.tgid, (leader, facts.or(earlier)));
                }
                Look::Ended(facts) => ends.push(End {
                    leader,
                    last: *exit,
                    wait_status: wait_status(&leader, exit),
                    facts: facts.or(earlier),
                }),
            }
        }
        ends
    }
}

/// The wait status of a process whose main thread exited with `leader`'s
/// code and whose last thread with `last`'s. After a group exit every
/// thread exits with the group's code, so a last thread's signal or
/// non-zero code is the group's; a last thread that ends with 0 (what
/// `pthread_exit` gives) leaves the main thread's code, which a group exit
/// with 0 would have given it too unless the main thread had ended with
/// another code of its own (`syscall(SYS_exit, n)`), the one case this
/// cannot tell. Pure.
pub fn wait_status(leader: &ExitEvent, last: &ExitEvent) -> i32 {
    if last.pid == last.tgid || last.exit_code == 0 {
        leader.exit_code
    } else {
        last.exit_code
    }
}

/// The main threads' exits in `events` (by process and time) after which
/// their process ran `execve` with no fork of a process at its PID in
/// between: a thread other than the main one exec'd, and the kernel ended
/// the main thread for it (`de_thread`); the process lives on as the new
/// program. Told from the events, this holds where a look at /proc comes
/// too late (the new program already ended and reaped), as long as the
/// main thread's exit was queued before the exec: it is, unless the
/// exiting thread was held between `exit_notify` (which wakes the exec)
/// and its connector event, where the look at /proc still answers. A
/// process given the PID whose fork event was lost reads so too; the
/// caller checks that none started after the exit. Pure.
pub fn carried_on_by_exec(events: &[Event]) -> HashSet<(i32, u64)> {
    let mut ended: HashMap<i32, u64> = HashMap::new();
    let mut carried = HashSet::new();
    for event in events {
        match event {
            Event::Exit(exit) if exit.pid == exit.tgid => {
                ended.insert(exit.tgid, exit.timestamp_ns);
            }
            Event::Fork(fork) => {
                ended.remove(&fork.child_tgid);
            }
            Event::Exec { tgid, .. } => {
                if let Some(at) = ended.remove(tgid) {
                    carried.insert((*tgid, at));
                }
            }
            _ => {}
        }
    }
    carried
}

#[cfg(test)]
mod tests {
    use super::super::connector::ForkEvent;
    use super::*;

    fn exit(pid: i32, tgid: i32, exit_code: i32, timestamp_ns: u64) -> ExitEvent {
        ExitEvent {
            pid,
            tgid,
            exit_code,
            parent_tgid: 1,
            timestamp_ns,
        }
    }

    #[test]
    fn a_single_threaded_process_ends_with_its_main_thread() {
        let mut ends = ProcessEnds::default();
        let taken = ends.take(&[exit(10, 10, 7 << 8, 5)], |_| Look::Ended(Some("sh")));
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].wait_status, 7 << 8);
        assert_eq!(taken[0].last.timestamp_ns, 5);
        assert_eq!(taken[0].facts, Some("sh"));
        assert_eq!(ends.waiting(), 0);
    }

    #[test]
    fn a_main_thread_that_ended_first_waits_for_the_last_thread() {
        let mut ends = ProcessEnds::default();
        let asked = std::cell::Cell::new(0);
        let lives = |_: &ExitEvent| {
            asked.set(asked.get() + 1);
            Look::LivesOn(Some("python3"))
        };
        assert!(ends.take(&[exit(10, 10, 0, 5)], lives).is_empty());
        assert_eq!(ends.waiting(), 1);
        // A thread of another process, and one of this one that leaves
        // others running.
        assert!(ends.take(&[exit(21, 20, 0, 6), exit(11, 10, 0, 7)], lives).is_empty());
        assert_eq!(asked.get(), 2, "asked only of the waiting process");
        // The group exits with 5: the last thread's event ends it.
        let taken = ends.take(&[exit(12, 10, 5 << 8, 9)], |leader| {
            assert_eq!(leader.timestamp_ns, 5, "asked with the main thread's event");
            Look::Ended(None)
        });
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].wait_status, 5 << 8);
        assert_eq!(taken[0].facts, Some("python3"), "what /proc said while it ran on");
        assert_eq!(taken[0].last.timestamp_ns, 9);
        assert_eq!(ends.waiting(), 0);
    }

    #[test]
    fn only_the_last_event_of_a_process_in_a_drain_is_looked_at() {
        let mut ends = ProcessEnds::default();
        let mut asked = Vec::new();
        let taken = ends.take(
            &[
                exit(10, 10, 9, 1),
                exit(11, 10, 9, 2),
                exit(30, 30, 0, 3),
                exit(12, 10, 9, 4),
            ],
            |leader| {
                asked.push(leader.tgid);
                Look::<()>::Ended(None)
            },
        );
        assert_eq!(asked, [30, 10]);
        assert_eq!(taken.len(), 2);
        assert_eq!((taken[1].last.timestamp_ns, taken[1].wait_status), (4, 9));
    }

    #[test]
    fn threads_that_end_before_the_main_thread_are_not_the_end() {
        let mut ends = ProcessEnds::default();
        let taken = ends.take(&[exit(11, 10, 0, 1), exit(12, 10, 0, 2)], |_| Look::<()>::Ended(None));
        assert!(taken.is_empty());
        assert_eq!(ends.waiting(), 0);
    }

    #[test]
    fn the_wait_status_is_the_groups_or_the_main_threads() {
        let leader = exit(10, 10, 3 << 8, 1);
        // Killed by a signal after the main thread ended: the signal.
        assert_eq!(wait_status(&leader, &exit(11, 10, 9, 2)), 9);
        // exit_group(5) from a worker: 5.
        assert_eq!(wait_status(&leader, &exit(11, 10, 5 << 8, 2)), 5 << 8);
        // The last worker's pthread_exit: the main thread's own code.
        assert_eq!(wait_status(&leader, &exit(11, 10, 0, 2)), 3 << 8);
        // The main thread last: its code.
        assert_eq!(wait_status(&leader, &leader), 3 << 8);
    }

    fn fork(child_tgid: i32, timestamp_ns: u64) -> Event {
        Event::Fork(ForkEvent {
            parent_tgid: 1,
            child_tgid,
            timestamp_ns,
        })
    }

    #[test]
    fn an_exec_after_the_main_thread_ended_carries_the_process_on() {
        let exec = |tgid, timestamp_ns| Event::Exec { tgid, timestamp_ns };
        let events = [
            Event::Exit(exit(10, 10, 0, 1)),
            exec(10, 2),
            // Ended, reaped, and its PID given to a new process that execs.
            Event::Exit(exit(20, 20, 0, 3)),
            fork(20, 4),
            exec(20, 5),
            // An exec before the main thread's exit carries nothing on.
            exec(30, 6),
            Event::Exit(exit(30, 30, 0, 7)),
        ];
        assert_eq!(carried_on_by_exec(&events), HashSet::from([(10, 1)]));
    }
}
