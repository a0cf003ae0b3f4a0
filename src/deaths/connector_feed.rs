//! Deaths from the proc connector: its events taken in the order they
//! were sent, forks, execs, renames and user changes into the
//! [`Lineage`], thread exits into whole processes' ends
//! ([`ProcessEnds`]), each named by its main thread's taskstats record
//! where one was read (its name, user and life at its exit), else by what
//! the lineage knew of it when its main thread exited.

use std::collections::HashMap;
use std::os::fd::BorrowedFd;

use super::connector::{Connector, ConnectorError, ExitEvent, parse_events};
use super::event::RawDeath;
use super::lineage::{Facts, Lineage};
use super::process_end::{End, Look, ProcessEnds};
use super::taskstats::{TaskExit, Taskstats};

/// The proc connector, read for deaths.
pub struct ConnectorDeaths {
    connector: Connector,
    lineage: Lineage,
    ends: ProcessEnds<Facts>,
    /// The kernel's exit records, where they can be had (`CAP_NET_ADMIN`,
    /// `CONFIG_TASKSTATS`): the lineage alone names the deaths elsewhere.
    taskstats: Option<Taskstats>,
    /// Losses already answered by reading /proc anew.
    lost_seen: u64,
}

impl ConnectorDeaths {
    /// Subscribes, then reads every process /proc lists: a process that
    /// starts in between is both read and forked, which is harmless.
    pub fn open() -> Result<ConnectorDeaths, ConnectorError> {
        let connector = Connector::open()?;
        Ok(ConnectorDeaths {
            connector,
            taskstats: Taskstats::open().ok(),
            lineage: Lineage::from_proc(),
            ends: ProcessEnds::default(),
            lost_seen: 0,
        })
    }

    /// The socket: readable when events wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.connector.fd()
    }

    /// Records lost to a full receive queue.
    pub fn lost(&self) -> u64 {
        self.connector.lost()
    }

    /// Takes every waiting exit of a whole process. Each datagram is taken
    /// into the lineage as it is received: an `execve`'s new name can only
    /// be read while the process runs.
    pub fn drain(&mut self, out: &mut Vec<RawDeath>) {
        let mut exits = Vec::new();
        let mut at_exit: HashMap<(i32, u64), Facts> = HashMap::new();
        // Read first: a task's record is queued before its connector exit.
        if let Some(taskstats) = &mut self.taskstats {
            taskstats.drain();
        }
        let taskstats = &mut self.taskstats;
        let lineage = &mut self.lineage;
        self.connector.drain_datagrams(|datagram| {
            for event in parse_events(datagram) {
                if let Some(exit) = lineage.take(event) {
                    if exit.pid == exit.tgid {
                        let record = taskstats.as_mut().and_then(|t| t.take(exit.pid));
                        let facts = with_record(lineage.get(exit.tgid).cloned(), record, &exit);
                        if let Some(facts) = facts {
                            at_exit.insert((exit.tgid, exit.timestamp_ns), facts);
                        }
                    }
                    exits.push(exit);
                }
            }
        });
        if self.connector.lost() > self.lost_seen {
            // Forks, execs or exits were missed: what is known may be of
            // processes gone, or lack new ones.
            self.lost_seen = self.connector.lost();
            self.lineage.read_all();
        }
        let ends = self.ends.take(&exits, |leader| {
            let known = at_exit.get(&(leader.tgid, leader.timestamp_ns)).cloned();
            look(leader, known)
        });
        for end in ends {
            if let Some(facts) = &end.facts {
                self.lineage.forget(end.leader.tgid, facts.start_ns);
            }
            out.push(raw_death(&end));
        }
    }
}

/// Whether the process of `leader` (its main thread's exit) has ended,
/// with what is known of it: the lineage's facts (`known`), else what
/// /proc still says. Nothing is read of a process reaped already, nor of
/// one that started after the exit: its PID was handed out again.
///
/// The main thread that sent its exit is a zombie until it is reaped. A
/// process at its PID that is not one, and started no later, is the same
/// process with another thread in the main thread's place: a thread that
/// calls `execve` takes the main thread's PID and start time once the
/// kernel has ended the main thread (`de_thread`), and runs on as the new
/// program. (A PID handed out again within the clock tick of the exit, as
/// only a write to `ns_last_pid` can, would read so too: that death is
/// then not shown, rather than shown with another process's facts.)
fn look(leader: &ExitEvent, known: Option<Facts>) -> Look<Facts> {
    let Ok(process) = crate::proc::Process::new(leader.tgid) else {
        return Look::Ended(known);
    };
    let Ok(stat) = crate::proc::stat::of(&process) else {
        return Look::Ended(known);
    };
    if super::lineage::stat_start_ns(&stat) > leader.timestamp_ns {
        return Look::Ended(known);
    }
    let exec_by_a_thread = !matches!(stat.state, 'Z' | 'X');
    let runs_on = exec_by_a_thread || (stat.num_threads > 1 && a_thread_runs_on(&process, leader.tgid));
    let facts = known.or_else(|| super::lineage::read(&process, leader.timestamp_ns));
    if runs_on {
        Look::LivesOn(facts)
    } else {
        Look::Ended(facts)
    }
}

/// Whether a thread of `process` other than its main thread has not sent
/// its exit yet: it is listed and neither a zombie nor dead.
fn a_thread_runs_on(process: &crate::proc::Process, tgid: i32) -> bool {
    let Ok(tasks) = process.tasks() else { return false };
    tasks
        .flatten()
        .filter(|task| task.tid != tgid)
        .any(|task| task.stat().is_ok_and(|s| !matches!(s.state, 'Z' | 'X')))
}

/// What the lineage knew of a process whose main thread exited
/// (`exit`), with its main thread's taskstats record over it: the name
/// and real user at the exit, and the start its life gives where the
/// lineage has none. A record whose wait status is not the exit's is of
/// another task. Pure.
fn with_record(known: Option<Facts>, record: Option<TaskExit>, exit: &ExitEvent) -> Option<Facts> {
    let Some(record) = record.filter(|r| r.exit_code == exit.exit_code) else {
        return known;
    };
    let known = known.unwrap_or_default();
    Some(Facts {
        name: Some(record.name),
        uid: Some(record.uid),
        start_ns: known.start_ns.or(exit.timestamp_ns.checked_sub(record.lived_ns)),
        ppid: known.ppid.or(Some(record.ppid).filter(|&p| p > 0)),
        ..known
    })
}

/// A whole process's end as a raw death.
fn raw_death(end: &End<Facts>) -> RawDeath {
    let facts = end.facts.as_ref();
    RawDeath {
        pid: end.leader.tgid,
        // The event's parent reads 0 now and then (the parent link is read
        // only while the task is "alive" for RCU): the known one's then.
        ppid: Some(end.leader.parent_tgid)
            .filter(|&p| p > 0)
            .or_else(|| facts.and_then(|f| f.ppid)),
        uid: facts.and_then(|f| f.uid),
        wait_status: end.wait_status,
        name: facts.and_then(|f| f.name.clone()),
        cmdline: None,
        cmdline_cut: false,
        exit_ns: Some(end.last.timestamp_ns),
        start_ns: facts.and_then(|f| f.start_ns),
        cgroup_id: None,
        cgroup_path: facts.and_then(|f| f.cgroup.clone()),
        signal: None,
        oom: None,
    }
}
