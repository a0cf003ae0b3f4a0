//! `afterlife watch` on bad input: one clear line on stderr and exit 125
//! (127 for a command that is not found); a watched process that ends is
//! not an error, but too few samples to judge it is no answer (2).

use crate::common;

use std::process::Command;

use common::{afterlife, run, stderr, stdout, unused_pid};

#[test]
fn bad_input_gets_one_line_and_125() {
    let missing = unused_pid().to_string();
    let cases: [(&[&str], &str); 6] = [
        (
            &["watch", "abc"],
            "afterlife: error: invalid [PID]...: 'abc' is not a process ID",
        ),
        (&["watch", &missing], "afterlife: error: no such process: "),
        (
            &["watch", "--interval", "0", "1"],
            "afterlife: error: invalid --interval: it must be longer than 0",
        ),
        (
            &["watch", "--duration", "1x", "1"],
            "afterlife: error: invalid --duration",
        ),
        (
            &["watch", "--name", "no-such-name-zq"],
            "afterlife: error: no process is named like \"no-such-name-zq\"",
        ),
        (
            &["watch", "--prometheus", "nonsense", "1"],
            "afterlife: error: cannot listen on nonsense for Prometheus",
        ),
    ];
    for (args, expected) in cases {
        let output = run(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}: {}", stderr(&output));
        let text = stderr(&output);
        assert!(text.starts_with(expected), "{args:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
        assert!(stdout(&output).is_empty());
    }
}

#[test]
fn a_missing_command_is_127() {
    let output = run(&["watch", "--", "/nonexistent/command"]);
    assert_eq!(output.status.code(), Some(127));
    assert!(stderr(&output).starts_with("afterlife: error: cannot run /nonexistent/command: "));
}

#[test]
fn targets_exclude_each_other() {
    let output = run(&["watch", "1", "--tree", "1"]);
    assert_eq!(output.status.code(), Some(125));
    let output = run(&["watch"]);
    assert_eq!(output.status.code(), Some(125));
}

#[test]
fn a_process_that_ends_ends_the_watch() {
    let mut child = std::process::Command::new("sleep").arg("0.4").spawn().unwrap();
    let output = afterlife()
        .args(["--json", "watch", "--interval", "50ms", "--duration", "20s"])
        .arg(child.id().to_string())
        .output()
        .unwrap();
    let _ = child.wait();
    // About 8 samples: too few to judge, which is no answer (2), not "no leak".
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let events = common::ndjson(&output);
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["stopped"], "all_ended");
    assert_eq!(summary["too_few_samples"], true);
    assert_eq!(summary["processes"][0]["unjudged"], true);
    assert!(summary["watched_seconds"].as_f64().unwrap() < 5.0);
    // Not our child: its status comes from its zombie or the pidfd.
    let ended = events.iter().find(|e| e["event"] == "ended").unwrap();
    assert_eq!(ended["ending"]["shell_code"], 0, "{ended}");
}

#[test]
fn a_process_whose_smaps_rollup_is_refused_is_still_watched() {
    // Some processes refuse smaps_rollup even to root while their fds stay
    // readable (a VM's init, here PID 1); only such a process shows it.
    let refused = std::fs::read("/proc/1/smaps_rollup")
        .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
        && std::fs::read_dir("/proc/1/fd").is_ok();
    if !refused {
        println!("skipped: /proc/1/smaps_rollup is readable here, or /proc/1/fd is not");
        return;
    }
    let output = afterlife()
        .args(["--json", "watch", "--interval", "100ms", "--duration", "1500ms", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = common::ndjson(&output);
    let sample = events.iter().find(|e| e["event"] == "sample").unwrap();
    assert!(sample["fds"].as_u64().unwrap() > 0, "{sample}");
    assert!(
        sample["pss_bytes"].is_null() && sample["swap_bytes"].is_u64(),
        "{sample}"
    );
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    let verdicts = summary["processes"][0]["verdicts"].as_array().unwrap();
    assert!(verdicts.iter().any(|v| v["metric"] == "rss"));
    assert!(!verdicts.iter().any(|v| v["metric"] == "pss"));
    assert!(verdicts.iter().any(|v| v["metric"] == "swap"));
    // The text summary says why PSS is missing (swap comes from status).
    let text = afterlife()
        .args(["watch", "--interval", "100ms", "--duration", "300ms", "1"])
        .output()
        .unwrap();
    assert!(
        stdout(&text).contains("/proc/1/smaps_rollup was refused"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn an_unwritable_plot_path_is_refused_before_anything_runs() {
    let scratch = common::Scratch::new("watch-plot-path");
    let marker = scratch.path().join("ran");
    let output = afterlife()
        .args([
            "watch",
            "--plot",
            "/nonexistent-dir/chart.svg",
            "--duration",
            "1s",
            "--",
        ])
        .args(["touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.starts_with("afterlife: error: invalid --plot: cannot write /nonexistent-dir/chart.svg: "),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!marker.exists(), "the command ran");
    // A writable path is not left behind as an empty file by the check.
    let path = scratch.path().join("chart.svg");
    let output = run(&[
        "watch",
        "--plot",
        path.to_str().unwrap(),
        "--interval",
        "1s",
        "--",
        "true",
    ]);
    assert_ne!(output.status.code(), Some(125), "{}", stderr(&output));
}

#[test]
fn prometheus_errors_escape_control_characters() {
    let output = run(&["watch", "--prometheus", "bad\x1b[31maddr\x07", "1"]);
    assert_eq!(output.status.code(), Some(125));
    let text = stderr(&output);
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    assert!(text.starts_with("afterlife: error: cannot listen on bad"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

#[test]
fn json_stdout_carries_only_ndjson_and_the_command_output_goes_to_stderr() {
    let output = afterlife()
        .args(["--json", "watch", "--interval", "50ms", "--"])
        .args([
            "sh",
            "-c",
            "echo hello from the command; echo '{\"event\":\"fake\"}'; sleep 1",
        ])
        .output()
        .unwrap();
    // Every stdout line parses (ndjson panics otherwise), none is the command's.
    let events = common::ndjson(&output);
    assert!(events.iter().all(|e| e["event"] != "fake"), "{events:?}");
    assert!(events.iter().any(|e| e["event"] == "summary"));
    let err = stderr(&output);
    assert!(err.contains("hello from the command"), "{err}");
}

#[test]
fn a_tree_that_ended_ends_the_watch() {
    let mut root = std::process::Command::new("sh")
        .args(["-c", "sleep 1.2 & sleep 1; wait"])
        .spawn()
        .unwrap();
    // The tree is read at the start (and again every 2 s): wait until the
    // shell has forked both sleeps, which a fast start can come before.
    let pid = root.id() as i32;
    common::wait_until(std::time::Duration::from_secs(5), || common::children(pid).len() == 2);
    let output = afterlife()
        .args(["--json", "watch", "--interval", "50ms", "--duration", "30s", "--tree"])
        .arg(root.id().to_string())
        .output()
        .unwrap();
    let _ = root.wait();
    let events = common::ndjson(&output);
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["stopped"], "all_ended", "{}", stderr(&output));
    assert!(summary["watched_seconds"].as_f64().unwrap() < 10.0);
    assert!(summary["processes"].as_array().unwrap().len() >= 2, "{summary}");
}

#[test]
fn a_process_that_execs_is_shown_by_its_new_name() {
    let mut child = std::process::Command::new("sh")
        .args(["-c", "sleep 0.3; exec sleep 10"])
        .spawn()
        .unwrap();
    let output = afterlife()
        .args(["--json", "watch", "--interval", "50ms", "--duration", "1500ms"])
        .arg(child.id().to_string())
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let events = common::ndjson(&output);
    let first = events.iter().find(|e| e["event"] == "process").unwrap();
    assert_eq!(first["name"], "sh", "{first}");
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    let process = &summary["processes"][0];
    assert_eq!(process["name"], "sleep", "{process}");
    assert_eq!(process["command_line"], serde_json::json!(["sleep", "10"]), "{process}");
}

#[test]
fn a_kernel_thread_is_refused_not_watched_without_samples() {
    // kthreadd is PID 2 in the initial PID namespace; elsewhere look for it.
    let Some(kthreadd) = (2..200).find(|&pid| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.split_whitespace().nth(8).and_then(|f| f.parse::<u64>().ok()))
            .is_some_and(|flags| flags & 0x0020_0000 != 0)
    }) else {
        println!("skipped: no kernel thread visible in this PID namespace");
        return;
    };
    let name = common::comm(kthreadd);
    for args in [
        vec![
            "watch".to_string(),
            "--duration".into(),
            "1".into(),
            kthreadd.to_string(),
        ],
        vec![
            "watch".to_string(),
            "--duration".into(),
            "1".into(),
            "--tree".into(),
            kthreadd.to_string(),
        ],
    ] {
        let output = afterlife().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(125), "{args:?}: {}", stderr(&output));
        assert_eq!(
            stderr(&output).trim_end(),
            format!(
                "afterlife: error: {kthreadd} ({name}) is a kernel thread: it has no fds or memory of its own to watch"
            )
        );
        assert!(stdout(&output).is_empty());
    }
}

#[test]
fn a_command_that_ends_before_its_first_sample_shows_no_made_up_values() {
    let output = run(&["watch", "--duration", "5", "--", "true"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stdout(&output);
    let head = text.lines().next().unwrap();
    if !head.ends_with("(0 samples)") {
        println!("skipped: the command lived long enough to be sampled: {head}");
        return;
    }
    // Nothing was read: no "fds ..., now 0".
    assert!(!text.contains("now "), "{text}");
    assert!(text.contains(" true ended: exited with code 0"), "{text}");
}

#[test]
fn one_sample_is_one_sample() {
    // `--interval inf`: one sample at the start, none at the ending of a
    // process that is gone by then.
    let output = run(&["watch", "--interval", "inf", "--", "sleep", "0.3"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(" sleep: too few samples to judge (1 sample)"),
        "{text}"
    );
}

#[test]
fn a_process_whose_name_is_not_utf8_is_watched() {
    use std::os::unix::ffi::OsStrExt;
    // The kernel's name of an executed file is its file name: `sl\xffep`,
    // which /proc/PID/status prints as it is.
    let scratch = common::Scratch::new("watch-non-utf8");
    let copy = scratch.path().join(std::ffi::OsStr::from_bytes(b"sl\xffep"));
    std::fs::copy("/bin/sleep", &copy).unwrap();
    let child = common::Reaped(common::spawn_fresh_copy(Command::new(&copy).arg("30")));
    let pid = child.0.id().to_string();
    assert!(common::wait_until(std::time::Duration::from_secs(5), || {
        std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with(b"sl\xffep"))
    }));
    let output = run(&["watch", "--duration", "1.5", "--interval", "0.1", &pid]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}{text}", stderr(&output));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    assert!(text.starts_with(&format!("{pid} sl\u{fffd}ep: no leak (")), "{text}");
}

/// A python3 whose main thread called pthread_exit while a worker holds
/// the process (and its 20 extra fds and 32 MiB, under an RLIMIT_AS of 4
/// GiB) alive: the main thread's /proc files then read no fds, no memory
/// and state `Z`. Killed on drop.
fn main_thread_ended() -> common::Reaped {
    use std::io::BufRead;
    let script = r#"
import ctypes, os, resource, sys, threading, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 32, 1 << 32))
def worker():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=worker).start()
held = [open("/dev/null") for _ in range(20)]
ballast = bytearray(32 << 20)
print("ready", flush=True)
time.sleep(0.3)
ctypes.CDLL(None).pthread_exit(None)
"#;
    let mut child = common::Reaped(
        Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

#[test]
fn a_process_whose_main_thread_ended_is_read_through_a_thread_that_runs() {
    let mut child = main_thread_ended();
    let pid = child.0.id().to_string();
    let output = afterlife()
        .args(["--json", "watch", "--duration", "1.5", "--interval", "0.1", &pid])
        .output()
        .unwrap();
    let main_ended = common::state(child.0.id() as i32) == Some('Z');
    assert!(child.running(), "the worker ended the process");
    let events = common::ndjson(&output);
    let samples: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "sample").collect();
    assert!(samples.len() >= 10, "{} samples: {}", samples.len(), stderr(&output));
    assert!(main_ended, "the main thread did not end");
    for sample in samples {
        assert!(sample["fds"].as_u64().unwrap() >= 20, "{sample}");
        assert!(sample["rss_anon_bytes"].as_u64().unwrap() >= 32 << 20, "{sample}");
    }
    // What counts against RLIMIT_AS is the address space a thread that
    // runs has, not the 0 of the main thread's.
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    let memory = &summary["processes"][0]["limits"]["memory"];
    if memory["source"] == "rlimit_as" {
        assert!(memory["used_bytes"].as_u64().unwrap() >= 32 << 20, "{memory}");
    } else {
        println!("skipped the RLIMIT_AS check: a smaller cgroup limit applies: {memory}");
    }
}

#[test]
fn a_command_stopped_at_the_end_takes_its_children_with_it() {
    // The shell's children: one that handles SIGTERM by default, one that
    // ignores it (and gets SIGKILL after the grace).
    let output = run(&[
        "watch",
        "--duration",
        "1",
        "--",
        "sh",
        "-c",
        // Their output does not go to afterlife's pipes, which would stay
        // open until they end.
        "sleep 30 >/dev/null 2>&1 & echo child=$!; (trap '' TERM; exec sleep 31 >/dev/null 2>&1) & echo child=$!; \
         sleep 32 >/dev/null 2>&1 & echo child=$!; wait",
    ]);
    let text = stdout(&output);
    let children: Vec<i32> = text
        .lines()
        .filter_map(|line| line.strip_prefix("child=")?.parse().ok())
        .collect();
    let alive: Vec<i32> = children.iter().copied().filter(|&pid| !common::pid_dead(pid)).collect();
    common::kill_pids(&alive);
    assert_eq!(children.len(), 3, "{text}{}", stderr(&output));
    assert!(alive.is_empty(), "outlived the watch: {alive:?}\n{text}");
    assert!(text.contains(" sh ended: killed by SIGTERM"), "{text}");
    // Said to be afterlife's doing, not left to look like another's kill.
    assert!(text.contains("(afterlife ended it: the watch stopped)"), "{text}");
}

#[test]
fn the_json_says_the_watch_ended_the_command_and_nothing_else() {
    let output = run(&["--json", "watch", "--duration", "0.5", "--", "sleep", "30"]);
    let events = common::ndjson(&output);
    let ended = events.iter().find(|e| e["event"] == "ended").expect("an ended event");
    assert_eq!(ended["ended_by_watch"], true, "{ended}");
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["processes"][0]["ended_by_watch"], true, "{summary}");
    let output = run(&["--json", "watch", "--duration", "5", "--", "sh", "-c", "sleep 0.3"]);
    let events = common::ndjson(&output);
    let ended = events.iter().find(|e| e["event"] == "ended").expect("an ended event");
    assert_eq!(ended["ended_by_watch"], false, "{ended}");
}

#[test]
fn a_process_whose_main_thread_ended_is_exported_with_the_state_of_a_thread_that_runs() {
    use std::io::{BufRead, Read, Write};
    let mut child = main_thread_ended();
    let pid = child.0.id();
    assert!(common::wait_until(std::time::Duration::from_secs(5), || common::state(
        pid as i32
    ) == Some('Z')));
    let mut watch = common::Reaped(
        afterlife()
            .args([
                "watch",
                "--duration",
                "20",
                "--interval",
                "0.1",
                "--prometheus",
                "127.0.0.1:0",
            ])
            .arg(pid.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(watch.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("afterlife: serving Prometheus metrics on http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let scrape = || {
        let mut stream = std::net::TcpStream::connect(&address).ok()?;
        write!(stream, "GET /metrics HTTP/1.0\r\n\r\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        Some(text)
    };
    let state = format!("afterlife_process_state{{pid=\"{pid}\",name=\"python3\",state=\"sleeping\"}} 1");
    let mut last = String::new();
    let found = common::wait_until(std::time::Duration::from_secs(10), || {
        last = scrape().unwrap_or_default();
        last.contains(&state)
    });
    assert!(child.running(), "the worker ended the process");
    assert!(found, "{last}");
    assert!(!last.contains("state=\"zombie\"} 1"), "{last}");
    let vsize = last
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!(
                "afterlife_process_virtual_memory_bytes{{pid=\"{pid}\",name=\"python3\"}} "
            ))
        })
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{last}"));
    assert!(vsize >= 32 << 20, "{last}");
}

#[test]
fn a_tree_that_holds_afterlife_leaves_it_out() {
    // From its own shell up: afterlife is in the tree, and its fds (a
    // pidfd and /proc files for each process it watches) are no leak of
    // the tree's.
    let output = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" --color=never --json watch --tree $$ --duration 1.5 --interval 0.1 & echo "afterlife=$!"; wait"#)
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .output()
        .unwrap();
    let text = stdout(&output);
    let me: i64 = text
        .lines()
        .find_map(|line| line.strip_prefix("afterlife=")?.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    let summary: serde_json::Value = text
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|event| event["event"] == "summary")
        .unwrap_or_else(|| panic!("{text}{}", stderr(&output)));
    let pids: Vec<i64> = summary["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["pid"].as_i64())
        .collect();
    assert!(!pids.is_empty(), "{summary}");
    assert!(!pids.contains(&me), "afterlife {me} watched itself: {pids:?}");
}

/// `--json | head -1`: once the reader of the events is gone, the watch
/// stops rather than watching on for no one.
#[test]
fn a_watch_whose_json_reader_went_away_stops() {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut target = Command::new("sleep").arg("60").spawn().unwrap();
    let mut watch = afterlife()
        .args(["--json", "watch", "--interval", "100ms", "--duration", "60s"])
        .arg(target.id().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(watch.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"event\":\"process\""), "{first}");
    // The reader (and the pipe's read end) is dropped here.
    let stopped = common::wait_until(std::time::Duration::from_secs(10), || {
        watch.try_wait().unwrap().is_some()
    });
    let _ = watch.kill();
    let _ = watch.wait();
    let _ = target.kill();
    let _ = target.wait();
    assert!(stopped, "the watch went on with no one reading it");
}

/// A `--plot` that is a FIFO is refused at once: its open waited for a
/// reader for ever, before the first sample. A directory is refused too.
#[test]
fn a_plot_path_that_is_no_regular_file_is_refused() {
    let scratch = common::Scratch::new("watch-plot-fifo");
    let fifo = scratch.path().join("chart.svg");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let directory = scratch.path().join("dir.png");
    std::fs::create_dir(&directory).unwrap();
    let target = common::sleeper("30");
    let pid = target.pid().to_string();
    for (path, what) in [
        (&fifo, "is not a regular file (a FIFO, a socket or a device)"),
        (&directory, "is a directory"),
    ] {
        let started = std::time::Instant::now();
        let output = run(&["watch", "--duration", "1", "--plot", path.to_str().unwrap(), &pid]);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
        assert_eq!(
            stderr(&output),
            format!("afterlife: error: invalid --plot: {} {what}\n", path.display())
        );
    }
}

/// afterlife's own PID is refused as `kill` refuses it, named or as
/// `--tree`'s root: it watched itself, a verdict about its own watch.
#[test]
fn its_own_pid_is_refused() {
    for target in ["\"$$\"", "--tree \"$$\""] {
        let script = format!("exec \"$0\" watch --duration 3s {target}");
        let output = Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_afterlife")])
            .output()
            .expect("sh runs");
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(125), "{target}: {text}");
        assert!(
            text.starts_with("afterlife: error: cannot watch ") && text.ends_with(": it is afterlife itself\n"),
            "{target}: {text}"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    }
}
