//! Who sent the signal that ended a given process, for the commands that
//! watch processes they did not signal themselves (`wait`, `run`): the BPF
//! tracepoints of [`crate::deaths`], kept open while they wait, drained
//! when one of their processes ends. Where BPF cannot run (no root, no BTF,
//! another PID namespace), no sender is named, and the reason is kept.
//!
//! Loading the programs takes a while (the kernel's BTF is parsed and
//! three programs verified), so [`Senders`] loads them on a thread while
//! the wait goes on. A death by signal that comes while they load waits
//! for the loader to finish (the programs may be attached already), and
//! gets no sender if it came before they were. `run` starts the load after
//! a short delay, so that short commands cost nothing.

use std::collections::HashMap;

use crate::deaths::tracepoints::Tracepoints;
use crate::deaths::{RawDeath, Sender, sender_of};

/// The tracepoints, and the deaths of the processes asked about.
pub struct SenderWatch {
    tracepoints: Tracepoints,
    /// The latest death of each PID of interest.
    deaths: HashMap<i32, RawDeath>,
    pids: Vec<i32>,
}

impl SenderWatch {
    /// Attaches the tracepoints for deaths of `pids`; the reason when they
    /// cannot run.
    pub fn open(pids: &[i32]) -> Result<SenderWatch, String> {
        let tracepoints = Tracepoints::open().map_err(|e| e.to_string())?;
        Ok(SenderWatch {
            tracepoints,
            deaths: HashMap::new(),
            pids: pids.to_vec(),
        })
    }

    /// Who sent the signal that `pid` died of: `None` when it did not die
    /// of a signal, or its death was not seen.
    pub fn sender(&mut self, pid: i32) -> Option<Sender> {
        self.drain();
        let death = self.deaths.get(&pid)?;
        let signal = death.signal.as_ref()?;
        Some(sender_of(death, signal, crate::process::user_name(signal.sender_uid)))
    }

    /// Keeps the records of the PIDs of interest; the ring buffer sees
    /// every death on the machine.
    fn drain(&mut self) {
        let mut raws = Vec::new();
        self.tracepoints.drain(&mut raws);
        for raw in raws {
            if self.pids.contains(&raw.pid) {
                self.deaths.insert(raw.pid, raw);
            }
        }
    }
}

/// The tracepoints, loading on a thread, then ready or unavailable.
pub struct Senders {
    state: State,
    /// Set by the loader when it begins (after its delay).
    loading: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

enum State {
    Loading(std::thread::JoinHandle<Result<SenderWatch, String>>),
    Ready(Box<SenderWatch>),
    Unavailable(String),
}

impl Senders {
    /// Starts loading the tracepoints for deaths of `pids`.
    pub fn start(pids: &[i32]) -> Senders {
        Senders::start_after(pids, std::time::Duration::ZERO)
    }

    /// Starts loading the tracepoints for deaths of `pids` after `delay`:
    /// a command that is over sooner (most of a test suite's) costs no
    /// load at all, and a death before the load began is not waited for.
    pub fn start_after(pids: &[i32], delay: std::time::Duration) -> Senders {
        let pids = pids.to_vec();
        let loading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let began = std::sync::Arc::clone(&loading);
        let state = match std::thread::Builder::new().name("senders".into()).spawn(move || {
            std::thread::sleep(delay);
            began.store(true, std::sync::atomic::Ordering::SeqCst);
            SenderWatch::open(&pids)
        }) {
            Ok(handle) => State::Loading(handle),
            Err(e) => State::Unavailable(format!("cannot start a thread to load BPF: {e}")),
        };
        Senders { state, loading }
    }

    /// Who sent the signal `pid` died of, if the tracepoints saw it.
    pub fn sender(&mut self, pid: i32) -> Option<Sender> {
        let began = self.loading.load(std::sync::atomic::Ordering::SeqCst);
        self.settle(began);
        match &mut self.state {
            State::Ready(watch) => watch.sender(pid),
            State::Loading(_) | State::Unavailable(_) => None,
        }
    }

    /// Why no sender can be named, once that is known.
    pub fn unavailable(&mut self) -> Option<String> {
        self.settle(false);
        match &self.state {
            State::Unavailable(reason) => Some(reason.clone()),
            State::Loading(_) | State::Ready(_) => None,
        }
    }

    /// Takes the loader's result once it has finished, or (`wait`) waits
    /// for it to finish.
    fn settle(&mut self, wait: bool) {
        let State::Loading(handle) = &self.state else {
            return;
        };
        if !wait && !handle.is_finished() {
            return;
        }
        let State::Loading(handle) = std::mem::replace(&mut self.state, State::Unavailable(String::new())) else {
            return;
        };
        self.state = match handle.join() {
            Ok(Ok(watch)) => State::Ready(Box::new(watch)),
            Ok(Err(reason)) => State::Unavailable(reason),
            Err(_) => State::Unavailable("the BPF loader panicked".to_string()),
        };
    }
}
