//! The kernel's per-task exit records (taskstats, a generic netlink
//! family), which name every exiting task as it was at its exit: its name,
//! real user, parent and how long it lived. The proc connector's exit comes
//! after the parent was told and carries no name; a taskstats record is
//! sent from `do_exit()` before `exit_mm()` and `exit_notify()`, so it is
//! queued before the connector's exit of the same task, and a program that
//! ends within a moment of its `execve` is named too.
//!
//! Kernel facts relied on (kernel/taskstats.c, include/uapi/linux/
//! taskstats.h): a listener registers a CPU list with
//! `TASKSTATS_CMD_ATTR_REGISTER_CPUMASK` (`CAP_NET_ADMIN`), and each exit
//! on those CPUs is sent to its socket as `TASKSTATS_TYPE_AGGR_PID`
//! holding the task's PID and `struct taskstats`, whose fields keep their
//! offsets in every version (new ones are only appended); a listener's
//! registration outlives its socket until a send to it fails, so it
//! deregisters before it closes.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::netlink::{NLMSG_ERROR, NLMSG_HDRLEN, attributes, error_of, messages, u16_at, u32_at, u64_at};

const GENL_HDRLEN: usize = 4;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const TASKSTATS_CMD_GET: u8 = 1;
const TASKSTATS_CMD_NEW: u8 = 2;
const TASKSTATS_CMD_ATTR_REGISTER_CPUMASK: u16 = 3;
const TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK: u16 = 4;
const TASKSTATS_TYPE_PID: u16 = 1;
const TASKSTATS_TYPE_STATS: u16 = 3;
const TASKSTATS_TYPE_AGGR_PID: u16 = 4;

/// `struct taskstats` offsets (include/uapi/linux/taskstats.h).
const AC_EXITCODE: usize = 4;
const AC_COMM: usize = 80;
const TS_COMM_LEN: usize = 32;
const AC_UID: usize = 120;
const AC_PPID: usize = 132;
const AC_ETIME: usize = 144;
/// `ac_tgid`, from version 12 (Linux 5.x) on.
const AC_TGID: usize = 368;

/// One task's exit as taskstats told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskExit {
    /// The task (thread) ID.
    pub pid: i32,
    /// Its process, where the record says (version 12 on).
    pub tgid: Option<i32>,
    /// Its name at its exit.
    pub name: String,
    /// Its real user ID.
    pub uid: u32,
    /// Its parent process.
    pub ppid: i32,
    /// Its wait status as the task exited with it.
    pub exit_code: i32,
    /// How long it lived, in ns (the record gives µs).
    pub lived_ns: u64,
}

/// Why the taskstats listener could not start.
#[derive(Debug, thiserror::Error)]
#[error("failed to {call}: {source}")]
pub struct TaskstatsError {
    call: &'static str,
    source: io::Error,
}

fn check<T>(call: &'static str, result: rustix::io::Result<T>) -> Result<T, TaskstatsError> {
    result.map_err(|errno| TaskstatsError {
        call,
        source: errno.into(),
    })
}

/// A registered taskstats listener, and the exits it has read whose
/// process's end has not been taken yet.
pub struct Taskstats {
    fd: OwnedFd,
    family: u16,
    cpus: String,
    buffer: Vec<u8>,
    /// Exits of main threads (and, on kernels whose records lack the
    /// process ID, of every task), with the drain they were read in, in
    /// the order they were sent: a PID can have two waiting when the feed
    /// is behind (a main thread that a thread's `execve` ended, then the
    /// new program's; or a process and the next one given its PID).
    exits: HashMap<i32, VecDeque<(TaskExit, u64)>>,
    drains: u64,
}

impl Taskstats {
    /// Opens a generic netlink socket, finds the family and registers for
    /// the exits on every possible CPU.
    pub fn open() -> Result<Taskstats, TaskstatsError> {
        let fd = check(
            "open a NETLINK_GENERIC socket",
            rustix::net::socket_with(
                AddressFamily::NETLINK,
                SocketType::RAW,
                SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
                Some(netlink::GENERIC),
            ),
        )?;
        check(
            "bind a NETLINK_GENERIC socket",
            rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0)),
        )?;
        crate::netlink::set_receive_buffer(fd.as_fd(), crate::netlink::RECEIVE_BUFFER);
        let mut buffer = vec![0u8; 64 * 1024];
        let family = request(&fd, &mut buffer, &family_request())?;
        let family = find_family_id(&family).ok_or_else(|| TaskstatsError {
            call: "find the TASKSTATS family",
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
        let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .map(|text| text.trim().to_string())
            .map_err(|source| TaskstatsError {
                call: "read the possible CPUs",
                source,
            })?;
        let register = cpumask_message(family, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, &cpus);
        let answer = request(&fd, &mut buffer, &register)?;
        if let Some(errno) = ack_error(&answer).filter(|&e| e != 0) {
            return Err(TaskstatsError {
                call: "register for task exits (needs CAP_NET_ADMIN)",
                source: io::Error::from_raw_os_error(-errno),
            });
        }
        Ok(Taskstats {
            fd,
            family,
            cpus,
            buffer,
            exits: HashMap::new(),
            drains: 0,
        })
    }

    /// Reads every waiting record; a record kept for two drains without
    /// its process's end being taken is dropped (that exit's connector
    /// event was lost, or it was a thread's).
    pub fn drain(&mut self) {
        self.drains += 1;
        let drains = self.drains;
        self.exits.retain(|_, waiting| {
            waiting.retain(|(_, read_in)| *read_in + 2 >= drains);
            !waiting.is_empty()
        });
        self.read_waiting();
    }

    fn read_waiting(&mut self) {
        loop {
            let n = match rustix::net::recv(&self.fd, &mut self.buffer[..], RecvFlags::empty()) {
                Ok((n, _)) => n,
                // A full queue: the names of those exits are lost, not the deaths.
                Err(rustix::io::Errno::NOBUFS | rustix::io::Errno::INTR) => continue,
                Err(_) => return,
            };
            for exit in parse_exits(&self.buffer[..n], self.family) {
                if exit.tgid.is_none_or(|tgid| tgid == exit.pid) {
                    self.exits.entry(exit.pid).or_default().push_back((exit, self.drains));
                }
            }
        }
    }

    /// The exit record of the main thread `pid` that ended at `exit_ns`
    /// (its connector exit's time), of a process started at `started_ns`
    /// where known (see [`record_of`]); records waiting before it are
    /// dropped (their exits were lost). A task's record is sent before its
    /// connector exit, so one not read yet when that exit is taken is
    /// waiting in the socket: the socket is read first.
    pub fn take(&mut self, pid: i32, started_ns: Option<u64>, exit_ns: u64) -> Option<TaskExit> {
        // Always: a record of an earlier exit at the PID may wait already,
        // and this one's be in the socket still.
        self.read_waiting();
        let waiting = self.exits.get_mut(&pid)?;
        let lives: Vec<u64> = waiting.iter().map(|(exit, _)| exit.lived_ns).collect();
        let index = record_of(&lives, started_ns, exit_ns)?;
        let (exit, _) = waiting.drain(..=index).next_back()?;
        if waiting.is_empty() {
            self.exits.remove(&pid);
        }
        Some(exit)
    }
}

/// How far a start from the fork event (sent just after the task's start
/// was taken) or from `stat` (to the clock tick) may be from the start the
/// kernel measured a record's life from.
const START_SLACK_NS: u64 = 20_000_000;

/// Which of the records waiting for one PID (their lives, in the order
/// they were sent) is of the main thread that ended at `exit_ns`, of a
/// process started at `started_ns`. A record is sent in `do_exit` shortly
/// before the connector's exit, so its end (start + life) is at or before
/// `exit_ns`, and the closest such end is this exit's: an earlier one is of
/// a main thread whose exit was lost (one a thread's `execve` ended, or an
/// earlier process at the PID). A later one is of a later process. With
/// the start unknown, the earliest waiting. Pure.
pub fn record_of(lives: &[u64], started_ns: Option<u64>, exit_ns: u64) -> Option<usize> {
    let Some(started) = started_ns else {
        return (!lives.is_empty()).then_some(0);
    };
    lives
        .iter()
        .enumerate()
        .filter_map(|(i, lived)| {
            let end = started.saturating_add(*lived);
            (end <= exit_ns.saturating_add(START_SLACK_NS)).then(|| (exit_ns.abs_diff(end), i))
        })
        .min()
        .map(|(_, i)| i)
}

impl Drop for Taskstats {
    fn drop(&mut self) {
        let message = cpumask_message(self.family, TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK, &self.cpus);
        let _ = rustix::net::send(&self.fd, &message, SendFlags::empty());
    }
}

/// Sends `message` and waits up to a second for the kernel's answer.
fn request(fd: &OwnedFd, buffer: &mut [u8], message: &[u8]) -> Result<Vec<u8>, TaskstatsError> {
    check(
        "send to NETLINK_GENERIC",
        rustix::net::send(fd, message, SendFlags::empty()),
    )?;
    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
    let second = rustix::event::Timespec::try_from(Duration::from_secs(1)).expect("a second");
    check("wait for NETLINK_GENERIC", rustix::event::poll(&mut fds, Some(&second)))?;
    let (n, _) = check(
        "read from NETLINK_GENERIC",
        rustix::net::recv(fd.as_fd(), &mut *buffer, RecvFlags::empty()),
    )?;
    Ok(buffer[..n].to_vec())
}

/// A generic netlink request: header, `cmd`, then `attributes`. Pure.
fn genl_message(family: u16, flags: u16, cmd: u8, attributes: &[(u16, &[u8])]) -> Vec<u8> {
    let mut m = vec![0u8; NLMSG_HDRLEN];
    m[4..6].copy_from_slice(&family.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    m.extend_from_slice(&[cmd, 1, 0, 0]);
    for (kind, payload) in attributes {
        let len = (4 + payload.len()) as u16;
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(m.len().next_multiple_of(4), 0);
    }
    let total = m.len() as u32;
    m[0..4].copy_from_slice(&total.to_ne_bytes());
    m
}

fn family_request() -> Vec<u8> {
    genl_message(
        GENL_ID_CTRL,
        0,
        CTRL_CMD_GETFAMILY,
        &[(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0")],
    )
}

fn cpumask_message(family: u16, attribute: u16, cpus: &str) -> Vec<u8> {
    let mut mask = cpus.as_bytes().to_vec();
    mask.push(0);
    genl_message(family, NLM_F_ACK, TASKSTATS_CMD_GET, &[(attribute, &mask)])
}

/// The family ID in the controller's answer. Pure.
fn find_family_id(answer: &[u8]) -> Option<u16> {
    messages(answer)
        .filter(|&(kind, _)| kind == GENL_ID_CTRL)
        .flat_map(|(_, body)| attributes(body.get(GENL_HDRLEN..).unwrap_or_default()))
        .find(|&(kind, _)| kind == CTRL_ATTR_FAMILY_ID)
        .and_then(|(_, payload)| u16_at(payload, 0))
}

/// The error number of an acknowledgement (0: success), if `answer` is
/// one. Pure.
fn ack_error(answer: &[u8]) -> Option<i32> {
    messages(answer)
        .find(|&(kind, _)| kind == NLMSG_ERROR)
        .and_then(|(_, body)| error_of(body))
}

/// The task exits in one read of the family `family`. Pure.
pub fn parse_exits(bytes: &[u8], family: u16) -> Vec<TaskExit> {
    messages(bytes)
        .filter(|&(kind, body)| kind == family && body.first() == Some(&TASKSTATS_CMD_NEW))
        .flat_map(|(_, body)| attributes(body.get(GENL_HDRLEN..).unwrap_or_default()))
        .filter(|&(kind, _)| kind == TASKSTATS_TYPE_AGGR_PID)
        .filter_map(|(_, nested)| {
            let mut pid = None;
            let mut stats = None;
            for (kind, payload) in attributes(nested) {
                match kind {
                    TASKSTATS_TYPE_PID => pid = u32_at(payload, 0),
                    TASKSTATS_TYPE_STATS => stats = Some(payload),
                    _ => {}
                }
            }
            parse_stats(pid? as i32, stats?)
        })
        .collect()
}

/// One `struct taskstats`. Pure.
fn parse_stats(pid: i32, stats: &[u8]) -> Option<TaskExit> {
    let comm = stats.get(AC_COMM..AC_COMM + TS_COMM_LEN)?;
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    Some(TaskExit {
        pid,
        tgid: u32_at(stats, AC_TGID).map(|t| t as i32).filter(|&t| t > 0),
        name: String::from_utf8_lossy(&comm[..end]).into_owned(),
        uid: u32_at(stats, AC_UID)?,
        ppid: u32_at(stats, AC_PPID)? as i32,
        exit_code: u32_at(stats, AC_EXITCODE)? as i32,
        lived_ns: u64_at(stats, AC_ETIME)?.saturating_mul(1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC_PID: usize = 128;

    #[test]
    fn a_request_is_a_whole_message_with_padded_attributes() {
        let m = family_request();
        assert_eq!(m.len(), 16 + 4 + 4 + 12);
        assert_eq!(u32_at(&m, 0), Some(36));
        assert_eq!(u16_at(&m, 4), Some(GENL_ID_CTRL));
        assert_eq!(m[16], CTRL_CMD_GETFAMILY);
        assert_eq!(
            u16_at(&m, 20),
            Some(14),
            "the attribute's length leaves out its padding"
        );
        assert_eq!(&m[24..34], b"TASKSTATS\0");
    }

    fn exit_record(family: u16, pid: u32, name: &[u8]) -> Vec<u8> {
        let mut stats = vec![0u8; 416];
        stats[AC_EXITCODE..AC_EXITCODE + 4].copy_from_slice(&(3u32 << 8).to_ne_bytes());
        stats[AC_COMM..AC_COMM + name.len()].copy_from_slice(name);
        stats[AC_UID..AC_UID + 4].copy_from_slice(&33u32.to_ne_bytes());
        stats[AC_PPID..AC_PPID + 4].copy_from_slice(&1u32.to_ne_bytes());
        stats[AC_PID..AC_PID + 4].copy_from_slice(&pid.to_ne_bytes());
        stats[AC_ETIME..AC_ETIME + 8].copy_from_slice(&1500u64.to_ne_bytes());
        stats[AC_TGID..AC_TGID + 4].copy_from_slice(&pid.to_ne_bytes());
        let mut nested = Vec::new();
        for (kind, payload) in [
            (TASKSTATS_TYPE_PID, pid.to_ne_bytes().to_vec()),
            (TASKSTATS_TYPE_STATS, stats),
        ] {
            nested.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
            nested.extend_from_slice(&kind.to_ne_bytes());
            nested.extend_from_slice(&payload);
        }
        let mut m = genl_message(
            family,
            0,
            TASKSTATS_CMD_NEW,
            &[(TASKSTATS_TYPE_AGGR_PID | 0x8000, &nested)],
        );
        m[16] = TASKSTATS_CMD_NEW;
        m
    }

    #[test]
    fn an_exit_record_is_read() {
        let mut read = exit_record(27, 4242, b"sleep");
        read.extend(exit_record(28, 1, b"other family"));
        assert_eq!(
            parse_exits(&read, 27),
            [TaskExit {
                pid: 4242,
                tgid: Some(4242),
                name: "sleep".to_string(),
                uid: 33,
                ppid: 1,
                exit_code: 3 << 8,
                lived_ns: 1_500_000,
            }]
        );
    }

    #[test]
    fn the_family_id_and_an_acknowledgement_are_read() {
        let answer = genl_message(
            GENL_ID_CTRL,
            0,
            1,
            &[
                (CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0"),
                (CTRL_ATTR_FAMILY_ID, &27u16.to_ne_bytes()),
            ],
        );
        assert_eq!(find_family_id(&answer), Some(27));
        let mut ack = vec![0u8; NLMSG_HDRLEN + 4];
        ack[0..4].copy_from_slice(&20u32.to_ne_bytes());
        ack[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        ack[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        assert_eq!(ack_error(&ack), Some(-1));
        assert_eq!(ack_error(&answer), None);
    }

    #[test]
    fn the_record_whose_end_is_closest_before_the_exit_is_the_exits() {
        let ms = 1_000_000;
        // A main thread a thread's execve ended at 120 ms, whose exit was
        // lost, then the new program's end at 1,120 ms.
        let lives = [120 * ms, 1_120 * ms];
        assert_eq!(record_of(&lives, Some(0), 1_121 * ms), Some(1));
        assert_eq!(record_of(&lives, Some(0), 121 * ms), Some(0));
        // A later process's record (it lived longer than this one has).
        assert_eq!(record_of(&[2_000 * ms], Some(0), 121 * ms), None);
        // The start unknown: the earliest.
        assert_eq!(record_of(&lives, None, 121 * ms), Some(0));
        assert_eq!(record_of(&[], None, 121 * ms), None);
        // A start from the fork event a little after the kernel's.
        assert_eq!(record_of(&[100 * ms], Some(5 * ms), 101 * ms), Some(0));
    }
}
