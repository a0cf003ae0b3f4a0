//! `why` on Windows: the facts, read from the OS, for
//! [`super::resist::decide`].
//!
//! The process is opened with the most rights first
//! (`PROCESS_QUERY_INFORMATION | PROCESS_VM_READ`, to read its debugger and
//! its console group), then fewer, so that a denial is itself a finding
//! with the rights tried; `PROCESS_TERMINATE` is asked on its own, to say
//! what `TerminateProcess` would do without calling it. The handle held
//! keeps the PID from being reused while it is read.

use std::io;

use windows_sys::Wdk::System::Threading::NtQueryInformationProcess;
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, WAIT_OBJECT_0,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, PROCESS_ACCESS_RIGHTS, PROCESS_NAME_WIN32, PROCESS_QUERY_INFORMATION,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE, PROCESS_VM_READ,
    QueryFullProcessImageNameW, WaitForSingleObject,
};

use super::handle::{Handle, OpenError};
use super::resist::{AccessAttempt, DebuggerFacts, EndedFacts, Facts, ProcessRef, WindowsDiagnosis, decide};
use super::{console, debug, handle_table, snapshot, terminate, threads};

/// `ProcessProtectionInformation`, a PROCESSINFOCLASS value (Windows 8.1).
const PROCESS_PROTECTION_INFORMATION: i32 = 61;

/// How much a handle may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    /// Memory and debugger too.
    Full,
    /// Exit code, times, image name.
    Limited,
    /// Waiting only.
    Synchronize,
}

const LEVELS: [(Level, PROCESS_ACCESS_RIGHTS, &str); 3] = [
    (
        Level::Full,
        PROCESS_QUERY_INFORMATION | PROCESS_VM_READ | PROCESS_SYNCHRONIZE,
        "PROCESS_QUERY_INFORMATION | PROCESS_VM_READ | SYNCHRONIZE",
    ),
    (
        Level::Limited,
        PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_SYNCHRONIZE,
        "PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE",
    ),
    (Level::Synchronize, PROCESS_SYNCHRONIZE, "SYNCHRONIZE"),
];

/// Why `pid` resists termination, or that nothing does.
pub fn diagnose(pid: u32) -> Result<WindowsDiagnosis, OpenError> {
    Ok(decide(&gather(pid)?))
}

/// A Windows error as its name where it is one `why` meets.
fn words(error: &io::Error) -> String {
    match error.raw_os_error().map(|e| e as u32) {
        Some(ERROR_ACCESS_DENIED) => "ERROR_ACCESS_DENIED".to_string(),
        Some(ERROR_INVALID_PARAMETER) => "ERROR_INVALID_PARAMETER".to_string(),
        Some(ERROR_INVALID_HANDLE) => "ERROR_INVALID_HANDLE".to_string(),
        _ => error.to_string(),
    }
}

fn is_gone(error: &io::Error) -> bool {
    // Windows answers ERROR_INVALID_PARAMETER for a PID no process has;
    // Wine 8.0 answers ERROR_INVALID_HANDLE.
    matches!(
        error.raw_os_error().map(|e| e as u32),
        Some(ERROR_INVALID_PARAMETER | ERROR_INVALID_HANDLE)
    )
}

fn open(pid: u32, rights: PROCESS_ACCESS_RIGHTS) -> io::Result<Handle> {
    // SAFETY: plain call; the handle is checked.
    let raw = unsafe { OpenProcess(rights, 0, pid) };
    Handle::from_raw(raw).ok_or_else(io::Error::last_os_error)
}

/// A handle and how much it may read (`None`: every attempt refused), with
/// the attempts made.
type Opened = (Option<(Level, Handle)>, Vec<AccessAttempt>);

/// The best handle afterlife may have, with the attempts made.
fn open_best(pid: u32, listed: bool) -> Result<Opened, OpenError> {
    let mut attempts = Vec::new();
    for (level, rights, shown) in LEVELS {
        match open(pid, rights) {
            Ok(handle) => {
                attempts.push(AccessAttempt {
                    rights: shown,
                    error: None,
                });
                return Ok((Some((level, handle)), attempts));
            }
            // Wine 8.0 also answers ERROR_INVALID_HANDLE when access is
            // denied: a process the snapshot lists is not gone.
            Err(error) if is_gone(&error) && attempts.is_empty() && !listed => return Err(OpenError::Gone { pid }),
            Err(error) => attempts.push(AccessAttempt {
                rights: shown,
                error: Some(words(&error)),
            }),
        }
    }
    Ok((None, attempts))
}

/// Reads every fact `why` decides on.
pub(crate) fn gather(pid: u32) -> Result<Facts, OpenError> {
    let rows = snapshot::processes().map_err(|source| OpenError::Other {
        pid,
        call: "CreateToolhelp32Snapshot",
        source,
    })?;
    let (held, access) = open_best(pid, name_of(&rows, pid).is_some())?;
    let terminate_denied = open(pid, PROCESS_TERMINATE).err().map(|e| words(&e));
    let level = held.as_ref().map(|(level, _)| *level);
    let handle = held.as_ref().map(|(_, handle)| handle);
    let readable = |at_most: Level| level.is_some_and(|l| l <= at_most);
    let image = handle.filter(|_| readable(Level::Limited)).and_then(image_of);
    let name = name_of(&rows, pid)
        .or_else(|| image.as_deref().map(file_name))
        .unwrap_or_default();
    let ended = handle.map(has_ended);
    let ending = match (ended, handle) {
        (Some(true), Some(handle)) => Some(EndedFacts {
            exit_code: readable(Level::Limited).then(|| exit_code(handle)).flatten(),
            holders: handle_table::holders_of_process(pid, handle.raw())
                .map(|(pids, unopened)| (named(&rows, &pids), unopened))
                .map_err(|e| e.to_string()),
        }),
        _ => None,
    };
    let threads = if ended == Some(true) {
        Ok(Vec::new())
    } else {
        threads::suspend_counts(pid).map_err(|e| format!("CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD): {e}"))
    };
    let full = handle.filter(|_| readable(Level::Full));
    let denied = |what: &str| format!("{what} needs PROCESS_QUERY_INFORMATION and PROCESS_VM_READ, which were denied");
    let debugger = match full {
        Some(handle) => debug::debug_facts(pid, handle.raw()).map(|d| DebuggerFacts {
            present: d.present,
            debuggers: d.debuggers.map(|pids| named(&rows, &pids)),
            exact: d.exact,
        }),
        None => Err(denied("CheckRemoteDebuggerPresent")),
    };
    let group = match full {
        Some(handle) => console::group_id(pid, handle.raw()).map_err(|e| e.to_string()),
        None => Err(denied("reading its process parameters")),
    };
    let protection = match handle.filter(|_| readable(Level::Limited)) {
        Some(handle) => protection_of(handle),
        None => Err("needs PROCESS_QUERY_LIMITED_INFORMATION, which was denied".to_string()),
    };
    let windows = terminate::top_level_windows()
        .iter()
        .filter(|(_, owner)| *owner == pid)
        .count();
    Ok(Facts {
        pid,
        name,
        image,
        access,
        terminate_denied,
        ended,
        ending,
        threads,
        debugger,
        protection,
        windows,
        group,
    })
}

fn name_of(rows: &[snapshot::Row], pid: u32) -> Option<String> {
    rows.iter().find(|r| r.pid == pid).map(|r| r.name.clone())
}

fn named(rows: &[snapshot::Row], pids: &[u32]) -> Vec<ProcessRef> {
    pids.iter()
        .map(|&pid| ProcessRef {
            pid,
            name: name_of(rows, pid).unwrap_or_default(),
        })
        .collect()
}

fn file_name(path: &str) -> String {
    path.rsplit(['\\', '/']).next().unwrap_or(path).to_string()
}

fn has_ended(handle: &Handle) -> bool {
    // SAFETY: a valid handle opened with SYNCHRONIZE.
    unsafe { WaitForSingleObject(handle.raw(), 0) == WAIT_OBJECT_0 }
}

fn exit_code(handle: &Handle) -> Option<u32> {
    let mut code = 0u32;
    // SAFETY: a valid handle and a local to write into.
    let ok = unsafe { GetExitCodeProcess(handle.raw(), &mut code) };
    (ok != 0).then_some(code)
}

fn image_of(handle: &Handle) -> Option<String> {
    let mut buffer = vec![0u16; 32_768];
    let mut length = buffer.len() as u32;
    // SAFETY: a valid handle, a buffer and its length in characters.
    let ok = unsafe { QueryFullProcessImageNameW(handle.raw(), PROCESS_NAME_WIN32, buffer.as_mut_ptr(), &mut length) };
    (ok != 0).then(|| String::from_utf16_lossy(&buffer[..length as usize]))
}

fn protection_of(handle: &Handle) -> Result<u8, String> {
    let mut protection = 0u8;
    // SAFETY: a valid handle and a one-byte local, the size given.
    let status = unsafe {
        NtQueryInformationProcess(
            handle.raw(),
            PROCESS_PROTECTION_INFORMATION,
            (&raw mut protection).cast(),
            1,
            std::ptr::null_mut(),
        )
    };
    if status < 0 {
        return Err(format!(
            "NtQueryInformationProcess(ProcessProtectionInformation): NTSTATUS {:#010X}",
            status as u32
        ));
    }
    Ok(protection)
}
