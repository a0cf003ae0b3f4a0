//! The platform seam: the one place where the two operating systems part.
//!
//! The modules above it — exit explanations, durations, plans, reports,
//! text escaping, the exit-code table, the command line's definitions — are
//! the same on Linux and Windows. What touches the OS sits on one side:
//! on Linux the pidfd, /proc, cgroup, BPF and netlink modules (declared once,
//! in `lib.rs`); on Windows [`windows`]: process handles checked against
//! their creation time, Toolhelp snapshots, job objects, console control
//! events. Both sides export the few names the neutral code asks for
//! (`ContainmentChoice`, `process_names`).
//!
//! The calls that need `unsafe` sit here too, one layer per platform:
//! [`linux`] and [`windows`]. Everything above them calls safe functions;
//! each function here is small and carries its own `// SAFETY:` reasons.

#[cfg(target_os = "linux")]
pub(crate) mod linux;

#[cfg(windows)]
pub(crate) mod windows;

#[cfg(windows)]
pub(crate) use windows::linux_abi;
#[cfg(windows)]
pub(crate) use windows::{ContainmentChoice, host_readings_first, process_names};

#[cfg(target_os = "linux")]
pub(crate) use crate::supervise::ContainmentChoice;

/// Every process now (PID and name, kernel threads aside), for PID
/// completions.
#[cfg(target_os = "linux")]
pub(crate) fn process_names() -> Vec<(u32, String)> {
    crate::process::ProcessTable::scan()
        .entries()
        .filter(|entry| !entry.kernel_thread)
        .map(|entry| (entry.pid.get().unsigned_abs(), entry.name.clone()))
        .collect()
}

/// `explain`'s readings in the order this OS's users meet them: on Linux
/// as `explain` orders them.
#[cfg(target_os = "linux")]
pub(crate) fn host_readings_first(explanation: crate::exit::explain::Explanation) -> crate::exit::explain::Explanation {
    explanation
}
