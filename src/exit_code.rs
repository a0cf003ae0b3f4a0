//! The one table of afterlife's own exit codes, used by every command.
//!
//! They follow the conventions users already know: grep's 0/1 for "found" /
//! "not found", and coreutils `timeout(1)`'s 124-127 and 128+N.
//!
//! | code  | meaning |
//! |-------|---------|
//! | 0     | success: every target is running (`status`), ended (`kill`), found (`holds`), nothing stayed (`leftovers`), no leak (`watch`), the diagnosis was made (`why`), every check held (`demo`); `snapshot`, `explain` answered |
//! | 1     | the answer is "no": a target is not running (`status`), survived (`kill`, a target it may not signal — EPERM — included), nothing holds it (`holds`), something stayed (`leftovers`), a leak was found (`watch`), a check failed (`demo`) |
//! | 124   | a deadline passed first (`wait --timeout`, `run --timeout`, `timeout`) |
//! | 125   | afterlife itself failed: bad input, no such process, permission denied to what it must read, an unobservable status |
//! | 126   | the command was found but could not be executed |
//! | 127   | the command was not found |
//! | 128+N | the process afterlife reports on was killed by signal N (`wait` with one PID); `run` and `timeout` die of that same signal, so their parent sees 128+N too (137 when afterlife had to send SIGKILL) |
//! | other | `wait` and `run` pass the process's own exit code through |

use crate::exit::ExitStatus;

/// Success.
pub const SUCCESS: u8 = 0;
/// The answer is "no" (not running, survived, not found, leaking).
pub const NEGATIVE: u8 = 1;
/// A deadline passed first.
pub const TIMED_OUT: u8 = 124;
/// afterlife itself failed.
pub const FAILURE: u8 = 125;
/// The command was found but is not executable.
pub const CANNOT_EXECUTE: u8 = 126;
/// The command was not found.
pub const NOT_FOUND: u8 = 127;

/// The exit code that passes a process's ending on, as a shell's `$?` would.
pub fn for_status(status: ExitStatus) -> u8 {
    status.shell_code()
}
