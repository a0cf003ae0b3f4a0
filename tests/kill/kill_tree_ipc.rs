//! `kill --tree` on a real PostgreSQL, with SIGKILL so that it cannot clean
//! up: the report lists its SysV segment and its `/dev/shm/PostgreSQL.*`
//! segments with the command that removes each, and `--remove-ipc` removes
//! them.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::ipc::{shm_files, shm_mapped, shm_mapped_by_anyone, sysv_exists};
use common::{pid_dead, run, run_json, servers, stdout, wait_until};
use serde_json::Value;

/// `/dev/shm` files the test's servers made, removed on drop: the ones seen
/// mapped or reported, and, once no PostgreSQL runs, any other
/// `PostgreSQL.*` file made while the test ran that no process maps.
struct ShmFiles {
    seen: BTreeSet<String>,
    before: BTreeSet<String>,
}

impl Drop for ShmFiles {
    fn drop(&mut self) {
        // Strays only once no server runs (another test's keeps segments
        // that no process maps at times).
        let mapped = shm_mapped_by_anyone();
        let stray: Vec<String> = if servers::no_postgres_runs() {
            shm_files()
                .difference(&self.before)
                .filter(|n| n.starts_with("PostgreSQL.") && !mapped.contains(*n))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        for name in self.seen.iter().chain(&stray) {
            let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
        }
    }
}

/// What the server's processes map, once it stopped changing for 300 ms
/// (the autovacuum launcher makes its segment after the server is ready).
fn settled_mappings(server: &servers::Server) -> BTreeSet<String> {
    let read = || {
        let mut all = shm_mapped(server.pid());
        for child in server.children() {
            all.extend(shm_mapped(child));
        }
        (all, server.children())
    };
    let start = Instant::now();
    let mut last = read();
    let mut since = Instant::now();
    while start.elapsed() < Duration::from_secs(10) && since.elapsed() < Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(50));
        let now = read();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    last.0
}

struct Started {
    server: servers::Server,
    shm_id: i64,
    /// What the postmaster maps.
    postmaster_maps: BTreeSet<String>,
    /// What the whole tree maps.
    tree_maps: BTreeSet<String>,
    /// `/dev/shm` before the server started.
    before: BTreeSet<String>,
}

fn start(name: &str, files: &mut ShmFiles) -> Option<Started> {
    let before = shm_files();
    let server = servers::postgres(name, &["dynamic_shared_memory_type=posix"])?;
    let text = std::fs::read_to_string(server.dir.path().join("data/postmaster.pid")).unwrap();
    let shm_id: i64 = text
        .lines()
        .nth(6)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .expect("the segment id in postmaster.pid");
    let tree_maps = settled_mappings(&server);
    let postmaster_maps = shm_mapped(server.pid());
    files.seen.extend(tree_maps.iter().cloned());
    assert!(
        !postmaster_maps.is_empty(),
        "the postmaster maps its dynamic shared memory"
    );
    Some(Started {
        server,
        shm_id,
        postmaster_maps,
        tree_maps,
        before,
    })
}

/// The segment, made by the postmaster, and every `/dev/shm` file the tree
/// mapped, new since the server started; nothing else.
fn check(started: &Started, report: &Value, fate: &str) {
    let postmaster = started.server.pid();
    let ipc = report["ipc"].as_array().unwrap_or_else(|| panic!("no ipc: {report}"));
    let sysv: Vec<&Value> = ipc.iter().filter(|o| o["object"]["kind"] == "sysv_shm").collect();
    assert_eq!(sysv.len(), 1, "{ipc:?}");
    assert_eq!(sysv[0]["object"]["id"], started.shm_id);
    assert_eq!(sysv[0]["attribution"], "creator_pid");
    assert_eq!(sysv[0]["by"], postmaster);
    assert_eq!(sysv[0]["remove_with"], format!("ipcrm -m {}", started.shm_id));
    assert_eq!(sysv[0]["fate"], fate);
    let posix: BTreeSet<String> = ipc
        .iter()
        .filter(|o| o["object"]["kind"] == "posix_shm")
        .map(|o| {
            let name = o["object"]["name"]
                .as_str()
                .unwrap()
                .trim_start_matches('/')
                .to_string();
            assert_eq!(o["attribution"], "held_by_tree", "{o}");
            assert_eq!(o["remove_with"], format!("rm /dev/shm/{name}"), "{o}");
            assert_eq!(o["fate"], fate, "{o}");
            name
        })
        .collect();
    assert!(posix.is_superset(&started.postmaster_maps), "{posix:?}");
    assert_eq!(posix, started.tree_maps, "what the tree mapped");
    assert!(posix.is_disjoint(&started.before), "only new ones: {posix:?}");
    assert_eq!(ipc.len(), 1 + posix.len(), "{ipc:?}");
}

#[test]
fn a_killed_postgres_tree_leaves_its_segments_reported_and_removed_on_request() {
    let mut files = ShmFiles {
        seen: BTreeSet::new(),
        before: shm_files(),
    };

    // Without --remove-ipc: listed, and still there.
    let Some(kept) = start("kill-ipc", &mut files) else {
        return;
    };
    let postmaster = kept.server.pid();
    let (code, report) = run_json(&["kill", "--tree", "-s", "KILL", &postmaster.to_string()]);
    assert_eq!(code, Some(0), "{report}");
    assert!(wait_until(Duration::from_secs(10), || pid_dead(postmaster)));
    check(&kept, &report, "left");
    assert!(sysv_exists(kept.shm_id), "the segment stays");
    for name in &kept.tree_maps {
        assert!(Path::new("/dev/shm").join(name).exists(), "{name} stays");
    }
    // The server's drop removes the segment by its id.
    drop(kept);

    // With --remove-ipc, as text: each with its removal.
    let Some(removed) = start("kill-ipc-rm", &mut files) else {
        return;
    };
    let postmaster = removed.server.pid();
    let out = run(&["kill", "--tree", "-s", "KILL", "--remove-ipc", &postmaster.to_string()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(wait_until(Duration::from_secs(10), || pid_dead(postmaster)));
    assert!(
        text.contains(&format!("\nIPC left by the tree: {}\n", 1 + removed.tree_maps.len())),
        "{text}"
    );
    let sysv = format!("  SysV shared memory id {} (key ", removed.shm_id);
    let line = text
        .lines()
        .find(|l| l.starts_with(&sysv))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.ends_with(&format!(", created by {postmaster} — removed")),
        "{line}"
    );
    assert!(!sysv_exists(removed.shm_id), "the segment was removed");
    for name in &removed.tree_maps {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("  POSIX shared memory /{name}, ")))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(", new, held by "), "{line}");
        assert!(line.ends_with(" — removed"), "{line}");
        assert!(!Path::new("/dev/shm").join(name).exists(), "{name} was removed");
    }
    drop(removed);
}

#[test]
fn a_segment_made_before_the_tree_is_not_removed() {
    // A POSIX segment another process made 300 ms before the tree started,
    // then opened by the tree: not the tree's, so --remove-ipc keeps it
    // (its time to the nanosecond against the tree's start to the tick).
    let name = format!("afterlife-test-before-{}", std::process::id());
    let path = Path::new("/dev/shm").join(&name);
    std::fs::write(&path, vec![0u8; 4096]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut tree = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec 3<>'{}'; exec sleep 60", path.display()))
        .spawn()
        .unwrap();
    let pid = tree.id() as i32;
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_link(format!("/proc/{pid}/fd/3")).is_ok_and(|l| l == path)
            && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e.ends_with("sleep"))
    }));
    let (code, report) = run_json(&["kill", "--tree", "-s", "KILL", "--remove-ipc", &pid.to_string()]);
    let _ = tree.wait();
    let kept = path.exists();
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, Some(0), "{report}");
    assert!(kept, "a segment made before the tree was removed: {report}");
    let named = report["ipc"]
        .as_array()
        .is_some_and(|left| left.iter().any(|o| o["object"]["name"] == format!("/{name}")));
    assert!(!named, "{report}");
}

/// A `/dev/shm` segment the tree holds only by a mapping is found when the
/// same process also maps a file whose name is not UTF-8: its maps are read
/// lossily, not dropped whole.
#[test]
fn a_mapped_segment_is_found_beside_a_file_whose_name_is_not_utf8() {
    let scratch = common::Scratch::new("kill-ipc-odd");
    let name = format!("afterlife-test-odd-{}", std::process::id());
    let path = Path::new("/dev/shm").join(&name);
    let ready = scratch.path().join("ready");
    let script = format!(
        r#"
import ctypes, mmap, os, time
{odd}
fd = os.open({shm:?}, os.O_CREAT | os.O_RDWR, 0o600)
os.ftruncate(fd, 4096)
# mmap(2) itself (Python's mmap keeps a dup of the fd): the mapping alone
# holds the segment once the fd is closed.
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
assert libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0) not in (None, ctypes.c_void_p(-1).value)
os.close(fd)
open({ready:?}, "w").close()
time.sleep(60)
"#,
        odd = common::map_a_file_named_not_utf8_py(scratch.path()),
        shm = path.to_str().unwrap(),
        ready = ready.to_str().unwrap(),
    );
    let mut tree = std::process::Command::new("python3")
        .args(["-c", &script])
        .spawn()
        .unwrap();
    let pid = tree.id() as i32;
    assert!(wait_until(Duration::from_secs(10), || ready.exists()));
    let (code, report) = run_json(&["kill", "--tree", "-s", "KILL", &pid.to_string()]);
    let _ = tree.wait();
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, Some(0), "{report}");
    let found = report["ipc"].as_array().is_some_and(|left| {
        left.iter()
            .any(|o| o["object"]["name"] == format!("/{name}") && o["attribution"] == "held_by_tree")
    });
    assert!(found, "{report}");
}
