//! The fast walk of every process's fds: one `readlinkat` per fd relative to
//! an open `/proc/PID/fd` directory, compared against what is looked for,
//! nothing else per fd until one matches; processes spread over the cores.
//!
//! Kernel facts relied on (proc_pid_fd(5)): the fd directory lists one
//! symlink per open fd; `readlink` of it names the target (`socket:[INODE]`,
//! a path, ...). Opening another user's fd directory needs ptrace read access
//! (`EACCES` otherwise). A process that exits mid-walk makes `openat` fail
//! with `ENOENT` and `getdents`/`readlinkat` with `ENOENT`/`ESRCH`: it is
//! skipped. The fd directory of a process that is dumpable but whose
//! credentials differ from the reader's (a saved UID of 0 after
//! `setresuid`, say) can be listed, for its owner is the process's
//! effective UID, while each `readlinkat` in it fails with `EACCES`
//! (`proc_fd_access_allowed` asks for ptrace read access): such a process
//! is unreadable too, not one with no fds.

use std::ffi::CStr;
use std::io::Write;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::{CWD, Mode, OFlags, RawDir, openat};
use serde::Serialize;

use crate::bpf::task_file::OpenFile;
use crate::process::Pid;

/// Where in a process a match was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// An open fd.
    Fd(i32),
    /// The working directory.
    Cwd,
    /// The root directory.
    Root,
    /// The executable.
    Exe,
}

/// One matching link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The process.
    pub pid: Pid,
    /// Where.
    pub slot: Slot,
    /// What the matcher returned for the link (an index into the caller's list).
    pub needle: u32,
    /// The link target.
    pub link: Vec<u8>,
    /// The thread it was read through, when the main thread has ended
    /// while others run (its `/proc/PID/fd` is empty).
    pub thread: Option<i32>,
}

impl Hit {
    /// The `/proc` link this hit was read from: `/proc/PID/fd/FD` (through
    /// the thread it was read through), `cwd`, `root` or `exe`.
    pub fn link_path(&self) -> String {
        let base = match self.thread {
            Some(tid) => format!("/proc/{}/task/{tid}", self.pid),
            None => format!("/proc/{}", self.pid),
        };
        match self.slot {
            Slot::Fd(fd) => format!("{base}/fd/{fd}"),
            Slot::Cwd => format!("{base}/cwd"),
            Slot::Root => format!("{base}/root"),
            Slot::Exe => format!("{base}/exe"),
        }
    }

    /// `/proc/PID/KIND/FD` (`fd`, `fdinfo`) of this hit's fd, through the
    /// thread it was read through.
    pub fn fd_file(&self, kind: &str, fd: i32) -> String {
        match self.thread {
            Some(tid) => format!("/proc/{}/task/{tid}/{kind}/{fd}", self.pid),
            None => format!("/proc/{}/{kind}/{fd}", self.pid),
        }
    }
}

/// What a walk reads besides the fds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Also match cwd, root and exe.
    pub process_links: bool,
    /// Note each process's network namespace (`ns/net`).
    pub netns: bool,
}

/// The result of a walk.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// The network namespace of each readable process (with `Options::netns`).
    pub netns: Vec<(Pid, u64)>,
    /// Every match, sorted by PID and slot.
    pub hits: Vec<Hit>,
    /// Processes whose fds could not be read (permission denied).
    pub unreadable: Vec<Pid>,
    /// Processes whose fds were read.
    pub scanned: usize,
}

/// Every PID in /proc now.
pub fn all_pids() -> Vec<Pid> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<Pid> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()).and_then(Pid::new))
        .collect();
    pids.sort();
    pids
}

/// How many threads to use for `work` items: two per core, because a walk
/// thread often waits inside the kernel (a /proc lookup that allocates a
/// dentry) and another can use the core meanwhile. Measured on 2 cores with
/// 1,000 processes: 19.7 ms with one thread per core, 18.1 ms with two.
fn threads_for(work: usize) -> usize {
    if work < 64 {
        return 1;
    }
    // Asked only here: std reads the affinity mask and the cgroup's CPU
    // quota files each time, which a small walk (`run`'s leftovers) skips.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).clamp(1, 8)
}

/// Runs `each` over `items` on every core; results in item order.
///
/// The result slots are allocated up front by the calling thread, so the
/// other workers allocate nothing of their own (no per-thread malloc arena:
/// the peak memory stays that of one thread).
pub fn parallel_map<T: Sync, R: Send + Sync>(items: &[T], each: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads_for(items.len());
    if threads == 1 {
        return items.iter().map(each).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<OnceLock<R>> = (0..items.len()).map(|_| OnceLock::new()).collect();
    const CHUNK: usize = 8;
    let work = || {
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= items.len() {
                break;
            }
            for (item, slot) in items.iter().zip(&slots).skip(start).take(CHUNK) {
                let _ = slot.set(each(item));
            }
        }
    };
    // The calling thread works too: one thread fewer to start.
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    // Every slot was set: the workers cover every index before they stop.
    slots.into_iter().filter_map(OnceLock::into_inner).collect()
}

/// What one process gave.
enum PerProcess {
    Gone,
    Unreadable,
    Read(Vec<Hit>, Option<u64>),
}

/// Walks the fds (and, with `process_links`, cwd, root and exe) of `pids`,
/// calling `matcher` on each link target; a `Some(n)` keeps the link as a
/// [`Hit`] with `needle: n`.
pub fn walk<M>(pids: &[Pid], options: Options, matcher: M) -> Walk
where
    M: Fn(&[u8]) -> Option<u32> + Sync,
{
    walk_fds(pids, options, matcher)
}

fn walk_fds<M>(pids: &[Pid], options: Options, matcher: M) -> Walk
where
    M: Fn(&[u8]) -> Option<u32> + Sync,
{
    let proc_dir = match openat(
        CWD,
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(_) => return Walk::default(),
    };
    let per = parallel_map(pids, |&pid| scan_one(&proc_dir, pid, options, &matcher));
    let mut walk = Walk::default();
    for (pid, result) in pids.iter().zip(per) {
        match result {
            PerProcess::Gone => {}
            PerProcess::Unreadable => walk.unreadable.push(*pid),
            PerProcess::Read(hits, netns) => {
                walk.scanned += 1;
                walk.hits.extend(hits);
                if let Some(netns) = netns {
                    walk.netns.push((*pid, netns));
                }
            }
        }
    }
    walk
}

/// Like [`walk`] for socket links, from the records of the BPF iterator
/// ([`crate::bpf::task_file`]): each socket fd it saw becomes the link
/// `socket:[INODE]` given to `matcher`, and its network namespace comes
/// with it. The processes of `pids` it did not show (kernel threads and
/// zombies, which hold no fds, and any process whose files it cannot see)
/// are walked through /proc as before, so nothing is missed.
pub fn walk_open_files<M>(pids: &[Pid], files: &[OpenFile], options: Options, matcher: M) -> Walk
where
    M: Fn(&[u8]) -> Option<u32> + Sync,
{
    let mut walk = Walk::default();
    let mut seen: std::collections::HashMap<i32, u32> = std::collections::HashMap::new();
    let mut link = Vec::with_capacity(32);
    for file in files {
        seen.entry(file.pid).or_insert(file.netns);
        if !file.is_socket() {
            continue;
        }
        link.clear();
        let _ = write!(link, "socket:[{}]", file.inode);
        if let (Some(pid), Some(needle)) = (Pid::new(file.pid), matcher(&link)) {
            walk.hits.push(Hit {
                pid,
                slot: Slot::Fd(file.fd),
                needle,
                link: link.clone(),
                thread: (file.tid != file.pid).then_some(file.tid),
            });
        }
    }
    walk.scanned = seen.len();
    if options.netns {
        walk.netns = seen
            .iter()
            .filter_map(|(&pid, &netns)| Some((Pid::new(pid)?, u64::from(netns))))
            .collect();
    }
    let rest: Vec<Pid> = pids.iter().copied().filter(|p| !seen.contains_key(&p.get())).collect();
    let more = walk_fds(&rest, options, matcher);
    walk.hits.extend(more.hits);
    walk.netns.extend(more.netns);
    walk.unreadable = more.unreadable;
    walk.scanned += more.scanned;
    walk.hits.sort_by_key(|h| (h.pid, h.slot));
    walk.netns.sort();
    walk
}

/// Reads one process's links. A process whose main thread has ended while
/// others run (`pthread_exit` in `main`) shows an empty `/proc/PID/fd`
/// (the main thread's files are gone); its table is read through a
/// thread still running.
fn scan_one<M>(proc_dir: &OwnedFd, pid: Pid, options: Options, matcher: &M) -> PerProcess
where
    M: Fn(&[u8]) -> Option<u32>,
{
    match scan_table(proc_dir, pid, None, options, matcher) {
        // A kernel thread's fd directory is root's alone, and it has no
        // fds: nothing unseen there.
        (PerProcess::Unreadable, _) if kernel_thread(pid) => PerProcess::Read(Vec::new(), None),
        (read @ PerProcess::Unreadable, _) | (read, true) => read,
        (read, false) => match live_thread(proc_dir, pid) {
            Some(tid) => scan_table(proc_dir, pid, Some(tid), options, matcher).0,
            None => read,
        },
    }
}

/// Whether `pid` is a kernel thread (`PF_KTHREAD` in `/proc/PID/stat`,
/// which anyone may read). Gone or unreadable: no.
fn kernel_thread(pid: Pid) -> bool {
    crate::proc::stat::read(pid).is_ok_and(|stat| stat.flags & crate::proc::stat::PF_KTHREAD != 0)
}

/// A thread of `pid` other than its main thread, when the main thread has
/// ended: `/proc/PID/task` then holds more than the main thread (its link
/// count is the threads plus two) and the main thread is a zombie.
fn live_thread(proc_dir: &OwnedFd, pid: Pid) -> Option<i32> {
    let task = format!("{pid}/task");
    let threads = rustix::fs::statat(proc_dir, task.as_str(), rustix::fs::AtFlags::empty())
        .ok()?
        .st_nlink
        .saturating_sub(2);
    if threads < 2 {
        return None;
    }
    crate::process::live_thread_of(pid)
}

/// `PID`, or a thread's `PID/task/TID`, relative to /proc.
#[derive(Clone, Copy)]
struct ProcDir {
    pid: Pid,
    thread: Option<i32>,
}

impl ProcDir {
    /// `DIR/ENTRY` as a C string in `buffer`, with no allocation (the walk
    /// does this for every process).
    fn path<'a>(self, buffer: &'a mut [u8], entry: &str) -> Option<&'a CStr> {
        let mut cursor = &mut buffer[..];
        match self.thread {
            Some(tid) => write!(cursor, "{}/task/{tid}/{entry}\0", self.pid),
            None => write!(cursor, "{}/{entry}\0", self.pid),
        }
        .ok()?;
        CStr::from_bytes_until_nul(buffer).ok()
    }
}

/// Reads the links of `pid` through `/proc/PID` (or the thread's
/// `/proc/PID/task/TID`); also whether any fd was open.
fn scan_table<M>(proc_dir: &OwnedFd, pid: Pid, thread: Option<i32>, options: Options, matcher: &M) -> (PerProcess, bool)
where
    M: Fn(&[u8]) -> Option<u32>,
{
    let at = ProcDir { pid, thread };
    let mut hits = Vec::new();
    let mut link = [0u8; 4096];
    let mut name = [0u8; 48];
    // A link refused (EACCES/EPERM) leaves the process unseen: no ptrace
    // read access, so none of its links could be read.
    let denied = std::cell::Cell::new(false);
    if options.process_links {
        for (entry, slot) in [("cwd", Slot::Cwd), ("root", Slot::Root), ("exe", Slot::Exe)] {
            if let Some(c) = at.path(&mut name, entry)
                && let Some(target) = link_or_note(read_link_at(proc_dir.as_fd(), c, &mut link), &denied)
                && let Some(needle) = matcher(target)
            {
                hits.push(Hit {
                    pid,
                    slot,
                    needle,
                    link: target.to_vec(),
                    thread,
                });
            }
        }
    }
    let Some(path) = at.path(&mut name, "fd") else {
        return (PerProcess::Gone, false);
    };
    let fd_dir = match openat(
        proc_dir,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::ACCESS) | Err(rustix::io::Errno::PERM) => return (PerProcess::Unreadable, false),
        // ENOENT/ESRCH: the process exited after the listing; skip it.
        Err(_) => return (PerProcess::Gone, false),
    };
    let dir = fd_dir.as_fd();
    let found = std::cell::Cell::new(0usize);
    // One fd: read its link and keep it if it matches. `false` if it is not
    // open (never was, or closed since).
    let mut check = |file: &CStr, fd: i32| -> bool {
        let Some(target) = link_or_note(read_link_at(dir, file, &mut link), &denied) else {
            return false;
        };
        found.set(found.get() + 1);
        if let Some(needle) = matcher(target) {
            hits.push(Hit {
                pid,
                slot: Slot::Fd(fd),
                needle,
                link: target.to_vec(),
                thread,
            });
        }
        true
    };
    // The directory is listed; a table too large for the first, small
    // listing is then read by number where it is dense: listing looks every
    // entry up (proc_fill_cache) before readlinkat looks it up again. Fds
    // below `skip_below` were read by number and are skipped in the listing.
    let mut buf = DirentBuffer([MaybeUninit::uninit(); DIRENT_BUF]);
    let mut skip_below: i32 = -1;
    let mut first = true;
    loop {
        let len = if first { FIRST_LISTING } else { DIRENT_BUF };
        // One getdents64 of at most `len` bytes: a fresh RawDir reads once
        // when first asked, and its buffer is empty again after the last
        // entry that read returned. It goes on from the directory's offset.
        let mut listing = RawDir::new(dir, &mut buf.0[..len]);
        let mut n = 0;
        let mut last = -1;
        // ENOENT/ESRCH mid-listing (an error): the process exited; what was
        // seen stays. None: the listing is complete.
        while let Some(Ok(entry)) = listing.next() {
            let file = entry.file_name();
            let name = file.to_bytes();
            n += dirent_len(name.len());
            if name.first() != Some(&b'.') {
                let fd = fd_number(name);
                last = fd;
                // ENOENT: closed after the listing.
                if fd > skip_below {
                    check(file, fd);
                }
            }
            if listing.is_buffer_empty() || denied.get() {
                break;
            }
        }
        if n == 0 || denied.get() {
            break;
        }
        // /proc/PID/fd fills the buffer until no entry fits: room left for
        // another entry means the listing is complete, which saves the
        // getdents64 that would return 0.
        if len - n >= MAX_FD_DIRENT {
            break;
        }
        if first && fd_count_in_size() {
            // Linux 6.2+: st_size of the fd directory is the number of open fds.
            let count = rustix::fs::fstat(&fd_dir).map_or(0, |st| st.st_size.max(0) as usize);
            let mut number = [0u8; 16];
            let mut next = last.saturating_add(1);
            let mut holes = 0;
            while found.get() < count && holes <= PROBE_HOLES && !denied.get() {
                let mut cursor = &mut number[..];
                if write!(cursor, "{next}\0").is_err() {
                    break;
                }
                let open = CStr::from_bytes_until_nul(&number).is_ok_and(|file| check(file, next));
                if !open {
                    holes += 1;
                }
                skip_below = next;
                next = next.saturating_add(1);
            }
            // The count is a hint, not a stop: it was taken once, while
            // the descriptors seen were each seen at its own moment, so on
            // a table that changes meanwhile the two need not agree. The
            // listing goes on from the first number not read (the
            // directory's position is the fd number plus 2); where every
            // fd was read that is one getdents64 that finds nothing. (If
            // the seek fails, it goes on from where the first listing
            // stopped, skipping what was read by number.)
            let _ = rustix::fs::seek(&fd_dir, rustix::fs::SeekFrom::Start(fd_position(next)));
        }
        first = false;
    }
    if denied.get() {
        return (PerProcess::Unreadable, false);
    }
    let any_fd = found.get() > 0;
    // The namespace matters only for processes with fds (not zombies or
    // kernel threads).
    let mut netns = None;
    if options.netns
        && any_fd
        && let Some(path) = at.path(&mut name, "ns/net")
    {
        // EACCES (another user's process) or gone: no namespace noted.
        netns = read_link_at(proc_dir.as_fd(), path, &mut link)
            .ok()
            .and_then(crate::resources::sockets::parse_ns_link);
    }
    (PerProcess::Read(hits, netns), any_fd)
}

/// Whether `st_size` of `/proc/PID/fd` is the number of open fds (Linux
/// 6.2 and later; 0 before).
fn fd_count_in_size() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        let uname = rustix::system::uname();
        let release = uname.release().to_string_lossy();
        kernel_at_least(&release, 6, 2)
    })
}

/// Whether a kernel release string (`6.18.44-foo`) is at least MAJOR.MINOR. Pure.
pub fn kernel_at_least(release: &str, major: u32, minor: u32) -> bool {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let got_major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let got_minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (got_major, got_minor) >= (major, minor)
}

/// The first listing of an fd directory: about 80 entries. A table that
/// does not fit is read on by number.
const FIRST_LISTING: usize = 2048;

/// How many missing fd numbers the probing of a fd table passes before it
/// lists the directory instead.
pub const PROBE_HOLES: usize = 8;

/// The getdents64 buffer: about 300 fds per call.
const DIRENT_BUF: usize = 8192;
/// The largest `linux_dirent64` of an fd entry: 19 bytes of header, up to 10
/// digits and a NUL, rounded up to 8.
const MAX_FD_DIRENT: usize = 32;

/// A getdents64 buffer, aligned for `linux_dirent64` (so that `RawDir`
/// uses all of it).
#[repr(C, align(8))]
struct DirentBuffer([MaybeUninit<u8>; DIRENT_BUF]);

/// The bytes getdents64 uses for an entry whose name is `name_len` bytes:
/// 19 bytes of header, the name and its NUL, rounded up to 8
/// (`filldir64` in fs/readdir.c). Pure.
fn dirent_len(name_len: usize) -> usize {
    (19 + name_len + 1).next_multiple_of(8)
}

/// The position in `/proc/PID/fd` of the entry for fd `fd`: the fd number
/// plus 2, after `.` and `..` (`proc_readfd_common`). Pure.
fn fd_position(fd: i32) -> u64 {
    u64::try_from(fd).unwrap_or(0).saturating_add(2)
}

/// The fd number an fd directory entry names; -1 for anything else. Pure.
fn fd_number(name: &[u8]) -> i32 {
    std::str::from_utf8(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}

/// readlinkat(2) into `buf`.
fn read_link_at<'b>(dir: BorrowedFd<'_>, name: &CStr, buf: &'b mut [u8; 4096]) -> Result<&'b [u8], rustix::io::Errno> {
    let n = rustix::fs::readlinkat_raw(dir, name, &mut buf[..])?;
    buf.get(..n).ok_or(rustix::io::Errno::NAMETOOLONG)
}

/// The link read, or `None`: gone (`ENOENT`/`ESRCH`: closed or exited
/// meanwhile) or refused, which is noted in `denied`.
fn link_or_note<'b>(read: Result<&'b [u8], rustix::io::Errno>, denied: &std::cell::Cell<bool>) -> Option<&'b [u8]> {
    match read {
        Ok(target) => Some(target),
        Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => {
            denied.set(true);
            None
        }
        Err(_) => None,
    }
}

/// Parses the inode of a `socket:[INODE]` link. Pure.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_entries_are_sized_and_numbered() {
        // The kernel's record lengths: "." is 24 bytes, "1048575" 32.
        assert_eq!(dirent_len(1), 24);
        assert_eq!(dirent_len(4), 24);
        assert_eq!(dirent_len(5), 32);
        assert_eq!(dirent_len(7), 32);
        // The largest fd entry (10 digits) fits what the listing expects.
        assert!(dirent_len("4294967295".len()) <= MAX_FD_DIRENT);
        assert_eq!(fd_number(b"255"), 255);
        assert_eq!(fd_number(b"x"), -1);
        // After "." and "..", fd N is at position N + 2.
        assert_eq!(fd_position(0), 2);
        assert_eq!(fd_position(255), 257);
    }

    /// The fds a walk found open.
    fn fds_seen(result: &Walk) -> std::collections::HashSet<i32> {
        result
            .hits
            .iter()
            .filter_map(|h| match h.slot {
                Slot::Fd(fd) => Some(fd),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn walks_its_own_fds_past_the_first_listing() {
        // More fds than the first, small listing holds: the rest is read by
        // number or by listing on, and every one is seen.
        let mut files: Vec<OwnedFd> = (0..200)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap().into())
            .collect();
        // And one far above the rest: the probing by number meets holes and
        // lists on.
        let far = rustix::io::fcntl_dupfd_cloexec(&files[0], 900).ok();
        let far_fd = far.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
        files.extend(far);
        let me = Pid::current();
        let wanted: Vec<i32> = files.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
        // Other tests of this process open and close descriptors while the
        // table is read; one walk of the three must see every one of ours.
        let all_seen = (0..3).any(|_| {
            let result = walk(&[me], Options::default(), |link| link.ends_with(b"/stat").then_some(7));
            assert_eq!(result.scanned, 1);
            let seen = fds_seen(&result);
            // (The far one only where the fd limit reaches 900.)
            wanted.iter().all(|fd| seen.contains(fd)) && far_fd.is_none_or(|fd| seen.contains(&fd))
        });
        assert!(all_seen);
    }

    #[test]
    fn a_churning_table_never_hides_a_descriptor_that_stays_open() {
        // A busy server opens and closes descriptors while its table is
        // read: whatever the count says meanwhile, every descriptor open
        // for the whole walk is seen, in every walk. A few are closed in the
        // middle: the holes are where new descriptors go, so the count
        // moves while the table is read past them. (300: other tests of
        // this process hold fds too, and the soft limit may be 1,024.)
        let files: Vec<OwnedFd> = (0..300)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap().into())
            .enumerate()
            .filter_map(|(i, fd)| (!(250..255).contains(&i)).then_some(fd))
            .collect();
        let wanted: Vec<i32> = files.iter().map(std::os::fd::AsRawFd::as_raw_fd).collect();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let transient: Vec<std::fs::File> =
                        (0..5).filter_map(|_| std::fs::File::open("/dev/null").ok()).collect();
                    drop(transient);
                }
            });
            for _ in 0..200 {
                let result = walk(&[Pid::current()], Options::default(), |link| {
                    link.ends_with(b"/stat").then_some(7)
                });
                let seen = fds_seen(&result);
                let missed: Vec<&i32> = wanted.iter().filter(|fd| !seen.contains(fd)).collect();
                if !missed.is_empty() {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    panic!("missed {missed:?}");
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }

    #[test]
    fn kernel_releases_compare() {
        assert!(kernel_at_least("6.18.44-fc-v669", 6, 2));
        assert!(kernel_at_least("6.2.0", 6, 2));
        assert!(!kernel_at_least("6.1.90", 6, 2));
        assert!(!kernel_at_least("5.15.0-generic", 6, 2));
        assert!(kernel_at_least("7.0", 6, 2));
        assert!(!kernel_at_least("", 6, 2));
    }

    #[test]
    fn socket_inodes_parse() {
        assert_eq!(socket_inode(b"socket:[123]"), Some(123));
        assert_eq!(socket_inode(b"socket:[]"), Some(0));
        assert_eq!(socket_inode(b"pipe:[123]"), None);
        assert_eq!(socket_inode(b"socket:[12a]"), None);
    }
}
