//! Ending processes for sure: signal plans, selection and refusals,
//! containment (cgroup v2 freeze and kill; otherwise stop every member,
//! walk again, then signal), and a report that says how each process ended
//! or why it is still alive.
//!
//! Kernel behaviour relied on: signals go only through pidfds
//! (`pidfd_send_signal(2)`, Linux 5.1) opened and checked against the start
//! time of the scan, so a recycled PID is never signalled; a process with
//! `SIGSTOP` pending cannot complete a `fork`; `cgroup.freeze` (5.2) and
//! `cgroup.kill` (5.14) act on a whole cgroup subtree, forks included.
//!
//! - [`plan`]: the [`TerminationPlan`] value and the pure decision of what
//!   to do next.
//! - [`select`]: PIDs, trees, sessions, process groups; refusals.
//! - [`cgroup`]: the cgroup v2 interface, shared with other commands.
//! - [`report`]: the typed per-process report and survivor reasons.
//! - [`check`]: the null signal (`kill -0`) to a selection: who exists,
//!   whom afterlife may signal.
//! - [`terminate`] ends a selection; [`Terminate::terminate`] ends one
//!   [`Process`].

pub mod cgroup;
pub mod check;
mod engine;
pub(crate) mod freeze;
pub mod plan;
pub mod report;
pub mod select;
mod targets;

pub use engine::{
    NextMove, PROGRESS_EVERY, Progress, Request, TerminateError, terminate, terminate_observed, terminate_with_scan,
};
pub use plan::TerminationPlan;
pub use report::{Containment, EndedBy, Outcome, ProcessReport, SurvivorReason, TerminationReport};
pub use select::{Refusal, Scope};

use crate::process::Process;

/// `Process::terminate`: end one process following a plan.
///
/// The graceful signal is followed by `SIGCONT` so that a stopped process
/// can handle it; after the grace period `SIGKILL` follows if the plan
/// escalates. The process is never signalled once it has exited, whoever
/// has its PID by then.
pub trait Terminate {
    /// Ends this process following `plan` and says how it ended, or why it
    /// is still alive.
    fn terminate(&self, plan: &TerminationPlan) -> Result<ProcessReport, TerminateError>;
}

impl Terminate for Process {
    fn terminate(&self, plan: &TerminationPlan) -> Result<ProcessReport, TerminateError> {
        engine::terminate_process(self, plan)
    }
}
