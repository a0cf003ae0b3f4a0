//! One process, safely addressed: a pidfd-based handle, its facts from /proc,
//! and walks of the process tree.
//!
//! Kernel facts relied on: `pidfd_open(2)` (Linux 5.3), `pidfd_send_signal(2)`
//! (5.1), `waitid(P_PIDFD)` (5.4), `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`
//! (6.15), `/proc/PID/stat` field 22 (start time) and field 52 (a zombie's
//! exit code, shown only with ptrace read access), proc_pid_status(5).

mod error;
pub mod fd_limit;
mod handle;
mod info;
mod pid;
mod state;
mod sys;
mod tree;

pub use error::{OpenError, ReadError, SignalError, WaitError};
pub use handle::{ExitObservation, Process, StatusSource, Unobservable, not_a_process, wait_any};
pub use info::{
    ExitFacts, ProcessInfo, SignalMasks, ending, files_dir, live_thread_of, main_thread_ended, read_as_one_program,
    tty_name, unmapped_overflow_uid, user_name,
};
pub use pid::{
    PID_MAX_LIMIT, Pid, PidParseError, capable_everywhere, in_initial_pid_namespace, in_initial_user_namespace,
    own_effective_capabilities,
};
pub use state::{ProcessState, killable_wait};
pub use tree::{ProcessTable, TableEntry};
