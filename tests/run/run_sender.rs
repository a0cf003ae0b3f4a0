//! `run --name-sender` names who sent the signal that ended its command
//! when afterlife did not send it, from the BPF tracepoints of `deaths` (as
//! root, with BTF); without the option nothing is loaded.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn run_names_the_process_that_killed_its_command() {
    let dir = tempfile_dir("run-sender");
    let pid_file = dir.join("pid");
    // The command writes its PID as the host sees it (as root the tree may
    // have a PID namespace of its own, where $$ differs).
    let script = format!("cut -d' ' -f4 /proc/self/stat > {}; exec sleep 60", pid_file.display());
    let run = common::afterlife()
        .args(["run", "--name-sender", "--report-json"])
        .arg(dir.join("report.json"))
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if !common::wait_until(Duration::from_secs(20), || common::bpf_links(run.id()) >= 3) {
        println!("skipped: the BPF tracepoints do not load here (needs root, BTF and the initial PID namespace)");
        let _ = Command::new("kill").arg(run.id().to_string()).status();
        let _ = run.wait_with_output();
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    assert!(common::wait_until(Duration::from_secs(10), || pid_file.exists()));
    // `cut` wrote its parent's PID: sh's, which `exec sleep` keeps.
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let mut sender = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {pid}"))
        .spawn()
        .unwrap();
    let sender_pid = sender.id();
    let _ = sender.wait();
    let output = run.wait_with_output().unwrap();
    let report: serde_json::Value =
        crate::common::schema::parse("run", &std::fs::read_to_string(dir.join("report.json")).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report["ending"]["shell_code"], 143, "{report}");
    let sent = &report["signal_sender"];
    assert_eq!(sent["pid"], sender_pid, "{report}");
    assert_eq!(sent["name"], "sh", "{report}");
    assert_eq!(sent["code_name"], "SI_USER", "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("sent with kill() by pid {sender_pid} sh (user")),
        "{stderr}"
    );
}

#[test]
fn a_short_run_loads_nothing_and_a_deadline_names_no_sender() {
    let dir = tempfile_dir("run-no-sender");
    let output = common::afterlife()
        .args(["run", "--name-sender", "--timeout", "300ms", "--report-json"])
        .arg(dir.join("report.json"))
        .args(["--", "sleep", "10"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(124), "{}", common::stderr(&output));
    let report: serde_json::Value =
        crate::common::schema::parse("run", &std::fs::read_to_string(dir.join("report.json")).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    // afterlife sent the TERM itself: the timeline says so, no sender.
    assert!(report.get("signal_sender").is_none(), "{report}");
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("afterlife-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn without_the_option_nothing_is_loaded() {
    let run = common::afterlife()
        .args(["run", "-q", "--", "sleep", "2"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let links = common::bpf_links(run.id());
    let output = run.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(links, 0, "BPF links held by a run that did not ask to name senders");
}
