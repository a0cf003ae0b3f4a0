//! Observing processes that are not ours: the Linux `GetExitCodeProcess`
//! ([`status`]) and a `wait` that works for any PID ([`wait`]).
//!
//! Both open a pidfd first (see [`crate::process::Process`]), so the status
//! they report belongs to the process that had the PID when they started,
//! and `PIDFD_INFO_EXIT` can still tell how it ended after its parent reaped
//! it.

pub mod status;
pub mod wait;

use serde::Serialize;

use crate::exit::{ExitStatus, StatusViews};
use crate::process::{ExitObservation, StatusSource};

/// How a process ended, with every observer's view, ready for a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "observed", rename_all = "snake_case")]
pub enum EndingReport {
    /// The exit status is known.
    Known {
        /// The status and its views (wait status, `$?`, meaning).
        #[serde(flatten)]
        views: StatusViews,
        /// Where the status came from.
        source: StatusSource,
    },
    /// It ended, but the status cannot be known.
    Unobservable {
        /// Why, in plain words.
        reason: String,
    },
}

impl EndingReport {
    /// The status, if known.
    pub fn status(&self) -> Option<ExitStatus> {
        match self {
            EndingReport::Known { views, .. } => Some(views.status),
            EndingReport::Unobservable { .. } => None,
        }
    }
}

impl From<ExitObservation> for EndingReport {
    fn from(observation: ExitObservation) -> Self {
        match observation {
            ExitObservation::Known { status, source } => EndingReport::Known {
                views: status.into(),
                source,
            },
            ExitObservation::Unobservable { reason } => EndingReport::Unobservable {
                reason: reason.describe().to_string(),
            },
        }
    }
}
