//! A process held by a handle, checked against its creation time.
//!
//! A PID names a process only while it runs (and while a handle keeps its
//! object): Windows reuses PIDs too. A handle opened with `OpenProcess`
//! pins one process object; comparing its creation time (`GetProcessTimes`)
//! with what a snapshot found tells whether it is the same process.
//! `GetExitCodeProcess` answers 259 (`STILL_ACTIVE`) for a running process
//! and for one that exited with 259, so whether it ended is asked of
//! `WaitForSingleObject(h, 0)` first.

use std::io;
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, FILETIME, HANDLE, WAIT_OBJECT_0,
    WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, GetProcessTimes, INFINITE, OpenProcess, PROCESS_ACCESS_RIGHTS,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, TerminateProcess, WaitForMultipleObjects,
    WaitForSingleObject,
};

/// An owned kernel handle, closed on drop.
#[derive(Debug)]
pub(crate) struct Handle(HANDLE);

impl Handle {
    /// Takes ownership of `raw`, or `None` for a null or invalid handle.
    pub(crate) fn from_raw(raw: HANDLE) -> Option<Handle> {
        (!raw.is_null() && raw != windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE).then_some(Handle(raw))
    }

    /// The raw handle, for a call.
    pub(crate) fn raw(&self) -> HANDLE {
        self.0
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: we own the handle and close it once.
        unsafe { CloseHandle(self.0) };
    }
}

/// Why a process could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// No process has this PID (`OpenProcess`: ERROR_INVALID_PARAMETER).
    #[error("no such process: {pid}")]
    Gone {
        /// The PID.
        pid: u32,
    },
    /// The process exists but may not be opened with the access asked.
    #[error("permission denied for process {pid} (OpenProcess)")]
    Denied {
        /// The PID.
        pid: u32,
    },
    /// Any other failure.
    #[error("{call} for process {pid}: {source}")]
    Other {
        /// The PID.
        pid: u32,
        /// The call that failed.
        call: &'static str,
        /// The error.
        source: io::Error,
    },
}

/// One process, held.
#[derive(Debug)]
pub(crate) struct ProcessHandle {
    pid: u32,
    handle: Handle,
    created: u64,
}

/// How long to wait.
fn millis(timeout: Option<Duration>) -> u32 {
    timeout.map_or(INFINITE, |t| {
        u32::try_from(t.as_millis()).unwrap_or(INFINITE - 1).min(INFINITE - 1)
    })
}

impl ProcessHandle {
    /// Opens `pid` for `access` (and always for waiting and reading its
    /// times and exit code).
    pub(crate) fn open(pid: u32, access: PROCESS_ACCESS_RIGHTS) -> Result<ProcessHandle, OpenError> {
        let access = access | PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION;
        // SAFETY: plain call; the result is checked before use.
        let raw = unsafe { OpenProcess(access, 0, pid) };
        let Some(handle) = Handle::from_raw(raw) else {
            let error = io::Error::last_os_error();
            return Err(match error.raw_os_error().map(|e| e as u32) {
                // Windows answers ERROR_INVALID_PARAMETER for a PID no
                // process has; Wine 8.0 answers ERROR_INVALID_HANDLE.
                Some(ERROR_INVALID_PARAMETER | ERROR_INVALID_HANDLE) => OpenError::Gone { pid },
                Some(ERROR_ACCESS_DENIED) => OpenError::Denied { pid },
                _ => OpenError::Other {
                    pid,
                    call: "OpenProcess",
                    source: error,
                },
            });
        };
        let created = creation_time(handle.raw()).map_err(|source| OpenError::Other {
            pid,
            call: "GetProcessTimes",
            source,
        })?;
        Ok(ProcessHandle { pid, handle, created })
    }

    /// Holds a process already started (a child's handle, duplicated).
    pub(crate) fn from_handle(pid: u32, handle: Handle) -> io::Result<ProcessHandle> {
        let created = creation_time(handle.raw())?;
        Ok(ProcessHandle { pid, handle, created })
    }

    /// The PID.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The creation time, in 100 ns units since 1601 (a FILETIME).
    pub(crate) fn created(&self) -> u64 {
        self.created
    }

    /// The raw handle.
    pub(crate) fn raw(&self) -> HANDLE {
        self.handle.raw()
    }

    /// Whether it has ended (its object is signaled).
    pub(crate) fn has_ended(&self) -> bool {
        self.wait(Some(Duration::ZERO))
    }

    /// Its exit code, once it has ended; `None` while it runs. An exit code
    /// of 259 is a real exit code here, never STILL_ACTIVE.
    pub(crate) fn exit_code(&self) -> Option<u32> {
        if !self.has_ended() {
            return None;
        }
        let mut code = 0u32;
        // SAFETY: a valid handle and a local to write into.
        let ok = unsafe { GetExitCodeProcess(self.raw(), &mut code) };
        (ok != 0).then_some(code)
    }

    /// Waits until it ends or `timeout` passes (`None`: no limit); whether
    /// it ended.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> bool {
        // SAFETY: a valid handle opened with SYNCHRONIZE.
        let event = unsafe { WaitForSingleObject(self.raw(), millis(timeout)) };
        event == WAIT_OBJECT_0
    }

    /// `TerminateProcess` with `code`. A process that already ended
    /// answers ERROR_ACCESS_DENIED: that is success here.
    pub(crate) fn terminate(&self, code: u32) -> io::Result<()> {
        // SAFETY: a valid handle opened with PROCESS_TERMINATE.
        if unsafe { TerminateProcess(self.raw(), code) } != 0 || self.has_ended() {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Waits until any of `processes` ends or `timeout` passes; the index of
/// one that ended. At most 64 handles are waited on at once
/// (MAXIMUM_WAIT_OBJECTS): the rest are polled on the next call.
pub(crate) fn wait_any(processes: &[&ProcessHandle], timeout: Option<Duration>) -> Option<usize> {
    let handles: Vec<HANDLE> = processes.iter().take(64).map(|p| p.raw()).collect();
    if handles.is_empty() {
        return None;
    }
    // SAFETY: an array of valid handles, its length given.
    let event = unsafe { WaitForMultipleObjects(handles.len() as u32, handles.as_ptr(), 0, millis(timeout)) };
    if event == WAIT_TIMEOUT {
        return None;
    }
    let index = event.wrapping_sub(WAIT_OBJECT_0) as usize;
    (index < handles.len()).then_some(index)
}

/// A process's creation time.
pub(crate) fn creation_time(handle: HANDLE) -> io::Result<u64> {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: a valid handle and four locals to write into.
    let ok = unsafe { GetProcessTimes(handle, &mut created, &mut exited, &mut kernel, &mut user) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime))
}

/// Now, as a FILETIME (100 ns since 1601), to compare with creation times.
pub(crate) fn now_filetime() -> u64 {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let mut now = zero;
    // SAFETY: writes one local.
    unsafe { windows_sys::Win32::System::SystemInformation::GetSystemTimeAsFileTime(&mut now) };
    (u64::from(now.dwHighDateTime) << 32) | u64::from(now.dwLowDateTime)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn a_running_process_has_no_exit_code_and_a_creation_time() {
        let own = ProcessHandle::open(std::process::id(), 0).unwrap();
        assert!(own.created() > 0 && own.created() <= now_filetime());
        assert_eq!(own.exit_code(), None);
    }

    #[test]
    fn an_exit_code_of_259_is_not_still_active() {
        let mut child = Command::new("cmd").args(["/c", "exit 259"]).spawn().unwrap();
        let held = ProcessHandle::open(child.id(), 0).unwrap();
        assert!(held.wait(Some(Duration::from_secs(20))));
        assert_eq!(held.exit_code(), Some(259));
        child.wait().unwrap();
    }

    #[test]
    fn a_pid_no_process_has_is_gone() {
        // PIDs are multiples of 4 on Windows (and Wine): 4194303 is none.
        assert!(matches!(ProcessHandle::open(4_194_303, 0), Err(OpenError::Gone { .. })));
    }
}
