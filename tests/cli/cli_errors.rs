//! Bad input gets one clear line on stderr and exit code 125, never a panic.

use crate::common;

use common::*;

fn assert_one_line_error(args: &[&str], expected: &str) {
    let output = run(args);
    assert_eq!(output.status.code(), Some(125), "{args:?}: {}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("afterlife: error: "), "{args:?}: {err}");
    assert!(err.contains(expected), "{args:?}: expected {expected:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(&output).is_empty(), "{args:?}");
}

#[test]
fn pids_that_are_not_numbers() {
    for command in ["status", "wait"] {
        assert_one_line_error(
            &[command, "abc"],
            "'abc' is not a process ID (expected digits only, such as 1234)",
        );
        assert_one_line_error(&[command, "12x"], "'12x' is not a process ID");
        assert_one_line_error(&[command, ""], "is not a process ID");
    }
}

#[test]
fn pids_are_digits_only() {
    for command in ["status", "wait", "why", "kill"] {
        for text in [" 1", "1 ", "+1", "1e3", "0x10"] {
            assert_one_line_error(&[command, text], "is not a process ID (expected digits only");
        }
        assert_one_line_error(
            &[command, "01"],
            "'01' is not a process ID: PIDs are written without leading zeros",
        );
    }
}

#[test]
fn usage_errors_are_one_line_and_a_hint() {
    for (args, error, hint) in [
        (
            &["kill", "--bogus", "1"][..],
            "afterlife: error: unexpected argument '--bogus' found (to pass '--bogus' as a value, use '-- --bogus')",
            "afterlife: hint: usage: afterlife kill [OPTIONS] <PID>...; more with 'afterlife kill --help'",
        ),
        (
            &["wait"],
            "afterlife: error: the following required arguments were not provided: <PID>...",
            "afterlife: hint: usage: afterlife wait <PID>...; more with 'afterlife wait --help'",
        ),
        // A mistyped option of `run` is refused, not run as the command.
        (
            &["run", "--timout", "5", "--", "true"],
            "afterlife: error: unexpected argument '--timout' found (a similar argument exists: '--timeout'; to pass '--timout' as a value, use '-- --timout')",
            "afterlife: hint: usage: afterlife run --timeout <DURATION> <COMMAND>...; more with 'afterlife run --help'",
        ),
        (
            &["frobnicate"],
            "afterlife: error: unrecognized subcommand 'frobnicate'",
            "afterlife: hint: usage: afterlife [OPTIONS] <COMMAND>; more with 'afterlife --help'",
        ),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}");
        assert_eq!(stderr(&output), format!("{error}\n{hint}\n"), "{args:?}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
}

#[test]
fn addresses_that_are_not_say_why() {
    assert_one_line_error(&["holds", "300.1.1.1:80"], "'300.1.1.1:80' is not an IP address");
    assert_one_line_error(
        &["holds", "example.com:80"],
        "'example.com' is not an IP address or localhost (afterlife looks up no host names); write ./example.com:80 for a file",
    );
    assert_one_line_error(&["holds", "TCP:0"], "'TCP:0' is not a port");
    // An address followed by no port, or by one that is not digits, is
    // refused for its port: it was looked up as a file, and the answer was
    // "cannot examine 127.0.0.1:: No such file or directory".
    for spec in ["127.0.0.1:", "localhost:abc", "10.0.0.1:x"] {
        assert_one_line_error(&["holds", spec], &format!("'{spec}' is not a port"));
    }
}

#[test]
fn upper_case_protocols_and_localhost_name_a_port() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let me = std::process::id() as i64;
    for spec in [
        format!("TCP:{port}"),
        format!("localhost:{port}"),
        format!("tcp:LOCALHOST:{port}"),
    ] {
        let (code, report) = run_json(&["holds", &spec]);
        assert_eq!(code, Some(0), "{spec}: {report}");
        let sockets = report["results"][0]["sockets"].as_array().expect("sockets");
        let held_by_me = |s: &serde_json::Value| {
            s["holders"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["pid"] == me))
        };
        assert!(sockets.iter().any(held_by_me), "{spec}: {report}");
    }
}

#[test]
fn control_characters_from_any_input_are_escaped_in_errors() {
    let output = run(&["explain", "a\x1b[31mb\x07"]);
    assert_eq!(output.status.code(), Some(125));
    let err = stderr(&output);
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    assert!(err.contains("cannot explain 'a\\e[31mb\\x07'"), "{err:?}");
}

#[test]
fn pid_zero_and_negative() {
    for command in ["status", "wait"] {
        assert_one_line_error(&[command, "0"], "PIDs are positive");
        assert_one_line_error(&[command, "-5"], "PIDs are positive");
        assert_one_line_error(&[command, "99999999"], "never uses PIDs above 4194303");
    }
}

#[test]
fn no_such_process() {
    let pid = unused_pid().to_string();
    assert_one_line_error(&["wait", &pid], &format!("no such process: {pid}"));
    // For status, "gone" is an answer, not an error.
    let output = run(&["status", &pid]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("gone"), "{}", stdout(&output));
}

#[test]
fn bad_durations() {
    let me = std::process::id().to_string();
    assert_one_line_error(&["wait", "--timeout", "10x", &me], "invalid duration '10x'");
    assert_one_line_error(&["wait", "--timeout", "-1", &me], "invalid duration '-1'");
    assert_one_line_error(&["wait", "--timeout", "soon", &me], "invalid duration 'soon'");
    // A negative duration with a unit is the duration parser's to refuse,
    // not taken for an option.
    assert_one_line_error(&["wait", "--timeout", "-1s", &me], "invalid duration '-1s': negative");
    assert_one_line_error(&["watch", "--duration", "-1s", &me], "invalid duration '-1s': negative");
    assert_one_line_error(&["deaths", "--duration", "-2m"], "invalid duration '-2m': negative");
    assert_one_line_error(
        &["run", "--timeout", "-1s", "--", "true"],
        "invalid duration '-1s': negative",
    );
}

#[test]
fn empty_name_patterns() {
    for command in ["watch", "deaths"] {
        assert_one_line_error(&[command, "--name", ""], "it is empty and would match every process");
    }
    assert_one_line_error(&["deaths", "--cgroup", ""], "it is empty and would match every cgroup");
    // A signal no process dies of would match nothing.
    assert_one_line_error(&["deaths", "--signal", "STOP"], "no process dies of SIGSTOP");
    assert_one_line_error(&["deaths", "--signal", "SIGCONT"], "no process dies of SIGCONT");
}

#[test]
fn bad_explain_input() {
    assert_one_line_error(&["explain", "banana"], "cannot explain 'banana'");
    assert_one_line_error(&["explain", "0xZZ"], "cannot explain '0xZZ'");
    assert_one_line_error(
        &["explain", "RTMIN+31"],
        "cannot explain 'RTMIN+31': 'RTMIN+31' is outside the real-time signals: they are RTMIN to RTMIN+30",
    );
    assert_one_line_error(
        &["kill", "-s", "RTMAX-31", "1"],
        "'RTMAX-31' is outside the real-time signals",
    );
    assert_one_line_error(&["explain", "1.5"], "cannot explain '1.5'");
    // A number too large for any status is said to be one.
    assert_one_line_error(
        &["explain", "340282366920938463463374607431768211456"],
        "cannot explain '340282366920938463463374607431768211456': out of range: no exit code",
    );
}

/// `holds --deleted` lists deleted files and answers nothing of a SPEC
/// given with it: `holds --deleted tcp:80` said nothing of port 80 and
/// exited 0 when any deleted file was held open. The two are one or the
/// other, a usage error together.
#[test]
fn holds_deleted_takes_no_spec() {
    let output = run(&["holds", "--deleted", "tcp:80"]);
    assert_eq!(output.status.code(), Some(125));
    let err = stderr(&output);
    assert!(
        err.starts_with("afterlife: error: the argument '--deleted' cannot be used with '[SPEC]...'"),
        "{err}"
    );
    assert!(stdout(&output).is_empty());
}

/// A real-time signal's offset is one sign and digits: `RTMIN--3` was read
/// as RTMIN+3 (the digits were parsed as a number that may carry a sign of
/// its own), so `kill -s RTMIN--3` sent signal 37 and `explain` explained
/// it. Now both refuse it, and the process is sent nothing.
#[test]
fn a_real_time_offset_with_two_signs_is_no_signal() {
    let target = sleeper("60");
    let pid = target.pid().to_string();
    for text in ["RTMIN--3", "RTMIN++3", "RTMAX-+3"] {
        assert_one_line_error(&["explain", text], &format!("cannot explain '{text}'"));
        assert_one_line_error(
            &["kill", "--no-escalate", "-s", text, &pid],
            &format!("unknown signal name '{text}'"),
        );
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(stat.contains(") S "), "still sleeping: {stat}");
}

#[test]
fn control_characters_in_errors_are_escaped() {
    let output = run(&["status", "1\x1b[31m"]);
    assert_eq!(output.status.code(), Some(125));
    let err = stderr(&output);
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(err.contains("\\e[31m"), "{err:?}");
}

#[test]
fn unknown_commands_and_missing_arguments_exit_125() {
    assert_eq!(run(&["frobnicate"]).status.code(), Some(125));
    assert_eq!(run(&["status"]).status.code(), Some(125));
    assert_eq!(run(&[]).status.code(), Some(125));
}

/// The summary under `afterlife --help` names every code of the one
/// exit-code table: it left out 2 (`watch`: too few samples) and 121 (`run
/// --fail-on-leftovers`). `explain --help` says its codes, and `run
/// --help` shows `--kill-after`, the name `timeout` users know `--grace` by.
#[test]
fn help_names_every_exit_code() {
    let help = stdout(&run(&["--help"]));
    let summary = &help[help.find("Exit codes:").expect("an exit-code summary")..];
    let summary = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    for (code, _) in afterlife::exit_code::TABLE {
        let shown = match *code {
            "126" | "127" => "126/127 ",
            "other" => "own code through",
            code => &format!("{code} "),
        };
        assert!(summary.contains(shown), "{code} is not in: {summary}");
    }
    let explain = stdout(&run(&["explain", "--help"]));
    assert!(
        explain.contains("Exit code: 0 when every CODE was explained, 125"),
        "{explain}"
    );
    let run_help = stdout(&run(&["run", "--help"]));
    assert!(run_help.contains("[alias: --kill-after]"), "{run_help}");
    assert_eq!(run(&["run", "--kill-after", "1", "--", "true"]).status.code(), Some(0));
}

#[test]
fn help_and_version_exit_0() {
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    assert_eq!(run(&["--version"]).status.code(), Some(0));
    assert_eq!(run(&["wait", "--help"]).status.code(), Some(0));
}

#[test]
fn exit_status_hidden_from_an_unprivileged_user_is_an_error_not_a_guess() {
    if !is_root() {
        eprintln!("skipped: needs root to run afterlife as another user");
        return;
    }
    if std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    // A root-owned zombie: its parent (sleep) never reaps it. wait looks
    // for the reap until its --timeout (5 s without one), then says so.
    let fixture = unreaped_zombie(0);
    let pid = fixture.reported;
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["wait", "--timeout", "500ms", &pid.to_string()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("exit status cannot be known"), "{err}");
    assert!(err.contains("zombie of another user"), "{err}");
    // Root sees it: exited with code 0.
    let output = run(&["wait", &pid.to_string()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// Root's user ID is no privilege: the root of a user namespace, and root
/// without CAP_SYS_PTRACE (a container's), read another user's zombie's
/// exit code as the kernel shows it to them, 0, which is not its code.
#[test]
fn a_zombie_code_hidden_from_root_without_ptrace_rights_is_not_read_as_0() {
    if !is_root() {
        eprintln!("skipped: needs root to make another user's zombie");
        return;
    }
    // nobody's zombie with code 7: its parent (sleep) never reaps it.
    let fixture = Fixture::start(
        "exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \
         'p=$$; ( while [ \"$(cat /proc/$p/comm)\" != sleep ]; do sleep 0.01; done; exit 7 ) & echo $!; exec sleep 300'",
    );
    let pid = fixture.reported.to_string();
    assert!(
        wait_until(std::time::Duration::from_secs(20), || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
        }),
        "process {pid} did not become a zombie"
    );
    let status = |wrapper: &[&str]| {
        let output = std::process::Command::new(wrapper[0])
            .args(&wrapper[1..])
            .arg(env!("CARGO_BIN_EXE_afterlife"))
            .args(["--color=never", "status", &pid])
            .output()
            .unwrap();
        stdout(&output)
    };
    for wrapper in [
        &["unshare", "--user", "--map-root-user"][..],
        &["setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace", "--"],
    ] {
        let out = status(wrapper);
        assert!(!out.contains("exited with code 0"), "{wrapper:?}: {out}");
        assert!(out.contains("exit status not observable"), "{wrapper:?}: {out}");
    }
    // With CAP_SYS_PTRACE in the initial user namespace: its code.
    assert!(status(&["env"]).contains("exited with code 7 ($? = 7)"));
}

#[test]
fn snapshots_are_read_within_a_bound() {
    assert_one_line_error(
        &["leftovers", "/dev/zero"],
        "/dev/zero is not an afterlife snapshot: expected value at line 1 column 1",
    );
    assert_one_line_error(&["leftovers", "/"], "cannot read snapshot /: it is a directory");
    let scratch = Scratch::new("big-snapshot");
    // A later version that lacks what this one needs: its version says why.
    let later = scratch.path().join("v3.json");
    std::fs::write(&later, r#"{"version": 3}"#).unwrap();
    assert_one_line_error(
        &["leftovers", later.to_str().unwrap()],
        "v3.json was written by a newer afterlife (version 3; this one reads up to 2)",
    );
    let big = scratch.path().join("big.json");
    // A sparse file: 300 MiB long, no disk used.
    std::fs::File::create(&big).unwrap().set_len(300 << 20).unwrap();
    assert_one_line_error(
        &["leftovers", big.to_str().unwrap()],
        "big.json is larger than 256 MiB, more than any snapshot afterlife writes",
    );
}

/// Runs afterlife with `args`, ending it (the child we started) should it
/// take longer than `limit`: `None` then.
pub(crate) fn run_within(args: &[&str], limit: std::time::Duration) -> Option<std::process::Output> {
    use std::process::Stdio;
    let mut child = afterlife()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("afterlife runs");
    if wait_until(limit, || child.try_wait().expect("try_wait").is_some()) {
        return Some(child.wait_with_output().expect("its output"));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// `open(2)` of a FIFO waits for a writer, for ever if none comes; the
/// FIFO is given a few seconds to have one, and then read as long as its
/// writer takes. One whose writer came and went is never opened a second
/// time (a second open would wait for another).
#[test]
fn a_fifo_snapshot_is_read_once_and_never_waited_for_forever() {
    let limit = std::time::Duration::from_secs(15);
    let scratch = Scratch::new("fifo-snapshot");
    let (code, snapshot) = run_json(&["snapshot", &std::process::id().to_string()]);
    assert_eq!(code, Some(0));
    let saved = scratch.path().join("saved.json");
    std::fs::write(&saved, snapshot.to_string()).unwrap();
    // A writer that holds the FIFO longer than the wait before it writes:
    // it is waited for, beside a FIFO nobody opens.
    let slow = scratch.fifo("slow.json");
    let mut writer = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec 3>\"$1\"; sleep 6; cat \"$2\" >&3")
        .args(["sh", slow.to_str().unwrap(), saved.to_str().unwrap()])
        .spawn()
        .expect("sh runs");
    let slow_read = {
        let slow = slow.clone();
        std::thread::spawn(move || run_within(&["leftovers", slow.to_str().unwrap()], limit))
    };
    let fifo = scratch.fifo("snapshot.json");
    let path = fifo.to_str().unwrap();
    let output = run_within(&["leftovers", path], limit).expect("leftovers of a FIFO nobody writes returns");
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot read snapshot") && err.contains("it is a FIFO and it had no writer for 5s"),
        "{err}"
    );
    let output = slow_read.join().unwrap();
    let _ = writer.kill();
    let _ = writer.wait();
    let output = output.expect("leftovers of a slow FIFO returns");
    // Its process lives on: it stayed.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // A writer that brings what is no snapshot, then goes: one error, once.
    for (content, expected_code, expected) in [
        (
            r#"{"version": 2}"#.to_string(),
            Some(125),
            "is not an afterlife snapshot: missing field",
        ),
        (
            r#"{"version": 3}"#.to_string(),
            Some(125),
            "is not an afterlife snapshot: missing field",
        ),
        (snapshot.to_string(), Some(1), ""),
    ] {
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, content))
        };
        let output = run_within(&["leftovers", path], limit).expect("leftovers of a FIFO returns");
        let err = stderr(&output);
        assert_eq!(output.status.code(), expected_code, "{err}");
        assert!(err.contains(expected), "{err}");
        writer.join().unwrap().expect("the snapshot was written");
    }
}

#[test]
fn a_thread_id_is_no_process() {
    // /proc/TID answers for a thread as for its process, and kill(2) on it
    // signals the whole process: every command says what the ID is.
    let py = Py::start(
        r#"
import threading
t = threading.Thread(target=lambda: time.sleep(120), daemon=True)
t.start()
report(tid=t.native_id)
finish()
"#,
    );
    let tid = py.num("tid").to_string();
    let expected = format!(
        "{tid} is a thread of process {}, not a process: ask about {}",
        py.pid(),
        py.pid()
    );
    for args in [
        vec!["status", tid.as_str()],
        vec!["why", tid.as_str()],
        vec!["snapshot", tid.as_str()],
        vec!["wait", "--timeout", "0.1", tid.as_str()],
        vec!["kill", "--signal", "0", tid.as_str()],
        vec!["kill", tid.as_str()],
    ] {
        assert_one_line_error(&args, &expected);
    }
    assert!(
        std::path::Path::new(&format!("/proc/{}", py.pid())).exists(),
        "nothing was signalled"
    );
}

/// A stderr that takes nothing (a full disk, `2>/dev/full`) drops the error
/// line; the exit code still answers, and nothing panics (101).
#[test]
fn an_unwritable_stderr_keeps_the_exit_code() {
    for (args, code) in [
        (&["status", "0"][..], 125),
        (&["kill", "--bogus", "1"][..], 125),
        (&["timeout", "-1", "true"][..], 125),
        // PID 1 is refused without --force: one survivor line on stderr.
        (&["kill", "-q", "1"][..], 1),
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full opens");
        let output = afterlife().args(args).stderr(full).output().expect("afterlife runs");
        assert_eq!(output.status.code(), Some(code), "{args:?}");
    }
}

/// A stdout that refuses the output (a full disk) is a failure, 125, with
/// one line saying why, never an answer over a report that was not
/// written; a reader that went away (EPIPE, `| head`) ends the output
/// quietly and the exit code still answers.
#[test]
fn an_unwritable_stdout_fails_but_a_closed_pipe_does_not() {
    for args in [&["explain", "137"][..], &["--json", "status", "1"], &["demo", "--list"]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full opens");
        let output = afterlife().args(args).stdout(full).output().expect("afterlife runs");
        assert_eq!(output.status.code(), Some(125), "{args:?}");
        assert_eq!(
            stderr(&output),
            "afterlife: error: cannot write the output: No space left on device (os error 28)\n",
            "{args:?}"
        );

        let mut child = afterlife()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("afterlife runs");
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("afterlife ends");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).is_empty(), "{args:?}: {}", stderr(&output));
    }
}

/// `sh -c 'exec "$@" >&-' sh ARGS...`: ARGS run with stdout closed.
fn with_stdout_closed(args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .args(["-c", "exec \"$@\" >&-", "sh", env!("CARGO_BIN_EXE_afterlife")])
        .args(args)
        .output()
        .unwrap()
}

/// A stdout the caller closed (`>&-`) takes no answer: afterlife puts
/// `/dev/null` there for itself, but an answer written there is lost, so
/// it fails with 125 as coreutils fails with EBADF. A command under `run`
/// gets the fd closed, as under coreutils `timeout`.
#[test]
fn a_stdout_closed_by_the_caller_is_an_error_and_stays_closed_for_the_command() {
    let own = std::process::id().to_string();
    for args in [
        &["status", own.as_str()][..],
        &["explain", "137"],
        &["--json", "explain", "9"],
    ] {
        let output = with_stdout_closed(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}: {}", stderr(&output));
        let text = stderr(&output);
        assert!(
            text.contains("cannot write the output: Bad file descriptor"),
            "{args:?}: {text}"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
    }
    // The command's stdout is closed: its write fails, as under timeout(1).
    let output = with_stdout_closed(&["run", "--", "sh", "-c", "echo hi 2>/dev/null; echo \"code $?\" >&2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("code 1"), "{}", stderr(&output));
    // Nothing written to stdout, nothing lost: no error.
    let output = with_stdout_closed(&["run", "--", "true"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// `wait` given its own PID (a shell's `exec afterlife wait $$`) would
/// never return: it is refused at once, as `kill` refuses to end itself.
#[test]
fn wait_refuses_its_own_pid() {
    let bin = common::afterlife().get_program().to_owned();
    let started = std::time::Instant::now();
    let output = std::process::Command::new("timeout")
        .args(["10", "sh", "-c", "exec \"$0\" --color=never wait $$"])
        .arg(&bin)
        .output()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "it waited");
    assert_eq!(output.status.code(), Some(125), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is afterlife itself"), "{stderr}");
}

/// Help, the version, completions and man pages are output as any
/// command's: a stdout closed by the caller or full fails with one line
/// and 125; they said nothing and exited 0.
#[test]
fn help_version_completions_and_man_fail_on_an_unwritable_stdout() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["kill", "--help"],
        &["completions", "bash"],
        &["man"],
    ] {
        let closed = with_stdout_closed(args);
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full opens");
        let full = afterlife().args(args).stdout(full).output().expect("afterlife runs");
        for (output, why) in [
            (closed, "Bad file descriptor (os error 9)"),
            (full, "No space left on device (os error 28)"),
        ] {
            assert_eq!(output.status.code(), Some(125), "{args:?}: {}", stderr(&output));
            assert_eq!(
                stderr(&output),
                format!("afterlife: error: cannot write the output: {why}\n"),
                "{args:?}"
            );
        }
    }
}

/// `deaths` without the privilege for BPF or the proc connector says each
/// cause once: aya's load error repeated the map's ("failed to create map
/// `ooms`: failed to create map `ooms`: ...").
#[test]
fn deaths_without_privilege_says_each_cause_once() {
    if !is_root() {
        eprintln!("skipped: needs root to run afterlife as another user");
        return;
    }
    if std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let output = std::process::Command::new("timeout")
        .args(["10", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["deaths", "--duration", "1s"])
        .output()
        .unwrap();
    let err = stderr(&output);
    if output.status.code() != Some(125) {
        eprintln!("skipped: deaths runs unprivileged here: {err}");
        return;
    }
    assert_eq!(err.lines().count(), 1, "{err}");
    for part in err.trim_end().split("; ") {
        let causes: Vec<&str> = part.split(": ").collect();
        for pair in causes.windows(2) {
            assert_ne!(pair[0], pair[1], "a cause said twice: {err}");
        }
    }
}

/// The argument parser's own errors quote the input escaped, in one line,
/// tips included: a newline split them and an escape sequence was lost
/// (`invalid value 'a b'`).
#[test]
fn parser_errors_escape_the_input_they_quote() {
    for (args, expected) in [
        (
            &["completions", "a\nb"][..],
            "afterlife: error: invalid value 'a\\nb' for '<SHELL>' [possible values: bash, zsh, fish]\n",
        ),
        (
            &["status", "--\x1b[31mX\nY"],
            "afterlife: error: unexpected argument '--\\e[31mX\\nY' found (to pass '--\\e[31mX\\nY' as a value, use '-- --\\e[31mX\\nY')\n",
        ),
        (&["fr\tob"], "afterlife: error: unrecognized subcommand 'fr\\tob'\n"),
        (
            &["completions", "x\\y"],
            "afterlife: error: invalid value 'x\\\\y' for '<SHELL>' [possible values: bash, zsh, fish]\n",
        ),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}");
        let err = stderr(&output);
        let first = err.split_inclusive('\n').next().unwrap_or_default();
        assert_eq!(first, expected, "{args:?}: {err:?}");
        assert!(!err.contains('\x1b'), "{err:?}");
        assert!(
            err.lines().skip(1).all(|l| l.starts_with("afterlife: hint: ")),
            "{err:?}"
        );
    }
}
