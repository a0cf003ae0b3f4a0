//! afterlife's own limit on open files (`RLIMIT_NOFILE`), raised while it
//! holds one pidfd per process.
//!
//! Ending a tree of a thousand processes holds a thousand pidfds at once,
//! past the usual soft limit of 1024. Raising the soft limit up to the
//! hard one is always allowed; with `CAP_SYS_RESOURCE` the hard limit may
//! go up to `fs.nr_open` too. Commands that afterlife starts must not
//! inherit the raised limit (a program using `select(2)` breaks on fds
//! above 1023), so the caller's limit is kept for them
//! ([`FdLimit::original`]).

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Where the limit is raised to when the hard limit may be raised too: the
/// kernel's default `fs.nr_open`.
const WANTED: u64 = 1 << 20;

/// A raised fd limit; dropping it puts the caller's limit back.
#[derive(Debug)]
pub struct FdLimit {
    original: Rlimit,
    raised: bool,
}

impl FdLimit {
    /// Raises the soft limit as far as this process may: to `2^20` where
    /// the hard limit may be raised, else to the hard limit.
    pub fn raise() -> FdLimit {
        let original = getrlimit(Resource::Nofile);
        // `None` is unlimited.
        let soft = original.current.unwrap_or(u64::MAX);
        let hard = original.maximum.unwrap_or(u64::MAX);
        let set = |soft: u64, hard: u64| {
            setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(soft),
                    maximum: Some(hard),
                },
            )
            .is_ok()
        };
        let raised = soft < WANTED
            // EPERM without CAP_SYS_RESOURCE, and above fs.nr_open.
            && ((hard < WANTED && set(WANTED, WANTED)) || (soft < hard && set(hard.min(WANTED), hard)));
        FdLimit { original, raised }
    }

    /// The limit as it was before: `(soft, hard)`, `None` for unlimited.
    pub fn original(&self) -> (Option<u64>, Option<u64>) {
        (self.original.current, self.original.maximum)
    }
}

impl Drop for FdLimit {
    fn drop(&mut self) {
        if self.raised {
            // Lowering a limit is always allowed.
            let _ = setrlimit(Resource::Nofile, self.original);
        }
    }
}

/// How many file descriptors this process has open now, and its soft
/// limit; `None` if unlimited or unknown.
pub fn usage() -> Option<(u64, u64)> {
    let limit = getrlimit(Resource::Nofile).current?;
    let open = crate::resources::fd::count(crate::process::Pid::current()).ok()?;
    Some((open as u64, limit))
}

/// Puts `(soft, hard)` back as the fd limit, in a child between fork and
/// exec: only the `setrlimit` system call, which is async-signal-safe.
pub fn restore_in_child(original: (Option<u64>, Option<u64>)) -> std::io::Result<()> {
    // rustix's setrlimit is the prlimit64 system call alone (`None`:
    // RLIM_INFINITY).
    let limit = Rlimit {
        current: original.0,
        maximum: original.1,
    };
    setrlimit(Resource::Nofile, limit).map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_goes_up_and_comes_back() {
        let before = getrlimit(Resource::Nofile);
        {
            let raised = FdLimit::raise();
            let now = getrlimit(Resource::Nofile);
            let at_least = before.maximum.unwrap_or(u64::MAX).min(WANTED);
            assert!(now.current.unwrap_or(u64::MAX) >= at_least, "{now:?}");
            assert_eq!(raised.original(), (before.current, before.maximum));
        }
        let after = getrlimit(Resource::Nofile);
        assert_eq!((after.current, after.maximum), (before.current, before.maximum));
    }

    #[test]
    fn usage_counts_what_is_open() {
        let Some((before, limit)) = usage() else { return };
        let files: Vec<std::fs::File> = (0..5).map(|_| std::fs::File::open("/dev/null").unwrap()).collect();
        let (after, same) = usage().unwrap();
        assert_eq!(same, limit);
        // Other test threads open and close files meanwhile.
        assert!(after + 5 > before, "{before} -> {after}");
        drop(files);
    }
}
