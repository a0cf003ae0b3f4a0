//! Who sent the signal that ended a given process, for the commands that
//! watch processes they did not signal themselves (`wait`, `run`): the
//! small `signal_generate` program of [`crate::bpf::signals`], attached
//! while they wait, its map read by key when one of their processes dies
//! of a signal. Where BPF cannot run (no root, no BTF, another PID
//! namespace), no sender is named, and the reason is kept.
//!
//! The program is cheap to load (a map, a program and a link: about
//! 0.5 ms, several more the first time in a boot, when the kernel's BTF is
//! read). `run` loads it in its own thread before the command is forked
//! ([`Senders::load`]): on a thread of its own the load overlapped the
//! run's setup only once the scheduler woke the other core, which took
//! 0.6 ms (up to 3 ms) on a virtual machine of two cores, and the fork
//! into the leaf had to wait for that thread to be gone. `wait` loads it
//! on a thread ([`Senders::start`]) and waits for it only when a process
//! dies of a signal, which then gets no sender if it came before the
//! program was attached.

use crate::bpf::signals::{SignalLog, Targets};
use crate::deaths::event::RawSignal;
use crate::deaths::{RawDeath, Sender, sender_of};

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock of the program's times.
pub fn monotonic_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (now.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(now.tv_nsec as u64)
}

/// The sender of a signal, as `deaths` names it, from what the program
/// kept; `died_ns` (monotonic) gives the time from signal to death. Pure.
pub fn sender_from(pid: i32, signo: i32, logged: crate::bpf::signals::LoggedSignal, died_ns: Option<u64>) -> Sender {
    let death = RawDeath {
        pid,
        exit_ns: died_ns,
        ..RawDeath::default()
    };
    let signal = RawSignal {
        signo,
        code: logged.code,
        sender_pid: logged.sender_pid,
        sender_uid: logged.sender_uid,
        sender_name: logged.sender_name,
        time_ns: logged.time_ns,
        parent_death: logged.parent_death,
    };
    let user = crate::process::user_name(signal.sender_uid);
    sender_of(&death, &signal, user)
}

/// Whether another process than the one that started at `start_ticks`,
/// which has ended, has `pid` now and had started by `signal_ns`
/// (`CLOCK_MONOTONIC`): the signal then logged went to it. Another start
/// time tells it, and so does a live process (a new one may start in the
/// same clock tick as the one that ended).
fn signalled_a_later_holder(pid: i32, start_ticks: u64, signal_ns: u64) -> bool {
    let Ok(stat) = crate::proc::stat::read_raw(pid) else {
        return false;
    };
    let now = |clock| {
        let t = rustix::time::clock_gettime(clock);
        i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
    };
    let boot_minus_monotonic = now(rustix::time::ClockId::Boottime) - now(rustix::time::ClockId::Monotonic);
    let another = stat.starttime != start_ticks || !matches!(stat.state, 'Z' | 'X');
    another
        && started_by(
            stat.starttime,
            crate::proc::ticks_per_second(),
            i128::from(signal_ns) + boot_minus_monotonic,
        )
}

/// Whether a process whose start time reads `start_ticks` (clock ticks of
/// `hz` per second after boot, cut to the tick) may have started by
/// `at_ns` (nanoseconds after boot): it started in that tick or after it.
/// Pure.
fn started_by(start_ticks: u64, hz: u64, at_ns: i128) -> bool {
    i128::from(start_ticks) * 1_000_000_000 / i128::from(hz.max(1)) <= at_ns
}

/// The program, loading (on a thread), then ready or unavailable.
pub struct Senders {
    state: State,
}

enum State {
    /// The loader's thread.
    Loading(std::thread::JoinHandle<Result<SignalLog, String>>),
    Ready(SignalLog),
    Unavailable(String),
}

impl Senders {
    /// Starts loading the program; with `oom` the OOM killer's choices
    /// are watched too, so that its SIGKILL is named as its own (`run`
    /// knows that from the cgroup already).
    pub fn start(oom: bool) -> Senders {
        let state = match std::thread::Builder::new()
            .name("senders".into())
            .spawn(move || SignalLog::open(oom, Targets::Everyone))
        {
            Ok(handle) => State::Loading(handle),
            Err(e) => State::Unavailable(format!("cannot start a thread to load BPF: {e}")),
        };
        Senders { state }
    }

    /// Loads the program in the calling thread (signals only), keeping
    /// only the signals to this process's children and grandchildren.
    pub fn load() -> Senders {
        let me = crate::process::Pid::current().get().unsigned_abs();
        let state = match SignalLog::open(false, Targets::FamilyOf(me)) {
            Ok(log) => State::Ready(log),
            Err(reason) => State::Unavailable(reason),
        };
        Senders { state }
    }

    /// Who sent the signal `signo` that `pid` died of, if the program saw
    /// it; `died_ns` is when the death was seen (`CLOCK_MONOTONIC`). The
    /// process that died started at `start_ticks` (clock ticks after
    /// boot, where known): a signal logged for its PID once another
    /// process had it is that process's, and names no sender here.
    pub fn sender(&mut self, pid: i32, start_ticks: Option<u64>, signo: i32, died_ns: Option<u64>) -> Option<Sender> {
        self.settle(true);
        match &self.state {
            State::Ready(log) => {
                let logged = log.get(pid, signo)?;
                if start_ticks.is_some_and(|start| signalled_a_later_holder(pid, start, logged.time_ns)) {
                    return None;
                }
                let oom = signo == libc::SIGKILL && log.oom_victim(pid);
                Some(sender_from(pid, signo, logged, died_ns).oom_killed(oom))
            }
            State::Loading(_) | State::Unavailable(_) => None,
        }
    }

    /// Why no sender can be named, once that is known.
    pub fn unavailable(&mut self) -> Option<String> {
        self.settle(false);
        match &self.state {
            State::Unavailable(reason) => Some(reason.clone()),
            State::Loading(_) | State::Ready(_) => None,
        }
    }

    /// Takes the loader's result once it has finished, or (`wait`) waits
    /// for it to finish.
    fn settle(&mut self, wait: bool) {
        let State::Loading(handle) = &self.state else {
            return;
        };
        if !wait && !handle.is_finished() {
            return;
        }
        let State::Loading(handle) = std::mem::replace(&mut self.state, State::Unavailable(String::new())) else {
            return;
        };
        self.state = match handle.join() {
            Ok(Ok(log)) => State::Ready(log),
            Ok(Err(reason)) => State::Unavailable(reason),
            Err(_) => State::Unavailable("the BPF loader panicked".to_string()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::signals::LoggedSignal;

    #[test]
    fn a_logged_signal_is_named_as_deaths_names_it() {
        let logged = LoggedSignal {
            time_ns: 1_000_000_000,
            code: 0,
            sender_pid: 77,
            sender_uid: 0,
            sender_name: "sh".into(),
            parent_death: false,
        };
        let sender = sender_from(42, 15, logged.clone(), Some(1_500_000_000));
        assert_eq!(sender.pid, 77);
        assert_eq!(sender.name, "sh");
        assert_eq!(sender.code_name, Some("SI_USER"));
        assert!(!sender.itself);
        assert_eq!(sender.before_death, Some(0.5));
        let own = sender_from(77, 15, logged.clone(), None);
        assert!(own.itself);
        assert_eq!(own.before_death, None);
        // The kernel (SI_KERNEL: the OOM killer, cgroup.kill) raising it in
        // the victim's own context did not make the victim its sender.
        let orphaned = LoggedSignal {
            parent_death: true,
            ..logged.clone()
        };
        let parent = sender_from(42, 15, orphaned, None);
        assert_eq!(parent.kind, crate::deaths::SenderKind::ParentDeath);
        assert_eq!(parent.pid, 77);
        let kernel = LoggedSignal { code: 0x80, ..logged };
        let oom = sender_from(77, 9, kernel, None).oom_killed(true);
        assert!(!oom.itself);
        assert_eq!(oom.kind, crate::deaths::SenderKind::OomKiller);
    }

    #[test]
    fn a_process_started_in_a_tick_may_have_started_by_any_time_in_it() {
        // Start time 150 ticks of 100 Hz: 1.5 s after boot, to the tick.
        assert!(!started_by(150, 100, 1_499_999_999));
        assert!(started_by(150, 100, 1_500_000_000));
        assert!(started_by(150, 100, 1_505_000_000));
        assert!(started_by(150, 100, 9_000_000_000));
    }
}
