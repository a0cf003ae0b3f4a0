//! `afterlife run` and `afterlife timeout`: one test binary, each former
//! test file a module. Every afterlife these tests start makes its cgroup
//! leaf beside this process and removes the stale ones there; the tests
//! that look at leaves use a cgroup of their own (`run_supervisors_killed`).

#[path = "../common/mod.rs"]
mod common;

mod run_cause;
mod run_containment;
mod run_dead_master;
mod run_exit_codes;
mod run_fail_on_leftovers;
mod run_ipc_kinds;
mod run_ipc_leftovers;
mod run_ipc_reused_pid;
mod run_reports;
mod run_sender;
mod run_signals;
mod run_start_in_leaf;
mod run_supervisors_killed;
mod run_tty;
mod timeout_coreutils;
mod timeout_durations;
mod timeout_killed;
