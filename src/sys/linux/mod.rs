//! Linux system calls that have no safe equivalent in `rustix`, wrapped one
//! by one in safe functions (a few stay `unsafe fn`, where the caller must
//! keep a promise the types cannot: `fork` and `fork_into_cgroup`, a signal
//! handler, a `bpf(2)` attribute holding pointers). Each `unsafe` block
//! holds one unsafe operation and says why it is sound.
//!
//! Families: [`process`] (fork, a fork into a cgroup, exits, pidfd calls
//! rustix cannot make, waits that need `si_pid`, resource use), [`signal`]
//! (signal sets, masks, dispositions, signalfd), [`ns`] (`unshare`),
//! [`term`] (the controlling terminal by raw fd), [`fd`] (a write through a
//! raw fd), [`bpf`] (the `bpf(2)` call), [`ipc`] (SysV objects and POSIX
//! message queues), [`notify`] (fanotify, file handles), [`mm`] (a fresh
//! mapping, written), [`stdio`] (a C
//! stdio stream, for the demo). `kcmp(2)` is in [`process`].
//!
//! What `rustix` does safely is called directly, not wrapped here: rlimits,
//! the subreaper and death-signal `prctl`s, waits, `setns`, `sysconf`,
//! `clock_gettime`, `fcntl`, netlink sockets. Beware its `waitpid(None)`:
//! it is `waitpid(0)`, the caller's process group only; `wait` is `-1`.
//!
//! Async-signal safety: the functions marked so in their docs make system
//! calls only — no allocation, no lock — and may run between `fork` and
//! `exec` (`supervise::signals::ChildSetup::apply`, the keeper's cgroup
//! watch). The others may allocate and must not.

pub(crate) mod bpf;
pub(crate) mod fd;
pub(crate) mod fs;
pub(crate) mod ipc;
pub(crate) mod mm;
pub(crate) mod notify;
pub(crate) mod ns;
pub(crate) mod process;
pub(crate) mod signal;
pub(crate) mod stdio;
pub(crate) mod term;

/// `Ok(value)` if a libc call returned a non-negative value, else the
/// `errno` it left.
fn check<T: Copy + PartialOrd + Default>(value: T) -> std::io::Result<T> {
    if value < T::default() {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(value)
    }
}
