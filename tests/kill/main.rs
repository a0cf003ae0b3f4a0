//! `afterlife kill`, and the process handles it signals through: one test
//! binary, each former test file a module. Trees are started in cgroup
//! jails of their own (`common::kill`), names and cgroups carry this
//! process's PID and a number of their own, and no test signals this
//! process's group or session.

#[path = "../common/mod.rs"]
mod common;

mod kill_cgroup;
mod kill_check;
mod kill_cli;
mod kill_dead_leader;
mod kill_fd_limit;
mod kill_fork_loop;
mod kill_freezer_v1;
mod kill_killable_sleep;
mod kill_library;
mod kill_name;
mod kill_nested;
mod kill_other_signal;
mod kill_other_user;
mod kill_pid_reuse;
mod kill_process_group;
mod kill_progress;
mod kill_refusals;
mod kill_report_text;
mod kill_setsid;
mod kill_stopped;
mod kill_survivors;
mod kill_term_ignored;
mod kill_term_slow;
mod kill_titles;
mod kill_tree_ipc;
mod kill_tree_ipc_reused_pid;
mod kill_tree_mqueue;
mod kill_zombie;
mod pid_reuse;
