//! Windows exit codes and NTSTATUS values: a table of the ones users meet,
//! and the field layout of any 32-bit value.
//!
//! A Windows process exit code is a full 32-bit number. Programs that exit
//! normally return small values (often Win32 error numbers from
//! `winerror.h`); a process killed by an unhandled exception exits with the
//! exception code, an NTSTATUS value from `ntstatus.h` such as
//! `0xC0000005`. [`lookup`] and [`known_codes`] give the known values;
//! [`decode_layout`] splits any value into its NTSTATUS fields, as laid out
//! in [MS-ERREF] (Windows Error Codes) section 2.3, "NTSTATUS":
//!
//! ```text
//!  31 30 29 28 27          16 15                     0
//! +-----+--+--+--------------+------------------------+
//! | Sev | C| N|   Facility   |          Code          |
//! +-----+--+--+--------------+------------------------+
//! ```
//!
//! - Sev (2 bits): 0 success, 1 informational, 2 warning, 3 error;
//! - C: customer bit, set for values defined by an application rather than
//!   by Microsoft (the C++ and .NET exception codes `0xE...` have it);
//! - N: reserved, 0 (so that an NTSTATUS maps onto an HRESULT);
//! - Facility (12 bits): the subsystem, named in section 2.3.1;
//! - Code (16 bits): the value within the facility.
//!
//! HRESULTs (section 2.1) split the top bits differently; this module reads
//! every value as an NTSTATUS.

use serde::Serialize;

/// A known Windows exit code / NTSTATUS value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KnownCode {
    /// The value, as an unsigned 32-bit number.
    pub code: u32,
    /// Its symbolic name from the Windows headers, e.g. `STATUS_ACCESS_VIOLATION`.
    pub name: &'static str,
    /// What it means, in plain words: one sentence, lowercase start, no final period.
    pub meaning: &'static str,
}

const fn k(code: u32, name: &'static str, meaning: &'static str) -> KnownCode {
    KnownCode { code, name, meaning }
}

/// The known values, sorted by code (checked at compile time below).
///
/// Values and names are those of `winerror.h` and `ntstatus.h`; the codes
/// that come from elsewhere name their source header.
#[rustfmt::skip]
static KNOWN: &[KnownCode] = &[
    // Win32 error numbers (winerror.h) that programs commonly exit with.
    k(1, "ERROR_INVALID_FUNCTION", "generic failure: most programs exit with 1 on any error (as a Win32 error code, \"incorrect function\"); taskkill /f and Task Manager's End task usually leave 1 too"),
    k(2, "ERROR_FILE_NOT_FOUND", "as a Win32 error code, the system cannot find the file specified; many programs also exit with 2 for a usage error"),
    k(3, "ERROR_PATH_NOT_FOUND", "abort() in the Microsoft C runtime exits with 3 when it does not fail fast (like SIGABRT); as a Win32 error code, the system cannot find the path specified"),
    k(4, "ERROR_TOO_MANY_OPEN_FILES", "as a Win32 error code, the system cannot open the file because too many files are open"),
    k(5, "ERROR_ACCESS_DENIED", "as a Win32 error code, access is denied: a missing permission, a locked file, or a task that needs elevation"),
    k(6, "ERROR_INVALID_HANDLE", "as a Win32 error code, the handle is invalid"),
    k(8, "ERROR_NOT_ENOUGH_MEMORY", "as a Win32 error code, not enough memory is available to process the command"),
    k(87, "ERROR_INVALID_PARAMETER", "as a Win32 error code, the parameter is incorrect"),
    // ntstatus.h: success and informational.
    k(0x0000_0103, "STILL_ACTIVE", "the process has not exited yet: GetExitCodeProcess returns this while it runs (a process that exits with 259 is indistinguishable); also STATUS_PENDING"),
    k(0x4000_0015, "STATUS_FATAL_APP_EXIT", "the program ended itself through FatalAppExit, or abort() in a C runtime that could not fail fast (like SIGABRT)"),
    k(0x4001_0003, "DBG_TERMINATE_THREAD", "a debugger terminated the thread"),
    k(0x4001_0004, "DBG_TERMINATE_PROCESS", "a debugger terminated the process, for example when a debugging session was stopped"),
    k(0x4001_0005, "DBG_CONTROL_C", "ctrl+C was pressed in a console program running under a debugger (like SIGINT)"),
    k(0x4001_0006, "DBG_PRINTEXCEPTION_C", "the exception OutputDebugString raises to pass a message to a debugger; harmless, not a crash"),
    k(0x4001_0008, "DBG_CONTROL_BREAK", "ctrl+Break was pressed in a console program running under a debugger (like SIGINT)"),
    // ntstatus.h: warnings.
    k(0x8000_0001, "STATUS_GUARD_PAGE_VIOLATION", "a guard page was touched: normally handled internally (stack growth), so as an exit code it means a crash"),
    k(0x8000_0002, "STATUS_DATATYPE_MISALIGNMENT", "misaligned data access: the program read or wrote data at an address not aligned for its type (a crash, like SIGBUS)"),
    k(0x8000_0003, "STATUS_BREAKPOINT", "breakpoint: the program hit a breakpoint or called DebugBreak with no debugger attached, often an assertion in a debug build (like SIGTRAP)"),
    k(0x8000_0004, "STATUS_SINGLE_STEP", "single step: a trace trap fired with no debugger to handle it (like SIGTRAP)"),
    k(0x8000_0026, "STATUS_LONGJUMP", "a longjmp unwinding the stack; internal to the runtime, not a crash by itself"),
    k(0x8000_0029, "STATUS_UNWIND_CONSOLIDATE", "a frame consolidation during exception unwinding; internal to the runtime, not a crash by itself"),
    // ntstatus.h: errors.
    k(0xC000_0001, "STATUS_UNSUCCESSFUL", "generic failure: the operation was unsuccessful, with no more detail"),
    k(0xC000_0002, "STATUS_NOT_IMPLEMENTED", "the requested operation is not implemented"),
    k(0xC000_0005, "STATUS_ACCESS_VIOLATION", "access violation: the program read or wrote memory it may not touch (a crash, like SIGSEGV)"),
    k(0xC000_0006, "STATUS_IN_PAGE_ERROR", "a page of memory could not be read in, e.g. the executable's network share or removable drive went away (a crash, like SIGBUS)"),
    k(0xC000_0008, "STATUS_INVALID_HANDLE", "an invalid or already closed handle was used, caught under a debugger or strict handle checking"),
    k(0xC000_000D, "STATUS_INVALID_PARAMETER", "an invalid parameter was passed to a system service or function"),
    k(0xC000_0017, "STATUS_NO_MEMORY", "out of memory: not enough virtual memory or paging file quota to complete the operation"),
    k(0xC000_001D, "STATUS_ILLEGAL_INSTRUCTION", "illegal instruction: the CPU met an invalid instruction, e.g. code built for a newer CPU, or a deliberate trap (a crash, like SIGILL)"),
    k(0xC000_0022, "STATUS_ACCESS_DENIED", "access denied: the process lacked permission, often to a DLL or file it needed at start-up"),
    k(0xC000_0025, "STATUS_NONCONTINUABLE_EXCEPTION", "a handler tried to continue after an exception that cannot be continued (a crash)"),
    k(0xC000_0026, "STATUS_INVALID_DISPOSITION", "an exception handler returned an invalid disposition, a sign of a broken handler or corrupted stack (a crash)"),
    k(0xC000_0028, "STATUS_BAD_STACK", "exception unwinding found an invalid or misaligned stack: the stack is corrupted (a crash)"),
    k(0xC000_007B, "STATUS_INVALID_IMAGE_FORMAT", "an executable or DLL is not valid for this system, often a 32-bit/64-bit mismatch between the program and a DLL it loads"),
    k(0xC000_008C, "STATUS_ARRAY_BOUNDS_EXCEEDED", "an array index was out of bounds, caught by hardware bounds checking (a crash)"),
    k(0xC000_008D, "STATUS_FLOAT_DENORMAL_OPERAND", "floating-point trap: a denormal operand, raised only when the program unmasked that trap (like SIGFPE)"),
    k(0xC000_008E, "STATUS_FLOAT_DIVIDE_BY_ZERO", "floating-point trap: division by zero, raised only when the program unmasked that trap (like SIGFPE)"),
    k(0xC000_008F, "STATUS_FLOAT_INEXACT_RESULT", "floating-point trap: an inexact result, raised only when the program unmasked that trap (like SIGFPE)"),
    k(0xC000_0090, "STATUS_FLOAT_INVALID_OPERATION", "floating-point trap: an invalid operation, raised only when the program unmasked that trap (like SIGFPE)"),
    k(0xC000_0091, "STATUS_FLOAT_OVERFLOW", "floating-point trap: an overflow, raised only when the program unmasked that trap (like SIGFPE)"),
    k(0xC000_0092, "STATUS_FLOAT_STACK_CHECK", "floating-point trap: the x87 register stack overflowed or underflowed (like SIGFPE)"),
    k(0xC000_0093, "STATUS_FLOAT_UNDERFLOW", "floating-point trap: an underflow, raised only when the program unmasked that trap (like SIGFPE)"),
    k(0xC000_0094, "STATUS_INTEGER_DIVIDE_BY_ZERO", "integer division by zero (a crash, like SIGFPE)"),
    k(0xC000_0095, "STATUS_INTEGER_OVERFLOW", "integer overflow trap, e.g. dividing the most negative integer by -1 (a crash, like SIGFPE)"),
    k(0xC000_0096, "STATUS_PRIVILEGED_INSTRUCTION", "privileged instruction: the program ran an instruction only the kernel may run (a crash, like SIGILL or SIGSEGV)"),
    k(0xC000_009A, "STATUS_INSUFFICIENT_RESOURCES", "insufficient system resources (memory, handles or kernel pool) to complete the operation"),
    k(0xC000_00BB, "STATUS_NOT_SUPPORTED", "the request is not supported"),
    k(0xC000_00FD, "STATUS_STACK_OVERFLOW", "stack overflow: usually runaway recursion or a huge local variable (a crash; on Linux this is a SIGSEGV)"),
    k(0xC000_010A, "STATUS_PROCESS_IS_TERMINATING", "the process was already exiting when the operation was attempted"),
    k(0xC000_012D, "STATUS_COMMITMENT_LIMIT", "the system ran out of commit: memory and paging file are exhausted, or the paging file is too small"),
    k(0xC000_0135, "STATUS_DLL_NOT_FOUND", "a DLL the program needs was not found, so it could not start (check PATH and installed runtimes)"),
    k(0xC000_0138, "STATUS_ORDINAL_NOT_FOUND", "a DLL the program loads lacks an export ordinal it needs, usually a wrong DLL version, so it could not start"),
    k(0xC000_0139, "STATUS_ENTRYPOINT_NOT_FOUND", "a DLL the program loads lacks a function it needs, usually a wrong DLL version, so it could not start"),
    k(0xC000_013A, "STATUS_CONTROL_C_EXIT", "ended by ctrl+C or ctrl+Break, or its console window was closed (like SIGINT)"),
    k(0xC000_0142, "STATUS_DLL_INIT_FAILED", "a DLL's initialization failed, so the program could not start (can also mean the desktop heap ran out)"),
    k(0xC000_0144, "STATUS_UNHANDLED_EXCEPTION", "an exception went unhandled (a crash)"),
    k(0xC000_0145, "STATUS_APP_INIT_FAILURE", "the application failed to initialize properly"),
    k(0xC000_014B, "STATUS_PIPE_BROKEN", "broken pipe: the other end of a pipe was closed (like SIGPIPE or EPIPE)"),
    k(0xC000_0194, "STATUS_POSSIBLE_DEADLOCK", "possible deadlock: a wait on a critical section timed out"),
    k(0xC000_026B, "STATUS_DLL_INIT_FAILED_LOGOFF", "a DLL's initialization failed because Windows was logging off or shutting down"),
    k(0xC000_02B4, "STATUS_FLOAT_MULTIPLE_FAULTS", "several floating-point faults at once, from SSE instructions with unmasked traps (like SIGFPE)"),
    k(0xC000_02B5, "STATUS_FLOAT_MULTIPLE_TRAPS", "several floating-point traps at once, from SSE instructions with unmasked traps (like SIGFPE)"),
    k(0xC000_0374, "STATUS_HEAP_CORRUPTION", "heap corruption: the heap manager found its data damaged, e.g. by a double free or a write past a buffer (a crash, like glibc's SIGABRT)"),
    k(0xC000_0409, "STATUS_STACK_BUFFER_OVERRUN", "fail-fast: the program ended itself on purpose after detecting corruption (/GS stack cookie, __fastfail, or abort() in recent C runtimes and in Rust); not necessarily a buffer overrun (like SIGABRT)"),
    k(0xC000_0417, "STATUS_INVALID_CRUNTIME_PARAMETER", "the C runtime's invalid parameter handler ended the program, e.g. after a NULL or bad argument to a CRT function (like SIGABRT)"),
    k(0xC000_041D, "STATUS_FATAL_USER_CALLBACK_EXCEPTION", "an exception went unhandled in a callback called from the kernel, such as a window procedure (a crash)"),
    k(0xC000_0420, "STATUS_ASSERTION_FAILURE", "an assertion failed (NT_ASSERT / int 2c) with no debugger attached (like SIGABRT from assert)"),
    k(0xC000_0428, "STATUS_INVALID_IMAGE_HASH", "code integrity: the executable's or a DLL's signature is invalid or was rejected, so it could not load"),
    k(0xC000_0602, "STATUS_FAIL_FAST_EXCEPTION", "fail-fast: the program ended itself at once through RaiseFailFastException, skipping all exception handlers (like SIGABRT)"),
    k(0xC015_0002, "STATUS_SXS_CANT_GEN_ACTCTX", "side-by-side configuration is incorrect: a manifest dependency, often a Visual C++ runtime, is missing, so the program could not start"),
    // Visual C++ delay loading (delayimp.h): VcppException(sev, err) = sev | FACILITY_VISUALCPP (0x6d) << 16 | err.
    k(0xC06D_007E, "VcppException(ERROR_SEVERITY_ERROR, ERROR_MOD_NOT_FOUND)", "delay-load failure: a DLL the program loads on first use was not found (Visual C++ delay-load helper)"),
    k(0xC06D_007F, "VcppException(ERROR_SEVERITY_ERROR, ERROR_PROC_NOT_FOUND)", "delay-load failure: a function in a DLL the program loads on first use was not found (Visual C++ delay-load helper)"),
    // Customer-defined exception codes of the .NET and C++ runtimes.
    k(0xE043_4352, "EXCEPTION_COMPLUS", "unhandled .NET exception: the CLR (.NET Framework 4 and later, .NET Core) ended the program (code 0xE0000000 | \"CCR\")"),
    k(0xE043_4F4D, "STATUS_CLR_EXCEPTION", "unhandled .NET exception from an old CLR (.NET Framework 1.0 to 3.5; code 0xE0000000 | \"COM\")"),
    k(0xE06D_7363, "EH_EXCEPTION_NUMBER", "unhandled C++ exception: a Visual C++ `throw` that nothing caught (code 0xE0000000 | \"msc\"; debuggers call it STATUS_CPP_EH_EXCEPTION)"),
];

const fn is_sorted_and_unique(table: &[KnownCode]) -> bool {
    let mut i = 1;
    while i < table.len() {
        if table[i - 1].code >= table[i].code {
            return false;
        }
        i += 1;
    }
    true
}

const _: () = assert!(
    is_sorted_and_unique(KNOWN),
    "the table of known codes must be sorted by code, without duplicates"
);

/// Looks up a known value.
pub fn lookup(code: u32) -> Option<&'static KnownCode> {
    KNOWN
        .binary_search_by_key(&code, |known| known.code)
        .ok()
        .map(|i| &KNOWN[i])
}

/// All known values, sorted by code.
pub fn known_codes() -> &'static [KnownCode] {
    KNOWN
}

/// Severity field (bits 30-31).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 0: success.
    Success,
    /// 1: informational.
    Informational,
    /// 2: warning.
    Warning,
    /// 3: error.
    Error,
}

impl Severity {
    /// The severity in one lowercase word: "success", "informational", "warning" or "error".
    pub fn describe(self) -> &'static str {
        match self {
            Severity::Success => "success",
            Severity::Informational => "informational",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The NTSTATUS layout of any 32-bit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NtStatusLayout {
    /// Bits 30-31.
    pub severity: Severity,
    /// Bit 29 (C): set for customer-defined (application) values.
    pub customer: bool,
    /// Bit 28 (N): reserved, 0 in every proper NTSTATUS.
    pub reserved: bool,
    /// Bits 16-27: the facility.
    pub facility: u16,
    /// The facility's name from MS-ERREF section 2.3.1, if it is a known
    /// Microsoft facility. `None` for facility 0 (no facility), for unknown
    /// facilities, and for customer-defined values, whose facility is the
    /// application's own.
    pub facility_name: Option<&'static str>,
    /// Bits 0-15: the code within the facility.
    pub code: u16,
}

/// NTSTATUS facility names, MS-ERREF section 2.3.1 (and `ntstatus.h`), sorted by value.
#[rustfmt::skip]
const FACILITIES: &[(u16, &str)] = &[
    (0x001, "FACILITY_DEBUGGER"),
    (0x002, "FACILITY_RPC_RUNTIME"),
    (0x003, "FACILITY_RPC_STUBS"),
    (0x004, "FACILITY_IO_ERROR_CODE"),
    (0x006, "FACILITY_CODCLASS_ERROR_CODE"),
    (0x007, "FACILITY_NTWIN32"),
    (0x008, "FACILITY_NTCERT"),
    (0x009, "FACILITY_NTSSPI"),
    (0x00A, "FACILITY_TERMINAL_SERVER"),
    (0x00B, "FACILTIY_MUI_ERROR_CODE"), // sic: ntstatus.h spells it so
    (0x010, "FACILITY_USB_ERROR_CODE"),
    (0x011, "FACILITY_HID_ERROR_CODE"),
    (0x012, "FACILITY_FIREWIRE_ERROR_CODE"),
    (0x013, "FACILITY_CLUSTER_ERROR_CODE"),
    (0x014, "FACILITY_ACPI_ERROR_CODE"),
    (0x015, "FACILITY_SXS_ERROR_CODE"),
    (0x019, "FACILITY_TRANSACTION"),
    (0x01A, "FACILITY_COMMONLOG"),
    (0x01B, "FACILITY_VIDEO"),
    (0x01C, "FACILITY_FILTER_MANAGER"),
    (0x01D, "FACILITY_MONITOR"),
    (0x01E, "FACILITY_GRAPHICS_KERNEL"),
    (0x020, "FACILITY_DRIVER_FRAMEWORK"),
    (0x021, "FACILITY_FVE_ERROR_CODE"),
    (0x022, "FACILITY_FWP_ERROR_CODE"),
    (0x023, "FACILITY_NDIS_ERROR_CODE"),
    (0x035, "FACILITY_HYPERVISOR"),
    (0x036, "FACILITY_IPSEC"),
];

fn facility_name(facility: u16) -> Option<&'static str> {
    FACILITIES
        .binary_search_by_key(&facility, |&(value, _)| value)
        .ok()
        .map(|i| FACILITIES[i].1)
}

/// Splits a value into the NTSTATUS fields.
pub fn decode_layout(value: u32) -> NtStatusLayout {
    let severity = match value >> 30 {
        0 => Severity::Success,
        1 => Severity::Informational,
        2 => Severity::Warning,
        _ => Severity::Error,
    };
    let customer = value & (1 << 29) != 0;
    let facility = ((value >> 16) & 0x0FFF) as u16;
    NtStatusLayout {
        severity,
        customer,
        reserved: value & (1 << 28) != 0,
        facility,
        facility_name: if customer { None } else { facility_name(facility) },
        code: (value & 0xFFFF) as u16,
    }
}

/// Whether a value looks like an NTSTATUS/exception code rather than a small
/// exit code: its severity bits are set (`>= 0x40000000`).
pub fn looks_like_ntstatus(value: u32) -> bool {
    value >= 0x4000_0000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        let codes = known_codes();
        assert!(codes.len() >= 45, "only {} entries", codes.len());
        assert!(codes.windows(2).all(|pair| pair[0].code < pair[1].code));
        for known in codes {
            assert!(!known.name.is_empty(), "{:#x}", known.code);
            let first = known
                .meaning
                .chars()
                .next()
                .unwrap_or_else(|| panic!("{} has no meaning", known.name));
            assert!(first.is_lowercase(), "{}: meaning must start lowercase", known.name);
            assert!(
                !known.meaning.ends_with('.'),
                "{}: meaning must not end with a period",
                known.name
            );
            assert_eq!(lookup(known.code), Some(known));
        }
        assert!(FACILITIES.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn lookups() {
        for (code, name) in [
            (0xC000_0005, "STATUS_ACCESS_VIOLATION"),
            (259, "STILL_ACTIVE"),
            (0xC000_0409, "STATUS_STACK_BUFFER_OVERRUN"),
            (0xC000_0374, "STATUS_HEAP_CORRUPTION"),
            (0xC000_0135, "STATUS_DLL_NOT_FOUND"),
            (0xC000_0139, "STATUS_ENTRYPOINT_NOT_FOUND"),
            (0xC000_0142, "STATUS_DLL_INIT_FAILED"),
            (0xC000_013A, "STATUS_CONTROL_C_EXIT"),
            (0x4001_0004, "DBG_TERMINATE_PROCESS"),
            (0x8000_0003, "STATUS_BREAKPOINT"),
            (0xE043_4352, "EXCEPTION_COMPLUS"),
        ] {
            assert_eq!(lookup(code).map(|k| k.name), Some(name), "{code:#x}");
        }
        assert_eq!(lookup(0xC0FE_0001), None);
        assert_eq!(lookup(u32::MAX), None);
    }

    #[test]
    fn layouts() {
        assert_eq!(
            decode_layout(0xC000_0005),
            NtStatusLayout {
                severity: Severity::Error,
                customer: false,
                reserved: false,
                facility: 0,
                facility_name: None,
                code: 5,
            }
        );
        assert_eq!(
            decode_layout(0xE043_4352),
            NtStatusLayout {
                severity: Severity::Error,
                customer: true,
                reserved: false,
                facility: 0x043,
                facility_name: None,
                code: 0x4352,
            }
        );
        assert_eq!(
            decode_layout(0x8007_0005),
            NtStatusLayout {
                severity: Severity::Warning,
                customer: false,
                reserved: false,
                facility: 7,
                facility_name: Some("FACILITY_NTWIN32"),
                code: 5,
            }
        );
        let informational = decode_layout(0x4001_0004);
        assert_eq!(informational.severity, Severity::Informational);
        assert_eq!(informational.facility_name, Some("FACILITY_DEBUGGER"));
        assert_eq!(decode_layout(0xC019_0001).facility_name, Some("FACILITY_TRANSACTION"));
        assert_eq!(decode_layout(259).severity, Severity::Success);
        assert!(decode_layout(0x1000_0000).reserved);
    }

    #[test]
    fn ntstatus_heuristic() {
        assert!(!looks_like_ntstatus(259));
        assert!(!looks_like_ntstatus(0));
        assert!(looks_like_ntstatus(0xC000_0005));
        assert!(looks_like_ntstatus(0x4000_0000));
    }

    #[test]
    fn severity_words_and_serialization() {
        assert_eq!(Severity::Success.describe(), "success");
        assert_eq!(Severity::Informational.describe(), "informational");
        assert_eq!(Severity::Warning.describe(), "warning");
        assert_eq!(Severity::Error.describe(), "error");
        let json = serde_json::to_string(&decode_layout(0xC000_0005)).unwrap();
        assert_eq!(
            json,
            r#"{"severity":"error","customer":false,"reserved":false,"facility":0,"facility_name":null,"code":5}"#
        );
        let known = serde_json::to_string(lookup(0xC000_0005).unwrap()).unwrap();
        assert!(known.starts_with(r#"{"code":3221225477,"name":"STATUS_ACCESS_VIOLATION""#));
    }
}
