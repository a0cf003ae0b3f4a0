//! What the supervisor's loop decides, as pure functions, as
//! `terminate::plan` does for `kill`: what a signal calls for, which timer
//! is due, what the deadline and the end of grace send and the timers
//! after them, how long the tree settles once the main process has ended,
//! a leftover's fate, whether an OOM kill is in question, the cause, and
//! afterlife's own exit code. The loop (`supervisor.rs`) makes the system
//! calls; these are tested without any.

use std::time::{Duration, Instant};

use crate::exit::{Cause, ExitStatus};
use crate::signal::Signal;
use crate::supervise::cause::ExitAction;
use crate::supervise::report::{Fate, Reason, Target, TimelineEvent};
use crate::supervise::signals::Received;

/// How long processes sent SIGKILL get to be gone before they count as
/// survivors (uninterruptible sleep can delay the end).
pub(crate) const KILL_SETTLE: Duration = Duration::from_secs(2);

/// The exit code of a run that ended with `code`: a command that passed
/// but leaked (when that fails the run) exits with
/// [`crate::exit_code::LEAKED`]; a failing command keeps its own code. Pure.
pub fn leak_code(code: u8, leaked_fails: bool) -> u8 {
    if code == 0 && leaked_fails {
        crate::exit_code::LEAKED
    } else {
        code
    }
}

/// Which timers are due now: whether the deadline has passed (or SIGALRM
/// came before it), and whether the grace period after it is over (or
/// SIGALRM came during it, with SIGKILL still due). Before the deadline a
/// grace period runs only after a signal passed on ([`arms_kill`]); when
/// it ends first, SIGKILL goes and the deadline's signal does not.
pub(crate) fn timers_due(
    now: Instant,
    deadline: Option<Instant>,
    kill_at: Option<Instant>,
    timed_out: bool,
    alarm: bool,
) -> (bool, bool) {
    if !timed_out {
        let kill_due = kill_at.is_some_and(|k| now >= k);
        return (!kill_due && (alarm || deadline.is_some_and(|d| now >= d)), kill_due);
    }
    (false, kill_at.is_some_and(|k| alarm || now >= k))
}

/// Whether passing `signal` on starts the grace period, SIGKILL at its end
/// (once: a later signal does not restart it), as coreutils `timeout -k`
/// does for every signal it catches and relays (HUP, INT, QUIT, TERM, its
/// `-s` signal): a TERM from outside then ends a command that ignores it.
/// `signal` is the `-s` signal given; not after the deadline (its own
/// grace period runs then), nor without a grace period. Pure.
pub(crate) fn arms_kill(passed_on: Signal, deadline_signal: Signal, grace: Option<Duration>, armed: bool) -> bool {
    let caught = matches!(
        passed_on.number(),
        libc::SIGHUP | libc::SIGINT | libc::SIGQUIT | libc::SIGTERM
    ) || passed_on == deadline_signal;
    caught && grace.is_some() && !armed && passed_on != Signal::KILL
}

/// Whether `signal`, sent for `reason`, is followed by SIGCONT to the same
/// processes, as coreutils `timeout` follows the signals it sends at the
/// deadline and passes on (ALRM, HUP, INT, QUIT, TERM, the `-s` signal):
/// a stopped process takes no signal but SIGKILL until it is continued, so
/// without it a stopped command would outlive its deadline (for ever,
/// without a grace period). Other signals passed on (USR1, a stop) leave
/// a stopped process stopped. Pure.
pub(crate) fn continues_after(signal: Signal, reason: Reason) -> bool {
    let passed_on = match reason {
        Reason::Forwarded => matches!(
            signal.number(),
            libc::SIGHUP | libc::SIGINT | libc::SIGQUIT | libc::SIGTERM
        ),
        _ => true,
    };
    passed_on && signal != Signal::KILL && signal != Signal::CONT
}

/// What the loop does with a signal read from the signalfd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignalAction {
    /// SIGALRM: time is up (or, after the deadline, the grace period).
    TimeIsUp,
    /// SIGCHLD: reap ended orphans; follow a stop of the main process.
    Reap,
    /// Pass the signal on.
    Forward { signal: Signal, to: Target },
    /// Nothing.
    Ignore,
}

/// What to do when a signal arrives. Pure.
///
/// With `foreground` the command shares afterlife's process group: a key
/// typed at the terminal reached it already, straight from the kernel, and
/// anything else goes to it alone. Otherwise a signal goes to the command's
/// process group.
pub(crate) fn signal_action(received: Received, foreground: bool) -> SignalAction {
    match received.number {
        libc::SIGALRM => SignalAction::TimeIsUp,
        libc::SIGCHLD => SignalAction::Reap,
        _ if foreground && received.from_terminal() => SignalAction::Ignore,
        number => match Signal::from_number(number) {
            Some(signal) => SignalAction::Forward {
                signal,
                to: if foreground { Target::Main } else { Target::Group },
            },
            None => SignalAction::Ignore,
        },
    }
}

/// A signal the loop sends when a timer falls due, and the timers after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) signal: Signal,
    pub(crate) to: Target,
    pub(crate) reason: Reason,
    /// Whether SIGKILL has been sent now.
    pub(crate) sent_kill: bool,
    /// When SIGKILL falls due next, if it does.
    pub(crate) kill_at: Option<Instant>,
}

/// The deadline passed: the deadline's signal to the tree (to the main
/// process alone with `foreground`), and SIGKILL after the grace period,
/// if one is set. Pure.
pub(crate) fn deadline_step(foreground: bool, signal: Signal, grace: Option<Duration>, now: Instant) -> Step {
    Step {
        signal,
        to: if foreground { Target::Main } else { Target::Tree },
        reason: Reason::Deadline,
        sent_kill: signal == Signal::KILL,
        kill_at: grace.and_then(|g| now.checked_add(g)),
    }
}

/// The grace period is over: SIGKILL, and no timer after it. Pure.
pub(crate) fn grace_over_step(foreground: bool) -> Step {
    Step {
        signal: Signal::KILL,
        to: if foreground { Target::Main } else { Target::Tree },
        reason: Reason::GraceExpired,
        sent_kill: true,
        kill_at: None,
    }
}

/// How long the tree gets to end before what is left counts as left over.
/// After a deadline the whole tree has had its signal already: it gets the
/// rest of the grace period, and is not signalled twice; `None` when it was
/// not signalled. Pure.
pub(crate) fn settle_time(
    tree_signalled: bool,
    kill_at: Option<Instant>,
    sent_kill: bool,
    leftover_grace: Duration,
    now: Instant,
) -> Option<Duration> {
    match (tree_signalled, kill_at) {
        (false, _) => None,
        (true, Some(at)) => Some(at.saturating_duration_since(now)),
        // SIGKILL went to the whole tree: it is dying; wait for that.
        (true, None) if sent_kill => Some(KILL_SETTLE),
        (true, None) => Some(leftover_grace),
    }
}

/// How a leftover that ended after being signalled ended. Its status,
/// where afterlife reaped it: the code it exited with, or the signal that
/// ended it (SIGKILL while alive at the kill: killed). Where another
/// process reaps it (`None`): killed, if it was still alive when SIGKILL
/// went out, else ended after the first signal, which may or may not have
/// been what ended it. Pure.
pub(crate) fn fate_of_ended(status: Option<ExitStatus>, alive_at_kill: bool, signal: Signal) -> Fate {
    match status {
        Some(ExitStatus::Exited { code }) => Fate::Exited { code, after: signal },
        Some(ExitStatus::Signaled { signal: by, .. }) if by == Signal::KILL && alive_at_kill => Fate::Killed,
        Some(ExitStatus::Signaled { signal: by, .. }) => Fate::Ended { signal: by },
        None if alive_at_kill => Fate::Killed,
        None => Fate::EndedAfter { signal },
    }
}

/// Whether an OOM kill is in question: the main process died of a SIGKILL
/// that afterlife did not send. Pure.
pub(crate) fn oom_in_question(status: ExitStatus, sent_kill: bool) -> bool {
    matches!(status, ExitStatus::Signaled { signal, .. } if signal == Signal::KILL && !sent_kill)
}

/// Why the command ended: its deadline (`timed_out`: whether it passed,
/// and when; as given, or when SIGALRM ended the wait, the time it came),
/// an OOM kill, or nothing afterlife knows. Pure.
pub(crate) fn cause_of(
    timed_out: (bool, Duration),
    sent_kill: bool,
    timeout: Option<Duration>,
    signal: Signal,
    oom_killed: bool,
) -> Cause {
    let (timed_out, after) = timed_out;
    if timed_out {
        Cause::TimedOut {
            after: timeout.filter(|t| *t <= after).unwrap_or(after),
            needed_kill: sent_kill && signal != Signal::KILL,
        }
    } else if oom_killed {
        Cause::OomKilled
    } else {
        Cause::Unknown
    }
}

/// afterlife's exit code, and the signal it dies of when it does. Pure.
pub(crate) fn exit_of(action: ExitAction, leaked_fails: bool) -> (u8, Option<Signal>) {
    match action {
        ExitAction::Code(code) => (leak_code(code, leaked_fails), None),
        // 128+N: what a shell shows for the death.
        ExitAction::Die(signal) => (128u8.wrapping_add(signal.number() as u8), Some(signal)),
    }
}

/// Whether afterlife sent `signal` only to pass on one it received: the
/// signal may then have come to the command straight from its sender too
/// (a kill of afterlife's process group, which the command is in), and
/// the first of the two is what the command took. Pure.
pub fn only_passed_on(signal: Signal, timeline: &[TimelineEvent]) -> bool {
    let mut sent = timeline.iter().filter(|e| e.signal == signal).peekable();
    sent.peek().is_some() && sent.all(|e| e.reason == Reason::Forwarded)
}

/// Whether the main process died of a signal afterlife did not send it
/// (then who sent it is worth naming). Pure.
pub fn sent_elsewhere(status: ExitStatus, timeline: &[TimelineEvent]) -> bool {
    match status {
        ExitStatus::Signaled { signal, .. } => !timeline.iter().any(|e| e.signal == signal),
        ExitStatus::Exited { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_only_passed_on_may_have_come_straight_too() {
        let term = Signal::TERM;
        let event = |reason| TimelineEvent {
            at: 1.0,
            signal: term,
            to: Target::Group,
            processes: 1,
            reason,
        };
        assert!(!only_passed_on(term, &[]));
        assert!(only_passed_on(term, &[event(Reason::Forwarded)]));
        assert!(!only_passed_on(
            term,
            &[event(Reason::Forwarded), event(Reason::Deadline)]
        ));
        assert!(!only_passed_on(Signal::INT, &[event(Reason::Forwarded)]));
    }

    #[test]
    fn only_a_signal_afterlife_did_not_send_has_a_sender_to_name() {
        let term = Signal::parse("TERM").unwrap();
        let killed = ExitStatus::Signaled {
            signal: term,
            core_dumped: false,
        };
        assert!(sent_elsewhere(killed, &[]));
        let sent = TimelineEvent {
            at: 1.0,
            signal: term,
            to: Target::Group,
            processes: 1,
            reason: Reason::Deadline,
        };
        assert!(!sent_elsewhere(killed, &[sent]), "the deadline's own TERM");
        assert!(!sent_elsewhere(ExitStatus::Exited { code: 1 }, &[]));
    }

    #[test]
    fn a_passing_command_that_leaked_fails_and_a_failing_one_keeps_its_code() {
        assert_eq!(leak_code(0, true), crate::exit_code::LEAKED);
        assert_eq!(leak_code(0, false), 0);
        assert_eq!(leak_code(4, true), 4);
        assert_eq!(leak_code(124, true), 124);
    }

    #[test]
    fn timers_fall_due_on_time_or_on_sigalrm() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let deadline = Some(at(100));
        // Before the deadline: nothing, unless SIGALRM came.
        assert_eq!(timers_due(at(50), deadline, None, false, false), (false, false));
        assert_eq!(timers_due(at(50), deadline, None, false, true), (true, false));
        // No deadline at all (none given, or `inf`): only SIGALRM.
        assert_eq!(timers_due(at(50), None, None, false, false), (false, false));
        assert_eq!(timers_due(at(50), None, None, false, true), (true, false));
        assert_eq!(timers_due(at(100), deadline, None, false, false), (true, false));
        // After it: the grace period, cut short by a second SIGALRM.
        let kill_at = Some(at(300));
        assert_eq!(timers_due(at(200), deadline, kill_at, true, false), (false, false));
        assert_eq!(timers_due(at(200), deadline, kill_at, true, true), (false, true));
        assert_eq!(timers_due(at(300), deadline, kill_at, true, false), (false, true));
        // No SIGKILL due (no -k, or `-k inf`): SIGALRM changes nothing.
        assert_eq!(timers_due(at(200), deadline, None, true, true), (false, false));
        // A grace period started by a signal passed on, before the
        // deadline: SIGKILL at its end, and not the deadline's signal.
        let armed = Some(at(80));
        assert_eq!(timers_due(at(60), deadline, armed, false, false), (false, false));
        assert_eq!(timers_due(at(120), deadline, armed, false, false), (false, true));
    }

    #[test]
    fn signals_timeout_catches_start_the_grace_period_once() {
        let term = Signal::parse("TERM").unwrap();
        let usr1 = Signal::parse("USR1").unwrap();
        let grace = Some(Duration::from_secs(1));
        assert!(arms_kill(term, term, grace, false));
        assert!(arms_kill(Signal::parse("INT").unwrap(), term, grace, false));
        // The -s signal too; another passed on does not.
        assert!(arms_kill(usr1, usr1, grace, false));
        assert!(!arms_kill(usr1, term, grace, false));
        // No -k, or already started: nothing.
        assert!(!arms_kill(term, term, None, false));
        assert!(!arms_kill(term, term, grace, true));
    }
    fn received(number: i32, code: i32) -> Received {
        Received {
            number,
            code,
            sender: 0,
        }
    }

    #[test]
    fn a_stopped_command_is_continued_after_the_signals_that_end_it() {
        let term = Signal::TERM;
        assert!(continues_after(term, Reason::Deadline));
        assert!(continues_after(term, Reason::Forwarded));
        assert!(continues_after(term, Reason::Leftovers));
        assert!(!continues_after(Signal::KILL, Reason::Deadline));
        assert!(!continues_after(Signal::KILL, Reason::GraceExpired));
        assert!(!continues_after(Signal::CONT, Reason::Deadline));
        let usr1 = Signal::from_number(libc::SIGUSR1).unwrap();
        assert!(
            !continues_after(usr1, Reason::Forwarded),
            "a USR1 passed on leaves a stop alone"
        );
        assert!(
            continues_after(usr1, Reason::Deadline),
            "as coreutils does for any -s signal"
        );
    }

    #[test]
    fn a_signal_is_passed_to_the_group_or_with_foreground_to_the_main_process() {
        let user = received(libc::SIGTERM, libc::SI_USER);
        let term = Signal::from_number(libc::SIGTERM).unwrap();
        assert_eq!(
            signal_action(user, false),
            SignalAction::Forward {
                signal: term,
                to: Target::Group
            }
        );
        assert_eq!(
            signal_action(user, true),
            SignalAction::Forward {
                signal: term,
                to: Target::Main
            }
        );
        // A key typed at the terminal reached a foreground command already.
        let key = received(libc::SIGINT, libc::SI_KERNEL);
        assert_eq!(signal_action(key, true), SignalAction::Ignore);
        assert!(matches!(
            signal_action(key, false),
            SignalAction::Forward { to: Target::Group, .. }
        ));
    }

    #[test]
    fn sigalrm_means_time_is_up_and_sigchld_means_reap() {
        for foreground in [false, true] {
            assert_eq!(
                signal_action(received(libc::SIGALRM, libc::SI_USER), foreground),
                SignalAction::TimeIsUp
            );
            assert_eq!(
                signal_action(received(libc::SIGCHLD, libc::CLD_EXITED), foreground),
                SignalAction::Reap
            );
        }
    }

    #[test]
    fn the_deadline_signals_the_tree_and_sets_the_kill_timer() {
        let now = Instant::now();
        let grace = Duration::from_secs(5);
        let step = deadline_step(false, Signal::TERM, Some(grace), now);
        assert_eq!(step.to, Target::Tree);
        assert_eq!(step.signal, Signal::TERM);
        assert_eq!(step.reason, Reason::Deadline);
        assert!(!step.sent_kill);
        assert_eq!(step.kill_at, Some(now + grace));
        // --foreground: the main process alone; no -k: no SIGKILL due.
        let step = deadline_step(true, Signal::TERM, None, now);
        assert_eq!(step.to, Target::Main);
        assert_eq!(step.kill_at, None);
        // -s KILL: SIGKILL is sent at the deadline already.
        assert!(deadline_step(false, Signal::KILL, Some(grace), now).sent_kill);
        // -k inf does not overflow.
        assert_eq!(
            deadline_step(false, Signal::TERM, Some(Duration::MAX), now).kill_at,
            None
        );
    }

    #[test]
    fn the_end_of_grace_kills_and_sets_no_timer() {
        for (foreground, to) in [(false, Target::Tree), (true, Target::Main)] {
            let step = grace_over_step(foreground);
            assert_eq!(step.signal, Signal::KILL);
            assert_eq!(step.to, to);
            assert_eq!(step.reason, Reason::GraceExpired);
            assert!(step.sent_kill);
            assert_eq!(step.kill_at, None);
        }
    }

    #[test]
    fn after_the_main_process_ends_the_tree_gets_the_rest_of_its_grace() {
        let now = Instant::now();
        let grace = Duration::from_secs(5);
        // Not signalled at a deadline: nothing to wait for.
        assert_eq!(settle_time(false, Some(now + grace), false, grace, now), None);
        // SIGKILL still due in 2 s: those 2 s.
        let left = settle_time(true, Some(now + Duration::from_secs(2)), false, grace, now);
        assert_eq!(left, Some(Duration::from_secs(2)));
        // Past it already: none.
        assert_eq!(
            settle_time(true, Some(now), false, grace, now + grace),
            Some(Duration::ZERO)
        );
        // SIGKILL sent: the time to die of it.
        assert_eq!(settle_time(true, None, true, grace, now), Some(KILL_SETTLE));
        // No SIGKILL planned (no -k): the leftovers' grace.
        assert_eq!(settle_time(true, None, false, grace, now), Some(grace));
    }

    #[test]
    fn a_leftover_alive_at_the_kill_was_killed() {
        assert_eq!(fate_of_ended(None, true, Signal::TERM), Fate::Killed);
        assert_eq!(
            fate_of_ended(None, false, Signal::TERM),
            Fate::EndedAfter { signal: Signal::TERM }
        );
    }

    #[test]
    fn a_reaped_leftover_ended_as_its_status_says() {
        let exited = Some(ExitStatus::Exited { code: 3 });
        let by = |signal| {
            Some(ExitStatus::Signaled {
                signal,
                core_dumped: false,
            })
        };
        // It ignored SIGTERM and exited on its own, even past the kill.
        assert_eq!(
            fate_of_ended(exited, false, Signal::TERM),
            Fate::Exited {
                code: 3,
                after: Signal::TERM
            }
        );
        assert_eq!(
            fate_of_ended(exited, true, Signal::TERM),
            Fate::Exited {
                code: 3,
                after: Signal::TERM
            }
        );
        assert_eq!(fate_of_ended(by(Signal::KILL), true, Signal::TERM), Fate::Killed);
        assert_eq!(
            fate_of_ended(by(Signal::INT), false, Signal::TERM),
            Fate::Ended { signal: Signal::INT }
        );
    }

    #[test]
    fn only_a_sigkill_afterlife_did_not_send_raises_the_oom_question() {
        let killed = ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false,
        };
        assert!(oom_in_question(killed, false));
        assert!(!oom_in_question(killed, true));
        assert!(!oom_in_question(ExitStatus::Exited { code: 137 }, false));
    }

    #[test]
    fn the_cause_is_the_deadline_as_given_or_an_oom_kill() {
        let ten = Duration::from_secs(10);
        let cause = cause_of(
            (true, Duration::from_millis(10_003)),
            true,
            Some(ten),
            Signal::TERM,
            false,
        );
        assert_eq!(
            cause,
            Cause::TimedOut {
                after: ten,
                needed_kill: true
            }
        );
        // SIGALRM before the deadline: the time it came.
        let early = Duration::from_secs(3);
        let cause = cause_of((true, early), false, Some(ten), Signal::TERM, true);
        assert_eq!(
            cause,
            Cause::TimedOut {
                after: early,
                needed_kill: false
            }
        );
        // -s KILL: the kill was the deadline's signal, not an escalation.
        let cause = cause_of((true, ten), true, Some(ten), Signal::KILL, false);
        assert!(matches!(cause, Cause::TimedOut { needed_kill: false, .. }));
        let ended = (false, Duration::ZERO);
        assert_eq!(cause_of(ended, false, None, Signal::TERM, true), Cause::OomKilled);
        assert_eq!(cause_of(ended, false, None, Signal::TERM, false), Cause::Unknown);
    }

    #[test]
    fn dying_by_a_signal_exits_128_plus_n_if_it_must_exit() {
        let kill = Signal::KILL;
        assert_eq!(exit_of(ExitAction::Die(kill), true), (137, Some(kill)));
        assert_eq!(exit_of(ExitAction::Code(0), true), (crate::exit_code::LEAKED, None));
        assert_eq!(exit_of(ExitAction::Code(124), false), (124, None));
    }
}
