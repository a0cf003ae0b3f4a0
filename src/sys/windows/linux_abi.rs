//! Linux's signal numbers and wait-status encoding, for a Windows host.
//!
//! `explain` and the signal table are OS-neutral: on Windows, too, a user
//! asks what "exit 137" or SIGTERM means on Linux. Those modules name the
//! numbers as `libc` spells them; the `libc` crate of a Windows target has
//! only the C runtime's few signals, with other numbers (SIGABRT is 22
//! there). This module gives the Linux values (x86-64 and arm64 agree,
//! signal(7)) under the same names, and those modules import it as `libc`
//! on Windows.

#![allow(non_snake_case, missing_docs)]

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGSTKFLT: i32 = 16;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGXCPU: i32 = 24;
pub const SIGXFSZ: i32 = 25;
pub const SIGVTALRM: i32 = 26;
pub const SIGPROF: i32 = 27;
pub const SIGWINCH: i32 = 28;
pub const SIGIO: i32 = 29;
pub const SIGPWR: i32 = 30;
pub const SIGSYS: i32 = 31;

// SIGRTMIN is 34 on every platform (`crate::signal::rtmin`).

pub fn SIGRTMAX() -> i32 {
    64
}

// The wait status (wait(2)): the low 7 bits the signal (0: exited), bit 7
// the core flag, bits 8-15 the exit code; 0x7f in the low bits is "stopped".
pub fn WIFEXITED(status: i32) -> bool {
    status & 0x7f == 0
}

pub fn WEXITSTATUS(status: i32) -> i32 {
    (status >> 8) & 0xff
}

pub fn WIFSIGNALED(status: i32) -> bool {
    ((status & 0x7f) + 1) as i8 >= 2
}

pub fn WTERMSIG(status: i32) -> i32 {
    status & 0x7f
}

pub fn WCOREDUMP(status: i32) -> bool {
    status & 0x80 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_decode_as_glibc_does() {
        assert!(WIFEXITED(3 << 8) && WEXITSTATUS(3 << 8) == 3);
        assert!(WIFSIGNALED(9) && WTERMSIG(9) == 9 && !WCOREDUMP(9));
        assert!(WIFSIGNALED(0x80 | 11) && WCOREDUMP(0x80 | 11));
        // Stopped (0x7f) and continued (0xffff) are neither.
        assert!(!WIFEXITED(0x137f) && !WIFSIGNALED(0x137f));
        assert!(!WIFEXITED(0xffff) && !WIFSIGNALED(0xffff));
    }
}
