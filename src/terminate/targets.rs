//! The processes of one termination, each held by a pidfd.
//!
//! Every member is opened with [`Process::open_expecting`] and the start time
//! of the scan that found it, so a PID that changed hands since the scan is
//! refused; from then on the pidfd pins the process, and signals go only
//! through it.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::time::Duration;

use rustix::event::epoll;

use crate::process::{ExitObservation, OpenError, Pid, Process, ProcessTable, SignalError};
use crate::signal::Signal;
use crate::terminate::report::{EndedBy, SurvivorReason, process_title};
use crate::terminate::select::{Anchors, Guard, Member, Refused, walk};

/// A pidfd handle the target owns, or one the caller lent.
pub(crate) enum Handle<'a> {
    Owned(Process),
    Borrowed(&'a Process),
}

impl Deref for Handle<'_> {
    type Target = Process;
    fn deref(&self) -> &Process {
        match self {
            Handle::Owned(p) => p,
            Handle::Borrowed(p) => p,
        }
    }
}

/// One member being ended.
pub(crate) struct Target<'a> {
    pub handle: Handle<'a>,
    pub name: String,
    /// Its process title, when read and it says more than the name.
    pub title: Option<String>,
    pub ppid: i32,
    pub named: bool,
    /// It had already exited (a zombie) when it was opened.
    pub was_zombie: bool,
    /// Signals sent, besides the freeze's `SIGSTOP`/`SIGCONT`.
    pub sent: Vec<Signal>,
    /// `SIGSTOP` was sent and not yet undone.
    pub stopped: bool,
    /// `EPERM` on a signal.
    pub denied: bool,
    /// When it exited, from the first signal, and why.
    pub ended: Option<(Option<Duration>, EndedBy)>,
    /// How it ended, when read as its exit was noticed.
    pub exit_seen: Option<ExitObservation>,
}

impl Target<'_> {
    pub fn pid(&self) -> Pid {
        self.handle.pid()
    }

    /// Still to be waited for: not exited, not a zombie from the start, and
    /// signals reach it.
    pub fn pending(&self) -> bool {
        self.ended.is_none() && !self.was_zombie && !self.denied
    }

    /// Whether the freeze holds it stopped now: `SIGSTOP` reached it and
    /// it had not exited.
    pub fn held_stopped(&self) -> bool {
        self.stopped && self.ended.is_none() && !self.denied && !self.was_zombie
    }

    /// Whether `SIGKILL` was sent.
    pub fn killed(&self) -> bool {
        self.sent.contains(&Signal::KILL)
    }

    /// What ended it, going by what it was sent: `SIGKILL` once that was
    /// sent, else the first signal.
    pub fn ended_by_sent(&self) -> EndedBy {
        if self.killed() { EndedBy::Kill } else { EndedBy::Signal }
    }

    /// Records that it was seen to have exited `at` (from the first
    /// signal), unless that was recorded already.
    pub fn note_exited(&mut self, at: Option<Duration>) {
        if self.ended.is_none() {
            self.ended = Some((at, self.ended_by_sent()));
        }
    }
}

/// A member found by a scan that could not be opened: it ended between the
/// scan and the open, or its PID now belongs to another process (which is
/// left alone).
pub(crate) struct Vanished {
    pub member: Member,
    pub ppid: i32,
}

/// Every member, refusal and vanished process of one termination.
pub(crate) struct Targets<'a> {
    pub list: Vec<Target<'a>>,
    pub refused: Vec<(Refused, i32)>,
    pub vanished: Vec<Vanished>,
    /// Members that could not be opened (/proc hidden from us by hidepid,
    /// no file descriptor left), so that we cannot check they are the
    /// processes scanned: never signalled. With the reason.
    pub unopened: Vec<(Vanished, SurvivorReason)>,
    pub known: BTreeSet<Pid>,
    pub guard: Guard,
    pub anchors: Anchors,
    /// Whether to read each member's process title when it is opened.
    pub read_titles: bool,
    /// The members the cgroup freezer holds, which are not stopped.
    pub frozen: crate::terminate::freeze::FrozenCgroups,
}

/// What a signal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    Delivered,
    AlreadyExited,
    Denied,
    Failed,
}

impl<'a> Targets<'a> {
    pub fn new(guard: Guard, anchors: Anchors) -> Targets<'a> {
        Targets {
            list: Vec::new(),
            refused: Vec::new(),
            vanished: Vec::new(),
            unopened: Vec::new(),
            known: BTreeSet::new(),
            guard,
            anchors,
            read_titles: true,
            frozen: Default::default(),
        }
    }

    /// Adds a process the caller already holds.
    pub fn adopt_handle(&mut self, process: &'a Process, name: String, ppid: i32) {
        self.known.insert(process.pid());
        let was_zombie = process.has_exited();
        let title = title_of(process, &name);
        self.list.push(Target {
            handle: Handle::Borrowed(process),
            title,
            name,
            ppid,
            named: true,
            was_zombie,
            sent: Vec::new(),
            stopped: false,
            denied: false,
            ended: None,
            exit_seen: None,
        });
    }

    /// Opens members found by a scan (`table` gives their parents); returns
    /// the indexes of those opened.
    pub fn adopt(&mut self, members: Vec<Member>, table: &ProcessTable) -> Vec<usize> {
        self.adopt_stopping(members, table, false, |_| None)
    }

    /// Like [`Targets::adopt`]; with `stop`, each member is also sent
    /// `SIGSTOP` right after it is opened, in the same pass (not one asleep
    /// in the kernel: [`crate::terminate::freeze::stops`]). `held` gives
    /// the pidfd a member was scanned through, already checked against its
    /// start time; the others are opened here.
    pub fn adopt_stopping(
        &mut self,
        members: Vec<Member>,
        table: &ProcessTable,
        stop: bool,
        mut held: impl FnMut(&Member) -> Option<Process>,
    ) -> Vec<usize> {
        let mut opened = Vec::new();
        let freezing = stop;
        for member in members {
            if !self.known.insert(member.pid) {
                continue;
            }
            let stop = stop && crate::terminate::freeze::stops(table.get(member.pid), self.frozen.hold(member.pid));
            let result = match held(&member) {
                Some(process) => Ok(process),
                None => Process::open_expecting(member.pid, member.start_ticks),
            }
            .map(|process| {
                // A pidfd of an exited process polls readable at once: this
                // one was a zombie before we did anything. Without a stop
                // to decide on, all are polled at once after the pass.
                let was_zombie = freezing && process.has_exited();
                let stopped = (stop && !was_zombie).then(|| process.signal(Signal::STOP));
                (process, was_zombie, stopped)
            });
            let ppid = table.get(member.pid).map_or(0, |e| e.ppid);
            match result {
                Ok((process, was_zombie, stopped)) => {
                    let index = self.list.len();
                    opened.push(index);
                    let title = self.read_titles.then(|| title_of(&process, &member.name)).flatten();
                    self.list.push(Target {
                        handle: Handle::Owned(process),
                        title,
                        name: member.name,
                        ppid,
                        named: member.named,
                        was_zombie,
                        sent: Vec::new(),
                        stopped: stopped.is_some(),
                        denied: false,
                        ended: None,
                        exit_seen: None,
                    });
                    if let Some(result) = stopped {
                        self.record(index, Signal::STOP, false, result);
                    }
                }
                // It ended after the scan, or its PID went to a newer
                // process, which must not be touched.
                Err(OpenError::NoSuchProcess { .. }) | Err(OpenError::Reused { .. }) => {
                    self.vanished.push(Vanished { member, ppid });
                }
                // Its /proc files are hidden from us (hidepid): it is
                // there, and we cannot check it is the one scanned.
                Err(OpenError::PermissionDenied { .. } | OpenError::Hidden { .. }) => {
                    self.unopened
                        .push((Vanished { member, ppid }, SurvivorReason::PermissionDenied));
                }
                // EMFILE and the like: say so, never "permission denied".
                Err(error @ (OpenError::Io { .. } | OpenError::Thread { .. })) => {
                    let reason = SurvivorReason::OpenFailed {
                        error: error.to_string(),
                    };
                    self.unopened.push((Vanished { member, ppid }, reason));
                }
            }
        }
        if !freezing {
            // Nothing was sent yet: one poll of every new pidfd tells the
            // zombies (a thousand polls of one took 1-2 ms before the signal).
            let handles: Vec<&Process> = opened.iter().map(|&i| &*self.list[i].handle).collect();
            let exited = Process::exited_among(&handles);
            for (&index, was_zombie) in opened.iter().zip(exited) {
                self.list[index].was_zombie = was_zombie;
            }
        }
        opened
    }

    /// Records refusals found by a walk.
    pub fn refuse(&mut self, refused: Vec<Refused>, table: &ProcessTable) {
        for r in refused {
            if self.known.insert(r.member.pid) {
                let ppid = table.get(r.member.pid).map_or(0, |e| e.ppid);
                self.refused.push((r, ppid));
            }
        }
    }

    /// PIDs of members that have not exited: their pidfds pin those PIDs,
    /// so a later scan's parent links through them are true.
    pub fn live_pids(&self) -> Vec<Pid> {
        let mut live: Vec<Pid> = self
            .list
            .iter()
            .filter(|t| t.ended.is_none() && !t.was_zombie && !t.handle.has_exited())
            .map(|t| t.pid())
            .collect();
        live.sort();
        live
    }

    /// Walks `table` for members not seen yet, opens them and records
    /// refusals; returns the indexes of the new targets.
    pub fn walk_new(&mut self, table: &ProcessTable) -> Vec<usize> {
        let live = self.live_pids();
        let (members, refused) = walk(table, &self.anchors, &live, &self.known, &self.guard);
        self.refuse(refused, table);
        self.adopt(members, table)
    }

    /// Sends `signal` to target `index` through its pidfd.
    pub fn send(&mut self, index: usize, signal: Signal, record: bool) -> Sent {
        if self.list[index].ended.is_some() || self.list[index].was_zombie {
            return Sent::AlreadyExited;
        }
        let result = self.list[index].handle.signal(signal);
        self.record(index, signal, record, result)
    }

    fn record(&mut self, index: usize, signal: Signal, record: bool, result: Result<(), SignalError>) -> Sent {
        let target = &mut self.list[index];
        match result {
            Ok(()) => {
                if record {
                    target.sent.push(signal);
                }
                Sent::Delivered
            }
            // ESRCH through a pidfd: it exited; nobody else was signalled.
            Err(SignalError::Exited { .. }) => {
                if target.ended.is_none() {
                    let by = if target.sent.is_empty() {
                        EndedBy::BeforeSignal
                    } else {
                        target.ended_by_sent()
                    };
                    target.ended = Some((None, by));
                }
                Sent::AlreadyExited
            }
            Err(SignalError::PermissionDenied { .. }) => {
                target.denied = true;
                Sent::Denied
            }
            Err(SignalError::Io { .. }) => Sent::Failed,
        }
    }

    /// Sends `signal` to the targets at `indexes`.
    pub fn send_many(&mut self, indexes: Vec<usize>, signal: Signal, record: bool) {
        for index in indexes {
            self.send(index, signal, record);
        }
    }

    /// Sends `signal` to every pending target.
    pub fn send_all(&mut self, signal: Signal, record: bool) {
        self.send_many(self.pending(), signal, record);
    }

    /// Sends `signal` to `indexes` deepest first: each member after every
    /// member below it in the table. With `then_continue`, each member
    /// afterlife stopped is sent `SIGCONT` right after its signal.
    ///
    /// When a process's exit leaves a process group with no member whose
    /// parent is in another group of the same session while a member of
    /// that group is stopped, the kernel sends `SIGHUP` and `SIGCONT` to the
    /// whole group (POSIX orphaned process groups, `kill_orphaned_pgrp`),
    /// processes outside the selection included. A stopped member that
    /// could be hung up that way sits below the process whose exit orphans
    /// its group (in that group, under its last link; or in a child's group,
    /// under that child), so it has been continued or killed first. This
    /// holds even for a member that dies of the signal before its `SIGSTOP`
    /// took effect (a pending `SIGTERM` is taken before a pending `SIGSTOP`).
    pub fn send_deepest_first(
        &mut self,
        indexes: Vec<usize>,
        signal: Signal,
        then_continue: bool,
        table: &ProcessTable,
    ) {
        for index in deepest_first(indexes, |i| self.list[i].pid(), table) {
            self.send(index, signal, true);
            if then_continue && self.list[index].stopped {
                self.list[index].stopped = false;
                self.send(index, Signal::CONT, false);
            }
        }
    }

    /// Indexes of the targets still waited for.
    pub fn pending(&self) -> Vec<usize> {
        (0..self.list.len()).filter(|&i| self.list[i].pending()).collect()
    }

    /// How many are still to be waited for.
    pub fn pending_count(&self) -> usize {
        self.list.iter().filter(|t| t.pending()).count()
    }
}

/// The process title of `process` (see [`process_title`]): the start of
/// `/proc/PID/cmdline`, up to its first NUL. A process that has exited has
/// none (its memory is gone, and once reaped its PID may be another's).
pub(crate) fn title_of(process: &Process, comm: &str) -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 256];
    let mut file = std::fs::File::open(format!("/proc/{}/cmdline", process.pid())).ok()?;
    let n = file.read(&mut buf).ok()?;
    // Still running after the read: the PID was this process's throughout.
    if process.has_exited() {
        return None;
    }
    let argv0 = buf[..n].split(|&b| b == 0).next().unwrap_or_default();
    process_title(&String::from_utf8_lossy(argv0), comm)
}

/// `indexes` ordered by how many ancestors each one's PID has in `table`,
/// most first; ties keep their order. Pure.
pub(crate) fn deepest_first(
    mut indexes: Vec<usize>,
    pid_of: impl Fn(usize) -> Pid,
    table: &ProcessTable,
) -> Vec<usize> {
    let depth = |pid: Pid| {
        let mut depth = 0usize;
        let mut at = pid;
        // Bounded: a table read over time may hold a loop of reused PIDs.
        while depth < 4096
            && let Some(parent) = table.get(at).and_then(|e| Pid::new(e.ppid))
        {
            depth += 1;
            at = parent;
        }
        depth
    };
    indexes.sort_by_cached_key(|&i| std::cmp::Reverse(depth(pid_of(i))));
    indexes
}

/// Waits for many pidfds at once with `epoll(7)`: each process is
/// registered once and a wake-up costs in proportion to the processes that
/// exited, not to all of them (as `poll(2)` on a thousand pidfds would).
pub(crate) struct ExitWaiter {
    epoll: std::os::fd::OwnedFd,
    watched: BTreeSet<usize>,
    /// Targets below this index were looked at already: targets are only
    /// appended, and one that was not pending never is again.
    seen: usize,
}

impl ExitWaiter {
    pub fn new() -> Result<ExitWaiter, crate::process::WaitError> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| wait_error("epoll_create", e))?;
        Ok(ExitWaiter {
            epoll,
            watched: BTreeSet::new(),
            seen: 0,
        })
    }

    /// Watches every pending target not watched yet. Each pidfd reports
    /// once (`EPOLLONESHOT`: an exited process's pidfd stays readable, and
    /// a thousand deaths need no thousand `EPOLL_CTL_DEL`s).
    pub fn watch_pending(&mut self, targets: &Targets<'_>) -> Result<(), crate::process::WaitError> {
        for index in self.seen..targets.list.len() {
            if targets.list[index].pending() && self.watched.insert(index) {
                epoll::add(
                    &self.epoll,
                    targets.list[index].handle.pidfd(),
                    epoll::EventData::new_u64(index as u64),
                    epoll::EventFlags::IN | epoll::EventFlags::ONESHOT,
                )
                .map_err(|e| wait_error("epoll_ctl", e))?;
            }
        }
        self.seen = targets.list.len();
        Ok(())
    }

    /// Waits up to `timeout`; returns the targets whose process exited.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<usize>, crate::process::WaitError> {
        let spec = rustix::event::Timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut events: Vec<epoll::Event> = Vec::with_capacity(self.watched.len().clamp(1, 1024));
        match epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut events), Some(&spec)) {
            Ok(_) => {}
            // A signal interrupted the wait: the caller loops.
            Err(rustix::io::Errno::INTR) => return Ok(Vec::new()),
            Err(e) => return Err(wait_error("epoll_wait", e)),
        }
        Ok(events
            .into_iter()
            .map(|event| event.data.u64() as usize)
            .filter(|index| self.watched.remove(index))
            .collect())
    }
}

fn wait_error(syscall: &'static str, error: rustix::io::Errno) -> crate::process::WaitError {
    crate::process::WaitError::Io {
        pid: Pid::current(),
        syscall,
        source: error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::TableEntry;

    #[test]
    fn deepest_first_puts_every_member_after_those_below_it() {
        let row = |pid: i32, ppid: i32| TableEntry {
            start_ticks: 1,
            name: "p".into(),
            ..TableEntry::fixture(pid, ppid, 10, 10)
        };
        // 10 -> 11 -> 12 -> 13, 10 -> 14; 20 has no known parent.
        let table = ProcessTable::from_entries([
            row(10, 1),
            row(11, 10),
            row(12, 11),
            row(13, 12),
            row(14, 10),
            row(20, 0),
        ]);
        let pids = [10, 11, 12, 13, 14, 20];
        let order = deepest_first((0..pids.len()).collect(), |i| Pid::new(pids[i]).unwrap(), &table);
        let order: Vec<i32> = order.into_iter().map(|i| pids[i]).collect();
        assert_eq!(order, [13, 12, 11, 14, 10, 20]);
    }
}
