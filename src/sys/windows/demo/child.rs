//! The demo's children on Windows: `afterlife __child demo-MODE ARGS`,
//! processes that end, hold or leave things in one known way each. Each
//! prints one line when it is ready (`ready`, or `WORD VALUE...` with what
//! the demo needs to know), then does what its mode says.

use std::io::Write;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use windows_sys::Win32::Storage::FileSystem::FILE_FLAG_DELETE_ON_CLOSE;
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT};
use windows_sys::Win32::System::Threading::CREATE_NEW_PROCESS_GROUP;

use super::win32;

/// The prefix of the demo's child modes.
pub(crate) const PREFIX: &str = "demo-";

/// The exit code of a console control handler in the demo's children.
pub(crate) const HANDLER_CODE: u32 = 42;

/// How long a child waits for the demo to end it, at most.
const LINGER: Duration = Duration::from_secs(30);

/// Runs `mode` (without the prefix) with `args`; returns the exit code
/// when the mode returns from main.
pub(crate) fn run(mode: &str, args: &[String]) -> u8 {
    let arg = |i: usize| args.get(i).map_or("", String::as_str);
    let number = |i: usize| arg(i).parse::<u32>().unwrap_or(0);
    match mode {
        "exit" => exit(number(0), arg(1)),
        "return" => return_from_main(number(0), arg(1)),
        "last-thread" => last_thread(number(0)),
        "sleep" => sleep(arg(0)),
        "fault" => fault(arg(0)),
        "hold" => hold(arg(0), arg(1)),
        "write" => write(arg(0), arg(1), arg(2)),
        "mapping" => mapping(arg(0)),
        "orphan" => orphan(),
        "listen" => listen(arg(0) == "inherit"),
        "ctrl-agent" => ctrl_agent(),
        "ctrl-target" => ctrl_target(arg(0)),
        _ => {
            eprintln!("afterlife: error: unknown demo child mode");
            crate::exit_code::FAILURE
        }
    }
}

/// Writes its file when dropped: whether destructors ran.
struct WritesOnDrop(String);

impl Drop for WritesOnDrop {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = std::fs::write(&self.0, "dropped");
        }
    }
}

fn ready(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `ExitProcess(code)` with a destructor pending.
fn exit(code: u32, marker: &str) -> u8 {
    let _guard = WritesOnDrop(marker.to_string());
    ready("ready");
    win32::exit_process(code)
}

/// Returns `code` from main with a destructor pending.
fn return_from_main(code: u32, marker: &str) -> u8 {
    let _guard = WritesOnDrop(marker.to_string());
    ready("ready");
    code as u8
}

/// The main thread calls ExitThread while a worker runs; the worker ends
/// last, with `code`.
fn last_thread(code: u32) -> u8 {
    let _worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        win32::exit_thread(code)
    });
    ready(&format!("main {}", win32::current_thread_id()));
    win32::exit_thread(0)
}

/// Sleeps until ended, with a destructor pending.
fn sleep(marker: &str) -> u8 {
    let _guard = WritesOnDrop(marker.to_string());
    ready("ready");
    std::thread::sleep(LINGER);
    0
}

/// An unhandled exception or an abort.
fn fault(kind: &str) -> u8 {
    // What services do: no error box waiting for a user.
    win32::no_fault_dialog();
    match kind {
        "access-violation" => win32::access_violation(),
        "rust-abort" => std::process::abort(),
        "crt-abort" => win32::crt_abort(),
        _ => crate::exit_code::FAILURE,
    }
}

/// Holds memory, an owned named mutex and a file opened with no sharing.
fn hold(mutex: &str, path: &str) -> u8 {
    const MIB: usize = 1 << 20;
    let memory = vec![1u8; 64 * MIB];
    let owned = win32::create_owned_mutex(mutex);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .share_mode(0)
        .open(path);
    if owned.is_err() || file.is_err() {
        return crate::exit_code::FAILURE;
    }
    std::hint::black_box(&memory);
    ready("ready");
    std::thread::sleep(LINGER);
    drop((owned, file));
    0
}

/// Writes a file, a temp file, and a temp file with
/// FILE_FLAG_DELETE_ON_CLOSE, keeping the last open.
fn write(path: &str, temp: &str, on_close: &str) -> u8 {
    let written = std::fs::write(path, "written before the end\n").and(std::fs::write(temp, "scratch\n"));
    let kept = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(FILE_FLAG_DELETE_ON_CLOSE)
        .open(on_close)
        .and_then(|mut f| f.write_all(b"scratch\n").map(|()| f));
    if written.is_err() || kept.is_err() {
        return crate::exit_code::FAILURE;
    }
    ready("ready");
    std::thread::sleep(LINGER);
    drop(kept);
    0
}

/// A named file mapping with a line written into it.
fn mapping(name: &str) -> u8 {
    let Ok(mapping) = win32::create_mapping(name, 4096) else {
        return crate::exit_code::FAILURE;
    };
    let Ok(mut view) = win32::View::map(&mapping, 4096, true) else {
        return crate::exit_code::FAILURE;
    };
    view.write(format!("written by {}\0", std::process::id()).as_bytes());
    ready("ready");
    std::thread::sleep(LINGER);
    drop((view, mapping));
    0
}

/// This process's stdout is not handed to the processes it starts: the
/// demo reads it to its end.
fn keep_stdout_own() {
    let _ = win32::set_inheritable(win32::stdout_handle(), false);
}

fn spawn_sleeper() -> Option<std::process::Child> {
    let exe = std::env::current_exe().ok()?;
    Command::new(exe)
        .args([crate::sys::windows::child::CHILD_COMMAND, "sleep", "30000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// Starts a child, says its PID, and sleeps until ended.
fn orphan() -> u8 {
    keep_stdout_own();
    let Some(child) = spawn_sleeper() else {
        return crate::exit_code::FAILURE;
    };
    ready(&format!("child {}", child.id()));
    std::thread::sleep(LINGER);
    0
}

/// Listens on a port of 127.0.0.1, made inheritable or not (std creates
/// sockets with WSA_FLAG_NO_HANDLE_INHERIT), then starts a child with
/// `bInheritHandles = TRUE` (as std always does).
fn listen(inherit: bool) -> u8 {
    keep_stdout_own();
    let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:0") else {
        return crate::exit_code::FAILURE;
    };
    let Ok(address) = listener.local_addr() else {
        return crate::exit_code::FAILURE;
    };
    if inherit && win32::set_inheritable(listener.as_raw_socket() as _, true).is_err() {
        return crate::exit_code::FAILURE;
    }
    let Some(child) = spawn_sleeper() else {
        return crate::exit_code::FAILURE;
    };
    ready(&format!("port {} child {}", address.port(), child.id()));
    std::thread::sleep(LINGER);
    0
}

/// In a console of its own: for each line `EVENT MODE` on stdin, starts a
/// `ctrl-target MODE` in a new process group, says `pid PID`, waits for
/// `go`, sends it EVENT (`c` or `break`) with GenerateConsoleCtrlEvent and
/// says `sent ok` or `sent error CODE`.
fn ctrl_agent() -> u8 {
    use std::io::BufRead;
    use std::os::windows::process::CommandExt;
    // The agent itself stays whatever it sends.
    let _ = win32::ignore_ctrl_c(true);
    let _ = win32::add_ctrl_handler(Some(stay));
    let Ok(exe) = std::env::current_exe() else {
        return crate::exit_code::FAILURE;
    };
    let mut lines = std::io::stdin().lock().lines();
    while let Some(Ok(line)) = lines.next() {
        let mut words = line.split_whitespace();
        let (Some(event), Some(mode)) = (words.next(), words.next()) else {
            break;
        };
        let target = Command::new(&exe)
            .args([crate::sys::windows::child::CHILD_COMMAND, "demo-ctrl-target", mode])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .creation_flags(CREATE_NEW_PROCESS_GROUP)
            .spawn();
        let Ok(mut target) = target else {
            ready("pid 0");
            continue;
        };
        let mut said = String::new();
        if let Some(out) = target.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut said);
        }
        ready(&format!("pid {}", target.id()));
        if !matches!(lines.next(), Some(Ok(go)) if go == "go") {
            break;
        }
        let event = if event == "break" {
            CTRL_BREAK_EVENT
        } else {
            CTRL_C_EVENT
        };
        match win32::send_ctrl_event(event, target.id()) {
            Ok(()) => ready("sent ok"),
            Err(error) => ready(&format!("sent error {}", error.raw_os_error().unwrap_or(0))),
        }
    }
    0
}

unsafe extern "system" fn stay(_event: u32) -> windows_sys::core::BOOL {
    1
}

unsafe extern "system" fn handled(_event: u32) -> windows_sys::core::BOOL {
    win32::exit_process(HANDLER_CODE)
}

/// Started in a new process group (Ctrl+C ignored): `none` keeps that,
/// `enable` turns Ctrl+C back on (no handler: the default one), `handler`
/// turns it on and adds a handler that exits with [`HANDLER_CODE`],
/// `break-handler` adds the handler only.
fn ctrl_target(mode: &str) -> u8 {
    if matches!(mode, "enable" | "handler") && win32::ignore_ctrl_c(false).is_err() {
        return crate::exit_code::FAILURE;
    }
    if matches!(mode, "handler" | "break-handler") && win32::add_ctrl_handler(Some(handled)).is_err() {
        return crate::exit_code::FAILURE;
    }
    ready("ready");
    std::thread::sleep(Duration::from_secs(10));
    0
}
