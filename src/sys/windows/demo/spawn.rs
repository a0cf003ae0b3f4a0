//! Starting the demo's children on Windows and reading what they say, with
//! every wait bounded; scratch file names that carry the demo's PID; the
//! run reports and checks the scenarios share.

use std::io::BufRead;
use std::os::windows::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use windows_sys::Win32::System::Threading::PROCESS_TERMINATE;

use super::DemoError;
use crate::demo::{Check, ExplainSummary, RunReport};
use crate::sys::windows::child::CHILD_COMMAND;
use crate::sys::windows::ending::WindowsEnding;
use crate::sys::windows::handle::ProcessHandle;

/// How long a child may take to say it is ready, or to end once it should.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// The exit code the demo gives TerminateProcess when it ends what it
/// started, as `kill` and `taskkill /F` do.
pub(crate) const CLEANUP_CODE: u32 = 1;

/// Held around every process the demo starts. A handle made inheritable
/// for one child is inherited by any process started while it is (std
/// serializes its own spawns for this reason; the console agent is started
/// by a call of the demo's own): one at a time, a child's stdout pipe is
/// held by that child alone, and its end can be read when it ends.
static SPAWN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds [`SPAWN`] while a process is started.
pub(crate) fn one_spawn_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A demo child: its process held by a handle, its stdout read line by
/// line on a thread. Ended (TerminateProcess) if still running on drop.
pub(crate) struct DemoChild {
    child: Child,
    process: ProcessHandle,
    lines: Receiver<String>,
}

impl DemoChild {
    /// Starts `afterlife __child demo-MODE ARGS`.
    pub(crate) fn start(mode: &str, args: &[&str]) -> Result<DemoChild, DemoError> {
        DemoChild::start_with(mode, args, 0)
    }

    /// Starts it with process creation `flags`.
    pub(crate) fn start_with(mode: &str, args: &[&str], flags: u32) -> Result<DemoChild, DemoError> {
        let spawn_error = |source| DemoError::Spawn {
            mode: mode.to_string(),
            source,
        };
        let exe = std::env::current_exe().map_err(spawn_error)?;
        let spawning = one_spawn_at_a_time();
        let child = Command::new(exe)
            .arg(CHILD_COMMAND)
            .arg(format!("{}{mode}", super::child::PREFIX))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .creation_flags(flags)
            .spawn();
        drop(spawning);
        let mut child = child.map_err(spawn_error)?;
        let pid = child.id();
        // std's Child keeps its own handle, so the process object is there
        // to open even if it has already ended.
        let process = ProcessHandle::open(pid, PROCESS_TERMINATE)?;
        let lines = read_lines(child.stdout.take());
        Ok(DemoChild { child, process, lines })
    }

    /// Its PID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its process handle.
    pub(crate) fn process(&self) -> &ProcessHandle {
        &self.process
    }

    /// The next line it says, within [`PATIENCE`].
    pub(crate) fn line(&self, what: &'static str) -> Result<String, DemoError> {
        next_line(&self.lines, self.pid(), what)
    }

    /// The value after `word` in its next line (`port 8080` → `8080`).
    pub(crate) fn value(&self, word: &'static str) -> Result<String, DemoError> {
        let line = self.line(word)?;
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some(w), Some(value)) if w == word => Ok(value.to_string()),
            _ => Err(DemoError::Protocol {
                pid: self.pid(),
                message: format!("expected '{word} VALUE', read '{line}'"),
            }),
        }
    }

    /// Waits for it to end (within [`PATIENCE`]); its exit code.
    pub(crate) fn ended(&self, what: &'static str) -> Result<u32, DemoError> {
        self.ended_within(what, PATIENCE)
    }

    /// Waits for it to end within `limit`; its exit code.
    pub(crate) fn ended_within(&self, what: &'static str, limit: Duration) -> Result<u32, DemoError> {
        if !self.process.wait(Some(limit)) {
            return Err(DemoError::Timeout { pid: self.pid(), what });
        }
        self.process.exit_code().ok_or_else(|| DemoError::Call {
            pid: self.pid(),
            call: "GetExitCodeProcess",
            source: std::io::Error::last_os_error(),
        })
    }

    /// Whether it still runs after `delay`.
    pub(crate) fn runs_after(&self, delay: Duration) -> bool {
        !self.process.wait(Some(delay))
    }

    /// TerminateProcess with `code`.
    pub(crate) fn terminate(&self, code: u32) -> Result<(), DemoError> {
        self.process.terminate(code).map_err(|source| DemoError::Call {
            pid: self.pid(),
            call: "TerminateProcess",
            source,
        })
    }

    /// Whether its stdout reaches its end (every handle to the pipe's
    /// write end closed) within `timeout`.
    pub(crate) fn stdout_closed(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => continue,
                Err(RecvTimeoutError::Disconnected) => return true,
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }
}

impl Drop for DemoChild {
    fn drop(&mut self) {
        if !self.process.has_ended() {
            let _ = self.process.terminate(CLEANUP_CODE);
            self.process.wait(Some(PATIENCE));
        }
        let _ = self.child.try_wait();
    }
}

/// Reads `stdout` line by line on a thread; the channel closes at its end.
pub(crate) fn read_lines(stdout: Option<impl std::io::Read + Send + 'static>) -> Receiver<String> {
    let (send, receive) = std::sync::mpsc::channel();
    if let Some(stdout) = stdout {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
    }
    receive
}

/// The next line from `lines`, within [`PATIENCE`].
pub(crate) fn next_line(lines: &Receiver<String>, pid: u32, what: &'static str) -> Result<String, DemoError> {
    match lines.recv_timeout(PATIENCE) {
        Ok(line) => Ok(line),
        Err(RecvTimeoutError::Timeout) => Err(DemoError::Timeout { pid, what }),
        Err(RecvTimeoutError::Disconnected) => Err(DemoError::Protocol {
            pid,
            message: format!("its output ended before it said '{what}'"),
        }),
    }
}

/// A PID of another process, held; ended (TerminateProcess) if still
/// running on drop. For the processes the demo's children start.
pub(crate) struct Held(pub(crate) ProcessHandle);

impl Held {
    /// Opens `pid`, said by a child.
    pub(crate) fn open(pid: &str) -> Result<Held, DemoError> {
        let pid = pid.parse::<u32>().map_err(|_| DemoError::Protocol {
            pid: 0,
            message: format!("'{pid}' is not a PID"),
        })?;
        Ok(Held(ProcessHandle::open(pid, PROCESS_TERMINATE)?))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.0.has_ended() {
            let _ = self.0.terminate(CLEANUP_CODE);
            self.0.wait(Some(PATIENCE));
        }
    }
}

static SCRATCH: AtomicU32 = AtomicU32::new(0);

/// The prefix of every name the demo makes: files in the temp directory,
/// named kernel objects.
pub(crate) fn scratch_prefix() -> String {
    format!("afterlife-demo-{}", std::process::id())
}

/// A unique name for a scratch object: `afterlife-demo-PID-N-WHAT`.
pub(crate) fn scratch_name(what: &str) -> String {
    format!(
        "{}-{}-{what}",
        scratch_prefix(),
        SCRATCH.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unique path in the temp directory, removed by the scenario.
pub(crate) fn scratch_path(what: &str) -> PathBuf {
    std::env::temp_dir().join(scratch_name(what))
}

/// Removes the scratch files of demos that were ended halfway: those
/// whose PID no process has now.
pub(crate) fn remove_stale_scratch() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("afterlife-demo-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if matches!(
            ProcessHandle::open(pid, 0),
            Err(crate::sys::windows::handle::OpenError::Gone { .. })
        ) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A run's report: how the process ended and what `explain` says of it.
pub(crate) fn run_report(label: &str, action: impl Into<String>, pid: u32, code: u32, checks: Vec<Check>) -> RunReport {
    let ending = WindowsEnding::of(code);
    let input = explain_input(&ending);
    let readings = crate::exit::explain::explain(&input)
        .map(crate::sys::host_readings_first)
        .map(|e| e.readings.into_iter().take(2).map(|r| r.title).collect())
        .unwrap_or_default();
    RunReport {
        label: label.to_string(),
        action: action.into(),
        pid,
        ending,
        explain: ExplainSummary { input, readings },
        why: Vec::new(),
        checks,
    }
}

/// The number `explain` is given: the exit code in decimal, or in hex when
/// it is NTSTATUS-sized, as people write each. Pure.
fn explain_input(ending: &WindowsEnding) -> String {
    if ending.exit_code > 0xFFFF {
        ending.hex.clone()
    } else {
        ending.exit_code.to_string()
    }
}

/// The check that a process ended with `expected`.
pub(crate) fn code_check(code: u32, expected: u32) -> Check {
    let expected = WindowsEnding::of(expected);
    Check::observed(
        "exit code",
        format!("GetExitCodeProcess reads {}", expected.describe()),
        WindowsEnding::of(code).describe(),
        code == expected.exit_code,
    )
}

/// The check that a process's object is signaled: it has ended.
pub(crate) fn ended_check(process: &ProcessHandle) -> Check {
    let ended = process.has_ended();
    Check::went(
        "process",
        "the process itself: its handle is signaled (WaitForSingleObject answers WAIT_OBJECT_0)",
        if ended { "signaled" } else { "not signaled" },
        ended,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_codes_are_explained_in_decimal_ntstatus_in_hex() {
        assert_eq!(explain_input(&WindowsEnding::of(259)), "259");
        assert_eq!(explain_input(&WindowsEnding::of(0xC000_0005)), "0xC0000005");
        let report = run_report("x", "y", 8, 0xC000_0005, Vec::new());
        assert!(
            report.explain.readings[0].contains("STATUS_ACCESS_VIOLATION"),
            "{:?}",
            report.explain
        );
    }

    #[test]
    fn scratch_names_carry_this_process_and_differ() {
        let (a, b) = (scratch_name("x"), scratch_name("x"));
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("afterlife-demo-{}-", std::process::id())));
    }
}
