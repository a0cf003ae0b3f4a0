//! Signals: numbers, names as `kill(1)` takes them, and what each does by default.
//!
//! Numbers come from the C library's constants, so they are right on every
//! Linux architecture. Real-time signals are named the way `kill -l` names
//! them (`RTMIN`, `RTMIN+3`, `RTMAX-1`), with `SIGRTMIN` at 34 as glibc has
//! it (it keeps 32 and 33 for itself, see signal(7)): the value `kill -l`,
//! bash and systemd use, whichever C library afterlife itself is built with
//! (musl keeps 34 too and says 35).

use std::borrow::Cow;
use std::fmt;

use serde::{Serialize, Serializer};

#[cfg(windows)]
use crate::sys::linux_abi as libc;

/// A valid signal number, 1 to `SIGRTMAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// What the kernel does when a signal arrives and the process has no handler
/// and does not ignore it (signal(7), "Standard signals").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultAction {
    /// The process is terminated.
    Terminate,
    /// The process is terminated and dumps core (where core dumps are enabled).
    Core,
    /// The signal is ignored.
    Ignore,
    /// The process is stopped.
    Stop,
    /// A stopped process continues.
    Continue,
}

impl DefaultAction {
    /// Plain words for the action.
    pub fn describe(self) -> &'static str {
        match self {
            DefaultAction::Terminate => "terminate the process",
            DefaultAction::Core => "terminate the process and dump core",
            DefaultAction::Ignore => "ignore the signal",
            DefaultAction::Stop => "stop (suspend) the process",
            DefaultAction::Continue => "continue a stopped process",
        }
    }
}

struct Standard {
    number: i32,
    name: &'static str,
    action: DefaultAction,
    description: &'static str,
}

use DefaultAction::{Continue, Core, Ignore, Stop, Terminate};

const STANDARD: &[Standard] = &[
    Standard {
        number: libc::SIGHUP,
        name: "HUP",
        action: Terminate,
        description: "hangup: the terminal closed or the user logged off",
    },
    Standard {
        number: libc::SIGINT,
        name: "INT",
        action: Terminate,
        description: "interrupt from the keyboard (Ctrl+C)",
    },
    Standard {
        number: libc::SIGQUIT,
        name: "QUIT",
        action: Core,
        description: "quit from the keyboard (Ctrl+\\)",
    },
    Standard {
        number: libc::SIGILL,
        name: "ILL",
        action: Core,
        description: "illegal instruction",
    },
    Standard {
        number: libc::SIGTRAP,
        name: "TRAP",
        action: Core,
        description: "trace or breakpoint trap",
    },
    Standard {
        number: libc::SIGABRT,
        name: "ABRT",
        action: Core,
        description: "aborted: abort() was called, often after a failed assertion",
    },
    Standard {
        number: libc::SIGBUS,
        name: "BUS",
        action: Core,
        description: "bus error: bad memory access (for example a truncated mapped file)",
    },
    Standard {
        number: libc::SIGFPE,
        name: "FPE",
        action: Core,
        description: "arithmetic exception, such as integer division by zero",
    },
    Standard {
        number: libc::SIGKILL,
        name: "KILL",
        action: Terminate,
        description: "killed: cannot be caught, blocked or ignored",
    },
    Standard {
        number: libc::SIGUSR1,
        name: "USR1",
        action: Terminate,
        description: "user-defined signal 1",
    },
    Standard {
        number: libc::SIGSEGV,
        name: "SEGV",
        action: Core,
        description: "segmentation fault: invalid memory reference",
    },
    Standard {
        number: libc::SIGUSR2,
        name: "USR2",
        action: Terminate,
        description: "user-defined signal 2",
    },
    Standard {
        number: libc::SIGPIPE,
        name: "PIPE",
        action: Terminate,
        description: "broken pipe: write to a pipe or socket with no reader",
    },
    Standard {
        number: libc::SIGALRM,
        name: "ALRM",
        action: Terminate,
        description: "timer signal from alarm()",
    },
    Standard {
        number: libc::SIGTERM,
        name: "TERM",
        action: Terminate,
        description: "termination request (the polite way to ask a process to end)",
    },
    Standard {
        number: libc::SIGSTKFLT,
        name: "STKFLT",
        action: Terminate,
        description: "stack fault on coprocessor (unused)",
    },
    Standard {
        number: libc::SIGCHLD,
        name: "CHLD",
        action: Ignore,
        description: "a child stopped or terminated",
    },
    Standard {
        number: libc::SIGCONT,
        name: "CONT",
        action: Continue,
        description: "continue if stopped",
    },
    Standard {
        number: libc::SIGSTOP,
        name: "STOP",
        action: Stop,
        description: "stop: cannot be caught, blocked or ignored",
    },
    Standard {
        number: libc::SIGTSTP,
        name: "TSTP",
        action: Stop,
        description: "stop typed at the terminal (Ctrl+Z)",
    },
    Standard {
        number: libc::SIGTTIN,
        name: "TTIN",
        action: Stop,
        description: "terminal input for a background process",
    },
    Standard {
        number: libc::SIGTTOU,
        name: "TTOU",
        action: Stop,
        description: "terminal output for a background process",
    },
    Standard {
        number: libc::SIGURG,
        name: "URG",
        action: Ignore,
        description: "urgent condition on a socket",
    },
    Standard {
        number: libc::SIGXCPU,
        name: "XCPU",
        action: Core,
        description: "CPU time limit exceeded (RLIMIT_CPU)",
    },
    Standard {
        number: libc::SIGXFSZ,
        name: "XFSZ",
        action: Core,
        description: "file size limit exceeded (RLIMIT_FSIZE)",
    },
    Standard {
        number: libc::SIGVTALRM,
        name: "VTALRM",
        action: Terminate,
        description: "virtual alarm clock",
    },
    Standard {
        number: libc::SIGPROF,
        name: "PROF",
        action: Terminate,
        description: "profiling timer expired",
    },
    Standard {
        number: libc::SIGWINCH,
        name: "WINCH",
        action: Ignore,
        description: "the terminal window was resized",
    },
    Standard {
        number: libc::SIGIO,
        name: "IO",
        action: Terminate,
        description: "I/O now possible",
    },
    Standard {
        number: libc::SIGPWR,
        name: "PWR",
        action: Terminate,
        description: "power failure",
    },
    Standard {
        number: libc::SIGSYS,
        name: "SYS",
        action: Core,
        description: "bad system call (for example refused by seccomp)",
    },
];

/// Other names `kill(1)` accepts for the same numbers. Not `UNUSED`
/// (SIGSYS's old name, gone from glibc 2.26): util-linux `kill`, bash and
/// coreutils `timeout` refuse it.
const ALIASES: &[(&str, i32)] = &[("IOT", libc::SIGABRT), ("POLL", libc::SIGIO), ("CLD", libc::SIGCHLD)];

/// Why a text is not a signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalParseError {
    /// Not a name we know.
    #[error("unknown signal name '{0}' (try TERM, SIGKILL, 9 or RTMIN+3)")]
    UnknownName(String),
    /// A number outside 1..=SIGRTMAX, as typed.
    #[error("signal number {0} is out of range (1 to {max})", max = rtmax())]
    OutOfRange(String),
    /// `RTMIN+N` or `RTMAX-N` outside the real-time signals (`RTMIN-1`, `RTMIN+31`).
    #[error(
        "'{0}' is outside the real-time signals: they are RTMIN to RTMIN+{last} (RTMAX-{last} to RTMAX), signals {min} to {max}",
        last = rtmax() - rtmin(), min = rtmin(), max = rtmax()
    )]
    RealtimeOutOfRange(String),
}

/// The lowest real-time signal number as glibc, and so `kill -l`, names it.
pub fn rtmin() -> i32 {
    34
}

/// The highest real-time signal number.
pub fn rtmax() -> i32 {
    libc::SIGRTMAX()
}

impl Signal {
    /// SIGHUP.
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// SIGINT.
    pub const INT: Signal = Signal(libc::SIGINT);
    /// SIGQUIT.
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    /// SIGKILL.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// SIGTERM.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// SIGSTOP.
    pub const STOP: Signal = Signal(libc::SIGSTOP);
    /// SIGCONT.
    pub const CONT: Signal = Signal(libc::SIGCONT);
    /// Signal 0: sends nothing, only checks that the process exists
    /// (kill(2)). `timeout -s 0` takes it, as coreutils does. Not returned
    /// by [`Signal::parse`] or [`Signal::from_number`].
    pub const NULL: Signal = Signal(0);

    /// A signal from its number, if the number is one (1 to `SIGRTMAX`).
    pub fn from_number(number: i32) -> Option<Signal> {
        (1..=rtmax()).contains(&number).then_some(Signal(number))
    }

    /// Parses a signal the way `kill(1)` does: `TERM`, `SIGTERM`, `term`, `15`,
    /// `RTMIN+3`, `SIGRTMAX-1`.
    pub fn parse(text: &str) -> Result<Signal, SignalParseError> {
        let trimmed = text.trim();
        // A number of any length is a number, out of range past i32 too
        // (twenty digits are no signal name).
        let digits = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return trimmed
                .parse::<i32>()
                .ok()
                .and_then(Signal::from_number)
                .ok_or_else(|| SignalParseError::OutOfRange(trimmed.to_string()));
        }
        let upper = trimmed.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        let unknown = || SignalParseError::UnknownName(text.to_string());
        if let Some(standard) = STANDARD.iter().find(|s| s.name == bare) {
            return Ok(Signal(standard.number));
        }
        if let Some((_, number)) = ALIASES.iter().find(|(name, _)| *name == bare) {
            return Ok(Signal(*number));
        }
        let realtime = |base: i32, rest: &str| -> Result<Signal, SignalParseError> {
            let offset = if rest.is_empty() {
                0
            } else {
                // Digits alone after the sign: `str::parse` would also take
                // a second sign, and read `RTMIN--3` as RTMIN+3.
                let (sign, digits) = rest.split_at(1);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(unknown());
                }
                let magnitude: i32 = digits
                    .parse()
                    .map_err(|_| SignalParseError::RealtimeOutOfRange(text.to_string()))?;
                match sign {
                    "+" => magnitude,
                    "-" => -magnitude,
                    _ => return Err(unknown()),
                }
            };
            match base.checked_add(offset) {
                Some(number) if (rtmin()..=rtmax()).contains(&number) => Ok(Signal(number)),
                _ => Err(SignalParseError::RealtimeOutOfRange(text.to_string())),
            }
        };
        if let Some(rest) = bare.strip_prefix("RTMIN") {
            return realtime(rtmin(), rest);
        }
        if let Some(rest) = bare.strip_prefix("RTMAX") {
            return realtime(rtmax(), rest);
        }
        Err(unknown())
    }

    /// The signal number.
    pub fn number(self) -> i32 {
        self.0
    }

    /// Every signal, 1 to `SIGRTMAX`.
    pub fn all() -> impl Iterator<Item = Signal> {
        (1..=rtmax()).map(Signal)
    }

    fn standard(self) -> Option<&'static Standard> {
        STANDARD.iter().find(|s| s.number == self.0)
    }

    /// The name with its `SIG` prefix: `SIGTERM`, `SIGRTMIN+3`, or `SIG32` for
    /// the numbers the C library keeps for itself.
    pub fn name(self) -> Cow<'static, str> {
        if let Some(standard) = self.standard() {
            return Cow::Owned(format!("SIG{}", standard.name));
        }
        let (min, max) = (rtmin(), rtmax());
        if self.0 == min {
            Cow::Borrowed("SIGRTMIN")
        } else if self.0 == max {
            Cow::Borrowed("SIGRTMAX")
        } else if self.0 > min && self.0 - min <= (max - min) / 2 {
            Cow::Owned(format!("SIGRTMIN+{}", self.0 - min))
        } else if self.0 > min {
            Cow::Owned(format!("SIGRTMAX-{}", max - self.0))
        } else {
            Cow::Owned(format!("SIG{}", self.0))
        }
    }

    /// The name without its `SIG` prefix: `TERM`, `RTMIN+3`.
    pub fn short_name(self) -> Cow<'static, str> {
        match self.standard() {
            Some(standard) => Cow::Borrowed(standard.name),
            None => match self.name() {
                Cow::Borrowed(name) => Cow::Borrowed(name.trim_start_matches("SIG")),
                Cow::Owned(name) => Cow::Owned(name.trim_start_matches("SIG").to_string()),
            },
        }
    }

    /// What the signal means, in plain words.
    pub fn description(self) -> &'static str {
        match self.standard() {
            Some(standard) => standard.description,
            None if self.0 >= rtmin() => "real-time signal (application-defined)",
            None => "reserved by the C library for its threads implementation",
        }
    }

    /// What the kernel does by default. Real-time signals terminate.
    pub fn default_action(self) -> DefaultAction {
        self.standard().map_or(Terminate, |s| s.action)
    }

    /// Whether its default action ends the process (terminates it, with or
    /// without a core): a signal that stops, continues or is ignored by
    /// default ends no process.
    pub fn kills_by_default(self) -> bool {
        matches!(self.default_action(), Terminate | Core)
    }

    /// Whether the default action dumps core.
    pub fn dumps_core(self) -> bool {
        self.default_action() == Core
    }

    /// Whether a process can catch, block or ignore this signal.
    pub fn can_be_caught(self) -> bool {
        self != Signal::KILL && self != Signal::STOP
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.standard() {
            Some(standard) => write!(f, "SIG{}", standard.name),
            None => f.write_str(&self.name()),
        }
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Signal", 2)?;
        s.serialize_field("number", &self.0)?;
        s.serialize_field("name", &self.name())?;
        s.end()
    }
}

/// Signal numbers set in a mask as /proc prints it (`SigBlk` and friends):
/// bit N-1 stands for signal N.
pub fn signals_in_mask(mask: u64) -> Vec<Signal> {
    (1..=64)
        .filter(|n| mask & (1u64 << (n - 1)) != 0)
        .filter_map(Signal::from_number)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_as_kill_does() {
        for text in ["TERM", "SIGTERM", "term", "sigterm", "15", " 15 "] {
            assert_eq!(Signal::parse(text), Ok(Signal::TERM), "{text}");
        }
        assert_eq!(Signal::parse("IOT").unwrap().number(), libc::SIGABRT);
        // Gone from glibc, and refused by kill(1), bash and timeout(1).
        assert!(Signal::parse("UNUSED").is_err());
        assert!(Signal::parse("SIGUNUSED").is_err());
        assert_eq!(Signal::parse("RTMIN").unwrap().number(), rtmin());
        assert_eq!(Signal::parse("RTMIN+3").unwrap().number(), rtmin() + 3);
        assert_eq!(Signal::parse("SIGRTMAX-1").unwrap().number(), rtmax() - 1);
        assert_eq!(Signal::parse("RTMAX").unwrap().number(), rtmax());
    }

    #[test]
    fn rejects_what_is_not_a_signal() {
        assert!(matches!(
            Signal::parse("TERMINATE"),
            Err(SignalParseError::UnknownName(_))
        ));
        assert!(matches!(
            Signal::parse("RTMIN+99"),
            Err(SignalParseError::RealtimeOutOfRange(_))
        ));
        let below = Signal::parse("RTMIN-1").unwrap_err().to_string();
        assert!(
            below.starts_with("'RTMIN-1' is outside the real-time signals"),
            "{below}"
        );
        let past = Signal::parse("RTMIN+31").unwrap_err().to_string();
        assert!(
            past.starts_with("'RTMIN+31' is outside the real-time signals: they are RTMIN to RTMIN+"),
            "{past}"
        );
        assert!(Signal::parse("RTMAX-2147483648").is_err());
        assert!(matches!(
            Signal::parse("RTMIN*2"),
            Err(SignalParseError::UnknownName(_))
        ));
        // One sign, then digits: a second sign is no offset.
        for text in ["RTMIN--3", "RTMIN++3", "RTMAX-+3", "RTMAX+-0", "RTMIN+", "RTMIN+ 3"] {
            assert_eq!(
                Signal::parse(text),
                Err(SignalParseError::UnknownName(text.to_string()))
            );
        }
        assert!(matches!(
            Signal::parse("RTMIN+99999999999"),
            Err(SignalParseError::RealtimeOutOfRange(_))
        ));
        let out = |n: &str| Err(SignalParseError::OutOfRange(n.to_string()));
        assert_eq!(Signal::parse("0"), out("0"));
        assert_eq!(Signal::parse("-9"), out("-9"));
        assert_eq!(Signal::parse("65"), out("65"));
        assert_eq!(Signal::parse("99999999999"), out("99999999999"));
        // Past i64 it is still a number, not a name.
        assert_eq!(Signal::parse("9223372036854775808"), out("9223372036854775808"));
        assert_eq!(Signal::parse("-99999999999999999999"), out("-99999999999999999999"));
    }

    #[test]
    fn names_round_trip() {
        for signal in Signal::all().filter(|s| s.number() < 32 || s.number() >= rtmin()) {
            assert_eq!(Signal::parse(&signal.name()), Ok(signal), "{signal}");
        }
        assert_eq!(Signal::KILL.name(), "SIGKILL");
        assert_eq!(Signal::from_number(rtmin() + 1).unwrap().name(), "SIGRTMIN+1");
        assert_eq!(Signal::from_number(rtmax() - 2).unwrap().name(), "SIGRTMAX-2");
    }

    #[test]
    fn the_short_name_and_the_shown_one_agree_with_the_name() {
        for signal in Signal::all() {
            assert_eq!(signal.to_string(), signal.name(), "{signal}");
            assert_eq!(format!("SIG{}", signal.short_name()), signal.name(), "{signal}");
        }
        assert_eq!(Signal::TERM.short_name(), "TERM");
    }

    #[test]
    fn default_actions_follow_signal_7() {
        assert_eq!(Signal::KILL.default_action(), DefaultAction::Terminate);
        assert!(Signal::parse("SEGV").unwrap().dumps_core());
        assert!(Signal::QUIT.dumps_core());
        assert_eq!(Signal::parse("CHLD").unwrap().default_action(), DefaultAction::Ignore);
        assert_eq!(Signal::parse("TSTP").unwrap().default_action(), DefaultAction::Stop);
        assert!(!Signal::KILL.can_be_caught());
    }

    #[test]
    fn masks_decode_bit_n_minus_one() {
        // SigIgn of an interactive shell: QUIT, TERM, TSTP, TTIN, TTOU.
        let signals = signals_in_mask(0x0000_0000_0038_4004);
        let numbers: Vec<i32> = signals.iter().map(|s| s.number()).collect();
        assert_eq!(numbers, vec![3, 15, 20, 21, 22]);
    }
}
