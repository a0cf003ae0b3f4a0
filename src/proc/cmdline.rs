//! `/proc/PID/cmdline`: the arguments, NUL-separated, as the process's
//! memory holds them now.
//!
//! Our own parser: procfs's `Process::cmdline` drops every empty argument
//! (`redis-server --save '' --pidfile X` reads as `--save --pidfile X`, a
//! different command) and fails on bytes that are not UTF-8 (the caller
//! then has no command line at all).

use std::io::Read;

use crate::proc::{ProcResult, Process};

/// The arguments in `raw`: split at each NUL, empty arguments kept, the
/// NULs at the end dropped. A process that rewrote its argv as a title
/// (`nginx: worker process`, setproctitle) pads the rest of the old
/// arguments with NULs; the kernel hands them all out, and they are no
/// arguments. An argument list that really ends in empty arguments cannot
/// be told from that padding: those are dropped too. Bytes that are not
/// UTF-8 are replaced, one argument at a time. Pure.
pub fn split(raw: &[u8]) -> Vec<String> {
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
    if end == 0 {
        return Vec::new();
    }
    raw[..end]
        .split(|&b| b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// The command line of the process whose `/proc` directory `dir` holds
/// (empty for a kernel thread or a zombie).
pub fn of(dir: &Process) -> ProcResult<Vec<String>> {
    let mut raw = Vec::new();
    dir.open_relative("cmdline")?.read_to_end(&mut raw)?;
    Ok(split(&raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_arguments_inside_are_kept() {
        assert_eq!(
            split(b"redis-server\0--save\0\0--pidfile\0x\0"),
            ["redis-server", "--save", "", "--pidfile", "x"]
        );
    }

    #[test]
    fn a_title_and_its_padding_is_one_argument() {
        assert_eq!(split(b"nginx: worker process\0\0\0\0\0\0"), ["nginx: worker process"]);
        assert_eq!(split(b"postgres: checkpointer "), ["postgres: checkpointer "]);
    }

    #[test]
    fn nothing_is_no_argument() {
        assert!(split(b"").is_empty());
        assert!(split(b"\0\0").is_empty());
    }

    #[test]
    fn bytes_that_are_not_utf8_are_replaced_in_their_argument_only() {
        assert_eq!(split(b"cat\0caf\xe9\0x\0"), ["cat", "caf\u{fffd}", "x"]);
    }
}
