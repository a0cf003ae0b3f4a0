//! The BPF source: the compiled program of `bpf/deaths.bpf.c`, loaded and
//! attached with aya, its ring buffer read here.
//!
//! Why aya: it is pure Rust, so afterlife stays one static executable with
//! no libbpf, libelf or zlib to link; it applies the object's CO-RE
//! relocations against the running kernel's BTF
//! (`/sys/kernel/btf/vmlinux`), so the hand-written kernel types of
//! `bpf/kernel.h` fit any kernel that has the members; and it owns the
//! maps, the ring buffer and the BTF tracepoint links, which the
//! hand-written assembler of `crate::bpf` has none of. The object is
//! committed (built by `scripts/build-bpf.sh`), so building afterlife needs
//! no clang.
//!
//! Kernel facts relied on: BTF-enabled tracepoints (`tp_btf`, 5.5),
//! `BPF_MAP_TYPE_RINGBUF` (5.8), `bpf_get_current_task_btf` (5.11),
//! `mark_victim(task, uid)` (6.8; before that it took a PID and the program
//! does not load), `sched_process_exit` before `exit_mm()` (6.16; before
//! that the command line is not read in the kernel). The PIDs are the
//! initial PID namespace's, so the source is used only there.

use std::os::fd::{AsFd, BorrowedFd};

use aya::maps::{Array, MapData, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};

use super::event::{RawDeath, parse_record};

static OBJECT: &[u8] = aya::include_bytes_aligned!("bpf/deaths.bpf.o");

/// The three programs, attached, and the ring buffer they fill.
pub struct Tracepoints {
    ring: RingBuf<MapData>,
    lost: Array<MapData, u64>,
    /// Keeps the programs and their links alive.
    _ebpf: Ebpf,
}

/// Why the BPF source could not start.
#[derive(Debug, thiserror::Error)]
pub enum TracepointError {
    /// Not the initial PID namespace: the program's PIDs would not be ours.
    #[error("not in the initial PID namespace")]
    Namespace,
    /// No kernel BTF.
    #[error("no kernel BTF (/sys/kernel/btf/vmlinux): {0}")]
    Btf(String),
    /// The object did not load.
    #[error("failed to load the program object: {0}")]
    Load(String),
    /// A program did not load or attach.
    #[error("failed to attach {tracepoint}: {reason}")]
    Attach {
        /// The tracepoint.
        tracepoint: &'static str,
        /// The loader's words.
        reason: String,
    },
    /// A map is missing from the object.
    #[error("the program object has no usable map {0}")]
    Map(&'static str),
}

const PROGRAMS: [&str; 3] = ["signal_generate", "mark_victim", "sched_process_exit"];

/// Full text of an error and its sources (the verifier's reason is deep).
/// A source whose words end its error's own already (aya's `map error:
/// {0}` also gives `{0}` as its source) is said once.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut said = text.clone();
    let mut source = error.source();
    while let Some(next) = source {
        let words = next.to_string();
        if !said.ends_with(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        said = words;
        source = next.source();
    }
    text
}

impl Tracepoints {
    /// Loads and attaches the programs.
    pub fn open() -> Result<Tracepoints, TracepointError> {
        if !crate::process::in_initial_pid_namespace() {
            return Err(TracepointError::Namespace);
        }
        let btf = Btf::from_sys_fs().map_err(|e| TracepointError::Btf(chain(&e)))?;
        let mut loader = EbpfLoader::new();
        loader.btf(Some(&btf));
        if let Ok(Some(bytes)) = ring_bytes_from_env() {
            loader.map_max_entries("events", bytes);
        }
        let mut ebpf = loader.load(OBJECT).map_err(|e| TracepointError::Load(chain(&e)))?;
        for name in PROGRAMS {
            attach(&mut ebpf, name, &btf)?;
        }
        let ring = ebpf
            .take_map("events")
            .and_then(|map| RingBuf::try_from(map).ok())
            .ok_or(TracepointError::Map("events"))?;
        let lost = ebpf
            .take_map("lost")
            .and_then(|map| Array::try_from(map).ok())
            .ok_or(TracepointError::Map("lost"))?;
        Ok(Tracepoints {
            ring,
            lost,
            _ebpf: ebpf,
        })
    }

    /// The ring buffer's fd: readable when records wait.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }

    /// Takes every waiting record.
    pub fn drain(&mut self, out: &mut Vec<RawDeath>) {
        while let Some(item) = self.ring.next() {
            if let Some(death) = parse_record(&item) {
                out.push(death);
            }
        }
    }

    /// Records the program found no room for.
    pub fn lost(&self) -> u64 {
        self.lost.get(&0, 0).unwrap_or(0)
    }
}

/// `AFTERLIFE_DEATHS_RING_BYTES`: the ring buffer's size (a power of two,
/// at least a page; 4 MiB when unset or empty), so that a test can fill
/// it. A value that is no such size is an error: it must not pass for the
/// default. Pure but for the variable.
pub fn ring_bytes_from_env() -> Result<Option<u32>, BadRingBytes> {
    let Some(value) = std::env::var_os("AFTERLIFE_DEATHS_RING_BYTES") else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    if value.is_empty() {
        return Ok(None);
    }
    ring_bytes(&value)
        .map(Some)
        .ok_or_else(|| BadRingBytes(value.into_owned()))
}

/// An `AFTERLIFE_DEATHS_RING_BYTES` that is no ring buffer size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "AFTERLIFE_DEATHS_RING_BYTES='{}' is no ring buffer size: a power of two of at least 4096 (unset: 4 MiB)",
    crate::text::escape(.0)
)]
pub struct BadRingBytes(pub String);

fn ring_bytes(value: &str) -> Option<u32> {
    let bytes: u32 = value.parse().ok()?;
    (bytes >= 4096 && bytes.is_power_of_two()).then_some(bytes)
}

fn attach(ebpf: &mut Ebpf, name: &'static str, btf: &Btf) -> Result<(), TracepointError> {
    let err = |reason: String| TracepointError::Attach {
        tracepoint: name,
        reason,
    };
    let program: &mut BtfTracePoint = ebpf
        .program_mut(name)
        .ok_or_else(|| err("not in the object".to_string()))?
        .try_into()
        .map_err(|e| err(chain(&e)))?;
    program.load(name, btf).map_err(|e| err(chain(&e)))?;
    program.attach().map_err(|e| err(chain(&e)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// An error with a message and perhaps a source, for [`super::chain`].
    #[derive(Debug)]
    struct Link(String, Option<Box<Link>>);

    impl std::fmt::Display for Link {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Link {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_is_said_once() {
        let io = Link("Operation not permitted (os error 1)".into(), None);
        let map = Link("failed to create map `lost`".into(), Some(Box::new(io)));
        let ebpf = Link("map error: failed to create map `lost`".into(), Some(Box::new(map)));
        assert_eq!(
            super::chain(&ebpf),
            "map error: failed to create map `lost`: Operation not permitted (os error 1)"
        );
        let inner = Link("b".into(), None);
        let outer = Link("a".into(), Some(Box::new(inner)));
        assert_eq!(super::chain(&outer), "a: b");
    }

    #[test]
    fn ring_sizes() {
        assert_eq!(super::ring_bytes("4096"), Some(4096));
        assert_eq!(super::ring_bytes("5000"), None);
        assert_eq!(super::ring_bytes("1024"), None);
        assert_eq!(super::ring_bytes("x"), None);
    }
}
