//! Process IDs as users type them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A process ID: a positive number. It names a process only at the moment it
/// is read; [`crate::process::Process`] is what pins one process down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Pid(i32);

/// Why a text is not a PID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PidParseError {
    /// Not a decimal number of digits alone (signs and spaces included).
    #[error("'{0}' is not a process ID (expected digits only, such as 1234)")]
    NotANumber(String),
    /// A number written with a leading zero, which no PID is written with
    /// (and which some tools read as octal).
    #[error("'{0}' is not a process ID: PIDs are written without leading zeros")]
    LeadingZero(String),
    /// Zero or negative: `kill(2)` gives these special meanings (a process
    /// group, every process); we never take them as one process. On
    /// Windows 0 is the System Idle Process, which no call can end.
    #[cfg_attr(
        not(windows),
        error("'{0}' is not a process ID: PIDs are positive (0 and negative numbers mean process groups to kill(2))")
    )]
    #[cfg_attr(
        windows,
        error("'{0}' is not a process ID: PIDs are positive (0 is the System Idle Process, which cannot be ended)")
    )]
    NotPositive(String),
    /// Larger than any PID the system can hand out: Linux's
    /// `PID_MAX_LIMIT` (2^22); on Windows, above 2^31 - 1.
    #[cfg_attr(
        not(windows),
        error("'{0}' is not a process ID: the kernel never uses PIDs above 4194303")
    )]
    #[cfg_attr(
        windows,
        error("'{0}' is not a process ID: Windows never uses PIDs above 2147483647")
    )]
    TooLarge(String),
}

/// The kernel's `PID_MAX_LIMIT` (2^22 on 64-bit): the largest `pid_max`; PIDs
/// stay below it.
#[cfg(not(windows))]
pub const PID_MAX_LIMIT: i32 = 4_194_304;

/// The first number above every possible PID. Linux's PIDs stay below
/// `pid_max`, at most [`PID_MAX_LIMIT`]. A Windows PID is a `DWORD` (a
/// multiple of 4 into the system's table of client IDs, which can grow past
/// 2^22 on a long-running server); none reaches 2^31.
#[cfg(not(windows))]
const PID_END: i32 = PID_MAX_LIMIT;
#[cfg(windows)]
const PID_END: i32 = i32::MAX;

impl Pid {
    /// A PID from a number, if it is a possible one.
    pub fn new(raw: i32) -> Option<Pid> {
        (1..PID_END).contains(&raw).then_some(Pid(raw))
    }

    /// The number.
    pub fn get(self) -> i32 {
        self.0
    }

    #[cfg(target_os = "linux")]
    /// This process's own PID.
    pub fn current() -> Pid {
        Pid(rustix::process::getpid().as_raw_nonzero().get())
    }

    #[cfg(target_os = "linux")]
    /// This process's session ID, or `None` when its session leader lives
    /// in an ancestor PID namespace: `getsid(2)` then answers 0, as a
    /// container's processes often see.
    pub fn own_session() -> Option<Pid> {
        Pid::new(crate::sys::linux::process::own_session_id())
    }

    #[cfg(target_os = "linux")]
    /// This process's process group ID, or `None` when the group leader
    /// lives in an ancestor PID namespace (`getpgrp(2)` then answers 0).
    pub fn own_group() -> Option<Pid> {
        Pid::new(crate::sys::linux::process::own_group_id())
    }

    #[cfg(target_os = "linux")]
    pub(crate) fn to_rustix(self) -> rustix::process::Pid {
        // A `Pid` is positive by construction.
        rustix::process::Pid::from_raw(self.0).expect("a Pid is positive")
    }
}

#[cfg(target_os = "linux")]
/// Whether this process is in the initial PID namespace (inode
/// `PROC_PID_INIT_INO`, 0xEFFFFFFC), whose PIDs are the ones the kernel log
/// and the kernel's own task structures carry.
pub fn in_initial_pid_namespace() -> bool {
    // A process never leaves its PID namespace (`unshare` and `setns`
    // change its children's): read once.
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| std::fs::read_link("/proc/self/ns/pid").is_ok_and(|l| l.as_os_str() == "pid:[4026531836]"))
}

#[cfg(target_os = "linux")]
/// Whether this process is in the initial user namespace (inode
/// `PROC_USER_INIT_INO`, 0xEFFFFFFD): only there do its capabilities reach
/// every process. The root of another user namespace (`unshare -U`, a
/// rootless container) has its capabilities over that namespace alone.
pub fn in_initial_user_namespace() -> bool {
    std::fs::read_link("/proc/self/ns/user").is_ok_and(|l| l.as_os_str() == "user:[4026531837]")
}

#[cfg(target_os = "linux")]
/// This process's effective capabilities, as `CapEff` of
/// `/proc/self/status` shows them (bit N is capability N), from one
/// `capget(2)` rather than a read and parse of that file; 0 if refused.
pub fn own_effective_capabilities() -> u64 {
    rustix::thread::capabilities(None).map_or(0, |sets| sets.effective.bits())
}

#[cfg(target_os = "linux")]
/// Whether this process has capability `bit` (capabilities(7): 19 is
/// `CAP_SYS_PTRACE`, 21 `CAP_SYS_ADMIN`) over every process: effective, in
/// the initial user namespace. The root of another user namespace has it
/// over that namespace alone.
pub fn capable_everywhere(bit: u32) -> bool {
    own_effective_capabilities() & (1 << bit) != 0 && in_initial_user_namespace()
}

impl FromStr for Pid {
    type Err = PidParseError;

    /// Digits only, as the kernel writes a PID: no sign, no spaces, no
    /// leading zero. `-N` gets its own error, since kill(2) would read it as
    /// a process group.
    fn from_str(text: &str) -> Result<Pid, PidParseError> {
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if let Some(negative) = text.strip_prefix('-')
            && all_digits(negative)
        {
            return Err(PidParseError::NotPositive(text.to_string()));
        }
        if !all_digits(text) {
            return Err(PidParseError::NotANumber(text.to_string()));
        }
        if text.bytes().all(|b| b == b'0') {
            return Err(PidParseError::NotPositive(text.to_string()));
        }
        if text.starts_with('0') {
            return Err(PidParseError::LeadingZero(text.to_string()));
        }
        text.parse::<i32>()
            .ok()
            .and_then(Pid::new)
            .ok_or_else(|| PidParseError::TooLarge(text.to_string()))
    }
}

/// Reads a PID back from JSON (a saved snapshot), refusing numbers that are
/// not possible PIDs.
impl<'de> serde::Deserialize<'de> for Pid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Pid, D::Error> {
        let raw = i32::deserialize(deserializer)?;
        Pid::new(raw).ok_or_else(|| serde::de::Error::custom(format!("{raw} is not a process ID")))
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positive_numbers() {
        assert_eq!("1".parse::<Pid>().unwrap().get(), 1);
        assert_eq!("4194303".parse::<Pid>().unwrap().get(), 4_194_303);
        assert_eq!("42".parse::<Pid>().unwrap().get(), 42);
    }

    #[cfg(not(windows))]
    #[test]
    fn linux_pids_stay_below_pid_max_limit() {
        assert!(matches!("4194304".parse::<Pid>(), Err(PidParseError::TooLarge(_))));
        assert!(matches!("4194305".parse::<Pid>(), Err(PidParseError::TooLarge(_))));
        assert_eq!(Pid::new(PID_MAX_LIMIT), None);
    }

    /// A server that has run long enough hands out PIDs past Linux's limit.
    #[cfg(windows)]
    #[test]
    fn windows_pids_go_past_linux_limit() {
        assert_eq!("4194304".parse::<Pid>().unwrap().get(), 4_194_304);
        assert_eq!("67108860".parse::<Pid>().unwrap().get(), 67_108_860);
        assert!(matches!("2147483647".parse::<Pid>(), Err(PidParseError::TooLarge(_))));
        let zero = "0".parse::<Pid>().unwrap_err().to_string();
        assert!(zero.contains("System Idle Process"), "{zero}");
    }

    #[test]
    fn rejects_everything_else() {
        assert!(matches!("abc".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!("".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!("12a".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!("1.5".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!(" 1".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!("1 ".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!("+1".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!("٣".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!("01".parse::<Pid>(), Err(PidParseError::LeadingZero(_))));
        assert!(matches!("0".parse::<Pid>(), Err(PidParseError::NotPositive(_))));
        assert!(matches!("00".parse::<Pid>(), Err(PidParseError::NotPositive(_))));
        assert!(matches!("-1".parse::<Pid>(), Err(PidParseError::NotPositive(_))));
        assert!(matches!("-0".parse::<Pid>(), Err(PidParseError::NotPositive(_))));
        assert!(matches!("--1".parse::<Pid>(), Err(PidParseError::NotANumber(_))));
        assert!(matches!(
            "99999999999999999999999".parse::<Pid>(),
            Err(PidParseError::TooLarge(_))
        ));
    }
}
