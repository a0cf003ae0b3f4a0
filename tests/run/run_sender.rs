//! `run` names who sent the signal that ended its command when afterlife
//! did not send it, by default: a small BPF program on the
//! `signal_generate` tracepoint, attached while the command runs (as root,
//! with BTF). `--no-name-sender` loads nothing; where the program cannot
//! load, the run goes on and says nothing of it.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Whether the run `pid` has attached its program within `limit`; prints
/// why the test is skipped when not.
fn attached(pid: u32, limit: Duration) -> bool {
    if common::wait_until(limit, || common::bpf_links(pid) >= 1) {
        return true;
    }
    println!("skipped: the signal_generate program does not load here (needs root, BTF and the initial PID namespace)");
    false
}

/// Runs `sh -c SCRIPT` (after it has written its host PID), kills it with
/// SIGTERM from a shell started for that, and returns the JSON report,
/// afterlife's stderr and the sender's PID; `None` where the program does
/// not load.
fn killed_from_outside(name: &str, script: &str) -> Option<(serde_json::Value, String, u32)> {
    killed_from_outside_with(name, &[], script)
}

/// [`killed_from_outside`] with more options for `run`.
fn killed_from_outside_with(name: &str, options: &[&str], script: &str) -> Option<(serde_json::Value, String, u32)> {
    let dir = tempfile_dir(name);
    let pid_file = dir.join("pid");
    // The command names itself; `pids_in` gives the PID the host sees (as
    // root the tree may have a PID namespace of its own, where $$ differs).
    let script = format!("{} > {}; {script}", common::NAME_ITSELF_SH, pid_file.display());
    let run = common::afterlife()
        .args(["run", "--report-json"])
        .arg(dir.join("report.json"))
        .args(options)
        .args(["--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if !attached(run.id(), Duration::from_secs(10)) {
        let _ = Command::new("kill").arg(run.id().to_string()).status();
        let _ = run.wait_with_output();
        let _ = std::fs::remove_dir_all(&dir);
        return None;
    }
    assert!(common::wait_until(Duration::from_secs(10), || common::pids_in(
        &pid_file
    )
    .len()
        == 1));
    // sh's PID as this test's namespace gives it.
    let pid = common::pids_in(&pid_file)[0];
    // Time for sh to set its trap and wait.
    std::thread::sleep(Duration::from_millis(200));
    // The sender is a shell started for it, so its PID is known.
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
    Some((report, String::from_utf8_lossy(&output.stderr).into_owned(), sender_pid))
}

#[test]
fn run_names_the_process_that_killed_its_command_by_default() {
    let Some((report, stderr, sender_pid)) = killed_from_outside("run-sender", "exec sleep 60") else {
        return;
    };
    assert_eq!(report["ending"]["shell_code"], 143, "{report}");
    let sent = &report["signal_sender"];
    assert_eq!(sent["pid"], sender_pid, "{report}");
    assert_eq!(sent["name"], "sh", "{report}");
    assert_eq!(sent["kind"], "kill", "{report}");
    assert_eq!(sent["code_name"], "SI_USER", "{report}");
    assert_eq!(sent["itself"], false, "{report}");
    assert!(
        sent["before_death_seconds"]
            .as_f64()
            .is_some_and(|s| (0.0..5.0).contains(&s)),
        "{report}"
    );
    assert!(
        stderr.contains(&format!("killed by SIGTERM, sent by pid {sender_pid} sh (user")),
        "{stderr}"
    );
}

#[test]
fn the_sender_is_named_when_the_keeper_started_the_command() {
    // The program keeps the signals of afterlife's children and
    // grandchildren only: here the command is the keeper's child.
    for containment in ["subreaper", "pidns"] {
        let name = format!("run-sender-{containment}");
        let Some((report, stderr, sender_pid)) =
            killed_from_outside_with(&name, &["--containment", containment], "exec sleep 60")
        else {
            return;
        };
        assert_eq!(report["containment"], containment, "{report}");
        assert_eq!(report["signal_sender"]["pid"], sender_pid, "{report}");
        assert!(
            stderr.contains(&format!("killed by SIGTERM, sent by pid {sender_pid} sh (user")),
            "{stderr}"
        );
    }
}

#[test]
fn a_command_that_re_raises_the_signal_it_caught_names_the_first_sender() {
    // sh catches TERM, and sends it to itself once its trap is reset: the
    // sender named is the outside shell, not the command.
    let script = "trap 'trap - TERM; kill -TERM $$' TERM; sleep 60 & wait";
    let Some((report, stderr, sender_pid)) = killed_from_outside("run-sender-reraise", script) else {
        return;
    };
    assert_eq!(report["ending"]["shell_code"], 143, "{report}");
    assert_eq!(report["signal_sender"]["pid"], sender_pid, "{report}");
    assert_eq!(report["signal_sender"]["itself"], false, "{report}");
    assert!(
        stderr.contains(&format!("sent by pid {sender_pid} sh (user")),
        "{stderr}"
    );
}

#[test]
fn a_command_that_signals_itself_at_once_is_said_to() {
    // The program is attached before the command starts: even a command
    // that kills itself first thing is seen.
    let dir = tempfile_dir("run-sender-itself");
    let output = common::afterlife()
        .args(["run", "--report", "--report-json"])
        .arg(dir.join("report.json"))
        .args(["--", "sh", "-c", "kill -TERM $$"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let report: serde_json::Value =
        crate::common::schema::parse("run", &std::fs::read_to_string(dir.join("report.json")).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report["ending"]["shell_code"], 143, "{report}");
    if report.get("signal_sender").is_none() && !(common::is_root() && Path::new("/sys/kernel/btf/vmlinux").exists()) {
        println!("skipped: the signal_generate program does not load here (needs root and BTF)");
        return;
    }
    let sent = &report["signal_sender"];
    assert_eq!(sent["itself"], true, "{report}");
    assert_eq!(sent["pid"], report["pid"], "{report}");
    assert_eq!(sent["kind"], "kill", "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\n  cause:       killed by SIGTERM, which afterlife did not send\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n  signal:      sent by itself with kill()"),
        "{stderr}"
    );
}

#[test]
fn a_deadline_names_no_sender() {
    let dir = tempfile_dir("run-no-sender");
    let output = common::afterlife()
        .args(["run", "--timeout", "300ms", "--report-json"])
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
fn with_no_name_sender_nothing_is_loaded() {
    let run = common::afterlife()
        .args(["run", "-q", "--no-name-sender", "--", "sleep", "1.5"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let links = common::bpf_links(run.id());
    let output = run.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(links, 0, "BPF links held by a run told not to name senders");
}

#[test]
fn the_old_option_is_still_accepted() {
    let output = common::afterlife()
        .args(["run", "-q", "--name-sender", "--", "true"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", common::stderr(&output));
}

#[test]
fn where_the_program_cannot_load_the_run_says_nothing_of_it() {
    // As nobody, BPF cannot load: the run works, and its words are those
    // of a run that names no sender, with no error.
    if !common::is_root() {
        println!("skipped: needs root to drop to nobody");
        return;
    }
    let output = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--color=never", "run", "--report", "--", "sh", "-c", "kill -TERM $$"])
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) if output.status.code() != Some(127) => output,
        _ => {
            println!("skipped: setpriv cannot run afterlife as nobody here");
            return;
        }
    };
    // afterlife ends as its command did: by the same signal.
    assert_eq!(common::shell_code(output.status), 143, "{}", common::stderr(&output));
    let err = common::stderr(&output);
    assert!(
        err.contains("\n  cause:       killed by SIGTERM, which afterlife did not send (sender unknown)\n"),
        "{err}"
    );
    for word in ["BPF", "bpf", "error", "warning", "signal:"] {
        assert!(!err.contains(word), "{word:?} in {err}");
    }
}
