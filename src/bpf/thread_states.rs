//! The scheduler state of every thread, as the kernel holds it: a BPF
//! `task` iterator (Linux 5.8) that writes `{tid, tgid, task->__state}` for
//! each thread, read only when a thread of the process `why` looks at
//! sleeps in D.
//!
//! /proc shows one letter for the state, and D for both an uninterruptible
//! sleep (`TASK_UNINTERRUPTIBLE`) and a killable one (`TASK_KILLABLE`,
//! which adds `TASK_WAKEKILL`): a fatal signal wakes the second at once
//! and never the first. Only `__state` tells them apart.
//!
//! Kernel facts relied on: `struct bpf_iter__task { meta; task; }`; the
//! iterator visits every thread; `task->pid` is the thread's ID and
//! `task->tgid` its process's, in the initial PID namespace;
//! `task->__state` (Linux 5.14) is `TASK_UNINTERRUPTIBLE` (0x2) in D, with
//! `TASK_WAKEKILL` (0x100) when the sleep is killable and `TASK_NOLOAD`
//! (0x400) for an idle kernel thread; a thread running its system call has
//! state `TASK_RUNNING` (0).

use std::collections::HashMap;

use crate::bpf::asm::*;

/// The record the program writes: `{tid u32, tgid u32, state u32, 0 u32}`.
const RECORD: usize = 16;
/// `TASK_WAKEKILL` of `task->__state`.
const TASK_WAKEKILL: u32 = 0x100;
/// `TASK_UNINTERRUPTIBLE`.
const TASK_UNINTERRUPTIBLE: u32 = 0x2;

member_offsets! {
    /// The member offsets the program reads.
    pub struct Offsets {
        /// `task_struct.pid`.
        task_pid: ("task_struct", "pid"),
        /// `task_struct.tgid`.
        task_tgid: ("task_struct", "tgid"),
        /// `task_struct.__state`.
        task_state: ("task_struct", "__state"),
    }
}

/// The jump to the program's end.
const TO_OUT: [usize; 1] = [2];

/// The program: for each thread, write `{pid, tgid, __state, 0}`. Pure.
pub fn program(o: &Offsets) -> Vec<Insn> {
    // Registers: r6 ctx, r8 task; the record at r10-16.
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0),
        insn(LDX_DW, 8, 6, 8, 0), // ctx->task
        insn(JEQ_K, 8, 0, 0, 0),  // patched: to out
        insn(LDX_W, 2, 8, o.task_pid, 0),
        insn(STX_W, 10, 2, -16, 0),
        insn(LDX_W, 2, 8, o.task_tgid, 0),
        insn(STX_W, 10, 2, -12, 0),
        insn(LDX_W, 2, 8, o.task_state, 0),
        insn(STX_W, 10, 2, -8, 0),
        insn(MOV64_K, 2, 0, 0, 0),
        insn(STX_W, 10, 2, -4, 0),
    ];
    p.extend(seq_write_stack(6, RECORD as i32));
    patch_to_end(&mut p, &TO_OUT);
    p.extend(exit_zero());
    p
}

/// Parses the records: `(tid, tgid, state)` each. Pure.
pub fn parse_records(bytes: &[u8]) -> Vec<(i32, i32, u32)> {
    bytes
        .chunks_exact(RECORD)
        .map(|r| {
            let u32_at = |at: usize| u32::from_ne_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
            (u32_at(0) as i32, u32_at(4) as i32, u32_at(8))
        })
        .collect()
}

/// The `__state` of each thread of process `tgid`, by thread ID; `None`
/// where the iterator cannot run here (not root, no BTF, an older kernel,
/// another PID namespace, or turned off). Its first run is checked: the
/// thread that reads it is running.
pub fn of_process(tgid: i32) -> Option<HashMap<i32, u32>> {
    if !crate::bpf::allowed() {
        return None;
    }
    let me = rustix::thread::gettid().as_raw_nonzero().get();
    let (_, bytes) = crate::bpf::load_checked("thread-states", "bpf_iter_task", program, |bytes| {
        parse_records(bytes).contains(&(me, std::process::id() as i32, 0))
    })?;
    Some(
        parse_records(&bytes)
            .into_iter()
            .filter(|&(_, group, _)| group == tgid)
            .map(|(tid, _, state)| (tid, state))
            .collect(),
    )
}

/// Whether `state` is a killable sleep (`TASK_KILLABLE`: uninterruptible,
/// and woken by a fatal signal). Pure.
pub fn is_killable(state: u32) -> bool {
    state & (TASK_UNINTERRUPTIBLE | TASK_WAKEKILL) == TASK_UNINTERRUPTIBLE | TASK_WAKEKILL
}

/// A thread state in words, for evidence: `TASK_KILLABLE (0x102)`. Pure.
pub fn describe(state: u32) -> String {
    let name = if is_killable(state) {
        "TASK_KILLABLE"
    } else if state & TASK_UNINTERRUPTIBLE != 0 {
        "TASK_UNINTERRUPTIBLE"
    } else if state == 0 {
        "TASK_RUNNING"
    } else {
        "another state"
    };
    format!("{name} ({state:#x})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::MemberOffsets;

    #[test]
    fn the_jump_lands_on_the_exit_and_offsets_round_trip() {
        let o = Offsets {
            task_pid: 1,
            task_tgid: 2,
            task_state: 3,
        };
        assert_eq!(Offsets::decode(&o.encode()), Some(o));
        let p = program(&o);
        let out = p.len() - 2;
        for at in TO_OUT {
            assert_eq!(at as i16 + 1 + p[at].off, out as i16);
        }
    }

    #[test]
    fn records_parse_and_states_read() {
        let mut bytes = Vec::new();
        for (tid, tgid, state) in [(10u32, 10u32, 0x102u32), (11, 10, 0x2)] {
            for v in [tid, tgid, state, 0] {
                bytes.extend_from_slice(&v.to_ne_bytes());
            }
        }
        assert_eq!(parse_records(&bytes), vec![(10, 10, 0x102), (11, 10, 0x2)]);
        assert_eq!(describe(0x102), "TASK_KILLABLE (0x102)");
        assert_eq!(describe(0x2), "TASK_UNINTERRUPTIBLE (0x2)");
        assert_eq!(describe(0), "TASK_RUNNING (0x0)");
    }
}
