//! `/proc/PID/ns/*`: which namespaces a process is in, each link's text
//! (`mnt:[4026531841]`) naming one namespace for the boot.

use crate::process::Pid;

/// Whether process `pid` is in afterlife's own mount namespace, so that a
/// path in its `/proc` links names the file afterlife sees at that path.
/// False where either link cannot be read.
pub fn shares_mount_namespace(pid: Pid) -> bool {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/mnt"));
    let ours = std::fs::read_link("/proc/self/ns/mnt");
    matches!((theirs, ours), (Ok(a), Ok(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn afterlife_shares_its_own_mount_namespace() {
        assert!(shares_mount_namespace(Pid::current()));
        assert!(!shares_mount_namespace(Pid::new(4_194_303).unwrap()));
    }
}
