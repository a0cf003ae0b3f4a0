//! `afterlife why` on real processes: stopped, traced, zombie, signal
//! dispositions, PID-namespace init, kernel thread, another user's process,
//! a plain running process, and bad input.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use afterlife::process::{Pid, Process};
use afterlife::signal::Signal;
use common::why::*;
use common::*;
use serde_json::Value;

fn signal<'a>(diagnosis: &'a Value, name: &str) -> &'a Value {
    diagnosis["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["signal"]["name"] == name)
        .unwrap()
}

#[test]
fn a_running_process_says_so_with_each_signal() {
    let kid = sleeper("300");
    let pid = kid.pid();
    assert!(wait_until(Duration::from_secs(5), || state(pid) == Some('S')));
    let d = why_json(pid);
    assert_eq!(kinds(&d), vec!["running"]);
    assert_eq!(d["sigkill"], "ends_it");
    assert_eq!(signal(&d, "SIGTERM")["ends_it_now"], true);
    assert_eq!(signal(&d, "SIGTERM")["handling"], "default");
    assert_eq!(signal(&d, "SIGKILL")["ends_it_now"], true);

    let output = run(&["why", &pid.to_string()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("{pid} sleep: sleeping (S) — SIGKILL would end it now\n")),
        "{text}"
    );
    assert!(text.contains("1. sleeping: nothing holds it"), "{text}");
    assert!(text.contains(&format!("evidence /proc/{pid}/stat state: S")), "{text}");
    assert!(
        text.contains("  SIGTERM  default       terminate the process"),
        "{text}"
    );
}

#[test]
fn stopped_by_sigstop() {
    let kid = sleeper("300");
    let pid = kid.pid();
    let process = Process::from_child(&kid.0).unwrap();
    process.signal(Signal::STOP).unwrap();
    assert!(wait_until(Duration::from_secs(5), || state(pid) == Some('T')));
    process.signal(Signal::TERM).unwrap();
    let d = why_json(pid);
    assert_eq!(kinds(&d), vec!["stopped", "signals_pending"]);
    let stopped = finding(&d, "stopped");
    assert!(has_evidence(stopped, &format!("/proc/{pid}/stat state"), "T"));
    assert!(
        stopped["next_step"]
            .as_str()
            .unwrap()
            .contains(&format!("kill -CONT {pid}"))
    );
    assert_eq!(d["sigkill"], "ends_it");
    assert_eq!(signal(&d, "SIGTERM")["ends_it_now"], false);
    assert!(signal(&d, "SIGTERM")["effect"].as_str().unwrap().contains("SIGCONT"));
    assert!(has_evidence(
        finding(&d, "signals_pending"),
        &format!("/proc/{pid}/status ShdPnd"),
        "SIGTERM"
    ));
    // The diagnosis was right: SIGTERM waited, SIGKILL ends it.
    process.signal(Signal::KILL).unwrap();
    assert!(process.wait(Some(Duration::from_secs(5))).unwrap().is_some());
}

#[test]
fn traced_by_strace() {
    let kid = sleeper("300");
    let pid = kid.pid();
    let tracer = Reaped(
        Command::new("strace")
            .args(["-o", "/dev/null", "-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("strace runs"),
    );
    let tracer_pid = tracer.pid();
    assert!(
        wait_until(Duration::from_secs(10), || status_field(pid, "TracerPid")
            == Some(tracer_pid.to_string())),
        "strace did not attach"
    );
    let d = why_json(pid);
    assert!(kinds(&d).contains(&"traced".to_string()), "{d:#}");
    let traced = finding(&d, "traced");
    assert!(
        traced["title"]
            .as_str()
            .unwrap()
            .starts_with(&format!("traced by {tracer_pid} (strace)"))
    );
    assert!(has_evidence(
        traced,
        &format!("/proc/{pid}/status TracerPid"),
        &tracer_pid.to_string()
    ));
    assert!(has_evidence(
        traced,
        &format!("/proc/{tracer_pid}/cmdline"),
        &format!("strace -o /dev/null -p {pid}")
    ));
    assert_eq!(signal(&d, "SIGKILL")["ends_it_now"], true);
    drop(tracer);
}

#[test]
fn zombie_whose_parent_never_waits() {
    let fixture = unreaped_zombie(7);
    let zombie = fixture.reported;
    let parent = fixture.child.id() as i32;
    let d = why_json(zombie);
    assert_eq!(kinds(&d), vec!["zombie"]);
    assert_eq!(d["sigkill"], "already_dead");
    let z = finding(&d, "zombie");
    assert!(has_evidence(
        z,
        &format!("/proc/{zombie}/stat ppid"),
        &parent.to_string()
    ));
    assert!(has_evidence(
        z,
        &format!("/proc/{parent}/status SigIgn/SigCgt SIGCHLD"),
        "default"
    ));
    let explanation = z["explanation"].as_str().unwrap();
    assert!(
        explanation.contains(&format!("{parent} (sleep: sleep 300)")),
        "{explanation}"
    );
    assert!(explanation.contains("It has been a zombie for about"), "{explanation}");
    assert!(
        z["next_step"]
            .as_str()
            .unwrap()
            .contains(&format!("afterlife kill {parent}"))
    );
    assert!(
        d["signals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ends_it_now"] == false)
    );
}

fn sh(script: &str) -> Reaped {
    Reaped::spawn(Command::new("sh").arg("-c").arg(script))
}

fn wait_for_mask(pid: i32, field: &str, signal: i32) -> bool {
    wait_until(Duration::from_secs(10), || {
        status_field(pid, field)
            .and_then(|m| u64::from_str_radix(&m, 16).ok())
            .is_some_and(|m| m & (1 << (signal - 1)) != 0)
    })
}

/// The names of the signals a finding is about.
fn signal_names(f: &Value) -> Vec<String> {
    f["signals"]
        .as_array()
        .unwrap_or_else(|| panic!("no signals in {f:#}"))
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_termination_signal_caught_is_one_finding() {
    let kid = Reaped::spawn(Command::new("python3").args([
        "-c",
        "import signal, time\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):\n    \
signal.signal(s, lambda *_: None)\nwhile True: time.sleep(300)",
    ]));
    let pid = kid.pid();
    assert!(wait_for_mask(pid, "SigCgt", libc::SIGQUIT));
    let d = why_json(pid);
    assert_eq!(kinds(&d), vec!["running", "signal_caught"], "{d:#}");
    let f = finding(&d, "signal_caught");
    assert_eq!(signal_names(f), ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"]);
    assert_eq!(f["title"], "SIGTERM, SIGINT, SIGHUP and SIGQUIT caught by handlers");
    let text = stdout(&run(&["why", &pid.to_string()]));
    assert!(
        text.contains("\n2. SIGTERM, SIGINT, SIGHUP and SIGQUIT caught by handlers\n"),
        "{text}"
    );
    assert!(!text.contains("\n3. "), "two findings in all: {text}");
}

#[test]
fn sigterm_ignored() {
    // The ignored disposition survives exec: sleep inherits it.
    let kid = sh("trap '' TERM; exec sleep 300");
    let pid = kid.pid();
    assert!(wait_until(Duration::from_secs(5), || std::fs::read_to_string(format!(
        "/proc/{pid}/comm"
    ))
    .is_ok_and(|c| c.trim() == "sleep")));
    assert!(wait_for_mask(pid, "SigIgn", libc::SIGTERM));
    let d = why_json(pid);
    assert_eq!(kinds(&d), vec!["running", "signal_ignored"]);
    let f = finding(&d, "signal_ignored");
    assert_eq!(signal_names(f), ["SIGTERM"]);
    assert!(has_evidence(f, &format!("/proc/{pid}/status SigIgn"), "SIGTERM"));
    assert_eq!(signal(&d, "SIGTERM")["handling"], "ignored");
    assert_eq!(signal(&d, "SIGTERM")["ends_it_now"], false);
}

#[test]
fn sigterm_caught() {
    // A handler, and no forks: a shell loop that starts `sleep` blocks every
    // signal around each fork, which `why` would rightly report as blocked.
    let kid = Reaped::spawn(Command::new("python3").args([
        "-c",
        "import signal, time\nsignal.signal(signal.SIGTERM, lambda *_: print('caught'))\nwhile True: time.sleep(300)",
    ]));
    let pid = kid.pid();
    assert!(wait_for_mask(pid, "SigCgt", libc::SIGTERM));
    let d = why_json(pid);
    let f = finding(&d, "signal_caught");
    // Python has its own SIGINT handler (KeyboardInterrupt).
    assert_eq!(signal_names(f), ["SIGTERM", "SIGINT"]);
    assert_eq!(f["title"], "SIGTERM and SIGINT caught by handlers");
    assert!(has_evidence(f, &format!("/proc/{pid}/status SigCgt"), "SIGTERM"));
    assert_eq!(signal(&d, "SIGTERM")["handling"], "caught");
}

#[test]
fn sigterm_blocked() {
    let kid = Reaped::spawn(Command::new("python3").args([
        "-c",
        "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\ntime.sleep(300)",
    ]));
    let pid = kid.pid();
    // python3 may be a launcher script (a pyenv shim, whose comm is
    // python3 too) that execs the interpreter: wait for the interpreter
    // itself, by its executable.
    assert!(wait_until(Duration::from_secs(10), || std::fs::read_link(format!(
        "/proc/{pid}/exe"
    ))
    .is_ok_and(|exe| exe
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("python")))));
    assert!(wait_for_mask(pid, "SigBlk", libc::SIGTERM));
    let d = why_json(pid);
    let f = finding(&d, "signal_blocked");
    assert_eq!(signal_names(f), ["SIGTERM"]);
    assert!(has_evidence(f, &format!("/proc/{pid}/task/{pid}/status SigBlk"), ""));
    assert_eq!(signal(&d, "SIGTERM")["handling"], "blocked");
    // And indeed it stays pending.
    let process = Process::from_child(&kid.0).unwrap();
    process.signal(Signal::TERM).unwrap();
    assert!(wait_for_mask(pid, "ShdPnd", libc::SIGTERM));
    let d = why_json(pid);
    assert!(kinds(&d).contains(&"signals_pending".to_string()), "{d:#}");
    assert!(has_evidence(
        finding(&d, "signals_pending"),
        &format!("/proc/{pid}/status ShdPnd"),
        "SIGTERM"
    ));
}

#[test]
fn pid_namespace_init() {
    if !is_root() {
        println!("skipped: unshare --pid needs root");
        return;
    }
    let unshare = Reaped::spawn(Command::new("unshare").args(["--pid", "--fork", "sleep", "300"]));
    let outer = unshare.pid();
    let mut init = 0;
    assert!(
        wait_until(Duration::from_secs(10), || {
            init = std::fs::read_to_string(format!("/proc/{outer}/task/{outer}/children"))
                .ok()
                .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
                .unwrap_or(0);
            init > 0
                && status_field(init, "NSpid").is_some_and(|ns| ns.split_whitespace().last() == Some("1"))
                && std::fs::read_to_string(format!("/proc/{init}/comm")).is_ok_and(|c| c.trim() == "sleep")
        }),
        "no namespace init appeared"
    );
    let d = why_json(init);
    assert_eq!(kinds(&d), vec!["namespace_init"]);
    let f = finding(&d, "namespace_init");
    assert!(has_evidence(
        f,
        &format!("/proc/{init}/status NSpid"),
        &format!("{init} 1")
    ));
    assert_eq!(signal(&d, "SIGTERM")["handling"], "discarded");
    assert_eq!(signal(&d, "SIGKILL")["ends_it_now"], true);
    // Proven: SIGTERM does nothing, SIGKILL from the parent namespace ends it.
    let process = Process::open(Pid::new(init).unwrap()).unwrap();
    process.signal(Signal::TERM).unwrap();
    assert!(process.wait(Some(Duration::from_millis(300))).unwrap().is_none());
    process.signal(Signal::KILL).unwrap();
    assert!(process.wait(Some(Duration::from_secs(5))).unwrap().is_some());
}

#[test]
fn kernel_thread() {
    let Some(pid) = (2..200).find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s[s.rfind(')').unwrap() + 2..]
                .split(' ')
                .nth(6)
                .and_then(|f| f.parse::<u32>().ok())
                .is_some_and(|flags| flags & 0x0020_0000 != 0)
        })
    }) else {
        println!("skipped: no kernel thread visible in this PID namespace");
        return;
    };
    let d = why_json(pid);
    assert_eq!(kinds(&d), vec!["kernel_thread"]);
    assert_eq!(d["sigkill"], "ignored");
    assert!(has_evidence(
        finding(&d, "kernel_thread"),
        &format!("/proc/{pid}/stat flags"),
        "PF_KTHREAD"
    ));
}

#[test]
fn another_users_process() {
    if !is_root() {
        println!("skipped: needs root to run afterlife as another user");
        return;
    }
    let kid = sleeper("300");
    let pid = kid.pid();
    let output = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["why", "--json", &pid.to_string()])
        .output()
        .expect("setpriv runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let d: Value = crate::common::schema::parse("why", &String::from_utf8_lossy(&output.stdout));
    assert_eq!(kinds(&d)[0], "other_user");
    assert_eq!(d["sigkill"], "not_permitted");
    assert_eq!(signal(&d, "SIGKILL")["handling"], "not_permitted");
}

/// The root of a user namespace has UID 0 and CAP_KILL there, and neither
/// reaches a process outside it: the kernel refuses its signals.
#[test]
fn a_user_namespace_root_may_not_signal_a_process_outside_it() {
    if !is_root() {
        println!("skipped: needs root to run afterlife as another user");
        return;
    }
    let kid = sleeper("300");
    let pid = kid.pid();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["unshare", "--user", "--map-root-user"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["why", "--json", &pid.to_string()])
        .output()
        .expect("setpriv runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let d: Value = crate::common::schema::parse("why", &String::from_utf8_lossy(&output.stdout));
    assert_eq!(kinds(&d)[0], "other_user");
    assert_eq!(d["sigkill"], "not_permitted");
    assert_eq!(signal(&d, "SIGKILL")["handling"], "not_permitted");
}

#[test]
fn bad_input_and_missing_processes_exit_125() {
    let output = run(&["why", "abc"]);
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with("afterlife: error: invalid"),
        "{}",
        stderr(&output)
    );
    let gone = unused_pid();
    let output = run(&["why", &gone.to_string()]);
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(stderr(&output), format!("afterlife: error: no such process: {gone}\n"));
}

#[test]
fn the_library_entry_point_gives_a_one_line_summary() {
    let kid = sleeper("300");
    let pid = kid.pid();
    let process = Process::from_child(&kid.0).unwrap();
    process.signal(Signal::STOP).unwrap();
    assert!(wait_until(Duration::from_secs(5), || state(pid) == Some('T')));
    let diagnosis = afterlife::resist::diagnose(&process).unwrap();
    assert_eq!(
        diagnosis.summary(),
        format!("{pid} (sleep): stopped (T) — SIGKILL would end it now")
    );
    let again = afterlife::resist::diagnose_pid(Pid::new(pid).unwrap()).unwrap();
    assert_eq!(again, diagnosis);
}

#[test]
fn a_stopped_background_job_of_a_terminal_names_its_shell() {
    // script(1) gives the shell a pseudo-terminal; `set -m` turns on job
    // control, so the background job gets its own process group. The shell
    // stays (no `exec`): a shell that execs with job control on may end its
    // stopped jobs first. It waits in the builtin `read`, so the terminal's
    // foreground group stays its own (a foreground `sleep` would take it).
    let scratch = Scratch::new("why-job");
    let pidfile = scratch.path().join("job");
    let script = format!("set -m; sleep 300 & echo $! > {}; read line", pidfile.display());
    // script(1) ends when its input ends: give it a pipe that stays open
    // (held by the `Child`) rather than /dev/null, which CI also has as
    // its own standard input.
    let script_kid = Reaped(
        Command::new("script")
            .args(["-q", "-c", &script, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("script starts"),
    );
    let mut job = 0;
    assert!(
        wait_until(Duration::from_secs(10), || {
            job = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            if job <= 0 {
                return false;
            }
            if state(job) == Some('T') {
                return true;
            }
            // Sent from here, again until it stops: a TSTP that reaches the
            // job between its fork and its exec meets the shell's own
            // "ignore TSTP" and is lost.
            if let Ok(process) = Process::open(Pid::new(job).unwrap()) {
                let _ = process.signal(Signal::from_number(libc::SIGTSTP).unwrap());
            }
            false
        }),
        "the job did not stop: job {job} is in state {:?}",
        state(job)
    );
    let job_process = Process::open(Pid::new(job).unwrap()).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{job}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let sid: i32 = fields[3].parse().unwrap();
    let shell = Process::open(Pid::new(sid).unwrap()).ok();
    let d = why_json(job);
    let _ = job_process.signal(Signal::KILL);
    if let Some(shell) = &shell {
        let _ = shell.signal(Signal::KILL);
    }
    drop(script_kid);
    let f = finding(&d, "stopped");
    let explanation = f["explanation"].as_str().unwrap();
    assert!(
        explanation.contains(&format!("background job (process group {job}) of the shell {sid}")),
        "{explanation}"
    );
    assert!(has_evidence(f, &format!("/proc/{job}/stat tty_nr"), "/dev/pts/"));
    assert!(has_evidence(
        f,
        &format!("/proc/{job}/stat pgrp, tpgid"),
        &format!("{job} {sid}")
    ));
    assert!(f["next_step"].as_str().unwrap().contains("fg"));
}
