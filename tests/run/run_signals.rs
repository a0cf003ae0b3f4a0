//! `afterlife run` passes each forwarded signal on to the command, under
//! each containment level (INT, TERM, HUP and QUIT followed by SIGCONT, as
//! coreutils timeout does), and the command's output reaches us whole.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{afterlife, send_signal, shell_code, stderr};

/// Prints the name of every signal it gets; ends on a line on stdin.
const CATCHER: &str = r#"
import os, signal, sys
names = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH",
         "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCONT"]
def report(number, frame):
    # One raw write: a handler that prints could run inside another
    # handler's print, and Python refuses a reentrant buffered write.
    os.write(1, (signal.Signals(number).name + "\n").encode())
for name in names:
    signal.signal(getattr(signal, name), report)
print("ready", flush=True)
sys.stdin.readline()
"#;

const FORWARDED: [(i32, &str); 11] = [
    (libc::SIGINT, "SIGINT"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGWINCH, "SIGWINCH"),
    (libc::SIGTSTP, "SIGTSTP"),
    (libc::SIGTTIN, "SIGTTIN"),
    (libc::SIGTTOU, "SIGTTOU"),
    (libc::SIGCONT, "SIGCONT"),
];

#[test]
fn every_forwarded_signal_reaches_the_command_at_each_level() {
    for level in ["cgroup", "pidns", "subreaper"] {
        let mut child = afterlife()
            .args(["run", "-q", "--containment", level, "--", "python3", "-c", CATCHER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines, receive) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let next = || receive.recv_timeout(Duration::from_secs(10));
        assert_eq!(next().as_deref(), Ok("ready"), "{level}");
        for (number, name) in FORWARDED {
            send_signal(child.id() as i32, number);
            // As coreutils timeout does, the signals that end a command are
            // followed by SIGCONT (a stopped command could not take them).
            let continued = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT].contains(&number);
            let expected: &[&str] = if continued { &[name, "SIGCONT"] } else { &[name] };
            for want in expected {
                let got = next();
                if got.as_deref() != Ok(*want) {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{level}: sent {name}, expected {want}, the command saw {got:?}");
                }
            }
        }
        child.stdin.take().unwrap().write_all(b"done\n").unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{level}: {}", stderr(&output));
    }
}

#[test]
fn a_forwarded_fatal_signal_ends_afterlife_the_same_way() {
    let mut child = afterlife()
        .args(["run", "-q", "--", "sh", "-c", "echo ready; exec sleep 30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    send_signal(child.id() as i32, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(shell_code(status), 143, "died of the forwarded TERM, as sleep did");
}

#[test]
fn ten_megabytes_then_a_timeout_arrive_whole() {
    const SIZE: usize = 10 * 1024 * 1024;
    let output = afterlife()
        .args(["run", "-q", "--timeout", "1", "--"])
        .args(["sh", "-c", &format!("head -c {SIZE} /dev/urandom; exec sleep 30")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(124));
    assert_eq!(output.stdout.len(), SIZE);
    // Kill while writing: what was written is all there, nothing duplicated.
    let output = afterlife()
        .args(["run", "-q", "--timeout", "0.3", "--"])
        .args(["sh", "-c", "i=0; while :; do printf '%08d\\n' $i; i=$((i+1)); done"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(124));
    let text = String::from_utf8_lossy(&output.stdout);
    let complete: Vec<&str> = text.lines().filter(|l| l.len() == 8).collect();
    assert!(complete.len() > 100);
    for (i, line) in complete.iter().enumerate() {
        assert_eq!(line.parse::<usize>().unwrap(), i, "lines in order, none lost");
    }
}

/// On SIGTERM, starts a clean-up child 0.2 s later and exits; says
/// `ready` once its handler is in place. Python resets the child's handlers
/// with every signal blocked before its exec, so a SIGTERM that reaches the
/// child early is not lost in a handler (a shell's trap can swallow one
/// sent between its fork and the child's reset).
const NEWCOMER: &str = r#"
import os, signal, subprocess, sys, time
def on_term(*_):
    time.sleep(0.2)
    subprocess.Popen(["sleep", "61"])
    os._exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", file=sys.stderr, flush=True)
time.sleep(30)
"#;

/// A process the tree starts after the deadline's signal went out (a
/// handler that starts a clean-up child) is its parent's answer to that
/// signal, and is left to finish within the grace period, as coreutils'
/// `timeout` and systemd leave it: it is not sent the deadline's signal
/// again, and what still runs when the grace period ends gets SIGKILL.
/// The deadline is a SIGALRM sent to afterlife once the handler is in
/// place (time is up now, as for coreutils), so a slow start cannot beat
/// it.
#[test]
fn a_process_born_after_the_deadline_signal_is_left_the_grace_period() {
    for containment in ["cgroup", "subreaper"] {
        let mut child = afterlife()
            .args([
                "--json",
                "run",
                "--containment",
                containment,
                "--timeout",
                "60",
                "--grace",
                "1s",
                "--",
            ])
            .args(["python3", "-c", NEWCOMER])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("afterlife runs");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "{line}");
        let started = std::time::Instant::now();
        send_signal(child.id() as i32, libc::SIGALRM);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        let status = child.wait().unwrap();
        let took = started.elapsed();
        assert_eq!(status.code(), Some(124), "{rest}");
        let report = crate::common::schema::parse("run", &rest);
        let timeline = report["timeline"].as_array().unwrap();
        assert!(
            timeline.iter().all(|e| e["to"] != "newcomers"),
            "{containment}: {timeline:?}"
        );
        // The clean-up child (sleep 61) was still running at the end of
        // the grace period.
        assert!(
            timeline.iter().any(|e| e["signal"]["name"] == "SIGKILL"),
            "{containment}: {timeline:?}"
        );
        assert!(
            took >= Duration::from_secs(1),
            "{containment}: took {took:?}: {timeline:?}"
        );
        assert!(
            took < Duration::from_secs(10),
            "{containment}: took {took:?}: {timeline:?}"
        );
    }
}
