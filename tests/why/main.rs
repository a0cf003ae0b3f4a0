//! `afterlife why`: one test binary, each former test file a module.

#[path = "../common/mod.rs"]
mod common;

mod why_exiting_threads;
mod why_kernel_waits;
mod why_main_thread_ended;
mod why_states;
mod why_traced_thread;
mod why_zombies;
