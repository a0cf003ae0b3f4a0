//! One sample of a process's resources, read as cheaply as /proc allows.
//!
//! Every read goes through a directory fd of `/proc/PID` opened once: the
//! kernel ties that fd to the process, so once it is gone every read fails
//! with `ESRCH` (or `ENOENT`) even if its PID is handed to a new process, and
//! no path lookup of `/proc/PID` is repeated per sample.
//!
//! Kernel facts relied on:
//! - `stat("/proc/PID/fd").st_size` is the number of open fds (Linux 6.2+);
//!   [`crate::resources::fd::count`] falls back to a listing before that.
//! - `stat("/proc/PID/task").st_nlink` is the number of threads plus two.
//! - `/proc/PID/statm`'s second field is the resident pages and its third
//!   the resident file-backed and shared-memory pages (`MM_FILEPAGES +
//!   MM_SHMEMPAGES`), from the kernel's counters: their difference is the
//!   resident anonymous memory (`RssAnon` of `/proc/PID/status`, Linux
//!   4.5), read every sample at no extra cost. `RssShmem` (shared memory,
//!   tmpfs, SysV segments) is read from `/proc/PID/status` with PSS; file
//!   pages are the rest. `/proc/PID/smaps_rollup` (Linux 4.14) sums `Pss:`
//!   and `Swap:` over all mappings in kB, walking their page tables.
//! - `/proc/PID/task/TID/children` (`CONFIG_PROC_CHILDREN`) lists the
//!   children each thread forked.
//! - `/proc/PID/limits` has the soft and hard `Max open files` and
//!   `Max address space`.
//! - The memory limit of a cgroup is `memory.max` in cgroup v2 and
//!   `memory.limit_in_bytes` in the v1 memory controller; the effective limit
//!   is the smallest along the path to the root. The hierarchies are found
//!   in `/proc/self/mountinfo` (a hybrid machine has both).

use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use serde::Serialize;

use crate::proc;
use crate::proc::cgroup::ProcessCGroup;
use crate::proc::maps::Rollup;
use crate::process::{Pid, ReadError};
use crate::resources::fd;
use crate::watch::prometheus::Family;
use crate::watch::series::Metric;

pub use crate::resources::fd::FdKind;
pub use crate::watch::report::{FdBreakdown, Limits, MemoryLimit, RepeatedTarget};

pub use crate::bpf::samples::Counted;
pub use crate::proc::mountinfo::CgroupMounts;

/// The resources of one process at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Open fds; `None` where `/proc/PID/fd` is refused (it needs ptrace
    /// read access: another user's process, without CAP_SYS_PTRACE).
    pub fds: Option<u64>,
    /// Resident set size, bytes: the sum of the three kinds below.
    pub rss_bytes: u64,
    /// Resident anonymous memory (heap, stacks, private mappings), bytes:
    /// the memory that leaks.
    pub rss_anon_bytes: u64,
    /// Resident file-backed pages (the binary, libraries, mapped files),
    /// bytes.
    pub rss_file_bytes: u64,
    /// Resident shared memory (SysV and POSIX shared memory, tmpfs), bytes:
    /// it grows as a server touches its shared buffers for the first time.
    pub rss_shmem_bytes: u64,
    /// Proportional set size (shared pages divided among their users),
    /// bytes; `None` where `smaps_rollup` is refused (it needs ptrace read
    /// access, which even root lacks for some processes, e.g. a VM's init).
    pub pss_bytes: Option<u64>,
    /// Swapped-out anonymous memory (`VmSwap` of `/proc/PID/status`), bytes;
    /// `None` where the kernel does not say.
    pub swap_bytes: Option<u64>,
    /// Threads.
    pub threads: u64,
    /// Direct children.
    pub children: u64,
    /// Whether `pss_bytes` was read for this sample. `smaps_rollup` is read
    /// less often than the rest; in between its last values carry on, and
    /// those carried values are left out of PSS's series, so that its shape
    /// is judged on real reads only.
    #[serde(skip)]
    pub pss_read: bool,
    /// Whether `swap_bytes` was read for this sample (`status` is read on
    /// detail ticks only); as for PSS.
    #[serde(skip)]
    pub swap_read: bool,
}

/// What the exporter shows beside a sample, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatFacts {
    /// User and system CPU time, seconds (fields 14 and 15).
    pub cpu_seconds: f64,
    /// The state (field 3).
    pub state: crate::process::ProcessState,
    /// Virtual memory size, bytes (field 23).
    pub virtual_memory_bytes: u64,
}

/// The whole-process metrics of a Linux sample, in display order.
pub const METRICS: &[Metric] = &[
    Metric::Fds,
    Metric::Rss,
    Metric::RssAnon,
    Metric::RssFile,
    Metric::RssShmem,
    Metric::Pss,
    Metric::Swap,
    Metric::Threads,
    Metric::Children,
];

/// The chart's panels on Linux.
pub const PLOT_PANELS: &[crate::watch::plot::PanelSpec] = &[
    crate::watch::plot::PanelSpec {
        title: "open fds",
        unit: "fds",
        metrics: &[Metric::Fds],
        measured_only: false,
    },
    crate::watch::plot::PanelSpec {
        title: "memory",
        unit: "MiB",
        // PSS and swap only where smaps_rollup could be read.
        metrics: &[
            Metric::Rss,
            Metric::RssAnon,
            Metric::RssShmem,
            Metric::Pss,
            Metric::Swap,
        ],
        measured_only: true,
    },
    crate::watch::plot::PanelSpec {
        title: "threads",
        unit: "threads",
        metrics: &[Metric::Threads],
        measured_only: false,
    },
    crate::watch::plot::PanelSpec {
        title: "children",
        unit: "children",
        metrics: &[Metric::Children],
        measured_only: false,
    },
];

/// The metrics of a tree's chart (one panel each) on Linux.
pub const TREE_PLOT: &[Metric] = &[Metric::Fds, Metric::RssAnon, Metric::Rss, Metric::Threads];

/// The help of the resident memory family.
pub const RESIDENT_HELP: &str = "Resident memory size in bytes.";

/// The help of the memory limit family.
pub const MEMORY_LIMIT_HELP: &str = "The smallest memory limit that applies (cgroup or RLIMIT_AS).";

/// The Prometheus families a Linux watch writes, in order.
pub const FAMILIES: &[Family] = &[
    Family::OpenFds,
    Family::MaxFds,
    Family::Resident,
    Family::Anonymous,
    Family::Shared,
    Family::Pss,
    Family::Swap,
    Family::MemoryLimit,
    Family::Threads,
    Family::Children,
    Family::FdsByKind,
    Family::Slope,
    Family::Confidence,
    Family::Leak,
    Family::TimeToLimit,
    Family::Cpu,
    Family::StartTime,
    Family::VirtualMemory,
    Family::State,
];

impl Sample {
    /// The value of `metric` in this sample; `None` where it could not be
    /// read, for per-kind fd metrics (they come from the kind counts) and
    /// for the metrics of other systems.
    pub fn value(&self, metric: Metric) -> Option<u64> {
        match metric {
            Metric::Fds | Metric::FdsOfKind(_) => self.fds,
            Metric::Rss => Some(self.rss_bytes),
            Metric::RssAnon => Some(self.rss_anon_bytes),
            Metric::RssFile => Some(self.rss_file_bytes),
            Metric::RssShmem => Some(self.rss_shmem_bytes),
            Metric::Pss => self.pss_bytes,
            Metric::Swap => self.swap_bytes,
            Metric::Threads => Some(self.threads),
            Metric::Children => Some(self.children),
            Metric::Handles | Metric::PrivateBytes | Metric::WorkingSet => None,
        }
    }

    /// Whether `metric` was read for this sample, not carried on from an
    /// earlier one.
    pub fn read_now(&self, metric: Metric) -> bool {
        match metric {
            Metric::Pss => self.pss_read,
            Metric::Swap => self.swap_read,
            _ => true,
        }
    }

    /// Its Prometheus gauges.
    pub fn export(&self, push: &mut dyn FnMut(Family, &str, f64)) {
        if let Some(fds) = self.fds {
            push(Family::OpenFds, "", fds as f64);
        }
        push(Family::Resident, "", self.rss_bytes as f64);
        push(Family::Anonymous, "", self.rss_anon_bytes as f64);
        push(Family::Shared, "", self.rss_shmem_bytes as f64);
        if let Some(pss) = self.pss_bytes {
            push(Family::Pss, "", pss as f64);
        }
        if let Some(swap) = self.swap_bytes {
            push(Family::Swap, "", swap as f64);
        }
        push(Family::Threads, "", self.threads as f64);
        push(Family::Children, "", self.children as f64);
    }

    /// What could not be read, and why, one line each.
    pub fn refusals(&self, pid: Pid) -> Vec<String> {
        let mut lines = Vec::new();
        if self.fds.is_none() {
            lines.push(format!(
                "fds not read: /proc/{pid}/fd was refused (it needs ptrace read access: the same user, or CAP_SYS_PTRACE)"
            ));
        }
        if self.pss_bytes.is_none() {
            lines.push(format!(
                "pss not read: /proc/{pid}/smaps_rollup was refused (it needs ptrace read access)"
            ));
        }
        lines
    }
}

impl StatFacts {
    /// Its Prometheus gauges.
    pub fn export(&self, push: &mut dyn FnMut(Family, &str, f64)) {
        push(Family::Cpu, "", self.cpu_seconds);
        push(Family::VirtualMemory, "", self.virtual_memory_bytes as f64);
        let state = self.state.name().replace(' ', "_");
        push(Family::State, &format!(",state=\"{state}\""), 1.0);
    }
}

/// Reads samples of one process through its `/proc/PID` directory fd.
///
/// The files read every tick (`smaps_rollup`, the main thread's
/// `children`) stay open and are read again with `pread` at offset 0: a
/// seq_file regenerates its text on a read from the start, and the open
/// (path walk, ptrace access check) is the larger part of the cost.
#[derive(Debug)]
pub struct Sampler {
    pid: Pid,
    dir: OwnedFd,
    /// Where the fd table and the address space are read (`fd`, `statm`,
    /// `status`, `smaps_rollup`): `/proc/PID`, or `/proc/PID/task/TID` of
    /// a thread that runs once the main thread has ended (its fd table and
    /// memory went with it: its files read as empty).
    files: OwnedFd,
    /// The thread `files` is of, when it is not the main thread.
    thread: Option<i32>,
    fd_dir: Option<OwnedFd>,
    task_dir: Option<OwnedFd>,
    statm: Option<OwnedFd>,
    status: Option<OwnedFd>,
    stat: Option<OwnedFd>,
    last_shmem: Option<u64>,
    last_swap: Option<u64>,
    /// Resident and shared pages as `statm` last gave them, and the
    /// fingerprint of the memory counters taken just before that read.
    last_statm: Option<(u64, u64)>,
    statm_mark: Option<u64>,
    /// The fingerprint taken just before `status` was last read.
    status_mark: Option<u64>,
    rollup_not_before: Option<std::time::Instant>,
    rollup: Option<OwnedFd>,
    last_rollup: Option<Rollup>,
    rollup_refused: bool,
    fds_refused: bool,
    main_children: Option<OwnedFd>,
    buffer: Vec<u8>,
}

/// The files a sampler keeps open.
#[derive(Debug, Clone, Copy)]
enum Held {
    Statm,
    Status,
    Stat,
    Rollup,
}

impl Held {
    fn name(self) -> &'static str {
        match self {
            Held::Statm => "statm",
            Held::Status => "status",
            Held::Stat => "stat",
            Held::Rollup => "smaps_rollup",
        }
    }
}

/// Above this a cgroup v1 limit means "no limit" (it is `PAGE_COUNTER_MAX`
/// rounded to pages, 9223372036854771712 on 64-bit).
const UNLIMITED_FLOOR: u64 = 1 << 62;

fn read_error(pid: Pid, file: &'static str, error: rustix::io::Errno) -> ReadError {
    ReadError::from_io(pid, file, error.into())
}

/// Reads a whole /proc file from offset 0 into `buffer`. A short read ends
/// it: seq_file fills the buffer unless the text is at its end.
fn pread_all(fd: &OwnedFd, buffer: &mut Vec<u8>) -> Result<(), rustix::io::Errno> {
    buffer.clear();
    loop {
        if buffer.capacity() - buffer.len() < 1024 {
            buffer.reserve(4096);
        }
        let offset = buffer.len() as u64;
        let wanted = buffer.capacity() - buffer.len();
        // `spare_capacity` extends the length by what the kernel wrote.
        let n = rustix::io::pread(fd, rustix::buffer::spare_capacity(buffer), offset)?;
        if n < wanted {
            return Ok(());
        }
    }
}

impl Sampler {
    /// Opens `/proc/PID` of the process that has `pid` now.
    pub fn open(pid: Pid) -> Result<Sampler, ReadError> {
        let dir = rustix::fs::open(
            format!("/proc/{pid}"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| read_error(pid, "", e))?;
        let files = rustix::io::dup(&dir).map_err(|e| read_error(pid, "", e))?;
        Ok(Sampler {
            pid,
            dir,
            files,
            thread: None,
            fd_dir: None,
            task_dir: None,
            statm: None,
            status: None,
            stat: None,
            last_shmem: None,
            last_swap: None,
            last_statm: None,
            statm_mark: None,
            status_mark: None,
            rollup_not_before: None,
            rollup: None,
            last_rollup: None,
            rollup_refused: false,
            fds_refused: false,
            main_children: None,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// The PID.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    fn open_file(&self, file: &'static str) -> Result<OwnedFd, ReadError> {
        rustix::fs::openat(&self.dir, file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| read_error(self.pid, file, e))
    }

    fn read(&mut self, file: &'static str) -> Result<std::borrow::Cow<'_, str>, ReadError> {
        let fd = self.open_file(file)?;
        pread_all(&fd, &mut self.buffer).map_err(|e| read_error(self.pid, file, e))?;
        Ok(self.text())
    }

    /// The buffer as text. /proc text is ASCII but for names and paths:
    /// `status` starts with the process's name and `cgroup` holds paths,
    /// both any bytes but NUL; a stray byte is replaced, never a failure
    /// (which would end the watch of a process named `x\xff`).
    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.buffer)
    }

    /// `fstat` of a held directory under `/proc/PID`: its size (fds) and
    /// link count (threads) are computed at each call, so the path is
    /// looked up only once.
    fn stat_dir(&mut self, task: bool) -> Result<rustix::fs::Stat, ReadError> {
        let (slot, name, base) = if task {
            (&mut self.task_dir, "task", &self.dir)
        } else {
            (&mut self.fd_dir, "fd", &self.files)
        };
        if slot.is_none() {
            *slot = Some(
                rustix::fs::openat(
                    base,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| read_error(self.pid, name, e))?,
            );
        }
        match slot {
            Some(fd) => rustix::fs::fstat(fd).map_err(|e| read_error(self.pid, name, e)),
            None => Err(read_error(self.pid, name, rustix::io::Errno::NOENT)),
        }
    }

    /// The number of open fds (`st_size` of the fd directory).
    pub fn fd_count(&mut self) -> Result<u64, ReadError> {
        let stat = self.stat_dir(false)?;
        if stat.st_size > 0 {
            return Ok(stat.st_size as u64);
        }
        // Before Linux 6.2 (or with no fd at all) st_size is 0: count them.
        fd::count(self.pid).map(|n| n as u64)
    }

    /// Reads one sample. RSS and anonymous memory come from `statm` (the
    /// kernel's counters, cheap) at every sample; shared memory and swap
    /// from `status` when `detail` is set (and on the first sample). Where
    /// the pass gave a fingerprint of the memory counters
    /// ([`Counted::memory`]) equal to the one taken before the last read of
    /// `statm` (or `status`), the counters have not changed since, and
    /// neither has what the file would show: its numbers are kept, not read
    /// again. PSS
    /// comes from `smaps_rollup`, which walks the page tables of every
    /// mapping (milliseconds for a server with large shared buffers): it is
    /// read on the first sample, then on `detail` samples no more often than
    /// keeps it under `rollup_share` of the time
    /// ([`crate::watch::schedule::rollup_share`]). In between
    /// the last values carry on. Where `smaps_rollup` is refused, PSS is
    /// `None` and the other metrics are still sampled.
    ///
    /// `counted` is what a pass of the kernel's sample iterator counted of
    /// this process ([`crate::bpf::samples`]): its fds, threads and
    /// children, the same numbers as the `fd/` and `task/` directories and
    /// the `children` files give, without reading them.
    ///
    /// A process whose main thread has ended while others run is read
    /// through a thread that runs ([`crate::process::files_dir`]): its
    /// main thread's files would read 0 fds and no memory.
    pub fn sample(&mut self, detail: bool, rollup_share: f64, counted: Option<Counted>) -> Result<Sample, ReadError> {
        match self.sample_once(detail, rollup_share, counted.filter(|_| self.thread.is_none())) {
            Err(ReadError::Gone { .. }) if self.follow_live_thread() => self.sample_once(detail, rollup_share, None),
            other => other,
        }
    }

    /// Points the reads of the fd table and the address space at a thread
    /// that runs, where the main thread has ended; whether it did (false:
    /// the process is ending, or was read through that thread already).
    fn follow_live_thread(&mut self) -> bool {
        let Some(tid) = crate::process::live_thread_of(self.pid).filter(|&tid| Some(tid) != self.thread) else {
            return false;
        };
        let Ok(files) = rustix::fs::openat(
            &self.dir,
            format!("task/{tid}"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return false;
        };
        self.files = files;
        self.thread = Some(tid);
        (self.fd_dir, self.statm, self.status, self.rollup) = (None, None, None, None);
        (self.last_statm, self.statm_mark, self.status_mark) = (None, None, None);
        (self.last_shmem, self.last_rollup, self.rollup_not_before) = (None, None, None);
        true
    }

    fn sample_once(&mut self, detail: bool, rollup_share: f64, counted: Option<Counted>) -> Result<Sample, ReadError> {
        let fds = match counted.and_then(|c| c.fds) {
            _ if self.fds_refused => None,
            Some(count) => Some(count),
            None => match self.fd_count() {
                Ok(count) => Some(count),
                Err(ReadError::PermissionDenied { .. }) => {
                    self.fds_refused = true;
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let threads = match counted {
            Some(c) => c.threads,
            None => self.stat_dir(true)?.st_nlink.saturating_sub(2).max(1),
        };
        let fingerprint = counted.and_then(|c| c.memory);
        let moved = |mark: Option<u64>| fingerprint.is_none() || fingerprint != mark;
        let (resident, shared) = match self.last_statm {
            Some(kept) if !moved(self.statm_mark) => kept,
            _ => {
                self.read_held(Held::Statm)?;
                // An empty statm (size 0) is an address space that is gone:
                // a zombie, or a main thread that ended while others run.
                let read = match proc::stat::parse_statm(&self.buffer) {
                    Some(m) if m.size > 0 => (m.resident, m.shared),
                    _ => return Err(ReadError::Gone { pid: self.pid }),
                };
                (self.last_statm, self.statm_mark) = (Some(read), fingerprint);
                read
            }
        };
        let page = proc::page_size();
        let status_due = (detail && moved(self.status_mark)) || self.last_shmem.is_none();
        if status_due {
            self.status_mark = fingerprint;
            self.read_held(Held::Status)?;
            let (shmem, swap) = proc::status::memory(&self.text());
            self.last_shmem = Some(shmem);
            self.last_swap = swap;
        }
        let shared_bytes = shared * page;
        let rss_shmem_bytes = self.last_shmem.unwrap_or(0).min(shared_bytes);
        let now = std::time::Instant::now();
        let rollup_due = self.last_rollup.is_none() || (detail && self.rollup_not_before.is_none_or(|at| now >= at));
        let rollup_read = !self.rollup_refused && rollup_due;
        if rollup_read {
            match self.read_held(Held::Rollup) {
                Ok(()) => self.last_rollup = Some(proc::maps::rollup(&self.text())),
                Err(ReadError::PermissionDenied { .. }) => self.rollup_refused = true,
                Err(e) => return Err(e),
            }
            // A walk of a large shared mapping (a database's shared
            // buffers) takes milliseconds: the next one waits until this
            // one is `rollup_share` of the time between them.
            self.rollup_not_before = Some(now + now.elapsed().div_f64(rollup_share));
        }
        let rollup = self.last_rollup.filter(|_| !self.rollup_refused);
        let children = match counted {
            Some(c) => c.children,
            None => self.children(threads)?,
        };
        Ok(Sample {
            fds,
            rss_bytes: resident * page,
            rss_anon_bytes: resident.saturating_sub(shared) * page,
            rss_file_bytes: shared_bytes - rss_shmem_bytes,
            rss_shmem_bytes,
            pss_bytes: rollup.map(|r| r.pss),
            swap_bytes: self.last_swap.or(rollup.map(|r| r.swap)),
            threads,
            children,
            pss_read: rollup_read && rollup.is_some(),
            // On a detail tick `status`'s swap is current: read now, or
            // known unchanged since it was.
            swap_read: if self.last_swap.is_some() {
                detail || status_due
            } else {
                rollup_read
            },
        })
    }

    /// The CPU time, state and virtual memory of `/proc/PID/stat` (parsed by
    /// `proc::stat`), for the exporter: one more read per sample, made only
    /// when asked.
    pub fn stat_facts(&mut self) -> Result<StatFacts, ReadError> {
        self.read_held(Held::Stat)?;
        let stat = crate::proc::stat::parse(&self.buffer)
            .ok_or_else(|| ReadError::from_io(self.pid, "stat", std::io::Error::other("unreadable /proc/PID/stat")))?;
        let ticks = crate::proc::ticks_per_second() as f64;
        let cpu_seconds = (stat.utime + stat.stime) as f64 / ticks;
        // The CPU time is the whole process's; the state and the address
        // space of a main thread that ended read `Z` and 0: a thread that
        // runs tells them.
        let (state, vsize) = match self.thread {
            Some(_) => {
                let fd = rustix::fs::openat(&self.files, "stat", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                    .map_err(|e| read_error(self.pid, "stat", e))?;
                pread_all(&fd, &mut self.buffer).map_err(|e| read_error(self.pid, "stat", e))?;
                let thread = crate::proc::stat::parse(&self.buffer).ok_or_else(|| {
                    ReadError::from_io(
                        self.pid,
                        "stat",
                        std::io::Error::other("unreadable /proc/PID/task/TID/stat"),
                    )
                })?;
                (thread.state, thread.vsize)
            }
            None => (stat.state, stat.vsize),
        };
        Ok(StatFacts {
            cpu_seconds,
            state: crate::process::ProcessState::from_letter(state),
            virtual_memory_bytes: vsize,
        })
    }

    /// Reads a held file into the buffer. A file opened before the process
    /// called `execve` refers to its old address space, which reads as
    /// gone: then the file is opened again, once.
    fn read_held(&mut self, which: Held) -> Result<(), ReadError> {
        let name = which.name();
        for attempt in 0..2 {
            let slot = match which {
                Held::Statm => &mut self.statm,
                Held::Status => &mut self.status,
                Held::Stat => &mut self.stat,
                Held::Rollup => &mut self.rollup,
            };
            let base = match which {
                Held::Stat => &self.dir,
                Held::Statm | Held::Status | Held::Rollup => &self.files,
            };
            if slot.is_none() {
                *slot = Some(
                    rustix::fs::openat(base, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                        .map_err(|e| read_error(self.pid, name, e))?,
                );
            }
            let Some(fd) = slot.as_ref() else { continue };
            match pread_all(fd, &mut self.buffer) {
                // An empty smaps_rollup is an address space that is gone too.
                Ok(()) if !self.buffer.is_empty() || attempt == 1 => return Ok(()),
                Ok(()) => *slot = None,
                Err(_) if attempt == 0 => *slot = None,
                Err(e) => return Err(read_error(self.pid, name, e)),
            }
        }
        Ok(())
    }

    fn children(&mut self, threads: u64) -> Result<u64, ReadError> {
        let pid = self.pid;
        if threads <= 1 {
            if self.main_children.is_none() {
                self.main_children = rustix::fs::openat(
                    &self.dir,
                    format!("task/{pid}/children"),
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ok();
            }
            return Ok(match &self.main_children {
                // ESRCH: it exited meanwhile; the caller learns that from its pidfd.
                Some(fd) => pread_all(fd, &mut self.buffer).map_or(0, |()| proc::children::count(&self.buffer)),
                // No CONFIG_PROC_CHILDREN: the count stays 0.
                None => 0,
            });
        }
        // Children belong to the thread that forked them: ask every thread.
        let tasks: Vec<String> = match std::fs::read_dir(format!("/proc/{pid}/task")) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) => return Err(ReadError::from_io(pid, "task", e)),
        };
        let mut total = 0;
        for tid in tasks {
            // ENOENT: the thread exited meanwhile; it has no children to count.
            if let Ok(fd) = rustix::fs::openat(
                &self.dir,
                format!("task/{tid}/children"),
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            ) && pread_all(&fd, &mut self.buffer).is_ok()
            {
                total += proc::children::count(&self.buffer);
            }
        }
        Ok(total)
    }

    /// The process's name (`comm`) and command line now: both change when
    /// it calls `execve`, and a server's command line becomes its title
    /// when it rewrites its argv (setproctitle). `None` once it is gone.
    pub fn identity(&mut self) -> Option<(String, Vec<String>)> {
        let fd = self.open_file("comm").ok()?;
        pread_all(&fd, &mut self.buffer).ok()?;
        let name = String::from_utf8_lossy(&self.buffer).trim_end_matches('\n').to_string();
        let fd = self.open_file("cmdline").ok()?;
        pread_all(&fd, &mut self.buffer).ok()?;
        let cmdline = proc::cmdline::split(&self.buffer);
        Some((name, trim_cmdline(cmdline)))
    }

    /// Reads the fd and memory limits.
    pub fn limits(&mut self, mounts: &CgroupMounts) -> Result<Limits, ReadError> {
        let limits = proc::limits::parse(&self.read("limits")?);
        let max_fds = limits.as_ref().and_then(|l| proc::limits::soft(&l.max_open_files));
        let max_as = limits.as_ref().and_then(|l| proc::limits::soft(&l.max_address_space));
        let groups = proc::cgroup::parse(&self.read("cgroup")?);
        let mut memory = memory_limit(mounts, &groups);
        if let Some(bytes) = max_as
            && memory.as_ref().is_none_or(|m| bytes < m.bytes)
        {
            // Through the held `statm`: a thread that runs where the main
            // thread has ended, whose own reads size 0 (not known, then).
            let size_pages = self
                .read_held(Held::Statm)
                .ok()
                .and_then(|()| proc::stat::parse_statm(&self.buffer))
                .map(|m| m.size)
                .filter(|&pages| pages > 0);
            memory = Some(MemoryLimit {
                bytes,
                source: "rlimit_as",
                cgroup: None,
                used_bytes: size_pages.map(|pages| pages * proc::page_size()),
            });
        }
        Ok(Limits { max_fds, memory })
    }
}

/// A command line split at NULs, without the empty words a rewritten argv
/// leaves at its end. Pure.
pub fn trim_cmdline(mut words: Vec<String>) -> Vec<String> {
    while words.last().is_some_and(|w| w.trim().is_empty()) {
        words.pop();
    }
    words
}

/// The title a process gave itself by rewriting its argv
/// (`postgres: background writer`, `nginx: worker process`,
/// `redis-server 127.0.0.1:6379`), if it did: a command line of one word
/// that holds spaces. A leading path is cut to its last part. Pure.
pub fn title(cmdline: &[String]) -> Option<String> {
    let [only] = cmdline else { return None };
    let only = only.trim();
    if !only.contains(' ') {
        return None;
    }
    let (first, rest) = only.split_once(' ').unwrap_or((only, ""));
    let first = if first.starts_with('/') {
        first.rsplit('/').next().unwrap_or(first)
    } else {
        first
    };
    Some(format!("{first} {}", rest.trim()).trim().to_string())
}

/// The smallest cgroup memory limit on the path of a process's cgroups
/// (`/proc/PID/cgroup`) to the root.
pub fn memory_limit(mounts: &CgroupMounts, groups: &[ProcessCGroup]) -> Option<MemoryLimit> {
    let mut best: Option<MemoryLimit> = None;
    for group in groups {
        let (mount, file, source) = if group.controllers.is_empty() {
            (mounts.v2.as_deref(), ("memory.max", "memory.current"), "cgroup_v2")
        } else if group.controllers.iter().any(|c| c == "memory") {
            (
                mounts.v1_memory.as_deref(),
                ("memory.limit_in_bytes", "memory.usage_in_bytes"),
                "cgroup_v1",
            )
        } else {
            continue;
        };
        let Some(mount) = mount else { continue };
        if let Some(found) = smallest_along(mount, &group.pathname, file, source)
            && best.as_ref().is_none_or(|b| found.bytes < b.bytes)
        {
            best = Some(found);
        }
    }
    best
}

fn smallest_along(mount: &Path, path: &str, files: (&str, &str), source: &'static str) -> Option<MemoryLimit> {
    let (file, usage) = files;
    let mut best: Option<MemoryLimit> = None;
    let mut dir = mount.join(path.trim_start_matches('/'));
    loop {
        // ENOENT: the controller is not enabled at this level (or the cgroup
        // went away); look further up.
        if let Ok(text) = std::fs::read_to_string(dir.join(file))
            && let Ok(bytes) = text.trim().parse::<u64>()
            && bytes < UNLIMITED_FLOOR
            && best.as_ref().is_none_or(|b| bytes < b.bytes)
        {
            best = Some(MemoryLimit {
                bytes,
                source,
                cgroup: Some(dir.clone()),
                // ENOENT: no usage file (the root cgroup has none in v2).
                used_bytes: std::fs::read_to_string(dir.join(usage))
                    .ok()
                    .and_then(|text| text.trim().parse().ok()),
            });
        }
        if dir == mount || !dir.pop() || !dir.starts_with(mount) {
            break;
        }
    }
    best
}

/// The fds of `pid` by kind, and the targets held most often. Sockets are
/// named by their addresses from the process's network namespace
/// (`/proc/PID/net/{tcp,tcp6,udp,udp6,unix}`) so that many connections to
/// one peer group together.
///
/// `names` caches the group names of sockets by inode (a socket's addresses
/// do not change once it is connected): only sockets not named before are
/// looked up, with one sock_diag dump of the process's network namespace
/// (listeners included, to tell accepted connections from outgoing ones),
/// or `/proc/PID/net/*` where sock_diag cannot be used. Reading
/// `/proc/net/tcp` costs the kernel a walk of the whole table per page read,
/// which dominated the cost of watching a busy server. Sockets that were
/// closed leave the cache.
pub fn breakdown(pid: Pid, names: &mut HashMap<u64, String>) -> Result<FdBreakdown, ReadError> {
    let fds = fd::list(pid)?;
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    for f in &fds {
        *kinds.entry(f.kind.name()).or_default() += 1;
    }
    let inodes: std::collections::HashSet<u64> = fds
        .iter()
        .filter(|f| f.kind == FdKind::Socket)
        .filter_map(|f| f.inode)
        .collect();
    names.retain(|inode, _| inodes.contains(inode));
    let unnamed: std::collections::HashSet<u64> = inodes.iter().copied().filter(|i| !names.contains_key(i)).collect();
    if inodes.len() >= 2 && !unnamed.is_empty() {
        names.extend(socket_names_of(pid, &unnamed));
    }
    let mut targets: HashMap<(FdKind, String), u64> = HashMap::new();
    for f in &fds {
        let key = match f.kind {
            FdKind::Socket => f
                .inode
                .and_then(|i| names.get(&i).cloned())
                .unwrap_or_else(|| "socket".to_string()),
            FdKind::Pipe => "pipe".to_string(),
            _ => f.target.clone(),
        };
        *targets.entry((f.kind, key)).or_default() += 1;
    }
    let mut top = group_targets(targets);
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.target.cmp(&b.target)));
    top.truncate(5);
    Ok(FdBreakdown {
        kinds,
        top_targets: top,
    })
}

/// The targets held by two or more fds. Files held once each are grouped
/// by their directory (`/var/lib/postgresql/data/base/5/*`): a process that
/// opens many files of one directory (a database's tables) shows as one
/// group. Pure.
pub fn group_targets(targets: HashMap<(FdKind, String), u64>) -> Vec<RepeatedTarget> {
    let mut groups: Vec<RepeatedTarget> = Vec::new();
    let mut by_directory: HashMap<String, u64> = HashMap::new();
    for ((kind, target), count) in targets {
        if count >= 2 {
            groups.push(RepeatedTarget { kind, target, count });
        } else if kind == FdKind::File
            && let Some((directory, _)) = target.rsplit_once('/')
            && !directory.is_empty()
        {
            *by_directory.entry(format!("{directory}/*")).or_default() += 1;
        }
    }
    groups.extend(
        by_directory
            .into_iter()
            .filter(|(_, count)| *count >= 2)
            .map(|(target, count)| RepeatedTarget {
                kind: FdKind::File,
                target,
                count,
            }),
    );
    groups
}

/// Group names of the sockets `inodes` of `pid` ([`group_name`]): one
/// sock_diag dump of its network namespace, else its `/proc/PID/net/*`.
pub fn socket_names_of(pid: Pid, inodes: &std::collections::HashSet<u64>) -> HashMap<u64, String> {
    use crate::resources::sockets::{self, Filter, Selection, SocketState};
    let dumped = sockets::netns_of(pid).and_then(|netns| {
        let keep = |s: &sockets::Socket| inodes.contains(&s.inode) || s.state == SocketState::Listen;
        let filter = Filter {
            local_port: None,
            keep: Some(&keep),
        };
        sockets::dump_namespace_filtered(netns, Some(pid), Selection::ALL, &filter).ok()
    });
    let Some((found, _)) = dumped else {
        // No sock_diag here (or the process went away): the text tables.
        return socket_names(pid);
    };
    let listening: std::collections::HashSet<u16> = found
        .iter()
        .filter(|s| s.state == SocketState::Listen)
        .filter_map(|s| s.port())
        .collect();
    found
        .iter()
        .filter(|s| inodes.contains(&s.inode))
        .map(|s| (s.inode, group_name(s, &listening)))
        .collect()
}

/// The group a socket belongs to, as [`parse_inet_table`] names it;
/// `listening` holds the ports listened on in its namespace. Pure.
pub fn group_name(socket: &crate::resources::sockets::Socket, listening: &std::collections::HashSet<u16>) -> String {
    use crate::resources::sockets::{Protocol, SocketState};
    let protocol = socket.protocol.name();
    match (socket.protocol, socket.local, socket.remote) {
        (Protocol::Unix, _, _) => match &socket.path {
            Some(path) if !path.is_empty() => format!("unix {path}"),
            _ => "unix".to_string(),
        },
        (_, Some(local), _) if socket.state == SocketState::Listen => format!("{protocol} listen {local}"),
        (_, Some(local), Some(remote)) if !(remote.ip().is_unspecified() && remote.port() == 0) => {
            if listening.contains(&local.port()) {
                format!("{protocol} {local} <- {}", remote.ip())
            } else {
                format!("{protocol} -> {remote}")
            }
        }
        (_, Some(local), _) => format!("{protocol} {local}"),
        _ => protocol.to_string(),
    }
}

/// Socket inode → a group name ([`parse_inet_table`]), or `unix PATH`.
pub fn socket_names(pid: Pid) -> HashMap<u64, String> {
    let mut names = HashMap::new();
    for (file, protocol) in [("tcp", "tcp"), ("tcp6", "tcp"), ("udp", "udp"), ("udp6", "udp")] {
        // ENOENT: the protocol is not built in, or the process went away.
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")) {
            names.extend(parse_inet_table(&text, protocol));
        }
    }
    // A unix socket's path is any bytes: one path that is not UTF-8, in
    // any process of the namespace, must not cost every socket its name.
    if let Ok(table) = std::fs::read(format!("/proc/{pid}/net/unix")) {
        names.extend(parse_unix_table(&table));
    }
    names
}

/// Names the rows of a `/proc/net/{tcp,udp}{,6}` table ([`proc::net`]):
/// inode → group name. Pure.
///
/// Sockets are grouped so that many connections of one kind read as one
/// group: a connection accepted by a listener of the table is named by its
/// local address and its peer's host, not its peer's (ephemeral) port
/// (`tcp 127.0.0.1:6379 <- 10.0.0.5`); an outgoing connection by its peer
/// (`tcp -> 10.0.0.7:5432`); a listener by its address
/// (`tcp listen 0.0.0.0:80`).
pub fn parse_inet_table(text: &str, protocol: &str) -> Vec<(u64, String)> {
    let table = if protocol == "udp" {
        proc::net::InetTable::Udp
    } else {
        proc::net::InetTable::Tcp
    };
    let rows = proc::net::inet_table(text, table);
    let listening: std::collections::HashSet<u16> = rows
        .iter()
        .filter(|row| row.state == proc::net::TCP_LISTEN)
        .map(|row| row.local.port())
        .collect();
    rows.iter()
        .map(|row| {
            let (local, remote) = (row.local, row.remote);
            let name = if remote.ip().is_unspecified() && remote.port() == 0 {
                // An unconnected UDP socket is named by its local address.
                if row.state == proc::net::TCP_LISTEN {
                    format!("{protocol} listen {local}")
                } else {
                    format!("{protocol} {local}")
                }
            } else if listening.contains(&local.port()) {
                format!("{protocol} {local} <- {}", remote.ip())
            } else {
                format!("{protocol} -> {remote}")
            };
            (row.inode, name)
        })
        .collect()
}

/// Names the rows of `/proc/net/unix`: inode → `unix PATH` (or `unix` for
/// unnamed sockets). Pure.
pub fn parse_unix_table(table: &[u8]) -> Vec<(u64, String)> {
    proc::net::unix_table(&String::from_utf8_lossy(table))
        .into_iter()
        .map(|row| {
            let name = match row.path {
                Some(path) => format!("unix {path}"),
                None => "unix".to_string(),
            };
            (row.inode, name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_told_from_command_lines() {
        let words = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            title(&trim_cmdline(words(&["postgres: background writer ", "", ""]))),
            Some("postgres: background writer".to_string())
        );
        assert_eq!(
            title(&words(&["/usr/bin/redis-server 127.0.0.1:6379"])),
            Some("redis-server 127.0.0.1:6379".to_string())
        );
        assert_eq!(title(&words(&["python3", "-c", "x"])), None);
        assert_eq!(title(&words(&["/usr/bin/sleep"])), None);
        assert_eq!(title(&[]), None);
    }

    #[test]
    fn files_held_once_each_group_by_directory() {
        let mut targets = HashMap::new();
        for table in ["16384", "16385", "16386"] {
            targets.insert((FdKind::File, format!("/pg/data/base/5/{table}")), 1);
        }
        targets.insert((FdKind::File, "/pg/data/global/1262".to_string()), 1);
        targets.insert((FdKind::CharDevice, "/dev/null".to_string()), 2);
        targets.insert((FdKind::Pipe, "pipe".to_string()), 1);
        let mut groups = group_targets(targets);
        groups.sort_by_key(|g| std::cmp::Reverse(g.count));
        assert_eq!(
            groups,
            vec![
                RepeatedTarget {
                    kind: FdKind::File,
                    target: "/pg/data/base/5/*".to_string(),
                    count: 3
                },
                RepeatedTarget {
                    kind: FdKind::CharDevice,
                    target: "/dev/null".to_string(),
                    count: 2
                },
            ]
        );
    }

    // The literal addresses are as a little-endian kernel prints them.
    #[cfg(target_endian = "little")]
    #[test]
    fn inet_and_unix_tables_are_named() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1235 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(
            parse_inet_table(tcp, "tcp"),
            vec![
                (1234, "tcp listen 127.0.0.1:8080".to_string()),
                (1235, "tcp -> 127.0.0.1:8080".to_string())
            ]
        );
        // Connections accepted by the listener on 8080, from two ports of one
        // host: one group under the listener.
        let accepted = format!(
            "{}   2: 0100007F:1F90 0100007F:A1B3 01 00000000:00000000 00:00000000 00000000     0        0 1236 1\n   3: 0100007F:1F90 0100007F:A1B4 01 00000000:00000000 00:00000000 00000000     0        0 1237 1\n",
            tcp
        );
        let names = parse_inet_table(&accepted, "tcp");
        assert_eq!(names[2], (1236, "tcp 127.0.0.1:8080 <- 127.0.0.1".to_string()));
        assert_eq!(names[3], (1237, "tcp 127.0.0.1:8080 <- 127.0.0.1".to_string()));
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1\n";
        assert_eq!(
            parse_inet_table(tcp6, "tcp"),
            vec![(99, "tcp listen [::1]:8080".to_string())]
        );
        let unix = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
0000000000000000: 00000002 00000000 00010000 0001 01 20001 /run/a.sock\n\
0000000000000000: 00000003 00000000 00000000 0001 03 20002\n\
0000000000000000: 00000002 00000000 00010000 0001 01 20003 /tmp/odd\xff\n";
        // A path that is not UTF-8 costs no socket its name.
        assert_eq!(
            parse_unix_table(unix),
            vec![
                (20001, "unix /run/a.sock".to_string()),
                (20002, "unix".to_string()),
                (20003, "unix /tmp/odd\u{fffd}".to_string())
            ]
        );
    }

    #[test]
    fn samples_this_process() {
        let me = Pid::current();
        let mut sampler = Sampler::open(me).unwrap();
        let sample = sampler
            .sample(true, crate::watch::schedule::rollup_share(1), None)
            .unwrap();
        assert!(sample.fds.is_some_and(|n| n >= 3));
        assert!(sample.rss_bytes > 0 && sample.pss_bytes.is_some_and(|p| p > 0));
        assert!(sample.threads >= 1);
        let limits = sampler.limits(&CgroupMounts::read()).unwrap();
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        assert_eq!(limits.max_fds, soft);
    }

    /// The kernel's counts of one pass are the numbers the files give: a
    /// shell with two children and a few fds of its own.
    #[test]
    fn one_pass_counts_what_the_files_count() {
        if !crate::bpf::allowed() {
            eprintln!("skipped: the sample iterator needs CAP_BPF and CAP_PERFMON in the initial PID namespace");
            return;
        }
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "exec 7</dev/null 8</dev/null; sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = Pid::new(shell.id() as i32).unwrap();
        let process = crate::process::Process::open(pid).unwrap();
        let files = || {
            let sample = Sampler::open(pid)
                .unwrap()
                .sample(false, crate::watch::schedule::rollup_share(1), None)
                .unwrap();
            (sample.fds, sample.threads, sample.children)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while files().2 < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (samples, _) = crate::bpf::samples::Samples::load_in_test().expect("loads as root on Linux 6.2 or later");
        let counted = samples.read().unwrap().counted(pid.get(), process.start_ticks());
        let from_pass = Sampler::open(pid)
            .unwrap()
            .sample(false, crate::watch::schedule::rollup_share(1), counted)
            .unwrap();
        assert!(counted.is_some());
        assert_eq!((from_pass.fds, from_pass.threads, from_pass.children), files());
        assert_eq!(from_pass.children, 2);
        // Another start time is another process: nothing counted.
        assert_eq!(
            samples.read().unwrap().counted(pid.get(), process.start_ticks() + 1),
            None
        );
        // Its two sleeps, then the shell, by the PIDs it started.
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        for child in children
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .filter_map(Pid::new)
        {
            let _ = crate::process::Process::open(child).map(|p| p.signal(crate::signal::Signal::KILL));
        }
        shell.kill().unwrap();
        shell.wait().unwrap();
    }
}
