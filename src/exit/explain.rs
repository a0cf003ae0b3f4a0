//! What a number means: every reading of an exit code, signal or Windows
//! status that fits, most likely first.
//!
//! A number alone is ambiguous — 137 is `128 + SIGKILL` to a shell, and also
//! a literal `exit(137)` — so [`explain`] returns all readings and never picks
//! one silently. The rules:
//!
//! - a process's exit code is one byte: `exit(256)` is seen as 0 and
//!   `exit(-1)` as 255 (exit(3), "status & 0377");
//! - a shell reports death by signal N as 128 + N (bash(1));
//! - Python's `subprocess` reports death by signal N as `-N`;
//! - `system(3)`, Perl's `$?` and `os.system` give the raw wait status
//!   (code × 256, or the signal in the low 7 bits);
//! - 124-127 are `timeout(1)`'s and the shell's own codes; 64-78 are
//!   `sysexits.h`;
//! - Windows exit codes are 32 bits, shown in hex (`0xC0000005`), unsigned
//!   (`3221225477`) or signed (`-1073741819`): the same value.

use serde::Serialize;

use crate::exit::{ExitStatus, sysexits, windows};
use crate::signal::{DefaultAction, Signal, SignalParseError};
#[cfg(windows)]
use crate::sys::linux_abi as libc;

/// What the input was taken as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Input {
    /// A number (decimal or `0x` hex).
    Number {
        /// Its value.
        value: i128,
    },
    /// A signal name.
    SignalName {
        /// The signal.
        signal: Signal,
    },
}

/// One way to read the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingKind {
    /// A process exit code (0-255) as the parent sees it.
    ExitCode,
    /// 128 + N in a shell: killed by signal N.
    ShellSignal,
    /// A `timeout(1)` or shell convention (124-127).
    Convention,
    /// A `sysexits.h` code (64-78).
    Sysexits,
    /// A value passed to `exit()` that does not fit a byte.
    Wrapped,
    /// A negative return code from Python's `subprocess`: killed by signal N.
    NegativeSignal,
    /// A raw wait status, as `system(3)`, Perl's `$?` and `os.system` return it.
    WaitStatus,
    /// A signal number or name.
    Signal,
    /// A Windows exit code or NTSTATUS value.
    Windows,
}

/// Facts about a signal, for readings that involve one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalFacts {
    /// The signal.
    pub signal: Signal,
    /// What it means.
    pub description: &'static str,
    /// The kernel's default action.
    pub default_action: DefaultAction,
    /// Whether the default action writes a core dump.
    pub dumps_core: bool,
    /// Whether a process can catch, block or ignore it.
    pub can_be_caught: bool,
}

impl From<Signal> for SignalFacts {
    fn from(signal: Signal) -> Self {
        SignalFacts {
            signal,
            description: signal.description(),
            default_action: signal.default_action(),
            dumps_core: signal.dumps_core(),
            can_be_caught: signal.can_be_caught(),
        }
    }
}

/// The three forms of one 32-bit Windows value, and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowsFacts {
    /// `0xC0000005`.
    pub hex: String,
    /// `3221225477`.
    pub unsigned: u32,
    /// `-1073741819`.
    pub signed: i32,
    /// The name, if it is a known value.
    pub name: Option<&'static str>,
    /// The NTSTATUS fields.
    pub layout: windows::NtStatusLayout,
}

/// One reading of the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reading {
    /// What kind of reading this is.
    pub kind: ReadingKind,
    /// A short title: `128+9: SIGKILL`.
    pub title: String,
    /// What it means, in a sentence or two.
    pub detail: String,
    /// The signal involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<SignalFacts>,
    /// The exit status a parent would see, if this reading implies one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ExitStatus>,
    /// Windows facts, for Windows readings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsFacts>,
}

/// Every reading of one input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The text as given.
    pub input: String,
    /// What it was parsed as.
    pub parsed: Input,
    /// The readings, most likely first.
    pub readings: Vec<Reading>,
}

/// Why a text cannot be explained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// Neither a number nor a signal's name.
    #[error("cannot explain '{0}': expected a number (137, -9, 0xC0000005) or a signal name (SIGSEGV, KILL)")]
    Unrecognised(String),
    /// A real-time signal's name past the last one.
    #[error("cannot explain '{0}': {1}")]
    Signal(String, SignalParseError),
    /// A number past what any status can be (a 128-bit integer).
    #[error("cannot explain '{0}': out of range: no exit code, signal, wait status or Windows status is that large")]
    OutOfRange(String),
}

/// Explains a number or signal name.
pub fn explain(text: &str) -> Result<Explanation, ExplainError> {
    let parsed = parse_input(text)?;
    let readings = match &parsed {
        Input::Number { value } => number_readings(*value),
        Input::SignalName { signal } => vec![signal_reading(*signal)],
    };
    Ok(Explanation {
        input: text.to_string(),
        parsed,
        readings,
    })
}

fn parse_input(text: &str) -> Result<Input, ExplainError> {
    let error = || ExplainError::Unrecognised(text.to_string());
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    // Digits alone make a number, of any length: one too large for 128
    // bits is out of range, not something else.
    let number = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let hex = hex.replace('_', "");
        (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| u128::from_str_radix(&hex, 16).ok())
    } else if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        Some(body.parse::<u128>().ok())
    } else {
        None
    };
    let value = number.map(|m| {
        m.and_then(|m| match negative {
            true => 0i128.checked_sub_unsigned(m),
            false => i128::try_from(m).ok(),
        })
    });
    match value {
        Some(Some(value)) => Ok(Input::Number { value }),
        Some(None) => Err(ExplainError::OutOfRange(text.to_string())),
        None if !negative && body.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) => Signal::parse(body)
            .map(|signal| Input::SignalName { signal })
            .map_err(|e| match e {
                SignalParseError::RealtimeOutOfRange(_) => ExplainError::Signal(text.to_string(), e),
                _ => error(),
            }),
        None => Err(error()),
    }
}

fn signal_reading(signal: Signal) -> Reading {
    let facts = SignalFacts::from(signal);
    let kills = signal.kills_by_default();
    Reading {
        kind: ReadingKind::Signal,
        title: format!("{signal} (signal {})", signal.number()),
        detail: format!(
            "{}. Default action: {}{}. {}",
            capitalize(signal.description()),
            signal.default_action().describe(),
            if signal.can_be_caught() {
                ""
            } else {
                "; it cannot be caught, blocked or ignored"
            },
            how_it_shows(signal),
        ),
        signal: Some(facts),
        status: kills.then_some(ExitStatus::Signaled {
            signal,
            core_dumped: false,
        }),
        windows: None,
    }
}

/// How a process's end (or stop) by `signal` shows, by its default action:
/// a signal ignored or continuing by default ends no process. Pure.
fn how_it_shows(signal: Signal) -> String {
    let n = signal.number();
    match signal.default_action() {
        DefaultAction::Terminate => format!(
            "A process it kills shows as {} in a shell's $?, as -{n} in Python's returncode, and as wait status {n:#x}.",
            128 + n
        ),
        DefaultAction::Core => format!(
            "A process it kills shows as {} in a shell's $?, as -{n} in Python's returncode, and as wait status {n:#x} \
({:#x} when a core was dumped).",
            128 + n,
            n | 0x80
        ),
        DefaultAction::Stop => format!(
            "It stops a process, never ends one: a shell shows a job it stopped as {} in $?.",
            128 + n
        ),
        DefaultAction::Ignore | DefaultAction::Continue => {
            "It ends no process: a handler may act on it, but no process dies of it.".to_string()
        }
    }
}

fn number_readings(value: i128) -> Vec<Reading> {
    let mut readings = Vec::new();
    if (0..=255).contains(&value) {
        byte_readings(value as u8, &mut readings);
    } else if value > 255 {
        let seen = (value & 0xff) as u8;
        readings.push(Reading {
            kind: ReadingKind::Wrapped,
            title: format!("exit({value}) is seen as {seen}"),
            detail: format!(
                "Exit codes are one byte: a process that calls exit({value}) is seen by its parent and a shell as {seen}{}.",
                if seen == 0 { " — success, which hides the failure" } else { "" }
            ),
            signal: None,
            status: Some(ExitStatus::Exited { code: seen }),
            windows: None,
        });
        readings.extend(wait_status_reading(value));
    } else {
        if value >= -64
            && let Some(signal) = Signal::from_number((-value) as i32).filter(|s| s.kills_by_default())
        {
            readings.push(Reading {
                kind: ReadingKind::NegativeSignal,
                title: format!("-{}: killed by {signal}", -value),
                detail: format!(
                    "Python's subprocess (and asyncio) report a child killed by signal N as returncode -N: {}. A shell shows it as {}.",
                    signal.description(),
                    128 + signal.number()
                ),
                signal: Some(signal.into()),
                status: Some(ExitStatus::Signaled {
                    signal,
                    core_dumped: false,
                }),
                windows: None,
            });
        }
        let seen = (value & 0xff) as u8;
        readings.push(Reading {
            kind: ReadingKind::Wrapped,
            title: format!("exit({value}) is seen as {seen}"),
            detail: format!(
                "Exit codes are one unsigned byte: a process that calls exit({value}) is seen by its parent and a shell as {seen}."
            ),
            signal: None,
            status: Some(ExitStatus::Exited { code: seen }),
            windows: None,
        });
    }
    // 0 means success everywhere; a Windows reading would add nothing.
    if value != 0
        && let Some(reading) = windows_reading(value)
    {
        // A recognised Windows status is the most likely reading of a
        // large number; put it first.
        if !(-64..=255).contains(&value) {
            readings.insert(0, reading);
        } else {
            readings.push(reading);
        }
    }
    readings
}

/// `value` read as a raw wait status, when the kernel can produce it: a
/// code in the second byte and nothing in the first (`0x0100`), or a signal
/// in the low 7 bits with the core flag (`0x8b`, SIGSEGV with a core) — for
/// a signal whose default action dumps core. `0x0103` (a code and a signal
/// at once) or `0x89` (SIGKILL with a core) are no wait status. A signal
/// without the core flag is read as a signal number already. Pure.
fn wait_status_reading(value: i128) -> Option<Reading> {
    let raw = i32::try_from(value).ok().filter(|v| (0x81..=0xffff).contains(v))?;
    let status = ExitStatus::from_wait_status(raw).filter(|status| {
        status.wait_status() == raw
            && match status {
                ExitStatus::Exited { .. } => true,
                ExitStatus::Signaled { signal, core_dumped } => {
                    *core_dumped && signal.default_action() == DefaultAction::Core
                }
            }
    })?;
    Some(Reading {
        kind: ReadingKind::WaitStatus,
        title: format!("raw wait status {value:#06x}: {status}"),
        detail: format!(
            "As a raw wait status (C system(), Perl's $?, Python's os.system) it means the process {}{}; a shell would show {}.",
            if matches!(status, ExitStatus::Signaled { .. }) {
                "was "
            } else {
                ""
            },
            status.meaning(),
            status.shell_code()
        ),
        signal: match status {
            ExitStatus::Signaled { signal, .. } => Some(signal.into()),
            ExitStatus::Exited { .. } => None,
        },
        status: Some(status),
        windows: None,
    })
}

fn byte_readings(code: u8, readings: &mut Vec<Reading>) {
    let exit = |detail: String| Reading {
        kind: ReadingKind::ExitCode,
        title: format!("exit code {code}"),
        detail,
        signal: None,
        status: Some(ExitStatus::Exited { code }),
        windows: None,
    };
    let convention = |title: &str, detail: &str| Reading {
        kind: ReadingKind::Convention,
        title: title.to_string(),
        detail: detail.to_string(),
        signal: None,
        status: Some(ExitStatus::Exited { code }),
        windows: None,
    };
    match code {
        0 => readings.push(exit("Success: the process exited normally and reported no error.".into())),
        1 => readings.push(exit("General failure: the program reported an error (grep: nothing matched; diff: files differ).".into())),
        2 => readings.push(exit(
            "Misuse or trouble: shells use 2 for a builtin used wrongly or a syntax error; grep and many tools for an error (bad usage, unreadable file).".into(),
        )),
        124 => {
            readings.push(convention(
                "timeout(1): the command timed out",
                "coreutils timeout (and afterlife run/timeout) exit 124 when the deadline passed and the command was signalled.",
            ));
            readings.push(exit("Possibly a literal exit(124) by the program itself.".into()));
        }
        125 => {
            readings.push(convention(
                "timeout(1)/env/nice: the tool itself failed",
                "coreutils timeout, env, nice, chroot (and afterlife) exit 125 when they fail themselves, before or around running the command.",
            ));
            readings.push(exit("Possibly a literal exit(125); git bisect run takes 125 as \"skip this commit\".".into()));
        }
        126 => {
            readings.push(convention(
                "found but not executable",
                "The shell (and timeout, env, afterlife) found the command but could not execute it: no execute permission, a directory, or a bad interpreter line.",
            ));
            readings.push(exit("Possibly a literal exit(126).".into()));
        }
        127 => {
            readings.push(convention(
                "command not found",
                "The shell (and timeout, env, afterlife) could not find the command in PATH, or its interpreter is missing.",
            ));
            readings.push(exit("Possibly a literal exit(127).".into()));
        }
        128 => readings.push(exit(
            "128 + 0: no signal has number 0, so this is a literal exit(128); some programs use it for \"invalid argument to exit\".".into(),
        )),
        129..=192 if Signal::from_number(i32::from(code) - 128).is_some_and(|s| !s.kills_by_default()) => {
            let signal = Signal::from_number(i32::from(code) - 128).expect("checked above");
            if signal.default_action() == DefaultAction::Stop {
                readings.push(Reading {
                    kind: ReadingKind::ShellSignal,
                    title: format!("128+{}: stopped by {signal}", signal.number()),
                    detail: format!(
                        "A shell shows a job stopped by signal N as 128+N ({}): the process is stopped, not dead; \
`fg` or SIGCONT resumes it. {signal} ends no process.",
                        signal.description()
                    ),
                    signal: Some(signal.into()),
                    status: None,
                    windows: None,
                });
            }
            readings.push(exit(format!(
                "Possibly a literal exit({code}), or a wrapper that passes a signal number on this way; no process dies \
of {signal}, whose default is to {}.",
                signal.default_action().describe()
            )));
        }
        129..=192 if Signal::from_number(i32::from(code) - 128).is_some() => {
            let signal = Signal::from_number(i32::from(code) - 128).expect("checked above");
            readings.push(Reading {
                kind: ReadingKind::ShellSignal,
                title: format!("128+{}: killed by {signal}", signal.number()),
                detail: format!(
                    "A shell shows death by signal N as 128+N: {}.{}",
                    signal.description(),
                    signal_note(signal).map(|n| format!(" {n}")).unwrap_or_default()
                ),
                signal: Some(signal.into()),
                status: Some(ExitStatus::Signaled {
                    signal,
                    core_dumped: false,
                }),
                windows: None,
            });
            readings.push(exit(format!(
                "Possibly a literal exit({code}): a program (or a wrapper such as timeout or docker) that passes a child's signal death on as an exit code."
            )));
        }
        255 => {
            readings.push(exit(
                "255 is what exit(-1) becomes; ssh also exits 255 when the connection itself failed.".into(),
            ));
        }
        _ => {
            if let Some(sysexit) = sysexits::lookup(code) {
                readings.push(Reading {
                    kind: ReadingKind::Sysexits,
                    title: format!("{} ({code})", sysexit.name),
                    detail: format!("sysexits.h: {}.", sysexit.meaning),
                    signal: None,
                    status: Some(ExitStatus::Exited { code }),
                    windows: None,
                });
            }
            readings.push(exit(format!("The program called exit({code}); its meaning is the program's own.")));
        }
    }
    if code > 128 {
        readings.extend(wait_status_reading(i128::from(code)));
    }
    if (1..=64).contains(&code)
        && let Some(signal) = Signal::from_number(i32::from(code))
    {
        readings.push(Reading {
            kind: ReadingKind::Signal,
            title: format!("signal {code}: {signal}"),
            detail: format!(
                "If {code} is a signal number rather than an exit code: {}. Default action: {}.",
                signal.description(),
                signal.default_action().describe()
            ),
            signal: Some(signal.into()),
            status: None,
            windows: None,
        });
    }
}

/// What users commonly meet behind a signal death.
fn signal_note(signal: Signal) -> Option<&'static str> {
    Some(match signal.number() {
        libc::SIGKILL => {
            "Often the kernel's OOM killer, `timeout --kill-after`, `docker stop`/`systemctl stop` after their grace period, or `kill -9`."
        }
        libc::SIGTERM => "The polite stop: `kill`, `timeout`, `docker stop`, `systemctl stop`, shutdown.",
        libc::SIGINT => "Usually Ctrl+C in a terminal.",
        libc::SIGSEGV => "A crash: the program touched memory it may not (null pointer, overflow, stack overflow).",
        libc::SIGABRT => {
            "The program aborted itself: a failed assert(), a C++ exception nobody caught, a Rust panic with panic=abort, or heap corruption detected by malloc."
        }
        libc::SIGPIPE => "Its reader went away, as in `yes | head`; usually harmless in pipelines.",
        libc::SIGHUP => "Its terminal closed or the user logged off.",
        libc::SIGQUIT => "Ctrl+\\ in a terminal; dumps core.",
        libc::SIGBUS => "Often a memory-mapped file that was truncated underneath it.",
        libc::SIGFPE => "Integer division by zero, usually.",
        libc::SIGILL => {
            "Illegal instruction: a CPU feature missing, a corrupted binary, or a deliberate trap (Rust's abort, ud2)."
        }
        libc::SIGXCPU => "It used up its CPU time limit (ulimit -t).",
        libc::SIGSYS => "A system call refused by seccomp.",
        _ => return None,
    })
}

fn windows_reading(value: i128) -> Option<Reading> {
    let unsigned = if (0..=u32::MAX as i128).contains(&value) {
        value as u32
    } else if (i32::MIN as i128..0).contains(&value) {
        value as i32 as u32
    } else {
        return None;
    };
    let known = windows::lookup(unsigned);
    if known.is_none() && !windows::looks_like_ntstatus(unsigned) {
        return None;
    }
    let layout = windows::decode_layout(unsigned);
    let facts = WindowsFacts {
        hex: format!("0x{unsigned:08X}"),
        unsigned,
        signed: unsigned as i32,
        name: known.map(|k| k.name),
        layout,
    };
    let (title, detail) = match known {
        Some(k) => (
            format!("Windows {} ({})", k.name, facts.hex),
            format!(
                "On Windows: {}. The same value is {} unsigned and {} signed.",
                capitalize(k.meaning),
                facts.unsigned,
                facts.signed
            ),
        ),
        None => (
            format!("Windows status {} (not a known value)", facts.hex),
            format!(
                "Read as an NTSTATUS: severity {}, {}facility {:#x}{}, code {:#x}. The same value is {} unsigned and {} signed.",
                layout.severity.describe(),
                if layout.customer {
                    "customer-defined (an application's own), "
                } else {
                    ""
                },
                layout.facility,
                layout.facility_name.map(|n| format!(" ({n})")).unwrap_or_default(),
                layout.code,
                facts.unsigned,
                facts.signed
            ),
        ),
    };
    Some(Reading {
        kind: ReadingKind::Windows,
        title,
        detail,
        signal: None,
        status: None,
        windows: Some(facts),
    })
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<ReadingKind> {
        explain(text).unwrap().readings.into_iter().map(|r| r.kind).collect()
    }

    fn first(text: &str) -> Reading {
        explain(text).unwrap().readings.remove(0)
    }

    /// Digits too many for 128 bits are a number out of range, not "not a
    /// number"; the extremes that fit are explained.
    #[test]
    fn numbers_past_128_bits_are_out_of_range() {
        for text in [
            "170141183460469231731687303715884105728",
            "-170141183460469231731687303715884105729",
            "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "0x1000000000000000000000000000000000",
            "99999999999999999999999999999999999999999999",
        ] {
            assert_eq!(explain(text), Err(ExplainError::OutOfRange(text.to_string())));
        }
        for (text, value) in [
            ("170141183460469231731687303715884105727", i128::MAX),
            ("-170141183460469231731687303715884105728", i128::MIN),
            ("0x000000000000000000000000000000000001", 1),
        ] {
            assert_eq!(explain(text).unwrap().parsed, Input::Number { value });
        }
        assert_eq!(explain("0xZZ"), Err(ExplainError::Unrecognised("0xZZ".to_string())));
    }

    #[test]
    fn posix_and_shell_codes() {
        assert_eq!(kinds("0"), vec![ReadingKind::ExitCode]);
        assert_eq!(kinds("3")[0], ReadingKind::ExitCode);
        assert!(first("0").detail.starts_with("Success"));
        assert_eq!(kinds("1")[0], ReadingKind::ExitCode);
        assert_eq!(kinds("2")[0], ReadingKind::ExitCode);
        assert_eq!(first("126").title, "found but not executable");
        assert_eq!(first("127").title, "command not found");
        assert_eq!(first("124").title, "timeout(1): the command timed out");
        assert_eq!(first("125").kind, ReadingKind::Convention);
    }

    #[test]
    fn signals_above_128_keep_their_ambiguity() {
        let readings = explain("137").unwrap().readings;
        assert_eq!(readings[0].kind, ReadingKind::ShellSignal);
        assert_eq!(readings[0].title, "128+9: killed by SIGKILL");
        assert!(readings[0].detail.contains("OOM killer"));
        assert!(readings[0].detail.contains("timeout --kill-after"));
        assert_eq!(readings[1].kind, ReadingKind::ExitCode);
        assert!(readings[1].detail.contains("literal exit(137)"));
        let segv = first("139");
        assert_eq!(segv.signal.as_ref().unwrap().signal.number(), 11);
        assert!(segv.signal.unwrap().dumps_core);
        assert_eq!(first("143").title, "128+15: killed by SIGTERM");
        assert_eq!(first("130").title, "128+2: killed by SIGINT");
    }

    #[test]
    fn no_death_is_read_into_a_signal_that_kills_nothing() {
        // A shell's $? for a job stopped by SIGSTOP or SIGTSTP (Ctrl+Z).
        let stop = first("148");
        assert_eq!(stop.title, "128+20: stopped by SIGTSTP");
        assert_eq!(stop.status, None);
        // SIGCHLD is ignored by default: 145 is only an exit code.
        let chld = explain("145").unwrap().readings;
        assert_eq!(chld.len(), 1);
        assert_eq!(chld[0].kind, ReadingKind::ExitCode);
        assert!(chld[0].detail.contains("no process dies of SIGCHLD"));
        // Nor is a Python returncode of -17 a death by SIGCHLD.
        assert!(
            explain("-17")
                .unwrap()
                .readings
                .iter()
                .all(|r| r.kind != ReadingKind::NegativeSignal)
        );
        let named = first("SIGCHLD");
        assert!(named.detail.contains("It ends no process"), "{}", named.detail);
        assert_eq!(named.status, None);
        assert!(
            first("SIGSEGV")
                .detail
                .contains("wait status 0xb (0x8b when a core was dumped)")
        );
    }

    #[test]
    fn values_above_255_wrap() {
        let readings = explain("256").unwrap().readings;
        assert_eq!(readings[0].kind, ReadingKind::Wrapped);
        assert_eq!(readings[0].title, "exit(256) is seen as 0");
        assert_eq!(readings[0].status, Some(ExitStatus::Exited { code: 0 }));
        assert_eq!(readings[1].kind, ReadingKind::WaitStatus);
        assert_eq!(readings[1].status, Some(ExitStatus::Exited { code: 1 }));
        assert_eq!(first("300").title, "exit(300) is seen as 44");
    }

    #[test]
    fn only_wait_statuses_the_kernel_makes_are_read_as_such() {
        let wait_status = |text: &str| {
            explain(text)
                .unwrap()
                .readings
                .into_iter()
                .find(|r| r.kind == ReadingKind::WaitStatus)
        };
        // A code and a signal at once: no wait status.
        assert!(wait_status("259").is_none());
        assert!(wait_status("0x017f").is_none());
        // SIGKILL never dumps core; 137 is no wait status.
        assert!(wait_status("137").is_none());
        // SIGSEGV with a core, as os.system and Perl's $? give it: what
        // `explain SIGSEGV` says it shows as.
        let segv = wait_status("0x8b").unwrap();
        assert_eq!(segv.title, "raw wait status 0x008b: killed by SIGSEGV (core dumped)");
        assert!(
            segv.detail.contains("the process was killed by SIGSEGV"),
            "{}",
            segv.detail
        );
        assert!(segv.detail.ends_with("a shell would show 139."), "{}", segv.detail);
        assert_eq!(
            segv.status,
            Some(ExitStatus::Signaled {
                signal: Signal::from_number(11).unwrap(),
                core_dumped: true
            })
        );
        assert_eq!(first("139").kind, ReadingKind::ShellSignal);
        let exited = wait_status("512").unwrap();
        assert!(
            exited.detail.contains("the process exited with code 2;"),
            "{}",
            exited.detail
        );
    }

    #[test]
    fn negative_values() {
        let readings = explain("-9").unwrap().readings;
        assert_eq!(readings[0].kind, ReadingKind::NegativeSignal);
        assert_eq!(readings[0].title, "-9: killed by SIGKILL");
        assert_eq!(readings[1].title, "exit(-9) is seen as 247");
        let minus_one = explain("-1").unwrap().readings;
        assert!(minus_one.iter().any(|r| r.title == "exit(-1) is seen as 255"));
        assert!(minus_one.iter().any(|r| r.title == "-1: killed by SIGHUP"));
    }

    #[test]
    fn sysexits() {
        let reading = first("64");
        assert_eq!(reading.kind, ReadingKind::Sysexits);
        assert_eq!(reading.title, "EX_USAGE (64)");
        assert_eq!(first("78").title, "EX_CONFIG (78)");
    }

    #[test]
    fn signals_by_name() {
        let reading = first("SIGSEGV");
        assert_eq!(reading.kind, ReadingKind::Signal);
        assert!(reading.detail.contains("139"));
        assert_eq!(first("KILL").title, "SIGKILL (signal 9)");
        assert!(first("kill").detail.contains("cannot be caught"));
        assert_eq!(
            first("RTMIN+1").signal.unwrap().signal.number(),
            crate::signal::rtmin() + 1
        );
    }

    #[test]
    fn windows_in_all_three_forms() {
        for form in ["0xC0000005", "0xc0000005", "3221225477", "-1073741819"] {
            let reading = first(form);
            assert_eq!(reading.kind, ReadingKind::Windows, "{form}");
            let facts = reading.windows.unwrap();
            assert_eq!(facts.name, Some("STATUS_ACCESS_VIOLATION"), "{form}");
            assert_eq!(facts.hex, "0xC0000005");
            assert_eq!(facts.unsigned, 3_221_225_477);
            assert_eq!(facts.signed, -1_073_741_819);
        }
        assert_eq!(
            first("0xC0000409").windows.unwrap().name,
            Some("STATUS_STACK_BUFFER_OVERRUN")
        );
        assert!(first("0xE0434352").windows.unwrap().layout.customer);
        let still_active = explain("259").unwrap().readings;
        assert!(
            still_active
                .iter()
                .any(|r| r.windows.as_ref().and_then(|w| w.name) == Some("STILL_ACTIVE"))
        );
        assert_eq!(still_active[0].kind, ReadingKind::Windows);
        assert_eq!(still_active[1].kind, ReadingKind::Wrapped);
    }

    #[test]
    fn unknown_windows_values_are_decoded() {
        let reading = first("0xC0FE0001");
        assert_eq!(reading.kind, ReadingKind::Windows);
        assert!(reading.title.contains("not a known value"));
        let layout = reading.windows.unwrap().layout;
        assert_eq!(layout.severity, windows::Severity::Error);
        assert_eq!(layout.facility, 0x0FE);
        assert_eq!(layout.code, 1);
    }

    #[test]
    fn bad_input() {
        for text in [
            "",
            "abc",
            "0x",
            "0xZZ",
            "1.5",
            "--1",
            "SIGFOO",
            "9999999999999999999999999999999999999999999",
        ] {
            assert!(explain(text).is_err(), "{text}");
        }
    }
}
