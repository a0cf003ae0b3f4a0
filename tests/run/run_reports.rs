//! Reports that say what happened and nothing else: a death by a signal
//! afterlife did not send is not called the command's doing; `timeout -v`
//! does not claim to signal the command when it signals its leftovers; a
//! report file that cannot be written stops the run before it starts.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::{Scratch, afterlife, pids_in, send_signal, shell_code, stderr, wait_until};

/// Starts `afterlife ARGS -- sh -c SCRIPT` where SCRIPT first writes its
/// PID to a file; returns the child and that PID. The PID is the one this
/// test's namespace gives the shell, resolved from what it wrote (as root
/// the tree has a PID namespace of its own, whose /proc it sees).
fn start(scratch: &Scratch, args: &[&str], then: &str) -> (std::process::Child, i32) {
    let pidfile = scratch.path().join("pid");
    let script = format!("{} > '{}'; {then}", common::NAME_ITSELF_SH, pidfile.display());
    let child = afterlife()
        .args(args)
        .args(["--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || pids_in(&pidfile).len() == 1));
    (child, pids_in(&pidfile)[0])
}

#[test]
fn a_sigkill_from_outside_is_not_the_commands_doing() {
    let scratch = Scratch::new("report-outside-kill");
    let (child, pid) = start(&scratch, &["run", "--report"], "exec sleep 30");
    send_signal(pid, libc::SIGKILL);
    let output = child.wait_with_output().unwrap();
    assert_eq!(shell_code(output.status), 137);
    let err = stderr(&output);
    // The sender (this test) is named where the signal_generate program
    // loads (as root, with BTF), and said to be unknown elsewhere.
    let named = format!(
        "\n  cause:       killed by SIGKILL, which afterlife did not send\n  signal:      sent by pid {} ",
        std::process::id()
    );
    assert!(
        err.contains("\n  cause:       killed by SIGKILL, which afterlife did not send (sender unknown)\n")
            || err.contains(&named),
        "{err}"
    );
    assert!(!err.contains("own doing"), "{err}");
}

#[test]
fn a_signal_passed_on_is_said_to_be() {
    let scratch = Scratch::new("report-forwarded");
    let (child, _) = start(&scratch, &["run", "--report"], "exec sleep 30");
    send_signal(child.id() as i32, libc::SIGHUP);
    let output = child.wait_with_output().unwrap();
    assert_eq!(shell_code(output.status), 129);
    let err = stderr(&output);
    assert!(
        err.contains("\n  cause:       killed by SIGHUP, which afterlife received and passed on\n"),
        "{err}"
    );
}

#[test]
fn an_exit_is_the_commands_own_doing() {
    let output = afterlife()
        .args(["run", "--report", "--", "sh", "-c", "exit 3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("\n  cause:       the command's own doing (no deadline, no OOM kill)\n"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verbose_timeout_names_leftovers_as_leftovers() {
    // The command exits at once; only the sleep it left behind is signalled.
    let output = afterlife()
        .args(["timeout", "-v", "10", "sh", "-c", "sleep 30 & exit 0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(shell_code(output.status), 0);
    let err = stderr(&output);
    let first = err.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "afterlife: sending signal TERM to 1 process left behind by command 'sh'"
    );
    assert!(!err.contains("to command 'sh'"), "{err}");
}

#[test]
fn an_unwritable_report_path_stops_the_run_before_it_starts() {
    let scratch = Scratch::new("report-unwritable");
    let marker = scratch.path().join("ran");
    let script = format!("touch '{}'", marker.display());
    let missing = scratch.path().join("no-such-dir").join("report.json");
    let directory = scratch.path().to_path_buf();
    for (command, path, reason) in [
        (
            &["run", "--report-json"][..],
            &missing,
            "No such file or directory (os error 2)",
        ),
        (
            &["run", "--report-json"][..],
            &directory,
            "Is a directory (os error 21)",
        ),
        (
            &["timeout", "--report-json"][..],
            &missing,
            "No such file or directory (os error 2)",
        ),
    ] {
        let mut invocation = afterlife();
        invocation.args(command).arg(path);
        if command[0] == "timeout" {
            invocation.arg("10");
        } else {
            invocation.arg("--");
        }
        let output = invocation.args(["sh", "-c", &script]).output().unwrap();
        assert_eq!(output.status.code(), Some(125), "{command:?}");
        assert_eq!(
            stderr(&output),
            format!(
                "afterlife: error: cannot write the report to {}: {reason}\n",
                path.display()
            )
        );
        assert!(!marker.exists(), "{command:?}: the command ran");
    }
    // A writable one is written after the run, as before.
    let good = scratch.path().join("report.json");
    let output = afterlife()
        .args(["run", "--report-json"])
        .arg(&good)
        .args(["--", "sh", "-c", "exit 2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let json: serde_json::Value = crate::common::schema::parse("run", &std::fs::read_to_string(&good).unwrap());
    assert_eq!(json["exit_code"], 2);
}

/// A FIFO as `--report-json` waits at most 5 s for a reader, then fails
/// with 125 before the command runs: the open waited for ever, and the
/// command never started. With a reader, the report goes through it.
#[test]
fn a_fifo_report_path_is_given_five_seconds_for_a_reader() {
    let scratch = Scratch::new("report-fifo");
    let fifo = scratch.path().join("report.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let marker = scratch.path().join("ran");
    let script = format!("touch '{}'", marker.display());
    let started = std::time::Instant::now();
    let mut run = afterlife()
        .args(["run", "--report-json"])
        .arg(&fifo)
        .args(["--", "sh", "-c", &script])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ended = wait_until(Duration::from_secs(15), || run.try_wait().unwrap().is_some());
    if !ended {
        let _ = run.kill();
    }
    let output = run.wait_with_output().unwrap();
    assert!(ended, "the run waited for a reader for ever");
    assert!(started.elapsed() >= Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        stderr(&output),
        format!(
            "afterlife: error: cannot write the report to {}: it is a FIFO and no process opened it for reading in 5s\n",
            fifo.display()
        )
    );
    assert!(!marker.exists(), "the command ran");

    // A reader that comes within the time gets the report.
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        std::fs::read_to_string(reader_path).unwrap()
    });
    let output = afterlife()
        .args(["run", "--report-json"])
        .arg(&fifo)
        .args(["--", "sh", "-c", "exit 3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let json: serde_json::Value = crate::common::schema::parse("run", &reader.join().unwrap());
    assert_eq!(json["exit_code"], 3);
}

/// A leftover that ignores SIGTERM and then exits with a code of its own
/// is reported with that code, as afterlife reaped it, not as ended by the
/// SIGTERM it ignored.
#[test]
fn a_leftover_that_ignored_sigterm_and_exited_is_said_to_have_exited() {
    let script = r#"
import os, signal, time
r, w = os.pipe()
if os.fork() == 0:
    os.close(w); os.setsid(); signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.write(2, b"ready\n")
    os.read(r, 1); time.sleep(0.5); os._exit(3)
os.close(r)
time.sleep(0.5)
"#;
    let output = afterlife()
        .args(["--json", "run", "--grace", "5s", "--", "python3", "-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = stderr(&output);
    let json = text
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{text}"));
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    let leftovers = report["leftovers"].as_array().unwrap();
    assert_eq!(leftovers.len(), 1, "{report:#}");
    assert_eq!(
        leftovers[0]["fate"],
        serde_json::json!({"fate": "exited", "code": 3, "after": {"name": "SIGTERM", "number": 15}}),
        "{report:#}"
    );
}

/// Without a terminal afterlife leads the command's process group, so a
/// signal to that group reaches the command straight from its sender, and
/// afterlife as well, which passes it on. The command took the sender's:
/// the sender is named, not afterlife's passing on alone.
#[test]
fn a_signal_to_the_group_names_its_sender() {
    let scratch = Scratch::new("report-group-kill");
    let pidfile = scratch.path().join("pid");
    let script = format!("{} > '{}'; exec sleep 30", common::NAME_ITSELF_SH, pidfile.display());
    let child = std::process::Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--color=never", "run", "--report", "--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || pids_in(&pidfile).len() == 1));
    // SAFETY: kill(2) of the group the spawned afterlife leads (its PID).
    assert_eq!(unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    assert_eq!(shell_code(output.status), 143);
    let err = stderr(&output);
    if err.contains("which afterlife received and passed on\n") || err.contains("(sender unknown)") {
        // Only where the signal_generate program cannot load.
        assert!(!err.contains("  signal:      sent by"), "{err}");
        println!("skipped: no sender can be named here");
        return;
    }
    // afterlife read its own copy before the command's end (and passed it
    // on), or after it (the command had ended): the report is written
    // either way, and names the sender.
    assert!(
        err.contains("killed by SIGTERM from another process, which afterlife also received and passed on")
            || err.contains("killed by SIGTERM, which afterlife did not send\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!("  signal:      sent by pid {} ", std::process::id())),
        "{err}"
    );
}
