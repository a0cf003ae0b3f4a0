//! IPC objects as the machine shows them: SysV ids from /proc/sysvipc,
//! POSIX shared memory in /dev/shm and who maps it.

use std::collections::BTreeSet;

/// The ids of the SysV objects of `kind` (`shm`, `sem`, `msg`) now.
pub fn sysv_ids(kind: &str) -> Vec<i64> {
    std::fs::read_to_string(format!("/proc/sysvipc/{kind}"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// Whether the SysV shared memory segment `id` exists.
pub fn sysv_exists(id: i64) -> bool {
    sysv_ids("shm").contains(&id)
}

/// The files in `/dev/shm` now.
pub fn shm_files() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .expect("/dev/shm")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The `/dev/shm` files `pid` maps.
pub fn shm_mapped(pid: i32) -> BTreeSet<String> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once("/dev/shm/").map(|(_, name)| name.trim().to_string()))
        .collect()
}

/// The `/dev/shm` files some process maps now.
pub fn shm_mapped_by_anyone() -> BTreeSet<String> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .flat_map(shm_mapped)
        .collect()
}

/// Whether afterlife can watch the creation of POSIX message queues here
/// (a privileged fanotify group, Linux 6.8, and an mqueue filesystem
/// mounted or one it may mount), as `run` would when it starts.
pub fn queues_watched() -> bool {
    use afterlife::resources::ipc::{IpcKind, MqueueRoot};
    let root = MqueueRoot::open();
    afterlife::resources::ipc_created::PosixCreations::start(root.as_ref().map(MqueueRoot::fd))
        .is_some_and(|watch| watch.kinds().contains(&IpcKind::PosixMqueue))
}
