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

/// The live view's key reader: with a terminal on stdin, each key is
/// handed over as typed (no canonical mode, no echo; Ctrl-C still a
/// signal), and a thread sends this process SIGINT on a key that stops the
/// view — blocked in every thread by then, so it only reaches the
/// signalfd. Dropping it puts the terminal's settings back.
pub struct Keys {
    saved: rustix::termios::Termios,
}

impl Keys {
    /// Starts reading keys; `stops` tells a key that stops the view.
    /// `None` without a terminal on stdin.
    pub fn start(stops: fn(&[u8]) -> bool) -> Option<Keys> {
        use std::io::Read;
        use std::os::fd::AsFd;

        use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut keys = saved.clone();
        keys.local_modes.remove(LocalModes::ICANON | LocalModes::ECHO);
        keys.special_codes[SpecialCodeIndex::VMIN] = 1;
        keys.special_codes[SpecialCodeIndex::VTIME] = 0;
        tcsetattr(stdin.as_fd(), OptionalActions::Now, &keys).ok()?;
        let spawned = std::thread::Builder::new().name("keys".into()).spawn(move || {
            let mut buffer = [0u8; 16];
            while let Ok(n @ 1..) = stdin.lock().read(&mut buffer) {
                if stops(&buffer[..n]) {
                    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::INT);
                    return;
                }
            }
        });
        if spawned.is_err() {
            let _ = tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, &saved);
            return None;
        }
        Some(Keys { saved })
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        use std::os::fd::AsFd;
        // Best effort: the terminal may be gone already (EIO, EPIPE).
        let _ = rustix::termios::tcsetattr(
            std::io::stdin().as_fd(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}
