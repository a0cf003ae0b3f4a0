//! `afterlife wait` on processes that are not its children: the exit status
//! comes from `PIDFD_INFO_EXIT` after another parent reaped them, or from the
//! zombie's /proc entry.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

/// Starts `afterlife wait ARGS... PID` and returns once it holds a pidfd for PID.
fn start_wait(target: i32, extra: &[&str]) -> std::process::Child {
    let child = afterlife()
        .arg("wait")
        .args(extra)
        .arg(target.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("afterlife starts");
    assert!(
        wait_until(Duration::from_secs(10), || holds_pidfd_for(child.id(), target)),
        "afterlife never opened a pidfd for {target}"
    );
    child
}

#[test]
fn grandchild_reaped_by_its_own_parent_reports_its_exit_code() {
    let scratch = Scratch::new("wait-42");
    let fifo = scratch.fifo("go");
    // The shell starts a grandchild (from afterlife's point of view: not its
    // child), prints its PID, and reaps it with `wait`.
    let fixture = Fixture::start(&format!("( read x < {}; exit 42 ) & echo $!; wait", fifo.display()));
    let waiter = start_wait(fixture.reported, &[]);
    release(&fifo);
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(42), "stderr: {}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("exited with code 42"), "{text}");
    assert!(text.contains("$? = 42"), "{text}");
}

#[test]
fn grandchild_killed_by_sigterm_exits_143() {
    let fixture = Fixture::start("sleep 300 & echo $!; wait");
    let waiter = start_wait(fixture.reported, &["--json"]);
    let target = rustix::process::Pid::from_raw(fixture.reported).unwrap();
    rustix::process::kill_process(target, rustix::process::Signal::TERM).unwrap();
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143), "stderr: {}", stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", stdout(&output).lines().next().unwrap());
    assert_eq!(line["pid"], fixture.reported);
    assert_eq!(line["ending"]["observed"], "known");
    assert_eq!(line["ending"]["status"]["kind"], "signaled");
    assert_eq!(line["ending"]["status"]["signal"]["name"], "SIGTERM");
    assert_eq!(line["ending"]["shell_code"], 143);
    // Its parent (the shell's `wait`) reaps it at once; if afterlife looked
    // before that, it read the zombie's stat instead. Either is exact.
    let source = line["ending"]["source"].as_str().unwrap();
    assert!(["pidfd_info", "zombie_stat"].contains(&source), "{source}");
}

#[test]
fn zombie_whose_parent_does_not_reap_reports_from_proc() {
    let scratch = Scratch::new("wait-zombie");
    let fifo = scratch.fifo("go");
    // After `exec sleep`, the grandchild's parent is a process that never waits.
    let fixture = Fixture::start(&format!(
        "( read x < {}; exit 7 ) & echo $!; exec sleep 300",
        fifo.display()
    ));
    let waiter = start_wait(fixture.reported, &["--json"]);
    release(&fifo);
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(7), "stderr: {}", stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", stdout(&output).lines().next().unwrap());
    assert_eq!(line["ending"]["source"], "zombie_stat");
    assert_eq!(line["ending"]["status"]["code"], 7);

    // `status` sees the same zombie and names the parent that must reap it.
    let status = run(&["status", &fixture.reported.to_string()]);
    assert_eq!(status.status.code(), Some(1));
    let text = stdout(&status);
    assert!(text.contains("zombie"), "{text}");
    assert!(text.contains("exited with code 7"), "{text}");
    assert!(
        text.contains(&format!("its parent {} (sleep", fixture.child.id())),
        "{text}"
    );
}

/// `cmd &` gives `$!` before the child has exec'd `cmd`: a wait that
/// opened the child then read the shell's name and command line, and
/// reported the `sleep` it became as `bash`.
#[test]
fn a_process_that_execs_after_the_wait_started_is_named_as_it_ran() {
    let scratch = Scratch::new("wait-exec-later");
    let fifo = scratch.fifo("go");
    let fixture = Fixture::start(&format!(
        "( read x < {}; exec sleep 1.5 ) & echo $!; wait",
        fifo.display()
    ));
    let waiter = start_wait(fixture.reported, &["--json"]);
    release(&fifo);
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", stdout(&output).lines().next().unwrap());
    assert_eq!(line["name"], "sleep", "{line}");
    assert_eq!(line["command_line"], serde_json::json!(["sleep", "1.5"]), "{line}");
}

/// One that execs and ends before it is read again, and whose parent does
/// not reap it: the zombie shows its new name; its command line went with
/// its memory, so none is given rather than the shell's.
#[test]
fn a_zombie_that_exec_d_after_the_wait_started_has_its_new_name_and_no_command_line() {
    let scratch = Scratch::new("wait-exec-zombie");
    let fifo = scratch.fifo("go");
    let fixture = Fixture::start(&format!(
        "( read x < {}; exec true ) & echo $!; exec sleep 300",
        fifo.display()
    ));
    let waiter = start_wait(fixture.reported, &["--json"]);
    release(&fifo);
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", stdout(&output).lines().next().unwrap());
    assert_eq!(line["name"], "true", "{line}");
    // Read again while `true` ran, in the moment before it ended, it has
    // its own command line.
    let command_line = &line["command_line"];
    assert!(
        *command_line == serde_json::json!([]) || *command_line == serde_json::json!(["true"]),
        "{line}"
    );
}

#[test]
fn timeout_expires_with_124() {
    let fixture = Fixture::start("sleep 300 & echo $!; wait");
    let output = run(&["wait", "--timeout", "200ms", &fixture.reported.to_string()]);
    assert_eq!(output.status.code(), Some(124));
    assert!(
        stdout(&output).contains("still running after 200ms"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn several_pids_exit_with_the_last_ones_status() {
    let scratch = Scratch::new("wait-several");
    let (one, two) = (scratch.fifo("one"), scratch.fifo("two"));
    let fixture = Fixture::start(&format!(
        "( read x < {}; exit 3 ) & echo $!; ( read x < {}; exit 5 ) & wait",
        one.display(),
        two.display()
    ));
    let first = fixture.reported;
    let shell = afterlife::process::Pid::new(fixture.child.id() as i32).unwrap();
    let mut second = None;
    assert!(wait_until(Duration::from_secs(10), || {
        let table = afterlife::process::ProcessTable::scan();
        second = table.children(shell).into_iter().map(|p| p.get()).find(|&p| p != first);
        second.is_some()
    }));
    let second = second.unwrap();
    let waiter = afterlife()
        .args(["wait", &first.to_string(), &second.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || holds_pidfd_for(
        waiter.id(),
        first
    ) && holds_pidfd_for(
        waiter.id(),
        second
    )));
    release(&one);
    release(&two);
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(5));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("exited with code 3") && text.contains("exited with code 5"),
        "{text}"
    );
}

#[test]
fn a_pid_given_twice_is_waited_for_and_reported_once() {
    let scratch = Scratch::new("wait-twice");
    let fifo = scratch.fifo("go");
    let fixture = Fixture::start(&format!("( read x < {}; exit 7 ) & echo $!; wait", fifo.display()));
    let pid = fixture.reported.to_string();
    let waiter = afterlife()
        .args(["wait", &pid, &pid])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || holds_pidfd_for(
        waiter.id(),
        fixture.reported
    )));
    release(&fifo);
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(7));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// A zombie of another user hides its exit code until its parent reaps it;
/// `wait` waits for that reap and reads the code from its pidfd.
#[test]
fn another_users_zombie_is_reported_once_its_parent_reaps_it_late() {
    if !is_root() {
        println!("skipped: needs root to start a process of another user");
        return;
    }
    let scratch = Scratch::new("wait-late-reap");
    let fifo = scratch.fifo("go");
    // The grandchild's parent becomes python, which reaps it 1.5 s after
    // it exits.
    let fixture = Fixture::start(&format!(
        "( read x < {}; exit 9 ) & echo $!; exec python3 -c 'import os, time
os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
time.sleep(1.5)
os.wait()
time.sleep(300)'",
        fifo.display()
    ));
    let waiter = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--json", "wait", &fixture.reported.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv runs");
    assert!(
        wait_until(Duration::from_secs(10), || holds_pidfd_for(
            waiter.id(),
            fixture.reported
        )),
        "afterlife never opened a pidfd for {}",
        fixture.reported
    );
    release(&fifo);
    let output = waiter.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(9), "stderr: {}", stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", stdout(&output).lines().next().unwrap());
    assert_eq!(line["ending"]["observed"], "known", "{line}");
    assert_eq!(line["ending"]["source"], "pidfd_info", "{line}");
    assert_eq!(line["ending"]["status"]["code"], 9, "{line}");
    let after = line["ended_after_seconds"].as_f64().unwrap();
    assert!(after < 1.0, "the time of the exit, not of the reap: {after}");
}

#[test]
fn a_signal_mask_inherited_from_the_caller_does_not_make_wait_deaf() {
    // A caller that runs afterlife with SIGTERM and SIGINT blocked (a
    // Python thread, a daemon): the mask survives exec, and `wait` could
    // then be ended by SIGKILL alone.
    let target = sleeper("60");
    let script = "import os, signal, sys; \
                  signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}); \
                  os.execv(sys.argv[1], sys.argv[1:])";
    let mut waiting = std::process::Command::new("python3")
        .args(["-c", script, env!("CARGO_BIN_EXE_afterlife"), "wait"])
        .arg(target.pid().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("afterlife starts");
    assert!(
        wait_until(Duration::from_secs(10), || holds_pidfd_for(waiting.id(), target.pid())),
        "afterlife never opened a pidfd"
    );
    send_signal(waiting.id() as i32, libc::SIGTERM);
    let ended = wait_until(Duration::from_secs(5), || waiting.try_wait().unwrap().is_some());
    if !ended {
        let _ = waiting.kill();
    }
    let status = waiting.wait().unwrap();
    assert!(ended, "SIGTERM did not end `wait`");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGTERM)
    );
}
