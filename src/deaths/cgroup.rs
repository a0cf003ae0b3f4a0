//! Cgroup paths from the IDs the BPF program reads, and the systemd unit
//! or container a path names.
//!
//! A cgroup's ID is its kernfs node ID, which is also its file handle:
//! `open_by_handle_at(2)` on a descriptor of the hierarchy's mount, with
//! handle type `FILEID_KERNFS` (0xfe) and the 8-byte ID, opens the cgroup
//! directory (needs `CAP_DAC_READ_SEARCH`), and `/proc/self/fd/N` then
//! names its path. No walk of the hierarchy is needed. The answers are
//! kept: one look-up per cgroup for the whole feed.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::proc::mountinfo::CgroupMounts;

const FILEID_KERNFS: i32 = 0xfe;

/// The systemd unit a cgroup path ends in (`nginx.service`,
/// `session-3.scope`), if any. Pure.
pub fn unit_of(path: &str) -> Option<String> {
    const SUFFIXES: [&str; 4] = [".service", ".scope", ".socket", ".mount"];
    path.rsplit('/')
        .find(|part| SUFFIXES.iter().any(|s| part.ends_with(s)))
        .map(str::to_string)
}

/// The container ID in a cgroup path: a 64-hex-digit component, bare
/// (`/docker/ID`, `/kubepods/.../ID`) or in a scope (`docker-ID.scope`,
/// `cri-containerd-ID.scope`, `crio-ID.scope`, `libpod-ID.scope`). Pure.
pub fn container_of(path: &str) -> Option<String> {
    path.rsplit('/').find_map(|part| {
        let stem = part.strip_suffix(".scope").unwrap_or(part);
        let id = stem.rsplit('-').next().unwrap_or(stem);
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
    })
}

/// One hierarchy's mount, opened, with the paths found so far.
struct Hierarchy {
    mount: PathBuf,
    fd: OwnedFd,
    known: HashMap<u64, Option<String>>,
}

impl Hierarchy {
    fn open(mount: PathBuf) -> Option<Hierarchy> {
        let file = std::fs::File::open(&mount).ok()?;
        Some(Hierarchy {
            mount,
            fd: file.into(),
            known: HashMap::new(),
        })
    }

    fn path(&mut self, id: u64) -> Option<String> {
        if let Some(known) = self.known.get(&id) {
            return known.clone();
        }
        let found = self.resolve(id);
        self.known.insert(id, found.clone());
        found
    }

    fn resolve(&self, id: u64) -> Option<String> {
        // ESTALE: the cgroup is gone; EPERM: no CAP_DAC_READ_SEARCH.
        let fd = crate::sys::linux::notify::open_by_handle8(
            self.fd.as_fd(),
            FILEID_KERNFS,
            id,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
        .ok()?;
        let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        relative_to(&target, &self.mount)
    }
}

/// `target` as a path inside the hierarchy mounted at `mount` ("/" for its
/// root). Pure.
pub fn relative_to(target: &Path, mount: &Path) -> Option<String> {
    let inside = target.strip_prefix(mount).ok()?;
    Some(format!("/{}", inside.display()))
}

/// Cgroup paths by ID, for the v2 hierarchy and the memory controller's.
pub struct CgroupNames {
    v2: Option<Hierarchy>,
    memory: Option<Hierarchy>,
    memory_on_v1: bool,
}

/// A memory cgroup: its path and where its limit is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCgroup {
    /// The path inside its hierarchy.
    pub path: String,
    /// The limit's file: `memory.limit_in_bytes` (v1) or `memory.max` (v2).
    pub limit_file: &'static str,
}

impl CgroupNames {
    /// Finds the mounts.
    pub fn new() -> CgroupNames {
        let mounts = CgroupMounts::read();
        let memory_on_v1 = mounts.v1_memory.is_some();
        CgroupNames {
            v2: mounts.v2.clone().and_then(Hierarchy::open),
            memory: mounts.v1_memory.or(mounts.v2).and_then(Hierarchy::open),
            memory_on_v1,
        }
    }

    /// The v2 path of cgroup `id`.
    pub fn v2_path(&mut self, id: u64) -> Option<String> {
        self.v2.as_mut()?.path(id)
    }

    /// The memory cgroup `id` (an ID in the memory controller's hierarchy).
    pub fn memory_cgroup(&mut self, id: u64) -> Option<MemoryCgroup> {
        let limit_file = if self.memory_on_v1 {
            "memory.limit_in_bytes"
        } else {
            "memory.max"
        };
        let path = self.memory.as_mut()?.path(id)?;
        Some(MemoryCgroup { path, limit_file })
    }
}

impl Default for CgroupNames {
    fn default() -> Self {
        CgroupNames::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_containers() {
        assert_eq!(
            unit_of("/system.slice/nginx.service"),
            Some("nginx.service".to_string())
        );
        assert_eq!(
            unit_of("/user.slice/user-0.slice/session-3.scope"),
            Some("session-3.scope".to_string())
        );
        assert_eq!(unit_of("/afterlife-12"), None);
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            container_of(&format!("/system.slice/docker-{id}.scope")),
            Some(id.to_string())
        );
        assert_eq!(
            container_of(&format!(
                "/kubepods.slice/kubepods-pod1.slice/cri-containerd-{id}.scope"
            )),
            Some(id.to_string())
        );
        assert_eq!(container_of(&format!("/docker/{id}")), Some(id.to_string()));
        assert_eq!(container_of("/system.slice/cron.service"), None);
    }

    #[test]
    fn paths_inside_the_mount() {
        let mount = Path::new("/sys/fs/cgroup/unified");
        assert_eq!(
            relative_to(Path::new("/sys/fs/cgroup/unified/system.slice/x.service"), mount),
            Some("/system.slice/x.service".to_string())
        );
        assert_eq!(relative_to(mount, mount), Some("/".to_string()));
        assert_eq!(relative_to(Path::new("/tmp"), mount), None);
    }
}
