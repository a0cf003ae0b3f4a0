//! Each CPU's per-CPU offset (`__per_cpu_offset[cpu]`: what the kernel adds
//! to a `__percpu` pointer to reach that CPU's copy), found once per boot
//! by a small iterator program, for programs that read per-CPU data
//! through plain pointers ([`crate::bpf::samples`]'s memory fingerprint).
//!
//! `bpf_per_cpu_ptr` would give a CPU's copy of a per-CPU *variable*, but
//! its address comes from kallsyms, which on a kernel built without
//! `CONFIG_KALLSYMS_ALL` holds no variable at all. A per-CPU array map
//! holds the same facts: `struct bpf_array`'s `pptrs[0]` is its value's
//! `__percpu` pointer, and `bpf_map_lookup_percpu_elem(map, &0, cpu)` is
//! that pointer plus the CPU's offset. The program reads both as numbers
//! (a pointer spilled to the stack and read back with
//! `bpf_probe_read_kernel`) and writes their differences once: when it
//! visits the thread that reads the iterator.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::bpf::asm::*;
use crate::bpf::btf::Btf;
use crate::bpf::{BpfError, Iterator};

const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
/// `bpf_map_lookup_percpu_elem(map, key, cpu)` (Linux 5.19).
const BPF_FUNC_MAP_LOOKUP_PERCPU_ELEM: i32 = 195;
/// The most CPUs asked about.
pub const MAX_CPUS: usize = 16;

/// Stack slots: the map pointer spilled, then read back as a number; the
/// value's `__percpu` pointer; the key; a CPU's copy spilled and read back.
const MAP_SPILL: i16 = -8;
const MAP_ADDRESS: i16 = -16;
const PERCPU_POINTER: i16 = -24;
const KEY: i16 = -28;
const COPY_SPILL: i16 = -40;
const COPY_ADDRESS: i16 = -48;

/// `*(u64 *)(r10 + to) = the number in the pointer spilled at r10 + from`.
fn as_number(from: i16, to: i16) -> [Insn; 6] {
    [
        insn(MOV64_X, 1, 10, 0, 0),
        insn(ADD64_K, 1, 0, 0, i32::from(to)),
        insn(MOV64_K, 2, 0, 0, 8),
        insn(MOV64_X, 3, 10, 0, 0),
        insn(ADD64_K, 3, 0, 0, i32::from(from)),
        insn(CALL, 0, 0, 0, BPF_FUNC_PROBE_READ_KERNEL),
    ]
}

/// The program: at the task that reads it, write each CPU's offset (a u64
/// each, `cpus` of them); elsewhere nothing. `task_pid` is `task_struct.pid`'s offset,
/// `pptrs` `bpf_array.pptrs`'s, `map` the per-CPU array's fd. Pure.
pub fn program(task_pid: i16, pptrs: i16, map: i32, cpus: usize) -> Vec<Insn> {
    let record = COPY_ADDRESS - 8 * cpus as i16;
    let map_ptr = |dst: u8| [insn(LD_IMM64, dst, PSEUDO_MAP_FD, 0, map), insn(0, 0, 0, 0, 0)];
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0),
        insn(LDX_DW, 7, 6, 8, 0), // ctx->task
    ];
    let mut to_end = vec![p.len()];
    p.push(insn(JEQ_K, 7, 0, 0, 0));
    p.push(insn(CALL, 0, 0, 0, BPF_FUNC_GET_CURRENT_PID_TGID));
    p.push(insn(LDX_W, 2, 7, task_pid, 0));
    // Only the thread that reads the iterator (its lower half is the TID).
    p.extend(load_imm64(3, u64::from(u32::MAX)));
    p.push(insn(AND64_X, 0, 3, 0, 0));
    to_end.push(p.len());
    p.push(insn(JNE_X, 2, 0, 0, 0));
    p.extend(map_ptr(1));
    p.push(insn(STX_DW, 10, 1, MAP_SPILL, 0));
    p.extend(as_number(MAP_SPILL, MAP_ADDRESS));
    p.push(insn(LDX_DW, 9, 10, MAP_ADDRESS, 0));
    p.extend(read_kernel(PERCPU_POINTER, 8, 9, pptrs));
    p.push(insn(ST_W, 10, 0, KEY, 0));
    for cpu in 0..cpus as i16 {
        p.extend(map_ptr(1));
        p.extend([
            insn(MOV64_X, 2, 10, 0, 0),
            insn(ADD64_K, 2, 0, 0, i32::from(KEY)),
            insn(MOV64_K, 3, 0, 0, i32::from(cpu)),
            insn(CALL, 0, 0, 0, BPF_FUNC_MAP_LOOKUP_PERCPU_ELEM),
        ]);
        to_end.push(p.len());
        p.push(insn(JEQ_K, 0, 0, 0, 0));
        p.push(insn(STX_DW, 10, 0, COPY_SPILL, 0));
        p.extend(as_number(COPY_SPILL, COPY_ADDRESS));
        p.extend([
            insn(LDX_DW, 1, 10, COPY_ADDRESS, 0),
            insn(LDX_DW, 2, 10, PERCPU_POINTER, 0),
            insn(SUB64_X, 1, 2, 0, 0),
            insn(STX_DW, 10, 1, record + 8 * cpu, 0),
        ]);
    }
    p.extend([
        insn(LDX_DW, 1, 6, 0, 0), // ctx->meta
        insn(LDX_DW, 1, 1, 0, 0), // meta->seq
        insn(MOV64_X, 2, 10, 0, 0),
        insn(ADD64_K, 2, 0, 0, i32::from(record)),
        insn(MOV64_K, 3, 0, 0, 8 * cpus as i32),
        insn(CALL, 0, 0, 0, BPF_FUNC_SEQ_WRITE),
    ]);
    patch_to_end(&mut p, &to_end);
    p.extend(exit_zero());
    p
}

/// Each CPU's per-CPU offset, `cpus` of them (at most [`MAX_CPUS`]);
/// `None` where the program cannot run or its answer is not one offset per
/// CPU, each different.
pub fn offsets(btf: &Btf, cpus: usize) -> Option<Vec<u64>> {
    if !(1..=MAX_CPUS).contains(&cpus) {
        return None;
    }
    let at = |s: &str, m: &str| btf.member_offset(s, m).and_then(|o| i16::try_from(o).ok());
    let (task_pid, pptrs, attach) = (
        at("task_struct", "pid")?,
        at("bpf_array", "pptrs")?,
        btf.func_id("bpf_iter_task")?,
    );
    let map = percpu_array()
        .map_err(|e| crate::bpf::debug("per-CPU offsets", &e))
        .ok()?;
    let insns = program(task_pid, pptrs, map.as_raw_fd(), cpus);
    let bytes = Iterator::load(attach, &insns)
        .and_then(|iterator| iterator.read())
        .map_err(|e| crate::bpf::debug("per-CPU offsets", &e))
        .ok()?;
    parse(&bytes, cpus)
}

/// The offsets from the program's one record. Pure.
pub fn parse(bytes: &[u8], cpus: usize) -> Option<Vec<u64>> {
    let offsets: Vec<u64> = bytes
        .get(..8 * cpus)?
        .chunks_exact(8)
        .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
        .collect();
    let distinct: std::collections::HashSet<u64> = offsets.iter().copied().collect();
    (bytes.len() == 8 * cpus && distinct.len() == cpus).then_some(offsets)
}

/// A per-CPU array of one u64.
fn percpu_array() -> Result<OwnedFd, BpfError> {
    crate::bpf::create_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_writes_one_offset_per_cpu_from_its_stack() {
        let p = program(100, 200, 7, 4);
        let lookups = p
            .iter()
            .filter(|i| i.code == CALL && i.imm() == BPF_FUNC_MAP_LOOKUP_PERCPU_ELEM)
            .count();
        assert_eq!(lookups, 4);
        // seq_write's buffer and length: 4 offsets below the last slot.
        let write = p
            .iter()
            .position(|i| i.code == CALL && i.imm() == BPF_FUNC_SEQ_WRITE)
            .unwrap();
        assert_eq!(p[write - 2].imm(), i32::from(COPY_ADDRESS) - 32);
        assert_eq!(p[write - 1].imm(), 32);
        for (at, i) in p.iter().enumerate() {
            if i.code & 0x07 == 0x05 && i.code != CALL && i.code != EXIT {
                let to = at as i64 + 1 + i64::from(i.off);
                assert!((0..p.len() as i64).contains(&to), "jump at {at} to {to}");
            }
        }
    }

    #[test]
    fn offsets_are_one_per_cpu_and_distinct() {
        let bytes: Vec<u8> = [0x1000u64, 0x2000].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(parse(&bytes, 2), Some(vec![0x1000, 0x2000]));
        assert_eq!(parse(&bytes, 3), None);
        assert_eq!(parse(&bytes[..8], 2), None);
        let same: Vec<u8> = [5u64, 5].iter().flat_map(|v| v.to_ne_bytes()).collect();
        assert_eq!(parse(&same, 2), None);
    }
}
