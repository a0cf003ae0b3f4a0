//! The suspend count of each thread of a process.
//!
//! A thread runs only while its suspend count is 0; `SuspendThread` raises
//! it, `ResumeThread` lowers it. The count is read with
//! `NtQueryInformationThread(ThreadSuspendCount)` (Windows 8.1 and later,
//! Wine), which changes nothing; where that class is refused, with
//! `SuspendThread` (which returns the count before it) followed at once by
//! `ResumeThread`, which puts the count back.

use windows_sys::Wdk::System::Threading::{NtQueryInformationThread, ThreadSuspendCount};
use windows_sys::Win32::System::Threading::{
    OpenThread, ResumeThread, SuspendThread, THREAD_QUERY_LIMITED_INFORMATION, THREAD_SUSPEND_RESUME,
};

use super::handle::Handle;
use super::snapshot;

/// How a suspend count was read.
pub(crate) const QUERY: &str = "NtQueryInformationThread(ThreadSuspendCount)";
/// The fallback.
pub(crate) const SUSPEND_RESUME: &str = "SuspendThread then ResumeThread";

/// One thread and its suspend count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadCount {
    /// Its thread ID.
    pub tid: u32,
    /// Its suspend count, or why it could not be read.
    pub count: Result<u32, String>,
    /// The call that read it.
    pub method: &'static str,
}

/// Every thread of `pid` now (a Toolhelp snapshot) with its suspend count.
pub(crate) fn suspend_counts(pid: u32) -> std::io::Result<Vec<ThreadCount>> {
    Ok(snapshot::threads()?
        .into_iter()
        .filter(|&(_, owner)| owner == pid)
        .map(|(tid, _)| count_of(tid))
        .collect())
}

fn count_of(tid: u32) -> ThreadCount {
    match queried(tid) {
        Ok(count) => ThreadCount {
            tid,
            count: Ok(count),
            method: QUERY,
        },
        Err(_) => ThreadCount {
            tid,
            count: suspended_and_resumed(tid),
            method: SUSPEND_RESUME,
        },
    }
}

fn open(tid: u32, access: u32, call: &str) -> Result<Handle, String> {
    // SAFETY: plain call; the handle is checked.
    let raw = unsafe { OpenThread(access, 0, tid) };
    Handle::from_raw(raw).ok_or_else(|| format!("{call}: {}", std::io::Error::last_os_error()))
}

fn queried(tid: u32) -> Result<u32, String> {
    let thread = open(
        tid,
        THREAD_QUERY_LIMITED_INFORMATION,
        "OpenThread(THREAD_QUERY_LIMITED_INFORMATION)",
    )?;
    let mut count = 0u32;
    // SAFETY: a valid thread handle and a local of the size given.
    let status = unsafe {
        NtQueryInformationThread(
            thread.raw(),
            ThreadSuspendCount,
            (&raw mut count).cast(),
            size_of::<u32>() as u32,
            std::ptr::null_mut(),
        )
    };
    if status < 0 {
        return Err(format!("{QUERY}: NTSTATUS {:#010X}", status as u32));
    }
    Ok(count)
}

fn suspended_and_resumed(tid: u32) -> Result<u32, String> {
    let thread = open(tid, THREAD_SUSPEND_RESUME, "OpenThread(THREAD_SUSPEND_RESUME)")?;
    // SAFETY: a valid thread handle opened for suspend/resume.
    let before = unsafe { SuspendThread(thread.raw()) };
    if before == u32::MAX {
        return Err(format!("SuspendThread: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: as above; undoes the suspension just made.
    unsafe { ResumeThread(thread.raw()) };
    Ok(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_running_thread() {
        let counts = suspend_counts(std::process::id()).unwrap();
        assert!(!counts.is_empty());
        // The thread running this test runs.
        assert!(counts.iter().any(|t| t.count == Ok(0)), "{counts:?}");
    }
}
