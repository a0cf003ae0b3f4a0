//! Toolhelp snapshots: every process with its parent PID and name, and
//! every thread with its owner (`CreateToolhelp32Snapshot`).
//!
//! A parent PID is only the PID the parent had when the child was created:
//! the parent may have exited and its PID been reused since. [`super::tree`]
//! decides with creation times which links still hold.

use std::io;

use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS, TH32CS_SNAPTHREAD,
    THREADENTRY32, Thread32First, Thread32Next,
};

use super::handle::Handle;

/// One process of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// Its PID.
    pub pid: u32,
    /// The PID its parent had when it was created.
    pub ppid: u32,
    /// The executable's file name.
    pub name: String,
}

fn snapshot(flags: u32) -> io::Result<Handle> {
    // SAFETY: plain call; the handle is checked.
    let raw = unsafe { CreateToolhelp32Snapshot(flags, 0) };
    Handle::from_raw(raw).ok_or_else(io::Error::last_os_error)
}

/// Every process now.
pub(crate) fn processes() -> io::Result<Vec<Row>> {
    let snap = snapshot(TH32CS_SNAPPROCESS)?;
    // SAFETY: PROCESSENTRY32W is plain data; zero is a valid value.
    let mut entry: PROCESSENTRY32W = unsafe { std::mem::zeroed() };
    entry.dwSize = size_of::<PROCESSENTRY32W>() as u32;
    let mut rows = Vec::new();
    // SAFETY: a valid snapshot and an entry with dwSize set.
    let mut more = unsafe { Process32FirstW(snap.raw(), &mut entry) } != 0;
    while more {
        let len = entry
            .szExeFile
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(entry.szExeFile.len());
        rows.push(Row {
            pid: entry.th32ProcessID,
            ppid: entry.th32ParentProcessID,
            name: String::from_utf16_lossy(&entry.szExeFile[..len]),
        });
        // SAFETY: as above.
        more = unsafe { Process32NextW(snap.raw(), &mut entry) } != 0;
    }
    Ok(rows)
}

/// Every thread now, as (thread ID, owner PID).
pub(crate) fn threads() -> io::Result<Vec<(u32, u32)>> {
    let snap = snapshot(TH32CS_SNAPTHREAD)?;
    // SAFETY: THREADENTRY32 is plain data; zero is a valid value.
    let mut entry: THREADENTRY32 = unsafe { std::mem::zeroed() };
    entry.dwSize = size_of::<THREADENTRY32>() as u32;
    let mut rows = Vec::new();
    // SAFETY: a valid snapshot and an entry with dwSize set.
    let mut more = unsafe { Thread32First(snap.raw(), &mut entry) } != 0;
    while more {
        rows.push((entry.th32ThreadID, entry.th32OwnerProcessID));
        // SAFETY: as above.
        more = unsafe { Thread32Next(snap.raw(), &mut entry) } != 0;
    }
    Ok(rows)
}

/// Suspends (or resumes) every thread of `pid` that exists now; how many
/// threads were reached.
pub(crate) fn suspend_threads(pid: u32, resume: bool) -> io::Result<usize> {
    suspend_threads_of(&[pid], resume)
}

/// Suspends (or resumes) every thread of the processes `pids`, from one
/// thread snapshot; how many threads were reached. A thread that exits
/// meanwhile is skipped.
pub(crate) fn suspend_threads_of(pids: &[u32], resume: bool) -> io::Result<usize> {
    use windows_sys::Win32::System::Threading::{OpenThread, ResumeThread, SuspendThread, THREAD_SUSPEND_RESUME};
    if pids.is_empty() {
        return Ok(0);
    }
    let mut reached = 0;
    for (tid, owner) in threads()? {
        if !pids.contains(&owner) {
            continue;
        }
        // SAFETY: plain call; the handle is checked.
        let Some(thread) = Handle::from_raw(unsafe { OpenThread(THREAD_SUSPEND_RESUME, 0, tid) }) else {
            // Exited since the snapshot.
            continue;
        };
        let count = if resume {
            // SAFETY: a valid thread handle opened for suspend/resume.
            unsafe { ResumeThread(thread.raw()) }
        } else {
            // SAFETY: a valid thread handle opened for suspend/resume.
            unsafe { SuspendThread(thread.raw()) }
        };
        if count != u32::MAX {
            reached += 1;
        }
    }
    Ok(reached)
}
