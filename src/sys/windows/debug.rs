//! Whether a debugger is attached to a process, and which process it is.
//!
//! `CheckRemoteDebuggerPresent` says whether one is. A debugger attached
//! with `DebugActiveProcess` (or that started the process) holds a handle
//! to the process's debug object; `NtQueryInformationProcess(
//! ProcessDebugObjectHandle)` gives afterlife a handle to the same object,
//! and the system's handle table ([`super::handle_table`]) the processes
//! that hold one of its type — the same object where the table gives
//! object addresses; where it does not (Wine; Windows 11 24H2 without
//! SeDebugPrivilege), every process holding a debug object is named.

use windows_sys::Wdk::System::Threading::{NtQueryInformationProcess, ProcessDebugObjectHandle};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Diagnostics::Debug::CheckRemoteDebuggerPresent;

use super::handle::Handle;
use super::handle_table;

/// What was learnt about a process's debugger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugFacts {
    /// `CheckRemoteDebuggerPresent`'s answer.
    pub present: bool,
    /// The processes holding its debug object (or, without object
    /// addresses, a debug object), or why they could not be found.
    pub debuggers: Result<Vec<u32>, String>,
    /// Whether the debuggers were matched by object address (the same
    /// debug object) rather than by type alone.
    pub exact: bool,
}

/// The debugger facts of `pid` (opened with PROCESS_QUERY_INFORMATION).
pub(crate) fn debug_facts(pid: u32, process: HANDLE) -> Result<DebugFacts, String> {
    let mut present = 0;
    // SAFETY: a valid handle and a local to write into.
    if unsafe { CheckRemoteDebuggerPresent(process, &mut present) } == 0 {
        return Err(format!(
            "CheckRemoteDebuggerPresent: {}",
            std::io::Error::last_os_error()
        ));
    }
    if present == 0 {
        return Ok(DebugFacts {
            present: false,
            debuggers: Ok(Vec::new()),
            exact: false,
        });
    }
    let (debuggers, exact) = match debug_object(process) {
        Ok(object) => match handle_table::holders_of_type(object.raw(), pid) {
            Ok((holders, exact)) => (Ok(holders), exact),
            Err(error) => (Err(error.to_string()), false),
        },
        Err(error) => (Err(error), false),
    };
    Ok(DebugFacts {
        present: true,
        debuggers,
        exact,
    })
}

/// A handle to the debug object of `process`.
fn debug_object(process: HANDLE) -> Result<Handle, String> {
    let mut object: HANDLE = std::ptr::null_mut();
    // SAFETY: a valid handle and a local of the size given.
    let status = unsafe {
        NtQueryInformationProcess(
            process,
            ProcessDebugObjectHandle,
            (&raw mut object).cast(),
            size_of::<HANDLE>() as u32,
            std::ptr::null_mut(),
        )
    };
    if status < 0 {
        return Err(format!(
            "NtQueryInformationProcess(ProcessDebugObjectHandle): NTSTATUS {:#010X}",
            status as u32
        ));
    }
    Handle::from_raw(object).ok_or_else(|| "NtQueryInformationProcess(ProcessDebugObjectHandle): no handle".into())
}
