//! Durations as users type them: `10`, `10s`, `1.5m`, `500ms`, `2h`, `1d`.
//!
//! The syntax is coreutils `timeout(1)`'s (a floating-point number with an
//! optional `s`, `m`, `h` or `d` suffix), plus `ms`. A bare number is seconds.
//! Values too large for a [`Duration`] saturate to [`Duration::MAX`], which
//! callers treat as "forever", as `timeout` does.

use std::time::Duration;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration '{text}': {reason} (examples: 10, 10s, 1.5m, 500ms, 2h, 1d)")]
pub struct DurationParseError {
    text: String,
    reason: &'static str,
}

/// Parses a duration.
pub fn parse_duration(text: &str) -> Result<Duration, DurationParseError> {
    let error = |reason| DurationParseError {
        text: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() {
        return Err(error("no number"));
    }
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(error("unknown unit; use ms, s, m, h or d")),
    };
    // Only plain decimal numbers: no "inf", "nan" or hex that f64 parsing
    // would otherwise let through.
    if !number
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return Err(error("not a number"));
    }
    let value: f64 = number.parse().map_err(|_| error("not a number"))?;
    if value.is_sign_negative() && value != 0.0 {
        return Err(error("negative"));
    }
    let seconds = value * scale;
    Ok(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX))
}

/// Parses a duration exactly as coreutils `timeout(1)` does: what
/// `strtod(3)` accepts (decimal, hexadecimal floating point such as
/// `0x1p3`, `inf`, `infinity`), then at most one suffix `s`, `m`, `h` or
/// `d`. `nan`, negative values and anything else are invalid. Values too
/// large for a [`Duration`] (and `inf`) give [`Duration::MAX`]: forever.
pub fn parse_coreutils_duration(text: &str) -> Result<Duration, DurationParseError> {
    let error = |reason| DurationParseError {
        text: text.to_string(),
        reason,
    };
    // strtod skips leading white space; nothing may follow the suffix.
    let trimmed = text.trim_start();
    let (number, scale) = match trimmed.char_indices().last() {
        Some((i, 's')) => (&trimmed[..i], 1.0),
        Some((i, 'm')) => (&trimmed[..i], 60.0),
        Some((i, 'h')) => (&trimmed[..i], 3600.0),
        Some((i, 'd')) if !is_hex(trimmed) => (&trimmed[..i], 86400.0),
        _ => (trimmed, 1.0),
    };
    let unsigned = number.strip_prefix('+').unwrap_or(number);
    let lower = unsigned.to_ascii_lowercase();
    let value = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex).ok_or_else(|| error("not a number"))?
    } else if !lower.is_empty()
        && lower
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
    {
        lower.parse::<f64>().map_err(|_| error("not a number"))?
    } else {
        return Err(error("not a number"));
    };
    if value.is_nan() || (value.is_sign_negative() && value != 0.0) {
        return Err(error("negative"));
    }
    let seconds = value * scale;
    Ok(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX))
}

fn is_hex(text: &str) -> bool {
    let t = text.strip_prefix('+').unwrap_or(text);
    t.starts_with("0x") || t.starts_with("0X")
}

/// `strtod`'s hexadecimal form without its `0x`: hex digits with an
/// optional point, then an optional binary exponent `p[+-]N`.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in whole.chars() {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in fraction.chars() {
        value += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(value * 2f64.powi(exponent))
}

/// Formats a duration for people: `350ms`, `2.5s`, `3m 20s`, `2h 5m`.
pub fn format_duration(d: Duration) -> String {
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
            (" 3s ", Duration::from_secs(3)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn huge_values_saturate() {
        assert_eq!(parse_duration("1e300"), Ok(Duration::MAX));
        assert_eq!(parse_duration("1e30d"), Ok(Duration::MAX));
    }

    #[test]
    fn rejects_bad_input() {
        for text in [
            "", "s", "-1", "-1s", "abc", "10x", "1.2.3", "inf", "nan", "0x10", "10 s s",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        let message = parse_duration("10x").unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid duration '10x': unknown unit; use ms, s, m, h or d (examples: 10, 10s, 1.5m, 500ms, 2h, 1d)"
        );
    }

    #[test]
    fn coreutils_syntax() {
        let forever = Duration::MAX;
        let cases = [
            ("10", Duration::from_secs(10)),
            ("1.5m", Duration::from_secs(90)),
            ("2h", Duration::from_secs(7200)),
            ("1d", Duration::from_secs(86400)),
            ("0", Duration::ZERO),
            ("1.", Duration::from_secs(1)),
            (".5", Duration::from_millis(500)),
            (" 1", Duration::from_secs(1)),
            ("1e3", Duration::from_secs(1000)),
            ("0x10", Duration::from_secs(16)),
            ("0x1p3", Duration::from_secs(8)),
            ("0x1d", Duration::from_secs(29)),
            ("0x1s", Duration::from_secs(1)),
            ("inf", forever),
            ("infinity", forever),
            ("1e400", forever),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_coreutils_duration(text), Ok(expected), "{text}");
        }
        for text in ["", "-1", "1S", "1.5x", "1,5", "nan", "1e", "1ms", "1 ", "s", "0x"] {
            assert!(parse_coreutils_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_duration(Duration::from_millis(350)), "350ms");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_secs(200)), "3m 20s");
        assert_eq!(format_duration(Duration::from_secs(7500)), "2h 5m");
    }
}
