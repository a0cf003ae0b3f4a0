//! The typed reports of the demo: per scenario, what was done, how each
//! process ended as every observer sees it, and what went and what stayed,
//! each fact with the value measured on this machine.

use serde::Serialize;

#[cfg(target_os = "linux")]
use crate::exit::{ExitStatus, KnownEnding};
#[cfg(target_os = "linux")]
use crate::process::{Pid, StatusSource};

/// A process ID as the demo reports it: a checked [`Pid`] on Linux.
#[cfg(target_os = "linux")]
pub type ProcessId = Pid;

/// A process ID as the demo reports it: Windows's 32-bit one.
#[cfg(windows)]
pub type ProcessId = u32;

/// How a process ended as the demo reports it: on Linux every observer's
/// view of a wait status and where it came from.
#[cfg(target_os = "linux")]
pub type Ending = KnownEnding<StatusSource>;

/// How a process ended as the demo reports it: on Windows the 32-bit exit
/// code as `GetExitCodeProcess`, cmd and NTSTATUS read it.
#[cfg(windows)]
pub type Ending = crate::sys::windows::ending::WindowsEnding;

#[cfg(windows)]
pub use crate::sys::windows::demo::MachineFacts;

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// Something that went with the process.
    Went,
    /// Something that outlived it.
    Stayed,
    /// Something observed on the way (a state, a mask, a flag).
    Observed,
}

/// One fact checked on the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Went, stayed or observed.
    pub fact: Fact,
    /// A short name for the summary table: `memory`, `port 41234`.
    pub label: String,
    /// The fact as a sentence, as it should hold.
    pub expected: String,
    /// What was measured.
    pub measured: String,
    /// Whether the measurement bears the fact out.
    pub held: bool,
}

impl Check {
    /// A check on something that went.
    pub fn went(
        label: impl Into<String>,
        expected: impl Into<String>,
        measured: impl Into<String>,
        held: bool,
    ) -> Check {
        Check::new(Fact::Went, label, expected, measured, held)
    }

    /// A check on something that stayed.
    pub fn stayed(
        label: impl Into<String>,
        expected: impl Into<String>,
        measured: impl Into<String>,
        held: bool,
    ) -> Check {
        Check::new(Fact::Stayed, label, expected, measured, held)
    }

    /// A check on something observed.
    pub fn observed(
        label: impl Into<String>,
        expected: impl Into<String>,
        measured: impl Into<String>,
        held: bool,
    ) -> Check {
        Check::new(Fact::Observed, label, expected, measured, held)
    }

    fn new(
        fact: Fact,
        label: impl Into<String>,
        expected: impl Into<String>,
        measured: impl Into<String>,
        held: bool,
    ) -> Check {
        Check {
            fact,
            label: label.into(),
            expected: expected.into(),
            measured: measured.into(),
            held,
        }
    }
}

/// What `explain` says of the `$?` a shell showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainSummary {
    /// The number explained.
    pub input: String,
    /// The titles of its readings, most likely first.
    pub readings: Vec<String>,
}

/// How one process of a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Which variant of the scenario this is: `default action`, `with a handler`.
    pub label: String,
    /// What was done to it, or what it did.
    pub action: String,
    /// Its PID.
    pub pid: ProcessId,
    /// How it ended: on Linux wait status, `$?`, meaning, and where the
    /// status came from (`waitid` for our children); on Windows the exit
    /// code and its readings.
    pub ending: Ending,
    /// What `explain` says of its `$?`.
    pub explain: ExplainSummary,
    /// Why it did not die when asked, while it resisted (scenario 18).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    /// What went, what stayed, what was observed.
    pub checks: Vec<Check>,
}

#[cfg(target_os = "linux")]
impl RunReport {
    /// The decoded status.
    pub fn status(&self) -> ExitStatus {
        self.ending.views.status
    }
}

/// One scenario, run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioReport {
    /// Its number, from 1.
    pub id: u8,
    /// Its stable name: `exit`, `ghost-socket`.
    pub name: &'static str,
    /// A title.
    pub title: &'static str,
    /// The question it answers.
    pub question: &'static str,
    /// One entry per process whose ending it shows.
    pub runs: Vec<RunReport>,
    /// Facts about the machine that bear on the outcome (core_pattern, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Why it could not be run to its end, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took, in seconds.
    #[serde(rename = "duration_seconds")]
    pub seconds: f64,
}

impl ScenarioReport {
    /// Whether it ran and every check held.
    pub fn held(&self) -> bool {
        self.error.is_none() && self.runs.iter().all(|r| r.checks.iter().all(|c| c.held))
    }

    /// Every check of every run.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.runs.iter().flat_map(|r| r.checks.iter())
    }
}

/// Facts about the machine the demo ran on.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineFacts {
    /// `uname -r`.
    pub kernel: String,
    /// `/proc/sys/kernel/core_pattern`.
    pub core_pattern: String,
    /// `RLIMIT_CORE` of the demo process: soft and hard, `None` = unlimited.
    pub rlimit_core: CoreLimit,
    /// PID 1's name: who adopts orphans when no subreaper does.
    pub init_name: String,
}

/// `RLIMIT_CORE` in bytes, `None` meaning unlimited.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CoreLimit {
    /// The soft limit.
    pub soft: Option<u64>,
    /// The hard limit.
    pub hard: Option<u64>,
}

/// The whole demo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoReport {
    /// The machine.
    pub machine: MachineFacts,
    /// The scenarios, in the order asked for.
    pub scenarios: Vec<ScenarioReport>,
    /// Wall-clock time of the whole demo, in seconds.
    #[serde(rename = "duration_seconds")]
    pub seconds: f64,
}

impl DemoReport {
    /// Whether every scenario ran and every check held.
    pub fn held(&self) -> bool {
        self.scenarios.iter().all(ScenarioReport::held)
    }
}
