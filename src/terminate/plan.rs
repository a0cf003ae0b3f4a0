//! The termination plan: which signal first, how long to wait, whether to
//! escalate to `SIGKILL`, and the pure decision of what to do next.
//!
//! The plan is a plain value so that other commands (a supervisor's timeout,
//! a shutdown on Ctrl+C) can reuse it; [`next_step`] decides from the
//! elapsed time and the number of targets still alive, with no system calls,
//! so every branch is unit-tested.

use std::time::Duration;

use serde::Serialize;

use crate::duration::FOREVER;
use crate::signal::{DefaultAction, Signal};

/// How long afterlife waits, after `SIGKILL`, for the targets to be gone
/// before it reports those still there (a process in uninterruptible sleep
/// dies only when its wait in the kernel ends).
pub const DEFAULT_KILL_WAIT: Duration = Duration::from_secs(5);

/// The default grace period between the first signal and `SIGKILL`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// What to send, how long to wait, and whether to escalate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TerminationPlan {
    /// The first signal (default `SIGTERM`).
    pub signal: Signal,
    /// How long the targets get to exit after the first signal
    /// ([`FOREVER`]: no deadline, serialized as `null`).
    #[serde(rename = "grace_seconds", serialize_with = "seconds_or_forever")]
    pub grace: Duration,
    /// Whether to send `SIGKILL` to what is left after the grace period.
    pub escalate: bool,
    /// Whether to wait for the targets to be gone at all; without waiting
    /// the first signal is sent and nothing else happens (like `kill(1)`).
    pub wait: bool,
    /// How long to wait after `SIGKILL` before reporting survivors.
    #[serde(rename = "kill_wait_seconds", serialize_with = "seconds")]
    pub kill_wait: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A grace of [`FOREVER`] has no number of seconds: `null`.
fn seconds_or_forever<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    if *d == FOREVER {
        s.serialize_none()
    } else {
        seconds(d, s)
    }
}

impl Default for TerminationPlan {
    fn default() -> Self {
        TerminationPlan {
            signal: Signal::TERM,
            grace: DEFAULT_GRACE,
            escalate: true,
            wait: true,
            kill_wait: DEFAULT_KILL_WAIT,
        }
    }
}

/// Where a termination stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The first signal was sent; the grace period runs.
    Graceful,
    /// `SIGKILL` was sent.
    Killed,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Wait for targets to exit, at most this long.
    Wait(Duration),
    /// Send `SIGKILL` to every target still alive, then enter [`Phase::Killed`].
    Escalate,
    /// Stop and report.
    Finish(Finish),
}

/// Why a termination stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// Every target has exited.
    AllEnded,
    /// The plan does not wait (`--no-wait`).
    NotWaiting,
    /// The grace period passed and the plan does not escalate.
    GraceOver,
    /// `SIGKILL` was sent and its wait passed with targets left.
    KillWaitOver,
    /// Every target a signal reached has ended; those left could not be
    /// signalled (`EPERM`, refused, not opened), so there was nothing to
    /// wait for.
    OnlyUnsignalledLeft,
}

impl Finish {
    /// The finish as reported, given how many targets count as survivors:
    /// "all ended" with survivors left means that those could not be
    /// signalled. Pure.
    pub fn given_survivors(self, survivors: usize) -> Finish {
        match self {
            Finish::AllEnded if survivors > 0 => Finish::OnlyUnsignalledLeft,
            other => other,
        }
    }
}

/// Whether `signal`'s default action ends a process (terminate, or
/// terminate with a core). One that stops, continues or is ignored by
/// default does not. Pure.
pub fn ends_by_default(signal: Signal) -> bool {
    matches!(signal.default_action(), DefaultAction::Terminate | DefaultAction::Core)
}

impl TerminationPlan {
    /// The plan as it is carried out: a signal whose default action does
    /// not end a process (`SIGSTOP`, `SIGCONT`, `SIGWINCH`...) is sent as
    /// it is, as kill(1) sends it. Nothing waits for an end it does not
    /// bring, and nothing escalates to `SIGKILL` when the target does what
    /// it was asked (stops, continues, redraws). Pure.
    /// A grace of [`FOREVER`] never ends, so nothing follows it: no
    /// `SIGKILL` is planned.
    pub fn carried_out(self) -> TerminationPlan {
        if ends_by_default(self.signal) {
            return TerminationPlan {
                escalate: self.escalate && self.grace != FOREVER,
                ..self
            };
        }
        TerminationPlan {
            wait: false,
            escalate: false,
            ..self
        }
    }

    /// Whether the first signal is already `SIGKILL`, so there is nothing to
    /// escalate to.
    pub fn starts_with_kill(&self) -> bool {
        self.signal == Signal::KILL
    }

    /// Whether targets must be stopped before the signal and continued after
    /// it: true for every signal that is meant to end them. Stop and
    /// continue signals themselves are sent as they are.
    pub fn freezes(&self) -> bool {
        !matches!(
            self.signal.default_action(),
            DefaultAction::Stop | DefaultAction::Continue
        )
    }

    /// Whether the targets must be continued (`SIGCONT`) after the signal, so
    /// that a stopped process can handle a graceful signal. `SIGKILL` needs
    /// no help.
    pub fn continues_after_signal(&self) -> bool {
        self.freezes() && !self.starts_with_kill()
    }
}

/// What to do next, given the phase, the time since it began and how many
/// targets are still alive.
pub fn next_step(plan: &TerminationPlan, phase: Phase, elapsed: Duration, alive: usize) -> Step {
    if !plan.wait {
        return Step::Finish(Finish::NotWaiting);
    }
    if alive == 0 {
        return Step::Finish(Finish::AllEnded);
    }
    match phase {
        Phase::Graceful => {
            if elapsed < plan.grace {
                Step::Wait(plan.grace - elapsed)
            } else if plan.escalate && !plan.starts_with_kill() {
                Step::Escalate
            } else {
                Step::Finish(Finish::GraceOver)
            }
        }
        Phase::Killed => {
            if elapsed < plan.kill_wait {
                Step::Wait(plan.kill_wait - elapsed)
            } else {
                Step::Finish(Finish::KillWaitOver)
            }
        }
    }
}

/// How long to let exits gather before the next wait, after a wake-up
/// that found `exited` targets gone and left `alive` still running.
///
/// A tree ends in a burst: a thousand processes die within tens of
/// milliseconds. Woken for each pidfd as it turns readable, afterlife went
/// back to the kernel about 600 times for 1,000 deaths, and on two cores
/// those wake-ups took the CPU the dying processes needed (35 ms of CPU
/// against 20 ms with the pause). A short pause while many are still alive
/// turns them into a few dozen wake-ups; each exit is then noted up to
/// [`BURST_PAUSE`] after it happened. The last few exits are awaited
/// without a pause.
pub fn burst_pause(exited: usize, alive: usize) -> Option<Duration> {
    (exited > 0 && alive >= BURST_ALIVE).then_some(BURST_PAUSE)
}

/// The pause of [`burst_pause`].
pub const BURST_PAUSE: Duration = Duration::from_millis(1);

/// How many targets must still be alive for [`burst_pause`] to pause.
const BURST_ALIVE: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grace_of_forever_plans_no_kill() {
        let plan = TerminationPlan {
            grace: FOREVER,
            ..TerminationPlan::default()
        }
        .carried_out();
        assert!(plan.wait && !plan.escalate);
        let json = serde_json::to_value(plan).unwrap();
        assert_eq!(json["grace_seconds"], serde_json::Value::Null);
        assert_eq!(json["escalate"], false);
    }

    #[test]
    fn a_signal_that_does_not_end_a_process_is_sent_as_it_is() {
        for number in [
            libc::SIGSTOP,
            libc::SIGCONT,
            libc::SIGTSTP,
            libc::SIGWINCH,
            libc::SIGCHLD,
        ] {
            let signal = Signal::from_number(number).unwrap();
            let plan = TerminationPlan {
                signal,
                ..TerminationPlan::default()
            }
            .carried_out();
            assert!(!plan.wait && !plan.escalate, "{signal}");
            assert_eq!(
                next_step(&plan, Phase::Graceful, Duration::ZERO, 1),
                Step::Finish(Finish::NotWaiting)
            );
        }
        for number in [libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGKILL, libc::SIGUSR1] {
            let signal = Signal::from_number(number).unwrap();
            let plan = TerminationPlan {
                signal,
                ..TerminationPlan::default()
            };
            assert_eq!(plan.carried_out(), plan, "{signal}");
        }
    }

    #[test]
    fn a_burst_of_exits_pauses_only_while_many_are_left() {
        assert_eq!(burst_pause(1, 900), Some(BURST_PAUSE));
        assert_eq!(burst_pause(0, 900), None, "a timeout is no burst");
        assert_eq!(burst_pause(3, 7), None, "the last few are awaited at once");
        assert_eq!(burst_pause(1, 0), None);
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn plan() -> TerminationPlan {
        TerminationPlan {
            grace: MS(300),
            kill_wait: MS(1000),
            ..TerminationPlan::default()
        }
    }

    #[test]
    fn defaults_are_term_five_seconds_escalate_wait() {
        let p = TerminationPlan::default();
        assert_eq!(p.signal, Signal::TERM);
        assert_eq!(p.grace, Duration::from_secs(5));
        assert!(p.escalate && p.wait);
    }

    #[test]
    fn nothing_left_finishes_in_any_phase_when_waiting() {
        for phase in [Phase::Graceful, Phase::Killed] {
            assert_eq!(next_step(&plan(), phase, MS(0), 0), Step::Finish(Finish::AllEnded));
        }
    }

    #[test]
    fn waits_for_the_rest_of_the_grace() {
        assert_eq!(next_step(&plan(), Phase::Graceful, MS(100), 3), Step::Wait(MS(200)));
    }

    #[test]
    fn escalates_when_the_grace_is_over() {
        assert_eq!(next_step(&plan(), Phase::Graceful, MS(300), 1), Step::Escalate);
        assert_eq!(next_step(&plan(), Phase::Graceful, MS(900), 1), Step::Escalate);
    }

    #[test]
    fn without_escalation_the_grace_ends_it() {
        let p = TerminationPlan {
            escalate: false,
            ..plan()
        };
        assert_eq!(
            next_step(&p, Phase::Graceful, MS(300), 2),
            Step::Finish(Finish::GraceOver)
        );
    }

    #[test]
    fn kill_first_never_escalates() {
        let p = TerminationPlan {
            signal: Signal::KILL,
            ..plan()
        };
        assert_eq!(
            next_step(&p, Phase::Graceful, MS(400), 2),
            Step::Finish(Finish::GraceOver)
        );
        assert!(!p.continues_after_signal());
        assert!(p.freezes());
    }

    #[test]
    fn after_kill_waits_then_reports() {
        assert_eq!(next_step(&plan(), Phase::Killed, MS(250), 1), Step::Wait(MS(750)));
        assert_eq!(
            next_step(&plan(), Phase::Killed, MS(1000), 1),
            Step::Finish(Finish::KillWaitOver)
        );
    }

    #[test]
    fn no_wait_returns_at_once() {
        let p = TerminationPlan { wait: false, ..plan() };
        assert_eq!(
            next_step(&p, Phase::Graceful, MS(0), 5),
            Step::Finish(Finish::NotWaiting)
        );
    }

    #[test]
    fn no_wait_is_not_waiting_even_with_nothing_left() {
        let p = TerminationPlan { wait: false, ..plan() };
        assert_eq!(
            next_step(&p, Phase::Graceful, MS(0), 0),
            Step::Finish(Finish::NotWaiting)
        );
    }

    #[test]
    fn all_ended_with_survivors_means_they_could_not_be_signalled() {
        assert_eq!(Finish::AllEnded.given_survivors(0), Finish::AllEnded);
        assert_eq!(Finish::AllEnded.given_survivors(1), Finish::OnlyUnsignalledLeft);
        assert_eq!(Finish::NotWaiting.given_survivors(1), Finish::NotWaiting);
        assert_eq!(Finish::KillWaitOver.given_survivors(2), Finish::KillWaitOver);
    }

    #[test]
    fn stop_and_continue_signals_are_not_wrapped_in_a_freeze() {
        for name in ["STOP", "TSTP", "CONT"] {
            let p = TerminationPlan {
                signal: Signal::parse(name).unwrap(),
                ..plan()
            };
            assert!(!p.freezes(), "{name}");
            assert!(!p.continues_after_signal(), "{name}");
        }
        assert!(plan().continues_after_signal());
    }
}
