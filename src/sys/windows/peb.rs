//! Another process's PEB and process parameters, read with
//! `ReadProcessMemory` (the handle needs `PROCESS_VM_READ` and a query
//! right): what Windows gives no documented call for on every version —
//! a console group ID ([`super::console`]), and the command line where
//! `ProcessCommandLineInformation` is refused ([`super::command_line`]).
//! The 64-bit layouts only: a 32-bit process under WOW64 is told apart
//! first ([`is_wow64`]).

use std::io;

use windows_sys::Wdk::System::Threading::{
    NtQueryInformationProcess, ProcessBasicInformation, ProcessWow64Information,
};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Diagnostics::Debug::ReadProcessMemory;
use windows_sys::Win32::System::Threading::PROCESS_BASIC_INFORMATION;

/// Where `ProcessParameters` sits in a 64-bit PEB.
pub(crate) const PEB_PROCESS_PARAMETERS: usize = 0x20;

/// An NTSTATUS as a result: negative values are errors.
pub(crate) fn ntstatus(status: i32) -> io::Result<()> {
    if status >= 0 {
        return Ok(());
    }
    Err(io::Error::other(format!("NTSTATUS {:#010X}", status as u32)))
}

pub(crate) fn is_wow64(process: HANDLE) -> io::Result<bool> {
    let mut peb32 = 0usize;
    // SAFETY: a valid handle and a local of the size given.
    let status = unsafe {
        NtQueryInformationProcess(
            process,
            ProcessWow64Information,
            (&raw mut peb32).cast(),
            size_of::<usize>() as u32,
            std::ptr::null_mut(),
        )
    };
    ntstatus(status)?;
    Ok(peb32 != 0)
}

pub(crate) fn peb_address(process: HANDLE) -> io::Result<usize> {
    // SAFETY: plain data; zero is a valid value.
    let mut basic: PROCESS_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: a valid handle and a local of the size given.
    let status = unsafe {
        NtQueryInformationProcess(
            process,
            ProcessBasicInformation,
            (&raw mut basic).cast(),
            size_of::<PROCESS_BASIC_INFORMATION>() as u32,
            std::ptr::null_mut(),
        )
    };
    ntstatus(status)?;
    Ok(basic.PebBaseAddress as usize)
}

/// Reads one plain value at `address` in `process`.
pub(crate) fn read<T: Copy + Default>(process: HANDLE, address: usize) -> io::Result<T> {
    let mut value = T::default();
    let mut done = 0usize;
    // SAFETY: a valid handle; the local is `size_of::<T>()` bytes of plain
    // data, and ReadProcessMemory writes at most that many.
    let ok = unsafe {
        ReadProcessMemory(
            process,
            address as *const _,
            (&raw mut value).cast(),
            size_of::<T>(),
            &mut done,
        )
    };
    if ok == 0 || done != size_of::<T>() {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// The address of the process parameters (`RTL_USER_PROCESS_PARAMETERS`)
/// of a 64-bit process.
pub(crate) fn parameters(process: HANDLE) -> io::Result<usize> {
    read(process, peb_address(process)? + PEB_PROCESS_PARAMETERS)
}

/// Reads `length` bytes at `address` in `process`.
pub(crate) fn read_bytes(process: HANDLE, address: usize, length: usize) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; length];
    let mut done = 0usize;
    // SAFETY: a valid handle; the buffer is ours and `length` bytes long,
    // and ReadProcessMemory writes at most that many.
    let ok = unsafe {
        ReadProcessMemory(
            process,
            address as *const _,
            bytes.as_mut_ptr().cast(),
            length,
            &mut done,
        )
    };
    if ok == 0 || done != length {
        return Err(io::Error::last_os_error());
    }
    Ok(bytes)
}
