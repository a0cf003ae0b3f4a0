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
//! - [`samples`]: every process's fds, threads and memory (`watch`).
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
//! cannot run. `AFTERLIFE_DEBUG_BPF` set likewise prints on stderr why an
//! iterator was not used: the call that failed with its errno, and for a
//! program the verifier refused, the verifier's own log.

use std::os::fd::{AsRawFd, OwnedFd};

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
pub mod percpu;
pub mod samples;
pub mod signals;
pub mod task_file;
pub mod tasks;
pub mod thread_states;

use crate::sys::linux::bpf::bpf_fd;
use asm::Insn;

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_ITER_CREATE: libc::c_long = 33;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_ITER: u32 = 28;
/// `BPF_TRACE_RAW_TP`: a BTF-enabled tracepoint (`tp_btf`).
pub(crate) const BPF_TRACE_RAW_TP: u32 = 23;

/// Byte offsets of the `union bpf_attr` members the loader writes
/// (include/uapi/linux/bpf.h); `layout_tests` checks them against a
/// `repr(C)` copy of the structs.
mod attr {
    /// `BPF_PROG_LOAD`: `prog_type`, `insn_cnt`, `insns`, `license`,
    /// `log_level`, `log_size`, `log_buf`, `expected_attach_type`,
    /// `attach_btf_id`.
    pub const PROG_TYPE: usize = 0;
    pub const INSN_CNT: usize = 4;
    pub const INSNS: usize = 8;
    pub const LICENSE: usize = 16;
    pub const LOG_LEVEL: usize = 24;
    pub const LOG_SIZE: usize = 28;
    pub const LOG_BUF: usize = 32;
    pub const EXPECTED_ATTACH_TYPE: usize = 68;
    pub const ATTACH_BTF_ID: usize = 108;
    /// `BPF_LINK_CREATE`: `prog_fd`, `attach_type`.
    pub const LINK_PROG_FD: usize = 0;
    pub const LINK_ATTACH_TYPE: usize = 8;
    /// `BPF_ITER_CREATE`: `link_fd`.
    pub const ITER_LINK_FD: usize = 0;
}

/// Why an iterator could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BpfError {
    /// A `bpf(2)` command failed.
    #[error("bpf({command}) failed: {source}{}", verifier_log(.log))]
    Call {
        /// The command, by name.
        command: &'static str,
        /// The errno.
        source: std::io::Error,
        /// The verifier's log, for a program it refused.
        log: Option<String>,
    },
    /// Reading the iterator's file failed.
    #[error("reading the iterator failed: {0}")]
    Read(std::io::Error),
}

fn verifier_log(log: &Option<String>) -> String {
    match log {
        Some(log) if !log.trim().is_empty() => format!("; the verifier said:\n{}", log.trim_end()),
        _ => String::new(),
    }
}

/// Prints why an iterator was not used, when `AFTERLIFE_DEBUG_BPF` asks.
pub(crate) fn debug(what: &str, why: &dyn std::fmt::Display) {
    if std::env::var_os("AFTERLIFE_DEBUG_BPF").is_some_and(|v| !v.is_empty() && v != "0") {
        use std::io::Write;
        // A debug line that cannot be written is dropped.
        let _ = writeln!(std::io::stderr().lock(), "afterlife: debug: bpf: {what}: {why}");
    }
}

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
    !off && may_trace()
}

/// Whether a tracing program may be loaded here: the initial PID namespace
/// and the privileges (`CAP_BPF` and `CAP_PERFMON`, or `CAP_SYS_ADMIN`).
pub(crate) fn may_trace() -> bool {
    if !crate::process::in_initial_pid_namespace() {
        return false;
    }
    may_load(crate::process::own_effective_capabilities())
}

/// Whether capabilities `effective` may load a tracing program. Pure.
fn may_load(effective: u64) -> bool {
    effective & CAP_SYS_ADMIN != 0 || effective & (CAP_BPF | CAP_PERFMON) == CAP_BPF | CAP_PERFMON
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

/// `BPF_MAP_CREATE` of a map of `map_type` with `entries` entries of
/// `key` and `value` bytes.
pub(crate) fn create_map(map_type: u32, key: u32, value: u32, entries: u32) -> Result<OwnedFd, BpfError> {
    let mut attr = [0u8; 64];
    put_u32(&mut attr, 0, map_type);
    put_u32(&mut attr, 4, key);
    put_u32(&mut attr, 8, value);
    put_u32(&mut attr, 12, entries);
    // SAFETY: this attribute holds no pointer.
    unsafe { bpf_fd(BPF_MAP_CREATE, &mut attr) }.map_err(|source| BpfError::Call {
        command: "BPF_MAP_CREATE",
        source,
        log: None,
    })
}

/// A loaded iterator program, attached: each [`Iterator::read`] runs it
/// over every element once.
pub(crate) struct Iterator {
    link: OwnedFd,
}

impl Iterator {
    /// Loads `insns` as an iterator program for the `bpf_iter_*` function
    /// whose BTF type ID is `attach`, and attaches it. A program the
    /// verifier refuses is loaded once more with its log on, so that the
    /// error carries what the verifier said.
    pub(crate) fn load(attach: u32, insns: &[Insn]) -> Result<Iterator, BpfError> {
        let prog = load_program(
            ProgKind::Tracing {
                attach_type: BPF_TRACE_ITER,
                btf_id: attach,
            },
            insns,
        )?;
        let mut attr = [0u8; 64];
        put_u32(&mut attr, attr::LINK_PROG_FD, prog.as_raw_fd() as u32);
        put_u32(&mut attr, attr::LINK_ATTACH_TYPE, BPF_TRACE_ITER);
        // SAFETY: this attribute holds no pointer.
        let link = unsafe { bpf_fd(BPF_LINK_CREATE, &mut attr) }.map_err(|source| BpfError::Call {
            command: "BPF_LINK_CREATE",
            source,
            log: None,
        })?;
        Ok(Iterator { link })
    }

    /// Runs the program over every element, handing `each` the records of
    /// `size` bytes it wrote as they come (64 KiB at a time: the whole
    /// output is never held); a torn tail is dropped.
    pub(crate) fn read_records(&self, size: usize, mut each: impl FnMut(&[u8])) -> Result<(), BpfError> {
        let mut file = self.create()?;
        let mut buffer = vec![0u8; 1 << 16];
        // Bytes of a record the previous read left unfinished, at the front.
        let mut carried = 0;
        loop {
            let n = match std::io::Read::read(&mut file, &mut buffer[carried..]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BpfError::Read(e)),
            };
            let filled = carried + n;
            let whole = filled - filled % size;
            buffer[..whole].chunks_exact(size).for_each(&mut each);
            buffer.copy_within(whole..filled, 0);
            carried = filled - whole;
        }
    }

    /// Runs the program over every element and returns what it wrote.
    pub(crate) fn read(&self) -> Result<Vec<u8>, BpfError> {
        let mut file = self.create()?;
        let mut bytes = Vec::with_capacity(1 << 16);
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(BpfError::Read)?;
        Ok(bytes)
    }

    /// A new run of the program, read as a file.
    fn create(&self) -> Result<std::fs::File, BpfError> {
        let mut attr = [0u8; 16];
        put_u32(&mut attr, attr::ITER_LINK_FD, self.link.as_raw_fd() as u32);
        // SAFETY: this attribute holds no pointer.
        let iter = unsafe { bpf_fd(BPF_ITER_CREATE, &mut attr) }.map_err(|source| BpfError::Call {
            command: "BPF_ITER_CREATE",
            source,
            log: None,
        })?;
        Ok(std::fs::File::from(iter))
    }
}

/// What a program is loaded as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProgKind {
    /// A tracing program (`BPF_PROG_TYPE_TRACING`): an iterator or a
    /// BTF-enabled tracepoint, of this attach type, on the kernel
    /// function or typedef of this BTF type ID.
    Tracing { attach_type: u32, btf_id: u32 },
    /// A raw tracepoint (`BPF_PROG_TYPE_RAW_TRACEPOINT`), attached by name:
    /// its arguments are plain numbers, read through with helpers. The
    /// verifier then has no attach target to find in the kernel's BTF,
    /// which for a `tp_btf` program is a scan of every type by name
    /// (`btf_find_by_name_kind`, half of its load).
    RawTracepoint,
}

/// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

/// Loads `insns` as a program of `kind`. A program the verifier refuses is
/// loaded once more with its log on, so that the error carries what the
/// verifier said.
pub(crate) fn load_program(kind: ProgKind, insns: &[Insn]) -> Result<OwnedFd, BpfError> {
    prog_load(kind, insns, None).map_err(|source| {
        let mut log = vec![0u8; 1 << 16];
        let _ = prog_load(kind, insns, Some(&mut log));
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let log = Some(String::from_utf8_lossy(&log[..end]).into_owned());
        BpfError::Call {
            command: "BPF_PROG_LOAD",
            source,
            log,
        }
    })
}

/// `BPF_PROG_LOAD`; with `log`, the verifier writes what it did there
/// (level 1: the failing path).
fn prog_load(kind: ProgKind, insns: &[Insn], log: Option<&mut [u8]>) -> std::io::Result<OwnedFd> {
    let license = c"GPL";
    let mut attr = [0u8; 128];
    put_u32(&mut attr, attr::INSN_CNT, insns.len() as u32);
    put_u64(&mut attr, attr::INSNS, insns.as_ptr() as u64);
    put_u64(&mut attr, attr::LICENSE, license.as_ptr() as u64);
    if let Some(log) = log {
        put_u32(&mut attr, attr::LOG_LEVEL, 1);
        put_u32(&mut attr, attr::LOG_SIZE, log.len() as u32);
        put_u64(&mut attr, attr::LOG_BUF, log.as_mut_ptr() as u64);
    }
    match kind {
        ProgKind::Tracing { attach_type, btf_id } => {
            put_u32(&mut attr, attr::PROG_TYPE, BPF_PROG_TYPE_TRACING);
            put_u32(&mut attr, attr::EXPECTED_ATTACH_TYPE, attach_type);
            put_u32(&mut attr, attr::ATTACH_BTF_ID, btf_id);
        }
        ProgKind::RawTracepoint => put_u32(&mut attr, attr::PROG_TYPE, BPF_PROG_TYPE_RAW_TRACEPOINT),
    }
    // SAFETY: the pointers in `attr` are to `insns`, `license` and `log`,
    // borrowed for the call, each with its length (the license is a C
    // string).
    unsafe { bpf_fd(BPF_PROG_LOAD, &mut attr) }
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
    load_checked_by(name, attach_to, assemble, |iterator| {
        iterator.read().map(|bytes| check(&bytes).then_some(bytes))
    })
}

/// Like [`load_checked`], the first run made by `first`: it reads the
/// iterator as it needs and gives what it keeps, or `None` where the run
/// disagrees with what afterlife knows of itself.
pub(crate) fn load_checked_by<O: MemberOffsets, T>(
    name: &str,
    attach_to: &str,
    assemble: impl Fn(&O) -> Vec<Insn>,
    first: impl Fn(&Iterator) -> Result<Option<T>, BpfError>,
) -> Option<(Iterator, T)> {
    let first_run = |attach: u32, offsets: &O| {
        let run = Iterator::load(attach, &assemble(offsets)).and_then(|it| first(&it).map(|kept| (it, kept)));
        match run {
            Ok((iterator, Some(kept))) => Some((iterator, kept)),
            Ok(_) => {
                debug(name, &"its first run disagreed with what afterlife knows of itself");
                None
            }
            Err(e) => {
                debug(name, &e);
                None
            }
        }
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
    let Some(btf) = btf::Btf::vmlinux() else {
        debug(name, &"the kernel's BTF cannot be read");
        return None;
    };
    let (Some(attach), Some(offsets)) = (btf.func_id(attach_to), O::from_btf(&btf)) else {
        debug(
            name,
            &format_args!("BTF lacks {attach_to} or a struct member the program reads"),
        );
        return None;
    };
    drop(btf);
    let run = first_run(attach, &offsets)?;
    let mut numbers = vec![i64::from(attach)];
    numbers.extend(offsets.encode());
    cache::store(name, &numbers);
    Some(run)
}

#[cfg(test)]
mod layout_tests {
    use super::attr;
    use std::mem::offset_of;

    /// The head of `union bpf_attr`'s `BPF_PROG_LOAD` struct, as in
    /// include/uapi/linux/bpf.h.
    #[repr(C)]
    struct ProgLoad {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        prog_name: [u8; 16],
        prog_ifindex: u32,
        expected_attach_type: u32,
        prog_btf_fd: u32,
        func_info_rec_size: u32,
        func_info: u64,
        func_info_cnt: u32,
        line_info_rec_size: u32,
        line_info: u64,
        line_info_cnt: u32,
        attach_btf_id: u32,
    }

    /// The head of its `BPF_LINK_CREATE` struct.
    #[repr(C)]
    struct LinkCreate {
        prog_fd: u32,
        target_fd: u32,
        attach_type: u32,
        flags: u32,
    }

    #[test]
    fn the_offsets_are_the_uapi_layout() {
        assert_eq!(offset_of!(ProgLoad, prog_type), attr::PROG_TYPE);
        assert_eq!(offset_of!(ProgLoad, insn_cnt), attr::INSN_CNT);
        assert_eq!(offset_of!(ProgLoad, insns), attr::INSNS);
        assert_eq!(offset_of!(ProgLoad, license), attr::LICENSE);
        assert_eq!(offset_of!(ProgLoad, log_level), attr::LOG_LEVEL);
        assert_eq!(offset_of!(ProgLoad, log_size), attr::LOG_SIZE);
        assert_eq!(offset_of!(ProgLoad, log_buf), attr::LOG_BUF);
        assert_eq!(offset_of!(ProgLoad, expected_attach_type), attr::EXPECTED_ATTACH_TYPE);
        assert_eq!(offset_of!(ProgLoad, attach_btf_id), attr::ATTACH_BTF_ID);
        assert_eq!(offset_of!(LinkCreate, prog_fd), attr::LINK_PROG_FD);
        assert_eq!(offset_of!(LinkCreate, attach_type), attr::LINK_ATTACH_TYPE);
        assert_eq!(attr::ITER_LINK_FD, 0);
    }
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
