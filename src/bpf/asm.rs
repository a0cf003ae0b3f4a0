//! The few BPF instructions the iterators use (Documentation/bpf/standard/
//! instruction-set.rst), and a way to patch forward jumps to one label.

/// One BPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    regs: u8,
    /// Offset: of a load or store, or of a jump.
    pub off: i16,
    imm: i32,
}

impl Insn {
    /// The destination register.
    pub fn dst(&self) -> u8 {
        self.regs & 0x0f
    }

    /// The source register.
    pub fn src(&self) -> u8 {
        self.regs >> 4
    }

    /// The immediate.
    pub fn imm(&self) -> i32 {
        self.imm
    }
}

/// An instruction from its parts.
pub fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

/// `dst = *(u64 *)(src + off)`.
pub const LDX_DW: u8 = 0x79;
/// `dst = *(u32 *)(src + off)`.
pub const LDX_W: u8 = 0x61;
/// `dst = *(u16 *)(src + off)`.
pub const LDX_H: u8 = 0x69;
/// `*(u64 *)(dst + off) = src`.
pub const STX_DW: u8 = 0x7b;
/// `*(u32 *)(dst + off) = src`.
pub const STX_W: u8 = 0x63;
/// `*(u64 *)(dst + off) = imm`.
pub const ST_DW: u8 = 0x7a;
/// `*(u32 *)(dst + off) = imm`.
pub const ST_W: u8 = 0x62;
/// `dst = imm64`, over two instructions; with source register
/// [`PSEUDO_MAP_FD`], `imm` is a map's file descriptor.
pub const LD_IMM64: u8 = 0x18;
/// The source register of [`LD_IMM64`] that makes `imm` a map fd.
pub const PSEUDO_MAP_FD: u8 = 1;
/// `dst >>= imm` (logical).
pub const RSH64_K: u8 = 0x77;
/// `dst <<= imm`.
pub const LSH64_K: u8 = 0x67;
/// `dst += src`.
pub const ADD64_X: u8 = 0x0f;
/// `dst -= src`.
pub const SUB64_X: u8 = 0x1f;
/// `dst *= src`.
pub const MUL64_X: u8 = 0x2f;
/// `dst ^= src`.
pub const XOR64_X: u8 = 0xaf;
/// `dst &= src`.
pub const AND64_X: u8 = 0x5f;
/// `dst = src`.
pub const MOV64_X: u8 = 0xbf;
/// `dst = imm`.
pub const MOV64_K: u8 = 0xb7;
/// `dst += imm`.
pub const ADD64_K: u8 = 0x07;
/// `if dst == imm goto +off`.
pub const JEQ_K: u8 = 0x15;
/// `if dst != imm goto +off`.
pub const JNE_K: u8 = 0x55;
/// `if dst != src goto +off`.
pub const JNE_X: u8 = 0x5d;
/// `if dst > imm goto +off` (unsigned).
pub const JGT_K: u8 = 0x25;
/// `if dst >= src goto +off` (unsigned).
pub const JGE_X: u8 = 0x3d;
/// `goto +off`.
pub const JA: u8 = 0x05;
/// `dst &= imm`.
pub const AND64_K: u8 = 0x57;
/// Calls helper `imm`.
pub const CALL: u8 = 0x85;
/// Returns r0.
pub const EXIT: u8 = 0x95;

/// `bpf_seq_write(seq, data, len)`.
pub const BPF_FUNC_SEQ_WRITE: i32 = 127;
/// `bpf_map_update_elem(map, key, value, flags)`.
pub const BPF_FUNC_MAP_UPDATE_ELEM: i32 = 2;
/// `bpf_ktime_get_ns()`: `CLOCK_MONOTONIC`.
pub const BPF_FUNC_KTIME_GET_NS: i32 = 5;
/// `bpf_get_current_pid_tgid()`: the TGID in the upper half.
pub const BPF_FUNC_GET_CURRENT_PID_TGID: i32 = 14;
/// `bpf_get_current_uid_gid()`: the UID in the lower half.
pub const BPF_FUNC_GET_CURRENT_UID_GID: i32 = 15;
/// `bpf_get_current_task()`: `current`, as a number.
pub const BPF_FUNC_GET_CURRENT_TASK: i32 = 35;
/// `bpf_get_current_comm(buf, size)`.
pub const BPF_FUNC_GET_CURRENT_COMM: i32 = 16;
/// `bpf_probe_read_kernel(dst, size, src)`.
pub const BPF_FUNC_PROBE_READ_KERNEL: i32 = 113;
/// `bpf_probe_read_kernel_str(dst, size, src)`.
pub const BPF_FUNC_PROBE_READ_KERNEL_STR: i32 = 115;

/// Points each jump at index `jumps` to the end of `program` (where the
/// caller appends `r0 = 0; exit`).
pub fn patch_to_end(program: &mut [Insn], jumps: &[usize]) {
    let end = program.len() as i16;
    for &at in jumps {
        program[at].off = end - at as i16 - 1;
    }
}

/// `dst = value`, a 64-bit immediate (two instructions).
pub fn load_imm64(dst: u8, value: u64) -> [Insn; 2] {
    [
        insn(LD_IMM64, dst, 0, 0, value as u32 as i32),
        insn(0, 0, 0, 0, (value >> 32) as u32 as i32),
    ]
}

/// `bpf_probe_read_kernel(r10 + dst, size, src + offset)`: a read through
/// a kernel pointer with a helper, not a load. The verifier walks a load of
/// a pointer member from a trusted pointer by looking up
/// `STRUCT__safe_trusted`, `__safe_trusted_or_null` and `__safe_rcu` in the
/// kernel's BTF, each a scan of every type by name (`btf_find_by_name_kind`):
/// about 0.2 ms each, 2-3 ms for a program that walks four pointers. A
/// helper's source is a plain number to it. Clobbers r1 to r5.
pub fn read_kernel(dst: i16, size: i32, src: u8, offset: i16) -> [Insn; 6] {
    [
        insn(MOV64_X, 3, src, 0, 0),
        insn(ADD64_K, 3, 0, 0, i32::from(offset)),
        insn(MOV64_X, 1, 10, 0, 0),
        insn(ADD64_K, 1, 0, 0, i32::from(dst)),
        insn(MOV64_K, 2, 0, 0, size),
        insn(CALL, 0, 0, 0, BPF_FUNC_PROBE_READ_KERNEL),
    ]
}

/// `r0 = 0; exit`.
pub fn exit_zero() -> [Insn; 2] {
    [insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]
}

/// `bpf_seq_write(ctx->meta->seq, r10 - len, len)`, with the context in
/// `ctx` (a register other than r1 to r5).
pub fn seq_write_stack(ctx: u8, len: i32) -> [Insn; 6] {
    [
        insn(LDX_DW, 1, ctx, 0, 0), // ctx->meta
        insn(LDX_DW, 1, 1, 0, 0),   // meta->seq
        insn(MOV64_X, 2, 10, 0, 0),
        insn(ADD64_K, 2, 0, 0, -len),
        insn(MOV64_K, 3, 0, 0, len),
        insn(CALL, 0, 0, 0, BPF_FUNC_SEQ_WRITE),
    ]
}
