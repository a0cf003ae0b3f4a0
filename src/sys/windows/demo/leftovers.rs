//! What goes with a process and what stays: its memory, its handles and
//! an owned mutex go (the mutex abandoned); files, an inherited listening
//! socket, a named file mapping another process holds and an orphaned
//! child stay. Each scenario then removes or ends what stayed.

use std::time::Duration;

use windows_sys::Win32::Foundation::{ERROR_SHARING_VIOLATION, WAIT_ABANDONED};

use super::DemoError;
use super::spawn::{
    CLEANUP_CODE, DemoChild, Held, PATIENCE, code_check, ended_check, run_report, scratch_name, scratch_path,
};
use super::win32;
use crate::demo::{Check, Outcome};

const MIB: usize = 1 << 20;

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// Opens `path` for writing, as another process would: the error's raw
/// code when it fails.
fn try_open(path: &std::path::Path) -> Result<(), i32> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|e| e.raw_os_error().unwrap_or(0))
}

pub(super) fn what_goes(outcome: &mut Outcome) -> Result<(), DemoError> {
    let mutex_name = scratch_name("mutex");
    let path = scratch_path("exclusive");
    let child = DemoChild::start("hold", &[&mutex_name, &path.to_string_lossy()])?;
    child.line("ready")?;
    let before = win32::private_bytes(child.process().raw());
    let mutex = win32::open_mutex(&mutex_name).map_err(DemoError::io(format!("open mutex {mutex_name}")))?;
    let shared_while = try_open(&path);
    child.terminate(CLEANUP_CODE)?;
    let code = child.ended("TerminateProcess's end")?;
    let (after, after_ms) = private_bytes_settled(child.process());
    let waited = win32::wait_object(&mutex, 5_000);
    let abandoned = waited.as_ref().is_ok_and(|&w| w == WAIT_ABANDONED);
    if abandoned {
        let _ = win32::release_mutex(&mutex);
    }
    drop(mutex);
    let shared_after = try_open(&path);
    let closed = child.stdout_closed(Duration::from_secs(5));
    let _ = std::fs::remove_file(&path);
    let memory_went = matches!(before, Ok(b) if b >= 64 * MIB) && after.as_ref().map_or(true, |&a| a < MIB);
    let words = |r: &std::io::Result<usize>| match r {
        Ok(bytes) => mib(*bytes),
        Err(e) => format!("unreadable ({e})"),
    };
    outcome.run(run_report(
        "TerminateProcess",
        "the child allocated and touched 64 MiB, created a named mutex it owns, opened a file with no sharing, and was terminated",
        child.pid(),
        code,
        vec![
            code_check(code, CLEANUP_CODE),
            Check::went(
                "memory",
                "its private memory goes back to the system: none is left committed to its process object",
                format!(
                    "private bytes {} while it ran, {} {after_ms} ms after it ended",
                    words(&before),
                    words(&after)
                ),
                memory_went,
            ),
            Check::went(
                "handles",
                "its handles: the system closed them — its file opened with no sharing opens now, and its stdout pipe reads to its end",
                format!(
                    "opening the file while it ran: {}; once it ended: {}; stdout: {}",
                    open_words(shared_while),
                    open_words(shared_after),
                    if closed { "end of pipe read" } else { "no end of pipe in time" }
                ),
                shared_while == Err(ERROR_SHARING_VIOLATION as i32) && shared_after.is_ok() && closed,
            ),
            Check::went(
                "mutex",
                "a mutex it owned is released as abandoned: the demo's WaitForSingleObject answers WAIT_ABANDONED",
                match waited {
                    Ok(WAIT_ABANDONED) => "WAIT_ABANDONED".to_string(),
                    Ok(0) => "WAIT_OBJECT_0".to_string(),
                    Ok(other) => format!("{other:#x}"),
                    Err(e) => e.to_string(),
                },
                abandoned,
            ),
            ended_check(child.process()),
        ],
    ));
    Ok(())
}

/// A process's private bytes once they are given back: read again for up
/// to 2 s after its end (under Wine the count reads the host process, which
/// may outlive the signaled handle by some milliseconds), with the time.
fn private_bytes_settled(process: &crate::sys::windows::handle::ProcessHandle) -> (std::io::Result<usize>, u128) {
    let started = std::time::Instant::now();
    loop {
        let bytes = win32::private_bytes(process.raw());
        let settled = bytes.as_ref().map_or(true, |&b| b < MIB);
        if settled || started.elapsed() > Duration::from_secs(2) {
            return (bytes, started.elapsed().as_millis());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn open_words(result: Result<(), i32>) -> String {
    match result {
        Ok(()) => "opened".to_string(),
        Err(code) if code == ERROR_SHARING_VIOLATION as i32 => "ERROR_SHARING_VIOLATION".to_string(),
        Err(code) => std::io::Error::from_raw_os_error(code).to_string(),
    }
}

pub(super) fn files(outcome: &mut Outcome) -> Result<(), DemoError> {
    let written = scratch_path("written.txt");
    let temp = scratch_path("scratch.tmp");
    let on_close = scratch_path("delete-on-close.tmp");
    let child = DemoChild::start(
        "write",
        &[
            &written.to_string_lossy(),
            &temp.to_string_lossy(),
            &on_close.to_string_lossy(),
        ],
    )?;
    child.line("ready")?;
    let on_close_while = on_close.exists();
    child.terminate(CLEANUP_CODE)?;
    let code = child.ended("TerminateProcess's end")?;
    let content = std::fs::read_to_string(&written).unwrap_or_default();
    let temp_stayed = temp.exists();
    let on_close_after = on_close.exists();
    for path in [&written, &temp, &on_close] {
        let _ = std::fs::remove_file(path);
    }
    outcome.run(run_report(
        "TerminateProcess",
        "the child wrote a file, a temp file, and a temp file opened with FILE_FLAG_DELETE_ON_CLOSE, and was terminated",
        child.pid(),
        code,
        vec![
            Check::stayed(
                "file",
                "a file it wrote stays, with what it wrote",
                format!("{} bytes read back", content.len()),
                content == "written before the end\n",
            ),
            Check::stayed(
                "temp file",
                "a temp file without FILE_FLAG_DELETE_ON_CLOSE stays: nothing removes it",
                if temp_stayed { "still there" } else { "gone" },
                temp_stayed,
            ),
            Check::went(
                "delete-on-close file",
                "a file opened with FILE_FLAG_DELETE_ON_CLOSE goes when the system closes its last handle",
                format!(
                    "there while it ran: {on_close_while}; once it ended: {}",
                    if on_close_after { "still there" } else { "gone" }
                ),
                on_close_while && !on_close_after,
            ),
            ended_check(child.process()),
        ],
    ));
    outcome.note("the demo removed the file and the temp file");
    Ok(())
}

fn bind_words(port: u16) -> (bool, String) {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => (true, "bind succeeded".to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => (false, "bind failed: WSAEADDRINUSE".to_string()),
        Err(e) => (false, format!("bind failed: {e}")),
    }
}

pub(super) fn ghost_socket(outcome: &mut Outcome) -> Result<(), DemoError> {
    for inherit in [true, false] {
        let child = DemoChild::start("listen", &[if inherit { "inherit" } else { "own" }])?;
        let line = child.line("port and child")?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(port), Some(grandchild)) = (words.get(1).and_then(|p| p.parse::<u16>().ok()), words.get(3)) else {
            return Err(DemoError::Protocol {
                pid: child.pid(),
                message: format!("expected 'port PORT child PID', read '{line}'"),
            });
        };
        let grandchild = Held::open(grandchild)?;
        child.terminate(CLEANUP_CODE)?;
        let code = child.ended("TerminateProcess's end")?;
        let (free_after_parent, after_parent) = bind_words(port);
        let grandchild_runs = !grandchild.0.has_ended();
        let mut checks = Vec::new();
        if inherit {
            let _ = grandchild.0.terminate(CLEANUP_CODE);
            grandchild.0.wait(Some(PATIENCE));
            let (free_at_last, at_last) = bind_words(port);
            checks.push(Check::stayed(
                format!("port {port} (inherited)"),
                format!("port {port} stays taken: the worker inherited the listening socket"),
                format!(
                    "{after_parent}; worker {} running",
                    if grandchild_runs { "still" } else { "not" }
                ),
                !free_after_parent && grandchild_runs,
            ));
            checks.push(Check::went(
                "port, at last",
                "the port is free once the last process holding the socket ended",
                format!("after the demo terminated worker {}: {at_last}", grandchild.0.pid()),
                free_at_last,
            ));
        } else {
            checks.push(Check::went(
                format!("port {port}"),
                format!("port {port} is free as soon as the server ends: its worker holds nothing"),
                format!(
                    "{after_parent}; worker {} running",
                    if grandchild_runs { "still" } else { "not" }
                ),
                free_after_parent,
            ));
        }
        outcome.run(run_report(
            if inherit {
                "inheritable socket"
            } else {
                "WSA_FLAG_NO_HANDLE_INHERIT (std's default)"
            },
            format!(
                "the server listened on 127.0.0.1:{port}{}, started worker {} with bInheritHandles = TRUE, and was terminated",
                if inherit { ", its socket made inheritable (SetHandleInformation)" } else { "" },
                grandchild.0.pid()
            ),
            child.pid(),
            code,
            checks,
        ));
    }
    outcome.note("the demo ended each worker it left (TerminateProcess by handle)");
    Ok(())
}

pub(super) fn mapping(outcome: &mut Outcome) -> Result<(), DemoError> {
    let name = scratch_name("mapping");
    let child = DemoChild::start("mapping", &[&name])?;
    child.line("ready")?;
    let held = win32::open_mapping(&name).map_err(DemoError::io(format!("open file mapping {name}")))?;
    child.terminate(CLEANUP_CODE)?;
    let code = child.ended("TerminateProcess's end")?;
    let reopened = win32::open_mapping(&name);
    let text = reopened
        .as_ref()
        .ok()
        .and_then(|m| win32::View::map(m, 64, false).ok())
        .map(|view| {
            let bytes = view.bytes();
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            String::from_utf8_lossy(&bytes[..end]).into_owned()
        })
        .unwrap_or_default();
    drop((reopened, held));
    let after = win32::open_mapping(&name);
    let expected = format!("written by {}", child.pid());
    outcome.run(run_report(
        "TerminateProcess",
        format!("the child created the file mapping {name} and wrote into it; the demo opened it too; the child was terminated"),
        child.pid(),
        code,
        vec![
            Check::stayed(
                "file mapping",
                "the mapping stays while another process holds a handle to it: its name opens, its bytes are there",
                format!("reopened by name after the child ended; read '{text}'"),
                text == expected,
            ),
            Check::went(
                "mapping, at last",
                "the mapping goes with its last handle: once the demo closed its own, the name opens nothing",
                match &after {
                    Ok(_) => "still opens".to_string(),
                    Err(e) => format!("OpenFileMapping failed: {e}"),
                },
                after.is_err(),
            ),
            ended_check(child.process()),
        ],
    ));
    Ok(())
}

pub(super) fn orphan(outcome: &mut Outcome) -> Result<(), DemoError> {
    let child = DemoChild::start("orphan", &[])?;
    let grandchild = Held::open(&child.value("child")?)?;
    child.terminate(CLEANUP_CODE)?;
    let code = child.ended("TerminateProcess's end")?;
    let lives = !grandchild.0.wait(Some(Duration::from_millis(500)));
    let parent = crate::sys::windows::snapshot::processes()
        .unwrap_or_default()
        .into_iter()
        .find(|row| row.pid == grandchild.0.pid())
        .map(|row| row.ppid);
    outcome.run(run_report(
        "the parent: TerminateProcess",
        format!("the child started process {} and was terminated", grandchild.0.pid()),
        child.pid(),
        code,
        vec![ended_check(child.process())],
    ));
    let _ = grandchild.0.terminate(CLEANUP_CODE);
    grandchild.0.wait(Some(PATIENCE));
    let orphan_code = grandchild.0.exit_code().unwrap_or(CLEANUP_CODE);
    outcome.run(run_report(
        "the orphan",
        format!(
            "its parent {} was terminated; the demo then ended it (TerminateProcess by handle)",
            child.pid()
        ),
        grandchild.0.pid(),
        orphan_code,
        vec![
            Check::stayed(
                "orphan",
                "the child of a terminated process runs on: Windows ends no process for its parent's death",
                format!(
                    "still running {} ms after its parent ended",
                    if lives { 500 } else { 0 }
                ),
                lives,
            ),
            Check::observed(
                "parent PID",
                "no one adopts it: its parent PID still names the dead parent",
                parent.map_or("not in the snapshot".to_string(), |p| format!("parent PID {p}")),
                parent == Some(child.pid()),
            ),
        ],
    ));
    Ok(())
}
