//! Durations as users type them: `10`, `10s`, `1.5m`, `500ms`, `2h`, `1d`,
//! `inf`; and deadlines that never overflow.
//!
//! One grammar serves every command. A number as `strtod(3)` reads it
//! (decimal such as `1.5` or `1e3`, hexadecimal floating point such as
//! `0x1p3`, `inf` or `infinity`), then an optional unit: `s` (the default),
//! `m`, `h`, `d`, or `ms`. `afterlife timeout` takes exactly coreutils
//! `timeout(1)`'s form of it ([`parse_coreutils_duration`]): no `ms`, no
//! white space after the number.
//!
//! - Huge values (`1e30`, `1e400`, `inf`, twenty digits) mean "forever":
//!   they give [`FOREVER`] ([`Duration::MAX`]).
//! - A positive value too small for a nanosecond (`1e-10`, or `1e-10000`,
//!   which underflows) is one nanosecond, "at once", as coreutils rounds
//!   it up; only a true zero is zero (which `timeout` reads as "no
//!   timeout").
//! - Negative values and `nan` are refused.
//!
//! A deadline is never computed with `Instant + Duration`, which panics
//! past what an `Instant` can hold: [`Deadline`] saturates to "never".

use std::time::{Duration, Instant};

/// "Forever": what huge durations and `inf` parse to.
pub const FOREVER: Duration = Duration::MAX;

/// The grammar a text was read with, for the examples an error shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grammar {
    Afterlife,
    Coreutils,
}

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct DurationParseError {
    text: String,
    reason: &'static str,
    grammar: Grammar,
}

impl DurationParseError {
    fn message(&self) -> String {
        match self.grammar {
            Grammar::Afterlife => format!(
                "invalid duration '{}': {} (examples: 10, 10s, 1.5m, 500ms, 2h, 1d, inf)",
                self.text, self.reason
            ),
            Grammar::Coreutils => format!(
                "invalid time interval '{}': {} (examples: 10, 0.5, 1.5m, 2h, 1d, inf)",
                self.text, self.reason
            ),
        }
    }
}

/// A number as `strtod(3)` reads the start of a text.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Number<'a> {
    /// Its value, without its sign.
    value: f64,
    /// Whether it was written with a `-`.
    negative: bool,
    /// Whether it has a non-zero digit but reads as 0 (an underflow, such as
    /// `1e-10000`).
    underflow: bool,
    /// What follows it.
    rest: &'a str,
}

/// Reads a number at the start of `text` as `strtod(3)` does (after any
/// white space): the longest prefix that is one. `None` if there is none.
/// `nan` is read as no number: no duration accepts it.
fn read_number(text: &str) -> Option<Number<'_>> {
    let text = text.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.get(..8).unwrap_or(unsigned).to_ascii_lowercase();
    let (value, underflow, rest) = if lower.starts_with("infinity") {
        (f64::INFINITY, false, &unsigned[8..])
    } else if lower.starts_with("inf") {
        (f64::INFINITY, false, &unsigned[3..])
    } else if let Some(hex) = unsigned.strip_prefix("0x").or_else(|| unsigned.strip_prefix("0X"))
        && let Some((value, underflow, rest)) = read_hex(hex)
    {
        (value, underflow, rest)
    } else {
        read_decimal(unsigned)?
    };
    Some(Number {
        value,
        negative,
        underflow,
        rest,
    })
}

/// How many leading bytes of `text` are ASCII digits of `radix`.
fn digits(text: &str, radix: u32) -> usize {
    text.bytes().take_while(|b| char::from(*b).is_digit(radix)).count()
}

/// `[digits][.digits][e[+-]digits]` with at least one digit.
fn read_decimal(text: &str) -> Option<(f64, bool, &str)> {
    let whole = digits(text, 10);
    let mut end = whole;
    let mut fraction = 0;
    if text[end..].starts_with('.') {
        fraction = digits(&text[end + 1..], 10);
        end += 1 + fraction;
    }
    if whole + fraction == 0 {
        return None;
    }
    let mantissa = &text[..end];
    if let Some(after) = text[end..].strip_prefix(['e', 'E']) {
        let signed = usize::from(after.starts_with(['+', '-']));
        let exponent = digits(&after[signed..], 10);
        if exponent > 0 {
            end += 1 + signed + exponent;
        }
    }
    let value: f64 = text[..end].parse().ok()?;
    let underflow = value == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'));
    Some((value, underflow, &text[end..]))
}

/// After `0x`: `[hex][.hex][p[+-]digits]` with at least one hex digit.
fn read_hex(text: &str) -> Option<(f64, bool, &str)> {
    let whole = digits(text, 16);
    let mut end = whole;
    let mut fraction = 0;
    if text[end..].starts_with('.') {
        fraction = digits(&text[end + 1..], 16);
        end += 1 + fraction;
    }
    if whole + fraction == 0 {
        return None;
    }
    let mut value = 0f64;
    let mut nonzero = false;
    for c in text[..whole].chars().chain(text[whole..end].chars().skip(1)) {
        let digit = c.to_digit(16)?;
        nonzero |= digit != 0;
        value = value * 16.0 + f64::from(digit);
    }
    // Each fraction digit is four more bits below the point.
    let mut exponent: i64 = -4 * fraction as i64;
    if let Some(after) = text[end..].strip_prefix(['p', 'P']) {
        let signed = usize::from(after.starts_with(['+', '-']));
        let count = digits(&after[signed..], 10);
        if count > 0 {
            let written = &after[..signed + count];
            // Beyond ±100000 every value is 0 or infinite anyway.
            let p = written
                .parse::<i64>()
                .unwrap_or(if written.starts_with('-') { -100_000 } else { 100_000 });
            exponent += p.clamp(-100_000, 100_000);
            end += 1 + signed + count;
        }
    }
    // Scaled in steps that stay within f64's exponent range.
    let mut left = exponent;
    while left != 0 && value != 0.0 && value.is_finite() {
        let step = left.clamp(-1000, 1000);
        value *= 2f64.powi(step as i32);
        left -= step;
    }
    Some((value, nonzero && value == 0.0, &text[end..]))
}

/// A number of seconds as a [`Duration`]: [`FOREVER`] when too large, one
/// nanosecond when positive but below it.
fn to_duration(seconds: f64, underflow: bool) -> Duration {
    if underflow {
        return Duration::from_nanos(1);
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if d.is_zero() && seconds > 0.0 => Duration::from_nanos(1),
        Ok(d) => d,
        Err(_) => FOREVER,
    }
}

fn unit_scale(unit: &str) -> Option<f64> {
    match unit {
        "" | "s" => Some(1.0),
        "ms" => Some(0.001),
        "m" => Some(60.0),
        "h" => Some(3600.0),
        "d" => Some(86400.0),
        _ => None,
    }
}

fn parse(text: &str, grammar: Grammar) -> Result<Duration, DurationParseError> {
    let error = |reason| DurationParseError {
        text: text.to_string(),
        reason,
        grammar,
    };
    // afterlife's own options take white space around the text;
    // timeout(1)'s only before it, as strtod does.
    let trimmed = match grammar {
        Grammar::Afterlife => text.trim(),
        Grammar::Coreutils => text,
    };
    // A leading `-` makes an option of our own: never a duration. To
    // timeout(1) it is one only after `--`, and strtod reads it: `-0` is 0,
    // as 0 <= -0 (a negative value too small for a double is refused, as
    // today's coreutils refuses it; 9.1 read it as 0).
    if trimmed.starts_with('-') && grammar == Grammar::Afterlife {
        return Err(error("negative"));
    }
    let number = read_number(trimmed).ok_or_else(|| error("not a number"))?;
    let unit = number.rest;
    let scale = match (grammar, unit) {
        (Grammar::Coreutils, "ms") => None,
        _ => unit_scale(unit),
    };
    let Some(scale) = scale else {
        return Err(error(match grammar {
            Grammar::Afterlife if unit.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                "unknown unit; use ms, s, m, h or d"
            }
            Grammar::Coreutils if unit.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                "unknown unit; use s, m, h or d"
            }
            _ => "not a number",
        }));
    };
    if number.negative && (number.value > 0.0 || number.underflow) {
        return Err(error("negative"));
    }
    if number.negative {
        return Ok(Duration::ZERO);
    }
    Ok(to_duration(number.value * scale, number.underflow))
}

/// Parses a duration in afterlife's grammar (see the module docs).
pub fn parse_duration(text: &str) -> Result<Duration, DurationParseError> {
    parse(text, Grammar::Afterlife)
}

/// Parses a duration exactly as coreutils `timeout(1)` does: what
/// `strtod(3)` accepts (decimal, hexadecimal floating point such as
/// `0x1p3`, `inf`, `infinity`), then at most one suffix `s`, `m`, `h` or
/// `d`. `nan`, negative values and anything else are invalid. Values too
/// large for a [`Duration`] (and `inf`) give [`FOREVER`]; positive ones
/// below a nanosecond give one nanosecond.
pub fn parse_coreutils_duration(text: &str) -> Result<Duration, DurationParseError> {
    parse(text, Grammar::Coreutils)
}

/// When a wait ends: an instant, or never. Built with
/// `Instant::checked_add`, so a duration too long for an `Instant` (such
/// as [`FOREVER`]) is no deadline rather than a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline.
    pub const NEVER: Deadline = Deadline(None);

    /// `length` after `start`; never if that is beyond what an `Instant`
    /// can hold.
    pub fn from(start: Instant, length: Duration) -> Deadline {
        Deadline(start.checked_add(length))
    }

    /// `length` from now.
    pub fn after(length: Duration) -> Deadline {
        Deadline::from(Instant::now(), length)
    }

    /// The instant, if there is one.
    pub fn instant(self) -> Option<Instant> {
        self.0
    }

    /// Whether it has passed (never, for no deadline).
    pub fn passed(self) -> bool {
        self.0.is_some_and(|at| Instant::now() >= at)
    }

    /// The time left (zero once passed); `None` for no deadline.
    pub fn remaining(self) -> Option<Duration> {
        self.0.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        match (self.0, other.0) {
            (Some(a), Some(b)) => Deadline(Some(a.min(b))),
            (Some(a), None) | (None, Some(a)) => Deadline(Some(a)),
            (None, None) => Deadline::NEVER,
        }
    }
}

/// A `poll(2)`/`epoll_wait(2)` timeout for `wait`: saturated to what a
/// `timespec` holds (`None`: wait without limit).
#[cfg(target_os = "linux")]
pub fn timespec(wait: Option<Duration>) -> Option<rustix::event::Timespec> {
    wait.map(|d| rustix::event::Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    })
}

/// Formats a duration for people: `350ms`, `2.5s`, `3m 20s`, `2h 5m`;
/// [`FOREVER`] is `forever`.
pub fn format_duration(d: Duration) -> String {
    if d == FOREVER {
        return "forever".to_string();
    }
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let tenths = (ms + 50) / 100;
        if tenths.is_multiple_of(10) {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        }
    } else if ms < 3_600_000 {
        format!("{}m {}s", ms / 60_000, (ms % 60_000) / 1000)
    } else if ms < 86_400_000 {
        format!("{}h {}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    } else {
        format!("{}d {}h", ms / 86_400_000, (ms % 86_400_000) / 3_600_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: Duration = Duration::from_nanos(1);

    #[test]
    fn accepts_the_documented_forms() {
        let cases = [
            ("10", Duration::from_secs(10)),
            ("10s", Duration::from_secs(10)),
            ("1.5m", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86400)),
            ("0", Duration::ZERO),
            ("0.25", Duration::from_millis(250)),
            (".5s", Duration::from_millis(500)),
            ("1e3", Duration::from_secs(1000)),
            ("1E3", Duration::from_secs(1000)),
            (" 3s ", Duration::from_secs(3)),
            ("+2", Duration::from_secs(2)),
            ("0x10", Duration::from_secs(16)),
            ("inf", FOREVER),
            ("Infinity", FOREVER),
            ("infms", FOREVER),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn huge_values_are_forever() {
        for text in [
            "1e30",
            "1e300",
            "1e400",
            "1e30d",
            "99999999999999999999",
            "18446744073709551616s",
            "inf",
        ] {
            assert_eq!(parse_duration(text), Ok(FOREVER), "{text}");
            assert_eq!(parse_coreutils_duration(text), Ok(FOREVER), "{text}");
        }
        // Just below Duration::MAX seconds is not forever, one above is.
        assert_eq!(
            parse_duration("1e19"),
            Ok(Duration::from_secs(10_000_000_000_000_000_000))
        );
        assert_eq!(parse_duration("1e20"), Ok(FOREVER));
    }

    #[test]
    fn tiny_positive_values_are_one_nanosecond() {
        for text in ["1e-10", "1e-10000", "0.0000000001", "1e-300ms", "0x1p-1100", "1e-15d"] {
            assert_eq!(parse_duration(text), Ok(NS), "{text}");
        }
        for text in ["1e-10", "1e-10000", "0x1p-1100", "1e-15d"] {
            assert_eq!(parse_coreutils_duration(text), Ok(NS), "{text}");
        }
        // Only a true zero is zero.
        for text in ["0", "0.0", "0e5", "0x0", "0x0p-2000"] {
            assert_eq!(parse_coreutils_duration(text), Ok(Duration::ZERO), "{text}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        for text in [
            "",
            "s",
            "-1",
            "-1s",
            "-0",
            "abc",
            "10x",
            "1.2.3",
            "nan",
            "-nan",
            "10 s s",
            "1e",
            "1e+",
            ".",
            "0x",
            "0x.p1",
            "-1e-10000",
            "1 e3",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        let message = parse_duration("10x").unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid duration '10x': unknown unit; use ms, s, m, h or d (examples: 10, 10s, 1.5m, 500ms, 2h, 1d, inf)"
        );
    }

    #[test]
    fn coreutils_syntax() {
        let cases = [
            ("10", Duration::from_secs(10)),
            ("1.5m", Duration::from_secs(90)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86400)),
            ("0", Duration::ZERO),
            ("1.", Duration::from_secs(1)),
            (".5", Duration::from_millis(500)),
            (" 1", Duration::from_secs(1)),
            ("\t+1", Duration::from_secs(1)),
            ("1e3", Duration::from_secs(1000)),
            ("10.34", Duration::from_millis(10_340)),
            ("9.999999999", Duration::new(9, 999_999_999)),
            ("2.34e+5d", Duration::from_secs(20_217_600_000)),
            ("0x10", Duration::from_secs(16)),
            ("0x1p3", Duration::from_secs(8)),
            ("0x1.8p1", Duration::from_secs(3)),
            ("0x1d", Duration::from_secs(29)),
            ("0x1s", Duration::from_secs(1)),
            ("inf", FOREVER),
            ("infinity", FOREVER),
            ("infd", FOREVER),
            ("infinityd", FOREVER),
            ("1e400", FOREVER),
            // strtod reads " -0" as -0.0, which is not below 0.
            (" -0", Duration::ZERO),
            // After `--`, strtod reads a sign; -0 is 0, and 0 <= -0.
            ("-0", Duration::ZERO),
            ("-0.0", Duration::ZERO),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_coreutils_duration(text), Ok(expected), "{text}");
        }
        for text in [
            "",
            "-1",
            " -0.1",
            " -1e-10000",
            "-1e-400",
            "1S",
            "42D",
            "1.5x",
            "1,5",
            "nan",
            "1e",
            "1ms",
            "1 ",
            "s",
            "0x",
            "infinit",
            "invalid",
        ] {
            assert!(parse_coreutils_duration(text).is_err(), "{text}");
        }
        assert_eq!(
            parse_coreutils_duration("500ms").unwrap_err().to_string(),
            "invalid time interval '500ms': unknown unit; use s, m, h or d (examples: 10, 0.5, 1.5m, 2h, 1d, inf)"
        );
    }

    #[test]
    fn deadlines_saturate_to_never() {
        let now = Instant::now();
        assert_eq!(Deadline::from(now, FOREVER), Deadline::NEVER);
        assert_eq!(Deadline::after(FOREVER).remaining(), None);
        assert!(!Deadline::NEVER.passed());
        let soon = Deadline::from(now, Duration::from_secs(1));
        assert_eq!(soon.instant(), Some(now + Duration::from_secs(1)));
        assert_eq!(soon.min(Deadline::NEVER), soon);
        assert_eq!(Deadline::NEVER.min(soon), soon);
        assert!(Deadline::from(now, Duration::ZERO).passed());
        assert_eq!(Deadline::from(now, Duration::ZERO).remaining(), Some(Duration::ZERO));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn timespecs_saturate() {
        assert_eq!(timespec(None), None);
        let spec = timespec(Some(FOREVER)).unwrap();
        assert_eq!((spec.tv_sec, spec.tv_nsec), (i64::MAX, 999_999_999));
        let spec = timespec(Some(Duration::from_millis(1500))).unwrap();
        assert_eq!((spec.tv_sec, spec.tv_nsec), (1, 500_000_000));
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_duration(Duration::from_millis(350)), "350ms");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_secs(200)), "3m 20s");
        assert_eq!(format_duration(Duration::from_secs(7500)), "2h 5m");
        assert_eq!(format_duration(FOREVER), "forever");
    }
}
