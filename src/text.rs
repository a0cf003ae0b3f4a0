//! Making untrusted text safe to show on a terminal.
//!
//! Process names, command lines and paths come from /proc and are chosen by
//! whoever started the process: they may hold escape sequences that rewrite
//! the screen, newlines that forge extra report lines, or bytes that are not
//! UTF-8. Everything shown to a person goes through [`escape`] or
//! [`escape_bytes`]; JSON output carries the text as it is (serde escapes it).

use std::borrow::Cow;

/// Escapes control characters (C0, DEL, C1) and backslashes the way `printf
/// %q`-like tools do: `\n`, `\t`, `\e`, `\xNN`, `\u{NNNN}`, `\\`.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Text in the operating system's own form, made safe for a terminal: on
/// Windows, where a backslash separates a path's parts
/// (`C:\Windows\notepad.exe`), backslashes stay as they are and control
/// characters are escaped ([`escape_controls`]); elsewhere as [`escape`].
pub fn escape_native(text: &str) -> Cow<'_, str> {
    if cfg!(windows) {
        escape_controls(text)
    } else {
        escape(text)
    }
}

/// Escapes control characters (C0, DEL, C1) and bidirectional overrides,
/// and leaves backslashes alone: the last guard on a line that may hold
/// text escaped already (whose backslashes must not be doubled) and text
/// that was not (whose control characters must not reach the terminal).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let control = |c: char| c != '\\' && needs_escape(c);
    if !text.chars().any(control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if control(c) {
            push_escaped(&mut out, c)
        } else {
            out.push(c)
        }
    }
    Cow::Owned(out)
}

/// Escapes bytes that may not be UTF-8: invalid bytes become `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Serializes a path as a JSON string, each byte that is not UTF-8 replaced
/// by U+FFFD, as names and command lines are: serde's own form of a path
/// fails on such bytes, and the whole document with it. For
/// `#[serde(serialize_with = "crate::text::lossy_path")]`.
pub fn lossy_path<S: serde::Serializer>(path: &std::path::Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}

/// [`lossy_path`] for a path that may be absent (`null`).
pub fn lossy_optional_path<S: serde::Serializer>(
    path: &Option<std::path::PathBuf>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => lossy_path(path, serializer),
        None => serializer.serialize_none(),
    }
}

/// Joins a command line for display: each argument escaped, and quoted when
/// it is empty or holds spaces, so that argument boundaries stay visible.
pub fn display_command_line(args: &[String]) -> String {
    join_quoted(args, escape)
}

/// Joins a command line as [`display_command_line`] does, quoted but not
/// escaped: for text that is escaped as a whole where it is shown (a
/// `why` finding's words, which JSON carries as they are).
pub fn quote_command_line(args: &[String]) -> String {
    join_quoted(args, |arg| Cow::Borrowed(arg))
}

/// A command to paste into a shell: each argument as it is where every
/// character is plain (letters, digits, `_@%+=:,./-`), else in single
/// quotes, and an argument with control characters in bash's `$'...'`
/// with its escapes (`\n`, `\e`, `\xNN`), so that the command removes the
/// very file it names. The result holds no control character.
pub fn shell_command(args: &[&str]) -> String {
    args.iter().map(|arg| shell_word(arg)).collect::<Vec<_>>().join(" ")
}

/// [`shell_command`] for arguments that may not be UTF-8 (a path's bytes):
/// an argument that is not is written in `$'...'` with each byte outside
/// printable ASCII as `\xNN`, which bash turns back into that byte.
pub fn shell_command_bytes(args: &[&[u8]]) -> String {
    args.iter()
        .map(|arg| match std::str::from_utf8(arg) {
            Ok(text) => shell_word(text),
            Err(_) => {
                let mut out = String::from("$'");
                for &byte in *arg {
                    match byte {
                        b'\'' | b'\\' => {
                            out.push('\\');
                            out.push(byte as char);
                        }
                        0x20..=0x7e => out.push(byte as char),
                        _ => out.push_str(&format!("\\x{byte:02x}")),
                    }
                }
                out.push('\'');
                out
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_word(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        return arg.to_string();
    }
    // Single quotes keep everything but a control character as it is.
    if !arg.chars().any(|c| c != '\\' && needs_escape(c)) {
        return format!("'{}'", arg.replace('\'', "'\\''"));
    }
    let mut out = String::from("$'");
    for c in arg.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            c if needs_escape(c) && c.is_ascii() => push_escaped(&mut out, c),
            // C1 controls and bidi overrides: their UTF-8 bytes, which bash
            // gives back whatever the locale (`\u` needs a UTF-8 one).
            c if needs_escape(c) => {
                for byte in c.to_string().bytes() {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn join_quoted(args: &[String], shown: impl Fn(&str) -> Cow<'_, str>) -> String {
    args.iter()
        .map(|arg| {
            let text = shown(arg);
            if arg.is_empty() || arg.contains([' ', '\'', '"']) {
                format!("'{}'", text.replace('\'', "'\\''"))
            } else {
                text.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\' || is_bidi_control(c)
}

/// Unicode bidirectional overrides can make text read differently from what
/// it is ("Trojan Source"); show them as escapes.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\x1b' => out.push_str("\\e"),
        c if (c as u32) < 0x100 && needs_escape(c) => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_commands_quote_what_a_shell_would_read_otherwise() {
        assert_eq!(shell_command(&["rm", "/dev/shm/plain-1.x"]), "rm /dev/shm/plain-1.x");
        assert_eq!(shell_command(&["rm", "/dev/shm/a b"]), "rm '/dev/shm/a b'");
        assert_eq!(shell_command(&["rm", "/dev/shm/x;ls"]), "rm '/dev/shm/x;ls'");
        assert_eq!(shell_command(&["rm", "/dev/shm/it's"]), "rm '/dev/shm/it'\\''s'");
        assert_eq!(shell_command(&["rm", "/x\u{1b}[31m\n'q"]), "rm $'/x\\e[31m\\n\\'q'");
        assert_eq!(shell_command(&["rm", "a\\b"]), "rm 'a\\b'");
        assert_eq!(shell_command(&["rm", "\u{202e}"]), "rm $'\\xe2\\x80\\xae'");
        assert_eq!(shell_command(&["rm", "a\u{85}b"]), "rm $'a\\xc2\\x85b'");
        assert_eq!(shell_command(&["rm", ""]), "rm ''");
        assert_eq!(
            shell_command_bytes(&[b"rm", b"/tmp/bad\xfe it's"]),
            "rm $'/tmp/bad\\xfe it\\'s'"
        );
        assert_eq!(shell_command_bytes(&[b"rm", b"/tmp/a b"]), "rm '/tmp/a b'");
    }

    #[test]
    fn native_text_keeps_windows_separators_there() {
        let path = "C:\\Windows\\x\u{1b}[2J.exe";
        if cfg!(windows) {
            assert_eq!(escape_native(path), "C:\\Windows\\x\\e[2J.exe");
        } else {
            assert_eq!(escape_native(path), escape(path));
            assert_eq!(escape_native(path), "C:\\\\Windows\\\\x\\e[2J.exe");
        }
    }

    #[test]
    fn plain_text_is_untouched() {
        assert!(matches!(escape("sleep 10 ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\nb\tc\x1b[31md\x7f\u{9b}"), "a\\nb\\tc\\e[31md\\x7f\\x9b");
        assert_eq!(escape("back\\slash"), "back\\\\slash");
        assert_eq!(escape("evil\u{202e}txt"), "evil\\u{202e}txt");
    }

    #[test]
    fn the_last_guard_escapes_controls_and_keeps_escapes() {
        assert_eq!(
            escape_controls("cannot explain 'a\x1b[31m'"),
            "cannot explain 'a\\e[31m'"
        );
        assert_eq!(escape_controls(&escape("x\x07y")), "x\\x07y");
        assert!(matches!(escape_controls("back\\slash"), Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_utf8_is_shown_as_bytes() {
        assert_eq!(escape_bytes(b"ok\xff\xfe\n"), "ok\\xff\\xfe\\n");
    }

    #[test]
    fn command_lines_keep_argument_boundaries() {
        let args = ["sh", "-c", "echo hi", "", "a\nb"].map(String::from);
        assert_eq!(display_command_line(&args), "sh -c 'echo hi' '' a\\nb");
    }
}
