//! The diagnosis as a typed report: findings, each with its evidence (the
//! /proc file and field, and the value read), plain words and the next step
//! that would work; and what each signal would do.

use serde::Serialize;

pub use crate::finding::Evidence;
use crate::process::{Pid, ProcessState};
use crate::signal::Signal;

/// Why a process does not die, or that nothing stops it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The PID.
    pub pid: Pid,
    /// Its name (`comm`).
    pub name: String,
    /// Its command line.
    pub command_line: Vec<String>,
    /// The state of its main thread.
    pub state: ProcessState,
    /// How many threads it has.
    pub threads: usize,
    /// What SIGKILL would do now, all findings taken together.
    pub sigkill: KillEffect,
    /// The findings, the most important first.
    pub findings: Vec<Finding>,
    /// What SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGKILL would do now.
    pub signals: Vec<SignalOutcome>,
}

/// What SIGKILL does to the process now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KillEffect {
    /// It ends the process at once.
    EndsIt,
    /// It is queued and takes effect when a wait ends (or the cgroup thaws).
    Delayed,
    /// The kernel discards it (kernel thread, namespace init seen from inside).
    Ignored,
    /// We are not allowed to send it (`EPERM`).
    NotPermitted,
    /// Nothing to kill: the process is already dead (a zombie).
    AlreadyDead,
}

impl KillEffect {
    /// Plain words.
    pub fn describe(self) -> &'static str {
        match self {
            KillEffect::EndsIt => "SIGKILL would end it now",
            KillEffect::Delayed => "SIGKILL is queued and takes effect only when the wait ends",
            KillEffect::Ignored => "the kernel discards SIGKILL for it",
            KillEffect::NotPermitted => "we may not send it signals (EPERM)",
            KillEffect::AlreadyDead => "it is already dead; there is nothing to kill",
        }
    }
}

/// The kinds of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// We may not signal it (another user's process).
    OtherUser,
    /// A kernel thread: signals cannot end it.
    KernelThread,
    /// A zombie: already dead, waiting for its parent.
    Zombie,
    /// In `do_exit` (state X or `PF_EXITING`), or its main thread exited
    /// while other threads live on.
    Exiting,
    /// Writing a core dump (`CoreDumping: 1`).
    CoreDumping,
    /// A thread in uninterruptible sleep (D).
    UninterruptibleSleep,
    /// Frozen by a cgroup v1 freezer (`freezer.state`).
    FrozenCgroupV1,
    /// Frozen by the cgroup v2 freezer (`cgroup.freeze`).
    FrozenCgroupV2,
    /// Waiting for its vfork child to exec or exit.
    VforkParent,
    /// PID 1 of a PID namespace.
    NamespaceInit,
    /// Stopped (T).
    Stopped,
    /// A tracer (debugger) is attached.
    Traced,
    /// A termination signal is blocked in every thread.
    SignalBlocked,
    /// A termination signal is ignored.
    SignalIgnored,
    /// A termination signal is caught by a handler.
    SignalCaught,
    /// Signals are pending, not yet delivered.
    SignalsPending,
    /// Nothing resists: it is running or sleeping interruptibly.
    Running,
}

/// One reason, with its evidence and the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of finding.
    pub kind: FindingKind,
    /// A short title (`stopped (T)`, `uninterruptible sleep (D) in thread 12 (worker)`).
    pub title: String,
    /// What it means, in plain words.
    pub explanation: String,
    /// The /proc fields and values it rests on.
    pub evidence: Vec<Evidence>,
    /// The next step that would work.
    pub next_step: String,
    /// What SIGKILL does, given this finding alone.
    pub sigkill: KillEffect,
    /// The thread it is about, if it is about one thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<ThreadRef>,
    /// The signals it is about, for signal findings (one finding names
    /// every termination signal held the same way).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<Signal>,
}

/// A thread named by a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadRef {
    /// Its thread ID.
    pub tid: i32,
    /// Its name.
    pub name: String,
}

/// What one signal would do now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalOutcome {
    /// The signal.
    pub signal: Signal,
    /// What the process does with it: `default`, `ignored`, `caught`, or
    /// `blocked` (in every thread), `forced`, `discarded`.
    pub handling: &'static str,
    /// Whether it would end the process now.
    pub ends_it_now: bool,
    /// What happens, in plain words.
    pub effect: String,
}

impl Diagnosis {
    /// One line: the PID and name, and the most important findings
    /// (`4242 (python3): stopped (T); SIGTERM caught by a handler — SIGKILL would end it now`).
    pub fn summary(&self) -> String {
        let titles: Vec<&str> = self
            .findings
            .iter()
            .filter(|f| f.kind != FindingKind::SignalsPending)
            .take(3)
            .map(|f| f.title.as_str())
            .collect();
        let more = self
            .findings
            .iter()
            .filter(|f| f.kind != FindingKind::SignalsPending)
            .count()
            .saturating_sub(titles.len());
        let mut line = format!("{} ({}): {}", self.pid, self.name, titles.join("; "));
        if more > 0 {
            line.push_str(&format!("; and {more} more"));
        }
        line.push_str(" — ");
        line.push_str(self.sigkill.describe());
        line
    }

    /// Whether any finding is of `kind`.
    pub fn has(&self, kind: FindingKind) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }

    /// The findings of `kind`.
    pub fn findings_of(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }
}
