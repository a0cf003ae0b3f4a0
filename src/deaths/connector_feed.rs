//! Deaths from the proc connector: its events taken in the order they
//! were sent, forks, execs, renames and user changes into the
//! [`Lineage`], thread exits into whole processes' ends
//! ([`ProcessEnds`]), each named by its main thread's taskstats record
//! where one was read (its name, user and life at its exit), else by what
//! the lineage knew of it when its main thread exited.

use std::collections::HashMap;
use std::os::fd::BorrowedFd;

use super::connector::{Connector, ConnectorError, Event, ExitEvent, parse_events};
use super::event::RawDeath;
use super::lineage::{Facts, Lineage};
use super::process_end::{End, Look, ProcessEnds, carried_on_by_exec};
use super::taskstats::{TaskExit, Taskstats};

/// The proc connector, read for deaths.
pub struct ConnectorDeaths {
    connector: Connector,
    lineage: Lineage,
    ends: ProcessEnds<Facts>,
    /// The kernel's exit records, where they can be had (`CAP_NET_ADMIN`,
    /// `CONFIG_TASKSTATS`): the lineage and /proc name the deaths elsewhere.
    taskstats: Option<Taskstats>,
    /// Why taskstats could not be had, if it could not.
    taskstats_refused: Option<String>,
    /// Events received after a round's looks, for the next round.
    carried: Vec<Event>,
    /// Losses already answered by reading /proc anew.
    lost_seen: u64,
}

/// Rounds of one drain: each takes the events that came while the one
/// before looked at /proc.
const ROUNDS: usize = 8;

impl ConnectorDeaths {
    /// Subscribes, then reads every process /proc lists: a process that
    /// starts in between is both read and forked, which is harmless.
    pub fn open() -> Result<ConnectorDeaths, ConnectorError> {
        let connector = Connector::open()?;
        // Checked by the caller; a size set for the ring buffer sets the
        // socket's receive buffer here.
        if let Ok(Some(bytes)) = super::tracepoints::ring_bytes_from_env() {
            connector.set_receive_buffer(bytes as usize);
        }
        let (taskstats, taskstats_refused) = match Taskstats::open() {
            Ok(taskstats) => (Some(taskstats), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(ConnectorDeaths {
            connector,
            taskstats,
            taskstats_refused,
            lineage: Lineage::from_proc(),
            ends: ProcessEnds::default(),
            carried: Vec::new(),
            lost_seen: 0,
        })
    }

    /// What the feed cannot tell here, in a sentence, if anything: without
    /// taskstats a program that ends before its zombie is read goes
    /// unnamed after its `execve`.
    pub fn limits(&self) -> Option<String> {
        self.taskstats_refused
            .as_ref()
            .map(|why| format!("a death is named only by its fork or its zombie, not after an exec (taskstats: {why})"))
    }

    /// The socket: readable when events wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.connector.fd()
    }

    /// Records lost to a full receive queue.
    pub fn lost(&self) -> u64 {
        self.connector.lost()
    }

    /// Takes every waiting exit of a whole process. An end decided by a
    /// look at /proc is held back when an exit or exec of its process came
    /// in while it was looked at (a thread still ran, unlisted a moment
    /// before its event was sent): the process is waited for again.
    pub fn drain(&mut self, out: &mut Vec<RawDeath>) {
        // Read first: a task's record is queued before its connector exit.
        if let Some(taskstats) = &mut self.taskstats {
            taskstats.drain();
        }
        let mut events = std::mem::take(&mut self.carried);
        self.receive(&mut events);
        for _ in 0..ROUNDS {
            if events.is_empty() {
                break;
            }
            self.answer_losses();
            let ends = self.take(events);
            let mut late = Vec::new();
            self.receive(&mut late);
            for end in ends {
                if late.iter().any(|event| of_process(event) == Some(end.leader.tgid)) {
                    self.ends.wait_again(end.leader, end.facts);
                } else {
                    self.lineage.forget(end.leader.tgid, end.last.timestamp_ns);
                    out.push(raw_death(&end));
                }
            }
            events = late;
        }
        self.carried = events;
    }

    fn receive(&mut self, events: &mut Vec<Event>) {
        self.connector
            .drain_datagrams(|datagram| events.extend(parse_events(datagram)));
    }

    /// After lost events, what is known may be of processes gone, or lack
    /// new ones: /proc is read anew, and a process waited for that is gone
    /// or whose PID another process has now is waited for no more.
    fn answer_losses(&mut self) {
        let lost = self.connector.lost();
        if lost == self.lost_seen {
            return;
        }
        self.lost_seen = lost;
        self.lineage.read_all();
        self.ends.retain(|leader| {
            crate::proc::stat::read_raw(leader.tgid)
                .is_ok_and(|stat| super::lineage::stat_start_ns(&stat) <= leader.timestamp_ns)
        });
    }

    /// Takes a round's events in order into the lineage, and its thread
    /// exits into process ends.
    fn take(&mut self, events: Vec<Event>) -> Vec<End<Facts>> {
        let carried_on = carried_on_by_exec(&events);
        let mut exits = Vec::new();
        let mut at_exit: HashMap<(i32, u64), (Option<Facts>, Option<TaskExit>)> = HashMap::new();
        for event in events {
            let Some(exit) = self.lineage.take(event) else { continue };
            if exit.pid == exit.tgid {
                let known = self.lineage.get(exit.tgid).cloned();
                let started = known.as_ref().and_then(|k| k.start_ns);
                let record = self
                    .taskstats
                    .as_mut()
                    .and_then(|t| t.take(exit.pid, started, exit.timestamp_ns));
                at_exit.insert((exit.tgid, exit.timestamp_ns), (known, record));
            }
            exits.push(exit);
        }
        self.ends.take(&exits, |leader| {
            let (known, record) = at_exit.remove(&(leader.tgid, leader.timestamp_ns)).unwrap_or_default();
            let tries = tries_for(leader, known.as_ref());
            if carried_on.contains(&(leader.tgid, leader.timestamp_ns)) && !started_after(leader, tries) {
                let record = record.filter(|r| r.exit_code == leader.exit_code);
                return Look::LivesOn(merged(leader, known, record, None));
            }
            look(leader, known, record, tries)
        })
    }
}

/// The process an exit or exec is of.
fn of_process(event: &Event) -> Option<i32> {
    match event {
        Event::Exit(exit) => Some(exit.tgid),
        Event::Exec { tgid, .. } => Some(*tgid),
        _ => None,
    }
}

/// Whether the process of `leader` (its main thread's exit) has ended,
/// with what is known of it (see [`merged`]). Nothing is read of a process
/// reaped already, nor of one that started after the exit: its PID was
/// handed out again.
///
/// The main thread that sent its exit is a zombie until it is reaped. A
/// process at its PID that is not one, and started no later, is the same
/// process with another thread in the main thread's place: a thread that
/// calls `execve` takes the main thread's PID and start time once the
/// kernel has ended the main thread (`de_thread`), and runs on as the new
/// program. (A PID handed out again within the clock tick of the exit, as
/// only a write to `ns_last_pid` can, would read so too: that death is
/// then not shown, rather than shown with another process's facts.)
fn look(leader: &ExitEvent, known: Option<Facts>, record: Option<TaskExit>, tries: usize) -> Look<Facts> {
    let record = record.filter(|r| r.exit_code == leader.exit_code);
    let Some((process, stat)) = crate::proc::open_with_stat(leader.tgid, tries)
        .ok()
        .filter(|(_, stat)| super::lineage::stat_start_ns(stat) <= leader.timestamp_ns)
    else {
        return Look::Ended(merged(leader, known, record, None));
    };
    let runs_on = |stat: &crate::proc::stat::Stat| !matches!(stat.state, 'Z' | 'X');
    // A zombie main thread with threads beside it: one of them runs on,
    // or took its place by an exec since the read (which a process of one
    // thread cannot have done).
    let lives = runs_on(&stat)
        || (stat.num_threads > 1
            && (a_thread_runs_on(&process)
                || (0..tries)
                    .find_map(|_| crate::proc::stat::of(&process).ok())
                    .is_some_and(|again| runs_on(&again))));
    let mut read = super::lineage::read_with(&process, stat);
    read.cgroup = process
        .cgroups()
        .ok()
        .and_then(|groups| crate::proc::cgroup::v2_path(&groups.0));
    let facts = merged(leader, known, record, Some(read));
    if lives {
        Look::LivesOn(facts)
    } else {
        Look::Ended(facts)
    }
}

/// Whether the process /proc shows at the PID of `leader` now started
/// after that exit: another process was given the PID.
fn started_after(leader: &ExitEvent, tries: usize) -> bool {
    crate::proc::open_with_stat(leader.tgid, tries)
        .is_ok_and(|(_, stat)| super::lineage::stat_start_ns(&stat) > leader.timestamp_ns)
}

/// How many times /proc is read for the process of `leader` before it is
/// taken as gone (see [`crate::proc::open_with_stat`]): the main thread
/// that a thread's `execve` ends exits with code 0 (`do_group_exit` during
/// an exec), and its process has had another thread (the connector's
/// thread events; a process the feed does not know may have had), so such
/// an exit is read up to 3 times; any other exit once, as most processes
/// are gone by then, and each read of a gone one costs. Pure.
fn tries_for(leader: &ExitEvent, known: Option<&Facts>) -> usize {
    if leader.exit_code == 0 && known.is_none_or(|k| k.threaded) {
        3
    } else {
        1
    }
}

/// Whether a thread of `process` has not sent its exit yet: it is listed
/// and neither a zombie nor dead. The main thread has sent its own, so a
/// task at its ID that runs is the thread whose `execve` took its place.
fn a_thread_runs_on(process: &crate::proc::Process) -> bool {
    let Ok(tasks) = process.tasks() else { return false };
    tasks
        .flatten()
        .any(|task| task.stat().is_ok_and(|s| !matches!(s.state, 'Z' | 'X')))
}

/// What is known of a process whose main thread sent `leader`: its main
/// thread's taskstats record (name and user at its exit), then what /proc
/// says of it now (`read`, its zombie's), then the lineage (`known`). Its
/// cgroup is /proc's alone: the connector says nothing of a move between
/// cgroups, so the lineage's could be stale. Its start is the lineage's
/// fork time where known. Pure.
fn merged(leader: &ExitEvent, known: Option<Facts>, record: Option<TaskExit>, read: Option<Facts>) -> Option<Facts> {
    if known.is_none() && record.is_none() && read.is_none() {
        return None;
    }
    let known = known.unwrap_or_default();
    let read = read.unwrap_or_default();
    Some(Facts {
        name: record.as_ref().map(|r| r.name.clone()).or(read.name).or(known.name),
        uid: record.as_ref().map(|r| r.uid).or(read.uid).or(known.uid),
        cgroup: read.cgroup,
        start_ns: known.start_ns.or(read.start_ns).or_else(|| {
            record
                .as_ref()
                .and_then(|r| leader.timestamp_ns.checked_sub(r.lived_ns))
        }),
        ppid: record
            .as_ref()
            .map(|r| r.ppid)
            .filter(|&p| p > 0)
            .or(read.ppid)
            .or(known.ppid),
        threaded: known.threaded || read.threaded,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(name: &str, cgroup: Option<&str>, start_ns: Option<u64>) -> Facts {
        Facts {
            name: Some(name.to_string()),
            uid: Some(1000),
            cgroup: cgroup.map(str::to_string),
            start_ns,
            ppid: Some(1),
            threaded: false,
        }
    }

    #[test]
    fn only_an_exit_with_code_0_of_a_process_that_had_threads_is_read_again() {
        let exit = |exit_code| ExitEvent {
            pid: 10,
            tgid: 10,
            exit_code,
            parent_tgid: 1,
            timestamp_ns: 5,
        };
        let single = facts("sh", None, Some(1));
        let threaded = Facts {
            threaded: true,
            ..single.clone()
        };
        assert_eq!(tries_for(&exit(0), Some(&threaded)), 3);
        assert_eq!(tries_for(&exit(0), None), 3, "a process not known may have had threads");
        assert_eq!(tries_for(&exit(0), Some(&single)), 1);
        assert_eq!(tries_for(&exit(9), Some(&threaded)), 1);
    }

    #[test]
    fn the_exit_record_names_first_the_zombie_next_and_the_cgroup_is_the_zombies_alone() {
        let leader = ExitEvent {
            pid: 10,
            tgid: 10,
            exit_code: 0,
            parent_tgid: 1,
            timestamp_ns: 5_000,
        };
        let record = TaskExit {
            pid: 10,
            tgid: Some(10),
            name: "true".to_string(),
            uid: 33,
            ppid: 7,
            exit_code: 0,
            lived_ns: 1_000,
        };
        let known = facts("bash", Some("/at.fork"), Some(3_000));
        let zombie = facts("sleep", Some("/now"), Some(2_000));
        let all = merged(&leader, Some(known.clone()), Some(record.clone()), Some(zombie.clone())).unwrap();
        assert_eq!(
            (all.name.as_deref(), all.uid, all.ppid),
            (Some("true"), Some(33), Some(7))
        );
        assert_eq!((all.cgroup.as_deref(), all.start_ns), (Some("/now"), Some(3_000)));
        let reaped = merged(&leader, Some(known), None, None).unwrap();
        assert_eq!((reaped.name.as_deref(), reaped.cgroup), (Some("bash"), None));
        let record_only = merged(&leader, None, Some(record), None).unwrap();
        assert_eq!(record_only.start_ns, Some(4_000), "the exit's time less its life");
        assert_eq!(merged(&leader, None, None, None), None);
    }
}
