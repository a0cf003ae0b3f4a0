//! `afterlife run` and `afterlife timeout`: supervise a command tree with a
//! deadline — total containment, exact exit status, and what it left behind.
//!
//! [`Supervisor`] starts the command under the strongest containment the
//! machine allows ([`containment`]: a cgroup v2 leaf, a PID namespace, or a
//! child subreaper), starts it in its leaf where it can (`spawn`), passes
//! signals on ([`signals`]), sends the deadline's
//! signal and SIGKILL after the grace period, then lists the processes the
//! tree left behind with what they hold ([`leftover_facts`]) and how they
//! escaped, ends them with the same grace plan, and says exactly how the
//! command died ([`cause`]). A keeper process ([`keeper`]) ends the tree if
//! afterlife itself is killed.

pub mod cause;
pub mod cgroup_leaf;
pub mod containment;
pub mod dir_left;
pub mod keeper;
pub mod leftover_facts;
mod policy;
pub mod report;
pub mod signals;
mod spawn;
mod supervisor;
pub mod sweep;

pub use containment::{Containment, ContainmentChoice};
pub use report::RunReport;
pub use supervisor::{DEFAULT_GRACE, SuperviseError, Supervisor};
