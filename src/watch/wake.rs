//! What wakes the watch loop between ticks: a stop signal (read from a
//! `signalfd`) or a watched process's exit (its pidfd turns readable).
//!
//! One `epoll` set holds them all. A pidfd is added once, when its process
//! starts being watched, and removed once the process has ended, so a wait
//! costs the kernel the events that happened, not a look at every pidfd
//! (`poll` over 1,000 pidfds at every tick was a tenth of the watch's CPU).

use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{Timespec, epoll};

/// The key of the signalfd in the set; a pidfd's key is its process's index.
const SIGNALS: u64 = u64::MAX;

/// The longest single wait: `epoll_wait` refuses more than `i32::MAX`
/// milliseconds before Linux 5.11; the loop waits again if need be.
const LONGEST: Duration = Duration::from_secs(3600);

/// What ended a wait.
pub enum Wake {
    /// A stop signal arrived.
    Stop,
    /// These processes (indexes of the watch list) exited. Empty when the
    /// time is up.
    Exited(Vec<usize>),
}

/// The epoll set and which processes are in it.
pub struct WakeSet {
    epoll: OwnedFd,
    signals: OwnedFd,
    /// Whether each process of the watch list (by index) is in the set.
    registered: Vec<bool>,
}

impl WakeSet {
    /// A set that wakes on `signals` (a signalfd, duplicated here).
    pub fn new(signals: BorrowedFd<'_>) -> std::io::Result<WakeSet> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let signals = signals.try_clone_to_owned()?;
        epoll::add(
            &epoll,
            &signals,
            epoll::EventData::new_u64(SIGNALS),
            epoll::EventFlags::IN,
        )?;
        Ok(WakeSet {
            epoll,
            signals,
            registered: Vec::new(),
        })
    }

    /// Brings the set up to date with the watch list: for each process
    /// (by index) its pidfd and whether it still runs. Only changes cost a
    /// system call: a new process is added, an ended one (whose pidfd,
    /// still open, stays readable) removed.
    pub fn track<'a>(&mut self, processes: impl ExactSizeIterator<Item = (BorrowedFd<'a>, bool)>) {
        self.registered.resize(processes.len(), false);
        for (index, (pidfd, running)) in processes.enumerate() {
            if running && !self.registered[index] {
                // A pidfd that cannot be added (ENOMEM) is tried again at
                // the next wait; its exit is still seen at the next tick.
                let data = epoll::EventData::new_u64(index as u64);
                self.registered[index] = epoll::add(&self.epoll, pidfd, data, epoll::EventFlags::IN).is_ok();
            } else if !running && self.registered[index] {
                // ENOENT: the kernel dropped it already.
                let _ = epoll::delete(&self.epoll, pidfd);
                self.registered[index] = false;
            }
        }
    }

    /// Waits until `timeout` passes, a stop signal arrives or a watched
    /// process exits.
    pub fn wait(&self, timeout: Duration) -> Wake {
        let timeout = timeout.min(LONGEST);
        let timespec = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut events = Vec::with_capacity(64);
        // EINTR: treat as a wake-up; the caller looks at the clock again.
        if epoll::wait(
            &self.epoll,
            rustix::buffer::spare_capacity(&mut events),
            Some(&timespec),
        )
        .is_err()
        {
            return Wake::Exited(Vec::new());
        }
        if events.iter().any(|e| e.data.u64() == SIGNALS) {
            let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
            // EAGAIN: someone else read it; it still was a stop request.
            let _ = rustix::io::read(&self.signals, &mut info);
            return Wake::Stop;
        }
        Wake::Exited(events.iter().map(|e| e.data.u64() as usize).collect())
    }
}
