//! `status` and `wait` on Windows: `GetExitCodeProcess` and `STILL_ACTIVE`,
//! for any process, child or not, through a handle opened with SYNCHRONIZE.
//!
//! A process object outlives its process while a handle holds it: then its
//! exit code can still be read (the "exited" answer, Windows' counterpart of
//! a zombie). When no handle holds it, its PID names nothing ("gone").

use std::time::{Duration, Instant};

use serde::Serialize;

use super::ending::WindowsEnding;
use super::handle::{OpenError, ProcessHandle, wait_any};
use super::snapshot;

/// The facts of a running process.
#[derive(Debug, Clone, Serialize)]
pub struct WindowsProcess {
    /// Its PID.
    pub pid: u32,
    /// Its executable's name.
    pub name: String,
    /// The PID its parent had.
    pub ppid: u32,
}

/// The status of one PID, shaped as on Linux (`status` tag).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WindowsStatus {
    /// Running: `WaitForSingleObject(h, 0)` times out.
    Running {
        /// Its facts.
        process: WindowsProcess,
    },
    /// Ended; its object is still held by some handle, so its exit code
    /// can be read.
    Exited {
        /// The PID.
        pid: u32,
        /// Its name, when a snapshot still showed it.
        name: String,
        /// How it ended.
        ending: WindowsEnding,
    },
    /// No process has this PID.
    Gone {
        /// The PID.
        pid: u32,
    },
}

impl WindowsStatus {
    /// Whether it runs.
    pub fn is_running(&self) -> bool {
        matches!(self, WindowsStatus::Running { .. })
    }
}

fn row_of(pid: u32) -> Option<snapshot::Row> {
    snapshot::processes().ok()?.into_iter().find(|row| row.pid == pid)
}

/// Looks up one PID. "No such process" is an answer, not an error.
pub fn status_of(pid: u32) -> Result<WindowsStatus, OpenError> {
    let process = match ProcessHandle::open(pid, 0) {
        Ok(process) => process,
        Err(OpenError::Gone { pid }) => return Ok(WindowsStatus::Gone { pid }),
        Err(error) => return Err(error),
    };
    let row = row_of(pid);
    let name = row.as_ref().map(|r| r.name.clone()).unwrap_or_default();
    Ok(match process.exit_code() {
        None => WindowsStatus::Running {
            process: WindowsProcess {
                pid,
                name,
                ppid: row.map_or(0, |r| r.ppid),
            },
        },
        Some(code) => WindowsStatus::Exited {
            pid,
            name,
            ending: WindowsEnding::of(code),
        },
    })
}

/// How one waited-for process ended.
#[derive(Debug, Clone, Serialize)]
pub struct WaitOutcome {
    /// Its PID.
    pub pid: u32,
    /// Its name.
    pub name: String,
    /// Seconds from the start of the wait to its end (`None`: still running).
    #[serde(rename = "ended_after_seconds")]
    pub ended_after: Option<f64>,
    /// How it ended.
    pub ending: Option<WindowsEnding>,
}

/// The whole wait.
#[derive(Debug, Clone, Serialize)]
pub struct WaitReport {
    /// Every PID, in the order given.
    pub processes: Vec<WaitOutcome>,
    /// Whether the timeout passed first.
    pub timed_out: bool,
}

/// Waits for every PID (each opened first, so that none is mistaken for a
/// later process with its PID), calling `each` as each ends.
pub fn wait_for(
    pids: &[u32],
    timeout: Option<Duration>,
    mut each: impl FnMut(&WaitOutcome),
) -> Result<WaitReport, OpenError> {
    let started = Instant::now();
    let rows = snapshot::processes().unwrap_or_default();
    let mut held = Vec::new();
    for &pid in pids {
        let process = ProcessHandle::open(pid, 0)?;
        let name = rows
            .iter()
            .find(|r| r.pid == pid)
            .map(|r| r.name.clone())
            .unwrap_or_default();
        held.push((process, name));
    }
    let mut outcomes: Vec<Option<WaitOutcome>> = vec![None; held.len()];
    loop {
        for (i, (process, name)) in held.iter().enumerate() {
            if outcomes[i].is_none()
                && let Some(code) = process.exit_code()
            {
                let outcome = WaitOutcome {
                    pid: process.pid(),
                    name: name.clone(),
                    ended_after: Some(started.elapsed().as_secs_f64()),
                    ending: Some(WindowsEnding::of(code)),
                };
                each(&outcome);
                outcomes[i] = Some(outcome);
            }
        }
        let waiting: Vec<&ProcessHandle> = held
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_none())
            .map(|((p, _), _)| p)
            .collect();
        if waiting.is_empty() {
            break;
        }
        let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
        if left.is_some_and(|l| l.is_zero()) {
            break;
        }
        // More than 64 handles: wake now and then to look at the rest.
        let slice = match (waiting.len() > 64, left) {
            (true, Some(left)) => Some(left.min(Duration::from_millis(50))),
            (true, None) => Some(Duration::from_millis(50)),
            (false, left) => left,
        };
        let _ = wait_any(&waiting, slice);
    }
    let timed_out = outcomes.iter().any(Option::is_none);
    let processes = held
        .into_iter()
        .zip(outcomes)
        .map(|((process, name), outcome)| {
            outcome.unwrap_or(WaitOutcome {
                pid: process.pid(),
                name,
                ended_after: None,
                ending: None,
            })
        })
        .collect();
    Ok(WaitReport { processes, timed_out })
}
