//! Small parsers for the per-thread /proc files that only `why` reads and
//! the `procfs` crate does not cover (or covers too strictly: it rejects the
//! `-1 sp pc` form of `/proc/PID/syscall`), and the table of system calls a
//! wait may sit in. The formats other commands read too (`cgroup`,
//! `cgroup.events`, `fdinfo`, `mountinfo`) are [`crate::proc`]'s.

use std::time::Duration;

use crate::resist::facts::SyscallState;

/// Parses `/proc/PID/task/TID/syscall` (proc_pid_syscall(5)): `running`,
/// `-1 SP PC` (blocked outside a system call), or `NR A1..A6 SP PC`.
pub fn syscall_state(text: &str) -> Option<SyscallState> {
    let text = text.trim();
    if text == "running" {
        return Some(SyscallState::Running);
    }
    let mut fields = text.split_ascii_whitespace();
    let number: i64 = fields.next()?.parse().ok()?;
    if number < 0 {
        return Some(SyscallState::NotInSyscall);
    }
    let mut args = [0u64; 6];
    for arg in &mut args {
        let field = fields.next()?;
        *arg = u64::from_str_radix(field.trim_start_matches("0x"), 16).ok()?;
    }
    Some(SyscallState::In {
        number,
        name: syscall_name(number),
        args,
    })
}

/// Parses `/proc/PID/task/TID/stack`: `[<0>] func+0x1/0x2` lines become `func+0x1/0x2`.
pub fn kernel_stack(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| match line.find("] ") {
            Some(end) if line.starts_with('[') => line[end + 2..].trim().to_string(),
            _ => line.trim().to_string(),
        })
        .filter(|line| !line.is_empty())
        .collect()
}

/// `se.exec_start` of `/proc/PID/sched`, in milliseconds of the scheduler clock.
pub fn sched_exec_start_ms(text: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "se.exec_start").then(|| value.trim().parse().ok())?
    })
}

/// How long before `now_ms` an event at `then_ms` was, both read from
/// `se.exec_start` of one CPU's run queue clock, in milliseconds; `None`
/// when `then` reads later than `now`, which one clock cannot do.
pub fn sched_age(then_ms: f64, now_ms: f64) -> Option<Duration> {
    let age_ms = now_ms - then_ms;
    (age_ms.is_finite() && age_ms >= 0.0).then(|| Duration::from_secs_f64(age_ms / 1000.0))
}

/// How a system call names what it works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Argument `n` is a file descriptor.
    Fd(usize),
    /// Argument `n` is a path (a pointer to a string).
    Path(usize),
    /// Argument `dirfd` is a directory descriptor for the path in `path`.
    AtPath {
        /// The index of the directory descriptor.
        dirfd: usize,
        /// The index of the path pointer.
        path: usize,
    },
    /// Nothing that names a file.
    Nothing,
}

macro_rules! syscalls {
    ($($const:ident => $name:literal, $kind:expr;)*) => {
        const SYSCALLS: &[(i64, &str, ArgKind)] = &[$((libc::$const as i64, $name, $kind),)*];
    };
}

use ArgKind::{AtPath, Fd, Nothing, Path};

syscalls! {
    SYS_read => "read", Fd(0);
    SYS_write => "write", Fd(0);
    SYS_pread64 => "pread64", Fd(0);
    SYS_pwrite64 => "pwrite64", Fd(0);
    SYS_readv => "readv", Fd(0);
    SYS_writev => "writev", Fd(0);
    SYS_preadv => "preadv", Fd(0);
    SYS_pwritev => "pwritev", Fd(0);
    SYS_close => "close", Fd(0);
    SYS_fsync => "fsync", Fd(0);
    SYS_fdatasync => "fdatasync", Fd(0);
    SYS_syncfs => "syncfs", Fd(0);
    SYS_sync => "sync", Nothing;
    SYS_sync_file_range => "sync_file_range", Fd(0);
    SYS_fstat => "fstat", Fd(0);
    SYS_fstatfs => "fstatfs", Fd(0);
    SYS_ftruncate => "ftruncate", Fd(0);
    SYS_fallocate => "fallocate", Fd(0);
    SYS_flock => "flock", Fd(0);
    SYS_fcntl => "fcntl", Fd(0);
    SYS_ioctl => "ioctl", Fd(0);
    SYS_getdents64 => "getdents64", Fd(0);
    SYS_lseek => "lseek", Fd(0);
    SYS_sendfile => "sendfile", Fd(1);
    SYS_splice => "splice", Fd(0);
    SYS_copy_file_range => "copy_file_range", Fd(0);
    SYS_fchdir => "fchdir", Fd(0);
    SYS_accept => "accept", Fd(0);
    SYS_accept4 => "accept4", Fd(0);
    SYS_connect => "connect", Fd(0);
    SYS_recvfrom => "recvfrom", Fd(0);
    SYS_sendto => "sendto", Fd(0);
    SYS_recvmsg => "recvmsg", Fd(0);
    SYS_sendmsg => "sendmsg", Fd(0);
    SYS_openat => "openat", AtPath { dirfd: 0, path: 1 };
    SYS_openat2 => "openat2", AtPath { dirfd: 0, path: 1 };
    SYS_newfstatat => "newfstatat", AtPath { dirfd: 0, path: 1 };
    SYS_statx => "statx", AtPath { dirfd: 0, path: 1 };
    SYS_faccessat => "faccessat", AtPath { dirfd: 0, path: 1 };
    SYS_faccessat2 => "faccessat2", AtPath { dirfd: 0, path: 1 };
    SYS_unlinkat => "unlinkat", AtPath { dirfd: 0, path: 1 };
    SYS_mkdirat => "mkdirat", AtPath { dirfd: 0, path: 1 };
    SYS_renameat2 => "renameat2", AtPath { dirfd: 0, path: 1 };
    SYS_readlinkat => "readlinkat", AtPath { dirfd: 0, path: 1 };
    SYS_statfs => "statfs", Path(0);
    SYS_truncate => "truncate", Path(0);
    SYS_chdir => "chdir", Path(0);
    SYS_execve => "execve", Path(0);
    SYS_mount => "mount", Path(1);
    SYS_umount2 => "umount2", Path(0);
    SYS_mmap => "mmap", Fd(4);
    SYS_munmap => "munmap", Nothing;
    SYS_msync => "msync", Nothing;
    SYS_futex => "futex", Nothing;
    SYS_nanosleep => "nanosleep", Nothing;
    SYS_clock_nanosleep => "clock_nanosleep", Nothing;
    SYS_ppoll => "ppoll", Nothing;
    SYS_pselect6 => "pselect6", Nothing;
    SYS_epoll_pwait => "epoll_pwait", Fd(0);
    SYS_wait4 => "wait4", Nothing;
    SYS_waitid => "waitid", Nothing;
    SYS_clone => "clone", Nothing;
    SYS_clone3 => "clone3", Nothing;
    SYS_exit_group => "exit_group", Nothing;
    SYS_exit => "exit", Nothing;
    SYS_rt_sigsuspend => "rt_sigsuspend", Nothing;
    SYS_rt_sigtimedwait => "rt_sigtimedwait", Nothing;
    SYS_io_uring_enter => "io_uring_enter", Fd(0);
    SYS_io_getevents => "io_getevents", Nothing;
    SYS_kill => "kill", Nothing;
    SYS_tgkill => "tgkill", Nothing;
    SYS_ptrace => "ptrace", Nothing;
    SYS_init_module => "init_module", Nothing;
    SYS_finit_module => "finit_module", Fd(0);
    SYS_delete_module => "delete_module", Nothing;
}

/// System calls only the older architectures (x86_64) have.
#[cfg(target_arch = "x86_64")]
const LEGACY_SYSCALLS: &[(i64, &str, ArgKind)] = &[
    (libc::SYS_open, "open", Path(0)),
    (libc::SYS_creat, "creat", Path(0)),
    (libc::SYS_stat, "stat", Path(0)),
    (libc::SYS_lstat, "lstat", Path(0)),
    (libc::SYS_access, "access", Path(0)),
    (libc::SYS_unlink, "unlink", Path(0)),
    (libc::SYS_rmdir, "rmdir", Path(0)),
    (libc::SYS_mkdir, "mkdir", Path(0)),
    (libc::SYS_rename, "rename", Path(0)),
    (libc::SYS_readlink, "readlink", Path(0)),
    (libc::SYS_getdents, "getdents", Fd(0)),
    (libc::SYS_poll, "poll", Nothing),
    (libc::SYS_select, "select", Nothing),
    (libc::SYS_epoll_wait, "epoll_wait", Fd(0)),
    (libc::SYS_pause, "pause", Nothing),
    (libc::SYS_vfork, "vfork", Nothing),
    (libc::SYS_fork, "fork", Nothing),
];
#[cfg(not(target_arch = "x86_64"))]
const LEGACY_SYSCALLS: &[(i64, &str, ArgKind)] = &[];

fn lookup(number: i64) -> Option<&'static (i64, &'static str, ArgKind)> {
    SYSCALLS
        .iter()
        .chain(LEGACY_SYSCALLS.iter())
        .find(|(n, _, _)| *n == number)
}

/// The name of system call `number` on this architecture, if afterlife knows it.
pub fn syscall_name(number: i64) -> Option<&'static str> {
    lookup(number).map(|(_, name, _)| *name)
}

/// How system call `number` names its file.
pub fn syscall_arg_kind(number: i64) -> ArgKind {
    lookup(number).map_or(Nothing, |(_, _, kind)| *kind)
}

/// Whether `number` creates a process (and so may wait for a vfork child).
pub fn is_process_creation(number: i64) -> bool {
    matches!(syscall_name(number), Some("clone" | "clone3" | "vfork"))
}

/// `AT_FDCWD` as the kernel sees it in a 64-bit argument register (the
/// sign-extended -100, or its low 32 bits).
pub fn is_at_fdcwd(arg: u64) -> bool {
    arg as i64 == i64::from(libc::AT_FDCWD) || arg as u32 as i32 == libc::AT_FDCWD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_lines() {
        assert_eq!(syscall_state("running\n"), Some(SyscallState::Running));
        assert_eq!(syscall_state("-1 0x0 0x0\n"), Some(SyscallState::NotInSyscall));
        let line = format!(
            "{} 0x3 0x55a90856f6d0 0x2000 0x7f712cc7da58 0x0 0x0 0x7ffe4ca06590 0x7f712cf162ec\n",
            libc::SYS_read
        );
        match syscall_state(&line) {
            Some(SyscallState::In { number, name, args }) => {
                assert_eq!(number, libc::SYS_read);
                assert_eq!(name, Some("read"));
                assert_eq!(args[0], 3);
                assert_eq!(args[2], 0x2000);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(syscall_state("garbage"), None);
        assert_eq!(syscall_state("0 0x1"), None);
    }

    #[test]
    fn stacks_lose_their_prefix() {
        let text = "[<0>] hrtimer_nanosleep+0x74/0xf0\n[<0>] common_nsleep+0x30/0x60\n";
        assert_eq!(
            kernel_stack(text),
            vec!["hrtimer_nanosleep+0x74/0xf0", "common_nsleep+0x30/0x60"]
        );
        assert!(kernel_stack("").is_empty());
    }

    #[test]
    fn small_files() {
        let sched = "sleep (42, #threads: 1)\n----\nse.exec_start                                :        850175.740089\nse.vruntime : 1.0\n";
        assert_eq!(sched_exec_start_ms(sched), Some(850_175.740_089));
        assert_eq!(sched_age(850_175.0, 851_175.0), Some(Duration::from_secs(1)));
        assert_eq!(sched_age(850_175.0, 840_000.0), None);
    }

    #[test]
    fn syscall_table() {
        assert_eq!(syscall_arg_kind(libc::SYS_read), ArgKind::Fd(0));
        assert_eq!(
            syscall_arg_kind(libc::SYS_openat),
            ArgKind::AtPath { dirfd: 0, path: 1 }
        );
        assert!(is_process_creation(libc::SYS_clone3));
        assert!(!is_process_creation(libc::SYS_read));
        assert_eq!(syscall_arg_kind(-5), ArgKind::Nothing);
        assert!(is_at_fdcwd(0xffff_ffff_ffff_ff9c));
        assert!(is_at_fdcwd(0xffff_ff9c));
        assert!(!is_at_fdcwd(3));
    }
}
