//! Who sent which signal to whom, kept in the kernel while a command runs:
//! one small program on the raw tracepoint `signal_generate` (Linux 4.17)
//! that writes, per target process and signal number, the
//! last such signal queued — its `si_code`, the sending process, its user
//! and name, when, and whether it was the target's parent-death signal —
//! into an LRU hash map that afterlife reads by key
//! when one of its processes dies of a signal. No ring buffer: nothing
//! wakes afterlife up, whatever the rest of the machine signals.
//!
//! This is the cheap cousin of `deaths`' tracepoints (`crate::deaths`'s
//! aya-loaded object), for `run` and `wait`, which want only the sender:
//! the program is assembled here (about fifty instructions); the member
//! offsets it needs from the kernel's BTF (`task_struct.tgid`,
//! `kernel_siginfo.si_code`) are kept in `/run/afterlife/` for the rest of
//! the boot, as the iterators' are, so only the first load of a boot reads
//! the BTF. Loading it then costs one map, one program the verifier walks
//! in a few microseconds and one link. It is a raw tracepoint, not a
//! BTF-enabled one (`tp_btf`), although it reads BTF offsets: for a
//! `tp_btf` program the verifier looks the tracepoint's function up in
//! the kernel's BTF by name, a scan of every type that was half of the
//! load (0.2 ms of `run`'s start); a raw tracepoint's arguments are plain
//! numbers, and the program reads through `task` and `info` with
//! `bpf_probe_read_kernel`.
//!
//! Kernel facts relied on: `signal_generate(int sig, struct kernel_siginfo
//! *info, struct task_struct *task, int group, int result)`, called for
//! each signal the kernel is asked to queue with `current` the sender;
//! `result == TRACE_SIGNAL_DELIVERED` (0) when it was queued; `info` is
//! `SEND_SIG_NOINFO` (0, read as `SI_USER`) or `SEND_SIG_PRIV` (1, read as
//! `SI_KERNEL`) for the kernel's own sends; `task->tgid` and the TGID of
//! `bpf_get_current_pid_tgid` are the initial PID namespace's, so the
//! program is used only there. A signal sent to one thread of a process is
//! keyed by that process. A signal a process sends itself does not replace
//! one of the same number that another process sent it first: a handler
//! that cleans up and re-raises the signal it caught (bash does, for one)
//! still has the first sender named.
//!
//! For `wait`, a second program on `mark_victim(task, uid)` (6.8; before
//! that it took a PID, and the program is refused and left out) writes
//! `{tgid, 0}` when the OOM killer chooses a process (no signal has the
//! number 0), so that its SIGKILL is named as the OOM killer's.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::bpf::asm::*;
use crate::bpf::{BPF_TRACE_RAW_TP, BpfError, MemberOffsets, ProgKind, load_program, put_u32, put_u64};
use crate::sys::linux::bpf::{bpf, bpf_fd};

const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_MAP_TYPE_LRU_HASH: u32 = 9;

/// The cache's name for the numbers this program takes from BTF (not the
/// name of the earlier layout, which also kept the tracepoint's type ID:
/// two builds on one machine would each throw the other's away).
const CACHE: &str = "signal-senders-leader";
/// The raw tracepoint the sender program is attached to.
const TRACEPOINT: &std::ffi::CStr = c"signal_generate";
/// The OOM program's BTF-enabled tracepoint, by its `btf_trace_*` typedef.
const OOM_TRACEPOINT: &str = "btf_trace_mark_victim";

/// Entries the map keeps: the latest signal of each number for this many
/// target processes (older ones are evicted first), when every process's
/// signals are kept ([`Targets::Everyone`]).
const ENTRIES: u32 = 4096;
/// The same for [`Targets::FamilyOf`]: a map of 4,096 entries took 0.1 ms
/// to create (the kernel allocates every entry at once), a tenth of what
/// naming the sender adds to a `run`.
const FAMILY_ENTRIES: u32 = 1024;
/// Key: `{tgid u32, signo u32}`.
const KEY: usize = 8;
/// Value: `{time_ns u64, code i32, sender tgid u32, sender uid u32, flags
/// u32, comm [u8; 16]}`.
const VALUE: usize = 40;

/// Signals whose default action is to be ignored (`SIGCHLD`, `SIGCONT`,
/// `SIGURG`, `SIGWINCH`): they kill no one, and SIGCHLD alone would keep
/// the map busy.
const HARMLESS: [i32; 4] = [17, 18, 23, 28];
/// `bpf_map_update_elem`'s flags: replace or add; add only.
const BPF_ANY: i32 = 0;
const BPF_NOEXIST: i32 = 1;
/// `SI_KERNEL`.
const SI_KERNEL: i32 = 0x80;
/// The value's flag: the signal is the target's `PR_SET_PDEATHSIG`, sent
/// by the kernel as its parent exited (as `deaths`' program flags it).
const PARENT_DEATH: i32 = 1;
/// `PF_EXITING` in `task_struct.flags`.
const PF_EXITING: i32 = 0x4;

member_offsets! {
    /// The member offsets the program reads.
    pub struct Offsets {
        /// `task_struct.tgid`.
        task_tgid: ("task_struct", "tgid"),
        /// `kernel_siginfo.si_code`.
        info_code: ("kernel_siginfo", "si_code"),
        /// `task_struct.real_parent`.
        task_parent: ("task_struct", "real_parent"),
        /// `task_struct.flags`.
        task_flags: ("task_struct", "flags"),
        /// `task_struct.pdeath_signal`.
        task_pdeath: ("task_struct", "pdeath_signal"),
        /// `task_struct.group_leader`.
        task_leader: ("task_struct", "group_leader"),
        /// `task_struct.comm`.
        task_comm: ("task_struct", "comm"),
    }
}

/// Whose signals the program keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Every process's (`wait` watches processes of any parent).
    Everyone,
    /// Those of the children and grandchildren of this process (by its
    /// TGID): `run`'s command is afterlife's child, or its keeper's. The
    /// rest of the machine's signals then neither cost a map update nor
    /// evict the command's record.
    FamilyOf(u32),
}

impl Targets {
    fn entries(self) -> u32 {
        match self {
            Targets::Everyone => ENTRIES,
            Targets::FamilyOf(_) => FAMILY_ENTRIES,
        }
    }
}

/// The program, with the map's fd: for a signal queued (`result == 0`)
/// that is not harmless, to a process of `targets`, `signals[{task->tgid,
/// sig}] = {now, code, current's TGID, current's UID, flags, current's
/// comm}`, unless the process sent it to itself and an entry is there
/// already. Pure.
pub fn program(o: &Offsets, map: i32, targets: Targets) -> Vec<Insn> {
    // Registers: r6 ctx (u64 args: sig, info, task, group, result), r7 sig,
    // r8 task, r9 info; the key at r10-8, the value at r10-48.
    let mut to_out = Vec::new();
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0),
        insn(LDX_DW, 2, 6, 32, 0), // result
    ];
    to_out.push(p.len());
    p.push(insn(JNE_K, 2, 0, 0, 0));
    p.push(insn(LDX_DW, 7, 6, 0, 0)); // sig
    for signo in HARMLESS {
        to_out.push(p.len());
        p.push(insn(JEQ_K, 7, 0, 0, signo));
    }
    p.push(insn(LDX_DW, 8, 6, 16, 0)); // task
    to_out.push(p.len());
    p.push(insn(JEQ_K, 8, 0, 0, 0));
    // The key's TGID: task->tgid, read with a helper (a raw tracepoint's
    // arguments are numbers to the verifier); nothing is kept if it fails.
    p.extend(read_kernel(-8, 4, 8, o.task_tgid));
    to_out.push(p.len());
    p.push(insn(JNE_K, 0, 0, 0, 0));
    if let Targets::FamilyOf(tgid) = targets {
        let (filter, outs) = family_filter(o, tgid);
        to_out.extend(outs.iter().map(|at| p.len() + at));
        p.extend(filter);
    }
    p.extend([
        insn(STX_W, 10, 7, -4, 0),
        insn(CALL, 0, 0, 0, BPF_FUNC_KTIME_GET_NS),
        insn(STX_DW, 10, 0, -48, 0),
        // The code: SI_USER for no info, SI_KERNEL for the kernel's own,
        // else info->si_code (read with a helper: the verifier takes
        // `info` for a number, as it may encode one).
        insn(LDX_DW, 9, 6, 8, 0),
        insn(ST_W, 10, 0, -40, 0),
        insn(JEQ_K, 9, 0, 8, 0),
        insn(ST_W, 10, 0, -40, SI_KERNEL),
        insn(JEQ_K, 9, 0, 6, 1),
        insn(MOV64_X, 1, 10, 0, 0),
        insn(ADD64_K, 1, 0, 0, -40),
        insn(MOV64_K, 2, 0, 0, 4),
        insn(MOV64_X, 3, 9, 0, 0),
        insn(ADD64_K, 3, 0, 0, i32::from(o.info_code)),
        insn(CALL, 0, 0, 0, BPF_FUNC_PROBE_READ_KERNEL),
        insn(CALL, 0, 0, 0, BPF_FUNC_GET_CURRENT_PID_TGID),
        insn(RSH64_K, 0, 0, 0, 32),
        insn(STX_W, 10, 0, -36, 0),
        insn(CALL, 0, 0, 0, BPF_FUNC_GET_CURRENT_UID_GID),
        insn(STX_W, 10, 0, -32, 0),
        insn(ST_W, 10, 0, -28, 0),
        insn(MOV64_X, 1, 10, 0, 0),
        insn(ADD64_K, 1, 0, 0, -24),
        insn(MOV64_K, 2, 0, 0, 16),
        insn(CALL, 0, 0, 0, BPF_FUNC_GET_CURRENT_COMM),
    ]);
    p.extend(leader_name(o));
    p.extend(parent_death_flag(o));
    p.extend([
        // A signal the process sends itself does not replace one another
        // sent it (a handler that re-raises what it caught).
        insn(MOV64_K, 4, 0, 0, BPF_ANY),
        insn(LDX_W, 1, 10, -8, 0),
        insn(LDX_W, 2, 10, -36, 0),
        insn(JNE_X, 1, 2, 1, 0),
        insn(MOV64_K, 4, 0, 0, BPF_NOEXIST),
    ]);
    p.extend(update_map(map));
    patch_to_end(&mut p, &to_out);
    p.extend(exit_zero());
    p
}

/// Replaces the sender's name (r10-24, the current thread's `comm`) with
/// its process's, `current->group_leader->comm`, as the sender's PID is
/// its process's: a thread's own name may be a runtime's worker or a test
/// harness's test. Where the leader cannot be read the thread's name
/// stays. The pointer is read into r10-64. Uses r0 to r5. Pure.
fn leader_name(o: &Offsets) -> Vec<Insn> {
    let mut p = vec![insn(CALL, 0, 0, 0, BPF_FUNC_GET_CURRENT_TASK)];
    p.extend(read_kernel(-64, 8, 0, o.task_leader));
    p.extend([
        insn(JNE_K, 0, 0, 6, 0),
        insn(LDX_DW, 3, 10, -64, 0),
        insn(ADD64_K, 3, 0, 0, i32::from(o.task_comm)),
        insn(MOV64_X, 1, 10, 0, 0),
        insn(ADD64_K, 1, 0, 0, -24),
        insn(MOV64_K, 2, 0, 0, 16),
        insn(CALL, 0, 0, 0, BPF_FUNC_PROBE_READ_KERNEL_STR),
    ]);
    p
}

/// Sets the value's flags (r10-28) to [`PARENT_DEATH`] where the signal is
/// the target's parent-death signal: sent with no info (r9 = 0, what
/// `forget_original_parent()` passes) by a task that is exiting, and the
/// number (r7) the target (r8) asked for with `PR_SET_PDEATHSIG`. An
/// exiting task makes no `kill()` of its own; the kernel's other signals
/// on exit (SIGHUP to an orphaned group, a terminal's session) carry
/// `SEND_SIG_PRIV`. Each read into r10-64; a failed read leaves the flags
/// at 0. Uses r0 to r5. Pure.
fn parent_death_flag(o: &Offsets) -> Vec<Insn> {
    let mut skips = Vec::new();
    let mut p = Vec::new();
    skips.push(p.len());
    p.push(insn(JNE_K, 9, 0, 0, 0));
    p.push(insn(CALL, 0, 0, 0, BPF_FUNC_GET_CURRENT_TASK));
    p.extend(read_kernel(-64, 4, 0, o.task_flags));
    skips.push(p.len());
    p.push(insn(JNE_K, 0, 0, 0, 0));
    p.push(insn(LDX_W, 1, 10, -64, 0));
    p.push(insn(AND64_K, 1, 0, 0, PF_EXITING));
    skips.push(p.len());
    p.push(insn(JEQ_K, 1, 0, 0, 0));
    p.extend(read_kernel(-64, 4, 8, o.task_pdeath));
    skips.push(p.len());
    p.push(insn(JNE_K, 0, 0, 0, 0));
    p.push(insn(LDX_W, 1, 10, -64, 0));
    skips.push(p.len());
    p.push(insn(JNE_X, 1, 7, 0, 0));
    p.push(insn(ST_W, 10, 0, -28, PARENT_DEATH));
    patch_to_end(&mut p, &skips);
    p
}

/// The check that `task` (r8) is a child or grandchild of process `tgid`,
/// through `real_parent` (a thread's is its process's), each pointer read
/// with a helper into r10-56 and each TGID into r10-60; with the positions
/// of its jumps to the end, where the signal is not kept (a failed read
/// included). It uses r1-r3 and r9 (loaded again after it). Pure.
fn family_filter(o: &Offsets, tgid: u32) -> (Vec<Insn>, Vec<usize>) {
    let mut p = Vec::new();
    let mut outs = Vec::new();
    // One generation up from r8 (then r9): its parent into r9, the
    // parent's TGID into r2.
    let up = |p: &mut Vec<Insn>, outs: &mut Vec<usize>, from: u8| {
        p.extend(read_kernel(-56, 8, from, o.task_parent));
        outs.push(p.len());
        p.push(insn(JNE_K, 0, 0, 0, 0));
        p.push(insn(LDX_DW, 9, 10, -56, 0));
        p.extend(read_kernel(-60, 4, 9, o.task_tgid));
        outs.push(p.len());
        p.push(insn(JNE_K, 0, 0, 0, 0));
        p.push(insn(LDX_W, 2, 10, -60, 0));
    };
    up(&mut p, &mut outs, 8);
    let child = p.len();
    p.push(insn(JEQ_K, 2, 0, 0, tgid as i32));
    up(&mut p, &mut outs, 9);
    outs.push(p.len());
    p.push(insn(JNE_K, 2, 0, 0, tgid as i32));
    // A child: on to the entry, past the grandparent's check.
    p[child].off = (p.len() - child - 1) as i16;
    (p, outs)
}

/// The `mark_victim` program: the OOM killer chose `task`;
/// `signals[{task->tgid, 0}] = {now, 0...}`. Pure.
pub fn oom_program(o: &Offsets, map: i32) -> Vec<Insn> {
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0),
        insn(LDX_DW, 8, 6, 0, 0), // task
        insn(JEQ_K, 8, 0, 0, 0),  // patched: to out
        insn(LDX_W, 2, 8, o.task_tgid, 0),
        insn(STX_W, 10, 2, -8, 0),
        insn(ST_W, 10, 0, -4, 0),
        insn(CALL, 0, 0, 0, BPF_FUNC_KTIME_GET_NS),
        insn(STX_DW, 10, 0, -48, 0),
    ];
    for at in [-40, -32, -24, -16] {
        p.push(insn(ST_DW, 10, 0, at, 0));
    }
    p.push(insn(MOV64_K, 4, 0, 0, BPF_ANY));
    p.extend(update_map(map));
    patch_to_end(&mut p, &[2]);
    p.extend(exit_zero());
    p
}

/// `bpf_map_update_elem(map, r10 - 8, r10 - 48, r4)`.
fn update_map(map: i32) -> [Insn; 7] {
    [
        insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map),
        insn(0, 0, 0, 0, 0),
        insn(MOV64_X, 2, 10, 0, 0),
        insn(ADD64_K, 2, 0, 0, -(KEY as i32)),
        insn(MOV64_X, 3, 10, 0, 0),
        insn(ADD64_K, 3, 0, 0, -48),
        insn(CALL, 0, 0, 0, BPF_FUNC_MAP_UPDATE_ELEM),
    ]
}

/// A signal as the program kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedSignal {
    /// When it was queued, `CLOCK_MONOTONIC` ns.
    pub time_ns: u64,
    /// `si_code`.
    pub code: i32,
    /// The process that sent it (`current` at the tracepoint).
    pub sender_pid: i32,
    /// Its real user ID.
    pub sender_uid: u32,
    /// Its name (`comm`).
    pub sender_name: String,
    /// The signal is the target's `PR_SET_PDEATHSIG`, sent by the kernel
    /// as the sender, its parent, exited.
    pub parent_death: bool,
}

/// Decodes a map value. Pure.
pub fn parse_value(v: &[u8; VALUE]) -> LoggedSignal {
    let u32_at = |at: usize| u32::from_ne_bytes([v[at], v[at + 1], v[at + 2], v[at + 3]]);
    let comm = &v[24..40];
    let name = &comm[..comm.iter().position(|&b| b == 0).unwrap_or(comm.len())];
    LoggedSignal {
        time_ns: u64::from_ne_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]),
        code: u32_at(8) as i32,
        sender_pid: u32_at(12) as i32,
        sender_uid: u32_at(16),
        sender_name: String::from_utf8_lossy(name).into_owned(),
        parent_death: u32_at(20) & PARENT_DEATH as u32 != 0,
    }
}

/// The numbers the programs take from BTF: the OOM tracepoint's type ID
/// and the member offsets, kept in the cache as `[mark_victim (0: none),
/// offsets...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Numbers {
    oom: u32,
    offsets: Offsets,
}

impl Numbers {
    fn from_btf(btf: &crate::bpf::btf::Btf) -> Result<Numbers, String> {
        let offsets = Offsets::from_btf(btf).ok_or("the kernel's BTF lacks a member the program reads")?;
        let oom = btf.typedef_id(OOM_TRACEPOINT).unwrap_or(0);
        Ok(Numbers { oom, offsets })
    }

    fn encode(&self) -> Vec<i64> {
        let mut numbers = vec![i64::from(self.oom)];
        numbers.extend(self.offsets.encode());
        numbers
    }

    fn decode(numbers: &[i64]) -> Option<Numbers> {
        let [oom, rest @ ..] = numbers else {
            return None;
        };
        Some(Numbers {
            oom: u32::try_from(*oom).ok()?,
            offsets: Offsets::decode(rest)?,
        })
    }
}

/// The programs, attached, and their map.
pub struct SignalLog {
    map: OwnedFd,
    /// Detach the programs when dropped.
    _links: Vec<OwnedFd>,
}

impl SignalLog {
    /// Loads and attaches the `signal_generate` program, and with `oom`
    /// the `mark_victim` one where the kernel has it in the form read
    /// (6.8); the reason where the first cannot run here (not root,
    /// another PID namespace, no BTF, an older kernel).
    pub fn open(oom: bool, targets: Targets) -> Result<SignalLog, String> {
        SignalLog::open_or_why(oom, targets).inspect_err(|why| crate::bpf::debug(CACHE, why))
    }

    fn open_or_why(oom: bool, targets: Targets) -> Result<SignalLog, String> {
        if !crate::bpf::may_trace() {
            return Err("needs CAP_BPF and CAP_PERFMON (or root) in the initial PID namespace".to_string());
        }
        if let Some(numbers) = crate::bpf::cache::load(CACHE) {
            if let Some(numbers) = Numbers::decode(&numbers) {
                match SignalLog::attach(&numbers, oom, targets) {
                    Ok(log) => return Ok(log),
                    Err(e) => crate::bpf::debug(CACHE, &e),
                }
            }
            crate::bpf::cache::remove(CACHE);
        }
        let btf = crate::bpf::btf::Btf::vmlinux().ok_or("the kernel's BTF cannot be read")?;
        let numbers = Numbers::from_btf(&btf)?;
        drop(btf);
        let log = SignalLog::attach(&numbers, oom, targets).map_err(|e| e.to_string())?;
        crate::bpf::cache::store(CACHE, &numbers.encode());
        Ok(log)
    }

    fn attach(numbers: &Numbers, oom: bool, targets: Targets) -> Result<SignalLog, BpfError> {
        let call = |command: &'static str| {
            move |source| BpfError::Call {
                command,
                source,
                log: None,
            }
        };
        let map = crate::bpf::create_map(BPF_MAP_TYPE_LRU_HASH, KEY as u32, VALUE as u32, targets.entries())?;
        let attach = |name: Option<&std::ffi::CStr>, prog: OwnedFd| {
            let mut attr = [0u8; 16];
            put_u64(&mut attr, 0, name.map_or(0, |n| n.as_ptr() as u64));
            put_u32(&mut attr, 8, prog.as_raw_fd() as u32);
            // SAFETY: the name pointer is null (a BTF-enabled tracepoint is
            // named by the program's attach type ID) or a C string borrowed
            // for the call; no other pointer.
            unsafe { bpf_fd(BPF_RAW_TRACEPOINT_OPEN, &mut attr) }.map_err(call("BPF_RAW_TRACEPOINT_OPEN"))
        };
        let insns = program(&numbers.offsets, map.as_raw_fd(), targets);
        let senders = load_program(ProgKind::RawTracepoint, &insns)?;
        let mut links = vec![attach(Some(TRACEPOINT), senders)?];
        if oom && numbers.oom != 0 {
            // Before 6.8 mark_victim took a PID: the verifier refuses the
            // program, and OOM kills read as the kernel's SIGKILL.
            let kind = ProgKind::Tracing {
                attach_type: BPF_TRACE_RAW_TP,
                btf_id: numbers.oom,
            };
            match load_program(kind, &oom_program(&numbers.offsets, map.as_raw_fd())).and_then(|p| attach(None, p)) {
                Ok(l) => links.push(l),
                Err(e) => crate::bpf::debug("signals (mark_victim)", &e),
            }
        }
        Ok(SignalLog { map, _links: links })
    }

    /// Whether the OOM killer chose process `pid` since the program was
    /// attached (`mark_victim` seen; only with `oom`).
    pub fn oom_victim(&self, pid: i32) -> bool {
        self.get(pid, 0).is_some()
    }

    /// The last signal `signo` queued for process `pid` since the program
    /// was attached, if the map still holds it.
    pub fn get(&self, pid: i32, signo: i32) -> Option<LoggedSignal> {
        let mut key = [0u8; KEY];
        key[..4].copy_from_slice(&pid.to_ne_bytes());
        key[4..].copy_from_slice(&signo.to_ne_bytes());
        let mut value = [0u8; VALUE];
        let mut attr = [0u8; 32];
        put_u32(&mut attr, 0, self.map.as_raw_fd() as u32);
        put_u64(&mut attr, 8, key.as_ptr() as u64);
        put_u64(&mut attr, 16, value.as_mut_ptr() as u64);
        // SAFETY: the key and value pointers are to `key` and `value`,
        // live for the call and of the map's key and value sizes.
        unsafe { bpf(BPF_MAP_LOOKUP_ELEM, &mut attr) }.ok()?;
        Some(parse_value(&value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offsets as a kernel's BTF might give them.
    fn offsets() -> Offsets {
        Offsets {
            task_tgid: 2500,
            info_code: 8,
            task_parent: 2480,
            task_flags: 44,
            task_pdeath: 2512,
            task_leader: 2456,
            task_comm: 3000,
        }
    }

    #[test]
    fn jumps_stay_inside_and_offsets_round_trip() {
        let o = offsets();
        assert_eq!(Offsets::decode(&o.encode()), Some(o));
        let p = program(&o, 7, Targets::Everyone);
        let out = p.len() - 2;
        for (at, i) in p.iter().enumerate() {
            if matches!(i.code, JEQ_K | JNE_K) {
                let target = at as i16 + 1 + i.off;
                assert!(target > at as i16 && target as usize <= out, "jump at {at}");
            }
        }
        // Both kernel-code branches land just after the read of si_code.
        // The first helper read is task->tgid's, the second si_code's.
        let read = p
            .iter()
            .enumerate()
            .filter(|(_, i)| i.code == CALL && i.imm() == BPF_FUNC_PROBE_READ_KERNEL)
            .map(|(at, _)| at)
            .nth(1)
            .expect("the read of si_code");
        let first = p.iter().position(|i| i.code == ST_W && i.off == -40).expect("SI_USER");
        assert_eq!(first + 2 + p[first + 1].off as usize, read + 1);
        assert_eq!(first + 4 + p[first + 3].off as usize, read + 1);
        // Only a signal to itself is added without replacing.
        let noexist = p
            .iter()
            .position(|i| i.code == MOV64_K && i.dst() == 4 && i.imm() == BPF_NOEXIST)
            .expect("BPF_NOEXIST");
        assert_eq!(p[noexist - 1].code, JNE_X);
        assert_eq!(p[noexist - 1].off, 1);
        // The map's fd in the two-slot load.
        assert!(p.iter().any(|i| i.code == LD_IMM64 && i.off == 0));
        assert_eq!(p[out].code, MOV64_K);
        assert_eq!(p[out + 1].code, EXIT);
    }

    #[test]
    fn a_family_program_keeps_only_a_child_or_grandchild_of_its_process() {
        let o = offsets();
        let everyone = program(&o, 7, Targets::Everyone);
        let family = program(&o, 7, Targets::FamilyOf(4242));
        let out = family.len() - 2;
        for (at, i) in family.iter().enumerate() {
            if matches!(i.code, JEQ_K | JNE_K | JNE_X) {
                let target = at as i16 + 1 + i.off;
                assert!(target > at as i16 && target as usize <= out, "jump at {at}");
            }
        }
        // The filter sits between the read of task->tgid and the entry.
        let (filter, outs) = family_filter(&o, 4242);
        assert_eq!(family.len(), everyone.len() + filter.len());
        let start = family
            .windows(filter.len())
            .position(|w| {
                w.iter()
                    .zip(&filter)
                    .all(|(a, b)| a.code == b.code && a.imm() == b.imm())
            })
            .expect("the filter");
        // A parent with that TGID jumps past the grandparent's check; the
        // grandparent's must match or the signal is not kept.
        let child = filter.iter().position(|i| i.code == JEQ_K).expect("the parent's check");
        assert_eq!(filter[child].imm(), 4242);
        assert_eq!(child + 1 + filter[child].off as usize, filter.len());
        let last = filter.len() - 1;
        assert_eq!((filter[last].code, filter[last].imm()), (JNE_K, 4242));
        assert!(outs.contains(&last));
        for at in outs {
            assert_eq!(start + at + 1 + family[start + at].off as usize, out, "exit at {at}");
        }
        // Two generations read, each a pointer and a TGID.
        let reads = filter
            .iter()
            .filter(|i| i.code == CALL && i.imm() == BPF_FUNC_PROBE_READ_KERNEL)
            .count();
        assert_eq!(reads, 4);
        assert_eq!(Targets::FamilyOf(1).entries(), FAMILY_ENTRIES);
        assert_eq!(Targets::Everyone.entries(), ENTRIES);
    }

    #[test]
    fn the_oom_program_keys_by_signal_zero_and_numbers_round_trip() {
        let o = offsets();
        let p = oom_program(&o, 7);
        let out = p.len() - 2;
        assert_eq!(2 + 1 + p[2].off as usize, out);
        assert!(p.iter().any(|i| i.code == ST_W && i.off == -4 && i.imm() == 0));
        let numbers = Numbers { oom: 9876, offsets: o };
        assert_eq!(Numbers::decode(&numbers.encode()), Some(numbers));
        // The layout before the parent's offset (kept under another name).
        assert_eq!(Numbers::decode(&[9876, 2500, 8]), None);
        assert_eq!(Numbers::decode(&[9876, 2500, 8, 2480]), None);
        assert_eq!(Numbers::decode(&[9876, 2500]), None);
    }

    #[test]
    fn the_parent_death_flag_needs_no_info_an_exiting_sender_and_the_asked_number() {
        let o = offsets();
        let p = parent_death_flag(&o);
        let end = p.len();
        // Every check jumps past the store, to the end of the block.
        let jumps: Vec<usize> = p
            .iter()
            .enumerate()
            .filter(|(_, i)| matches!(i.code, JEQ_K | JNE_K | JNE_X))
            .map(|(at, i)| at + 1 + i.off as usize)
            .collect();
        assert_eq!(jumps, vec![end; 5]);
        // Info first (r9 = 0), then current's flags, then the number asked
        // for against the signal (r7); the store comes last.
        assert_eq!((p[0].code, p[0].dst(), p[0].imm()), (JNE_K, 9, 0));
        assert!(p.iter().any(|i| i.code == AND64_K && i.imm() == PF_EXITING));
        let offsets: Vec<i32> = p
            .iter()
            .filter(|i| i.code == ADD64_K && i.dst() == 3)
            .map(|i| i.imm())
            .collect();
        assert_eq!(offsets, vec![44, 2512]);
        let compare = &p[end - 2];
        assert_eq!((compare.code, compare.dst(), compare.src()), (JNE_X, 1, 7));
        let store = &p[end - 1];
        assert_eq!((store.code, store.off, store.imm()), (ST_W, -28, PARENT_DEATH));
        // It sits in the program after the sender's name is read.
        let whole = program(&o, 7, Targets::Everyone);
        let comm = whole
            .iter()
            .position(|i| i.code == CALL && i.imm() == BPF_FUNC_GET_CURRENT_COMM)
            .expect("comm");
        let after = comm + 1 + leader_name(&o).len();
        assert_eq!(whole[after].code, p[0].code);
        assert_eq!(whole[after + end - 1].off, store.off);
    }

    #[test]
    fn values_parse() {
        let mut v = [0u8; VALUE];
        v[..8].copy_from_slice(&123_456_789u64.to_ne_bytes());
        v[8..12].copy_from_slice(&0i32.to_ne_bytes());
        v[12..16].copy_from_slice(&4321u32.to_ne_bytes());
        v[16..20].copy_from_slice(&1000u32.to_ne_bytes());
        v[24..26].copy_from_slice(b"sh");
        let logged = LoggedSignal {
            time_ns: 123_456_789,
            code: 0,
            sender_pid: 4321,
            sender_uid: 1000,
            sender_name: "sh".into(),
            parent_death: false,
        };
        assert_eq!(parse_value(&v), logged);
        v[20..24].copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(
            parse_value(&v),
            LoggedSignal {
                parent_death: true,
                ..logged
            }
        );
    }
}
