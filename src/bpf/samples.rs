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
//! Memory is not counted here: since Linux 6.16 `statm` and `status` sum
//! each `mm->rss_stat` counter over every CPU under the counter's lock
//! (`get_mm_counter_sum`), which a program cannot take; the counter's
//! shared `count` alone was measured 44 pages off a `sleep`'s 437. What the
//! program gives instead is a *fingerprint* of the counters: a hash of the
//! mm's address and of every part of every counter (the shared `count` and
//! each CPU's own share, found with the per-CPU offsets of
//! [`crate::bpf::percpu`]). The value `statm`
//! shows is the sum of those parts, so where no part changed, neither did
//! what `statm` and `status` would show: `watch` reads them again only for
//! a process whose fingerprint moved (see [`MemoryLayout`]).
//!
//! The first run is checked against what /proc says of afterlife's own
//! process.

use std::collections::HashMap;

use crate::bpf::asm::*;
use crate::bpf::btf::Btf;
use crate::bpf::{Iterator, MemberOffsets};

/// The record the program writes: 40 bytes.
const RECORD: usize = 40;
/// The largest fd table counted in the kernel, in 64-bit words (65,536
/// fds); the verifier walks the loop once per word.
pub const FD_WORDS: i32 = 1024;
/// `fd_state`: the table was counted; it was too large to count.
const FDS_COUNTED: i32 = 1;
const FDS_TOO_MANY: i32 = 2;
/// `memory_state`: the fingerprint was taken.
const MEMORY_HASHED: i32 = 1;
/// The most CPUs whose shares are read: each costs a helper call per
/// process and pass, so on a larger machine `statm` is cheaper.
pub use crate::bpf::percpu::MAX_CPUS;
/// The most memory counters hashed (`NR_MM_COUNTERS` is 4 since Linux 4.x).
const MAX_COUNTERS: usize = 8;
/// The FNV-1a 64-bit prime: each step `h = (h ^ word) * P` is a bijection
/// of `h`, so two inputs that differ in one word always hash apart.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Stack slots below the record: the fd word count, the fd word read, the
/// mm pointer, each CPU's shares of the counters, then the counters.
const WORDS_SLOT: i16 = -48;
const WORD_SLOT: i16 = -56;
const MM_SLOT: i16 = -64;
const SHARES_SLOT: i16 = -64 - 4 * MAX_COUNTERS as i16;
/// The largest block of counters read onto the stack.
const MAX_BLOCK: usize = 384;

/// Where a process's memory counters are, for the fingerprint: since
/// Linux 6.2 `mm->rss_stat` is an array of `struct percpu_counter`, each a
/// shared `count` and a pointer to per-CPU `s32` shares, allocated together
/// (`percpu_counter_init_many`: counter `i`'s share is 4·i bytes after the
/// first's; the program checks this and takes no fingerprint otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLayout {
    task_mm: i16,
    mm_rss_stat: i16,
    counters: i16,
    counter_size: i16,
    counter_count: i16,
    counter_shares: i16,
    cpus: i16,
    /// Each CPU's per-CPU offset, the first `cpus` of them.
    cpu_offsets: [u64; MAX_CPUS],
}

impl MemoryLayout {
    fn from_btf(btf: &Btf, cpus: usize) -> Option<MemoryLayout> {
        let at = |s: &str, m: &str| btf.member_offset(s, m).and_then(|o| i16::try_from(o).ok());
        let counters = btf.struct_array_len("mm_struct", "rss_stat", "percpu_counter")?;
        let counter_size = btf.struct_size("percpu_counter")?;
        let fits = (1..=MAX_COUNTERS).contains(&counters)
            && counters * counter_size <= MAX_BLOCK
            && (1..=MAX_CPUS).contains(&cpus);
        fits.then_some(())?;
        Some(MemoryLayout {
            task_mm: at("task_struct", "mm")?,
            mm_rss_stat: at("mm_struct", "rss_stat")?,
            counters: counters as i16,
            counter_size: counter_size as i16,
            counter_count: at("percpu_counter", "count")?,
            counter_shares: at("percpu_counter", "counters")?,
            cpus: cpus as i16,
            cpu_offsets: Self::offsets_array(&crate::bpf::percpu::offsets(btf, cpus)?)?,
        })
    }

    fn offsets_array(offsets: &[u64]) -> Option<[u64; MAX_CPUS]> {
        let mut all = [0; MAX_CPUS];
        all.get_mut(..offsets.len())?.copy_from_slice(offsets);
        Some(all)
    }

    /// Six offsets and sizes, the CPU count, then each CPU's offset.
    fn encode(&self) -> Vec<i64> {
        let sizes = [
            self.task_mm,
            self.mm_rss_stat,
            self.counters,
            self.counter_size,
            self.counter_count,
            self.counter_shares,
            self.cpus,
        ];
        let offsets = self.cpu_offsets.iter().take(self.cpus as usize).map(|&o| o as i64);
        sizes.into_iter().map(i64::from).chain(offsets).collect()
    }

    fn decode(n: &[i64]) -> Option<MemoryLayout> {
        let small = |i: usize| n.get(i).and_then(|&v| i16::try_from(v).ok());
        let cpus = small(6).filter(|&c| (1..=MAX_CPUS as i16).contains(&c))?;
        let offsets: Vec<u64> = n.get(7..)?.iter().map(|&o| o as u64).collect();
        let layout = MemoryLayout {
            task_mm: small(0)?,
            mm_rss_stat: small(1)?,
            counters: small(2)?,
            counter_size: small(3)?,
            counter_count: small(4)?,
            counter_shares: small(5)?,
            cpus,
            cpu_offsets: Self::offsets_array(&offsets)?,
        };
        let fits = (1..=MAX_COUNTERS as i16).contains(&layout.counters)
            && layout.counters as usize * layout.counter_size.max(0) as usize <= MAX_BLOCK;
        (offsets.len() == cpus as usize && fits).then_some(layout)
    }

    /// Where the counters are read onto the stack.
    fn block_slot(&self) -> i16 {
        SHARES_SLOT - self.counters * self.counter_size
    }
}

/// The number of CPUs the kernel can have (`nr_cpu_ids`): one more than the
/// highest in `/sys/devices/system/cpu/possible`'s list ("0-3,8-11"). Pure.
pub fn possible_cpus(list: &str) -> Option<usize> {
    list.trim()
        .split(',')
        .map(|range| range.rsplit('-').next()?.trim().parse::<usize>().ok())
        .try_fold(0, |most, last| Some(most.max(last? + 1)))
        .filter(|&n| n > 0)
}

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
    /// Where the memory counters are; `None` where the kernel keeps them
    /// otherwise (before Linux 6.2) or the machine has more than
    /// [`MAX_CPUS`] CPUs: then `watch` reads `statm` at every tick.
    memory: Option<MemoryLayout>,
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
            memory: std::fs::read_to_string("/sys/devices/system/cpu/possible")
                .ok()
                .and_then(|list| possible_cpus(&list))
                .and_then(|cpus| MemoryLayout::from_btf(btf, cpus)),
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
        .chain([i64::from(self.memory.is_some())])
        .chain(self.memory.iter().flat_map(MemoryLayout::encode))
        .collect()
    }

    fn decode(numbers: &[i64]) -> Option<Offsets> {
        // Ten offsets, then 0, or 1 and the memory layout.
        let (numbers, memory) = match (numbers.len(), numbers.get(10)) {
            (11, Some(0)) => (&numbers[..10], None),
            (19.., Some(1)) => (&numbers[..10], Some(MemoryLayout::decode(&numbers[11..])?)),
            _ => return None,
        };
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
            memory,
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

/// `h = (h ^ r1) * FNV_PRIME` on the hash in r9, with r2 as scratch.
fn hash_r1() -> Vec<Step> {
    let mut s = vec![Step::Op(insn(XOR64_X, 9, 1, 0, 0))];
    s.extend(load_imm64(2, FNV_PRIME).map(Step::Op));
    s.push(Step::Op(insn(MUL64_X, 9, 2, 0, 0)));
    s
}

/// The fingerprint of the task's memory counters (task in r8) into the
/// record at `rec(32)`, with `MEMORY_HASHED` at `rec(20)`; on any doubt
/// (no mm, a failed read, shares not laid out together) it jumps to
/// "files" with the state left 0. Uses r7 (the mm, then the first
/// counter's shares) and r9 (the hash). Pure.
fn memory_steps(m: &MemoryLayout, rec: impl Fn(i16) -> i16) -> Vec<Step> {
    use Step::{Jump, Label, Op};
    let block = m.block_slot();
    let counter = |i: i16, field: i16| block + i * m.counter_size + field;
    let mut s: Vec<Step> = read_kernel(MM_SLOT, 8, 8, m.task_mm).map(Op).into();
    s.extend([
        Jump(insn(JNE_K, 0, 0, 0, 0), "files"),
        Op(insn(LDX_DW, 7, 10, MM_SLOT, 0)),
        Jump(insn(JEQ_K, 7, 0, 0, 0), "files"),
    ]);
    let block_len = i32::from(m.counters * m.counter_size);
    s.extend(read_kernel(block, block_len, 7, m.mm_rss_stat).map(Op));
    s.push(Jump(insn(JNE_K, 0, 0, 0, 0), "files"));
    // A new mm (after execve) hashes apart even with equal counts.
    s.push(Op(insn(MOV64_X, 9, 7, 0, 0)));
    for i in 0..m.counters {
        s.push(Op(insn(LDX_DW, 1, 10, counter(i, m.counter_count), 0)));
        s.extend(hash_r1());
    }
    s.push(Op(insn(LDX_DW, 7, 10, counter(0, m.counter_shares), 0)));
    for i in 1..m.counters {
        s.extend([
            Op(insn(LDX_DW, 1, 10, counter(i, m.counter_shares), 0)),
            Op(insn(MOV64_X, 2, 7, 0, 0)),
            Op(insn(ADD64_K, 2, 0, 0, 4 * i32::from(i))),
            Jump(insn(JNE_X, 1, 2, 0, 0), "files"),
        ]);
    }
    for &offset in m.cpu_offsets.iter().take(m.cpus as usize) {
        // The first counter's pointer plus the CPU's per-CPU offset: that
        // CPU's shares of every counter.
        s.extend(load_imm64(3, offset).map(Op));
        s.extend([
            Op(insn(ADD64_X, 3, 7, 0, 0)),
            Op(insn(MOV64_X, 1, 10, 0, 0)),
            Op(insn(ADD64_K, 1, 0, 0, i32::from(SHARES_SLOT))),
            Op(insn(MOV64_K, 2, 0, 0, 4 * i32::from(m.counters))),
            Op(insn(CALL, 0, 0, 0, BPF_FUNC_PROBE_READ_KERNEL)),
            Jump(insn(JNE_K, 0, 0, 0, 0), "files"),
        ]);
        for i in 0..m.counters {
            s.push(Op(insn(LDX_W, 1, 10, SHARES_SLOT + 4 * i, 0)));
            s.extend(hash_r1());
        }
    }
    s.extend([
        Op(insn(STX_DW, 10, 9, rec(32), 0)),
        Op(insn(ST_W, 10, 0, rec(20), MEMORY_HASHED)),
        Label("files"),
    ]);
    s
}

/// The program: for each thread-group leader, write {tgid u32, parent's
/// tgid u32, threads u32, fds u32, fd_state u32, memory_state u32,
/// start_boottime u64, memory fingerprint u64}. Registers: r6 ctx, r8 task
/// (then the fd sum), r7 and r9 the fingerprint's (see `memory_steps`),
/// then r7 scratch pointers (then the word index) and r9 `open_fds`; the
/// record at r10-40, the word count and the word read below it. Pure.
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
    ]);
    match &o.memory {
        Some(m) => s.extend(memory_steps(m, rec)),
        None => s.push(Label("files")),
    }
    s.extend([
        Op(insn(LDX_DW, 7, 8, o.task_files, 0)),
        Jump(insn(JEQ_K, 7, 0, 0, 0), "write"),
        Op(insn(LDX_DW, 7, 7, o.files_fdt, 0)),
        Jump(insn(JEQ_K, 7, 0, 0, 0), "write"),
        Op(insn(LDX_W, 2, 7, o.fdt_max_fds, 0)),
        Op(insn(RSH64_K, 2, 0, 0, 6)),
        Jump(insn(JGT_K, 2, 0, 0, FD_WORDS), "too_many"),
        Op(insn(STX_DW, 10, 2, WORDS_SLOT, 0)),
        Op(insn(LDX_DW, 9, 7, o.fdt_open_fds, 0)),
        Op(insn(MOV64_K, 8, 0, 0, 0)),
        Op(insn(MOV64_K, 7, 0, 0, 0)),
        Label("word"),
        Op(insn(LDX_DW, 2, 10, WORDS_SLOT, 0)),
        Jump(insn(JGE_X, 7, 2, 0, 0), "counted"),
        Op(insn(MOV64_X, 1, 10, 0, 0)),
        Op(insn(ADD64_K, 1, 0, 0, i32::from(WORD_SLOT))),
        Op(insn(MOV64_K, 2, 0, 0, 8)),
        Op(insn(MOV64_X, 3, 7, 0, 0)),
        Op(insn(LSH64_K, 3, 0, 0, 3)),
        Op(insn(ADD64_X, 3, 9, 0, 0)),
        Op(insn(CALL, 0, 0, 0, BPF_FUNC_PROBE_READ_KERNEL)),
        Op(insn(LDX_DW, 1, 10, WORD_SLOT, 0)),
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
    /// The fingerprint of its memory counters; `None` where none was taken.
    pub memory: Option<u64>,
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
                memory: (u32_at(20) as i32 == MEMORY_HASHED).then(|| u64_at(32)),
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
/// to count in the kernel), threads, children and the fingerprint of its
/// memory counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Open fds.
    pub fds: Option<u64>,
    /// Threads.
    pub threads: u64,
    /// Direct children.
    pub children: u64,
    /// The fingerprint of its memory counters: equal in two passes, what
    /// `statm` and `status` show of its memory is equal too. `None` where
    /// the pass took none.
    pub memory: Option<u64>,
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
            memory: sample.memory,
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
        let (iterator, bytes) = crate::bpf::load_checked_by("samples", "bpf_iter_task", program, first_runs)?;
        Some((Samples { iterator }, Pass::from_bytes(&bytes)))
    }

    /// One more pass over every process.
    pub fn read(&self) -> Option<Pass> {
        Some(Pass::from_bytes(&self.iterator.read().ok()?))
    }

    /// [`Samples::load`] in a test. The first run checks the test
    /// process's own thread and fd counts against /proc, and the other
    /// tests of that process start threads and open files while it runs
    /// (the afterlife binary does neither while it loads); a load that
    /// lost that race is tried again.
    #[cfg(test)]
    pub(crate) fn load_in_test() -> Option<(Samples, Pass)> {
        (0..20).find_map(|_| {
            Samples::load().or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(10));
                None
            })
        })
    }
}

/// The first runs: the first must agree with /proc about afterlife's own
/// process ([`agrees_about_itself`]); where it took a fingerprint of its
/// memory, a second run after afterlife has touched a fresh mebibyte must
/// give another one. Gives the last run's records.
fn first_runs(iterator: &crate::bpf::Iterator) -> Result<Option<Vec<u8>>, crate::bpf::BpfError> {
    let bytes = iterator.read()?;
    if !agrees_about_itself(&bytes) {
        return Ok(None);
    }
    let me = std::process::id() as i32;
    let Some(before) = parse_records(&bytes).get(&me).and_then(|own| own.memory) else {
        return Ok(Some(bytes));
    };
    // A fresh mapping, not the allocator's: its pages are new to the
    // process whatever it freed before.
    let Ok(touched) = crate::sys::linux::mm::Touched::new(1 << 20) else {
        return Ok(None);
    };
    let again = iterator.read()?;
    drop(touched);
    let after = parse_records(&again).get(&me).and_then(|own| own.memory);
    Ok(after.is_some_and(|after| after != before).then_some(again))
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
            memory: Some(MemoryLayout {
                task_mm: 13,
                mm_rss_stat: 14,
                counters: 4,
                counter_size: 40,
                counter_count: 8,
                counter_shares: 32,
                cpus: 2,
                cpu_offsets: [
                    0xffff_8880_0000_0000,
                    0xffff_8880_0010_0000,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
            }),
        }
    }

    fn jumps_stay_inside(p: &[Insn]) {
        for (at, i) in p.iter().enumerate() {
            let jump = i.code & 0x07 == 0x05 && i.code != CALL && i.code != EXIT;
            if jump {
                let to = at as i64 + 1 + i64::from(i.off);
                assert!((0..p.len() as i64).contains(&to), "jump at {at} to {to}");
            }
        }
    }

    #[test]
    fn offsets_round_trip_and_jumps_stay_inside() {
        let o = offsets();
        assert_eq!(Offsets::decode(&o.encode()), Some(o));
        assert_eq!(Offsets::decode(&o.encode()[1..]), None);
        // The layout before the fingerprint (ten numbers) is not taken.
        assert_eq!(Offsets::decode(&o.encode()[..10]), None);
        let without = Offsets { memory: None, ..o };
        assert_eq!(Offsets::decode(&without.encode()), Some(without));
        let p = program(&o);
        jumps_stay_inside(&p);
        // The word loop is bounded before it starts.
        assert!(p.iter().any(|i| i.code == JGT_K && i.imm() == FD_WORDS));
        assert_eq!(p[p.len() - 1].code, EXIT);
        // The fd loop's read, the mm, the counters, and one read per CPU.
        let reads = |p: &[Insn]| {
            p.iter()
                .filter(|i| i.code == CALL && i.imm() == BPF_FUNC_PROBE_READ_KERNEL)
                .count()
        };
        assert_eq!(reads(&p), 1 + 2 + 2);
        // The second CPU's offset, as a 64-bit immediate.
        assert!(
            p.windows(2)
                .any(|w| w[0].code == LD_IMM64 && w[0].imm() == 0x0010_0000 && w[1].imm() as u32 == 0xffff_8880)
        );
        let plain = program(&without);
        jumps_stay_inside(&plain);
        assert_eq!(reads(&plain), 1);
        // The counters and the shares fit the stack.
        let m = o.memory.unwrap();
        assert!(m.block_slot() >= -512);
        let largest = MemoryLayout {
            counters: MAX_COUNTERS as i16,
            counter_size: (MAX_BLOCK / MAX_COUNTERS) as i16,
            ..m
        };
        assert!(largest.block_slot() >= -512);
        assert_eq!(MemoryLayout::decode(&largest.encode()), Some(largest));
        assert_eq!(MemoryLayout::decode(&MemoryLayout { cpus: 17, ..m }.encode()), None);
    }

    #[test]
    fn possible_cpus_is_one_past_the_highest() {
        assert_eq!(possible_cpus("0-1\n"), Some(2));
        assert_eq!(possible_cpus("0"), Some(1));
        assert_eq!(possible_cpus("0-3,8-11"), Some(12));
        assert_eq!(possible_cpus(""), None);
        assert_eq!(possible_cpus("x"), None);
    }

    /// The fingerprint's step, run on the instructions' meaning: a change
    /// of any one word changes the hash.
    #[test]
    fn one_word_apart_hashes_apart() {
        let run = |start: u64, words: &[u64]| {
            let mut r = [0u64; 10];
            r[9] = start;
            for &w in words {
                r[1] = w;
                interpret(&assemble(hash_r1()), &mut r);
            }
            r[9]
        };
        let base = [437u64, 12, 0, 3, 1, u64::MAX, 0];
        let h = run(0xffff_8880_1234_5000, &base);
        for at in 0..base.len() {
            for delta in [1u64, 2, 1 << 31, u64::MAX] {
                let mut other = base;
                other[at] = other[at].wrapping_add(delta);
                assert_ne!(run(0xffff_8880_1234_5000, &other), h, "word {at} + {delta}");
            }
        }
        assert_ne!(run(0xffff_8880_1234_6000, &base), h);
    }

    /// Runs straight-line ALU instructions on the registers `r`: what they
    /// mean, for the pure pieces of the program.
    fn interpret(steps: &[Insn], r: &mut [u64; 10]) {
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
                XOR64_X => r[d] ^= r[s],
                LD_IMM64 => {
                    r[d] = u64::from(i.imm() as u32) | u64::from(steps[pc + 1].imm() as u32) << 32;
                    pc += 1;
                }
                other => panic!("unexpected opcode {other:#x}"),
            }
            pc += 1;
        }
    }

    /// The population count, run on the instructions' meaning.
    #[test]
    fn popcount_counts_bits() {
        for value in [0u64, 1, 0xff, u64::MAX, 0x8000_0000_0000_0001, 0x1234_5678_9abc_def0] {
            let mut r = [0u64; 10];
            r[1] = value;
            interpret(&assemble(popcount()), &mut r);
            assert_eq!(r[1], u64::from(value.count_ones()), "{value:#x}");
        }
    }

    #[test]
    fn records_parse_and_children_add_up() {
        let record = |pid: u32, ppid: u32, fd_state: u32| {
            let mut r = Vec::new();
            for v in [pid, ppid, 3, 17, fd_state, pid % 2] {
                r.extend(v.to_ne_bytes());
            }
            r.extend(123_456_789u64.to_ne_bytes());
            r.extend(u64::from(pid * 1000).to_ne_bytes());
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
        // The fingerprint, where one was taken.
        assert_eq!(first.memory, None);
        assert_eq!(samples[&101].memory, Some(101_000));
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
        let (samples, _) = Samples::load_in_test().expect("the sample iterator loads as root on Linux 6.2 or later");
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

    /// A sleeping process's fingerprint stays; one that touches memory
    /// gets a new one, and the pass that sees it is the one after which
    /// `statm` shows the growth.
    #[test]
    fn the_fingerprint_moves_with_memory_and_only_then() {
        if !crate::bpf::allowed() {
            eprintln!("skipped: loading a BPF iterator needs CAP_BPF and CAP_PERFMON in the initial PID namespace");
            return;
        }
        use std::io::{BufRead, Write};
        let script = "import sys\nsys.stdout.write('ready\\n'); sys.stdout.flush()\nsys.stdin.readline()\nb = b'x' * (8 << 20)\nsys.stdout.write('grown\\n'); sys.stdout.flush()\nsys.stdin.readline()\n";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let (samples, _) = Samples::load_in_test().unwrap();
        let pid = child.id() as i32;
        let print = |pass: &Pass| pass.samples[&pid].memory;
        let first = print(&samples.read().unwrap());
        assert!(
            first.is_some(),
            "no fingerprint on a machine of {} CPUs",
            std::thread::available_parallelism().unwrap()
        );
        let resident = || {
            let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
            statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap()
        };
        let before = resident();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            print(&samples.read().unwrap()),
            first,
            "it moved while the process waited"
        );
        assert_eq!(resident(), before);
        let mut input = child.stdin.take().unwrap();
        input.write_all(b"\n").unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_ne!(print(&samples.read().unwrap()), first);
        assert!(resident() >= before + 2048, "{} pages, then {}", before, resident());
        drop(input);
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
        let (samples, _) = Samples::load_in_test().unwrap();
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
