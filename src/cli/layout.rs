//! Fitting text to a terminal's width: display widths that skip colour
//! escapes, word wrapping with a hanging indent, and table columns narrowed
//! to a budget. Pure functions; the width itself comes from [`columns`].

use unicode_width::UnicodeWidthChar;

/// The width to fit: `COLUMNS` when set, else the terminal's on stdout;
/// `None` when stdout is not a terminal and `COLUMNS` is unset (a file or a
/// pipe keeps whole lines, for grep).
pub fn columns() -> Option<usize> {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok());
    from_env
        .or_else(terminal_columns)
        .filter(|&width| width > 0)
        .map(|width| width.max(MIN_COLUMNS))
}

/// The width of the terminal on stdout.
#[cfg(target_os = "linux")]
fn terminal_columns() -> Option<usize> {
    rustix::termios::tcgetwinsize(std::io::stdout())
        .ok()
        .map(|size| usize::from(size.ws_col))
}

/// The width of the console window on stdout.
#[cfg(windows)]
fn terminal_columns() -> Option<usize> {
    crate::sys::windows::demo::console_columns()
}

/// Below this, wrapping makes text harder to read, not easier.
const MIN_COLUMNS: usize = 40;

/// How many columns `text` takes on a terminal: colour escapes (`ESC [ ...
/// m`) take none, wide characters two.
pub fn display_width(text: &str) -> usize {
    strip_escapes(text).chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Breaks `text` at spaces into lines of at most `width` columns (a word
/// longer than that gets a line of its own); every line after the first
/// starts with `indent` spaces. Runs of spaces inside a line are kept (they
/// align labels); a line that fits is returned as it is.
pub fn wrap(text: &str, width: usize, indent: usize) -> Vec<String> {
    if display_width(text) <= width {
        return vec![text.to_string()];
    }
    let body = text.trim_start_matches(' ');
    let lead = text.len() - body.len();
    let mut lines = Vec::new();
    let mut current = " ".repeat(lead);
    let mut used = lead;
    let mut fresh = true;
    // An empty token is one more space of a run.
    for token in body.split(' ') {
        let token_width = display_width(token);
        if fresh && token.is_empty() {
            continue;
        }
        if !fresh && token_width > 0 && used + 1 + token_width > width {
            let done = std::mem::replace(&mut current, " ".repeat(indent));
            lines.push(done.trim_end().to_string());
            used = indent;
            fresh = true;
        }
        if !fresh {
            current.push(' ');
            used += 1;
        }
        current.push_str(token);
        used += token_width;
        fresh = false;
    }
    lines.push(current);
    lines
}

/// The hanging indent for a report line: its own indent, plus what a
/// leading check mark and label take (`✓ stayed `), else two.
pub fn hanging_indent(line: &str) -> usize {
    let plain: String = strip_escapes(line);
    let lead = plain.len() - plain.trim_start().len();
    let rest = plain.trim_start();
    if rest.starts_with(['✓', '✗']) {
        lead + 9
    } else {
        lead + 2
    }
}

fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Column widths that fit `budget` (with `gap` columns between columns):
/// the natural widths where they fit; else the widest wrappable column is
/// narrowed, one column at a time, down to no less than its longest word.
pub fn fit_columns(
    natural: &[usize],
    longest_word: &[usize],
    wrappable: &[bool],
    gap: usize,
    budget: usize,
) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let total = |w: &[usize]| w.iter().sum::<usize>() + gap * w.len().saturating_sub(1);
    while total(&widths) > budget {
        let narrowest_allowed = |i: usize| longest_word[i].max(1);
        let Some(widest) = (0..widths.len())
            .filter(|&i| wrappable[i] && widths[i] > narrowest_allowed(i))
            .max_by_key(|&i| widths[i])
        else {
            break;
        };
        widths[widest] -= 1;
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_skip_colour_and_count_wide_characters() {
        assert_eq!(display_width("\x1b[1mab\x1b[0m"), 2);
        assert_eq!(display_width("✓ 漢"), 4);
    }

    #[test]
    fn wrapping_keeps_words_and_hangs() {
        assert_eq!(wrap("aa bb cc dd", 5, 2), vec!["aa bb", "  cc", "  dd"]);
        assert_eq!(wrap("short", 80, 4), vec!["short"]);
        assert_eq!(
            wrap("averyveryverylongword x", 5, 1),
            vec!["averyveryverylongword", " x"]
        );
        assert_eq!(wrap("  lead kept", 80, 2), vec!["  lead kept"]);
        assert_eq!(wrap("  ✓ went   a b", 11, 4), vec!["  ✓ went", "    a b"]);
        assert_eq!(wrap("x went   a b c", 12, 2), vec!["x went   a b", "  c"]);
        for line in wrap(&"word ".repeat(60), 30, 4) {
            assert!(display_width(&line) <= 30, "{line:?}");
        }
    }

    #[test]
    fn hanging_indents_follow_the_line() {
        assert_eq!(hanging_indent("    ✓ went   text"), 13);
        assert_eq!(hanging_indent("  label (PID 7): x"), 4);
    }

    #[test]
    fn columns_narrow_the_widest_wrappable_first() {
        let natural = [2, 15, 35, 16, 22, 32, 6];
        let words = [2, 15, 7, 3, 9, 11, 6];
        let wrappable = [false, false, true, true, true, true, false];
        let widths = fit_columns(&natural, &words, &wrappable, 2, 100);
        assert_eq!(widths.iter().sum::<usize>() + 2 * 6, 100);
        assert_eq!((widths[0], widths[1], widths[6]), (2, 15, 6));
        assert!(widths.iter().zip(words).all(|(w, word)| *w >= word));
        // Room enough: nothing changes.
        assert_eq!(fit_columns(&natural, &words, &wrappable, 2, 200), natural);
        // Too little room: columns stop at their longest word.
        assert_eq!(fit_columns(&natural, &words, &wrappable, 2, 10), words);
    }
}
