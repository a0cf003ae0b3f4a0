//! The processes of one termination, each held by a pidfd.
//!
//! Every member is opened with [`Process::open_expecting`] and the start time
//! of the scan that found it, so a PID that changed hands since the scan is
//! refused; from then on the pidfd pins the process, and signals go only
//! through it.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::time::Duration;

use crate::process::{OpenError, Pid, Process, ProcessTable, SignalError};
use crate::signal::Signal;
use crate::terminate::report::EndedBy;
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

    /// Whether `SIGKILL` was sent.
    pub fn killed(&self) -> bool {
        self.sent.contains(&Signal::KILL)
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
    pub known: BTreeSet<Pid>,
    pub guard: Guard,
    pub anchors: Anchors,
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
            known: BTreeSet::new(),
            guard,
            anchors,
        }
    }

    /// Adds a process the caller already holds.
    pub fn adopt_handle(&mut self, process: &'a Process, name: String, ppid: i32) {
        self.known.insert(process.pid());
        let was_zombie = process.has_exited();
        self.list.push(Target {
            handle: Handle::Borrowed(process),
            name,
            ppid,
            named: true,
            was_zombie,
            sent: Vec::new(),
            stopped: false,
            denied: false,
            ended: None,
        });
    }

    /// Opens members found by a scan (`table` gives their parents); returns
    /// the indexes of those opened.
    pub fn adopt(&mut self, members: Vec<Member>, table: &ProcessTable) -> Vec<usize> {
        let mut opened = Vec::new();
        for member in members {
            if !self.known.insert(member.pid) {
                continue;
            }
            let ppid = table.get(member.pid).map_or(0, |e| e.ppid);
            match Process::open_expecting(member.pid, member.start_ticks) {
                Ok(process) => {
                    // A pidfd of an exited process polls readable at once:
                    // this one was a zombie before we did anything.
                    let was_zombie = process.has_exited();
                    opened.push(self.list.len());
                    self.list.push(Target {
                        handle: Handle::Owned(process),
                        name: member.name,
                        ppid,
                        named: member.named,
                        was_zombie,
                        sent: Vec::new(),
                        stopped: false,
                        denied: false,
                        ended: None,
                    });
                }
                // It ended after the scan, or its PID went to a newer
                // process, which must not be touched.
                Err(OpenError::NoSuchProcess { .. }) | Err(OpenError::Reused { .. }) => {
                    self.vanished.push(Vanished { member, ppid });
                }
                // Its /proc files are hidden from us (hidepid): it is
                // there, and we cannot check it is the one scanned.
                Err(OpenError::PermissionDenied { .. }) | Err(OpenError::Io { .. }) => {
                    self.refused_unreadable(member, ppid);
                }
            }
        }
        opened
    }

    fn refused_unreadable(&mut self, member: Member, ppid: i32) {
        self.vanished.push(Vanished { member, ppid });
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
        let target = &mut self.list[index];
        if target.ended.is_some() || target.was_zombie {
            return Sent::AlreadyExited;
        }
        match target.handle.signal(signal) {
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
                    } else if target.killed() {
                        EndedBy::Kill
                    } else {
                        EndedBy::Signal
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

    /// Sends `signal` to every pending target.
    pub fn send_all(&mut self, signal: Signal, record: bool) {
        for index in 0..self.list.len() {
            if self.list[index].pending() {
                self.send(index, signal, record);
            }
        }
    }

    /// Indexes of the targets still waited for.
    pub fn pending(&self) -> Vec<usize> {
        (0..self.list.len()).filter(|&i| self.list[i].pending()).collect()
    }
}
