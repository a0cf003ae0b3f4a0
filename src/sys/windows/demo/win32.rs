//! The Win32 calls of the demo, each a small safe function around one
//! `unsafe` operation: the endings (ExitProcess, ExitThread, a real access
//! violation, the C runtime's abort), console control, named kernel
//! objects (mutexes, file mappings), handle inheritance, a process's
//! private bytes, and a pseudo console for the console scenarios.

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::AsRawHandle;

use windows_sys::Win32::Foundation::{HANDLE, HANDLE_FLAG_INHERIT, SetHandleInformation, WAIT_FAILED};
use windows_sys::Win32::System::Console::{
    CONSOLE_SCREEN_BUFFER_INFO, COORD, ClosePseudoConsole, CreatePseudoConsole, GenerateConsoleCtrlEvent,
    GetConsoleScreenBufferInfo, GetStdHandle, HPCON, PHANDLER_ROUTINE, STD_OUTPUT_HANDLE, SetConsoleCtrlHandler,
};
use windows_sys::Win32::System::Diagnostics::Debug::{SEM_NOGPFAULTERRORBOX, SetErrorMode};
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, FILE_MAP_ALL_ACCESS, FILE_MAP_READ, MEM_COMMIT, MEM_RESERVE, MEMORY_MAPPED_VIEW_ADDRESS,
    MapViewOfFile, OpenFileMappingW, PAGE_NOACCESS, PAGE_READWRITE, UnmapViewOfFile, VirtualAlloc,
};
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::SystemInformation::{GetVersionExW, OSVERSIONINFOW};
use windows_sys::Win32::System::Threading::{
    CreateMutexW, CreateProcessW, DeleteProcThreadAttributeList, EXTENDED_STARTUPINFO_PRESENT, ExitProcess, ExitThread,
    GetCurrentThreadId, GetExitCodeProcess, InitializeProcThreadAttributeList, LPPROC_THREAD_ATTRIBUTE_LIST,
    MUTEX_MODIFY_STATE, OpenMutexW, OpenThread, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE,
    PROCESS_INFORMATION, ReleaseMutex, STARTF_USESTDHANDLES, STARTUPINFOEXW, SYNCHRONIZATION_SYNCHRONIZE,
    THREAD_SYNCHRONIZE, TerminateProcess, UpdateProcThreadAttribute, WaitForSingleObject,
};

use crate::sys::windows::handle::Handle;

/// `text` as a NUL-terminated UTF-16 string.
pub(crate) fn wide(text: impl AsRef<OsStr>) -> Vec<u16> {
    text.as_ref().encode_wide().chain([0]).collect()
}

fn handle_or_error(raw: HANDLE) -> io::Result<Handle> {
    Handle::from_raw(raw).ok_or_else(io::Error::last_os_error)
}

fn check(ok: windows_sys::core::BOOL) -> io::Result<()> {
    if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `ExitProcess(code)`: the process ends here, its other threads with it.
pub(crate) fn exit_process(code: u32) -> ! {
    // SAFETY: ends the process; nothing after it runs.
    unsafe { ExitProcess(code) }
}

/// `ExitThread(code)`: the calling thread ends here; the process ends with
/// it only if it was the last one.
pub(crate) fn exit_thread(code: u32) -> ! {
    // SAFETY: ends the calling thread; its Rust frames are never returned
    // to, and nothing it owns is used by another thread.
    unsafe { ExitThread(code) }
}

/// The calling thread's ID.
pub(crate) fn current_thread_id() -> u32 {
    // SAFETY: no arguments, no failure.
    unsafe { GetCurrentThreadId() }
}

/// A thread opened for waiting on.
pub(crate) fn open_thread(tid: u32) -> io::Result<Handle> {
    // SAFETY: plain call; the result is checked.
    handle_or_error(unsafe { OpenThread(THREAD_SYNCHRONIZE, 0, tid) })
}

/// `WaitForSingleObject` on any waitable handle: its raw answer
/// (`WAIT_OBJECT_0`, `WAIT_ABANDONED`, `WAIT_TIMEOUT`).
pub(crate) fn wait_object(handle: &Handle, millis: u32) -> io::Result<u32> {
    // SAFETY: a valid handle opened with SYNCHRONIZE.
    let answer = unsafe { WaitForSingleObject(handle.raw(), millis) };
    if answer == WAIT_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(answer)
    }
}

/// `GetExitCodeProcess` as a naive caller reads it: 259 (`STILL_ACTIVE`)
/// both while the process runs and after it exited with 259.
pub(crate) fn raw_exit_code(process: HANDLE) -> Option<u32> {
    let mut code = 0u32;
    // SAFETY: a valid process handle and a local to write into.
    let ok = unsafe { GetExitCodeProcess(process, &mut code) };
    (ok != 0).then_some(code)
}

/// `TerminateProcess` on a process handle not held as a `ProcessHandle`.
pub(crate) fn terminate(process: &Handle, code: u32) -> io::Result<()> {
    // SAFETY: a valid process handle with PROCESS_TERMINATE (a creator's).
    check(unsafe { TerminateProcess(process.raw(), code) })
}

/// A named mutex, created owned by the calling thread.
pub(crate) fn create_owned_mutex(name: &str) -> io::Result<Handle> {
    let name = wide(name);
    // SAFETY: a NUL-terminated name that outlives the call.
    handle_or_error(unsafe { CreateMutexW(std::ptr::null(), 1, name.as_ptr()) })
}

/// A named mutex opened to wait on and release.
pub(crate) fn open_mutex(name: &str) -> io::Result<Handle> {
    let name = wide(name);
    // SAFETY: a NUL-terminated name that outlives the call.
    handle_or_error(unsafe { OpenMutexW(SYNCHRONIZATION_SYNCHRONIZE | MUTEX_MODIFY_STATE, 0, name.as_ptr()) })
}

/// Releases a mutex the calling thread owns.
pub(crate) fn release_mutex(mutex: &Handle) -> io::Result<()> {
    // SAFETY: a valid mutex handle.
    check(unsafe { ReleaseMutex(mutex.raw()) })
}

/// A named file mapping of `size` bytes backed by the paging file.
pub(crate) fn create_mapping(name: &str, size: u32) -> io::Result<Handle> {
    let name = wide(name);
    let invalid = windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
    // SAFETY: the paging file (INVALID_HANDLE_VALUE), a NUL-terminated name.
    handle_or_error(unsafe { CreateFileMappingW(invalid, std::ptr::null(), PAGE_READWRITE, 0, size, name.as_ptr()) })
}

/// A named file mapping opened for reading.
pub(crate) fn open_mapping(name: &str) -> io::Result<Handle> {
    let name = wide(name);
    // SAFETY: a NUL-terminated name that outlives the call.
    handle_or_error(unsafe { OpenFileMappingW(FILE_MAP_READ, 0, name.as_ptr()) })
}

/// A view of a file mapping, unmapped on drop.
pub(crate) struct View {
    address: MEMORY_MAPPED_VIEW_ADDRESS,
    len: usize,
}

impl View {
    /// Maps the first `len` bytes of `mapping` (read-write when `write`).
    pub(crate) fn map(mapping: &Handle, len: usize, write: bool) -> io::Result<View> {
        let access = if write { FILE_MAP_ALL_ACCESS } else { FILE_MAP_READ };
        // SAFETY: a valid mapping handle; the length is within the mapping
        // (the callers map what they created).
        let address = unsafe { MapViewOfFile(mapping.raw(), access, 0, 0, len) };
        if address.Value.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(View { address, len })
    }

    /// The bytes of the view.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the view maps `len` readable bytes for as long as it lives.
        unsafe { std::slice::from_raw_parts(self.address.Value.cast::<u8>(), self.len) }
    }

    /// Copies `data` to the start of a writable view.
    pub(crate) fn write(&mut self, data: &[u8]) {
        let len = data.len().min(self.len);
        // SAFETY: the view maps `len` writable bytes (mapped with
        // FILE_MAP_ALL_ACCESS) that nothing else in this process borrows.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.address.Value.cast::<u8>(), len) };
    }
}

impl Drop for View {
    fn drop(&mut self) {
        // SAFETY: the address MapViewOfFile returned, unmapped once.
        unsafe { UnmapViewOfFile(self.address) };
    }
}

/// Whether a handle (or a socket, which is one) is inherited by processes
/// started with `bInheritHandles = TRUE`.
pub(crate) fn set_inheritable(raw: HANDLE, inheritable: bool) -> io::Result<()> {
    let flags = if inheritable { HANDLE_FLAG_INHERIT } else { 0 };
    // SAFETY: a valid handle of this process.
    check(unsafe { SetHandleInformation(raw, HANDLE_FLAG_INHERIT, flags) })
}

/// This process's standard output handle.
pub(crate) fn stdout_handle() -> HANDLE {
    // SAFETY: no preconditions; the handle is not owned by the caller.
    unsafe { GetStdHandle(STD_OUTPUT_HANDLE) }
}

/// `SetConsoleCtrlHandler(NULL, ignore)`: whether Ctrl+C is ignored (a
/// new process group starts with it ignored).
pub(crate) fn ignore_ctrl_c(ignore: bool) -> io::Result<()> {
    // SAFETY: a NULL handler only sets the process's Ctrl+C flag.
    check(unsafe { SetConsoleCtrlHandler(None, i32::from(ignore)) })
}

/// Adds a console control handler for the rest of the process's life.
pub(crate) fn add_ctrl_handler(handler: PHANDLER_ROUTINE) -> io::Result<()> {
    // SAFETY: the handler is a function valid for the whole process.
    check(unsafe { SetConsoleCtrlHandler(handler, 1) })
}

/// `GenerateConsoleCtrlEvent(event, group)`.
pub(crate) fn send_ctrl_event(event: u32, group: u32) -> io::Result<()> {
    // SAFETY: plain call.
    check(unsafe { GenerateConsoleCtrlEvent(event, group) })
}

/// No error box and no wait for a user when the process faults.
pub(crate) fn no_fault_dialog() {
    // SAFETY: sets a process flag.
    unsafe { SetErrorMode(SEM_NOGPFAULTERRORBOX) };
}

/// A real access violation: a read of a committed page with no access.
pub(crate) fn access_violation() -> ! {
    // SAFETY: a fresh reservation and commit of one page, no access.
    let page = unsafe { VirtualAlloc(std::ptr::null(), 4096, MEM_COMMIT | MEM_RESERVE, PAGE_NOACCESS) };
    if page.is_null() {
        exit_process(1);
    }
    // SAFETY: the page is allocated and aligned; PAGE_NOACCESS makes the
    // processor fault on the read, which is the point: the exception is
    // raised before any value is produced, and nothing handles it.
    let byte = unsafe { std::ptr::read_volatile(page.cast::<u8>()) };
    exit_process(u32::from(byte))
}

unsafe extern "C" {
    /// The C runtime's abort(3).
    #[link_name = "abort"]
    fn c_abort() -> !;
}

/// The C runtime's `abort()`.
pub(crate) fn crt_abort() -> ! {
    // SAFETY: abort takes nothing and never returns.
    unsafe { c_abort() }
}

/// Bytes of private memory committed by a process (PagefileUsage).
pub(crate) fn private_bytes(process: HANDLE) -> io::Result<usize> {
    let mut counters = PROCESS_MEMORY_COUNTERS {
        cb: std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32,
        ..Default::default()
    };
    // SAFETY: a valid process handle and a local of the size given.
    check(unsafe { K32GetProcessMemoryInfo(process, &mut counters, counters.cb) })?;
    Ok(counters.PagefileUsage)
}

/// Wine's version, when this runs under Wine (`wine_get_version` in ntdll).
pub(crate) fn wine_version() -> Option<String> {
    let ntdll = wide("ntdll.dll");
    // SAFETY: a NUL-terminated name; ntdll is loaded in every process.
    let module = unsafe { GetModuleHandleW(ntdll.as_ptr()) };
    if module.is_null() {
        return None;
    }
    // SAFETY: a loaded module and a NUL-terminated name.
    let function = unsafe { GetProcAddress(module, c"wine_get_version".as_ptr().cast()) }?;
    // SAFETY: Wine's `const char *wine_get_version(void)`, same calling
    // convention on x86_64.
    let get = unsafe {
        std::mem::transmute::<unsafe extern "system" fn() -> isize, unsafe extern "C" fn() -> *const std::ffi::c_char>(
            function,
        )
    };
    // SAFETY: takes nothing; returns a static string.
    let text = unsafe { get() };
    if text.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated static string.
    Some(unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy().into_owned())
}

/// The version Windows reports to this program: `6.1.7601`.
pub(crate) fn windows_version() -> String {
    let mut info = OSVERSIONINFOW {
        dwOSVersionInfoSize: std::mem::size_of::<OSVERSIONINFOW>() as u32,
        ..Default::default()
    };
    // SAFETY: a local with its size set.
    if unsafe { GetVersionExW(&mut info) } == 0 {
        return String::new();
    }
    format!("{}.{}.{}", info.dwMajorVersion, info.dwMinorVersion, info.dwBuildNumber)
}

/// The width of the console window on stdout, if stdout is a console.
pub(crate) fn console_columns() -> Option<usize> {
    let mut info = CONSOLE_SCREEN_BUFFER_INFO::default();
    // SAFETY: the process's stdout handle and a local to write into.
    let ok = unsafe { GetConsoleScreenBufferInfo(stdout_handle(), &mut info) };
    let width = i32::from(info.srWindow.Right) - i32::from(info.srWindow.Left) + 1;
    (ok != 0 && width > 0).then_some(width as usize)
}

/// A pseudo console: a console of its own for the processes started in
/// it, so that console control events can be sent among them whether or
/// not afterlife itself has a console. Its output is read and dropped.
pub(crate) struct PseudoConsole {
    console: HPCON,
    input: Option<std::io::PipeWriter>,
    drain: Option<std::thread::JoinHandle<()>>,
}

impl PseudoConsole {
    /// A new pseudo console of 80x25.
    pub(crate) fn new() -> io::Result<PseudoConsole> {
        let (input_read, input_write) = std::io::pipe()?;
        let (mut output_read, output_write) = std::io::pipe()?;
        let mut console: HPCON = 0;
        let size = COORD { X: 80, Y: 25 };
        // SAFETY: two valid pipe ends (the console host duplicates them)
        // and a local to write into.
        let result = unsafe {
            CreatePseudoConsole(
                size,
                input_read.as_raw_handle(),
                output_write.as_raw_handle(),
                0,
                &mut console,
            )
        };
        if result != 0 {
            return Err(io::Error::from_raw_os_error(result));
        }
        // The console host holds its own copies of its ends; the output is
        // drained until the console closes.
        drop((input_read, output_write));
        let drain = std::thread::spawn(move || {
            let _ = std::io::copy(&mut output_read, &mut std::io::sink());
        });
        Ok(PseudoConsole {
            console,
            input: Some(input_write),
            drain: Some(drain),
        })
    }

    /// Starts `command_line` in the console with `stdin` and `stdout` as its
    /// standard handles (stderr is stdout), inheriting nothing else.
    pub(crate) fn spawn(
        &self,
        command_line: &str,
        stdin: &impl AsRawHandle,
        stdout: &impl AsRawHandle,
    ) -> io::Result<Handle> {
        let list = AttributeList::new(2)?;
        let handles: [HANDLE; 2] = [stdin.as_raw_handle(), stdout.as_raw_handle()];
        for handle in handles {
            set_inheritable(handle, true)?;
        }
        list.set(
            PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE,
            self.console as *const _,
            std::mem::size_of::<HPCON>(),
        )?;
        list.set(
            PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
            handles.as_ptr().cast(),
            std::mem::size_of_val(&handles),
        )?;
        let mut startup = STARTUPINFOEXW::default();
        startup.StartupInfo.cb = std::mem::size_of::<STARTUPINFOEXW>() as u32;
        startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
        startup.StartupInfo.hStdInput = handles[0];
        startup.StartupInfo.hStdOutput = handles[1];
        startup.StartupInfo.hStdError = handles[1];
        startup.lpAttributeList = list.raw();
        let mut command_line = wide(command_line);
        let mut info = PROCESS_INFORMATION::default();
        // SAFETY: a writable NUL-terminated command line, a startup block
        // whose attribute list and handles outlive the call, and a local
        // to write into.
        let ok = unsafe {
            CreateProcessW(
                std::ptr::null(),
                command_line.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                1,
                EXTENDED_STARTUPINFO_PRESENT,
                std::ptr::null(),
                std::ptr::null(),
                &startup.StartupInfo,
                &mut info,
            )
        };
        check(ok)?;
        drop(Handle::from_raw(info.hThread));
        handle_or_error(info.hProcess)
    }
}

impl Drop for PseudoConsole {
    fn drop(&mut self) {
        // SAFETY: the console created in `new`, closed once; the processes
        // still attached get CTRL_CLOSE_EVENT.
        unsafe { ClosePseudoConsole(self.console) };
        drop(self.input.take());
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

/// A `PROC_THREAD_ATTRIBUTE_LIST`, deleted on drop.
struct AttributeList {
    buffer: Vec<u64>,
}

impl AttributeList {
    fn new(count: u32) -> io::Result<AttributeList> {
        let mut size = 0usize;
        // SAFETY: asks for the size only (a null list); fails by design.
        unsafe { InitializeProcThreadAttributeList(std::ptr::null_mut(), count, 0, &mut size) };
        let mut buffer = vec![0u64; size.div_ceil(8)];
        // SAFETY: a buffer of at least `size` bytes, 8-aligned.
        check(unsafe { InitializeProcThreadAttributeList(buffer.as_mut_ptr().cast(), count, 0, &mut size) })?;
        Ok(AttributeList { buffer })
    }

    fn raw(&self) -> LPPROC_THREAD_ATTRIBUTE_LIST {
        self.buffer.as_ptr().cast_mut().cast()
    }

    /// Sets one attribute; `value` must outlive the list's use.
    fn set(&self, attribute: u32, value: *const std::ffi::c_void, size: usize) -> io::Result<()> {
        // SAFETY: an initialized list; the value pointer and size describe
        // memory that outlives the process creation that reads it.
        let ok = unsafe {
            UpdateProcThreadAttribute(
                self.raw(),
                0,
                attribute as usize,
                value,
                size,
                std::ptr::null_mut(),
                std::ptr::null(),
            )
        };
        check(ok)
    }
}

impl Drop for AttributeList {
    fn drop(&mut self) {
        // SAFETY: a list initialized in `new`, deleted once.
        unsafe { DeleteProcThreadAttributeList(self.raw()) };
    }
}
