//! Who or what sent a signal, from its `si_code` (siginfo.h) and the
//! signal: pure functions.
//!
//! The kernel fills `si_code` as follows: `SI_USER` (0) for kill(2) — and
//! for `send_sig()` with no info, as the pipe code does for SIGPIPE on the
//! writer itself; `SI_TKILL` (-6) for tgkill(2)/tkill(2), which raise(3)
//! and abort(3) use; `SI_QUEUE` (-1) for sigqueue(3); `SI_TIMER` (-2) for
//! POSIX timers; `SI_KERNEL` (0x80) for `SEND_SIG_PRIV`: the terminal's
//! SIGINT/SIGQUIT/SIGTSTP (n_tty `isig()` through `kill_pgrp(.., 1)`),
//! alarm(2)/setitimer(2) expiries, RLIMIT_CPU's SIGXCPU, the hang-up of a
//! terminal or an orphaned process group, and the OOM killer's SIGKILL;
//! positive codes for a fault (`SEGV_MAPERR` 1, `SEGV_ACCERR` 2, ...).

use serde::Serialize;

const SI_USER: i32 = 0;
pub(crate) const SI_KERNEL: i32 = 0x80;
const SI_QUEUE: i32 = -1;
const SI_TIMER: i32 = -2;
const SI_MESGQ: i32 = -3;
const SI_ASYNCIO: i32 = -4;
const SI_SIGIO: i32 = -5;
const SI_TKILL: i32 = -6;

/// What kind of sender a signal had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    /// A process called kill(2) (`SI_USER`).
    Kill,
    /// A process called tgkill(2) or tkill(2) (`SI_TKILL`): raise(3), abort(3).
    Tkill,
    /// A process called sigqueue(3) (`SI_QUEUE`).
    Sigqueue,
    /// The kernel, for a fault of the process itself (a positive `si_code`).
    Fault,
    /// The terminal: a key (Ctrl+C, Ctrl+\, Ctrl+Z) typed into it.
    Terminal,
    /// A timer: alarm(2), setitimer(2) or a POSIX timer.
    Timer,
    /// A write to a pipe or socket with no reader left.
    Pipe,
    /// The OOM killer.
    OomKiller,
    /// A CPU-time limit (`RLIMIT_CPU`).
    CpuLimit,
    /// A hang-up: the terminal closed, or the process group was orphaned.
    Hangup,
    /// seccomp refused a system call.
    Seccomp,
    /// Asynchronous I/O, a message queue or SIGIO.
    Io,
    /// The kernel, for another reason.
    Kernel,
    /// The process's parent exited, and the kernel sent the signal the
    /// process had asked for then (`PR_SET_PDEATHSIG`), from that parent.
    ParentDeath,
}

impl SenderKind {
    /// Whether the sending process is worth naming: it made a call that
    /// sent the signal. For the kernel's own signals, `current` at the
    /// tracepoint is whichever task happened to run (a kworker for a
    /// terminal key, the allocating task for an OOM kill).
    pub fn names_a_process(self) -> bool {
        matches!(
            self,
            SenderKind::Kill | SenderKind::Tkill | SenderKind::Sigqueue | SenderKind::ParentDeath
        )
    }

    /// Plain words.
    pub fn describe(self) -> &'static str {
        match self {
            SenderKind::Kill => "kill(), pidfd_send_signal() or cgroup.kill",
            SenderKind::Tkill => "tgkill() or tkill()",
            SenderKind::Sigqueue => "sigqueue()",
            SenderKind::Fault => "a fault",
            SenderKind::Terminal => "the terminal",
            SenderKind::Timer => "a timer",
            SenderKind::Pipe => "a pipe with no reader",
            SenderKind::OomKiller => "the OOM killer",
            SenderKind::CpuLimit => "the CPU time limit",
            SenderKind::Hangup => "a hang-up",
            SenderKind::Seccomp => "seccomp",
            SenderKind::Io => "I/O notification",
            SenderKind::Kernel => "the kernel",
            SenderKind::ParentDeath => "its parent's exit (PR_SET_PDEATHSIG)",
        }
    }
}

/// Classifies a signal's sender. `by_itself`: the sender is the process
/// that got it; `oom`: the OOM killer marked the process. Pure.
pub fn classify(signo: i32, code: i32, by_itself: bool, oom: bool) -> SenderKind {
    match code {
        SI_USER if signo == libc::SIGPIPE && by_itself => SenderKind::Pipe,
        SI_USER => SenderKind::Kill,
        SI_TKILL => SenderKind::Tkill,
        SI_QUEUE => SenderKind::Sigqueue,
        SI_TIMER => SenderKind::Timer,
        SI_MESGQ | SI_ASYNCIO | SI_SIGIO => SenderKind::Io,
        SI_KERNEL => kernel_kind(signo, oom),
        code if code > 0 && signo == libc::SIGSYS && code == 1 => SenderKind::Seccomp,
        code if code > 0 && is_fault(signo) => SenderKind::Fault,
        _ => SenderKind::Kernel,
    }
}

fn kernel_kind(signo: i32, oom: bool) -> SenderKind {
    match signo {
        libc::SIGKILL if oom => SenderKind::OomKiller,
        libc::SIGINT | libc::SIGQUIT | libc::SIGTSTP => SenderKind::Terminal,
        libc::SIGALRM | libc::SIGVTALRM | libc::SIGPROF => SenderKind::Timer,
        libc::SIGXCPU => SenderKind::CpuLimit,
        libc::SIGHUP => SenderKind::Hangup,
        _ => SenderKind::Kernel,
    }
}

fn is_fault(signo: i32) -> bool {
    matches!(
        signo,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP
    )
}

/// The name of `si_code` for this signal (siginfo.h), where it has one. Pure.
pub fn code_name(signo: i32, code: i32) -> Option<&'static str> {
    let generic = match code {
        SI_USER => Some("SI_USER"),
        SI_KERNEL => Some("SI_KERNEL"),
        SI_QUEUE => Some("SI_QUEUE"),
        SI_TIMER => Some("SI_TIMER"),
        SI_MESGQ => Some("SI_MESGQ"),
        SI_ASYNCIO => Some("SI_ASYNCIO"),
        SI_SIGIO => Some("SI_SIGIO"),
        SI_TKILL => Some("SI_TKILL"),
        _ => None,
    };
    if generic.is_some() || code <= 0 {
        return generic;
    }
    let names: &[&str] = match signo {
        libc::SIGSEGV => &[
            "SEGV_MAPERR",
            "SEGV_ACCERR",
            "SEGV_BNDERR",
            "SEGV_PKUERR",
            "SEGV_ACCADI",
            "SEGV_ADIDERR",
            "SEGV_ADIPERR",
            "SEGV_MTEAERR",
            "SEGV_MTESERR",
            "SEGV_CPERR",
        ],
        libc::SIGBUS => &[
            "BUS_ADRALN",
            "BUS_ADRERR",
            "BUS_OBJERR",
            "BUS_MCEERR_AR",
            "BUS_MCEERR_AO",
        ],
        libc::SIGILL => &[
            "ILL_ILLOPC",
            "ILL_ILLOPN",
            "ILL_ILLADR",
            "ILL_ILLTRP",
            "ILL_PRVOPC",
            "ILL_PRVREG",
            "ILL_COPROC",
            "ILL_BADSTK",
            "ILL_BADIADDR",
        ],
        libc::SIGFPE => &[
            "FPE_INTDIV",
            "FPE_INTOVF",
            "FPE_FLTDIV",
            "FPE_FLTOVF",
            "FPE_FLTUND",
            "FPE_FLTRES",
            "FPE_FLTINV",
            "FPE_FLTSUB",
        ],
        libc::SIGTRAP => &[
            "TRAP_BRKPT",
            "TRAP_TRACE",
            "TRAP_BRANCH",
            "TRAP_HWBKPT",
            "TRAP_UNK",
            "TRAP_PERF",
        ],
        libc::SIGSYS => &["SYS_SECCOMP", "SYS_USER_DISPATCH"],
        _ => &[],
    };
    names.get(code as usize - 1).copied()
}

/// What a fault code means, in words. Pure.
pub fn fault_meaning(signo: i32, code: i32) -> Option<&'static str> {
    Some(match (signo, code) {
        (libc::SIGSEGV, 1) => "address not mapped",
        (libc::SIGSEGV, 2) => "access not permitted by the mapping",
        (libc::SIGBUS, 1) => "misaligned address",
        (libc::SIGBUS, 2) => "address beyond the end of a mapped file",
        (libc::SIGBUS, 3) => "hardware error",
        (libc::SIGFPE, 1) => "integer division by zero",
        (libc::SIGFPE, 2) => "integer overflow",
        (libc::SIGILL, 1) => "illegal opcode",
        (libc::SIGTRAP, 1) => "breakpoint",
        (libc::SIGSYS, 1) => "system call refused by seccomp",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_by_code() {
        assert_eq!(classify(libc::SIGUSR1, 0, false, false), SenderKind::Kill);
        assert_eq!(classify(libc::SIGABRT, -6, true, false), SenderKind::Tkill);
        assert_eq!(classify(libc::SIGPIPE, 0, true, false), SenderKind::Pipe);
        assert_eq!(classify(libc::SIGPIPE, 0, false, false), SenderKind::Kill);
        assert_eq!(classify(libc::SIGSEGV, 1, true, false), SenderKind::Fault);
        assert_eq!(classify(libc::SIGINT, 0x80, false, false), SenderKind::Terminal);
        assert_eq!(classify(libc::SIGQUIT, 0x80, false, false), SenderKind::Terminal);
        assert_eq!(classify(libc::SIGALRM, 0x80, false, false), SenderKind::Timer);
        assert_eq!(classify(libc::SIGKILL, 0x80, false, true), SenderKind::OomKiller);
        assert_eq!(classify(libc::SIGKILL, 0x80, false, false), SenderKind::Kernel);
        assert_eq!(classify(libc::SIGSYS, 1, true, false), SenderKind::Seccomp);
        assert_eq!(classify(libc::SIGRTMIN(), -2, false, false), SenderKind::Timer);
    }

    #[test]
    fn code_names() {
        assert_eq!(code_name(libc::SIGSEGV, 1), Some("SEGV_MAPERR"));
        assert_eq!(code_name(libc::SIGSEGV, 2), Some("SEGV_ACCERR"));
        assert_eq!(code_name(libc::SIGKILL, 0x80), Some("SI_KERNEL"));
        assert_eq!(code_name(libc::SIGUSR1, 0), Some("SI_USER"));
        assert_eq!(code_name(libc::SIGUSR1, 5), None);
        assert_eq!(code_name(libc::SIGSEGV, 99), None);
    }
}
