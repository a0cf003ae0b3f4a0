//! `watch` on Windows: what is read of a process at each tick.
//!
//! The talk's bottom line is leaking handles. Per process, through a handle
//! opened once (and checked against its creation time, [`super::handle`]):
//! - `GetProcessHandleCount`: open handles (OpenTelemetry's
//!   `process.windows.handle.count`);
//! - `GetProcessMemoryInfo` with `PROCESS_MEMORY_COUNTERS_EX`:
//!   `PrivateUsage` (private bytes, the commit charge of the process alone:
//!   what leaks, judged as anonymous memory is on Linux) and
//!   `WorkingSetSize` (the pages resident now, shown as RSS is: it also
//!   grows with mapped files and shrinks when the system trims it);
//! - threads: `cntThreads` of one Toolhelp process snapshot per tick
//!   ([`ThreadCounts`]), shared by every process watched;
//! - where `GetProcessHandleCount` answers 0 — Wine 8.0's is a stub that
//!   always does, while a living Windows process always holds handles —
//!   its entries in the system's handle list
//!   (`NtQuerySystemInformation(SystemExtendedHandleInformation)`), read
//!   at most once a tick and only then ([`HandleCounts`]). (Wine's process
//!   list, `SystemProcessInformation`, gives as `HandleCount` the size its
//!   handle table has grown to — 32, 64, 128 — not the handles in it.)
//! - private bytes are `PrivateUsage`, which Microsoft documents as the
//!   same as `PagefileUsage`; where it reads 0 (Wine 8.0 leaves it unset and
//!   fills `PagefileUsage` with the resident anonymous memory and swap of
//!   the Linux process under it) `PagefileUsage` is taken;
//! - for the exporter, the CPU time of `GetProcessTimes`.
//!
//! Limits: a process may hold 2^24 handles (16,777,216: the handle table's
//! limit); private bytes count against the system's commit limit
//! (`GlobalMemoryStatusEx`: `ullTotalPageFile`, of which
//! `ullTotalPageFile - ullAvailPageFile` is committed).
//!
//! Windows has no fd kinds here: [`FdKind`] has no value, and a breakdown
//! is always empty (naming every handle's type needs the undocumented
//! `NtQuerySystemInformation` handle list).

use std::collections::HashMap;
use std::io;

use serde::Serialize;
use windows_sys::Wdk::System::SystemInformation::NtQuerySystemInformation;
use windows_sys::Win32::Foundation::FILETIME;
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
};
use windows_sys::Win32::System::ProcessStatus::{
    GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS, PROCESS_MEMORY_COUNTERS_EX,
};
use windows_sys::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};
use windows_sys::Win32::System::Threading::{GetProcessHandleCount, GetProcessTimes};

use super::handle::{Handle, ProcessHandle};
use crate::process::Pid;
use crate::watch::plot::PanelSpec;
use crate::watch::prometheus::Family;
use crate::watch::series::Metric;

pub use crate::watch::report::{FdBreakdown, Limits, MemoryLimit, RepeatedTarget};

/// The handles a process may hold: its handle table's limit (2^24).
pub const MAX_HANDLES: u64 = 1 << 24;

/// The resources of one process at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Open handles (`GetProcessHandleCount`).
    pub handles: u64,
    /// Private bytes (`PrivateUsage`): memory committed to this process
    /// alone — heap, stacks, private mappings. What leaks.
    pub private_bytes: u64,
    /// The working set (`WorkingSetSize`), bytes: the pages resident now.
    pub working_set_bytes: u64,
    /// Threads (`cntThreads` of a Toolhelp snapshot).
    pub threads: u64,
}

/// What the exporter shows beside a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatFacts {
    /// User and kernel CPU time, seconds (`GetProcessTimes`).
    pub cpu_seconds: f64,
}

/// A kind of fd: Linux's. Windows handles are not broken down by type
/// here, so this type has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum FdKind {}

impl FdKind {
    /// Every kind: none.
    pub const ALL: [FdKind; 0] = [];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {}
    }
}

/// The whole-process metrics of a Windows sample, in display order.
pub const METRICS: &[Metric] = &[
    Metric::Handles,
    Metric::PrivateBytes,
    Metric::WorkingSet,
    Metric::Threads,
];

/// The chart's panels on Windows.
pub const PLOT_PANELS: &[PanelSpec] = &[
    PanelSpec {
        title: "handles",
        unit: "handles",
        metrics: &[Metric::Handles],
        measured_only: false,
    },
    PanelSpec {
        title: "memory",
        unit: "MiB",
        metrics: &[Metric::PrivateBytes, Metric::WorkingSet],
        measured_only: false,
    },
    PanelSpec {
        title: "threads",
        unit: "threads",
        metrics: &[Metric::Threads],
        measured_only: false,
    },
];

/// The metrics of a tree's chart (one panel each) on Windows.
pub const TREE_PLOT: &[Metric] = &[
    Metric::Handles,
    Metric::PrivateBytes,
    Metric::WorkingSet,
    Metric::Threads,
];

/// The help of the resident memory family: the working set.
pub const RESIDENT_HELP: &str = "Resident memory size in bytes (the working set, WorkingSetSize).";

/// The help of the memory limit family.
pub const MEMORY_LIMIT_HELP: &str = "The limit private bytes count against (the system's commit limit).";

/// The Prometheus families a Windows watch writes, in order.
pub const FAMILIES: &[Family] = &[
    Family::WindowsHandleCount,
    Family::Resident,
    Family::PrivateMemory,
    Family::MemoryLimit,
    Family::Threads,
    Family::Slope,
    Family::Confidence,
    Family::Leak,
    Family::TimeToLimit,
    Family::Cpu,
    Family::StartTime,
];

impl Sample {
    /// The value of `metric` in this sample; `None` for the metrics of
    /// other systems.
    pub fn value(&self, metric: Metric) -> Option<u64> {
        match metric {
            Metric::Handles => Some(self.handles),
            Metric::PrivateBytes => Some(self.private_bytes),
            Metric::WorkingSet => Some(self.working_set_bytes),
            Metric::Threads => Some(self.threads),
            _ => None,
        }
    }

    /// Whether `metric` was read for this sample: every metric is.
    pub fn read_now(&self, _metric: Metric) -> bool {
        true
    }

    /// Its Prometheus gauges.
    pub fn export(&self, push: &mut dyn FnMut(Family, &str, f64)) {
        push(Family::WindowsHandleCount, "", self.handles as f64);
        push(Family::Resident, "", self.working_set_bytes as f64);
        push(Family::PrivateMemory, "", self.private_bytes as f64);
        push(Family::Threads, "", self.threads as f64);
    }

    /// What could not be read: every figure is read through the same
    /// handle, so a process that can be opened gives them all.
    pub fn refusals(&self, _pid: Pid) -> Vec<String> {
        Vec::new()
    }
}

impl StatFacts {
    /// Its Prometheus gauges.
    pub fn export(&self, push: &mut dyn FnMut(Family, &str, f64)) {
        push(Family::Cpu, "", self.cpu_seconds);
    }
}

/// A sample could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{call} for process {pid}: {source}")]
pub struct SampleError {
    /// The PID.
    pub pid: u32,
    /// The call that failed.
    pub call: &'static str,
    /// The error.
    #[source]
    pub source: io::Error,
}

/// The thread count of every process, from one Toolhelp snapshot.
#[derive(Debug, Default)]
pub struct ThreadCounts(Vec<(u32, u32)>);

impl ThreadCounts {
    /// Takes the snapshot (empty if it cannot be taken).
    pub fn now() -> ThreadCounts {
        ThreadCounts(thread_counts().unwrap_or_default())
    }

    /// The threads of `pid`, if the snapshot saw it.
    pub fn of(&self, pid: u32) -> Option<u64> {
        self.0.iter().find(|(p, _)| *p == pid).map(|(_, n)| u64::from(*n))
    }
}

/// The handle count of every process, from the system's handle list, read
/// the first time a tick asks.
#[derive(Debug, Default)]
pub struct HandleCounts(Option<HashMap<u32, u64>>);

impl HandleCounts {
    /// The handles of `pid`, if the list could be read.
    pub fn of(&mut self, pid: u32) -> Option<u64> {
        let counts = self.0.get_or_insert_with(|| handle_list().unwrap_or_default());
        counts.get(&pid).copied()
    }
}

/// `STATUS_INFO_LENGTH_MISMATCH`: the buffer was too small.
const INFO_LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;

/// `SystemExtendedHandleInformation`: every open handle of every process,
/// with a full-width process ID.
const SYSTEM_EXTENDED_HANDLE_INFORMATION: i32 = 64;

/// One handle of `SystemExtendedHandleInformation`
/// (`SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX`).
#[repr(C)]
#[derive(Clone, Copy)]
struct HandleEntry {
    object: *mut std::ffi::c_void,
    unique_process_id: usize,
    handle_value: usize,
    granted_access: u32,
    creator_back_trace_index: u16,
    object_type_index: u16,
    handle_attributes: u32,
    reserved: u32,
}

/// Its header: the number of handles, then the entries.
const HEADER: usize = 2 * size_of::<usize>();

/// The number of handles each process holds, from one
/// `NtQuerySystemInformation(SystemExtendedHandleInformation)`.
fn handle_list() -> io::Result<HashMap<u32, u64>> {
    let mut buffer: Vec<u8> = vec![0; 1 << 20];
    loop {
        let mut needed = 0u32;
        // SAFETY: a buffer of the length given, and a local to write into.
        let status = unsafe {
            NtQuerySystemInformation(
                SYSTEM_EXTENDED_HANDLE_INFORMATION,
                buffer.as_mut_ptr().cast(),
                buffer.len() as u32,
                &mut needed,
            )
        };
        match status {
            0 => break,
            // Handles are opened between two calls: room to spare.
            INFO_LENGTH_MISMATCH if buffer.len() < 1 << 30 => {
                buffer.resize((needed as usize).max(buffer.len()) * 2, 0);
            }
            _ => {
                return Err(io::Error::other(format!(
                    "NtQuerySystemInformation: NTSTATUS {status:#x}"
                )));
            }
        }
    }
    let mut counts = HashMap::new();
    let header = &buffer[..size_of::<usize>()];
    // SAFETY: a slice as long as the count; read unaligned.
    let total: usize = unsafe { std::ptr::read_unaligned(header.as_ptr().cast()) };
    let fits = (buffer.len() - HEADER) / size_of::<HandleEntry>();
    for index in 0..total.min(fits) {
        let offset = HEADER + index * size_of::<HandleEntry>();
        let bytes = &buffer[offset..offset + size_of::<HandleEntry>()];
        // SAFETY: a slice as long as one entry; read unaligned.
        let entry: HandleEntry = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        *counts.entry(entry.unique_process_id as u32).or_default() += 1;
    }
    Ok(counts)
}

/// (PID, threads) of every process now.
fn thread_counts() -> io::Result<Vec<(u32, u32)>> {
    // SAFETY: plain call; the handle is checked.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    let snap = Handle::from_raw(raw).ok_or_else(io::Error::last_os_error)?;
    // SAFETY: PROCESSENTRY32W is plain data; zero is a valid value.
    let mut entry: PROCESSENTRY32W = unsafe { std::mem::zeroed() };
    entry.dwSize = size_of::<PROCESSENTRY32W>() as u32;
    let mut rows = Vec::new();
    // SAFETY: a valid snapshot and an entry with dwSize set.
    let mut more = unsafe { Process32FirstW(snap.raw(), &mut entry) } != 0;
    while more {
        rows.push((entry.th32ProcessID, entry.cntThreads));
        // SAFETY: as above.
        more = unsafe { Process32NextW(snap.raw(), &mut entry) } != 0;
    }
    Ok(rows)
}

/// Reads samples of one process through the handle that holds it.
#[derive(Debug)]
pub struct Sampler {
    process: ProcessHandle,
}

impl Sampler {
    /// Samples the process `process` holds.
    pub(crate) fn new(process: ProcessHandle) -> Sampler {
        Sampler { process }
    }

    /// The handle.
    pub(crate) fn process(&self) -> &ProcessHandle {
        &self.process
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    fn error(&self, call: &'static str) -> SampleError {
        SampleError {
            pid: self.pid(),
            call,
            source: io::Error::last_os_error(),
        }
    }

    /// Reads one sample; `threads` is this tick's snapshot, `listed` the
    /// system's process list, read if `GetProcessHandleCount` answers 0.
    pub fn sample(&self, threads: &ThreadCounts, listed: &mut HandleCounts) -> Result<Sample, SampleError> {
        let mut handles = 0u32;
        // SAFETY: a valid process handle and a local to write into.
        if unsafe { GetProcessHandleCount(self.process.raw(), &mut handles) } == 0 {
            return Err(self.error("GetProcessHandleCount"));
        }
        let handles = match handles {
            0 => listed.of(self.pid()).unwrap_or(0),
            n => u64::from(n),
        };
        // SAFETY: PROCESS_MEMORY_COUNTERS_EX is plain data; zero is valid.
        let mut counters: PROCESS_MEMORY_COUNTERS_EX = unsafe { std::mem::zeroed() };
        counters.cb = size_of::<PROCESS_MEMORY_COUNTERS_EX>() as u32;
        let pointer = (&raw mut counters).cast::<PROCESS_MEMORY_COUNTERS>();
        // SAFETY: the EX structure starts with the plain one, and `cb`
        // tells the call its size.
        if unsafe { GetProcessMemoryInfo(self.process.raw(), pointer, counters.cb) } == 0 {
            return Err(self.error("GetProcessMemoryInfo"));
        }
        Ok(Sample {
            handles,
            private_bytes: private_bytes(counters.PrivateUsage, counters.PagefileUsage),
            working_set_bytes: counters.WorkingSetSize as u64,
            // A process the snapshot missed (it started after it) has at
            // least its first thread.
            threads: threads.of(self.pid()).unwrap_or(1).max(1),
        })
    }

    /// Its CPU time, for the exporter.
    pub fn stat_facts(&self) -> Option<StatFacts> {
        let zero = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
        // SAFETY: a valid handle and four locals to write into.
        let ok = unsafe { GetProcessTimes(self.process.raw(), &mut created, &mut exited, &mut kernel, &mut user) };
        (ok != 0).then(|| StatFacts {
            cpu_seconds: (ticks(kernel) + ticks(user)) as f64 / 1e7,
        })
    }

    /// Its limits: the handle table's, and the commit limit.
    pub fn limits(&self) -> Limits {
        Limits {
            max_fds: Some(MAX_HANDLES),
            memory: commit_limit(),
        }
    }
}

/// Private bytes: `PrivateUsage`, or `PagefileUsage` (documented as the
/// same) where `PrivateUsage` reads 0. Pure.
pub fn private_bytes(private_usage: usize, pagefile_usage: usize) -> u64 {
    match private_usage {
        0 => pagefile_usage as u64,
        n => n as u64,
    }
}

/// A FILETIME as a count of 100 ns units.
fn ticks(time: FILETIME) -> u64 {
    (u64::from(time.dwHighDateTime) << 32) | u64::from(time.dwLowDateTime)
}

/// The system's commit limit and charge.
fn commit_limit() -> Option<MemoryLimit> {
    // SAFETY: MEMORYSTATUSEX is plain data; zero is a valid value.
    let mut status: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
    status.dwLength = size_of::<MEMORYSTATUSEX>() as u32;
    // SAFETY: a local with dwLength set.
    if unsafe { GlobalMemoryStatusEx(&mut status) } == 0 {
        return None;
    }
    Some(commit_of(status.ullTotalPageFile, status.ullAvailPageFile))
}

/// The commit limit, from `GlobalMemoryStatusEx`'s page file figures
/// (which are the commit limit and what is left of it). Pure.
pub fn commit_of(total: u64, available: u64) -> MemoryLimit {
    MemoryLimit {
        bytes: total,
        source: "commit_limit",
        cgroup: None,
        used_bytes: Some(total.saturating_sub(available)),
    }
}

/// A creation time (FILETIME, 100 ns since 1601) as seconds since the Unix
/// epoch. Pure.
pub fn unix_seconds(created: u64) -> f64 {
    /// 1970-01-01 as a FILETIME.
    const EPOCH: u64 = 116_444_736_000_000_000;
    created.saturating_sub(EPOCH) as f64 / 1e7
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::series::History;
    use crate::watch::trend::Verdict;

    fn sample(handles: u64, private_mib: u64) -> Sample {
        Sample {
            handles,
            private_bytes: private_mib << 20,
            working_set_bytes: 8 << 20,
            threads: 3,
        }
    }

    fn limits() -> Limits {
        Limits {
            max_fds: Some(MAX_HANDLES),
            memory: Some(commit_of(4 << 30, 2 << 30)),
        }
    }

    #[test]
    fn a_handle_leak_is_judged_and_a_steady_count_is_not() {
        let mut leaking = History::new();
        let mut steady = History::new();
        for i in 0..40u64 {
            leaking.push(i as f64 * 0.1, sample(40 + 2 * i, 5), None);
            steady.push(i as f64 * 0.1, sample(40 + i % 3, 5), None);
        }
        let verdict = leaking.verdict(Metric::Handles, &limits());
        assert_eq!(verdict.verdict, Verdict::Leaking);
        assert!(verdict.leaks() && verdict.time_to_limit_seconds.is_some());
        assert_eq!(verdict.limit, Some(MAX_HANDLES));
        assert!(!steady.verdicts(&limits()).iter().any(|v| v.leaks()));
    }

    #[test]
    fn private_bytes_are_judged_and_the_working_set_only_shown() {
        let mut history = History::new();
        for i in 0..40u64 {
            let mut s = sample(40, 5 + i);
            s.working_set_bytes = (8 + i) << 20;
            history.push(i as f64 * 0.1, s, None);
        }
        let verdicts = history.verdicts(&limits());
        let of = |name: &str| verdicts.iter().find(|v| v.metric == name).unwrap();
        assert!(of("private_bytes").leaks());
        // 2 GiB of commit left at 10 MiB a second.
        let seconds = of("private_bytes").time_to_limit_seconds.unwrap();
        assert!((seconds - 204.8).abs() < 2.0, "{seconds}");
        assert_eq!(of("working_set").verdict, Verdict::Leaking);
        assert!(!of("working_set").leaks());
        assert_eq!(
            verdicts.iter().map(|v| v.metric.as_str()).collect::<Vec<_>>(),
            ["handles", "private_bytes", "working_set", "threads"]
        );
    }

    #[test]
    fn the_handle_count_family_is_named_after_opentelemetry() {
        let text = crate::watch::prometheus::render(&[crate::watch::prometheus::ProcessMetrics {
            pid: 1234,
            name: "leaky.exe".to_string(),
            sample: Some(sample(77, 5)),
            limits: limits(),
            kinds: Vec::new(),
            verdicts: Vec::new(),
            stat: Some(StatFacts { cpu_seconds: 1.5 }),
            started_at: Some(1.0e9),
        }]);
        assert!(text.contains("# TYPE afterlife_process_windows_handle_count gauge\n"));
        assert!(text.contains("afterlife_process_windows_handle_count{pid=\"1234\",name=\"leaky.exe\"} 77\n"));
        assert!(text.contains("afterlife_process_private_memory_bytes{pid=\"1234\",name=\"leaky.exe\"} 5242880\n"));
        assert!(
            text.contains(
                "afterlife_process_memory_limit_bytes{pid=\"1234\",name=\"leaky.exe\",source=\"commit_limit\"}"
            )
        );
        assert!(!text.contains("open_fds"), "no Linux family on Windows");
    }

    #[test]
    fn this_process_can_be_sampled() {
        let own = ProcessHandle::open(std::process::id(), 0).unwrap();
        let sampler = Sampler::new(own);
        let sample = sampler
            .sample(&ThreadCounts::now(), &mut HandleCounts::default())
            .unwrap();
        // Wine 8.0's GetProcessHandleCount answers 0: the count then comes
        // from the system's process list. Both count this process's
        // handles (its own, its standard streams, its threads').
        assert!(sample.handles > 0, "{sample:?}");
        assert!(sample.private_bytes > 0 && sample.working_set_bytes > 0, "{sample:?}");
        assert!(sample.threads >= 1);
        assert!(sampler.stat_facts().is_some());
    }

    #[test]
    fn creation_times_read_as_unix_seconds() {
        assert_eq!(unix_seconds(116_444_736_000_000_000), 0.0);
        assert_eq!(unix_seconds(116_444_736_000_000_000 + 15_000_000), 1.5);
    }
}
