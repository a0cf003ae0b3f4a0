//! Every open file of every process in one pass inside the kernel: a BPF
//! `task_file` iterator (Linux 5.8) that writes one record per fd — the
//! process, the fd number, the inode number and mode of the open file, and
//! the process's network namespace. Where it can run (root in the initial
//! PID namespace, a kernel with BTF), it replaces the walk of every
//! `/proc/PID/fd` for socket look-ups: no directory listing, no path lookup
//! and no text per fd.
//!
//! The program is a few dozen instructions assembled here; the struct
//! member offsets it reads come from the running kernel's BTF
//! ([`crate::resources::btf`]), so no compiler and no object file are
//! needed. Loads through kernel pointers are "probe" loads: the verifier
//! knows their types from BTF and a fault reads as 0.
//!
//! Kernel facts relied on: `bpf(2)` `BPF_PROG_LOAD` of a `TRACING` program
//! with `expected_attach_type = BPF_TRACE_ITER` and `attach_btf_id` of the
//! `bpf_iter_task_file` function; `BPF_LINK_CREATE` then `BPF_ITER_CREATE`
//! give a file whose `read(2)` runs the program once per (task, fd) and
//! returns what it wrote with `bpf_seq_write`. Threads that share their
//! process's fd table are visited once; the program keeps only thread-group
//! leaders, which is what `/proc/PID/fd` shows. `task->tgid` is the PID in
//! the initial PID namespace, so the iterator is used only there.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use crate::resources::btf::Btf;

/// One open file of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFile {
    /// The process (thread-group leader).
    pub pid: i32,
    /// The fd number.
    pub fd: i32,
    /// The inode number of the open file (a socket's is its `socket:[N]`).
    pub inode: u64,
    /// The inode's mode (`S_IFSOCK`, ...).
    pub mode: u32,
    /// The process's network namespace (the inode of `/proc/PID/ns/net`).
    pub netns: u32,
}

impl OpenFile {
    /// Whether the file is a socket.
    pub fn is_socket(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFSOCK
    }
}

/// The record the program writes: 32 bytes.
const RECORD: usize = 32;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_ITER_CREATE: libc::c_long = 33;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_ITER: u32 = 28;
const BPF_FUNC_SEQ_WRITE: i32 = 127;

/// The member offsets the program reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    /// `task_struct.pid`.
    pub task_pid: i16,
    /// `task_struct.tgid`.
    pub task_tgid: i16,
    /// `task_struct.nsproxy`.
    pub task_nsproxy: i16,
    /// `file.f_inode`.
    pub file_inode: i16,
    /// `inode.i_ino`.
    pub inode_ino: i16,
    /// `inode.i_mode`.
    pub inode_mode: i16,
    /// `nsproxy.net_ns`.
    pub nsproxy_net: i16,
    /// `net.ns.inum`.
    pub net_inum: i16,
}

impl Offsets {
    /// Reads the offsets from the kernel's BTF.
    pub fn from_btf(btf: &Btf) -> Option<Offsets> {
        let at = |s: &str, m: &str| btf.member_offset(s, m).and_then(|o| i16::try_from(o).ok());
        Some(Offsets {
            task_pid: at("task_struct", "pid")?,
            task_tgid: at("task_struct", "tgid")?,
            task_nsproxy: at("task_struct", "nsproxy")?,
            file_inode: at("file", "f_inode")?,
            inode_ino: at("inode", "i_ino")?,
            inode_mode: at("inode", "i_mode")?,
            nsproxy_net: at("nsproxy", "net_ns")?,
            net_inum: at("net", "ns")?.checked_add(at("ns_common", "inum")?)?,
        })
    }
}

/// One BPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

const LDX_DW: u8 = 0x79;
const LDX_W: u8 = 0x61;
const LDX_H: u8 = 0x69;
const STX_DW: u8 = 0x7b;
const STX_W: u8 = 0x63;
const ST_DW: u8 = 0x7a;
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const ADD64_K: u8 = 0x07;
const JEQ_K: u8 = 0x15;
const JNE_X: u8 = 0x5d;
const JGT_K: u8 = 0x25;
const AND64_K: u8 = 0x57;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
const S_IFMT: i32 = 0o170000;
const S_IFSOCK: i32 = 0o140000;

/// The jumps to the program's end.
const TO_OUT: [usize; 4] = [2, 4, 7, 19];

/// The program: for each (task, file), when the task leads its thread
/// group and the file is a socket or fd 0, 1 or 2, write {tgid u32, fd u32,
/// i_ino u64, i_mode u32, net inum u32, 0 u64}. Pure.
pub fn program(o: &Offsets) -> Vec<Insn> {
    // Registers: r6 ctx, r7 file, r8 task; the record at r10-32.
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0),
        insn(LDX_DW, 7, 6, 24, 0), // ctx->file
        insn(JEQ_K, 7, 0, 0, 0),   // patched: to out
        insn(LDX_DW, 8, 6, 8, 0),  // ctx->task
        insn(JEQ_K, 8, 0, 0, 0),   // patched: to out
        insn(LDX_W, 2, 8, o.task_pid, 0),
        insn(LDX_W, 3, 8, o.task_tgid, 0),
        insn(JNE_X, 2, 3, 0, 0), // patched: to out
        insn(STX_W, 10, 3, -32, 0),
        insn(LDX_W, 2, 6, 16, 0), // ctx->fd
        insn(STX_W, 10, 2, -28, 0),
        insn(LDX_DW, 2, 7, o.file_inode, 0),
        insn(LDX_DW, 3, 2, o.inode_ino, 0),
        insn(STX_DW, 10, 3, -24, 0),
        insn(LDX_H, 3, 2, o.inode_mode, 0),
        insn(STX_W, 10, 3, -16, 0),
        // Sockets, and fds 0 to 2 so that every process with those is seen.
        insn(AND64_K, 3, 0, 0, S_IFMT),
        insn(JEQ_K, 3, 0, 2, S_IFSOCK), // to the netns read
        insn(LDX_W, 4, 10, -28, 0),
        insn(JGT_K, 4, 0, 0, 2), // patched: to out
        insn(LDX_DW, 2, 8, o.task_nsproxy, 0),
        insn(LDX_DW, 3, 2, o.nsproxy_net, 0),
        insn(LDX_W, 4, 3, o.net_inum, 0),
        insn(STX_W, 10, 4, -12, 0),
        insn(ST_DW, 10, 0, -8, 0),
        insn(LDX_DW, 1, 6, 0, 0), // ctx->meta
        insn(LDX_DW, 1, 1, 0, 0), // meta->seq
        insn(MOV64_X, 2, 10, 0, 0),
        insn(ADD64_K, 2, 0, 0, -(RECORD as i32)),
        insn(MOV64_K, 3, 0, 0, RECORD as i32),
        insn(CALL, 0, 0, 0, BPF_FUNC_SEQ_WRITE),
    ];
    let out = p.len() as i16;
    for at in TO_OUT {
        p[at].off = out - at as i16 - 1;
    }
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// Parses the records the program wrote. Pure.
pub fn parse_records(bytes: &[u8]) -> Vec<OpenFile> {
    bytes
        .chunks_exact(RECORD)
        .map(|r| {
            let u32_at = |at: usize| u32::from_ne_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
            OpenFile {
                pid: u32_at(0) as i32,
                fd: u32_at(4) as i32,
                inode: u64::from_ne_bytes([r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]]),
                mode: u32_at(16),
                netns: u32_at(20),
            }
        })
        .collect()
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

/// Every open file of every process, or `None` where the iterator cannot
/// run here (not root, no BTF, an older kernel, another PID namespace):
/// then the caller walks /proc.
///
/// The kernel's BTF is 5 MiB; the few numbers taken from it are kept in
/// `/run/afterlife/` for the rest of the boot (root's, mode 0700), so that
/// only the first call reads it. Every call checks the records against a
/// socket of its own (process, fd, inode, type, namespace); a cache that
/// disagrees is rebuilt from BTF, and a program that still disagrees is not
/// used.
///
/// `AFTERLIFE_PROC_WALK` set to anything but empty or `0` turns the
/// iterator off.
pub fn open_files() -> Option<Vec<OpenFile>> {
    let off = std::env::var_os("AFTERLIFE_PROC_WALK").is_some_and(|v| !v.is_empty() && v != "0");
    if off || !crate::process::in_initial_pid_namespace() {
        return None;
    }
    let probe = std::os::unix::net::UnixDatagram::unbound().ok()?;
    let expected = own_record(&probe)?;
    if let Some((attach, offsets)) = cache::load() {
        if let Some(files) = run(attach, &offsets)
            && files.contains(&expected)
        {
            return Some(files);
        }
        cache::remove();
    }
    let btf = Btf::vmlinux()?;
    let attach = btf.func_id("bpf_iter_task_file")?;
    let offsets = Offsets::from_btf(&btf)?;
    drop(btf);
    let files = run(attach, &offsets)?;
    if !files.contains(&expected) {
        return None;
    }
    cache::store(attach, &offsets);
    Some(files)
}

/// The record the program must write for a socket of our own.
fn own_record(socket: &impl AsFd) -> Option<OpenFile> {
    let fd = socket.as_fd().as_raw_fd();
    let stat = rustix::fs::fstat(socket).ok()?;
    let netns = std::fs::read_link("/proc/self/ns/net").ok()?;
    let netns = crate::resources::sockets::parse_ns_link(netns.as_os_str().as_encoded_bytes())?;
    Some(OpenFile {
        pid: std::process::id() as i32,
        fd,
        inode: stat.st_ino,
        mode: stat.st_mode,
        netns: u32::try_from(netns).ok()?,
    })
}

/// Loads the program, runs the iterator once and parses what it wrote.
fn run(attach: u32, offsets: &Offsets) -> Option<Vec<OpenFile>> {
    let insns = program(offsets);
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
    let mut attr = [0u8; 16];
    put_u32(&mut attr, 0, link.as_raw_fd() as u32);
    let iter = bpf_fd(BPF_ITER_CREATE, &mut attr).ok()?;
    let mut file = std::fs::File::from(iter);
    let mut bytes = Vec::with_capacity(1 << 16);
    std::io::Read::read_to_end(&mut file, &mut bytes).ok()?;
    Some(parse_records(&bytes))
}

/// The numbers taken from BTF, kept for the rest of the boot.
mod cache {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    use std::path::PathBuf;

    use super::Offsets;

    const DIR: &str = "/run/afterlife";

    fn path() -> Option<PathBuf> {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(PathBuf::from(DIR).join(format!("bpf-iter-{}", boot.trim())))
    }

    /// Only root's own files, writable by nobody else, are trusted.
    fn trusted(meta: &std::fs::Metadata) -> bool {
        meta.uid() == 0 && meta.mode() & 0o022 == 0
    }

    pub(super) fn load() -> Option<(u32, Offsets)> {
        if !std::fs::metadata(DIR).is_ok_and(|m| trusted(&m)) {
            return None;
        }
        let path = path()?;
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && trusted(&m)) {
            return None;
        }
        let text = std::fs::read_to_string(path).ok()?;
        let n: Vec<i64> = text.split_whitespace().map(|w| w.parse().ok()).collect::<Option<_>>()?;
        let [attach, a, b, c, d, e, f, g, h] = n[..] else {
            return None;
        };
        let o = |v: i64| i16::try_from(v).ok();
        Some((
            u32::try_from(attach).ok()?,
            Offsets {
                task_pid: o(a)?,
                task_tgid: o(b)?,
                task_nsproxy: o(c)?,
                file_inode: o(d)?,
                inode_ino: o(e)?,
                inode_mode: o(f)?,
                nsproxy_net: o(g)?,
                net_inum: o(h)?,
            },
        ))
    }

    pub(super) fn store(attach: u32, o: &Offsets) {
        let Some(path) = path() else { return };
        if std::fs::DirBuilder::new().mode(0o700).create(DIR).is_err()
            && !std::fs::metadata(DIR).is_ok_and(|m| trusted(&m))
        {
            return;
        }
        let text = format!(
            "{attach} {} {} {} {} {} {} {} {}\n",
            o.task_pid, o.task_tgid, o.task_nsproxy, o.file_inode, o.inode_ino, o.inode_mode, o.nsproxy_net, o.net_inum
        );
        let temp = path.with_extension(format!("{}", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        // A concurrent afterlife may have stored it first: either copy will do.
        if written.is_err() || std::fs::rename(&temp, &path).is_err() {
            let _ = std::fs::remove_file(&temp);
        }
    }

    pub(super) fn remove() {
        if let Some(path) = path() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_the_exit() {
        let o = Offsets {
            task_pid: 1,
            task_tgid: 2,
            task_nsproxy: 3,
            file_inode: 4,
            inode_ino: 5,
            inode_mode: 6,
            nsproxy_net: 7,
            net_inum: 8,
        };
        let p = program(&o);
        let out = p.len() - 2;
        for at in TO_OUT {
            assert_eq!(at as i16 + 1 + p[at].off, out as i16);
        }
        // The socket test skips the fd test and lands on the netns read.
        assert_eq!(p[17 + 1 + 2].code, LDX_DW);
        assert_eq!(p[17 + 1 + 2].off, o.task_nsproxy);
        assert_eq!(p[out].code, MOV64_K);
        assert_eq!(p[out + 1].code, EXIT);
    }

    #[test]
    fn records_parse() {
        let mut bytes = Vec::new();
        bytes.extend(42u32.to_ne_bytes());
        bytes.extend(7u32.to_ne_bytes());
        bytes.extend(123456789u64.to_ne_bytes());
        bytes.extend((libc::S_IFSOCK | 0o777).to_ne_bytes());
        bytes.extend(4026531840u32.to_ne_bytes());
        bytes.extend(0u64.to_ne_bytes());
        bytes.extend([1, 2, 3]); // a torn tail is ignored
        let files = parse_records(&bytes);
        assert_eq!(
            files,
            vec![OpenFile {
                pid: 42,
                fd: 7,
                inode: 123456789,
                mode: libc::S_IFSOCK | 0o777,
                netns: 4026531840,
            }]
        );
        assert!(files[0].is_socket());
    }
}
