//! Open file descriptors of a process: what each one is, how it was opened,
//! and whether it survives `exec`.
//!
//! Kernel facts relied on (proc_pid_fd(5), proc_pid_fdinfo(5)):
//! - `readlink(/proc/PID/fd/N)` names the target: a path (with ` (deleted)`
//!   appended once unlinked), `socket:[INODE]`, `pipe:[INODE]`,
//!   `anon_inode:[eventfd]` and the other anonymous inodes, `/memfd:NAME`.
//! - `/proc/PID/fdinfo/N` has `pos:` (decimal), `flags:` (octal open flags:
//!   access mode in the low two bits, `O_CLOEXEC` is `02000000`), `mnt_id:`
//!   and `ino:` (Linux 5.14).
//! - `stat("/proc/PID/fd").st_size` is the number of open fds on Linux 6.2
//!   and later (0 before), the cheapest way to count them.
//!
//! Reading another user's fds needs ptrace read access; a process or fd that
//! vanishes mid-read is skipped, not an error. A dumpable process whose
//! credentials differ from the reader's (a saved UID of 0 after
//! `setresuid`) has an fd directory the reader may list, for it is owned
//! by the process's effective UID, while every link in it is refused
//! (`EACCES` from `proc_fd_access_allowed`): that is a refusal to read its
//! fds, not an empty table.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::process::{Pid, ReadError};
use crate::resources::locks::{self, Lock};

pub use crate::proc::fdinfo::{Access, FdInfo};

/// What an fd refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FdKind {
    /// A regular file.
    File,
    /// A regular file that has been unlinked but is still open.
    DeletedFile,
    /// A directory.
    Directory,
    /// An anonymous pipe.
    Pipe,
    /// A named pipe.
    Fifo,
    /// A socket (which kind is known only from sock_diag or /proc/net).
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// `eventfd(2)`.
    Eventfd,
    /// `epoll_create(2)`.
    Epoll,
    /// `timerfd_create(2)`.
    Timerfd,
    /// `signalfd(2)`.
    Signalfd,
    /// `inotify_init(2)`.
    Inotify,
    /// `fanotify_init(2)`.
    Fanotify,
    /// `pidfd_open(2)` or `CLONE_PIDFD`.
    Pidfd,
    /// `io_uring_setup(2)`.
    IoUring,
    /// `memfd_create(2)`.
    Memfd,
    /// Another anonymous inode (bpf map, perf event, userfaultfd, ...).
    OtherAnon,
    /// Anything else.
    Other,
}

impl FdKind {
    /// Every kind, in a stable order (for per-kind tables and gauges).
    pub const ALL: [FdKind; 19] = [
        FdKind::File,
        FdKind::DeletedFile,
        FdKind::Directory,
        FdKind::Pipe,
        FdKind::Fifo,
        FdKind::Socket,
        FdKind::CharDevice,
        FdKind::BlockDevice,
        FdKind::Eventfd,
        FdKind::Epoll,
        FdKind::Timerfd,
        FdKind::Signalfd,
        FdKind::Inotify,
        FdKind::Fanotify,
        FdKind::Pidfd,
        FdKind::IoUring,
        FdKind::Memfd,
        FdKind::OtherAnon,
        FdKind::Other,
    ];

    /// The kind's name as in JSON and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            FdKind::File => "file",
            FdKind::DeletedFile => "deleted_file",
            FdKind::Directory => "directory",
            FdKind::Pipe => "pipe",
            FdKind::Fifo => "fifo",
            FdKind::Socket => "socket",
            FdKind::CharDevice => "char_device",
            FdKind::BlockDevice => "block_device",
            FdKind::Eventfd => "eventfd",
            FdKind::Epoll => "epoll",
            FdKind::Timerfd => "timerfd",
            FdKind::Signalfd => "signalfd",
            FdKind::Inotify => "inotify",
            FdKind::Fanotify => "fanotify",
            FdKind::Pidfd => "pidfd",
            FdKind::IoUring => "io_uring",
            FdKind::Memfd => "memfd",
            FdKind::OtherAnon => "other_anon",
            FdKind::Other => "other",
        }
    }
}

/// What the link target alone says about an fd; paths still need a `stat`
/// to tell a file from a directory, a FIFO or a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// `socket:[INODE]`.
    Socket(u64),
    /// `pipe:[INODE]`.
    Pipe(u64),
    /// An anonymous inode of a known kind.
    Anon(FdKind),
    /// `/memfd:NAME (deleted)`.
    Memfd(String),
    /// A path; `deleted` when the kernel appended ` (deleted)`.
    Path {
        /// The path, without the ` (deleted)` suffix.
        path: Vec<u8>,
        /// Whether the file was unlinked.
        deleted: bool,
    },
    /// Anything else (`net:[...]`, `mnt:[...]`, ...).
    Other,
}

/// Reads a `/proc/PID/fd/N` link target. Pure: no syscalls.
pub fn parse_link(target: &[u8]) -> LinkTarget {
    fn bracketed(rest: &[u8]) -> Option<u64> {
        let inner = rest.strip_prefix(b"[")?.strip_suffix(b"]")?;
        std::str::from_utf8(inner).ok()?.parse().ok()
    }
    if let Some(rest) = target.strip_prefix(b"socket:") {
        return bracketed(rest).map_or(LinkTarget::Other, LinkTarget::Socket);
    }
    if let Some(rest) = target.strip_prefix(b"pipe:") {
        return bracketed(rest).map_or(LinkTarget::Other, LinkTarget::Pipe);
    }
    if let Some(rest) = target.strip_prefix(b"anon_inode:") {
        let name = rest
            .strip_prefix(b"[")
            .and_then(|r| r.strip_suffix(b"]"))
            .unwrap_or(rest);
        let kind = match name {
            b"eventfd" => FdKind::Eventfd,
            b"eventpoll" => FdKind::Epoll,
            b"timerfd" => FdKind::Timerfd,
            b"signalfd" => FdKind::Signalfd,
            b"inotify" => FdKind::Inotify,
            b"fanotify" => FdKind::Fanotify,
            b"pidfd" => FdKind::Pidfd,
            b"io_uring" => FdKind::IoUring,
            _ => FdKind::OtherAnon,
        };
        return LinkTarget::Anon(kind);
    }
    // pidfs (Linux 6.9+) may name pidfds `pidfd:[INODE]`.
    if target.starts_with(b"pidfd:") {
        return LinkTarget::Anon(FdKind::Pidfd);
    }
    if let Some(rest) = target.strip_prefix(b"/memfd:") {
        let name = rest.strip_suffix(b" (deleted)").unwrap_or(rest);
        return LinkTarget::Memfd(String::from_utf8_lossy(name).into_owned());
    }
    // A file whose path is too long to read is a file all the same.
    if target.starts_with(b"/") || target == PATH_TOO_LONG.as_bytes() {
        return match target.strip_suffix(b" (deleted)") {
            Some(path) => LinkTarget::Path {
                path: path.to_vec(),
                deleted: true,
            },
            None => LinkTarget::Path {
                path: target.to_vec(),
                deleted: false,
            },
        };
    }
    LinkTarget::Other
}

/// One open fd of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fd {
    /// The fd number.
    pub fd: i32,
    /// What it refers to.
    pub kind: FdKind,
    /// The link target as the kernel shows it (paths without ` (deleted)`).
    pub target: String,
    /// The inode of a socket or pipe (matches sock_diag and /proc/net).
    pub inode: Option<u64>,
    /// Access mode.
    pub access: Access,
    /// Whether it is closed on `exec`.
    pub cloexec: bool,
    /// File offset.
    pub offset: u64,
    /// The locks this fd holds, from its fdinfo's `lock:` lines. Not in the
    /// JSON: a snapshot lists locks once, with their path, in `locks`.
    #[serde(skip)]
    pub locks: Vec<Lock>,
}

/// Counts the open fds of `pid` cheaply: `st_size` of `/proc/PID/fd` on
/// Linux 6.2+, else by listing the directory.
/// An empty table may be a process whose main thread has ended: its fds
/// are then counted through a thread that runs.
pub fn count(pid: Pid) -> Result<usize, ReadError> {
    match count_in(pid, &format!("/proc/{pid}"))? {
        0 => count_in(pid, &crate::process::files_dir(pid)),
        n => Ok(n),
    }
}

fn count_in(pid: Pid, files: &str) -> Result<usize, ReadError> {
    let dir = format!("{files}/fd");
    let meta = std::fs::metadata(&dir).map_err(|e| ReadError::from_io(pid, "fd", e))?;
    if meta.len() > 0 {
        return Ok(meta.len() as usize);
    }
    let entries = std::fs::read_dir(&dir).map_err(|e| ReadError::from_io(pid, "fd", e))?;
    Ok(entries.count())
}

/// Lists every open fd of `pid` with its kind, target, access mode,
/// `O_CLOEXEC` and offset. Fds closed during the walk are skipped. A
/// process whose main thread has ended is read through a thread that runs.
pub fn list(pid: Pid) -> Result<Vec<Fd>, ReadError> {
    match list_in(pid, &format!("/proc/{pid}"))? {
        fds if fds.is_empty() => list_in(pid, &crate::process::files_dir(pid)),
        fds => Ok(fds),
    }
}

/// Lists the fds of `pid` from `FILES/fd` (`/proc/PID`, or a thread's
/// `/proc/PID/task/TID`: [`crate::process::files_dir`]).
pub(crate) fn list_in(pid: Pid, files: &str) -> Result<Vec<Fd>, ReadError> {
    let dir = format!("{files}/fd");
    let entries = std::fs::read_dir(&dir).map_err(|e| ReadError::from_io(pid, "fd", e))?;
    let mut fds = Vec::new();
    for entry in entries.flatten() {
        let Some(fd) = std::str::from_utf8(entry.file_name().as_bytes())
            .ok()
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        match read_one_in(files, fd) {
            Ok(one) => fds.push(one),
            // No ptrace read access: no link of this table can be read.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
                return Err(ReadError::PermissionDenied { pid, file: "fd" });
            }
            // ENOENT: the fd was closed after the listing; skip it.
            Err(_) => {}
        }
    }
    fds.sort_by_key(|f| f.fd);
    Ok(fds)
}

/// Reads one fd of `pid`; `None` if it is gone.
pub fn read_one(pid: Pid, fd: i32) -> Option<Fd> {
    read_one_in(&format!("/proc/{pid}"), fd).ok()
}

/// Reads one fd from `FILES/fd` and `FILES/fdinfo` (`/proc/PID` or a
/// thread's `/proc/PID/task/TID`); the error of the link's `readlink`.
fn read_one_in(files: &str, fd: i32) -> std::io::Result<Fd> {
    let link_path = format!("{files}/fd/{fd}");
    let link = read_link_or_too_long(Path::new(&link_path))?;
    let link = link.as_os_str().as_bytes();
    let text = std::fs::read_to_string(format!("{files}/fdinfo/{fd}")).unwrap_or_default();
    let info = FdInfo::parse(&text);
    let parsed = match parse_link(link) {
        // A name that itself ends in " (deleted)" and leads to this very
        // file is its name, not the kernel's mark of an unlinked one.
        LinkTarget::Path { deleted: true, .. }
            if same_file(Path::new(OsStr::from_bytes(link)), Path::new(&link_path)) =>
        {
            LinkTarget::Path {
                path: link.to_vec(),
                deleted: false,
            }
        }
        parsed => parsed,
    };
    let (kind, inode) = match &parsed {
        LinkTarget::Socket(inode) => (FdKind::Socket, Some(*inode)),
        LinkTarget::Pipe(inode) => (FdKind::Pipe, Some(*inode)),
        LinkTarget::Anon(kind) => (*kind, None),
        LinkTarget::Memfd(_) => (FdKind::Memfd, info.ino),
        LinkTarget::Path { deleted, .. } => (path_kind(Path::new(&link_path), *deleted), info.ino),
        LinkTarget::Other => (FdKind::Other, None),
    };
    let target = match &parsed {
        LinkTarget::Path { path, .. } => String::from_utf8_lossy(path).into_owned(),
        _ => String::from_utf8_lossy(link).into_owned(),
    };
    Ok(Fd {
        fd,
        kind,
        target,
        inode,
        access: info.access(),
        cloexec: info.cloexec(),
        offset: info.pos,
        locks: locks::from_fdinfo(&text),
    })
}

/// What stands for a path that `readlink` cannot give: one longer than a
/// page (4096 bytes, PATH_MAX), which the kernel answers with
/// `ENAMETOOLONG`. The file is open all the same; its kind and inode are
/// read through the link. Not a path: it matches none.
pub const PATH_TOO_LONG: &str = "(a path longer than 4096 bytes: readlink gives ENAMETOOLONG)";

/// `readlink` of a `/proc/PID/{fd/N,cwd,root}` link, with
/// [`PATH_TOO_LONG`] for a path too long to be read.
pub(crate) fn read_link_or_too_long(link: &Path) -> std::io::Result<std::path::PathBuf> {
    match std::fs::read_link(link) {
        Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) => Ok(PATH_TOO_LONG.into()),
        other => other,
    }
}

/// Whether `a` and `b` lead to the same file (device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// The kind of a path fd, from `stat` through the `/proc/PID/fd/N` link.
fn path_kind(link: &Path, deleted: bool) -> FdKind {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(link) {
        Ok(meta) => {
            let t = meta.file_type();
            if t.is_dir() {
                FdKind::Directory
            } else if t.is_fifo() {
                FdKind::Fifo
            } else if t.is_char_device() {
                FdKind::CharDevice
            } else if t.is_block_device() {
                FdKind::BlockDevice
            } else if t.is_socket() {
                FdKind::Socket
            } else if deleted {
                FdKind::DeletedFile
            } else {
                FdKind::File
            }
        }
        // Gone or not permitted: the link alone still tells deleted files.
        Err(_) if deleted => FdKind::DeletedFile,
        Err(_) => FdKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_parse() {
        assert_eq!(parse_link(b"socket:[11322]"), LinkTarget::Socket(11322));
        assert_eq!(parse_link(b"pipe:[7]"), LinkTarget::Pipe(7));
        assert_eq!(parse_link(b"anon_inode:[eventfd]"), LinkTarget::Anon(FdKind::Eventfd));
        assert_eq!(parse_link(b"anon_inode:[eventpoll]"), LinkTarget::Anon(FdKind::Epoll));
        assert_eq!(parse_link(b"anon_inode:inotify"), LinkTarget::Anon(FdKind::Inotify));
        assert_eq!(parse_link(b"anon_inode:[pidfd]"), LinkTarget::Anon(FdKind::Pidfd));
        assert_eq!(parse_link(b"anon_inode:[io_uring]"), LinkTarget::Anon(FdKind::IoUring));
        assert_eq!(parse_link(b"anon_inode:bpf-map"), LinkTarget::Anon(FdKind::OtherAnon));
        assert_eq!(parse_link(b"/memfd:x (deleted)"), LinkTarget::Memfd("x".into()));
        assert_eq!(
            parse_link(b"/tmp/a b (deleted)"),
            LinkTarget::Path {
                path: b"/tmp/a b".to_vec(),
                deleted: true
            }
        );
        assert_eq!(
            parse_link(b"/dev/null"),
            LinkTarget::Path {
                path: b"/dev/null".to_vec(),
                deleted: false
            }
        );
        assert_eq!(parse_link(b"net:[4026531840]"), LinkTarget::Other);
        assert_eq!(parse_link(b"socket:[x]"), LinkTarget::Other);
    }

    #[test]
    fn lists_own_fds_with_kinds() {
        let (read, _write) = rustix::pipe::pipe().unwrap();
        let me = Pid::current();
        let fds = list(me).unwrap();
        let pipe = fds
            .iter()
            .find(|f| f.fd == std::os::fd::AsRawFd::as_raw_fd(&read))
            .unwrap();
        assert_eq!(pipe.kind, FdKind::Pipe);
        assert_eq!(pipe.access, Access::Read);
        assert!(pipe.inode.is_some());
        assert!(count(me).unwrap() >= 2);
    }
}
