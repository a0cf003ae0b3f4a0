//! The command line as a whole and the commands without a binary of their
//! own: errors, `explain`, `-q`, `wait`, completions and man pages, `demo`,
//! and afterlife as a test wrapper. One test binary, each former test file
//! a module.

#[path = "../common/mod.rs"]
mod common;

mod cli_errors;
mod command_lines;
mod completions;
mod demo_cli;
mod demo_scenarios;
mod explain;
mod json_schema;
mod nextest_wrapper;
mod proc_view;
mod process_start;
mod quiet;
mod status_exec;
mod wait;
mod wait_sender;
