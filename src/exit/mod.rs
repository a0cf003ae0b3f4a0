//! How a process ended, and what a number means.
//!
//! [`ExitStatus`] is the kernel's wait status in a type: exited with a code,
//! or killed by a signal with the core-dump flag. [`explain`] reads any
//! number a user meets — a shell's `$?`, a negative Python return code, a
//! Windows exit code or NTSTATUS in any of its forms — and lists every
//! reading that fits.

pub mod explain;
mod status;
pub mod sysexits;
pub mod windows;

pub use status::{Cause, Ending, ExitStatus, KnownEnding, StatusViews};
