//! `afterlife deaths` and the BPF iterators: one test binary, each former
//! test file a module. No test here runs `kill` or `holds`, whose iterator
//! caches `bpf_iterators` corrupts on purpose.

#[path = "../common/mod.rs"]
mod common;

mod bpf_iterators;
mod deaths_causes;
mod deaths_connector;
mod deaths_filters;
mod deaths_lost;
mod deaths_oom;
mod deaths_terminal;
