//! What `watch` counts of every process, in one pass inside the kernel: a
//! BPF `task` iterator that writes, per thread-group leader, the numbers
//! `/proc/PID/fd`'s size and `/proc/PID/task`'s link count give (open fds,
//! threads), with its parent and start time, so that one `read(2)` replaces
//! three system calls per watched process per tick (the fd count, the
//! thread count, the children).
//!
//! Every number is the one /proc reports, read from the same fields:
//! - open fds: the bits set in `files->fdt->open_fds` up to `max_fds`, as
//!   `proc_readfd_count` counts them (Linux 6.2) — here a word at a time
//!   with `bpf_probe_read_kernel` and a population count, for tables of up
//!   to [`FD_WORDS`] words (a larger table is marked, and counted by /proc);
//! - threads: `signal->nr_threads`, which `/proc/PID/task`'s link count adds
//!   to 2;
//! - children: counted from the parents (`real_parent->tgid`) of every
//!   process, which is what `/proc/PID/task/*/children` lists together.
//!
//! Memory is not read here: since Linux 6.16 `statm` and `status` sum each
//! `mm->rss_stat` counter over every CPU (`get_mm_counter_sum`), which a
//! program cannot do portably; the counter's shared `count` alone was
//! measured 44 pages off a `sleep`'s 437. `watch` reads `statm` for it.
//!
//! The first run is checked against what /proc says of afterlife's own
//! process.

use std::collections::HashMap;

use crate::bpf::asm::*;
use crate::bpf::btf::Btf;
use crate::bpf::{Iterator, MemberOffsets};

/// The record the program writes: 32 bytes.
const RECORD: usize = 32;
/// The largest fd table counted in the kernel, in 64-bit words (65,536
/// fds); the verifier walks the loop once per word.
pub const FD_WORDS: i32 = 1024;
/// `fd_state`: the table was counted; it was too large to count.
const FDS_COUNTED: i32 = 1;
const FDS_TOO_MANY: i32 = 2;

/// The offsets the program reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    task_pid: i16,
    task_tgid: i16,
    task_real_parent: i16,
    task_start_boottime: i16,
    task_signal: i16,
    signal_nr_threads: i16,
    task_files: i16,
    files_fdt: i16,
    fdt_max_fds: i16,
    fdt_open_fds: i16,
}

impl MemberOffsets for Offsets {
    fn from_btf(btf: &Btf) -> Option<Offsets> {
        let at = |s: &str, m: &str| btf.member_offset(s, m).and_then(|o| i16::try_from(o).ok());
        Some(Offsets {
            task_pid: at("task_struct", "pid")?,
            task_tgid: at("task_struct", "tgid")?,
            task_real_parent: at("task_struct", "real_parent")?,
            task_start_boottime: at("task_struct", "start_boottime")?,
            task_signal: at("task_struct", "signal")?,
            signal_nr_threads: at("signal_struct", "nr_threads")?,
            task_files: at("task_struct", "files")?,
            files_fdt: at("files_struct", "fdt")?,
            fdt_max_fds: at("fdtable", "max_fds")?,
            fdt_open_fds: at("fdtable", "open_fds")?,
        })
    }

    fn encode(&self) -> Vec<i64> {
        [
            self.task_pid,
            self.task_tgid,
            self.task_real_parent,
            self.task_start_boottime,
            self.task_signal,
            self.signal_nr_threads,
            self.task_files,
            self.files_fdt,
            self.fdt_max_fds,
            self.fdt_open_fds,
        ]
        .into_iter()
        .map(i64::from)
        .collect()
    }

    fn decode(numbers: &[i64]) -> Option<Offsets> {
        let n: Vec<i16> = numbers.iter().map(|&n| i16::try_from(n).ok()).collect::<Option<_>>()?;
        let &[
            task_pid,
            task_tgid,
            task_real_parent,
            task_start_boottime,
            task_signal,
            signal_nr_threads,
            task_files,
            files_fdt,
            fdt_max_fds,
            fdt_open_fds,
        ] = n.as_slice()
        else {
            return None;
        };
        Some(Offsets {
            task_pid,
            task_tgid,
            task_real_parent,
            task_start_boottime,
            task_signal,
            signal_nr_threads,
            task_files,
            files_fdt,
            fdt_max_fds,
            fdt_open_fds,
        })
    }
}

/// A step of the program: an instruction, a jump to a label, or a label.
enum Step {
    Op(Insn),
    Jump(Insn, &'static str),
    Label(&'static str),
}

/// The instructions, with each jump pointed at its label. Pure.
fn assemble(steps: Vec<Step>) -> Vec<Insn> {
    let mut at = HashMap::new();
    let mut n = 0i16;
    for step in &steps {
        match step {
            Step::Label(name) => {
                at.insert(*name, n);
            }
            _ => n += 1,
        }
    }
    let mut program = Vec::with_capacity(n as usize);
    for step in steps {
        match step {
            Step::Op(i) => program.push(i),
            Step::Jump(mut i, label) => {
                i.off = at[label] - program.len() as i16 - 1;
                program.push(i);
            }
            Step::Label(_) => {}
        }
    }
    program
}

/// `r1` = the number of bits set in `r1`, with `r2` and `r3` as scratch
/// (the SWAR population count). Pure.
fn popcount() -> Vec<Step> {
    let mut s: Vec<Step> = [insn(MOV64_X, 2, 1, 0, 0), insn(RSH64_K, 2, 0, 0, 1)]
        .map(Step::Op)
        .into();
    s.extend(load_imm64(3, 0x5555_5555_5555_5555).map(Step::Op));
    s.extend([insn(AND64_X, 2, 3, 0, 0), insn(SUB64_X, 1, 2, 0, 0)].map(Step::Op));
    s.extend(load_imm64(3, 0x3333_3333_3333_3333).map(Step::Op));
    s.extend(
        [
            insn(MOV64_X, 2, 1, 0, 0),
            insn(AND64_X, 2, 3, 0, 0),
            insn(RSH64_K, 1, 0, 0, 2),
            insn(AND64_X, 1, 3, 0, 0),
            insn(ADD64_X, 1, 2, 0, 0),
            insn(MOV64_X, 2, 1, 0, 0),
            insn(RSH64_K, 2, 0, 0, 4),
            insn(ADD64_X, 1, 2, 0, 0),
        ]
        .map(Step::Op),
    );
    s.extend(load_imm64(3, 0x0f0f_0f0f_0f0f_0f0f).map(Step::Op));
    s.push(Step::Op(insn(AND64_X, 1, 3, 0, 0)));
    s.extend(load_imm64(3, 0x0101_0101_0101_0101).map(Step::Op));
    s.extend([insn(MUL64_X, 1, 3, 0, 0), insn(RSH64_K, 1, 0, 0, 56)].map(Step::Op));
    s
}

/// The program: for each thread-group leader, write {tgid u32, parent's
/// tgid u32, threads u32, fds u32, fd_state u32, 0 u32, start_boottime
/// u64}. Registers: r6 ctx, r8 task (then the fd sum), r7
/// scratch pointers (then the word index), r9 `open_fds`; the record at
/// r10-64, the word read at r10-72, the word count at r10-80. Pure.
pub fn program(o: &Offsets) -> Vec<Insn> {
    use Step::{Jump, Label, Op};
    let rec = |field: i16| field - RECORD as i16;
    let mut s = vec![
        Op(insn(MOV64_X, 6, 1, 0, 0)),
        Op(insn(LDX_DW, 8, 6, 8, 0)), // ctx->task
        Jump(insn(JEQ_K, 8, 0, 0, 0), "out"),
        Op(insn(LDX_W, 2, 8, o.task_pid, 0)),
        Op(insn(LDX_W, 3, 8, o.task_tgid, 0)),
        Jump(insn(JNE_X, 2, 3, 0, 0), "out"),
    ];
    s.extend((0..RECORD as i16 / 8).map(|k| Op(insn(ST_DW, 10, 0, rec(8 * k), 0))));
    s.extend([
        Op(insn(STX_W, 10, 3, rec(0), 0)),
        Op(insn(LDX_DW, 2, 8, o.task_real_parent, 0)),
        Op(insn(LDX_W, 3, 2, o.task_tgid, 0)),
        Op(insn(STX_W, 10, 3, rec(4), 0)),
        Op(insn(LDX_DW, 2, 8, o.task_start_boottime, 0)),
        Op(insn(STX_DW, 10, 2, rec(24), 0)),
        Op(insn(LDX_DW, 7, 8, o.task_signal, 0)),
        Op(insn(LDX_W, 2, 7, o.signal_nr_threads, 0)),
        Op(insn(STX_W, 10, 2, rec(8), 0)),
        Op(insn(LDX_DW, 7, 8, o.task_files, 0)),
        Jump(insn(JEQ_K, 7, 0, 0, 0), "write"),
        Op(insn(LDX_DW, 7, 7, o.files_fdt, 0)),
        Jump(insn(JEQ_K, 7, 0, 0, 0), "write"),
        Op(insn(LDX_W, 2, 7, o.fdt_max_fds, 0)),
        Op(insn(RSH64_K, 2, 0, 0, 6)),
        Jump(insn(JGT_K, 2, 0, 0, FD_WORDS), "too_many"),
        Op(insn(STX_DW, 10, 2, -48, 0)),
        Op(insn(LDX_DW, 9, 7, o.fdt_open_fds, 0)),
        Op(insn(MOV64_K, 8, 0, 0, 0)),
        Op(insn(MOV64_K, 7, 0, 0, 0)),
        Label("word"),
        Op(insn(LDX_DW, 2, 10, -48, 0)),
        Jump(insn(JGE_X, 7, 2, 0, 0), "counted"),
        Op(insn(MOV64_X, 1, 10, 0, 0)),
        Op(insn(ADD64_K, 1, 0, 0, -40)),
        Op(insn(MOV64_K, 2, 0, 0, 8)),
        Op(insn(MOV64_X, 3, 7, 0, 0)),
        Op(insn(LSH64_K, 3, 0, 0, 3)),
        Op(insn(ADD64_X, 3, 9, 0, 0)),
        Op(insn(CALL, 0, 0, 0, BPF_FUNC_PROBE_READ_KERNEL)),
        Op(insn(LDX_DW, 1, 10, -40, 0)),
    ]);
    s.extend(popcount());
    s.extend([
        Op(insn(ADD64_X, 8, 1, 0, 0)),
        Op(insn(ADD64_K, 7, 0, 0, 1)),
        Jump(insn(JA, 0, 0, 0, 0), "word"),
        Label("counted"),
        Op(insn(STX_W, 10, 8, rec(12), 0)),
        Op(insn(ST_W, 10, 0, rec(16), FDS_COUNTED)),
        Jump(insn(JA, 0, 0, 0, 0), "write"),
        Label("too_many"),
        Op(insn(ST_W, 10, 0, rec(16), FDS_TOO_MANY)),
        Label("write"),
    ]);
    s.extend(seq_write_stack(6, RECORD as i32).map(Op));
    s.push(Label("out"));
    s.extend(exit_zero().map(Op));
    assemble(s)
}

/// One process as the iterator saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSample {
    /// The parent's PID.
    pub ppid: i32,
    /// Threads.
    pub threads: u64,
    /// Open fds; `None` for a table larger than [`FD_WORDS`] words.
    pub fds: Option<u64>,
    /// The start time, in nanoseconds after boot.
    pub start_ns: u64,
}

/// Parses the records the program wrote, by PID. Pure.
pub fn parse_records(bytes: &[u8]) -> HashMap<i32, KernelSample> {
    bytes
        .chunks_exact(RECORD)
        .map(|r| {
            let u32_at = |at: usize| u32::from_ne_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
            let u64_at = |at: usize| u64::from_ne_bytes(r[at..at + 8].try_into().unwrap_or([0; 8]));
            let fds = (u32_at(16) as i32 == FDS_COUNTED || u32_at(16) == 0).then_some(u64::from(u32_at(12)));
            let sample = KernelSample {
                ppid: u32_at(4) as i32,
                threads: u64::from(u32_at(8)).max(1),
                fds,
                start_ns: u64_at(24),
            };
            (u32_at(0) as i32, sample)
        })
        .collect()
}

/// Direct children per process, from every process's parent. Pure.
pub fn children_counts(samples: &HashMap<i32, KernelSample>) -> HashMap<i32, u64> {
    let mut counts = HashMap::new();
    for sample in samples.values() {
        *counts.entry(sample.ppid).or_insert(0) += 1;
    }
    counts
}

/// One pass over every process: the samples and the children counts.
#[derive(Debug, Default)]
pub struct Pass {
    /// Each process's numbers, by PID.
    pub samples: HashMap<i32, KernelSample>,
    /// Each process's direct children, by PID.
    pub children: HashMap<i32, u64>,
}

/// What one pass counted of one process: its open fds (`None`: too many
/// to count in the kernel), threads and children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Open fds.
    pub fds: Option<u64>,
    /// Threads.
    pub threads: u64,
    /// Direct children.
    pub children: u64,
}

impl Pass {
    fn from_bytes(bytes: &[u8]) -> Pass {
        let samples = parse_records(bytes);
        let children = children_counts(&samples);
        Pass { samples, children }
    }

    /// What the pass counted of the process `pid` that started at
    /// `start_ticks` (`/proc/PID/stat` field 22); `None` if the pass did not
    /// see it, or saw another process with its PID.
    pub fn counted(&self, pid: i32, start_ticks: u64) -> Option<Counted> {
        let sample = self.samples.get(&pid)?;
        (sample.start_ns / crate::bpf::tasks::ns_per_tick() == start_ticks).then(|| Counted {
            fds: sample.fds,
            threads: sample.threads,
            children: self.children.get(&pid).copied().unwrap_or(0),
        })
    }

    /// How many processes the pass saw.
    pub fn processes(&self) -> usize {
        self.samples.len()
    }
}

/// The sample iterator, loaded and checked.
pub struct Samples {
    iterator: Iterator,
}

impl Samples {
    /// Loads the iterator and returns it with its first pass; `None` where
    /// it cannot run here (not root, no BTF, a kernel before 6.2, another
    /// PID namespace, or turned off): then the caller reads /proc.
    pub fn load() -> Option<(Samples, Pass)> {
        if !crate::bpf::allowed() {
            return None;
        }
        let (iterator, bytes) = crate::bpf::load_checked("samples", "bpf_iter_task", program, agrees_about_itself)?;
        Some((Samples { iterator }, Pass::from_bytes(&bytes)))
    }

    /// One more pass over every process.
    pub fn read(&self) -> Option<Pass> {
        Some(Pass::from_bytes(&self.iterator.read().ok()?))
    }
}

/// Whether the first run's record of afterlife's own process agrees with
/// /proc: parent, threads, open fds (within the few the read itself holds)
/// and start time.
fn agrees_about_itself(bytes: &[u8]) -> bool {
    let me = std::process::id() as i32;
    let Some(own) = parse_records(bytes).get(&me).copied() else {
        return false;
    };
    let Ok(process) = crate::proc::Process::myself() else {
        return false;
    };
    let (Ok(stat), Ok(fd_dir), Ok(task_dir)) = (
        process.stat(),
        std::fs::metadata("/proc/self/fd"),
        std::fs::metadata("/proc/self/task"),
    ) else {
        return false;
    };
    use std::os::unix::fs::MetadataExt;
    own.ppid == stat.ppid
        && own.threads == task_dir.nlink().saturating_sub(2)
        && own.fds.is_some_and(|fds| fds.abs_diff(fd_dir.size()) <= 4)
        && own.start_ns / crate::bpf::tasks::ns_per_tick() == stat.starttime
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets() -> Offsets {
        Offsets {
            task_pid: 1,
            task_tgid: 2,
            task_real_parent: 3,
            task_start_boottime: 4,
            task_signal: 5,
            signal_nr_threads: 6,
            task_files: 9,
            files_fdt: 10,
            fdt_max_fds: 11,
            fdt_open_fds: 12,
        }
    }

    #[test]
    fn offsets_round_trip_and_jumps_stay_inside() {
        let o = offsets();
        assert_eq!(Offsets::decode(&o.encode()), Some(o));
        assert_eq!(Offsets::decode(&o.encode()[1..]), None);
        let p = program(&o);
        for (at, i) in p.iter().enumerate() {
            let jump = i.code & 0x07 == 0x05 && i.code != CALL && i.code != EXIT;
            if jump {
                let to = at as i64 + 1 + i64::from(i.off);
                assert!((0..p.len() as i64).contains(&to), "jump at {at} to {to}");
            }
        }
        // The word loop is bounded before it starts.
        assert!(p.iter().any(|i| i.code == JGT_K && i.imm() == FD_WORDS));
        assert_eq!(p[p.len() - 1].code, EXIT);
    }

    /// The population count, run on the instructions' meaning.
    #[test]
    fn popcount_counts_bits() {
        for value in [0u64, 1, 0xff, u64::MAX, 0x8000_0000_0000_0001, 0x1234_5678_9abc_def0] {
            let mut r = [0u64; 4];
            r[1] = value;
            let steps: Vec<Insn> = assemble(popcount());
            let mut pc = 0;
            while pc < steps.len() {
                let i = steps[pc];
                let (d, s) = (i.dst() as usize, i.src() as usize);
                match i.code {
                    MOV64_X => r[d] = r[s],
                    RSH64_K => r[d] >>= i.imm(),
                    AND64_X => r[d] &= r[s],
                    SUB64_X => r[d] = r[d].wrapping_sub(r[s]),
                    ADD64_X => r[d] = r[d].wrapping_add(r[s]),
                    MUL64_X => r[d] = r[d].wrapping_mul(r[s]),
                    LD_IMM64 => {
                        r[d] = u64::from(i.imm() as u32) | u64::from(steps[pc + 1].imm() as u32) << 32;
                        pc += 1;
                    }
                    other => panic!("unexpected opcode {other:#x}"),
                }
                pc += 1;
            }
            assert_eq!(r[1], u64::from(value.count_ones()), "{value:#x}");
        }
    }

    #[test]
    fn records_parse_and_children_add_up() {
        let record = |pid: u32, ppid: u32, fd_state: u32| {
            let mut r = Vec::new();
            for v in [pid, ppid, 3, 17, fd_state, 0] {
                r.extend(v.to_ne_bytes());
            }
            r.extend(123_456_789u64.to_ne_bytes());
            r
        };
        let mut bytes = record(100, 1, 1);
        bytes.extend(record(101, 100, 2));
        bytes.extend(record(102, 100, 1));
        bytes.extend([9, 9]); // a torn tail is ignored
        let samples = parse_records(&bytes);
        assert_eq!(samples.len(), 3);
        let first = samples[&100];
        assert_eq!((first.ppid, first.threads, first.fds), (1, 3, Some(17)));
        assert_eq!(first.start_ns, 123_456_789);
        // Too large a table is not counted.
        assert_eq!(samples[&101].fds, None);
        let children = children_counts(&samples);
        assert_eq!(children[&100], 2);
        assert_eq!(children.get(&101), None);
    }
}

#[cfg(test)]
mod live_tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// The iterator's numbers for afterlife's own test process, and a
    /// sleeping child of it, are /proc's.
    #[test]
    fn agrees_with_proc_where_it_loads() {
        if !crate::bpf::allowed() {
            eprintln!("skipped: loading a BPF iterator needs CAP_BPF and CAP_PERFMON in the initial PID namespace");
            return;
        }
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let (samples, _) = Samples::load().expect("the sample iterator loads as root on Linux 6.2 or later");
        let pass = samples.read().unwrap();
        let pid = child.id() as i32;
        let sample = pass.samples[&pid];
        assert_eq!(sample.ppid, std::process::id() as i32);
        assert_eq!(sample.threads, 1);
        assert_eq!(
            sample.fds,
            Some(std::fs::metadata(format!("/proc/{pid}/fd")).unwrap().size())
        );
        let stat = crate::proc::Process::new(pid).unwrap().stat().unwrap();
        assert_eq!(sample.start_ns / crate::bpf::tasks::ns_per_tick(), stat.starttime);
        assert_eq!(pass.children.get(&pid), None);
        assert!(pass.children[&(std::process::id() as i32)] >= 1);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Over every process of the machine, the fd, thread and children
    /// counts are /proc's (a process that changes between the two reads
    /// aside: nearly all must agree).
    #[test]
    fn agrees_with_proc_for_every_process() {
        if !crate::bpf::allowed() {
            eprintln!("skipped: loading a BPF iterator needs CAP_BPF and CAP_PERFMON in the initial PID namespace");
            return;
        }
        let (samples, _) = Samples::load().unwrap();
        let pass = samples.read().unwrap();
        let (mut agree, mut total) = (0, 0);
        for (&pid, sample) in &pass.samples {
            let (Ok(fd_dir), Ok(task_dir)) = (
                std::fs::metadata(format!("/proc/{pid}/fd")),
                std::fs::metadata(format!("/proc/{pid}/task")),
            ) else {
                continue;
            };
            let mut children = 0;
            for thread in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
                let list = std::fs::read_to_string(thread.path().join("children")).unwrap_or_default();
                children += list.split_whitespace().count() as u64;
            }
            total += 1;
            if sample.fds.is_none_or(|fds| fds == fd_dir.size())
                && sample.threads == task_dir.nlink() - 2
                && pass.children.get(&pid).copied().unwrap_or(0) == children
            {
                agree += 1;
            }
        }
        assert!(total > 10 && agree * 10 >= total * 9, "{agree} of {total} agree");
    }
}
