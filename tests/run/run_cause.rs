//! `afterlife run` says exactly why the command died: an OOM kill is told
//! from any other SIGKILL (from the kernel log where no cgroup v2 memory
//! controller counts it), and the report JSON carries the whole story.

use crate::common;

use std::path::PathBuf;

use common::{Scratch, afterlife, stderr};

/// A v1 memory cgroup of our own with a small limit, removed on drop.
struct MemoryCage(PathBuf);

impl MemoryCage {
    fn create() -> Option<MemoryCage> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mount = mountinfo.lines().find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mut fields = after.split_whitespace();
            let (fstype, _, options) = (fields.next()?, fields.next()?, fields.next()?);
            (fstype == "cgroup" && options.split(',').any(|o| o == "memory"))
                .then(|| before.split_whitespace().nth(4).map(PathBuf::from))
                .flatten()
        })?;
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = own.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers.split(',').any(|c| c == "memory").then(|| path.to_string())
        })?;
        let cage = mount
            .join(path.trim_start_matches('/'))
            .join(format!("afterlife-oom-test-{}", std::process::id()));
        std::fs::create_dir(&cage).ok()?;
        let cage = MemoryCage(cage);
        std::fs::write(cage.0.join("memory.limit_in_bytes"), (32u64 << 20).to_string()).ok()?;
        Some(cage)
    }
}

impl Drop for MemoryCage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn report(args: &[&str]) -> (std::process::Output, serde_json::Value) {
    report_from(None, args)
}

/// Runs `afterlife run` on `args`, in a PID namespace of its own when
/// `unshare` is given (`unshare --pid --fork --mount-proc`), and reads its
/// JSON report.
fn report_from(unshare: Option<&[&str]>, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = Scratch::new(&format!("cause-{run}"));
    let path = scratch.path().join("report.json");
    let mut command = match unshare {
        None => afterlife(),
        Some(unshare) => {
            let mut command = std::process::Command::new("unshare");
            command
                .args(unshare)
                .args([env!("CARGO_BIN_EXE_afterlife"), "--color=never"]);
            command
        }
    };
    let output = command
        .args(["run", "-q", "--report-json"])
        .arg(&path)
        .arg("--")
        .args(args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "no report at {} ({e}); afterlife ended with {:?}: {}",
            path.display(),
            output.status,
            stderr(&output)
        )
    });
    let json = crate::common::schema::parse("run", &text);
    (output, json)
}

#[test]
fn an_oom_kill_is_told_from_another_sigkill() {
    if std::fs::File::open("/dev/kmsg").is_err() {
        println!("skipped: the kernel log is not readable here");
        return;
    }
    let Some(cage) = MemoryCage::create() else {
        println!("skipped: no writable v1 memory cgroup to provoke an OOM kill in");
        return;
    };
    let tasks = cage.0.join("tasks");
    let hog = [
        "sh",
        "-c",
        &format!(
            "echo $$ > '{}' && exec python3 -c 'a = bytearray(200 << 20)'",
            tasks.display()
        ),
    ];
    // The kernel log names processes by their PIDs in the initial PID
    // namespace: from inside another one (a container) the record is found
    // by the name the process died with and its user.
    let initial = std::fs::read_link("/proc/self/ns/pid").is_ok_and(|l| l.as_os_str() == "pid:[4026531836]");
    let nested: &[&str] = &["--pid", "--fork", "--mount-proc"];
    let mut places = vec![(None, if initial { "kernel log" } else { "kernel log, by name" })];
    if common::is_root() {
        places.push((Some(nested), "kernel log, by name"));
    } else {
        println!("skipped from a new PID namespace: not root");
    }
    for (place, source) in places {
        let (output, json) = report_from(place, &hog);
        assert_eq!(common::shell_code(output.status), 137, "{place:?}: {}", stderr(&output));
        assert_eq!(json["cause"]["kind"], "oom_killed", "{place:?}: {json}");
        assert_eq!(json["oom"]["verdict"], "killed");
        let told = json["oom"]["source"].as_str().unwrap();
        assert!(told.starts_with(source), "{place:?}: {told}");
        assert_eq!(json["dies_by"]["name"], "SIGKILL");

        // A SIGKILL from someone else is not an OOM kill.
        let (output, json) = report_from(place, &["sh", "-c", "kill -KILL $$"]);
        assert_eq!(common::shell_code(output.status), 137);
        assert_eq!(json["cause"]["kind"], "unknown", "{place:?}: {json}");
        assert_eq!(json["oom"]["verdict"], "not_killed");
    }
}

#[test]
fn the_json_report_has_the_documented_shape() {
    let (output, json) = report(&["sh", "-c", "echo hi; exit 5"]);
    assert_eq!(output.status.code(), Some(5));
    assert_eq!(json["command_line"], serde_json::json!(["sh", "-c", "echo hi; exit 5"]));
    assert!(["cgroup", "pidns", "subreaper"].contains(&json["containment"].as_str().unwrap()));
    assert!(json["pid"].as_i64().unwrap() > 0);
    assert!(json["duration_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        json["ending"]["status"],
        serde_json::json!({"kind": "exited", "code": 5})
    );
    assert_eq!(json["ending"]["wait_status"], 0x500);
    assert_eq!(json["ending"]["shell_code"], 5);
    assert_eq!(json["ending"]["meaning"], "exited with code 5");
    assert_eq!(json["cause"]["kind"], "unknown");
    assert_eq!(json["timed_out"], false);
    assert_eq!(json["timeline"], serde_json::json!([]));
    assert!(json["peak_memory"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(json["leftovers"], serde_json::json!([]));
    assert_eq!(json["exit_code"], 5);
    assert!(json.get("dies_by").is_none());

    // A command that stopped itself is continued after the deadline's
    // SIGTERM, and SIGTERM ends it: no SIGKILL.
    let scratch = Scratch::new("cause-stopped");
    let path = scratch.path().join("report.json");
    let output = afterlife()
        .args(["run", "-q", "--timeout", "0.2", "--grace", "5", "--report-json"])
        .arg(&path)
        .args(["--", "sh", "-c", "kill -STOP $$; echo never"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = crate::common::schema::parse("run", &std::fs::read_to_string(&path).unwrap());
    assert_eq!(json["cause"]["needed_kill"], false, "{json:#}");
    assert_eq!(json["ending"]["status"]["signal"]["name"], "SIGTERM", "{json:#}");

    // A timeout that needed SIGKILL: cause and timeline.
    let scratch = Scratch::new("cause-timeline");
    let path = scratch.path().join("report.json");
    let output = afterlife()
        .args(["run", "-q", "--timeout", "0.2", "--grace", "0.2", "--report-json"])
        .arg(&path)
        .args(["--", "sh", "-c", "trap '' TERM; sleep 5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(137));
    let json: serde_json::Value = crate::common::schema::parse("run", &std::fs::read_to_string(&path).unwrap());
    assert_eq!(
        json["cause"],
        serde_json::json!({"kind": "timed_out", "after_seconds": 0.2, "needed_kill": true})
    );
    let timeline = json["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[0]["signal"]["name"], "SIGTERM");
    assert_eq!(timeline[0]["reason"], "deadline");
    assert_eq!(timeline[0]["to"], "tree");
    assert_eq!(timeline[1]["signal"]["name"], "SIGKILL");
    assert_eq!(timeline[1]["reason"], "grace_expired");
    let (at0, at1) = (
        timeline[0]["at_seconds"].as_f64().unwrap(),
        timeline[1]["at_seconds"].as_f64().unwrap(),
    );
    assert!((0.2..1.0).contains(&at0) && at1 - at0 >= 0.15, "{at0} {at1}");
}
