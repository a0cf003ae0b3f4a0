//! `/proc/PID/cgroup` (cgroups(7)), through procfs's `ProcessCGroups`,
//! and the flat-keyed files of cgroupfs (`cgroup.events`, `memory.events`:
//! `key value` lines), which procfs does not read.
//!
//! `supervise::keeper` reads `cgroup.events` on its own: it does so after a
//! fork, where it may not allocate.

use procfs::FromBufRead;

use crate::process::Pid;

pub use procfs::ProcessCGroup;

/// Parses a `/proc/PID/cgroup` text: one entry per hierarchy
/// (`ID:CONTROLLERS:PATH`; the v2 hierarchy is `0::PATH`). A text procfs
/// cannot read gives none. Pure.
pub fn parse(text: &str) -> Vec<ProcessCGroup> {
    procfs::ProcessCGroups::from_buf_read(text.as_bytes()).map_or_else(|_| Vec::new(), |groups| groups.0)
}

/// Reads `/proc/PID/cgroup`. A cgroup's name may hold bytes that are not
/// UTF-8: they read as U+FFFD, so that the process still shows in a cgroup
/// (one that is not any other it is compared with), not in none.
pub fn read(pid: Pid) -> std::io::Result<Vec<ProcessCGroup>> {
    Ok(parse(&crate::proc::read_lossy(&format!("/proc/{pid}/cgroup"))?))
}

/// The cgroup v2 path (relative to the mount, `/a/b`) among a process's
/// cgroups: the entry `0::PATH`. Pure.
pub fn v2_path(groups: &[ProcessCGroup]) -> Option<String> {
    groups
        .iter()
        .find(|g| g.hierarchy == 0 && g.controllers.is_empty())
        .map(|g| g.pathname.clone())
}

/// The directory of cgroup `cgroup` (a path as `/proc/PID/cgroup` gives
/// it) in the hierarchy mounted at `root`. Pure.
pub fn dir(root: &std::path::Path, cgroup: &str) -> std::path::PathBuf {
    root.join(cgroup.trim_start_matches('/'))
}

/// Whether the v2 cgroup in `dir` is frozen, as its `cgroup.events` says
/// (an ancestor's freeze shows there too); `None` where unreadable or
/// before the v2 freezer (Linux 5.2).
pub fn frozen(dir: &std::path::Path) -> Option<bool> {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .ok()
        .and_then(|text| events(&text).frozen)
}

/// The path in the v1 hierarchy that has `controller` (`6:freezer:/path`).
/// Pure.
pub fn v1_path(groups: &[ProcessCGroup], controller: &str) -> Option<String> {
    groups
        .iter()
        .find(|g| g.controllers.iter().any(|c| c == controller))
        .map(|g| g.pathname.clone())
}

/// The value of `key` in a flat-keyed cgroup file (`memory.events`,
/// `cgroup.events`). Pure.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The two facts of `cgroup.events`, each `None` where the file lacks it
/// (`frozen` came with the v2 freezer, Linux 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Events {
    /// Some process lives in the cgroup or below.
    pub populated: Option<bool>,
    /// The cgroup is frozen (every process in it stopped by the freezer).
    pub frozen: Option<bool>,
}

/// Parses `cgroup.events` (`populated 1\nfrozen 0\n`). Pure.
pub fn events(text: &str) -> Events {
    Events {
        populated: keyed(text, "populated").map(|v| v == 1),
        frozen: keyed(text, "frozen").map(|v| v == 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memberships_parse() {
        let text = "12:freezer:/jail\n4:memory,cpu:/m\n1:name=systemd:/user.slice\n0::/jobs/a:b\n";
        let groups = parse(text);
        assert_eq!(groups.len(), 4);
        assert_eq!(v2_path(&groups).as_deref(), Some("/jobs/a:b"));
        assert_eq!(v1_path(&groups, "freezer").as_deref(), Some("/jail"));
        assert_eq!(v1_path(&groups, "cpu").as_deref(), Some("/m"));
        assert_eq!(v1_path(&groups, "blkio"), None);
        assert_eq!(v2_path(&parse("1:cpu:/\n")), None);
        assert!(parse("garbage\n").is_empty());
    }

    #[test]
    fn flat_keyed_files_parse() {
        let memory = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n";
        assert_eq!(keyed(memory, "oom_kill"), Some(2));
        assert_eq!(keyed(memory, "oom"), Some(1));
        assert_eq!(keyed(memory, "oom_group_kill"), None);
        assert_eq!(
            events("populated 1\nfrozen 0\n"),
            Events {
                populated: Some(true),
                frozen: Some(false)
            }
        );
        assert_eq!(events("populated 0\n").frozen, None);
        assert_eq!(events("populated 1\nfrozen 1\n").frozen, Some(true));
    }

    #[test]
    fn reads_its_own() {
        assert!(!read(Pid::current()).unwrap().is_empty());
    }
}
