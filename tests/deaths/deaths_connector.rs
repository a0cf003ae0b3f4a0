//! `afterlife deaths` on the netlink proc connector, the source for where
//! BPF cannot run (forced here with AFTERLIFE_DEATHS_SOURCE): every exit
//! with its code or signal, the feed saying which source it runs on, and
//! no sender claimed.

use crate::common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use common::deaths::{Feed, STORM, code_of, signal_of, storm_pids};

const ENV: [(&str, &str); 1] = [("AFTERLIFE_DEATHS_SOURCE", "proc-connector")];

#[test]
fn the_proc_connector_reports_exit_codes_and_signals() {
    let Some(mut feed) = Feed::start(&[], &ENV) else { return };
    assert!(feed.stderr[0].contains("proc connector"), "{:?}", feed.stderr);
    let mut seven = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    let seven_pid = i64::from(seven.id());
    assert_eq!(seven.wait().unwrap().code(), Some(7));
    // The shell prints the PID of the child it signals.
    let shell = Command::new("sh")
        .args(["-c", "sleep 30 & echo $!; kill -USR1 $!; wait"])
        .output()
        .unwrap();
    assert!(shell.status.success());
    let victim: i64 = common::stdout(&shell).trim().parse().expect("the child's PID");

    let death = feed
        .find(Duration::from_secs(15), |d| d["pid"] == seven_pid)
        .expect("exit 7");
    assert_eq!(code_of(&death), Some(7), "{death}");
    assert_eq!(death["source"], "proc_connector");
    assert_eq!(death["ppid"], i64::from(std::process::id()));
    assert!(death["sender"].is_null() && death["oom"].is_null(), "{death}");
    let usr1 = feed
        .find(Duration::from_secs(15), |d| d["pid"] == victim)
        .expect("the signalled child");
    assert_eq!(signal_of(&usr1), Some(i64::from(libc::SIGUSR1)), "{usr1}");
    assert!(usr1["sender"].is_null(), "{usr1}");
    feed.stop();
}

#[test]
fn the_proc_connector_keeps_up_with_a_storm() {
    let _storm = common::deaths::one_storm_at_a_time();
    let Some(mut feed) = Feed::start(&[], &ENV) else { return };
    let list = common::Scratch::new("deaths-connector-storm");
    let mut shell = Command::new("sh")
        .args(["-c", STORM])
        .arg("storm")
        .arg(list.path().join("pids"))
        .spawn()
        .unwrap();
    assert!(shell.wait().unwrap().success());
    let pids = storm_pids(&list);
    let found = feed.count(Duration::from_secs(30), 2000, |d| {
        d["pid"].as_i64().is_some_and(|p| pids.contains(&p))
    });
    let stderr = feed.stop();
    assert_eq!(found, 2000, "stderr: {stderr:?}");
}

#[test]
fn bpf_asked_for_without_privileges_is_a_one_line_refusal() {
    if !common::is_root() {
        println!("skipped: needs root to drop privileges");
        return;
    }
    // As nobody, BPF cannot load; asked for BPF only, the feed refuses in
    // one line with exit 125. (The proc connector would run: since 6.6 any
    // user may listen.)
    let output = common::afterlife()
        .args(["deaths", "--duration", "1"])
        .env("AFTERLIFE_DEATHS_SOURCE", "bpf")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125));
    let stderr = common::stderr(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("afterlife: error: cannot watch process deaths: BPF: "),
        "{stderr}"
    );
    assert!(common::stdout(&output).is_empty());
}

/// Inside another PID namespace the connector's PIDs (the initial
/// namespace's) are not the ones afterlife and its /proc see: neither
/// source is used, and the one line says why.
#[test]
fn no_source_outside_the_initial_pid_namespace() {
    if !common::is_root() {
        println!("skipped: a new PID namespace needs root");
        return;
    }
    let output = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["deaths", "--duration", "1s"])
        .envs(ENV)
        .output()
        .expect("unshare runs");
    let err = common::stderr(&output);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(
        err.contains("proc connector: not in the initial PID namespace, whose PIDs it reports"),
        "{err}"
    );
    assert!(common::stdout(&output).is_empty(), "{}", common::stdout(&output));
}

/// A source the environment names that is none (a typo) is refused in one
/// line with exit 125: it was taken as unset, and the feed ran on whatever
/// source it found first.
#[test]
fn an_unknown_source_is_refused() {
    let output = common::afterlife()
        .args(["deaths", "--duration", "1"])
        .env("AFTERLIFE_DEATHS_SOURCE", "proc_conector")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        common::stderr(&output),
        "afterlife: error: AFTERLIFE_DEATHS_SOURCE='proc_conector' names no source: bpf or proc-connector (unset: the strongest that runs)\n"
    );
    assert!(common::stdout(&output).is_empty());
}

/// A ring buffer size that is none (not a power of two, below a page, not
/// a number) is refused in one line with exit 125: it was taken as unset,
/// and the feed ran with 4 MiB.
#[test]
fn a_ring_size_that_is_none_is_refused() {
    for value in ["5000", "1024", "4MiB"] {
        let output = common::afterlife()
            .args(["deaths", "--duration", "1"])
            .env("AFTERLIFE_DEATHS_RING_BYTES", value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(125), "{value}");
        assert_eq!(
            common::stderr(&output),
            format!(
                "afterlife: error: AFTERLIFE_DEATHS_RING_BYTES='{value}' is no ring buffer size: a power of two of at least 4096 (unset: 4 MiB)\n"
            )
        );
    }
}

/// A `--cgroup` given as a directory of the cgroup file system (the path a
/// run's report shows) is no cgroup path: it matched no death and the feed
/// ran on, empty. It is refused, with the cgroup's own path to give.
#[test]
fn a_cgroup_given_as_its_directory_is_refused() {
    for (value, own) in [
        ("/sys/fs/cgroup/system.slice/cron.service", "/system.slice/cron.service"),
        ("/sys/fs/cgroup/unified/afterlife-42", "/afterlife-42"),
        ("/sys/fs/cgroup", "/"),
    ] {
        let output = common::afterlife()
            .args(["deaths", "--duration", "1", "--cgroup", value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(125), "{value}");
        let err = common::stderr(&output);
        assert!(err.starts_with("afterlife: error: invalid --cgroup <PATH>: "), "{err}");
        assert!(err.ends_with(&format!("give the cgroup's own path, {own}\n")), "{err}");
    }
}

/// A process whose main thread ends first (`pthread_exit`) lives on in
/// its other thread: the main thread's exit event (code 0) is not its
/// death. It dies when its last thread does, with the group's code. The
/// feed said it died at once with code 0, and nothing when it really died.
#[test]
fn a_process_whose_main_thread_ended_first_dies_with_its_last_thread() {
    let Some(mut feed) = Feed::start(&[], &ENV) else { return };
    let script = "import ctypes, os, threading, time\n\
                  def last():\n    time.sleep(1)\n    os._exit(5)\n\
                  threading.Thread(target=last).start()\n\
                  ctypes.CDLL(None).pthread_exit(None)\n";
    let mut python = Command::new("python3").args(["-c", script]).spawn().unwrap();
    let pid = i64::from(python.id());
    assert_eq!(python.wait().unwrap().code(), Some(5));
    let death = feed
        .find(Duration::from_secs(15), |d| d["pid"] == pid)
        .expect("the process's death");
    feed.stop();
    assert_eq!(code_of(&death), Some(5), "{death}");
    assert!(death["lifetime_seconds"].as_f64().is_some_and(|s| s >= 0.9), "{death}");
    assert!(
        death["name"].is_string(),
        "named from its main thread's zombie: {death}"
    );
}

/// A thread other than the main one that calls `execve` takes the main
/// thread's PID once the kernel has ended the main thread, whose exit event
/// the connector sends. The feed reported that as the process's death (and
/// its real death a second time later). While the PID moves, `/proc/PID`
/// fails to open for an instant; a look that fell there took the process
/// for gone (1 CI run in about 20). Twenty such processes, four at a time.
#[test]
fn an_exec_by_a_thread_is_not_a_death() {
    let Some(mut feed) = Feed::start(&[], &ENV) else { return };
    let mut started = Vec::new();
    for _ in 0..5 {
        let batch: Vec<_> = (0..4)
            .map(|_| {
                let at = std::time::SystemTime::now();
                (at, exec_by_a_thread("0.5"))
            })
            .collect();
        for (at, mut python) in batch {
            assert!(python.wait().unwrap().success());
            let at = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
            started.push((i64::from(python.id()), at));
        }
    }
    let mine = |d: &serde_json::Value| started.iter().any(|(pid, _)| d["pid"] == *pid);
    feed.count(Duration::from_secs(15), started.len(), mine);
    // And a second death of any of them, for a moment more.
    let found = feed.count(Duration::from_secs(1), started.len() + 1, mine);
    let deaths: Vec<_> = feed.seen.iter().filter(|d| mine(d)).cloned().collect();
    let stderr = feed.stop();
    assert_eq!(
        found,
        started.len(),
        "one death each: {deaths:?}; the feed said {stderr:?}"
    );
    for (pid, at) in started {
        let death = deaths.iter().find(|d| d["pid"] == pid).expect("its death");
        let died = death["died_at"].as_f64().expect("a time of death");
        assert!(died - at >= 0.45, "died {:.3} s after the start: {death}", died - at);
        assert_eq!(code_of(death), Some(0), "{death}");
        assert_eq!(death["name"], "sleep", "named by the program it ran last: {death}");
    }
}

/// A Python whose second thread runs `sleep SECONDS` by `execve` while
/// its main thread sleeps.
fn exec_by_a_thread(seconds: &str) -> std::process::Child {
    let script = format!(
        "import os, threading, time\n\
         threading.Thread(target=os.execv, args=('/bin/sleep', ['sleep', '{seconds}'])).start()\n\
         time.sleep(30)\n"
    );
    Command::new("python3").args(["-c", &script]).spawn().unwrap()
}

/// The same, read late: the feed is stopped while the process runs, execs
/// and ends, so the kernel's exit records of its main thread (python3,
/// ended by the exec) and of the new program (sleep) both wait for the one
/// PID. The second replaced the first, the main thread's exit took it, and
/// the death was left unnamed.
#[test]
fn an_exec_by_a_thread_read_late_is_named_by_its_last_program() {
    let Some(mut feed) = Feed::start(&[], &ENV) else { return };
    common::send_signal(feed.pid(), libc::SIGSTOP);
    let mut python = exec_by_a_thread("0.3");
    let pid = i64::from(python.id());
    let ended = python.wait();
    common::send_signal(feed.pid(), libc::SIGCONT);
    assert!(ended.unwrap().success());
    let deaths = feed.count(Duration::from_secs(2), 2, |d| d["pid"] == pid);
    let death = feed.find(Duration::ZERO, |d| d["pid"] == pid);
    let stderr = feed.stop();
    assert_eq!(deaths, 1, "one death: {stderr:?}");
    let death = death.expect("the death");
    assert_eq!(death["name"], "sleep", "{death}");
    assert!(death["lifetime_seconds"].as_f64().is_some_and(|s| s >= 0.3), "{death}");
}

/// An exit read after its PID was handed out again: /proc then names the
/// new process, whose name, user and start were given as the dead one's.
/// The feed is stopped while the first process exits and is reaped and its
/// PID is handed to a `sleep` (`ns_last_pid`), so the exit is read after.
/// The `sleep` starts a few clock ticks after the exit, as any process
/// given a PID again by the allocator's wrap-around does (a start in the
/// exit's own tick reads as the same process carried on by an exec).
#[test]
fn a_pid_handed_out_again_lends_the_dead_process_nothing() {
    let Some(mut feed) = Feed::start(&[], &ENV) else { return };
    common::send_signal(feed.pid(), libc::SIGSTOP);
    let (pid, mut second) = exit_and_reuse();
    common::send_signal(feed.pid(), libc::SIGCONT);
    let death = feed.find(Duration::from_secs(15), |d| d["pid"] == i64::from(pid));
    let _ = second.kill();
    let _ = second.wait();
    feed.stop();
    let death = death.expect("the first process's death");
    assert_eq!(code_of(&death), Some(9), "{death}");
    // Named by its own exit record, not by what /proc said of the PID
    // (the sleep's by then).
    assert_eq!(death["name"], "sh", "{death}");
    assert!(
        death["lifetime_seconds"].is_f64(),
        "from its fork, not the sleep's start: {death}"
    );
}

/// A program that ends within a moment of its `execve`, reaped at once:
/// gone from /proc before its exec could be read there, it is named by the
/// kernel's exit record of it (taskstats).
#[test]
fn programs_that_end_at_once_are_named() {
    let Some(mut feed) = Feed::start(&[], &ENV) else { return };
    let mut pids = Vec::new();
    for _ in 0..20 {
        let mut child = Command::new("true").spawn().unwrap();
        pids.push(i64::from(child.id()));
        assert!(child.wait().unwrap().success());
    }
    let named = feed.count(Duration::from_secs(15), pids.len(), |d| {
        d["pid"].as_i64().is_some_and(|p| pids.contains(&p)) && d["name"] == "true"
    });
    let stderr = feed.stop();
    assert_eq!(named, pids.len(), "stderr: {stderr:?}");
}

/// The connector's exit comes after the parent was told, and a parent
/// that reaps at once left nothing in /proc to read: every such death had
/// no name or user. They are known from the kernel's exit record of the
/// process (taskstats), and from its fork (its parent's name).
#[test]
fn deaths_reaped_at_once_are_named_from_their_fork_and_exec() {
    let Some(mut feed) = Feed::start(&[], &ENV) else { return };
    let script = "import os, time\n\
                  pid = os.fork()\n\
                  if pid == 0:\n    time.sleep(0.2)\n    os._exit(3)\n\
                  print(pid, flush=True)\n\
                  os.waitpid(pid, 0)\n";
    let forked = Command::new("python3").args(["-c", script]).output().unwrap();
    let child: i64 = common::stdout(&forked).trim().parse().expect("the child's PID");
    let mut sleep = Command::new("sleep").arg("0.3").spawn().unwrap();
    let sleep_pid = i64::from(sleep.id());
    assert!(sleep.wait().unwrap().success());
    let forked = feed
        .find(Duration::from_secs(15), |d| d["pid"] == child)
        .expect("the child's death");
    let slept = feed
        .find(Duration::from_secs(15), |d| d["pid"] == sleep_pid)
        .expect("the sleep's death");
    feed.stop();
    assert_eq!(code_of(&forked), Some(3), "{forked}");
    assert_eq!(forked["name"], "python3", "its parent's name: {forked}");
    assert_eq!(slept["name"], "sleep", "{slept}");
    for death in [&forked, &slept] {
        assert_eq!(death["uid"], i64::from(rustix::process::getuid().as_raw()), "{death}");
        assert!(death["lifetime_seconds"].as_f64().is_some_and(|s| s >= 0.15), "{death}");
    }
}

/// A process that exits with 9 and is reaped, and a `sleep` given its PID
/// a few clock ticks later (`common::spawn_at_pid`). Another process of
/// the machine may take the PID first: a few rounds, each with a new first
/// process. The storms, which count on distinct PIDs, are held off while
/// the allocator's cursor is moved.
fn exit_and_reuse() -> (i32, std::process::Child) {
    let _storm = common::deaths::one_storm_at_a_time();
    for _ in 0..20 {
        let mut first = Command::new("sh").args(["-c", "exit 9"]).spawn().unwrap();
        let pid = first.id() as i32;
        assert_eq!(first.wait().unwrap().code(), Some(9));
        std::thread::sleep(Duration::from_millis(50));
        if let Some(second) = common::spawn_at_pid(pid, Command::new("sleep").arg("30")) {
            return (pid, second);
        }
    }
    panic!("no PID was handed out again in 20 rounds");
}
