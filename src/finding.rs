//! The evidence a `why` finding rests on, one shape on Linux and on
//! Windows.

use serde::Serialize;

/// One fact a finding rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Where it was read: on Linux a /proc or /sys file and field
    /// (`/proc/42/status TracerPid`), on Windows the call that gave it
    /// (`OpenProcess(PROCESS_TERMINATE)`).
    pub source: String,
    /// The value read.
    pub value: String,
}

impl Evidence {
    /// An evidence line.
    pub fn new(source: impl Into<String>, value: impl Into<String>) -> Evidence {
        Evidence {
            source: source.into(),
            value: value.into(),
        }
    }
}
