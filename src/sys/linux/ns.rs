//! Namespaces: `unshare(2)` for a new PID namespace (rustix's `unshare` is
//! unsafe for every flag, since some unshare the fd table).

use std::io;

use super::check;

/// `unshare(CLONE_NEWPID)`: the children started from now on are in a new
/// PID namespace (the caller stays in its own). Needs `CAP_SYS_ADMIN`.
pub(crate) fn unshare_pid_namespace() -> io::Result<()> {
    // SAFETY: CLONE_NEWPID changes only the namespace of future children;
    // no memory or descriptor of this process is touched.
    check(unsafe { libc::unshare(libc::CLONE_NEWPID) }).map(drop)
}
