//! Hidden child modes that make a process resist termination, for `why`'s
//! tests, and the helper that sends CTRL_BREAK_EVENT for `kill`; each mode
//! has one match arm in [`super::child`].

use std::time::Duration;

use windows_sys::Win32::Foundation::{CloseHandle, DBG_CONTINUE, DBG_EXCEPTION_NOT_HANDLED, EXCEPTION_BREAKPOINT};
use windows_sys::Win32::Security::{
    ACL, ACL_REVISION, DACL_SECURITY_INFORMATION, InitializeAcl, InitializeSecurityDescriptor, SECURITY_DESCRIPTOR,
    SetKernelObjectSecurity, SetSecurityDescriptorDacl,
};
use windows_sys::Win32::System::Diagnostics::Debug::{
    CREATE_PROCESS_DEBUG_EVENT, ContinueDebugEvent, DEBUG_EVENT, DebugActiveProcess, EXCEPTION_DEBUG_EVENT,
    EXIT_PROCESS_DEBUG_EVENT, LOAD_DLL_DEBUG_EVENT, WaitForDebugEvent,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, INFINITE, OpenProcess, PROCESS_SYNCHRONIZE};

use super::handle::Handle;

/// `suspend PID`: suspends every thread of PID (it stays suspended after
/// this process exits); prints how many threads, exits.
pub fn suspend(pid: u32) -> u8 {
    match super::snapshot::suspend_threads(pid, false) {
        Ok(count) if count > 0 => {
            println!("{count}");
            0
        }
        _ => crate::exit_code::FAILURE,
    }
}

/// `debug PID`: attaches to PID as its debugger (`DebugActiveProcess`),
/// prints its own PID, and handles debug events until PID exits. The
/// default kill-on-exit stays: when this process ends, so does PID.
pub fn debug(pid: u32) -> u8 {
    // SAFETY: plain call.
    if unsafe { DebugActiveProcess(pid) } == 0 {
        eprintln!("DebugActiveProcess({pid}): {}", std::io::Error::last_os_error());
        return crate::exit_code::FAILURE;
    }
    println!("{}", std::process::id());
    // SAFETY: plain data; zero is a valid value.
    let mut event: DEBUG_EVENT = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: a local for the event.
        if unsafe { WaitForDebugEvent(&mut event, INFINITE) } == 0 {
            return crate::exit_code::FAILURE;
        }
        let status = continue_status(&event);
        if event.dwDebugEventCode == EXIT_PROCESS_DEBUG_EVENT && event.dwProcessId == pid {
            return 0;
        }
        // SAFETY: the IDs of the event just received.
        unsafe { ContinueDebugEvent(event.dwProcessId, event.dwThreadId, status) };
    }
}

/// Closes the file handles an event hands the debugger; the status to
/// continue with (breakpoints handled, other exceptions passed back).
fn continue_status(event: &DEBUG_EVENT) -> i32 {
    let file = match event.dwDebugEventCode {
        // SAFETY: the union member this event code selects.
        CREATE_PROCESS_DEBUG_EVENT => unsafe { event.u.CreateProcessInfo.hFile },
        // SAFETY: as above.
        LOAD_DLL_DEBUG_EVENT => unsafe { event.u.LoadDll.hFile },
        _ => std::ptr::null_mut(),
    };
    if !file.is_null() {
        // SAFETY: a handle the debug event gave this process to close.
        unsafe { CloseHandle(file) };
    }
    if event.dwDebugEventCode == EXCEPTION_DEBUG_EVENT {
        // SAFETY: the union member this event code selects.
        let code = unsafe { event.u.Exception.ExceptionRecord.ExceptionCode };
        if code != EXCEPTION_BREAKPOINT {
            return DBG_EXCEPTION_NOT_HANDLED;
        }
    }
    DBG_CONTINUE
}

/// `protect`: gives this process an empty DACL, so other processes are
/// denied the rights to open it (its owner keeps only READ_CONTROL and
/// WRITE_DAC), prints its PID and sleeps.
pub fn protect() -> u8 {
    // SAFETY: plain data; zero is a valid value.
    let mut descriptor: SECURITY_DESCRIPTOR = unsafe { std::mem::zeroed() };
    // SAFETY: plain data; zero is a valid value.
    let mut acl: ACL = unsafe { std::mem::zeroed() };
    let descriptor_ptr = (&raw mut descriptor).cast();
    // SAFETY: a local descriptor to initialise.
    let mut ok = unsafe { InitializeSecurityDescriptor(descriptor_ptr, 1) } != 0;
    // SAFETY: a local ACL of the size given.
    ok = ok && unsafe { InitializeAcl(&mut acl, size_of::<ACL>() as u32, ACL_REVISION) } != 0;
    // SAFETY: the descriptor and the ACL, both alive until the call below.
    ok = ok && unsafe { SetSecurityDescriptorDacl(descriptor_ptr, 1, &acl, 0) } != 0;
    // SAFETY: no preconditions; the pseudo-handle needs no closing.
    let this = unsafe { GetCurrentProcess() };
    // SAFETY: this process's pseudo-handle and a valid descriptor.
    ok = ok && unsafe { SetKernelObjectSecurity(this, DACL_SECURITY_INFORMATION, descriptor_ptr) } != 0;
    if !ok {
        eprintln!("protect: {}", std::io::Error::last_os_error());
        return crate::exit_code::FAILURE;
    }
    println!("{}", std::process::id());
    std::thread::sleep(Duration::from_secs(600));
    0
}

/// `hold PID`: opens PID (SYNCHRONIZE) and keeps the handle, sleeping, so
/// its process object outlives it; prints its own PID.
pub fn hold(pid: u32) -> u8 {
    // SAFETY: plain call; the handle is checked.
    let Some(_held) = Handle::from_raw(unsafe { OpenProcess(PROCESS_SYNCHRONIZE, 0, pid) }) else {
        return crate::exit_code::FAILURE;
    };
    println!("{}", std::process::id());
    std::thread::sleep(Duration::from_secs(600));
    0
}
