//! Console process groups: which group a process is in, and CTRL_BREAK_EVENT
//! sent to one group only.
//!
//! Windows has no documented call that names another process's console
//! process group. `GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, id)` with an
//! `id` that leads no group reaches every process on the caller's console,
//! so a group is never guessed: it is read from the target's own process
//! parameters (`RTL_USER_PROCESS_PARAMETERS.ProcessGroupId`, reached
//! through `NtQueryInformationProcess(ProcessBasicInformation)` and
//! `ReadProcessMemory` of its PEB), and the event goes only to a process
//! whose group ID is its own PID: a leader, started with
//! `CREATE_NEW_PROCESS_GROUP`. Everything else is left to WM_CLOSE.
//!
//! The event can only be sent from the target's console, so a helper —
//! afterlife itself in a hidden mode, started with `DETACHED_PROCESS` in a
//! group of its own — attaches to it (`AttachConsole(PID)`), ignores
//! console events itself (`SetConsoleCtrlHandler(NULL, TRUE)` for Ctrl+C,
//! a handler that takes the others) and sends it; afterlife's own console
//! is never changed. A group afterlife itself is in is never sent the
//! event (it would end afterlife too).
//!
//! Wine 8.0 leaves `ProcessGroupId` 0 for every process (later Wine fills
//! it): under Wine 8.0 no process reads as a leader and nothing is sent.

use std::io;
use std::os::windows::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Console::{
    AttachConsole, CTRL_BREAK_EVENT, FreeConsole, GenerateConsoleCtrlEvent, SetConsoleCtrlHandler,
};
use windows_sys::Win32::System::Threading::{CREATE_NEW_PROCESS_GROUP, DETACHED_PROCESS, GetCurrentProcess};

use super::peb::{PEB_PROCESS_PARAMETERS, is_wow64, peb_address, read};
/// Where `ProcessGroupId` sits in a 64-bit `RTL_USER_PROCESS_PARAMETERS`
/// (after `PackageDependencyData`; present since Windows 7).
const PARAMETERS_PROCESS_GROUP_ID: usize = 0x408;

/// The child mode of the helper that sends the event.
pub const BREAK_HELPER_MODE: &str = "ctrl-break";

/// Why a group could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// A call failed.
    #[error("{call} for process {pid}: {source}")]
    Call {
        /// The PID.
        pid: u32,
        /// The call.
        call: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A 32-bit process under WOW64: its parameters have another layout,
    /// which afterlife does not read.
    #[error("process {pid} is a 32-bit process (WOW64); its console group is not read")]
    Wow64 {
        /// The PID.
        pid: u32,
    },
    /// The parameters block is too short to hold the field.
    #[error("process {pid}: its process parameters ({length} bytes) have no ProcessGroupId")]
    TooShort {
        /// The PID.
        pid: u32,
        /// Their `Length`.
        length: u32,
    },
}

/// What the console group read says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// Its group ID is its own PID: CTRL_BREAK_EVENT reaches its group alone.
    Leader,
    /// Its group ID is another process's (or 0): it is not sent the event.
    Member(u32),
}

/// Whether `pid`, whose group ID read `group`, leads its group. Pure.
pub fn leadership(pid: u32, group: u32) -> Leadership {
    if group == pid && pid != 0 {
        Leadership::Leader
    } else {
        Leadership::Member(group)
    }
}

fn call_error(pid: u32, call: &'static str) -> impl FnOnce(io::Error) -> GroupError {
    move |source| GroupError::Call { pid, call, source }
}

/// Reads `ProcessGroupId` from the process parameters of `process` (opened
/// with PROCESS_QUERY_INFORMATION and PROCESS_VM_READ).
pub(crate) fn group_id(pid: u32, process: HANDLE) -> Result<u32, GroupError> {
    if is_wow64(process).map_err(call_error(pid, "NtQueryInformationProcess(ProcessWow64Information)"))? {
        return Err(GroupError::Wow64 { pid });
    }
    let peb = peb_address(process).map_err(call_error(pid, "NtQueryInformationProcess(ProcessBasicInformation)"))?;
    let parameters: usize =
        read(process, peb + PEB_PROCESS_PARAMETERS).map_err(call_error(pid, "ReadProcessMemory(PEB)"))?;
    let length: u32 = read(process, parameters + 4).map_err(call_error(pid, "ReadProcessMemory(ProcessParameters)"))?;
    if (length as usize) < PARAMETERS_PROCESS_GROUP_ID + 4 {
        return Err(GroupError::TooShort { pid, length });
    }
    read(process, parameters + PARAMETERS_PROCESS_GROUP_ID)
        .map_err(call_error(pid, "ReadProcessMemory(ProcessParameters.ProcessGroupId)"))
}

/// Sends CTRL_BREAK_EVENT to the console process group led by `leader`,
/// through the helper; waits for it at most `limit`. The caller has read
/// that `leader` leads its group.
pub(crate) fn send_break(leader: u32, limit: Duration) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut helper = Command::new(exe)
        .args([super::child::CHILD_COMMAND, BREAK_HELPER_MODE, &leader.to_string()])
        .creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = helper.try_wait()? {
            return match status.code() {
                Some(0) => Ok(()),
                Some(code) => Err(io::Error::from_raw_os_error(code)),
                None => Err(io::Error::other("the helper ended without a code")),
            };
        }
        if Instant::now() >= deadline {
            let _ = helper.kill();
            let _ = helper.wait();
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The helper's body (`afterlife __child ctrl-break PID`): attach to the
/// console of `leader`, ignore the event here, send it to `leader`'s
/// group. Exit code 0, or the Windows error number of the call that failed.
pub fn break_helper(leader: u32) -> u8 {
    // SAFETY: plain call; a process without a console is fine.
    unsafe { FreeConsole() };
    // SAFETY: plain call.
    if unsafe { AttachConsole(leader) } == 0 {
        return last_error_code();
    }
    // SAFETY: plain call; NULL with TRUE makes this process ignore Ctrl+C.
    unsafe { SetConsoleCtrlHandler(None, 1) };
    // SAFETY: a handler valid for the whole process; it takes every other
    // event, should one reach this helper (which leads a group of its own).
    unsafe { SetConsoleCtrlHandler(Some(take_event), 1) };
    // SAFETY: plain call; `leader` was read to lead its own group.
    if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, leader) } == 0 {
        return last_error_code();
    }
    0
}

unsafe extern "system" fn take_event(_event: u32) -> windows_sys::core::BOOL {
    1
}

/// afterlife's own console process group ID.
pub(crate) fn own_group() -> Result<u32, GroupError> {
    // SAFETY: no preconditions; the pseudo-handle needs no closing.
    let this = unsafe { GetCurrentProcess() };
    group_id(std::process::id(), this)
}

fn last_error_code() -> u8 {
    let code = io::Error::last_os_error().raw_os_error().unwrap_or(1);
    u8::try_from(code).ok().filter(|&c| c != 0).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_group_id_equal_to_the_pid_leads() {
        assert_eq!(leadership(264, 264), Leadership::Leader);
        assert_eq!(leadership(264, 12), Leadership::Member(12));
        // 0: not filled in (Wine 8.0), never taken for a group.
        assert_eq!(leadership(264, 0), Leadership::Member(0));
        assert_eq!(leadership(0, 0), Leadership::Member(0));
    }

    #[test]
    fn this_process_has_a_readable_group() {
        // Windows fills the field; Wine 8.0 leaves it 0. Both can be read.
        own_group().unwrap();
    }
}
