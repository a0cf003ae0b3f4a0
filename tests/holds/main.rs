//! `afterlife holds`, `snapshot` and `leftovers`: one test binary, each
//! former test file a module. The walk of this process's own fd table runs
//! alone in a process of its own (`holds_walk`).

#[path = "../common/mod.rs"]
mod common;

mod holds_dead_leader;
mod holds_differential;
mod holds_files;
mod holds_ghosts;
mod holds_hung_mount;
mod holds_ranges;
mod holds_sockets;
mod holds_unprivileged;
mod holds_unreadable_links;
mod holds_v6only;
mod holds_walk;
mod leftovers_others;
mod leftovers_reused_pid;
mod leftovers_tree;
mod leftovers_zombie;
mod snapshot_exiting;
mod snapshot_tree;
