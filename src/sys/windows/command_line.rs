//! Another process's command line, as Process Explorer and `Get-CimInstance
//! Win32_Process` show it: `NtQueryInformationProcess` with
//! `ProcessCommandLineInformation` (Windows 8.1; the limited query right is
//! enough, and a 32-bit process's line comes the same way), split into
//! arguments by the system's own `CommandLineToArgvW`, the rules the C
//! runtime uses to build `argv`. Where that class is refused
//! (`STATUS_INVALID_INFO_CLASS`: Windows 7, Wine 8.0), the line is read
//! from the process parameters' `CommandLine` ([`super::peb`]; a 64-bit
//! process, opened with `PROCESS_VM_READ`).

use std::io;

use windows_sys::Wdk::System::Threading::{NtQueryInformationProcess, ProcessCommandLineInformation};
use windows_sys::Win32::Foundation::{HANDLE, LocalFree};
use windows_sys::Win32::UI::Shell::CommandLineToArgvW;

/// `STATUS_INFO_LENGTH_MISMATCH`: the buffer is too small; the length
/// needed is returned.
const STATUS_INFO_LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;
/// `STATUS_INVALID_INFO_CLASS`: the system does not know the class.
const STATUS_INVALID_INFO_CLASS: i32 = 0xC000_0003_u32 as i32;
/// Where `CommandLine`, a `UNICODE_STRING`, sits in a 64-bit
/// `RTL_USER_PROCESS_PARAMETERS`.
const PARAMETERS_COMMAND_LINE: usize = 0x70;
/// A `UNICODE_STRING` on 64-bit Windows: `Length`, `MaximumLength`, 4
/// bytes of padding, `Buffer`.
const UNICODE_STRING_SIZE: usize = 16;

/// The command line of the process `process` (opened with at least
/// `PROCESS_QUERY_LIMITED_INFORMATION`), split into its arguments; empty
/// when the process has none.
pub(crate) fn of(process: HANDLE) -> io::Result<Vec<String>> {
    let line = raw(process)?;
    Ok(split(&line))
}

/// The command line as the process was given it, in UTF-16.
fn raw(process: HANDLE) -> io::Result<Vec<u16>> {
    match queried(process) {
        Err(status) if status == STATUS_INVALID_INFO_CLASS => from_parameters(process),
        Err(status) => Err(ntstatus_error(status)),
        Ok(line) => Ok(line),
    }
}

/// The line from the process parameters of a 64-bit process.
fn from_parameters(process: HANDLE) -> io::Result<Vec<u16>> {
    if super::peb::is_wow64(process)? {
        return Err(io::Error::other(
            "a 32-bit process (WOW64): its process parameters are not read",
        ));
    }
    let at = super::peb::parameters(process)? + PARAMETERS_COMMAND_LINE;
    let header = super::peb::read_bytes(process, at, UNICODE_STRING_SIZE)?;
    let length = usize::from(u16::from_ne_bytes([header[0], header[1]]));
    let buffer = usize::from_ne_bytes(header[8..16].try_into().expect("eight bytes"));
    let mut bytes = header;
    bytes.extend(super::peb::read_bytes(process, buffer, length)?);
    Ok(text_of(&bytes))
}

/// The line by `ProcessCommandLineInformation`, or the NTSTATUS refusing it.
fn queried(process: HANDLE) -> Result<Vec<u16>, i32> {
    let mut needed = 0u32;
    // SAFETY: a valid handle; a null buffer of length 0 asks for the
    // length, written into a local.
    let status = unsafe {
        NtQueryInformationProcess(
            process,
            ProcessCommandLineInformation,
            std::ptr::null_mut(),
            0,
            &raw mut needed,
        )
    };
    if status != STATUS_INFO_LENGTH_MISMATCH && status < 0 {
        return Err(status);
    }
    // u64 words: the UNICODE_STRING at the start is 8-byte aligned.
    let mut buffer = vec![0u64; (needed as usize).max(UNICODE_STRING_SIZE).div_ceil(8)];
    let size = u32::try_from(buffer.len() * 8).unwrap_or(u32::MAX);
    // SAFETY: a valid handle; the buffer is ours, of the size given, and
    // the length is written into a local.
    let status = unsafe {
        NtQueryInformationProcess(
            process,
            ProcessCommandLineInformation,
            buffer.as_mut_ptr().cast(),
            size,
            &raw mut needed,
        )
    };
    if status < 0 {
        return Err(status);
    }
    let bytes: Vec<u8> = buffer.iter().flat_map(|w| w.to_ne_bytes()).collect();
    Ok(text_of(&bytes))
}

/// The text of the `UNICODE_STRING` at the start of `bytes`, whose
/// characters follow it in the same buffer (as the call returns them);
/// empty where its length does not fit. Pure.
fn text_of(bytes: &[u8]) -> Vec<u16> {
    let Some(header) = bytes.get(..UNICODE_STRING_SIZE) else {
        return Vec::new();
    };
    let length = usize::from(u16::from_ne_bytes([header[0], header[1]]));
    let text = bytes
        .get(UNICODE_STRING_SIZE..UNICODE_STRING_SIZE + length)
        .unwrap_or_default();
    text.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect()
}

/// The arguments of `line`, by `CommandLineToArgvW`; empty for an empty
/// line (for which the call would give afterlife's own path).
fn split(line: &[u16]) -> Vec<String> {
    if line.iter().all(|&c| c == u16::from(b' ') || c == u16::from(b'\t')) {
        return Vec::new();
    }
    let mut wide: Vec<u16> = line.to_vec();
    wide.push(0);
    let mut count = 0i32;
    // SAFETY: a NUL-terminated UTF-16 string we own, and a local for the
    // count; the result is checked for null and freed below.
    let argv = unsafe { CommandLineToArgvW(wide.as_ptr(), &raw mut count) };
    if argv.is_null() {
        return vec![String::from_utf16_lossy(line)];
    }
    // SAFETY: `argv` points to `count` string pointers.
    let pointers = unsafe { std::slice::from_raw_parts(argv, usize::try_from(count).unwrap_or(0)) };
    let args = pointers
        .iter()
        .map(|&arg| {
            // SAFETY: each string is NUL-terminated inside the block `argv`
            // heads, so every character up to the NUL may be read.
            let length = (0..).take_while(|&n| unsafe { *arg.wrapping_add(n) } != 0).count();
            // SAFETY: `length` characters were just read from `arg`.
            String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(arg, length) })
        })
        .collect();
    // SAFETY: `argv` is the one block CommandLineToArgvW allocated.
    unsafe { LocalFree(argv.cast()) };
    args
}

fn ntstatus_error(status: i32) -> io::Error {
    io::Error::other(format!(
        "NtQueryInformationProcess(ProcessCommandLineInformation): NTSTATUS {:#010X}",
        status as u32
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide(text: &str) -> Vec<u16> {
        text.encode_utf16().collect()
    }

    #[test]
    fn the_unicode_string_is_read_from_its_header() {
        let text = wide("ping -n 3");
        let mut bytes = vec![0u8; UNICODE_STRING_SIZE];
        bytes[..2].copy_from_slice(&((text.len() * 2) as u16).to_ne_bytes());
        bytes.extend(text.iter().flat_map(|c| c.to_ne_bytes()));
        assert_eq!(text_of(&bytes), text);
        // A length past the buffer gives nothing rather than a panic.
        bytes[..2].copy_from_slice(&400u16.to_ne_bytes());
        assert_eq!(text_of(&bytes), Vec::<u16>::new());
        assert_eq!(text_of(&bytes[..4]), Vec::<u16>::new());
    }

    #[test]
    fn lines_split_as_the_c_runtime_builds_argv() {
        assert_eq!(
            split(&wide(r#""C:\Program Files\x.exe" -a "b c" d\"e"#)),
            [r"C:\Program Files\x.exe", "-a", "b c", "d\"e"]
        );
        assert_eq!(split(&wide("ping.exe  -n   3")), ["ping.exe", "-n", "3"]);
        assert_eq!(split(&wide("")), Vec::<String>::new());
        assert_eq!(split(&wide("  ")), Vec::<String>::new());
    }

    #[test]
    fn afterlifes_own_line_is_read() {
        // SAFETY: the pseudo handle of this process.
        let own = unsafe { windows_sys::Win32::System::Threading::GetCurrentProcess() };
        let args = of(own).unwrap();
        let expected: Vec<String> = std::env::args().collect();
        assert_eq!(args.len(), expected.len(), "{args:?}");
        assert_eq!(args[1..], expected[1..]);
    }
}
