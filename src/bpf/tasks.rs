//! Every process's row of the process table in one pass inside the kernel:
//! a BPF `task` iterator (Linux 5.8) that writes, per thread-group leader,
//! what `kill` needs of `/proc/PID/stat` — PID, parent, process group,
//! session, start time, flags, name, whether it sleeps in state `D`, and
//! a zombie's exit code — with no file opened per process.
//!
//! The start time comes in nanoseconds (`task->start_boottime`), where
//! `/proc/PID/stat` gives clock ticks of 10 ms: two reads that agree on it
//! name the same process. Each run is checked against what afterlife knows
//! of its own process (parent, group, session, start time, name).
//!
//! Kernel facts relied on: `struct bpf_iter__task { meta; task; }`; the
//! iterator visits every thread; `task->real_parent->tgid` is what
//! `/proc/PID/stat` reports as the parent; `task->signal->pids[PIDTYPE_PGID]`
//! and `[PIDTYPE_SID]` (2 and 3 of `enum pid_type`) are the group and the
//! session, whose `numbers[0].nr` is the initial namespace's number;
//! `/proc/PID/stat` field 22 is `start_boottime` in `USER_HZ` ticks; its
//! state is `Z` when `task->exit_state` has `EXIT_ZOMBIE` (a zombie's
//! `__state`, `TASK_DEAD`, is not one /proc reports), and its
//! field 52 (shown to root) is `task->exit_code`, the raw wait status;
//! /proc shows state `D` when `task->__state` (Linux 5.14) has
//! `TASK_UNINTERRUPTIBLE` without `TASK_NOLOAD` (which is `I`, idle).

use crate::bpf::Iterator;
use crate::bpf::asm::*;
use crate::process::{Pid, TableEntry};

/// The record the program writes: 56 bytes.
const RECORD: usize = 56;
/// `EXIT_ZOMBIE` of `task->exit_state` (`EXIT_DEAD` is 0x10).
const EXIT_ZOMBIE: u32 = 0x20;
/// `PIDTYPE_PGID` and `PIDTYPE_SID` of `enum pid_type`.
const PIDTYPE_PGID: i16 = 2;
const PIDTYPE_SID: i16 = 3;
/// `PF_KTHREAD`.
const PF_KTHREAD: u32 = 0x0020_0000;
/// `TASK_UNINTERRUPTIBLE` and `TASK_NOLOAD` of `task->__state`.
const TASK_UNINTERRUPTIBLE: u32 = 0x2;
const TASK_NOLOAD: u32 = 0x400;

/// One process as the iterator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The row, as `/proc/PID/stat` would give it.
    pub entry: TableEntry,
    /// Its start time, in nanoseconds after boot.
    pub start_ns: u64,
    /// A zombie's raw wait status (`None` for a process that has not
    /// ended, or is past being a zombie).
    pub zombie_wait_status: Option<i32>,
}

member_offsets! {
    /// The member offsets the program reads.
    pub struct Offsets {
        /// `task_struct.pid`.
        task_pid: ("task_struct", "pid"),
        /// `task_struct.tgid`.
        task_tgid: ("task_struct", "tgid"),
        /// `task_struct.real_parent`.
        task_real_parent: ("task_struct", "real_parent"),
        /// `task_struct.signal`.
        task_signal: ("task_struct", "signal"),
        /// `task_struct.start_boottime`.
        task_start_boottime: ("task_struct", "start_boottime"),
        /// `task_struct.flags`.
        task_flags: ("task_struct", "flags"),
        /// `task_struct.comm`.
        task_comm: ("task_struct", "comm"),
        /// `task_struct.exit_state`.
        task_exit_state: ("task_struct", "exit_state"),
        /// `task_struct.exit_code`.
        task_exit_code: ("task_struct", "exit_code"),
        /// `task_struct.__state`.
        task_state: ("task_struct", "__state"),
        /// `signal_struct.pids`.
        signal_pids: ("signal_struct", "pids"),
        /// `pid.numbers[0].nr`.
        pid_numbers: ("pid", "numbers") ("upid", "nr"),
    }
}

/// The jumps to the program's end.
const TO_OUT: [usize; 2] = [2, 5];

/// The program: for each task that leads its thread group, write {tgid u32,
/// parent's tgid u32, pgid u32, sid u32, start_boottime u64, flags u32,
/// exit_state u32, exit_code u32, __state u32, comm [u8; 16]}. Pure.
pub fn program(o: &Offsets) -> Vec<Insn> {
    // Registers: r6 ctx, r8 task; the record at r10-56, temporaries below.
    let pid_of = |kind: i16| o.signal_pids.checked_add(kind * 8).unwrap_or(i16::MAX);
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0),
        insn(LDX_DW, 8, 6, 8, 0), // ctx->task
        insn(JEQ_K, 8, 0, 0, 0),  // patched: to out
        insn(LDX_W, 2, 8, o.task_pid, 0),
        insn(LDX_W, 3, 8, o.task_tgid, 0),
        insn(JNE_X, 2, 3, 0, 0), // patched: to out
        insn(STX_W, 10, 3, -56, 0),
    ];
    // The pointers are followed with a helper (see `read_kernel`): the
    // parent at r10-64, then its tgid; `signal` at r10-72, then each pid
    // at r10-64 and its number.
    p.extend(read_kernel(-64, 8, 8, o.task_real_parent));
    p.push(insn(LDX_DW, 4, 10, -64, 0));
    p.extend(read_kernel(-52, 4, 4, o.task_tgid));
    p.extend(read_kernel(-72, 8, 8, o.task_signal));
    for (kind, at) in [(PIDTYPE_PGID, -48), (PIDTYPE_SID, -44)] {
        p.push(insn(LDX_DW, 4, 10, -72, 0));
        p.extend(read_kernel(-64, 8, 4, pid_of(kind)));
        p.push(insn(LDX_DW, 4, 10, -64, 0));
        p.extend(read_kernel(at, 4, 4, o.pid_numbers));
    }
    p.extend([
        insn(LDX_DW, 2, 8, o.task_start_boottime, 0),
        insn(STX_DW, 10, 2, -40, 0),
        insn(LDX_W, 2, 8, o.task_flags, 0),
        insn(STX_W, 10, 2, -32, 0),
        insn(LDX_W, 2, 8, o.task_exit_state, 0),
        insn(STX_W, 10, 2, -28, 0),
        insn(LDX_W, 2, 8, o.task_exit_code, 0),
        insn(STX_W, 10, 2, -24, 0),
        insn(LDX_W, 2, 8, o.task_state, 0),
        insn(STX_W, 10, 2, -20, 0),
        insn(LDX_DW, 2, 8, o.task_comm, 0),
        insn(STX_DW, 10, 2, -16, 0),
        insn(LDX_DW, 2, 8, o.task_comm.saturating_add(8), 0),
        insn(STX_DW, 10, 2, -8, 0),
    ]);
    p.extend(seq_write_stack(6, RECORD as i32));
    patch_to_end(&mut p, &TO_OUT);
    p.extend(exit_zero());
    p
}

/// Nanoseconds per clock tick of `/proc/PID/stat` (`USER_HZ`, 100 on every
/// architecture Linux runs on today; asked of `sysconf` all the same).
pub(crate) fn ns_per_tick() -> u64 {
    let hz = rustix::param::clock_ticks_per_second();
    1_000_000_000 / Some(hz).filter(|&h| h > 0).unwrap_or(100)
}

/// Parses the records the program wrote. Pure.
pub fn parse_records(bytes: &[u8], ns_per_tick: u64) -> Vec<Task> {
    bytes
        .chunks_exact(RECORD)
        .filter_map(|r| {
            let u32_at = |at: usize| u32::from_ne_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
            let start_ns = u64::from_ne_bytes([r[16], r[17], r[18], r[19], r[20], r[21], r[22], r[23]]);
            let comm = &r[40..56];
            let name = &comm[..comm.iter().position(|&b| b == 0).unwrap_or(comm.len())];
            let exit_state = u32_at(28);
            let state = u32_at(36);
            Some(Task {
                entry: TableEntry {
                    pid: Pid::new(u32_at(0) as i32)?,
                    ppid: u32_at(4) as i32,
                    pgid: u32_at(8) as i32,
                    sid: u32_at(12) as i32,
                    start_ticks: start_ns / ns_per_tick.max(1),
                    name: String::from_utf8_lossy(name).into_owned(),
                    kernel_thread: u32_at(24) & PF_KTHREAD != 0,
                    disk_sleep: state & TASK_UNINTERRUPTIBLE != 0 && state & TASK_NOLOAD == 0,
                },
                start_ns,
                zombie_wait_status: (exit_state & EXIT_ZOMBIE != 0).then_some(u32_at(32) as i32),
            })
        })
        .collect()
}

/// The task iterator, loaded and checked: each [`Tasks::read`] is one pass
/// over every process.
pub struct Tasks {
    iterator: Iterator,
    ns_per_tick: u64,
    /// PID 1's row, read once from /proc (see [`Tasks::with_init`]).
    init: Option<Task>,
}

impl Tasks {
    /// Loads the iterator and returns it with its first pass; `None` where
    /// it cannot run here (not root, no BTF, an older kernel, another PID
    /// namespace, or turned off): then the caller reads /proc.
    pub fn load() -> Option<(Tasks, Vec<Task>)> {
        if !crate::bpf::allowed() {
            return None;
        }
        let ns_per_tick = ns_per_tick();
        let own = own_row()?;
        let (iterator, bytes) = crate::bpf::load_checked("tasks", "bpf_iter_task", program, |bytes| {
            parse_records(bytes, ns_per_tick).iter().any(|t| t.entry == own)
        })?;
        let init = crate::proc::Process::new(1)
            .and_then(|p| p.stat())
            .ok()
            .and_then(TableEntry::from_stat)
            .map(|entry| Task {
                start_ns: entry.start_ticks.saturating_mul(ns_per_tick),
                entry,
                zombie_wait_status: None,
            });
        let tasks = Tasks {
            iterator,
            ns_per_tick,
            init,
        };
        let first = tasks.with_init(parse_records(&bytes, ns_per_tick));
        Some((tasks, first))
    }

    /// One more pass over every process.
    pub fn read(&self) -> Option<Vec<Task>> {
        Some(self.with_init(parse_records(&self.iterator.read().ok()?, self.ns_per_tick)))
    }

    /// The iterator, as Linux 6.18 runs it, does not show PID 1 (the
    /// `task_file` iterator does not either); its row, read once from /proc
    /// when the iterator was loaded, is added. Its start time is known only
    /// in clock ticks; PID 1 never changes hands.
    fn with_init(&self, mut tasks: Vec<Task>) -> Vec<Task> {
        if let Some(init) = &self.init
            && tasks.iter().all(|t| t.entry.pid.get() != 1)
        {
            tasks.insert(0, init.clone());
        }
        tasks
    }
}

/// Afterlife's own row, as `/proc/self/stat` gives it.
fn own_row() -> Option<TableEntry> {
    let stat = crate::proc::Process::myself().ok()?.stat().ok()?;
    TableEntry::from_stat(stat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::MemberOffsets;

    /// `EXIT_DEAD`: released, past being a zombie.
    const EXIT_DEAD: u32 = 0x10;

    #[test]
    fn jumps_land_on_the_exit_and_offsets_round_trip() {
        let o = Offsets {
            task_pid: 1,
            task_tgid: 2,
            task_real_parent: 3,
            task_signal: 4,
            task_start_boottime: 5,
            task_flags: 6,
            task_comm: 7,
            task_exit_state: 10,
            task_exit_code: 11,
            task_state: 12,
            signal_pids: 100,
            pid_numbers: 9,
        };
        assert_eq!(Offsets::decode(&o.encode()), Some(o));
        let p = program(&o);
        let out = p.len() - 2;
        for at in TO_OUT {
            assert_eq!(at as i16 + 1 + p[at].off, out as i16);
        }
        // The group and the session are pids[2] and pids[3].
        assert!(p.iter().any(|i| i.code == ADD64_K && i.imm() == 116));
        assert!(p.iter().any(|i| i.code == ADD64_K && i.imm() == 124));
        // No pointer is loaded from a kernel pointer: each is read with a
        // helper, so the verifier does not search BTF for it.
        assert!(
            !p.iter()
                .any(|i| i.code == LDX_DW && i.src() == 8 && [o.task_real_parent, o.task_signal].contains(&i.off))
        );
        assert_eq!(p[out].code, MOV64_K);
        assert_eq!(p[out + 1].code, EXIT);
    }

    #[test]
    fn records_parse() {
        let record = |pid: u32, flags: u32, exit_state: u32, state: u32, comm: &[u8; 16]| {
            let mut bytes = Vec::new();
            for v in [pid, 1, 40, 30] {
                bytes.extend(v.to_ne_bytes());
            }
            bytes.extend(12_345_678_901u64.to_ne_bytes());
            let exit_code = if exit_state == 0 { 0 } else { 9 };
            for v in [flags, exit_state, exit_code, state] {
                bytes.extend(v.to_ne_bytes());
            }
            bytes.extend(*comm);
            bytes
        };
        // An idle kernel thread (TASK_IDLE: /proc says I, not D).
        let mut bytes = record(42, PF_KTHREAD | 0x40, 0, 0x402, b"kworker/0:1\0\0\0\0\0");
        // A zombie killed by SIGKILL, and one being released (past it).
        bytes.extend(record(43, 0, EXIT_ZOMBIE, 0, b"sleep\0\0\0\0\0\0\0\0\0\0\0"));
        bytes.extend(record(44, 0, EXIT_DEAD, 0, b"sleep\0\0\0\0\0\0\0\0\0\0\0"));
        // In a killable wait (TASK_KILLABLE): D.
        bytes.extend(record(45, 0, 0, 0x102, b"vfork\0\0\0\0\0\0\0\0\0\0\0"));
        bytes.extend([1, 2, 3]); // a torn tail is ignored
        let tasks = parse_records(&bytes, 10_000_000);
        assert_eq!(tasks.len(), 4);
        assert!(tasks[3].entry.disk_sleep);
        assert_eq!(tasks[1].zombie_wait_status, Some(9));
        assert_eq!(tasks[1].entry.name, "sleep");
        assert_eq!(tasks[2].zombie_wait_status, None);
        assert_eq!(
            tasks[..1],
            [Task {
                entry: TableEntry {
                    pid: Pid::new(42).unwrap(),
                    ppid: 1,
                    pgid: 40,
                    sid: 30,
                    start_ticks: 1234,
                    name: "kworker/0:1".into(),
                    kernel_thread: true,
                    disk_sleep: false,
                },
                start_ns: 12_345_678_901,
                zombie_wait_status: None,
            }]
        );
    }
}
