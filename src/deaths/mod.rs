//! `deaths`: every process death on the machine, with how it ended and who
//! or what killed it.
//!
//! Three kernel events are joined, per process: the signal that was queued
//! for it (`signal_generate`: the sender is the task that generates the
//! signal, its kind is in `si_code`), the OOM killer's choice of it
//! (`oom:mark_victim`, with the memory cgroup and its limit), and the exit
//! of its last thread (`sched_process_exit` with `signal->live` at 0: one
//! record per process, not per thread). The join is done in the kernel by
//! the BPF program in `bpf/deaths.bpf.c` (see [`tracepoints`]); records
//! reach afterlife through a ring buffer.
//!
//! Where BPF cannot run (no `CAP_BPF`+`CAP_PERFMON`, no BTF, another PID
//! namespace), the netlink proc connector ([`connector`]) still gives every
//! exit with its code or signal, but no sender (needs `CAP_NET_ADMIN`).
//! `AFTERLIFE_DEATHS_SOURCE=proc-connector` chooses it; `bpf` insists on
//! BPF. Lost records are counted (ring buffer full, or the netlink socket's
//! `ENOBUFS`) and reported.

pub mod cause;
pub mod cgroup;
pub mod connector;
pub mod connector_feed;
pub mod event;
pub mod filter;
pub mod lineage;
pub mod metrics;
pub mod process_end;
pub mod senders;
pub mod taskstats;
pub mod tracepoints;

use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::exit::{ExitStatus, KnownEnding, StatusViews};
use crate::signal::Signal;
use crate::stop_signals::StopSignals;

pub use cause::SenderKind;
pub use event::RawDeath;
pub use filter::Filter;

/// Where the deaths come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// BPF tracepoints with a ring buffer: exits, senders, OOM kills.
    Bpf,
    /// The netlink proc connector: exits with code or signal, no sender.
    ProcConnector,
}

impl Source {
    /// Plain words, for the line that says which source the feed runs on.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Bpf => {
                "BPF tracepoints sched_process_exit, signal_generate and oom:mark_victim (senders and OOM kills)"
            }
            Source::ProcConnector => "the netlink proc connector (exit codes and signals; no senders, no OOM details)",
        }
    }

    /// What a lost record is on this source: a death on BPF, where one
    /// record is sent per death; an event of any kind (a fork, an exec, a
    /// thread's or a process's exit) on the proc connector, whose count the
    /// kernel keeps, so more are lost than deaths.
    pub fn lost_records(self) -> &'static str {
        match self {
            Source::Bpf => "death records",
            Source::ProcConnector => "process events (forks, execs and exits; a death among them is not shown)",
        }
    }
}

/// The process that sent the fatal signal, and what kind of sender it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sender {
    /// The kind, from `si_code`.
    pub kind: SenderKind,
    /// `si_code`.
    pub code: i32,
    /// Its name (`SI_USER`, `SEGV_MAPERR`, ...).
    pub code_name: Option<&'static str>,
    /// What a fault code means.
    pub fault: Option<&'static str>,
    /// The sending process (for a kernel sender: the task that ran when
    /// the kernel sent it).
    pub pid: i32,
    /// Its name.
    pub name: String,
    /// Its real user ID.
    pub uid: u32,
    /// Its user name.
    pub user: Option<String>,
    /// Whether the process signalled itself.
    pub itself: bool,
    /// Seconds from the signal to the death.
    #[serde(rename = "before_death_seconds")]
    pub before_death: Option<f64>,
}

impl Sender {
    /// The sender, knowing whether the OOM killer chose the process (a
    /// source that saw only the signal): the kernel's own SIGKILL is then
    /// the OOM killer's.
    pub fn oom_killed(mut self, oom: bool) -> Sender {
        if oom && self.kind == SenderKind::Kernel && self.code == cause::SI_KERNEL {
            self.kind = SenderKind::OomKiller;
            self.itself = false;
        }
        self
    }
}

/// An OOM kill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OomKill {
    /// The memory cgroup whose limit applied (path in its hierarchy).
    pub memory_cgroup: Option<String>,
    /// The file that holds its limit (`memory.limit_in_bytes` on v1,
    /// `memory.max` on v2).
    pub limit_file: Option<&'static str>,
    /// The limit in bytes; `None` when unlimited.
    pub limit_bytes: Option<u64>,
    /// The victim's resident size (anon + file + shmem) in bytes.
    pub rss_bytes: u64,
    /// Resident anonymous memory in bytes.
    pub anon_rss_bytes: u64,
    /// Resident file pages in bytes.
    pub file_rss_bytes: u64,
    /// Resident shared memory in bytes.
    pub shmem_rss_bytes: u64,
    /// Virtual size in bytes.
    pub total_vm_bytes: u64,
}

/// One process death, complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Death {
    /// Its PID.
    pub pid: i32,
    /// Its name (`comm`).
    pub name: Option<String>,
    /// Its command line, when it could still be read.
    #[serde(rename = "command_line")]
    pub cmdline: Option<Vec<String>>,
    /// The command line is cut: the kernel's copy holds its first 255 bytes.
    #[serde(rename = "command_line_truncated")]
    pub cmdline_cut: bool,
    /// Its parent at death.
    pub ppid: Option<i32>,
    /// Real user ID.
    pub uid: Option<u32>,
    /// User name.
    pub user: Option<String>,
    /// Its cgroup v2 path.
    pub cgroup: Option<String>,
    /// The systemd unit read from the cgroup path.
    pub unit: Option<String>,
    /// The container ID read from the cgroup path.
    pub container: Option<String>,
    /// Seconds it lived.
    #[serde(rename = "lifetime_seconds")]
    pub lifetime: Option<f64>,
    /// When it died, Unix time in seconds.
    #[serde(rename = "died_at")]
    pub time: f64,
    /// How it ended, as `status` and `wait` show it; its `source` is the
    /// feed's.
    pub ending: KnownEnding<Source>,
    /// Who sent the signal it died of.
    pub sender: Option<Sender>,
    /// The OOM kill that chose it.
    pub oom: Option<OomKill>,
    /// Where this came from.
    pub source: Source,
}

impl Death {
    /// A death by `status` in cgroup `/x`, as the BPF feed reports it, with
    /// nothing else known: the base of the tests' deaths.
    #[cfg(test)]
    pub(crate) fn fixture(pid: i32, status: ExitStatus) -> Death {
        Death {
            pid,
            name: None,
            cmdline: None,
            cmdline_cut: false,
            ppid: None,
            uid: None,
            user: None,
            cgroup: Some("/x".to_string()),
            unit: None,
            container: None,
            lifetime: None,
            time: 0.0,
            ending: KnownEnding {
                views: StatusViews::from(status),
                source: Source::Bpf,
            },
            sender: None,
            oom: None,
            source: Source::Bpf,
        }
    }

    /// The exit status.
    pub fn status(&self) -> ExitStatus {
        self.ending.views.status
    }
}

/// Errors of the feed.
#[derive(Debug, thiserror::Error)]
pub enum DeathsError {
    /// No source could run: the reasons of each.
    #[error("cannot watch process deaths: {0}")]
    NoSource(String),
    /// A system call of the loop failed.
    #[error("failed to {call}: {source}")]
    Io {
        /// The call.
        call: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// What the caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The strongest that runs.
    Auto,
    /// BPF only.
    Bpf,
    /// The proc connector only.
    ProcConnector,
}

impl Choice {
    /// From `AFTERLIFE_DEATHS_SOURCE`: `bpf`, `proc-connector`, or unset
    /// (or empty, or `auto`) for auto. Any other value is refused: a typo
    /// must not pass for a choice. Pure.
    pub fn from_env_value(value: Option<&str>) -> Result<Choice, UnknownSource> {
        match value {
            None | Some("" | "auto") => Ok(Choice::Auto),
            Some("bpf") => Ok(Choice::Bpf),
            Some("proc-connector" | "proc_connector" | "connector") => Ok(Choice::ProcConnector),
            Some(other) => Err(UnknownSource(other.to_string())),
        }
    }
}

/// An `AFTERLIFE_DEATHS_SOURCE` that names no source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "AFTERLIFE_DEATHS_SOURCE='{}' names no source: bpf or proc-connector (unset: the strongest that runs)",
    crate::text::escape(.0)
)]
pub struct UnknownSource(pub String);

/// A source of raw deaths.
enum Backend {
    Bpf(Box<tracepoints::Tracepoints>),
    Connector(Box<connector_feed::ConnectorDeaths>),
}

impl Backend {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Backend::Bpf(t) => t.fd(),
            Backend::Connector(c) => c.fd(),
        }
    }

    fn drain(&mut self, out: &mut Vec<RawDeath>) {
        match self {
            Backend::Bpf(t) => t.drain(out),
            Backend::Connector(c) => c.drain(out),
        }
    }

    fn lost(&self) -> u64 {
        match self {
            Backend::Bpf(t) => t.lost(),
            Backend::Connector(c) => c.lost(),
        }
    }

    fn source(&self) -> Source {
        match self {
            Backend::Bpf(_) => Source::Bpf,
            Backend::Connector(_) => Source::ProcConnector,
        }
    }
}

/// What the feed tells its caller.
pub trait Observer {
    /// A death that passed the filter.
    fn death(&mut self, death: &Death);
    /// `total` records were lost so far, `new` since the last call.
    fn lost(&mut self, total: u64, new: u64);
    /// The end of one batch: a moment to flush.
    fn batch_done(&mut self) {}
    /// Whether no one reads any more (stdout closed): the feed then ends.
    fn closed(&self) -> bool {
        false
    }
}

/// How a feed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Deaths seen (before the filter).
    pub seen: u64,
    /// Deaths shown (after the filter).
    pub shown: u64,
    /// Records lost.
    pub lost: u64,
}

/// How long the feed sleeps when nothing happens (then it reads the lost
/// count and checks the deadline).
const IDLE_WAKE: Duration = Duration::from_millis(500);

/// After a batch, how long the feed lets the next deaths gather before it
/// waits again. At 1,000 deaths a second this makes a wake-up per 8 or 9
/// deaths instead of one each; a lone death is still read at once.
const BATCH_WINDOW: Duration = Duration::from_millis(8);

/// The live feed: a source, the stop signals, and what names are known.
pub struct Feed {
    backend: Backend,
    stop: StopSignals,
    cgroups: cgroup::CgroupNames,
    users: HashMap<u32, Option<String>>,
    clock: ClockOffset,
    page_size: u64,
}

impl Feed {
    /// Opens the strongest source allowed by `choice`.
    pub fn open(choice: Choice) -> Result<Feed, DeathsError> {
        let backend = open_backend(choice)?;
        let stop = StopSignals::install().map_err(|(_, source)| DeathsError::Io {
            call: "block SIGINT/SIGTERM/SIGHUP for a signalfd",
            source,
        })?;
        Ok(Feed {
            backend,
            stop,
            cgroups: cgroup::CgroupNames::new(),
            users: HashMap::new(),
            clock: ClockOffset::now(),
            page_size: rustix::param::page_size() as u64,
        })
    }

    /// The source in use.
    pub fn source(&self) -> Source {
        self.backend.source()
    }

    /// What the source in use cannot tell here, in a sentence, if anything.
    pub fn limits(&self) -> Option<String> {
        match &self.backend {
            Backend::Bpf(_) => None,
            Backend::Connector(c) => c.limits(),
        }
    }

    /// Runs until `duration` passes or SIGINT/SIGTERM/SIGHUP arrives.
    pub fn run(
        &mut self,
        duration: Option<Duration>,
        filter: &Filter,
        observer: &mut dyn Observer,
    ) -> Result<Summary, DeathsError> {
        // A duration past what the clock can hold (1e300 s) is no limit.
        let deadline = duration.and_then(|d| Instant::now().checked_add(d));
        let mut summary = Summary {
            seen: 0,
            shown: 0,
            lost: 0,
        };
        let mut raws = Vec::new();
        let mut lost_checked = Instant::now();
        loop {
            let wait = deadline.map_or(IDLE_WAKE, |d| {
                d.saturating_duration_since(Instant::now()).min(IDLE_WAKE)
            });
            let stop = self.wait(wait);
            // Again each batch: the wall clock may have been set meanwhile.
            self.clock = ClockOffset::now();
            self.backend.drain(&mut raws);
            let busy = !raws.is_empty();
            for raw in raws.drain(..) {
                summary.seen += 1;
                let death = self.complete(raw);
                if filter.matches(&death) {
                    summary.shown += 1;
                    observer.death(&death);
                }
            }
            let end = stop || deadline.is_some_and(|d| Instant::now() >= d);
            if end || lost_checked.elapsed() >= IDLE_WAKE {
                lost_checked = Instant::now();
                let lost = self.backend.lost();
                if lost > summary.lost {
                    observer.lost(lost, lost - summary.lost);
                    summary.lost = lost;
                }
            }
            observer.batch_done();
            if end || observer.closed() {
                return Ok(summary);
            }
            if busy {
                // Let the next deaths of a burst gather: one wake-up and one
                // write for several, at the cost of at most this much delay.
                std::thread::sleep(BATCH_WINDOW);
            }
        }
    }

    /// Waits for records or a stop signal; true if a stop signal came.
    fn wait(&self, timeout: Duration) -> bool {
        use rustix::event::{PollFd, PollFlags, poll};
        let mut fds = [
            PollFd::from_borrowed_fd(self.stop.fd(), PollFlags::IN),
            PollFd::from_borrowed_fd(self.backend.fd(), PollFlags::IN),
        ];
        let timespec = rustix::event::Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        // EINTR: a wake-up like any other; the caller looks at the clock.
        if poll(&mut fds, Some(&timespec)).is_err() {
            return false;
        }
        if fds[0].revents().contains(PollFlags::IN) {
            let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
            // EAGAIN: read already; it still was a stop request.
            let _ = rustix::io::read(self.stop.fd(), &mut info);
            return true;
        }
        false
    }

    /// Looks up names, paths and limits for a raw death.
    pub fn complete(&mut self, raw: RawDeath) -> Death {
        let status = ExitStatus::from_wait_status(raw.wait_status).unwrap_or(ExitStatus::Exited {
            code: ((raw.wait_status >> 8) & 0xff) as u8,
        });
        let cgroup = match (raw.cgroup_path.clone(), raw.cgroup_id) {
            (Some(path), _) => Some(path),
            (None, Some(id)) => self.cgroups.v2_path(id),
            (None, None) => None,
        };
        let oom = raw.oom.as_ref().map(|oom| self.oom_kill(oom));
        let sender = raw.signal.as_ref().map(|signal| self.sender(&raw, signal));
        Death {
            pid: raw.pid,
            user: raw.uid.and_then(|uid| self.user(uid)),
            unit: cgroup.as_deref().and_then(cgroup::unit_of),
            container: cgroup.as_deref().and_then(cgroup::container_of),
            cgroup,
            lifetime: match (raw.start_ns, raw.exit_ns) {
                (Some(start), Some(end)) if end >= start => Some((end - start) as f64 / 1e9),
                _ => None,
            },
            time: raw
                .exit_ns
                .map_or_else(ClockOffset::realtime_now, |ns| self.clock.to_unix(ns)),
            name: raw.name,
            cmdline: raw.cmdline,
            cmdline_cut: raw.cmdline_cut,
            ppid: raw.ppid,
            uid: raw.uid,
            ending: KnownEnding {
                views: StatusViews::from(status),
                source: self.backend.source(),
            },
            sender,
            oom,
            source: self.backend.source(),
        }
    }

    fn user(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| crate::process::user_name(uid))
            .clone()
    }

    fn sender(&mut self, raw: &RawDeath, signal: &event::RawSignal) -> Sender {
        let user = self.user(signal.sender_uid);
        sender_of(raw, signal, user)
    }

    fn oom_kill(&mut self, oom: &event::RawOom) -> OomKill {
        let page = self.page_size;
        let memcg = (oom.memcg_id != 0)
            .then(|| self.cgroups.memory_cgroup(oom.memcg_id))
            .flatten();
        // PAGE_COUNTER_MAX is LONG_MAX / PAGE_SIZE: "no limit".
        let unlimited = oom.limit_pages >= (i64::MAX as u64) / page;
        OomKill {
            memory_cgroup: memcg.as_ref().map(|m| m.path.clone()),
            limit_file: memcg.as_ref().map(|m| m.limit_file),
            limit_bytes: (!unlimited && oom.limit_pages != 0).then(|| oom.limit_pages * page),
            rss_bytes: (oom.anon_pages + oom.file_pages + oom.shmem_pages) * page,
            anon_rss_bytes: oom.anon_pages * page,
            file_rss_bytes: oom.file_pages * page,
            shmem_rss_bytes: oom.shmem_pages * page,
            total_vm_bytes: oom.total_vm_pages * page,
        }
    }
}

/// The sender of the signal `raw` died of, as `signal_generate` saw it,
/// with the sender's user name. Pure.
pub fn sender_of(raw: &RawDeath, signal: &event::RawSignal, user: Option<String>) -> Sender {
    // A signal the kernel raised (SI_KERNEL: the OOM killer, a
    // cgroup.kill) in the dying task's own context was not sent by it.
    let itself = signal.sender_pid == raw.pid && signal.code != cause::SI_KERNEL;
    let kind = if signal.parent_death {
        cause::SenderKind::ParentDeath
    } else {
        cause::classify(signal.signo, signal.code, itself, raw.oom.is_some())
    };
    Sender {
        kind,
        code: signal.code,
        code_name: cause::code_name(signal.signo, signal.code),
        fault: cause::fault_meaning(signal.signo, signal.code),
        pid: signal.sender_pid,
        name: signal.sender_name.clone(),
        uid: signal.sender_uid,
        user,
        itself,
        before_death: raw
            .exit_ns
            .filter(|&end| end >= signal.time_ns)
            .map(|end| (end - signal.time_ns) as f64 / 1e9),
    }
}

fn open_backend(choice: Choice) -> Result<Backend, DeathsError> {
    let mut reasons = Vec::new();
    if choice != Choice::ProcConnector {
        match tracepoints::Tracepoints::open() {
            Ok(t) => return Ok(Backend::Bpf(Box::new(t))),
            Err(e) => reasons.push(format!("BPF: {e}")),
        }
    }
    // The connector's PIDs are the initial PID namespace's (`task->tgid`),
    // not those afterlife and its /proc see inside another one.
    if choice != Choice::Bpf && !crate::process::in_initial_pid_namespace() {
        reasons.push("proc connector: not in the initial PID namespace, whose PIDs it reports".to_string());
    } else if choice != Choice::Bpf {
        match connector_feed::ConnectorDeaths::open() {
            Ok(c) => return Ok(Backend::Connector(Box::new(c))),
            Err(e) => reasons.push(format!("proc connector: {e}")),
        }
    }
    Err(DeathsError::NoSource(reasons.join("; ")))
}

/// `CLOCK_MONOTONIC` nanoseconds to Unix time.
#[derive(Debug, Clone, Copy)]
struct ClockOffset {
    realtime_minus_monotonic: f64,
}

impl ClockOffset {
    fn now() -> ClockOffset {
        let mono = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let real = ClockOffset::realtime_now();
        ClockOffset {
            realtime_minus_monotonic: real - (mono.tv_sec as f64 + mono.tv_nsec as f64 / 1e9),
        }
    }

    fn realtime_now() -> f64 {
        let real = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
        real.tv_sec as f64 + real.tv_nsec as f64 / 1e9
    }

    fn to_unix(self, monotonic_ns: u64) -> f64 {
        monotonic_ns as f64 / 1e9 + self.realtime_minus_monotonic
    }
}

/// The signal of a death, if it was one.
pub fn death_signal(death: &Death) -> Option<Signal> {
    match death.status() {
        ExitStatus::Signaled { signal, .. } => Some(signal),
        ExitStatus::Exited { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_choice_from_the_environment() {
        assert_eq!(Choice::from_env_value(None), Ok(Choice::Auto));
        assert_eq!(Choice::from_env_value(Some("bpf")), Ok(Choice::Bpf));
        assert_eq!(
            Choice::from_env_value(Some("proc-connector")),
            Ok(Choice::ProcConnector)
        );
        assert_eq!(Choice::from_env_value(Some("")), Ok(Choice::Auto));
        assert_eq!(
            Choice::from_env_value(Some("proc_conector")),
            Err(UnknownSource("proc_conector".to_string()))
        );
    }
}
