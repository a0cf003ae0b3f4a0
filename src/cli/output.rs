//! Where reports go and how they look: colors (honouring `NO_COLOR`), JSON,
//! and the one-line error format.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use serde::Serialize;

/// When to color text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal, `TERM` is not `dumb` and `NO_COLOR` is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// A text style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Headings and names.
    Bold,
    /// Good news.
    Good,
    /// Something to look at.
    Warn,
    /// Bad news.
    Bad,
    /// Secondary detail.
    Dim,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Good => "32",
            Style::Warn => "33",
            Style::Bad => "31",
            Style::Dim => "2",
        }
    }
}

/// The output settings of one run.
#[derive(Debug, Clone)]
pub struct Output {
    color: bool,
    json: bool,
}

impl Output {
    /// Resolves the color choice against the environment.
    pub fn new(choice: ColorChoice, json: bool) -> Output {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
                    && std::io::stdout().is_terminal()
            }
        };
        Output {
            color: color && !json,
            json,
        }
    }

    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Wraps `text` in a style if colors are on. `text` must already be escaped.
    pub fn paint(&self, style: Style, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 9);
        self.paint_fmt(&mut out, style, format_args!("{text}"));
        out
    }

    /// Like [`Output::paint`], written onto `out`: no string of its own.
    pub fn paint_fmt(&self, out: &mut String, style: Style, text: std::fmt::Arguments<'_>) {
        use std::fmt::Write as _;
        let _ = if self.color {
            write!(out, "\x1b[{}m{text}\x1b[0m", style.code())
        } else {
            out.write_fmt(text)
        };
    }

    /// Prints one line to stdout. A closed stdout (a pipe into `head`) ends
    /// the output quietly; any other failure is kept for `stdout_failure`.
    pub fn line(&self, text: &str) {
        stdout_written(writeln!(std::io::stdout().lock(), "{text}"));
    }

    /// Prints a value as one line of JSON, with the schema's `version`.
    pub fn json_line<T: Serialize>(&self, value: &T) {
        self.json_line_written(value);
    }

    /// [`Output::json_line`], and whether stdout took it: false once the
    /// reader went away (EPIPE).
    pub fn json_line_written<T: Serialize>(&self, value: &T) -> bool {
        match json_text(value) {
            Ok(text) => stdout_written(writeln!(std::io::stdout().lock(), "{text}")),
            Err(e) => {
                self.error(&format!("cannot encode the report as JSON: {e}"));
                true
            }
        }
    }

    /// Prints a value as pretty JSON, with the schema's `version`.
    pub fn json_document<T: Serialize>(&self, value: &T) {
        match json_pretty(value) {
            Ok(text) => self.line(&text),
            Err(e) => self.error(&format!("cannot encode the report as JSON: {e}")),
        }
    }

    /// Prints a list as a document: `{"version": 2, KEY: [...]}`.
    pub fn json_list<T: Serialize>(&self, key: &'static str, items: &[T]) {
        self.json_document(&Listed { key, items });
    }

    /// Prints the one-line error format to stderr.
    /// Control characters in `message` are escaped here whatever its
    /// source, so that no error line can move the cursor or change colours.
    pub fn error(&self, message: &str) {
        stderr_line(&format!(
            "{}: error: {}",
            program_name(),
            crate::text::escape_controls(message)
        ));
    }
}

/// A document as printed: the schema's version first, then the document's
/// own fields. Every document is an object, so that `version` has a place.
#[derive(Serialize)]
struct Versioned<'a, T> {
    version: u32,
    #[serde(flatten)]
    body: &'a T,
}

/// A list under one key, so that a list of results is a document too.
struct Listed<'a, T> {
    key: &'static str,
    items: &'a [T],
}

impl<T: Serialize> Serialize for Listed<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.key, self.items)?;
        map.end()
    }
}

fn versioned<T: Serialize>(body: &T) -> Versioned<'_, T> {
    Versioned {
        version: crate::JSON_VERSION,
        body,
    }
}

/// One line of JSON with `version` (NDJSON, the run report on stderr).
pub fn json_text<T: Serialize>(value: &T) -> serde_json::Result<String> {
    serde_json::to_string(&versioned(value))
}

/// Pretty JSON with `version` (a document, the `--report-json` file).
pub fn json_pretty<T: Serialize>(value: &T) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&versioned(value))
}

/// `n` and the noun, singular for exactly one: `1 process`, `2 processes`.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

static PROGRAM_NAME: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Names the program in its own messages: `timeout` when run under that
/// name (a link), as coreutils' tests run it; `afterlife` otherwise.
pub fn set_program_name(name: &'static str) {
    let _ = PROGRAM_NAME.set(name);
}

/// The name afterlife's own messages start with.
pub fn program_name() -> &'static str {
    PROGRAM_NAME.get().copied().unwrap_or("afterlife")
}

/// Why stdout refused the first write it refused, other than EPIPE.
static STDOUT_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Whether a write to stdout went through. EPIPE (the reader went away,
/// `| head`) is no failure: there is no one left to tell. Any other error
/// (a full disk, an I/O error) is kept for `stdout_failure`.
pub(crate) fn stdout_written(result: std::io::Result<()>) -> bool {
    // Closed by the caller (`>&-`): the `/dev/null` put there at the start
    // takes the bytes, but no one reads them.
    #[cfg(target_os = "linux")]
    let result = if crate::sys::linux::stdio::closed_at_start(1) {
        Err(std::io::Error::from_raw_os_error(libc::EBADF))
    } else {
        result
    };
    match result {
        Ok(()) => true,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                let _ = STDOUT_FAILURE.set(e.to_string());
            }
            false
        }
    }
}

/// Writes `bytes` to stdout and flushes them, as [`stdout_written`]
/// judges a write: a stdout that refused them (closed by the caller, a
/// full disk) makes [`stdout_failure`] say why. For output written whole
/// (completions, man pages, help).
pub(crate) fn write_stdout(bytes: &[u8]) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout_written(stdout.write_all(bytes).and_then(|()| stdout.flush()))
}

/// Why stdout could not take the output, if it could not (EPIPE aside):
/// then afterlife fails (125) rather than answer over a report that was
/// not written, as `completions` and `man` do.
pub fn stdout_failure() -> Option<&'static str> {
    STDOUT_FAILURE.get().map(String::as_str)
}

/// Writes one line to stderr. A closed or broken stderr (`2>&1 | :`) is
/// no reason to fail, let alone panic (`eprintln!` would): the line is
/// dropped, as coreutils' `timeout -v` goes on when its message cannot be
/// written.
pub fn stderr_line(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.write_all(b"\n");
}

#[cfg(test)]
mod count_tests {
    use super::count;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(0, "process", "processes"), "0 processes");
        assert_eq!(count(1, "process", "processes"), "1 process");
        assert_eq!(count(2, "byte", "bytes"), "2 bytes");
    }
}
