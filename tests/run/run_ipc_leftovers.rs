//! PostgreSQL under `run`, its postmaster SIGKILLed: its SysV segment and
//! its `/dev/shm/PostgreSQL.*` segments stay. The report lists them with
//! the command that removes each, and `--remove-ipc` removes them.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::ipc::{shm_files, shm_mapped, shm_mapped_by_anyone, sysv_exists};
use common::{Scratch, afterlife, kill_pids, send_signal, servers, wait_until};
use serde_json::Value;

/// What a test run of PostgreSQL made, removed on drop whatever happened.
struct Made {
    shm_ids: Vec<i64>,
    files: Vec<String>,
    pids: Vec<i32>,
    /// `/dev/shm` when the test started.
    shm_at_start: BTreeSet<String>,
}

impl Made {
    fn new() -> Made {
        Made {
            shm_ids: Vec::new(),
            files: Vec::new(),
            pids: Vec::new(),
            shm_at_start: shm_files(),
        }
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        kill_pids(&self.pids);
        for id in &self.shm_ids {
            let _ = std::process::Command::new("ipcrm")
                .args(["-m", &id.to_string()])
                .output();
        }
        for name in &self.files {
            let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
        }
        // A segment a short-lived PostgreSQL process made, that neither the
        // postmaster mapped nor the report named: new since the test
        // started, and no process maps it, once no PostgreSQL runs.
        if !servers::no_postgres_runs() {
            return;
        }
        let mapped = shm_mapped_by_anyone();
        for name in shm_files().difference(&self.shm_at_start) {
            if name.starts_with("PostgreSQL.") && !mapped.contains(name) {
                let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
            }
        }
    }
}

/// The postmaster: the process whose command line is `postgres -D DATA`
/// (its children retitle themselves `postgres: ...`).
fn postmaster_of(data: &Path) -> Option<i32> {
    let want = data.to_string_lossy().into_owned();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        (args.first()?.ends_with("/postgres") && args.get(1)? == "-D" && args.get(2)? == &want).then_some(pid)
    })
}

/// Line `n` (from 1) of postmaster.pid.
fn pid_file_line(data: &Path, n: usize) -> Option<String> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    text.lines().nth(n - 1).map(|l| l.trim().to_string())
}

struct Outcome {
    report: Value,
    text: String,
    postmaster: i32,
    /// `/dev/shm` before the run.
    shm_before: BTreeSet<String>,
    shm_id: i64,
    files: BTreeSet<String>,
}

/// Runs PostgreSQL under `afterlife run`, SIGKILLs the postmaster once it
/// is ready, and returns the report.
fn run_and_kill(pg: &servers::PgData, extra: &[&str], made: &mut Made, scratch: &Scratch, label: &str) -> Outcome {
    let postgres = servers::program_path("postgres").expect("postgres is installed with initdb");
    let _ = std::fs::remove_file(pg.data.join("postmaster.pid"));
    let report_path = scratch.path().join(format!("{label}.json"));
    let text_path = scratch.path().join(format!("{label}.txt"));
    let port = servers::free_port().to_string();
    let shm_before = shm_files();
    let mut command = afterlife();
    command
        .args(["run", "--report", "--report-json"])
        .arg(&report_path)
        .args(extra)
        .arg("--");
    if let Some((uid, gid)) = pg.owner {
        command.args([
            "setpriv",
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
        ]);
    }
    let mut run = command
        .arg(&postgres)
        .arg("-D")
        .arg(&pg.data)
        .args(["-p", &port, "-k"])
        .arg(pg.dir.path())
        .args(["-c", "listen_addresses=", "-c", "dynamic_shared_memory_type=posix"])
        .args(["-c", "fsync=off", "-c", "logging_collector=off"])
        .current_dir(pg.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&text_path).unwrap())
        .spawn()
        .expect("afterlife runs");
    let ready = wait_until(Duration::from_secs(60), || {
        pid_file_line(&pg.data, 8).as_deref() == Some("ready")
    });
    let postmaster = postmaster_of(&pg.data);
    if let Some(pid) = postmaster {
        made.pids.push(pid);
    }
    if !ready || postmaster.is_none() {
        let _ = run.kill();
        let _ = run.wait();
        panic!(
            "postgres did not start: {}",
            std::fs::read_to_string(&text_path).unwrap_or_default()
        );
    }
    let postmaster = postmaster.unwrap();
    // Line 7: the SysV key and segment id.
    let shm_id: i64 = pid_file_line(&pg.data, 7)
        .and_then(|l| l.split_whitespace().nth(1).and_then(|id| id.parse().ok()))
        .expect("the segment id in postmaster.pid");
    made.shm_ids.push(shm_id);
    let files = shm_mapped(postmaster);
    made.files.extend(files.iter().cloned());
    assert!(
        !files.is_empty() && files.iter().all(|f| f.starts_with("PostgreSQL.")),
        "the postmaster maps its dynamic shared memory: {files:?}"
    );
    send_signal(postmaster, libc::SIGKILL);
    let status = run.wait().expect("afterlife ends");
    assert_eq!(
        common::shell_code(status),
        137,
        "afterlife dies of the postmaster's SIGKILL"
    );
    let report: Value = crate::common::schema::parse("run", &std::fs::read_to_string(&report_path).unwrap());
    let text = std::fs::read_to_string(&text_path).unwrap();
    // Whatever was reported is removed on drop too.
    for object in report["ipc"].as_array().into_iter().flatten() {
        if let Some(name) = object["object"]["name"].as_str() {
            made.files.push(name.trim_start_matches('/').to_string());
        }
    }
    Outcome {
        report,
        text,
        postmaster,
        shm_before,
        shm_id,
        files,
    }
}

/// The uid PostgreSQL runs as.
fn servers_owner_uid() -> i64 {
    let out = std::process::Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn ipc_of(report: &Value) -> Vec<Value> {
    report["ipc"]
        .as_array()
        .unwrap_or_else(|| panic!("no ipc: {report}"))
        .clone()
}

/// The reported objects, checked against what PostgreSQL made: the
/// segment by id, created by the postmaster, and every `/dev/shm` file the
/// postmaster mapped, each new and PostgreSQL's (made by the postmaster or
/// a child: an autovacuum launcher makes one); nothing of anyone else.
fn check_reported(outcome: &Outcome, fate: &str) {
    let ipc = ipc_of(&outcome.report);
    let sysv: Vec<&Value> = ipc.iter().filter(|o| o["object"]["kind"] == "sysv_shm").collect();
    assert_eq!(sysv.len(), 1, "{ipc:?}");
    assert_eq!(sysv[0]["object"]["id"], outcome.shm_id);
    assert_eq!(sysv[0]["object"]["creator_pid"], outcome.postmaster);
    assert_eq!(sysv[0]["attribution"], "creator_pid");
    assert_eq!(sysv[0]["by"], outcome.postmaster);
    assert_eq!(sysv[0]["remove_with"], format!("ipcrm -m {}", outcome.shm_id));
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
            // Its creator, read from the fanotify event; or, where that
            // process had already ended when the event was read and was
            // known no other way (one run in about a dozen), the tree's
            // process that holds it.
            assert!(
                o["attribution"] == "creator_pid" || o["attribution"] == "held_by_tree",
                "{o}"
            );
            assert!(o["by"].as_i64().unwrap() > 0, "{o}");
            assert_eq!(o["object"]["uid"], servers_owner_uid(), "{o}");
            assert_eq!(o["remove_with"], format!("rm /dev/shm/{name}"), "{o}");
            assert_eq!(o["fate"], fate, "{o}");
            name
        })
        .collect();
    assert!(posix.is_superset(&outcome.files), "{posix:?} {:?}", outcome.files);
    assert!(posix.iter().all(|n| n.starts_with("PostgreSQL.")), "{posix:?}");
    assert!(posix.is_disjoint(&outcome.shm_before), "only new ones: {posix:?}");
    assert_eq!(ipc.len(), 1 + posix.len(), "nothing but PostgreSQL's: {ipc:?}");
}

#[test]
fn a_killed_postmaster_leaves_its_segments_reported_and_removed_on_request() {
    if !common::is_root() {
        eprintln!("skipped: PostgreSQL is started under setpriv as root");
        return;
    }
    let Some(pg) = servers::postgres_initdb("run-ipc") else {
        return;
    };
    let scratch = Scratch::new("run-ipc-reports");
    let mut made = Made::new();

    // Without --remove-ipc: listed, and still there.
    let kept = run_and_kill(&pg, &[], &mut made, &scratch, "kept");
    check_reported(&kept, "left");
    assert!(sysv_exists(kept.shm_id), "the segment stays");
    for name in &kept.files {
        assert!(Path::new("/dev/shm").join(name).exists(), "{name} stays");
    }
    let line = format!(
        "    SysV shared memory id {} (key {:#x}), ",
        kept.shm_id,
        kept.report["ipc"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["object"]["kind"] == "sysv_shm")
            .unwrap()["object"]["key"]
            .as_i64()
            .unwrap() as u32
    );
    let sysv_line = kept
        .text
        .lines()
        .find(|l| l.starts_with(&line))
        .unwrap_or_else(|| panic!("{}", kept.text));
    assert!(
        sysv_line.ends_with(&format!(
            ", created by {} — remove with: ipcrm -m {}",
            kept.postmaster, kept.shm_id
        )),
        "{sysv_line}"
    );
    for name in &kept.files {
        let line = kept
            .text
            .lines()
            .find(|l| l.starts_with(&format!("    POSIX shared memory /{name}, ")))
            .unwrap_or_else(|| panic!("{}", kept.text));
        assert!(line.ends_with(&format!(" — remove with: rm /dev/shm/{name}")), "{line}");
        assert!(line.contains(", created by "), "{line}");
    }
    assert!(!kept.text.contains("IPC left:    none"), "{}", kept.text);
    // Removed here, by the commands the report gave.
    for object in ipc_of(&kept.report) {
        let command = object["remove_with"].as_str().unwrap();
        let words: Vec<&str> = command.split_whitespace().collect();
        let out = std::process::Command::new(words[0]).args(&words[1..]).output().unwrap();
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!sysv_exists(kept.shm_id));

    // With --remove-ipc: listed as removed, and gone.
    let removed = run_and_kill(&pg, &["--remove-ipc"], &mut made, &scratch, "removed");
    check_reported(&removed, "removed");
    assert!(!sysv_exists(removed.shm_id), "the segment was removed");
    for name in &removed.files {
        assert!(!Path::new("/dev/shm").join(name).exists(), "{name} was removed");
    }
    // Nothing the run made stays: files new since it started are either
    // gone or mapped by a living process (another server on the machine).
    let mapped = shm_mapped_by_anyone();
    let stayed: Vec<String> = shm_files()
        .difference(&removed.shm_before)
        .filter(|n| n.starts_with("PostgreSQL.") && !mapped.contains(*n))
        .cloned()
        .collect();
    made.files.extend(stayed.iter().cloned());
    assert!(stayed.is_empty(), "left unreported: {stayed:?}");
    assert!(
        removed
            .text
            .contains(&format!(", created by {} — removed\n", removed.postmaster)),
        "{}",
        removed.text
    );
}
