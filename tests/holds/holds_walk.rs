//! The fd walk of `holds` on this process's own, changing fd table: many
//! fds (several getdents64 calls) and a sparse table. It counts this
//! process's fds, so it runs alone in a test process of its own
//! ([`common::run_alone`]), where no other test opens or closes fds, nor
//! forks a copy of the listener, meanwhile.

use crate::common;

use std::os::fd::AsRawFd;

use afterlife::process::Pid;
use afterlife::resources::walk::{self, Options, PROBE_HOLES, Slot, all_pids, parallel_map, socket_inode};

#[test]
fn walk_finds_own_socket() {
    common::run_alone(&common::test_name(module_path!(), "walk_finds_own_socket_alone"));
}

#[test]
#[ignore = "runs alone in a process of its own, through walk_finds_own_socket"]
fn walk_finds_own_socket_alone() {
    if !common::alone(&common::test_name(module_path!(), "walk_finds_own_socket_alone")) {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let me = Pid::current();
    let inode = std::fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd()))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
    let options = Options {
        process_links: true,
        netns: true,
    };
    let walk = walk::walk(&all_pids(), options, |link| {
        (socket_inode(link) == Some(inode)).then_some(0)
    });
    assert!(walk.netns.iter().any(|&(p, _)| p == me));
    // Enough fds that the listing takes several getdents64 calls.
    let dups: Vec<std::os::fd::OwnedFd> = (0..400).map(|_| rustix::io::dup(&listener).unwrap()).collect();
    let walk2 = walk::walk(&[me], Options::default(), |link| {
        (socket_inode(link) == Some(inode)).then_some(0)
    });
    assert_eq!(walk2.hits.len(), 401);
    assert!(walk2.hits.iter().any(|h| h.slot == Slot::Fd(dups[399].as_raw_fd())));
    // A sparse table: an fd far above the others is found by listing.
    let high = rustix::io::fcntl_dupfd_cloexec(&listener, 1000).unwrap();
    const { assert!(1000 > 402 + PROBE_HOLES) };
    let walk3 = walk::walk(&[me], Options::default(), |link| {
        (socket_inode(link) == Some(inode)).then_some(0)
    });
    assert_eq!(walk3.hits.len(), 402);
    assert!(walk3.hits.iter().any(|h| h.slot == Slot::Fd(high.as_raw_fd())));
    assert!(
        walk.hits
            .iter()
            .any(|h| h.pid == me && h.slot == Slot::Fd(listener.as_raw_fd()))
    );
    let items: Vec<u32> = (0..500).collect();
    assert_eq!(
        parallel_map(&items, |x| x * 2),
        (0..500).map(|x| x * 2).collect::<Vec<_>>()
    );
}
