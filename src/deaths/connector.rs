//! The fallback source: the netlink proc connector (`NETLINK_CONNECTOR`,
//! `CN_IDX_PROC`), which multicasts an event per thread exit with its exit
//! code (the wait status) — but no sender and no OOM details.
//!
//! Kernel facts relied on: `PROC_CN_MCAST_LISTEN` needs `CAP_NET_ADMIN` in
//! the initial user namespace before 6.6, and any user may listen since
//! (drivers/connector/cn_proc.c); its PIDs are the initial PID namespace's
//! (`task->pid`, `task->tgid`), so it is used only there; the exit event
//! is sent from `do_exit()` right after `exit_notify()`, so `/proc/PID`
//! names the process only until its parent reaps it, most often before
//! the event is read (the names come from taskstats and the lineage, see
//! [`super::connector_feed`]), and once reaped its PID may name another
//! process, which a start after the exit gives away; a process ends with
//! the exit of its last thread, the main thread's as a rule
//! ([`super::process_end`]); a receive queue that overflows makes the next
//! `recv` fail with `ENOBUFS`, counted as a loss.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::netlink::{NLMSG_HDRLEN, messages, u32_at, u64_at};

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_CN_MCAST_IGNORE: u32 = 2;
/// `PROC_EVENT_FORK`.
pub const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_UID: u32 = 0x0000_0004;
const PROC_EVENT_COMM: u32 = 0x0000_0200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const CN_MSG_LEN: usize = 20;

/// A listening proc connector socket.
pub struct Connector {
    fd: OwnedFd,
    lost: u64,
    /// The kernel's drop count as last read (a `u32` that wraps), and the
    /// drops counted up to then.
    drops_read: std::cell::Cell<(u32, u64)>,
    buffer: Vec<u8>,
}

/// Why the proc connector could not start.
#[derive(Debug, thiserror::Error)]
#[error("failed to {call}: {source}")]
pub struct ConnectorError {
    call: &'static str,
    source: io::Error,
}

fn check<T>(call: &'static str, result: rustix::io::Result<T>) -> Result<T, ConnectorError> {
    result.map_err(|errno| ConnectorError {
        call,
        source: errno.into(),
    })
}

impl Connector {
    /// Opens, binds and subscribes.
    pub fn open() -> Result<Connector, ConnectorError> {
        Self::open_for(None)
    }

    /// Opens, binds and subscribes to the events of `events` alone (a
    /// mask of `PROC_EVENT_*`) where the kernel filters them (Linux 6.6);
    /// to every event before, or with `None`.
    pub fn open_for(events: Option<u32>) -> Result<Connector, ConnectorError> {
        let fd = check(
            "open a NETLINK_CONNECTOR socket",
            rustix::net::socket_with(
                AddressFamily::NETLINK,
                SocketType::DGRAM,
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
                Some(netlink::CONNECTOR),
            ),
        )?;
        crate::netlink::set_receive_buffer(fd.as_fd(), crate::netlink::RECEIVE_BUFFER);
        check(
            "bind to the proc connector",
            rustix::net::bind(&fd, &SocketAddrNetlink::new(0, CN_IDX_PROC)),
        )?;
        let filters = || {
            let release = rustix::system::uname().release().to_string_lossy().into_owned();
            crate::resources::walk::kernel_at_least(&release, 6, 6)
        };
        let message = control_message(PROC_CN_MCAST_LISTEN, events.filter(|_| filters()));
        check(
            "subscribe to process events (needs CAP_NET_ADMIN)",
            rustix::net::send(&fd, &message, SendFlags::empty()),
        )?;
        Ok(Connector {
            fd,
            lost: 0,
            drops_read: std::cell::Cell::new((0, 0)),
            buffer: vec![0u8; 64 * 1024],
        })
    }

    /// Sets the socket's receive buffer to `bytes` (the kernel doubles it
    /// for its bookkeeping), so that a test can fill it.
    pub fn set_receive_buffer(&self, bytes: usize) {
        crate::netlink::set_receive_buffer(self.fd.as_fd(), bytes);
    }

    /// The socket: readable when events wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Events lost to a full receive queue: the kernel's count of the
    /// messages it dropped (each one event), or, where it cannot be read,
    /// one per `ENOBUFS` (at least one was lost each time).
    pub fn lost(&self) -> u64 {
        if self.lost == 0 {
            return 0;
        }
        let (last, counted) = self.drops_read.get();
        if let Ok(drops) = crate::sys::linux::fd::socket_drops(self.fd.as_fd()) {
            self.drops_read
                .set((drops, counted + u64::from(drops.wrapping_sub(last))));
        }
        self.lost.max(self.drops_read.get().1)
    }

    /// Hands every waiting datagram to `each`, counting losses.
    pub fn drain_datagrams(&mut self, mut each: impl FnMut(&[u8])) {
        loop {
            let n = match rustix::net::recv(&self.fd, &mut self.buffer[..], RecvFlags::empty()) {
                Ok((n, _)) => n,
                Err(rustix::io::Errno::NOBUFS) => {
                    self.lost += 1;
                    continue;
                }
                Err(rustix::io::Errno::INTR) => continue,
                // EAGAIN: nothing more waits.
                Err(_) => return,
            };
            each(&self.buffer[..n]);
        }
    }
}

impl Drop for Connector {
    /// Unsubscribes before the socket closes: the kernel counts listeners
    /// by these messages alone (closing a socket frees its filter but does
    /// not lower the count), and while the count is above 0 every fork,
    /// exec and exit on the machine builds an event for no one.
    fn drop(&mut self) {
        let _ = rustix::net::send(
            &self.fd,
            &control_message(PROC_CN_MCAST_IGNORE, None),
            SendFlags::empty(),
        );
    }
}

/// nlmsghdr + cn_msg + the multicast operation `op`, as the kernel
/// expects; with `events`, a `struct proc_input` that keeps only those
/// events (Linux 6.6; an older kernel ignores such a message). Pure.
fn control_message(op: u32, events: Option<u32>) -> Vec<u8> {
    let payload: u16 = if events.is_some() { 8 } else { 4 };
    let total = NLMSG_HDRLEN + CN_MSG_LEN + usize::from(payload);
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&std::process::id().to_ne_bytes());
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&payload.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&op.to_ne_bytes());
    if let Some(events) = events {
        m.extend_from_slice(&events.to_ne_bytes());
    }
    m
}

/// One `PROC_EVENT_EXIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitEvent {
    /// The thread.
    pub pid: i32,
    /// Its process.
    pub tgid: i32,
    /// The wait status.
    pub exit_code: i32,
    /// The parent's process.
    pub parent_tgid: i32,
    /// `CLOCK_MONOTONIC` ns.
    pub timestamp_ns: u64,
}

/// The exit events in one datagram (netlink messages, each a cn_msg with a
/// proc_event). Pure.
pub fn parse_datagram(bytes: &[u8]) -> Vec<ExitEvent> {
    events_of(bytes).filter_map(parse_event).collect()
}

/// The proc_events of one datagram, each as its bytes after its
/// `cn_msg`. Pure.
fn events_of(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    messages(bytes).map(|(_, body)| body.get(CN_MSG_LEN..).unwrap_or_default())
}

/// One `PROC_EVENT_FORK` of a new process (not of a thread): its parent
/// process and itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkEvent {
    /// The process that forked.
    pub parent_tgid: i32,
    /// The new process.
    pub child_tgid: i32,
    /// When the event was sent, as the new process was made
    /// (`CLOCK_MONOTONIC` ns).
    pub timestamp_ns: u64,
}

/// The forks of new processes in one datagram; a new thread (whose
/// `child_pid` is not its `child_tgid`) is none. Pure.
pub fn parse_forks(bytes: &[u8]) -> Vec<ForkEvent> {
    parse_events(bytes)
        .into_iter()
        .filter_map(|event| match event {
            Event::Fork(fork) => Some(fork),
            _ => None,
        })
        .collect()
}

/// One event of the proc connector that tells of a process's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new process (not a thread).
    Fork(ForkEvent),
    /// A process ran `execve` (its PID, as the main thread has it after).
    Exec {
        /// The process.
        tgid: i32,
        /// When.
        timestamp_ns: u64,
    },
    /// A process's main thread took a new real user ID.
    Uid {
        /// The process.
        tgid: i32,
        /// The new real user ID.
        ruid: u32,
    },
    /// A process's main thread was renamed (`PR_SET_NAME`).
    Comm {
        /// The process.
        tgid: i32,
        /// The new name.
        name: String,
    },
    /// A thread exited.
    Exit(ExitEvent),
    /// A process started a new thread.
    Thread {
        /// The process.
        tgid: i32,
    },
}

/// The events of one datagram that tell of processes (renames and user
/// changes of threads other than the main one are none). Pure.
pub fn parse_events(bytes: &[u8]) -> Vec<Event> {
    events_of(bytes).filter_map(parse_life_event).collect()
}

fn parse_life_event(event: &[u8]) -> Option<Event> {
    let what = u32_at(event, 0)?;
    let timestamp_ns = u64_at(event, 8)?;
    let pid = u32_at(event, 16)? as i32;
    let tgid = u32_at(event, 20)? as i32;
    match what {
        PROC_EVENT_FORK => {
            let child_pid = u32_at(event, 24)? as i32;
            let child_tgid = u32_at(event, 28)? as i32;
            Some(if child_pid == child_tgid {
                Event::Fork(ForkEvent {
                    parent_tgid: tgid,
                    child_tgid,
                    timestamp_ns,
                })
            } else {
                Event::Thread { tgid: child_tgid }
            })
        }
        PROC_EVENT_EXEC => Some(Event::Exec { tgid, timestamp_ns }),
        PROC_EVENT_UID if pid == tgid => Some(Event::Uid {
            tgid,
            ruid: u32_at(event, 24)?,
        }),
        PROC_EVENT_COMM if pid == tgid => {
            let field = event.get(24..40)?;
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            Some(Event::Comm {
                tgid,
                name: String::from_utf8_lossy(&field[..end]).into_owned(),
            })
        }
        PROC_EVENT_EXIT => parse_event(event).map(Event::Exit),
        _ => None,
    }
}

fn parse_event(event: &[u8]) -> Option<ExitEvent> {
    if u32_at(event, 0)? != PROC_EVENT_EXIT {
        return None;
    }
    Some(ExitEvent {
        timestamp_ns: u64_at(event, 8)?,
        pid: u32_at(event, 16)? as i32,
        tgid: u32_at(event, 20)? as i32,
        exit_code: u32_at(event, 24)? as i32,
        parent_tgid: u32_at(event, 36)? as i32,
    })
}

/// `CLOCK_MONOTONIC - CLOCK_BOOTTIME` (the time suspended, negated), to
/// put stat's boot-based start on the monotonic clock. Wraps to a large
/// value; callers add it with wrapping semantics.
pub fn monotonic_minus_boottime() -> u64 {
    let ns = |t: rustix::time::Timespec| t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128;
    let mono = ns(rustix::time::clock_gettime(rustix::time::ClockId::Monotonic));
    let boot = ns(rustix::time::clock_gettime(rustix::time::ClockId::Boottime));
    (mono - boot) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filtered_listen_message_carries_the_events_kept() {
        let m = control_message(PROC_CN_MCAST_LISTEN, Some(PROC_EVENT_FORK));
        assert_eq!(m.len(), 44);
        assert_eq!(u32_at(&m, 0), Some(44));
        // cn_msg's len: a struct proc_input.
        assert_eq!(u16::from_ne_bytes([m[32], m[33]]), 8);
        assert_eq!(u32_at(&m, 36), Some(PROC_CN_MCAST_LISTEN));
        assert_eq!(u32_at(&m, 40), Some(PROC_EVENT_FORK));
    }

    #[test]
    fn the_listen_message_is_a_whole_netlink_message() {
        let m = control_message(PROC_CN_MCAST_LISTEN, None);
        assert_eq!(m.len(), 40);
        assert_eq!(u32_at(&m, 0), Some(40));
        assert_eq!(u32_at(&m, 16), Some(CN_IDX_PROC));
        assert_eq!(u32_at(&m, 36), Some(PROC_CN_MCAST_LISTEN));
    }

    #[test]
    fn forks_of_processes_are_read_and_new_threads_are_not() {
        let event = |parent: u32, child_pid: u32, child_tgid: u32| {
            let mut d = vec![0u8; NLMSG_HDRLEN + CN_MSG_LEN + 40];
            let len = d.len() as u32;
            d[0..4].copy_from_slice(&len.to_ne_bytes());
            let e = NLMSG_HDRLEN + CN_MSG_LEN;
            d[e..e + 4].copy_from_slice(&PROC_EVENT_FORK.to_ne_bytes());
            d[e + 16..e + 20].copy_from_slice(&parent.to_ne_bytes());
            d[e + 20..e + 24].copy_from_slice(&parent.to_ne_bytes());
            d[e + 24..e + 28].copy_from_slice(&child_pid.to_ne_bytes());
            d[e + 28..e + 32].copy_from_slice(&child_tgid.to_ne_bytes());
            d
        };
        let mut datagram = event(10, 11, 11);
        datagram.extend(event(10, 12, 10));
        assert_eq!(
            parse_forks(&datagram),
            [ForkEvent {
                parent_tgid: 10,
                child_tgid: 11,
                timestamp_ns: 0,
            }]
        );
        assert!(parse_datagram(&datagram).is_empty(), "no exit in it");
    }

    #[test]
    fn execs_renames_and_user_changes_of_processes_are_read() {
        let event = |what: u32, pid: u32, tgid: u32, rest: &[u8]| {
            let mut d = vec![0u8; NLMSG_HDRLEN + CN_MSG_LEN + 40];
            let len = d.len() as u32;
            d[0..4].copy_from_slice(&len.to_ne_bytes());
            let e = NLMSG_HDRLEN + CN_MSG_LEN;
            d[e..e + 4].copy_from_slice(&what.to_ne_bytes());
            d[e + 8..e + 16].copy_from_slice(&77u64.to_ne_bytes());
            d[e + 16..e + 20].copy_from_slice(&pid.to_ne_bytes());
            d[e + 20..e + 24].copy_from_slice(&tgid.to_ne_bytes());
            d[e + 24..e + 24 + rest.len()].copy_from_slice(rest);
            d
        };
        let mut datagram = event(PROC_EVENT_EXEC, 5, 5, &[]);
        datagram.extend(event(PROC_EVENT_COMM, 5, 5, b"worker\0"));
        datagram.extend(event(PROC_EVENT_COMM, 6, 5, b"thread\0"));
        datagram.extend(event(PROC_EVENT_UID, 5, 5, &33u32.to_ne_bytes()));
        datagram.extend(event(PROC_EVENT_UID, 6, 5, &34u32.to_ne_bytes()));
        assert_eq!(
            parse_events(&datagram),
            [
                Event::Exec {
                    tgid: 5,
                    timestamp_ns: 77
                },
                Event::Comm {
                    tgid: 5,
                    name: "worker".to_string()
                },
                Event::Uid { tgid: 5, ruid: 33 },
            ],
            "a thread's rename and user change are not the process's"
        );
    }

    #[test]
    fn an_exit_event_is_read() {
        let mut d = vec![0u8; NLMSG_HDRLEN + CN_MSG_LEN + 40];
        let len = d.len() as u32;
        d[0..4].copy_from_slice(&len.to_ne_bytes());
        let e = NLMSG_HDRLEN + CN_MSG_LEN;
        d[e..e + 4].copy_from_slice(&PROC_EVENT_EXIT.to_ne_bytes());
        d[e + 8..e + 16].copy_from_slice(&123u64.to_ne_bytes());
        d[e + 16..e + 20].copy_from_slice(&50u32.to_ne_bytes());
        d[e + 20..e + 24].copy_from_slice(&50u32.to_ne_bytes());
        d[e + 24..e + 28].copy_from_slice(&(7u32 << 8).to_ne_bytes());
        d[e + 36..e + 40].copy_from_slice(&1u32.to_ne_bytes());
        let exits = parse_datagram(&d);
        assert_eq!(
            exits,
            vec![ExitEvent {
                pid: 50,
                tgid: 50,
                exit_code: 7 << 8,
                parent_tgid: 1,
                timestamp_ns: 123
            }]
        );
        // A fork event (what = 1) is skipped.
        d[e..e + 4].copy_from_slice(&1u32.to_ne_bytes());
        assert!(parse_datagram(&d).is_empty());
    }
}
