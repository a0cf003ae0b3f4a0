//! The limits `watch` measures against: a cgroup's memory limit (whichever
//! hierarchy has the memory controller on this machine), RLIMIT_AS, and the
//! fd limit, with the time left until a leak reaches them.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{WatchFixture, afterlife, is_root, ndjson, stderr};
use serde_json::Value;

/// The directory to create a memory cgroup in, and the limit file's name:
/// cgroup v2 if its root delegates the memory controller, else the v1
/// memory hierarchy. Found from mountinfo, never assumed.
fn memory_hierarchy() -> Option<(PathBuf, &'static str)> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut v1 = None;
    let mut v2 = None;
    for line in mountinfo.lines() {
        let (left, right) = line.split_once(" - ")?;
        let mount = PathBuf::from(left.split(' ').nth(4)?);
        let mut right = right.split(' ');
        let fstype = right.next()?;
        let options = right.nth(1).unwrap_or("");
        if fstype == "cgroup2" && v2.is_none() {
            v2 = Some(mount);
        } else if fstype == "cgroup" && options.split(',').any(|o| o == "memory") {
            v1 = Some(mount);
        }
    }
    if let Some(v2) = v2
        && std::fs::read_to_string(v2.join("cgroup.subtree_control")).is_ok_and(|c| c.contains("memory"))
    {
        return Some((v2, "memory.max"));
    }
    v1.map(|v1| (v1, "memory.limit_in_bytes"))
}

struct Cgroup(PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Its only process was killed and reaped before this runs.
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn summary_process(events: &[Value]) -> &Value {
    &events.iter().find(|e| e["event"] == "summary").unwrap()["processes"][0]
}

#[test]
fn memory_leak_in_a_cgroup_counts_down_to_its_limit() {
    if !is_root() {
        println!("skipped: creating a memory cgroup needs root");
        return;
    }
    let Some((hierarchy, limit_file)) = memory_hierarchy() else {
        println!("skipped: no cgroup hierarchy with the memory controller is mounted");
        return;
    };
    let cgroup = Cgroup(hierarchy.join(format!("afterlife-watch-test-{}", std::process::id())));
    std::fs::create_dir(&cgroup.0).unwrap();
    let limit: u64 = 512 << 20;
    std::fs::write(cgroup.0.join(limit_file), limit.to_string()).unwrap();
    let fixture = WatchFixture::start("memory", 400, &[]);
    std::fs::write(cgroup.0.join("cgroup.procs"), fixture.pid().to_string()).unwrap();

    let output = afterlife()
        .args(["--json", "watch", "--interval", "50ms", "--duration", "2.5s"])
        .arg(fixture.pid().to_string())
        .output()
        .unwrap();
    drop(fixture);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = ndjson(&output);
    let process = summary_process(&events);
    let memory = &process["limits"]["memory"];
    assert_eq!(memory["bytes"], limit, "{memory}");
    assert_eq!(
        memory["source"],
        if limit_file == "memory.max" {
            "cgroup_v2"
        } else {
            "cgroup_v1"
        }
    );
    assert_eq!(memory["cgroup"], cgroup.0.to_string_lossy().as_ref());
    // The cgroup's usage is what counts against its limit.
    assert!(memory["used_bytes"].as_u64().unwrap() > 0, "{memory}");
    // Anonymous memory leaks, and is what runs into the limit.
    let anon = process["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["metric"] == "rss_anon")
        .unwrap();
    assert_eq!(anon["verdict"], "leaking", "{anon}");
    assert_eq!(anon["judged"], true);
    assert_eq!(anon["limit"], limit);
    // About 20 MiB a second from ~60 MiB: roughly 20 s to go.
    let left = anon["time_to_limit_seconds"].as_f64().unwrap();
    assert!(left > 5.0 && left < 60.0, "{left}");
    // RSS rises too, but is not what is judged: no time to the limit on it.
    let rss = process["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["metric"] == "rss")
        .unwrap();
    assert_eq!(rss["judged"], false);
    assert!(rss["time_to_limit_seconds"].is_null(), "{rss}");
}

#[test]
fn rlimit_as_and_nofile_are_the_limits_without_a_cgroup_limit() {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304; ulimit -n 512; exec sleep 30")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    assert!(common::wait_until(std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    }));
    let output = afterlife()
        .args(["--json", "watch", "--interval", "50ms", "--duration", "800ms", &pid])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = ndjson(&output);
    let limits = &summary_process(&events)["limits"];
    assert_eq!(limits["max_fds"], 512);
    // 4 GiB of address space, unless this test itself runs under a smaller
    // cgroup limit.
    let memory = &limits["memory"];
    if memory["source"] == "rlimit_as" {
        assert_eq!(memory["bytes"], 4_294_967_296u64);
    } else {
        assert!(memory["bytes"].as_u64().unwrap() < 4_294_967_296);
    }
}
