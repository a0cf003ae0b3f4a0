//! Every open file of every process in one pass inside the kernel: a BPF
//! `task_file` iterator (Linux 5.8) that writes one record per fd — the
//! process, the fd number, the inode number and mode of the open file, and
//! the process's network namespace. Where it can run (see [`crate::bpf`]),
//! it replaces the walk of every `/proc/PID/fd` for socket look-ups: no
//! directory listing, no path lookup and no text per fd.
//!
//! The kernel skips a thread whose fd table is its main thread's; the
//! program writes every file under its thread-group ID. A process whose
//! main thread has ended (`pthread_exit` in `main`) holds its files through
//! its other threads, each of which the kernel then visits: the same
//! (process, fd, inode) is kept once. Each run is checked against a socket
//! of afterlife's own (process, fd, inode, type, namespace).

use std::os::fd::{AsFd, AsRawFd};

use crate::bpf::asm::*;

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
    /// The thread whose table it is in: the process's ID, but for a
    /// process whose main thread has ended.
    pub tid: i32,
}

impl OpenFile {
    /// Whether the file is a socket.
    pub fn is_socket(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFSOCK
    }
}

/// The record the program writes: 32 bytes.
const RECORD: usize = 32;

member_offsets! {
    /// The member offsets the program reads.
    pub struct Offsets {
        /// `task_struct.pid`.
        task_pid: ("task_struct", "pid"),
        /// `task_struct.tgid`.
        task_tgid: ("task_struct", "tgid"),
        /// `task_struct.nsproxy`.
        task_nsproxy: ("task_struct", "nsproxy"),
        /// `file.f_inode`.
        file_inode: ("file", "f_inode"),
        /// `inode.i_ino`.
        inode_ino: ("inode", "i_ino"),
        /// `inode.i_mode`.
        inode_mode: ("inode", "i_mode"),
        /// `nsproxy.net_ns`.
        nsproxy_net: ("nsproxy", "net_ns"),
        /// `net.ns.inum`.
        net_inum: ("net", "ns") ("ns_common", "inum"),
    }
}

const S_IFMT: i32 = 0o170000;
const S_IFSOCK: i32 = 0o140000;

/// The jumps to the program's end.
const TO_OUT: [usize; 3] = [2, 4, 17];

/// The program: for each (task, file), when the file is a socket or fd 0,
/// 1 or 2, write {tgid u32, fd u32, i_ino u64, i_mode u32, net inum u32,
/// tid u64}. Pure.
pub fn program(o: &Offsets) -> Vec<Insn> {
    // Registers: r6 ctx, r7 file, r8 task; the record at r10-32.
    let mut p = vec![
        insn(MOV64_X, 6, 1, 0, 0),
        insn(LDX_DW, 7, 6, 24, 0), // ctx->file
        insn(JEQ_K, 7, 0, 0, 0),   // patched: to out
        insn(LDX_DW, 8, 6, 8, 0),  // ctx->task
        insn(JEQ_K, 8, 0, 0, 0),   // patched: to out
        insn(LDX_W, 3, 8, o.task_tgid, 0),
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
        // The thread's ID, zero-extended.
        insn(LDX_W, 2, 8, o.task_pid, 0),
        insn(STX_DW, 10, 2, -8, 0),
    ];
    p.extend(seq_write_stack(6, RECORD as i32));
    patch_to_end(&mut p, &TO_OUT);
    p.extend(exit_zero());
    p
}

/// Parses the records the program wrote, each (process, fd, inode) once:
/// the threads of a process whose main thread ended, which the kernel
/// visits one by one, share one table. Pure.
#[cfg(test)]
fn parse_records(bytes: &[u8]) -> Vec<OpenFile> {
    kept_records(bytes, |_| true)
}

/// The records a caller keeps ([`Kept`]), as [`open_files`] keeps them
/// while it reads. Pure.
#[cfg(test)]
fn kept_records(bytes: &[u8], keep: impl Fn(&OpenFile) -> bool) -> Vec<OpenFile> {
    let mut kept = Kept::new(keep);
    for record in bytes.chunks_exact(RECORD) {
        kept.offer(record);
    }
    kept.files
}

/// What a caller keeps of the records as they come: each (process, fd,
/// inode) once (the threads of a process whose main thread ended, which
/// the kernel visits one by one, share one table), and of those the first
/// of each process (it was seen, in that network namespace) and the
/// others `keep` accepts.
struct Kept<F> {
    keep: F,
    /// The (process, fd, inode) read through threads other than the main one.
    from_threads: std::collections::HashSet<(i32, i32, u64)>,
    last: Option<i32>,
    files: Vec<OpenFile>,
}

impl<F: Fn(&OpenFile) -> bool> Kept<F> {
    fn new(keep: F) -> Kept<F> {
        Kept {
            keep,
            from_threads: std::collections::HashSet::new(),
            last: None,
            files: Vec::new(),
        }
    }

    /// One record of [`RECORD`] bytes: what it says, or `None` where
    /// another thread of its process gave it already. Pure.
    fn offer(&mut self, r: &[u8]) -> Option<OpenFile> {
        let u32_at = |at: usize| u32::from_ne_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
        let file = OpenFile {
            pid: u32_at(0) as i32,
            fd: u32_at(4) as i32,
            inode: u64::from_ne_bytes([r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]]),
            mode: u32_at(16),
            netns: u32_at(20),
            tid: u32_at(24) as i32,
        };
        let leader = file.tid == file.pid;
        if !leader && !self.from_threads.insert((file.pid, file.fd, file.inode)) {
            return None;
        }
        let first = self.last != Some(file.pid);
        self.last = Some(file.pid);
        if first || (self.keep)(&file) {
            self.files.push(file);
        }
        Some(file)
    }
}

/// The open files of every process, or `None` where the iterator cannot
/// run here (not root, no BTF, an older kernel, another PID namespace, or
/// turned off): then the caller walks /proc. Of each process the first
/// record stays, and of the others those `keep` accepts; the records are
/// read 64 KiB at a time, so a machine's sockets are never all held (the
/// 18,000 records of the benchmark's normal case took 0.6 MiB, twice).
pub fn open_files(keep: impl Fn(&OpenFile) -> bool) -> Option<Vec<OpenFile>> {
    if !crate::bpf::allowed() {
        return None;
    }
    let probe = std::os::unix::net::UnixDatagram::unbound().ok()?;
    let expected = own_record(&probe)?;
    let (_, files) = crate::bpf::load_checked_by("task-file", "bpf_iter_task_file", program, |iterator| {
        let mut kept = Kept::new(&keep);
        let mut own = false;
        iterator.read_records(RECORD, |record| own |= kept.offer(record) == Some(expected))?;
        Ok(own.then_some(kept.files))
    })?;
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
        tid: std::process::id() as i32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::MemberOffsets;

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
        assert_eq!(Offsets::decode(&o.encode()), Some(o));
        for at in TO_OUT {
            assert_eq!(at as i16 + 1 + p[at].off, out as i16);
        }
        // The socket test skips the fd test and lands on the netns read.
        assert_eq!(p[15 + 1 + 2].code, LDX_DW);
        assert_eq!(p[15 + 1 + 2].off, o.task_nsproxy);
        assert_eq!(p[out].code, MOV64_K);
        assert_eq!(p[out + 1].code, EXIT);
    }

    #[test]
    fn records_parse() {
        let record = |tid: u64| {
            let mut bytes = Vec::new();
            bytes.extend(42u32.to_ne_bytes());
            bytes.extend(7u32.to_ne_bytes());
            bytes.extend(123456789u64.to_ne_bytes());
            bytes.extend((libc::S_IFSOCK | 0o777).to_ne_bytes());
            bytes.extend(4026531840u32.to_ne_bytes());
            bytes.extend(tid.to_ne_bytes());
            bytes
        };
        // Two threads of a process whose main thread ended, one table.
        let mut bytes = record(43);
        bytes.extend(record(44));
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
                tid: 43,
            }]
        );
        assert!(files[0].is_socket());
    }

    #[test]
    fn of_each_process_the_first_record_stays_and_the_kept_ones() {
        let record = |pid: u32, fd: u32, inode: u64| {
            let mut bytes = Vec::new();
            bytes.extend(pid.to_ne_bytes());
            bytes.extend(fd.to_ne_bytes());
            bytes.extend(inode.to_ne_bytes());
            bytes.extend((libc::S_IFSOCK | 0o777).to_ne_bytes());
            bytes.extend(4026531840u32.to_ne_bytes());
            bytes.extend(u64::from(pid).to_ne_bytes());
            bytes
        };
        let bytes: Vec<u8> = [record(10, 0, 1), record(10, 3, 2), record(10, 4, 9), record(11, 5, 3)].concat();
        let kept: Vec<(i32, i32)> = kept_records(&bytes, |file| file.inode == 9)
            .iter()
            .map(|file| (file.pid, file.fd))
            .collect();
        assert_eq!(kept, vec![(10, 0), (10, 4), (11, 5)]);
        assert_eq!(kept_records(&bytes, |_| true), parse_records(&bytes));
    }
}
