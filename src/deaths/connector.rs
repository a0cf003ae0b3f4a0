//! The fallback source: the netlink proc connector (`NETLINK_CONNECTOR`,
//! `CN_IDX_PROC`), which multicasts an event per thread exit with its exit
//! code (the wait status) — but no sender and no OOM details.
//!
//! Kernel facts relied on: `PROC_CN_MCAST_LISTEN` needs `CAP_NET_ADMIN` in
//! the initial user namespace before 6.6, and any user may listen since
//! (drivers/connector/cn_proc.c); its PIDs are the initial PID namespace's
//! (`task->pid`, `task->tgid`), so it is used only there; the exit event
//! is sent from `do_exit()` right after `exit_notify()`, so `/proc/PID`
//! still names the process until its parent reaps it (its name, user,
//! start time and cgroup are read there, best effort; its memory, and so
//! its command line, is gone), and once reaped its PID may name another
//! process, which a start after the exit gives away; a process ends with
//! the exit of its last thread, the main thread's as a rule
//! ([`super::process_end`]); a receive queue that overflows makes the next
//! `recv` fail with `ENOBUFS`, counted as a loss.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use super::event::RawDeath;
use super::process_end::{Look, ProcessEnds};

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_CN_MCAST_IGNORE: u32 = 2;
/// `PROC_EVENT_FORK`.
pub const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;

/// A listening proc connector socket.
pub struct Connector {
    fd: OwnedFd,
    lost: u64,
    buffer: Vec<u8>,
    ends: ProcessEnds<Facts>,
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
        raise_receive_buffer(fd.as_fd());
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
            buffer: vec![0u8; 64 * 1024],
            ends: ProcessEnds::default(),
        })
    }

    /// The socket: readable when events wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Records lost to a full receive queue (at least one per `ENOBUFS`).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Takes every waiting exit of a whole process.
    pub fn drain(&mut self, out: &mut Vec<RawDeath>) {
        let mut exits = Vec::new();
        self.drain_datagrams(|datagram| exits.extend(parse_datagram(datagram)));
        let ends = self.ends.take(&exits, look);
        out.extend(ends.into_iter().map(|end| raw_death(&end)));
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

fn raise_receive_buffer(fd: BorrowedFd<'_>) {
    let size = 8 << 20;
    // EPERM for the forced size without CAP_NET_ADMIN: the plain one is
    // capped at rmem_max, still better than the default.
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(fd, size).is_err() {
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(fd, size);
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

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The exit events in one datagram (netlink messages, each a cn_msg with a
/// proc_event). Pure.
pub fn parse_datagram(bytes: &[u8]) -> Vec<ExitEvent> {
    events_of(bytes).filter_map(parse_event).collect()
}

/// The proc_events of one datagram, each as its bytes. Pure.
fn events_of(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = u32_at(bytes, at)? as usize;
        if len < NLMSG_HDRLEN || at + len > bytes.len() {
            return None;
        }
        let event = &bytes[at + NLMSG_HDRLEN + CN_MSG_LEN.min(len - NLMSG_HDRLEN)..at + len];
        at += (len + 3) & !3;
        Some(event)
    })
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
    events_of(bytes)
        .filter_map(|event| {
            if u32_at(event, 0)? != PROC_EVENT_FORK {
                return None;
            }
            let child_pid = u32_at(event, 24)? as i32;
            let child_tgid = u32_at(event, 28)? as i32;
            (child_pid == child_tgid).then_some(ForkEvent {
                parent_tgid: u32_at(event, 20)? as i32,
                child_tgid,
                timestamp_ns: u64::from(u32_at(event, 8)?) | (u64::from(u32_at(event, 12)?) << 32),
            })
        })
        .collect()
}

fn parse_event(event: &[u8]) -> Option<ExitEvent> {
    if u32_at(event, 0)? != PROC_EVENT_EXIT {
        return None;
    }
    Some(ExitEvent {
        timestamp_ns: u64::from(u32_at(event, 8)?) | (u64::from(u32_at(event, 12)?) << 32),
        pid: u32_at(event, 16)? as i32,
        tgid: u32_at(event, 20)? as i32,
        exit_code: u32_at(event, 24)? as i32,
        parent_tgid: u32_at(event, 36)? as i32,
    })
}

/// What /proc still says of a process that exited: its `stat`, user and
/// cgroup, read through one `/proc/PID` directory fd.
struct Facts {
    stat: crate::proc::stat::Stat,
    uid: Option<u32>,
    cgroup: Option<String>,
}

/// Whether the process of `leader` (its main thread's exit) has ended,
/// with what /proc still says of it. Nothing is said of a process reaped
/// already, nor of one that started after the exit: its PID was handed
/// out again (the start time reads in clock ticks, early rather than
/// late, so the process that exited never reads as started after it).
///
/// The main thread that sent its exit is a zombie until it is reaped. A
/// process at its PID that is not one, and started no later, is the same
/// process with another thread in the main thread's place: a thread that
/// calls `execve` takes the main thread's PID and start time once the
/// kernel has ended the main thread (`de_thread`), and runs on as the new
/// program. (A PID handed out again within the clock tick of the exit, as
/// only a write to `ns_last_pid` can, would read so too: that death is
/// then not shown, rather than shown with another process's facts.)
fn look(leader: &ExitEvent) -> Look<Facts> {
    let Ok(process) = crate::proc::Process::new(leader.tgid) else {
        return Look::Ended(None);
    };
    let Ok(stat) = crate::proc::stat::of(&process) else {
        return Look::Ended(None);
    };
    if start_ns(&stat) > leader.timestamp_ns {
        return Look::Ended(None);
    }
    let exec_by_a_thread = !matches!(stat.state, 'Z' | 'X');
    let runs_on = exec_by_a_thread || (stat.num_threads > 1 && a_thread_runs_on(&process, leader.tgid));
    let cgroup = process
        .cgroups()
        .ok()
        .and_then(|groups| crate::proc::cgroup::v2_path(&groups.0));
    let facts = Some(Facts {
        uid: process.uid().ok(),
        cgroup,
        stat,
    });
    if runs_on {
        Look::LivesOn(facts)
    } else {
        Look::Ended(facts)
    }
}

/// Whether a thread of `process` other than its main thread has not sent
/// its exit yet: it is listed and neither a zombie nor dead.
fn a_thread_runs_on(process: &crate::proc::Process, tgid: i32) -> bool {
    let Ok(tasks) = process.tasks() else { return false };
    tasks
        .flatten()
        .filter(|task| task.tid != tgid)
        .any(|task| task.stat().is_ok_and(|s| !matches!(s.state, 'Z' | 'X')))
}

/// When `stat`'s process started, on `CLOCK_MONOTONIC` (stat's start
/// counts from boot, with suspend).
fn start_ns(stat: &crate::proc::stat::Stat) -> u64 {
    (stat.starttime * (1_000_000_000 / crate::proc::ticks_per_second())).wrapping_add(monotonic_minus_boottime())
}

/// A whole process's end as a raw death.
fn raw_death(end: &super::process_end::End<Facts>) -> RawDeath {
    let facts = end.facts.as_ref();
    RawDeath {
        pid: end.leader.tgid,
        // The event's parent reads 0 now and then (the parent link is read
        // only while the task is "alive" for RCU): stat's then, if any.
        ppid: Some(end.leader.parent_tgid)
            .filter(|&p| p > 0)
            .or_else(|| facts.map(|f| f.stat.ppid).filter(|&p| p > 0)),
        uid: facts.and_then(|f| f.uid),
        wait_status: end.wait_status,
        name: facts.map(|f| f.stat.comm.clone()),
        cmdline: None,
        cmdline_cut: false,
        exit_ns: Some(end.last.timestamp_ns),
        start_ns: facts.map(|f| start_ns(&f.stat)),
        cgroup_id: None,
        cgroup_path: facts.and_then(|f| f.cgroup.clone()),
        signal: None,
        oom: None,
    }
}

/// `CLOCK_MONOTONIC - CLOCK_BOOTTIME` (the time suspended, negated), to
/// put stat's boot-based start on the monotonic clock. Wraps to a large
/// value; callers add it with wrapping semantics.
fn monotonic_minus_boottime() -> u64 {
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
