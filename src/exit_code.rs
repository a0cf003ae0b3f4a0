//! The one table of afterlife's own exit codes, used by every command.
//!
//! They follow the conventions users already know: grep's 0/1 for "found" /
//! "not found", and coreutils `timeout(1)`'s 124-127 and 128+N.
//!
//! | code  | meaning |
//! |-------|---------|
//! | 0     | success: every target is running (`status`), ended (`kill`), runs and may be signalled (`kill --signal 0`), found (`holds`), nothing stayed (`leftovers`), no leak (`watch`), the diagnosis was made (`why`), every check held (`demo`); `snapshot`, `explain` answered |
//! | 1     | the answer is "no": a target is not running (`status`), survived (`kill`, a target it may not signal — EPERM — included; `kill --name` matched nothing; `kill --signal 0`: a target is gone, a zombie or may not be signalled), nothing holds it (`holds`), something stayed (`leftovers`), a leak was found (`watch`), a check failed (`demo`) |
//! | 2     | no answer: `watch` took too few samples to judge a process it was asked to watch |
//! | 121   | `run --fail-on-leftovers`: the command passed (exit 0) but left something behind — a process, an IPC object, a file in a `--dir`/`--tmpdir` (a command that failed keeps its own code) |
//! | 124   | a deadline passed first (`wait --timeout`, `run --timeout`, `timeout`) |
//! | 125   | afterlife itself failed: bad input, no such process, permission denied to what it must read, an unobservable status |
//! | 126   | the command was found but could not be executed |
//! | 127   | the command was not found |
//! | 128+N | the process afterlife reports on was killed by signal N (`wait`: the last PID it was given, as the shell's `wait`); `run` and `timeout` die of that same signal, so their parent sees 128+N too (137 when afterlife had to send SIGKILL: `run` exits 137, `timeout` dies of SIGKILL as coreutils does, unless `--foreground`) |
//! | other | `wait` and `run` pass the process's own exit code through |

use crate::exit::ExitStatus;

/// Success.
pub const SUCCESS: u8 = 0;
/// The answer is "no" (not running, survived, not found, leaking).
pub const NEGATIVE: u8 = 1;
/// No answer could be given (`watch`: too few samples to judge).
pub const UNDECIDED: u8 = 2;
/// `run --fail-on-leftovers`: the command passed but leaked.
pub const LEAKED: u8 = 121;
/// A deadline passed first.
pub const TIMED_OUT: u8 = 124;
/// afterlife itself failed.
pub const FAILURE: u8 = 125;
/// The command was found but is not executable.
pub const CANNOT_EXECUTE: u8 = 126;
/// The command was not found.
pub const NOT_FOUND: u8 = 127;

/// The table above as data, in its order: each code (or range) and its
/// meaning. The man pages' EXIT STATUS section is made from it, and a test
/// checks that the README's table says the same.
pub const TABLE: &[(&str, &str)] = &[
    (
        "0",
        "success: every target is running (`status`), ended (`kill`), runs and may be signalled (`kill --signal 0`), found (`holds`), nothing stayed (`leftovers`), no leak (`watch`), the diagnosis was made (`why`), every check held (`demo`); `snapshot`, `explain` answered",
    ),
    (
        "1",
        "the answer is \"no\": a target is not running (`status`), survived (`kill`, a target it may not signal — EPERM — included; `kill --name` matched nothing; `kill --signal 0`: a target is gone, a zombie or may not be signalled), nothing holds it (`holds`), something stayed (`leftovers`), a leak was found (`watch`), a check failed (`demo`)",
    ),
    (
        "2",
        "no answer: `watch` took too few samples to judge a process it was asked to watch",
    ),
    (
        "121",
        "`run --fail-on-leftovers`: the command passed (exit 0) but left something behind — a process, an IPC object, a file in a `--dir`/`--tmpdir` (a command that failed keeps its own code)",
    ),
    (
        "124",
        "a deadline passed first (`wait --timeout`, `run --timeout`, `timeout`)",
    ),
    (
        "125",
        "afterlife itself failed: bad input, no such process, permission denied to what it must read, an unobservable status",
    ),
    ("126", "the command was found but could not be executed"),
    ("127", "the command was not found"),
    (
        "128+N",
        "the process afterlife reports on was killed by signal N (`wait`: the last PID it was given, as the shell's `wait`); `run` and `timeout` die of that same signal, so their parent sees 128+N too (137 when afterlife had to send SIGKILL: `run` exits 137, `timeout` dies of SIGKILL as coreutils does, unless `--foreground`)",
    ),
    ("other", "`wait` and `run` pass the process's own exit code through"),
];

/// The exit code that passes a process's ending on, as a shell's `$?` would.
pub fn for_status(status: ExitStatus) -> u8 {
    status.shell_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table and the module docs' table are this table.
    #[test]
    fn the_tables_agree() {
        let rows = |text: &str| -> Vec<(String, String)> {
            text.lines()
                .map(|l| l.trim_start_matches("//! "))
                .filter(|l| l.starts_with("| ") && !l.starts_with("| code") && !l.starts_with("|--"))
                .filter_map(|l| {
                    let cells: Vec<&str> = l.trim_matches('|').splitn(2, '|').collect();
                    Some((
                        cells.first()?.trim().to_string(),
                        cells.get(1)?.trim().trim_end_matches('|').trim().to_string(),
                    ))
                })
                .collect()
        };
        let want: Vec<(String, String)> = TABLE.iter().map(|(c, m)| (c.to_string(), m.to_string())).collect();
        let readme = include_str!("../README.md");
        let section = &readme[readme.find("## Exit codes").expect("README has an exit-code table")..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
        assert_eq!(rows(section), want, "README.md's exit-code table");
        assert_eq!(
            rows(include_str!("exit_code.rs"))
                .into_iter()
                .take(want.len())
                .collect::<Vec<_>>(),
            want,
            "the module docs' table"
        );
    }
}
