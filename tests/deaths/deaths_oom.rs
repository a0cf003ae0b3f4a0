//! `afterlife deaths` on an OOM kill: a process that touches more than its
//! memory cgroup's 64 MiB limit is killed by the OOM killer, and the feed
//! says so, with the cgroup, its limit and the victim's size. The memory
//! controller is on cgroup v1 here (`memory.limit_in_bytes`); where v2 has
//! it, `memory.max` of a child of afterlife's own cgroup is used.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::deaths::{Feed, signal_of};

const LIMIT_BYTES: u64 = 64 << 20;

/// A memory cgroup made for the test, removed on drop (after its processes
/// died).
struct MemoryCgroup {
    dir: PathBuf,
    /// The path inside its hierarchy, as the feed shows it.
    relative: String,
    limit_file: &'static str,
}

impl MemoryCgroup {
    fn create() -> Option<MemoryCgroup> {
        let name = format!("afterlife-test-oom-{}", std::process::id());
        let v1 = PathBuf::from("/sys/fs/cgroup/memory");
        if v1.join("memory.limit_in_bytes").exists() {
            let dir = v1.join(&name);
            std::fs::create_dir(&dir).ok()?;
            let cgroup = MemoryCgroup {
                dir,
                relative: format!("/{name}"),
                limit_file: "memory.limit_in_bytes",
            };
            std::fs::write(cgroup.dir.join("memory.limit_in_bytes"), LIMIT_BYTES.to_string()).ok()?;
            // Without swap accounting limits, a machine with swap would
            // page the process out instead of killing it.
            let _ = std::fs::write(cgroup.dir.join("memory.memsw.limit_in_bytes"), LIMIT_BYTES.to_string());
            return Some(cgroup);
        }
        let mount = afterlife::terminate::cgroup::v2_mount().ok()?;
        let controllers = std::fs::read_to_string(mount.join("cgroup.subtree_control")).ok()?;
        if !controllers.split_whitespace().any(|c| c == "memory") {
            return None;
        }
        let dir = mount.join(&name);
        std::fs::create_dir(&dir).ok()?;
        let cgroup = MemoryCgroup {
            dir,
            relative: format!("/{name}"),
            limit_file: "memory.max",
        };
        std::fs::write(cgroup.dir.join("memory.max"), LIMIT_BYTES.to_string()).ok()?;
        let _ = std::fs::write(cgroup.dir.join("memory.swap.max"), "0");
        Some(cgroup)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // The victim is reaped before this runs; a removal can still meet
        // EBUSY for a moment while the kernel frees its memory.
        common::wait_until(Duration::from_secs(5), || std::fs::remove_dir(&self.dir).is_ok());
    }
}

#[test]
fn an_oom_kill_names_the_memory_cgroup_and_its_limit() {
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    let Some(cgroup) = MemoryCgroup::create() else {
        println!("skipped: no memory cgroup can be made here");
        return;
    };
    let procs = cgroup.dir.join("cgroup.procs");
    // The shell moves itself into the cgroup, then becomes a python that
    // writes 256 MiB.
    let script = format!(
        "echo $$ > {} && exec python3 -c 'b = bytearray(b\"x\") * (256 << 20); print(len(b))'",
        procs.display()
    );
    let mut victim = Command::new("sh").args(["-c", &script]).spawn().unwrap();
    let pid = i64::from(victim.id());
    let status = victim.wait().unwrap();
    assert!(!status.success(), "the allocation succeeded: {status:?}");
    let death = feed
        .find(Duration::from_secs(20), |d| d["pid"] == pid)
        .expect("the victim's death");
    assert_eq!(signal_of(&death), Some(i64::from(libc::SIGKILL)), "{death}");
    let oom = &death["oom"];
    assert!(oom.is_object(), "not reported as an OOM kill: {death}");
    assert_eq!(oom["memory_cgroup"], cgroup.relative.as_str(), "{death}");
    assert_eq!(oom["limit_file"], cgroup.limit_file, "{death}");
    assert_eq!(oom["limit_bytes"], LIMIT_BYTES, "{death}");
    let rss = oom["rss_bytes"].as_u64().expect("the victim's size");
    // Resident file pages (the interpreter's libraries) may be charged to
    // another cgroup that read them first, so the size can pass the limit.
    assert!(rss > 32 << 20 && rss <= LIMIT_BYTES + (64 << 20), "{death}");
    assert_eq!(death["sender"]["kind"], "oom_killer", "{death}");
    assert_eq!(death["sender"]["code_name"], "SI_KERNEL", "{death}");
    feed.stop();
}
