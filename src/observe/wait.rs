//! `afterlife wait`: wait for any processes, children or not, and say how
//! each ended.
//!
//! Every pidfd is opened before waiting starts: `PIDFD_INFO_EXIT` keeps an
//! exit status only for pidfds that were open when the process was reaped.
//! Then one `poll` waits on all of them.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::deaths::Sender;
use crate::deaths::senders::Senders;
use crate::observe::EndingReport;
use crate::process::{ExitObservation, OpenError, Pid, Process, Unobservable, WaitError, wait_any};

/// How one waited-for process turned out.
#[derive(Debug, Clone, Serialize)]
pub struct WaitOutcome {
    /// The PID.
    pub pid: Pid,
    /// Its name as it ran last: one that had not exec'd since its fork
    /// when waiting started is read again until it has.
    pub name: String,
    /// Its command line as it ran last; empty for one read as a zombie.
    #[serde(rename = "command_line")]
    pub cmdline: Vec<String>,
    /// Seconds from the start of the wait to its exit; `None` if still running.
    #[serde(rename = "ended_after_seconds")]
    pub ended_after: Option<f64>,
    /// How it ended; `None` if it is still running (the wait timed out).
    pub ending: Option<EndingReport>,
    /// For a death by signal, who sent it (from the BPF tracepoints, where
    /// they run): `None` otherwise.
    pub sender: Option<Sender>,
}

/// The result of a wait.
#[derive(Debug, Clone, Serialize)]
pub struct WaitReport {
    /// One entry per PID, in the order given.
    pub processes: Vec<WaitOutcome>,
    /// Whether the timeout passed before every process ended.
    pub timed_out: bool,
    /// Why senders of signals cannot be named, when they cannot (BPF does
    /// not run here).
    #[serde(skip)]
    pub senders_unknown: Option<String>,
}

/// Waiting failed.
#[derive(Debug, thiserror::Error)]
pub enum WaitCommandError {
    /// A PID could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Waiting itself failed.
    #[error(transparent)]
    Wait(#[from] WaitError),
    /// A PID is the caller's own: its end would never be seen.
    #[error("PID {pid} is afterlife itself: it cannot wait for its own end")]
    Itself {
        /// The PID.
        pid: Pid,
    },
}

/// Waits for every PID to end, or for `timeout`. `on_end` is called as each
/// one ends, so a caller can report as it goes.
pub fn wait_for(
    pids: &[Pid],
    timeout: Option<Duration>,
    mut on_end: impl FnMut(&WaitOutcome),
) -> Result<WaitReport, WaitCommandError> {
    let mut opened = Vec::with_capacity(pids.len());
    // A PID given twice is one process, waited for and reported once.
    let mut seen = std::collections::HashSet::new();
    for &pid in pids.iter().filter(|&&pid| seen.insert(pid)) {
        if pid == Pid::current() {
            return Err(WaitCommandError::Itself { pid });
        }
        opened.push(Process::open_to_wait(pid)?);
    }
    // Loaded on a thread once the pidfds are open: a signal queued after
    // the program is attached is in its map before the death it causes.
    let mut senders = Senders::start(true);
    let start = Instant::now();
    let deadline = timeout.and_then(|t| start.checked_add(t));
    let mut outcomes: Vec<WaitOutcome> = opened
        .iter()
        .map(|(process, info)| WaitOutcome {
            pid: process.pid(),
            // It ended before its name could be read.
            name: info.as_ref().map_or_else(|| "?".to_string(), |i| i.name.clone()),
            cmdline: info.as_ref().map(|i| i.cmdline.clone()).unwrap_or_default(),
            ended_after: None,
            ending: None,
            sender: None,
        })
        .collect();
    let mut rereads = Rereads::of(&opened);
    let mut pending: Vec<usize> = (0..opened.len()).collect();
    // Ended, but their status is hidden until their parent reaps them
    // (zombies of another user): with when each ended, and how long their
    // reap is waited for.
    let mut hidden: Vec<(usize, f64, Instant)> = Vec::new();
    while !pending.is_empty() || !hidden.is_empty() {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let slice = if hidden.is_empty() {
            remaining
        } else {
            Some(remaining.map_or(REAP_POLL, |r| r.min(REAP_POLL)))
        };
        let slice = rereads.shorten(slice, Instant::now());
        let waiting: Vec<&Process> = pending.iter().map(|&i| &opened[i].0).collect();
        let ready = if waiting.is_empty() {
            std::thread::sleep(slice.unwrap_or(REAP_POLL));
            Vec::new()
        } else {
            wait_any(&waiting, slice)?
        };
        let ended_after = start.elapsed().as_secs_f64();
        let finished: Vec<usize> = ready.iter().map(|&r| pending[r]).collect();
        rereads.read_due(&opened, &mut outcomes, &finished, Instant::now());
        pending.retain(|i| !finished.contains(i));
        let reap_until = Instant::now() + REAP_WAIT;
        let looks = finished
            .into_iter()
            .map(|i| (i, ended_after, deadline.map_or(reap_until, |d| d.min(reap_until))))
            .chain(std::mem::take(&mut hidden));
        for (index, ended_after, reap_by) in looks.collect::<Vec<_>>() {
            let observation = opened[index].0.exit_observation()?;
            if awaits_reap(&observation, Instant::now(), reap_by) {
                hidden.push((index, ended_after, reap_by));
                continue;
            }
            let outcome = &mut outcomes[index];
            outcome.ended_after = Some(ended_after);
            let ending: EndingReport = observation.into();
            if let Some(crate::exit::ExitStatus::Signaled { signal, .. }) = ending.status() {
                let died = crate::deaths::senders::monotonic_ns();
                // 0: not read (it ended as it was opened).
                let start = Some(opened[index].0.start_ticks()).filter(|&s| s != 0);
                outcome.sender = senders.sender(outcome.pid.get(), start, signal.number(), Some(died));
            }
            outcome.ending = Some(ending);
            on_end(outcome);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) && !pending.is_empty() {
            return Ok(WaitReport {
                processes: outcomes,
                timed_out: true,
                senders_unknown: senders.unavailable(),
            });
        }
    }
    Ok(WaitReport {
        processes: outcomes,
        timed_out: false,
        senders_unknown: senders.unavailable(),
    })
}

/// The processes that still ran their parent's program when waiting
/// started (forked, no `execve` yet): a shell's `cmd &` gives `$!` before
/// its child has exec'd `cmd`, whose name and command line are then read
/// again, soon and then less often, until it has exec'd or ended.
struct Rereads {
    /// Index into the processes, when it is read next, and the interval.
    due: Vec<(usize, Instant, Duration)>,
}

/// The first interval between reads of a process yet to exec; it doubles
/// up to [`LAST_REREAD`].
const FIRST_REREAD: Duration = Duration::from_millis(2);
/// The longest interval: a forked worker that never execs is read once a
/// second for as long as it is waited for.
const LAST_REREAD: Duration = Duration::from_secs(1);

impl Rereads {
    fn of(opened: &[(Process, Option<crate::process::ProcessInfo>)]) -> Rereads {
        let now = Instant::now();
        let due = (0..opened.len())
            .filter(|&i| opened[i].1.as_ref().is_some_and(|info| info.yet_to_exec))
            .map(|i| (i, now + FIRST_REREAD, FIRST_REREAD))
            .collect();
        Rereads { due }
    }

    /// `slice`, cut to end when the next read is due.
    fn shorten(&self, slice: Option<Duration>, now: Instant) -> Option<Duration> {
        let Some(next) = self.due.iter().map(|&(_, at, _)| at).min() else {
            return slice;
        };
        let until = next.saturating_duration_since(now);
        Some(slice.map_or(until, |s| s.min(until)))
    }

    /// Reads again each process whose read is due. One that has just
    /// ended (`finished`) is looked at once more if its parent has not
    /// reaped it yet: a zombie that has exec'd since shows its new name,
    /// not its command line (its memory is gone), which then reads empty
    /// rather than the program it left.
    fn read_due(
        &mut self,
        opened: &[(Process, Option<crate::process::ProcessInfo>)],
        outcomes: &mut [WaitOutcome],
        finished: &[usize],
        now: Instant,
    ) {
        self.due.retain_mut(|(index, at, every)| {
            if finished.contains(index) {
                if let Some(stat) = own_stat(&opened[*index].0)
                    && stat.flags & crate::proc::stat::PF_FORKNOEXEC == 0
                {
                    outcomes[*index].name = stat.comm;
                    outcomes[*index].cmdline = Vec::new();
                }
                return false;
            }
            if *at > now {
                return true;
            }
            let process = &opened[*index].0;
            let still_forked = yet_to_exec(process);
            if let Ok(info) = process.info() {
                outcomes[*index].name = info.name;
                outcomes[*index].cmdline = info.cmdline;
            }
            *every = (*every * 2).min(LAST_REREAD);
            *at = now + *every;
            still_forked
        });
    }
}

/// Whether `process` still runs its parent's program: forked, with no
/// `execve` since (`PF_FORKNOEXEC`).
fn yet_to_exec(process: &Process) -> bool {
    own_stat(process).is_some_and(|stat| stat.flags & crate::proc::stat::PF_FORKNOEXEC != 0)
}

/// `stat` of `process` itself, not of a process that got its PID since.
fn own_stat(process: &Process) -> Option<crate::proc::stat::Stat> {
    crate::proc::stat::read(process.pid())
        .ok()
        .filter(|stat| stat.starttime == process.start_ticks())
}

/// How often a hidden status is looked at again while its reap is awaited.
const REAP_POLL: Duration = Duration::from_millis(20);

/// How long after its exit the reap of a zombie whose status is hidden is
/// awaited (at most until the wait's own deadline): most parents reap at
/// once, and one that never does would otherwise keep the wait forever.
const REAP_WAIT: Duration = Duration::from_secs(5);

/// Whether to look again later: the status is hidden until the parent
/// reaps the zombie (`PIDFD_INFO_EXIT` then gives it), and there is time
/// left to wait for that. Pure.
pub(crate) fn awaits_reap(observation: &ExitObservation, now: Instant, reap_by: Instant) -> bool {
    matches!(
        observation,
        ExitObservation::Unobservable {
            reason: Unobservable::NotPermitted
        }
    ) && now < reap_by
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::StatusSource;

    #[test]
    fn only_a_hidden_status_awaits_the_reap_and_only_until_its_time() {
        let hidden = ExitObservation::Unobservable {
            reason: Unobservable::NotPermitted,
        };
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert!(awaits_reap(&hidden, now, later));
        assert!(!awaits_reap(&hidden, later, now), "the time to wait is over");
        let known = ExitObservation::Known {
            status: crate::exit::ExitStatus::Exited { code: 9 },
            source: StatusSource::PidfdInfo,
        };
        assert!(!awaits_reap(&known, now, later));
        let old_kernel = ExitObservation::Unobservable {
            reason: Unobservable::KernelTooOld,
        };
        assert!(!awaits_reap(&old_kernel, now, later), "nothing will tell it later");
    }
}
