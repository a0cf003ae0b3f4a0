//! `/proc/PID/ns/*`: which namespaces a process is in, each link's text
//! (`mnt:[4026531841]`) naming one namespace for the boot; and whether
//! `/proc` itself is afterlife's own view of processes.

use crate::process::Pid;

/// Whether process `pid` is in afterlife's own mount namespace, so that a
/// path in its `/proc` links names the file afterlife sees at that path.
/// False where either link cannot be read.
pub fn shares_mount_namespace(pid: Pid) -> bool {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/mnt"));
    let ours = std::fs::read_link("/proc/self/ns/mnt");
    matches!((theirs, ours), (Ok(a), Ok(b)) if a == b)
}

/// Why `/proc` cannot answer for afterlife's own PIDs. A procfs mount
/// numbers processes as the PID namespace it was mounted from sees them:
/// `unshare --pid --fork` without `--mount-proc` (and a command under
/// `afterlife run` as root) keeps the outer one's, where `/proc/N` is
/// another process than the one `pidfd_open(N)` opens; a chroot may have
/// none at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcViewError {
    /// `/proc/self` cannot be read: no procfs is mounted on `/proc`.
    #[error(
        "/proc is not mounted here (readlink /proc/self: {reason}): afterlife reads every process from /proc; mount it (mount -t proc proc /proc)"
    )]
    Missing {
        /// The error of `readlink`.
        reason: String,
    },
    /// `/proc/self` names a PID other than afterlife's own: the mount
    /// belongs to another PID namespace.
    #[error(
        "/proc shows another PID namespace than afterlife's (it calls afterlife PID {shown}, afterlife's own PID is {own}): its PIDs name other processes here; mount a /proc of this namespace (unshare --pid --fork --mount-proc, or mount -t proc proc /proc in a private mount namespace)"
    )]
    OtherNamespace {
        /// What `/proc/self` says.
        shown: String,
        /// `getpid()`.
        own: i32,
    },
}

/// Whether `/proc` numbers processes as afterlife's PID namespace does:
/// its `/proc/self` link names afterlife's own PID. One `readlink`.
pub fn check_proc_view() -> Result<(), ProcViewError> {
    judge_proc_view(std::fs::read_link("/proc/self"), Pid::current().get())
}

/// The decision of [`check_proc_view`] from what `readlink /proc/self`
/// gave and afterlife's own PID: pure.
pub fn judge_proc_view(link: std::io::Result<std::path::PathBuf>, own: i32) -> Result<(), ProcViewError> {
    let link = link.map_err(|e| ProcViewError::Missing { reason: e.to_string() })?;
    let shown = link.to_string_lossy();
    if shown.parse::<i32>() == Ok(own) {
        return Ok(());
    }
    Err(ProcViewError::OtherNamespace {
        shown: shown.into_owned(),
        own,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn afterlife_shares_its_own_mount_namespace() {
        assert!(shares_mount_namespace(Pid::current()));
        assert!(!shares_mount_namespace(Pid::new(4_194_303).unwrap()));
    }

    #[test]
    fn proc_of_our_own_namespace_names_our_pid() {
        assert_eq!(judge_proc_view(Ok(PathBuf::from("4242")), 4242), Ok(()));
        assert_eq!(check_proc_view(), Ok(()));
    }

    #[test]
    fn proc_of_another_namespace_names_another_pid() {
        let error = judge_proc_view(Ok(PathBuf::from("31336")), 4).unwrap_err();
        assert_eq!(
            error,
            ProcViewError::OtherNamespace {
                shown: "31336".into(),
                own: 4
            }
        );
        assert!(
            error
                .to_string()
                .contains("afterlife PID 31336, afterlife's own PID is 4")
        );
        // Not a number at all: not a procfs /proc.
        assert!(judge_proc_view(Ok(PathBuf::from("self")), 4).is_err());
    }

    #[test]
    fn no_proc_is_said_so() {
        let missing = std::io::Error::from_raw_os_error(libc::ENOENT);
        let error = judge_proc_view(Err(missing), 4).unwrap_err();
        assert!(matches!(error, ProcViewError::Missing { .. }));
        assert!(error.to_string().starts_with("/proc is not mounted here"));
    }
}
