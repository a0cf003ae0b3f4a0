//! kcmp(2): whether two processes share a kernel resource, the question
//! /proc cannot answer (two fds with one link target may be one open file
//! or two opens of the same path). rustix has no kcmp; the system call is
//! made in `sys::linux::process`.

use crate::process::Pid;

/// `KCMP_FILE`: the same open file description.
const KCMP_FILE: libc::c_long = 0;
/// `KCMP_VM`: the same address space.
const KCMP_VM: libc::c_long = 1;

/// kcmp(2); `true` when the kernel says "equal" (0). Refused (no ptrace
/// read access to both), gone, or an old kernel without kcmp: `false`.
fn equal(a: Pid, b: Pid, kind: libc::c_long, arg_a: libc::c_long, arg_b: libc::c_long) -> bool {
    crate::sys::linux::process::kcmp(a.get(), b.get(), kind, arg_a, arg_b).unwrap_or(false)
}

/// Whether fd `fd_a` of `a` and fd `fd_b` of `b` are the same open file
/// description (`KCMP_FILE`): one came from the other by fork or `dup`.
pub fn same_file(a: Pid, fd_a: i32, b: Pid, fd_b: i32) -> bool {
    equal(a, b, KCMP_FILE, libc::c_long::from(fd_a), libc::c_long::from(fd_b))
}

/// Whether `a` and `b` share one address space (`KCMP_VM`): a vfork
/// child and its parent, or threads.
pub fn same_address_space(a: Pid, b: Pid) -> bool {
    equal(a, b, KCMP_VM, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_own_fds_and_memory() {
        use std::os::fd::AsRawFd;
        let me = Pid::current();
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        let dup = file.try_clone().unwrap();
        let other = std::fs::File::open("/proc/self/stat").unwrap();
        assert!(same_file(me, file.as_raw_fd(), me, dup.as_raw_fd()));
        assert!(!same_file(me, file.as_raw_fd(), me, other.as_raw_fd()));
        assert!(same_address_space(me, me));
    }
}
