//! `run` and `timeout` on Windows: the command in a job object.
//!
//! The command starts suspended (`CREATE_SUSPENDED`), joins a job with
//! `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` and only then runs, so each process
//! it starts is in the job from its first instruction; afterlife holds the
//! only handle to the job, so the tree ends when afterlife ends, however it
//! ends. The command leads a console process group of its own
//! (`CREATE_NEW_PROCESS_GROUP`), so that CTRL_BREAK_EVENT can be sent to it
//! alone. At the deadline it gets CTRL_BREAK_EVENT and WM_CLOSE, then after
//! the grace the job is ended (`TerminateJobObject`). Ctrl+Break typed at
//! the console reaches every process on it; Ctrl+C does too, but a new
//! process group starts with Ctrl+C ignored, so afterlife passes it on as
//! CTRL_BREAK_EVENT to the command's group (a group cannot be sent
//! CTRL_C_EVENT), and ignores both itself. Processes still in the job after
//! the main process ended are the leftovers: listed, then ended with the job.

use std::ffi::OsString;
use std::io;
use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use std::sync::atomic::{AtomicU32, Ordering};

use windows_sys::Win32::System::Console::{
    CTRL_BREAK_EVENT, CTRL_C_EVENT, GenerateConsoleCtrlEvent, SetConsoleCtrlHandler,
};
use windows_sys::Win32::System::Threading::{CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED};

use super::ending::WindowsEnding;
use super::handle::{Handle, ProcessHandle};
use super::job::Job;
use super::snapshot::{self, suspend_threads};
use super::terminate::{TERMINATED_CODE, close_windows_of};

/// How to supervise.
#[derive(Debug, Clone)]
pub struct SuperviseOptions {
    /// The deadline (`None`: none).
    pub timeout: Option<Duration>,
    /// Graceful close at the deadline (false: the job ends at once).
    pub graceful: bool,
    /// How long the graceful close may take.
    pub grace: Duration,
    /// List leftovers but leave them running.
    pub keep_leftovers: bool,
}

/// A process left in the job after the main one ended.
#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    /// Its PID.
    pub pid: u32,
    /// Its executable's name.
    pub name: String,
    /// Whether afterlife ended it.
    pub ended: bool,
}

/// How a supervised command ended, shaped as on Linux where the facts are
/// the same.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The command line.
    #[serde(rename = "command_line")]
    pub command: Vec<String>,
    /// The main process's PID.
    pub pid: u32,
    /// The containment: a job object.
    pub containment: &'static str,
    /// Whether the deadline passed.
    pub timed_out: bool,
    /// How the main process ended.
    pub ending: WindowsEnding,
    /// Processes left in the job after the main one ended.
    pub leftovers: Vec<Leftover>,
    /// Seconds from the start to the end of the main process.
    #[serde(rename = "duration_seconds")]
    pub elapsed: f64,
}

/// Why the command could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Not found (exit 127).
    #[error("cannot run {command}: not found")]
    NotFound {
        /// The program.
        command: String,
    },
    /// Found but not runnable (exit 126).
    #[error("cannot run {command}: {source}")]
    CannotExecute {
        /// The program.
        command: String,
        /// Why.
        source: io::Error,
    },
    /// afterlife's own failure (exit 125).
    #[error("{call}: {source}")]
    Failed {
        /// The call.
        call: &'static str,
        /// The error.
        source: io::Error,
    },
}

fn failed(call: &'static str) -> impl FnOnce(io::Error) -> RunError {
    move |source| RunError::Failed { call, source }
}

/// The command's process group (its PID), for the console handler.
static COMMAND_GROUP: AtomicU32 = AtomicU32::new(0);

unsafe extern "system" fn pass_console_events(event: u32) -> windows_sys::core::BOOL {
    let group = COMMAND_GROUP.load(Ordering::Relaxed);
    if event == CTRL_C_EVENT && group != 0 {
        // SAFETY: plain call; the group is the command's, led by its main
        // process.
        unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group) };
    }
    // afterlife itself stays, to report and to end the job.
    1
}

/// Sends CTRL_BREAK_EVENT to the command's process group.
fn send_break(group: u32) -> bool {
    // SAFETY: plain call; `group` is a group afterlife created.
    unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group) != 0 }
}

/// Runs `command` in a job; returns how it ended.
pub fn supervise(command: &[OsString], options: &SuperviseOptions) -> Result<RunReport, RunError> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| RunError::NotFound { command: String::new() })?;
    let shown = program.to_string_lossy().into_owned();
    let job = Job::kill_on_close().map_err(failed("CreateJobObjectW"))?;
    // SAFETY: a handler valid for the whole process.
    unsafe { SetConsoleCtrlHandler(Some(pass_console_events), 1) };
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .creation_flags(CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP)
        .spawn()
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => RunError::NotFound { command: shown.clone() },
            _ => RunError::CannotExecute {
                command: shown.clone(),
                source,
            },
        })?;
    let pid = child.id();
    // The std Child keeps its handle; a duplicate is held here.
    let raw = duplicate(child.as_raw_handle().cast()).map_err(failed("DuplicateHandle"))?;
    let main = ProcessHandle::from_handle(pid, raw).map_err(failed("GetProcessTimes"))?;
    if let Err(error) = job.assign(main.raw()) {
        let _ = main.terminate(TERMINATED_CODE);
        return Err(failed("AssignProcessToJobObject")(error));
    }
    suspend_threads(pid, true).map_err(failed("ResumeThread"))?;
    COMMAND_GROUP.store(pid, Ordering::Relaxed);

    let mut timed_out = false;
    if !main.wait(options.timeout) {
        timed_out = true;
        if options.graceful {
            send_break(pid);
            close_windows_of(&job.pids().unwrap_or_default());
            main.wait(Some(options.grace));
        }
        if !main.has_ended() {
            let _ = job.terminate(TERMINATED_CODE);
            main.wait(None);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let code = main.exit_code().unwrap_or(TERMINATED_CODE);
    let leftovers = leftovers(&job, pid, options.keep_leftovers);
    drop(child);
    Ok(RunReport {
        command: command.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
        pid,
        containment: "job",
        timed_out,
        ending: WindowsEnding::of(code),
        leftovers,
        elapsed,
    })
}

/// The processes still in the job, ended unless kept.
fn leftovers(job: &Job, main: u32, keep: bool) -> Vec<Leftover> {
    let pids: Vec<u32> = job
        .pids()
        .unwrap_or_default()
        .into_iter()
        .filter(|&p| p != main)
        .collect();
    if pids.is_empty() {
        return Vec::new();
    }
    let rows = snapshot::processes().unwrap_or_default();
    let held: Vec<ProcessHandle> = pids.iter().filter_map(|&p| ProcessHandle::open(p, 0).ok()).collect();
    if !keep {
        let _ = job.terminate(TERMINATED_CODE);
        for process in &held {
            process.wait(Some(Duration::from_secs(5)));
        }
    }
    held.iter()
        .map(|process| Leftover {
            pid: process.pid(),
            name: rows
                .iter()
                .find(|r| r.pid == process.pid())
                .map(|r| r.name.clone())
                .unwrap_or_default(),
            ended: process.has_ended(),
        })
        .collect()
}

fn duplicate(raw: windows_sys::Win32::Foundation::HANDLE) -> io::Result<Handle> {
    use windows_sys::Win32::Foundation::{DUPLICATE_SAME_ACCESS, DuplicateHandle};
    use windows_sys::Win32::System::Threading::GetCurrentProcess;
    let mut copy = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess has no preconditions; it returns a
    // pseudo-handle that needs no closing.
    let this = unsafe { GetCurrentProcess() };
    // SAFETY: a valid handle of this process duplicated into this process.
    let ok = unsafe { DuplicateHandle(this, raw, this, &mut copy, 0, 0, DUPLICATE_SAME_ACCESS) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Handle::from_raw(copy).ok_or_else(io::Error::last_os_error)
}
