//! How a process ended, as the kernel reports it, and how each observer sees it.
//!
//! The kernel keeps one 16-bit wait status per dead process (wait(2)): the
//! low 7 bits are the terminating signal (0 if it exited), bit 7 the
//! core-dump flag, bits 8-15 the exit code. A shell folds that into `$?`:
//! the code itself, or 128 + the signal number (bash(1), "EXIT STATUS").

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::signal::Signal;
#[cfg(windows)]
use crate::sys::linux_abi as libc;

/// How a process ended: it exited with a code, or a signal killed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitStatus {
    /// The process called `exit` (or returned from `main`) with this code.
    /// Only the low 8 bits survive: `exit(256)` is seen as 0.
    Exited {
        /// The exit code, 0 to 255.
        code: u8,
    },
    /// A signal ended the process.
    Signaled {
        /// The signal.
        signal: Signal,
        /// Whether the kernel wrote a core dump.
        core_dumped: bool,
    },
}

impl ExitStatus {
    /// Decodes a raw wait status. Stopped and continued statuses are not
    /// endings, so they give `None`, as does a signal number out of range.
    pub fn from_wait_status(raw: i32) -> Option<ExitStatus> {
        if libc::WIFEXITED(raw) {
            Some(ExitStatus::Exited {
                code: libc::WEXITSTATUS(raw) as u8,
            })
        } else if libc::WIFSIGNALED(raw) {
            Signal::from_number(libc::WTERMSIG(raw)).map(|signal| ExitStatus::Signaled {
                signal,
                core_dumped: libc::WCOREDUMP(raw),
            })
        } else {
            None
        }
    }

    /// The raw wait status, as `waitpid` stores it.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Exited { code } => i32::from(code) << 8,
            ExitStatus::Signaled { signal, core_dumped } => signal.number() | if core_dumped { 0x80 } else { 0 },
        }
    }

    /// What a POSIX shell shows in `$?`: the code, or 128 + the signal.
    pub fn shell_code(self) -> u8 {
        match self {
            ExitStatus::Exited { code } => code,
            // Signal numbers go up to 64, so 128 + N fits in a byte.
            ExitStatus::Signaled { signal, .. } => (128 + signal.number()) as u8,
        }
    }

    /// Whether this is a clean exit with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited { code: 0 }
    }

    /// The status in plain words.
    pub fn meaning(self) -> String {
        match self {
            ExitStatus::Exited { code: 0 } => "exited normally with code 0 (success)".to_string(),
            ExitStatus::Exited { code } => format!("exited with code {code}"),
            ExitStatus::Signaled { signal, core_dumped } => format!(
                "killed by {signal}: {}{}",
                signal.description(),
                if core_dumped { ", core dumped" } else { "" }
            ),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited { code } => write!(f, "exited with code {code}"),
            ExitStatus::Signaled { signal, core_dumped } => write!(
                f,
                "killed by {signal}{}",
                if *core_dumped { " (core dumped)" } else { "" }
            ),
        }
    }
}

/// Why a process ended, beyond its wait status: what the observer knows of
/// who caused it. The wait status alone cannot tell a timeout's SIGKILL from
/// the OOM killer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cause {
    /// Nothing more is known than the status itself.
    Unknown,
    /// A supervisor's deadline passed and it signalled the process.
    TimedOut {
        /// The deadline that passed.
        #[serde(rename = "after_seconds", serialize_with = "serialize_seconds")]
        after: Duration,
        /// Whether SIGKILL was needed after the first signal.
        needed_kill: bool,
    },
    /// The kernel's OOM killer chose the process.
    OomKilled,
}

fn serialize_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The whole ending: the status plus its cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ending {
    /// The wait status.
    pub status: ExitStatus,
    /// What is known of why.
    pub cause: Cause,
}

/// How every observer sees one exit status, ready to serialize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusViews {
    /// The decoded status.
    pub status: ExitStatus,
    /// The raw wait status (`waitpid`'s `*wstatus`).
    pub wait_status: i32,
    /// A shell's `$?`.
    pub shell_code: u8,
    /// Plain words.
    pub meaning: String,
}

/// A known ending in the shape every report shares: `{"observed": "known",
/// "status", "wait_status", "shell_code", "meaning", "source"}`, with `S`
/// saying where the status came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "observed", rename = "known")]
pub struct KnownEnding<S> {
    /// The status and its views.
    #[serde(flatten)]
    pub views: StatusViews,
    /// Where it came from.
    pub source: S,
}

impl From<ExitStatus> for StatusViews {
    fn from(status: ExitStatus) -> Self {
        StatusViews {
            status,
            wait_status: status.wait_status(),
            shell_code: status.shell_code(),
            meaning: status.meaning(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_round_trips() {
        let cases = [
            (0x0000, ExitStatus::Exited { code: 0 }),
            (0x2a00, ExitStatus::Exited { code: 42 }),
            (0xff00, ExitStatus::Exited { code: 255 }),
            (
                0x0009,
                ExitStatus::Signaled {
                    signal: Signal::KILL,
                    core_dumped: false,
                },
            ),
            (
                0x008b,
                ExitStatus::Signaled {
                    signal: Signal::from_number(11).unwrap(),
                    core_dumped: true,
                },
            ),
        ];
        for (raw, status) in cases {
            assert_eq!(ExitStatus::from_wait_status(raw), Some(status), "{raw:#x}");
            assert_eq!(status.wait_status(), raw);
        }
    }

    #[test]
    fn stopped_is_not_an_ending() {
        // WIFSTOPPED: low byte 0x7f, signal in the next byte.
        assert_eq!(ExitStatus::from_wait_status(0x137f), None);
        // WIFCONTINUED.
        assert_eq!(ExitStatus::from_wait_status(0xffff), None);
    }

    #[test]
    fn shell_codes() {
        assert_eq!(ExitStatus::Exited { code: 3 }.shell_code(), 3);
        let term = ExitStatus::Signaled {
            signal: Signal::TERM,
            core_dumped: false,
        };
        assert_eq!(term.shell_code(), 143);
        assert_eq!(
            term.meaning(),
            "killed by SIGTERM: termination request (the polite way to ask a process to end)"
        );
        assert!(ExitStatus::Exited { code: 0 }.success());
    }
}
