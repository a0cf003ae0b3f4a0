//! BPF iterators: what /proc says one file per process, read in one pass
//! inside the kernel.
//!
//! Each program is a few dozen instructions assembled here ([`asm`]); the
//! struct member offsets it reads come from the running kernel's BTF
//! ([`btf`]), so no compiler and no object file are needed. Loads through
//! kernel pointers are "probe" loads: the verifier knows their types from
//! BTF and a fault reads as 0. The offsets are kept in `/run/afterlife/`
//! for the rest of the boot (the `cache` module), so that only the first run reads
//! the 5 MiB of BTF; every run checks what its program wrote about
//! afterlife's own process against what it knows, and a program that
//! disagrees is not used.
//!
//! - [`task_file`]: every open file of every process (`holds`).
//! - [`tasks`]: every process's parentage and start time (`kill`).
//!
//! Kernel facts relied on: `bpf(2)` `BPF_PROG_LOAD` of a `TRACING` program
//! with `expected_attach_type = BPF_TRACE_ITER` and the `attach_btf_id` of
//! the iterator's `bpf_iter_*` function; `BPF_LINK_CREATE` then
//! `BPF_ITER_CREATE` give a file whose `read(2)` runs the program once per
//! element and returns what it wrote with `bpf_seq_write`. `task->tgid` and
//! the PIDs in `struct pid` level 0 are the initial PID namespace's, so the
//! iterators are used only there. Needs `CAP_BPF` and `CAP_PERFMON` (or
//! `CAP_SYS_ADMIN`).
//!
//! `AFTERLIFE_PROC_WALK` set to anything but empty or `0` turns every
//! iterator off: afterlife then reads /proc, as it does wherever an iterator
//! cannot run.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The member offsets a program reads: found in BTF, and kept in the cache
/// as numbers.
pub(crate) trait MemberOffsets: Sized {
    /// Reads the offsets from the kernel's BTF.
    fn from_btf(btf: &btf::Btf) -> Option<Self>;
    /// The offsets as the cache keeps them.
    fn encode(&self) -> Vec<i64>;
    /// The offsets from what the cache kept; `None` if that does not fit.
    fn decode(numbers: &[i64]) -> Option<Self>;
}

/// A struct of the member offsets a program reads, each the sum of one or
/// more `(struct, member)` offsets from BTF, implementing [`MemberOffsets`].
macro_rules! member_offsets {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[doc = $doc:literal])* $field:ident: $(($s:literal, $m:literal))+),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            $($(#[doc = $doc])* pub $field: i16,)*
        }

        impl $crate::bpf::MemberOffsets for $name {
            fn from_btf(btf: &$crate::bpf::btf::Btf) -> Option<$name> {
                let at = |s: &str, m: &str| btf.member_offset(s, m).and_then(|o| i16::try_from(o).ok());
                Some($name {
                    $($field: {
                        let mut sum: i16 = 0;
                        $(sum = sum.checked_add(at($s, $m)?)?;)+
                        sum
                    },)*
                })
            }

            fn encode(&self) -> Vec<i64> {
                vec![$(i64::from(self.$field)),*]
            }

            fn decode(numbers: &[i64]) -> Option<$name> {
                let mut numbers = numbers.iter();
                let value = $name {
                    $($field: i16::try_from(*numbers.next()?).ok()?,)*
                };
                numbers.next().is_none().then_some(value)
            }
        }
    };
}

pub mod asm;
pub mod btf;
pub(crate) mod cache;
pub mod task_file;
pub mod tasks;

use asm::Insn;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_ITER_CREATE: libc::c_long = 33;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_ITER: u32 = 28;

/// `CAP_SYS_ADMIN`, `CAP_PERFMON` and `CAP_BPF` (capabilities(7)).
const CAP_SYS_ADMIN: u64 = 1 << 21;
const CAP_PERFMON: u64 = 1 << 38;
const CAP_BPF: u64 = 1 << 39;

/// Whether the iterators may be tried here: the initial PID namespace, the
/// privileges to load a tracing program (`CAP_BPF` and `CAP_PERFMON`, or
/// `CAP_SYS_ADMIN`), and not turned off by `AFTERLIFE_PROC_WALK`. Without
/// privileges nothing is tried, so no time goes to reading BTF.
pub(crate) fn allowed() -> bool {
    let off = std::env::var_os("AFTERLIFE_PROC_WALK").is_some_and(|v| !v.is_empty() && v != "0");
    if off || !crate::process::in_initial_pid_namespace() {
        return false;
    }
    let effective = procfs::process::Process::myself()
        .and_then(|p| p.status())
        .map_or(0, |s| s.capeff);
    may_load(effective)
}

/// Whether capabilities `effective` may load a tracing program. Pure.
fn may_load(effective: u64) -> bool {
    effective & CAP_SYS_ADMIN != 0 || effective & (CAP_BPF | CAP_PERFMON) == CAP_BPF | CAP_PERFMON
}

/// `bpf(2)` with `attr`, a zeroed `union bpf_attr` of the size passed;
/// its non-negative result (0, an ID, or a new fd).
pub(crate) fn bpf_call(cmd: libc::c_long, attr: &mut [u8]) -> std::io::Result<i64> {
    // SAFETY: the kernel reads (and for some commands writes) only within
    // the `attr.len()` bytes of attr.
    let result = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if result < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(result)
}

/// `bpf(2)` for a command that returns a new fd.
pub(crate) fn bpf_fd(cmd: libc::c_long, attr: &mut [u8]) -> std::io::Result<OwnedFd> {
    let fd = bpf_call(cmd, attr)?;
    // SAFETY: the kernel returned a new file descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Writes a field of a `bpf_attr` (or of a struct it points to).
pub(crate) fn put_u32(attr: &mut [u8], at: usize, value: u32) {
    attr[at..at + 4].copy_from_slice(&value.to_ne_bytes());
}

/// Writes a 64-bit field (a pointer, say) of a `bpf_attr`.
pub(crate) fn put_u64(attr: &mut [u8], at: usize, value: u64) {
    attr[at..at + 8].copy_from_slice(&value.to_ne_bytes());
}

/// Reads a 32-bit field the kernel wrote.
pub(crate) fn get_u32(attr: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([attr[at], attr[at + 1], attr[at + 2], attr[at + 3]])
}

/// A loaded iterator program, attached: each [`Iterator::read`] runs it
/// over every element once.
pub(crate) struct Iterator {
    link: OwnedFd,
}

impl Iterator {
    /// Loads `insns` as an iterator program for the `bpf_iter_*` function
    /// whose BTF type ID is `attach`, and attaches it.
    pub(crate) fn load(attach: u32, insns: &[Insn]) -> Option<Iterator> {
        let license = c"GPL";
        let mut attr = [0u8; 128];
        put_u32(&mut attr, 0, BPF_PROG_TYPE_TRACING);
        put_u32(&mut attr, 4, insns.len() as u32);
        put_u64(&mut attr, 8, insns.as_ptr() as u64);
        put_u64(&mut attr, 16, license.as_ptr() as u64);
        put_u32(&mut attr, 68, BPF_TRACE_ITER);
        put_u32(&mut attr, 108, attach);
        let prog = bpf_fd(BPF_PROG_LOAD, &mut attr).ok()?;
        let mut attr = [0u8; 64];
        put_u32(&mut attr, 0, prog.as_raw_fd() as u32);
        put_u32(&mut attr, 8, BPF_TRACE_ITER);
        let link = bpf_fd(BPF_LINK_CREATE, &mut attr).ok()?;
        Some(Iterator { link })
    }

    /// Runs the program over every element and returns what it wrote.
    pub(crate) fn read(&self) -> Option<Vec<u8>> {
        let mut attr = [0u8; 16];
        put_u32(&mut attr, 0, self.link.as_raw_fd() as u32);
        let iter = bpf_fd(BPF_ITER_CREATE, &mut attr).ok()?;
        let mut file = std::fs::File::from(iter);
        let mut bytes = Vec::with_capacity(1 << 16);
        std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
        Some(bytes)
    }
}

/// Loads the iterator program `assemble` builds for the `bpf_iter_*`
/// function `attach_to`, with the offsets kept for this boot under `name`
/// (or else read from BTF), and returns it with what its first run wrote
/// once `check` accepts that; `None` where no program passes (then the
/// caller reads /proc). The caller has asked [`allowed`] first.
pub(crate) fn load_checked<O: MemberOffsets>(
    name: &str,
    attach_to: &str,
    assemble: impl Fn(&O) -> Vec<Insn>,
    check: impl Fn(&[u8]) -> bool,
) -> Option<(Iterator, Vec<u8>)> {
    let first_run = |attach: u32, offsets: &O| {
        let iterator = Iterator::load(attach, &assemble(offsets))?;
        let bytes = iterator.read()?;
        check(&bytes).then_some((iterator, bytes))
    };
    if let Some(numbers) = cache::load(name) {
        if let Some((&attach, rest)) = numbers.split_first()
            && let (Ok(attach), Some(offsets)) = (u32::try_from(attach), O::decode(rest))
            && let Some(run) = first_run(attach, &offsets)
        {
            return Some(run);
        }
        cache::remove(name);
    }
    let btf = btf::Btf::vmlinux()?;
    let (attach, offsets) = (btf.func_id(attach_to)?, O::from_btf(&btf)?);
    drop(btf);
    let run = first_run(attach, &offsets)?;
    let mut numbers = vec![i64::from(attach)];
    numbers.extend(offsets.encode());
    cache::store(name, &numbers);
    Some(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loading_needs_sys_admin_or_bpf_and_perfmon() {
        assert!(may_load(CAP_SYS_ADMIN));
        assert!(may_load(CAP_BPF | CAP_PERFMON));
        assert!(!may_load(CAP_BPF));
        assert!(!may_load(CAP_PERFMON | 1 << 5));
        assert!(!may_load(0));
    }
}
