//! The scheduler state of a process, as the third field of `/proc/PID/stat`
//! shows it (proc_pid_stat(5)), and what each state means for ending it.

use std::fmt;

use serde::{Serialize, Serializer};

/// A process state letter and its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessState {
    /// `R`: running or runnable.
    Running,
    /// `S`: interruptible sleep, waiting for an event.
    Sleeping,
    /// `D`: uninterruptible sleep, usually I/O; signals wait until it ends.
    DiskSleep,
    /// `T`: stopped by a signal (SIGSTOP, SIGTSTP, ...).
    Stopped,
    /// `t`: stopped by a tracer (a debugger).
    TracingStop,
    /// `Z`: exited, waiting for its parent to reap it.
    Zombie,
    /// `X`: being removed.
    Dead,
    /// `I`: an idle kernel thread.
    Idle,
    /// `P`: parked kernel thread.
    Parked,
    /// `W`: waking (old kernels) or paging.
    Waking,
    /// `K`: wakekill (old kernels).
    WakeKill,
    /// A letter this table does not know.
    Other(char),
}

impl ProcessState {
    /// The state from its letter.
    pub fn from_letter(letter: char) -> ProcessState {
        match letter {
            'R' => ProcessState::Running,
            'S' => ProcessState::Sleeping,
            'D' => ProcessState::DiskSleep,
            'T' => ProcessState::Stopped,
            't' => ProcessState::TracingStop,
            'Z' => ProcessState::Zombie,
            'X' | 'x' => ProcessState::Dead,
            'I' => ProcessState::Idle,
            'P' => ProcessState::Parked,
            'W' => ProcessState::Waking,
            'K' => ProcessState::WakeKill,
            other => ProcessState::Other(other),
        }
    }

    /// The letter `ps` shows.
    pub fn letter(self) -> char {
        match self {
            ProcessState::Running => 'R',
            ProcessState::Sleeping => 'S',
            ProcessState::DiskSleep => 'D',
            ProcessState::Stopped => 'T',
            ProcessState::TracingStop => 't',
            ProcessState::Zombie => 'Z',
            ProcessState::Dead => 'X',
            ProcessState::Idle => 'I',
            ProcessState::Parked => 'P',
            ProcessState::Waking => 'W',
            ProcessState::WakeKill => 'K',
            ProcessState::Other(c) => c,
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            ProcessState::Running => "running",
            ProcessState::Sleeping => "sleeping",
            ProcessState::DiskSleep => "uninterruptible sleep",
            ProcessState::Stopped => "stopped",
            ProcessState::TracingStop => "tracing stop",
            ProcessState::Zombie => "zombie",
            ProcessState::Dead => "dead",
            ProcessState::Idle => "idle",
            ProcessState::Parked => "parked",
            ProcessState::Waking => "waking",
            ProcessState::WakeKill => "wakekill",
            ProcessState::Other(_) => "unknown",
        }
    }

    /// What the state means, in plain words.
    pub fn meaning(self) -> &'static str {
        match self {
            ProcessState::Running => "running on a CPU or ready to run",
            ProcessState::Sleeping => "waiting for an event; signals are delivered at once",
            ProcessState::DiskSleep => {
                "waiting in the kernel (usually for I/O) without being interruptible; signals, even SIGKILL, take effect only when the wait ends, unless the wait is killable (afterlife why tells)"
            }
            ProcessState::Stopped => "stopped by a signal; SIGKILL still ends it, other signals wait for SIGCONT",
            ProcessState::TracingStop => "stopped by a tracer (debugger); it runs again when the tracer lets it",
            ProcessState::Zombie => "already dead; it stays in the process table until its parent reaps it",
            ProcessState::Dead => "being removed from the process table",
            ProcessState::Idle => "an idle kernel thread",
            ProcessState::Parked => "a parked kernel thread",
            ProcessState::Waking => "waking up",
            ProcessState::WakeKill => "in a killable wait",
            ProcessState::Other(_) => "a state this version of afterlife does not know",
        }
    }

    /// Whether the process is still alive in the sense of `GetExitCodeProcess`'s
    /// STILL_ACTIVE: anything but zombie or dead.
    pub fn is_alive(self) -> bool {
        !matches!(self, ProcessState::Zombie | ProcessState::Dead)
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.letter())
    }
}

impl Serialize for ProcessState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ProcessState", 3)?;
        s.serialize_field("code", &self.letter().to_string())?;
        s.serialize_field("name", self.name())?;
        s.serialize_field("meaning", self.meaning())?;
        s.end()
    }
}

/// Whether a thread in D asleep in kernel function `wchan` sleeps
/// killably (`TASK_KILLABLE`, which /proc shows as D too), as far as the
/// function tells (the BPF task iterator reads the state itself): the
/// kernel's own `*_killable` waits; `kernel_clone`, where a vfork parent
/// waits for its child (`wait_for_vfork_done`); and `fuse_get_req`, which
/// waits for a FUSE connection to be initialised or to take more requests
/// with `wait_event_killable_exclusive`. Not `request_wait_answer`: once
/// the server has read the request, a fatal signal leaves it waiting for
/// the answer uninterruptibly. A killable sleeper ends on any fatal
/// signal at once. Pure.
pub fn killable_wait(wchan: &str) -> bool {
    wchan.contains("killable") || matches!(wchan, "fuse_get_req" | "kernel_clone")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_round_trip() {
        for letter in "RSDTtZXIPWK?".chars() {
            assert_eq!(ProcessState::from_letter(letter).letter(), letter);
        }
        assert!(!ProcessState::Zombie.is_alive());
        assert!(ProcessState::DiskSleep.is_alive());
    }
}
