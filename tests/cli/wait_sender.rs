//! `wait` names who sent the signal that ended a process it did not
//! signal itself, from a small BPF program on the `signal_generate`
//! tracepoint (as root, with BTF).

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

const NOT_LOADED: &str =
    "skipped: the signal_generate program does not load here (needs root, BTF and the initial PID namespace)";

/// A sleeper and `afterlife --json wait` on it, once wait's sender program
/// is attached; `None` (printed as skipped) where it cannot load.
fn waited_sleeper() -> Option<(std::process::Child, std::process::Child)> {
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    let wait = common::afterlife()
        .args(["--json", "wait", "--timeout", "60s"])
        .arg(victim.id().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if !common::wait_until(Duration::from_secs(20), || common::bpf_links(wait.id()) >= 1) {
        println!("{NOT_LOADED}");
        let _ = victim.kill();
        let _ = victim.wait();
        let _ = wait.wait_with_output();
        return None;
    }
    Some((victim, wait))
}

#[test]
fn wait_names_the_process_that_sent_the_fatal_signal() {
    let Some((mut victim, wait)) = waited_sleeper() else {
        return;
    };
    // The sender is a shell started for it, so its PID is known.
    let mut sender = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {}", victim.id()))
        .spawn()
        .unwrap();
    let sender_pid = sender.id();
    let _ = sender.wait();
    let _ = victim.wait();
    let output = wait.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143), "{}", common::stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", &String::from_utf8_lossy(&output.stdout));
    let sent = &line["sender"];
    assert_eq!(sent["pid"], sender_pid, "{line}");
    assert_eq!(sent["name"], "sh", "{line}");
    assert_eq!(sent["kind"], "kill", "{line}");
    assert_eq!(sent["code_name"], "SI_USER", "{line}");
    assert_eq!(sent["itself"], false, "{line}");
}

#[test]
fn a_death_by_exit_has_no_sender() {
    let mut child = Command::new("sh").args(["-c", "sleep 0.5; exit 3"]).spawn().unwrap();
    let output = common::afterlife()
        .args(["--json", "wait"])
        .arg(child.id().to_string())
        .output()
        .unwrap();
    let _ = child.wait();
    assert_eq!(output.status.code(), Some(3), "{}", common::stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", &String::from_utf8_lossy(&output.stdout));
    assert!(line["sender"].is_null(), "{line}");
}

/// A process that asked for SIGUSR1 on its parent's death
/// (`PR_SET_PDEATHSIG`) gets it from the kernel as the parent exits: the
/// parent made no `kill()`, and `wait` says so.
#[test]
fn a_parent_death_signal_is_not_named_as_the_parents_kill() {
    let script = r#"
import ctypes, os, signal, sys
child = os.fork()
if child == 0:
    ctypes.CDLL(None).prctl(1, signal.SIGUSR1)
    if os.getppid() == 1:
        os._exit(9)
    signal.pause()
    os._exit(0)
print(child, flush=True)
sys.stdin.readline()
os._exit(0)
"#;
    let mut parent = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(parent.stdout.take().unwrap()), &mut line).unwrap();
    let child: u32 = line.trim().parse().unwrap();
    let wait = common::afterlife()
        .args(["--json", "wait", "--timeout", "60s"])
        .arg(child.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let loaded = common::wait_until(Duration::from_secs(20), || common::bpf_links(wait.id()) >= 1);
    // The parent exits: the kernel sends the child its SIGUSR1.
    drop(parent.stdin.take());
    let _ = parent.wait();
    let output = wait.wait_with_output().unwrap();
    if !loaded {
        println!("{NOT_LOADED}");
        return;
    }
    assert_eq!(
        output.status.code(),
        Some(128 + libc::SIGUSR1),
        "{}",
        common::stderr(&output)
    );
    let line: serde_json::Value = crate::common::schema::parse("wait", &String::from_utf8_lossy(&output.stdout));
    let sent = &line["sender"];
    assert_eq!(sent["pid"], parent.id(), "{line}");
    assert_eq!(sent["kind"], "parent_death", "{line}");
    assert_eq!(sent["itself"], false, "{line}");
}

#[test]
fn a_sender_thread_is_named_by_its_process() {
    let Some((mut victim, wait)) = waited_sleeper() else {
        return;
    };
    // A thread that named itself sends it: the sender is its process.
    let script = format!(
        r#"
import ctypes, os, signal, threading
def worker():
    ctypes.CDLL(None).prctl(15, b"killer-thread")
    os.kill({}, signal.SIGTERM)
t = threading.Thread(target=worker)
t.start()
t.join()
"#,
        victim.id()
    );
    let mut sender = Command::new("python3").args(["-c", &script]).spawn().unwrap();
    let sender_pid = sender.id();
    assert!(sender.wait().unwrap().success());
    let _ = victim.wait();
    let output = wait.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143), "{}", common::stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", &String::from_utf8_lossy(&output.stdout));
    let sent = &line["sender"];
    assert_eq!(sent["pid"], sender_pid, "{line}");
    assert_eq!(sent["name"], "python3", "{line}");
}

/// `wait` stopped while its process is killed and its PID handed to a new
/// process, which is then sent the same signal and survives it (a
/// handler): the signal logged last for the PID is the new process's, and
/// its sender did not end the process waited for.
#[test]
fn a_signal_to_the_next_holder_of_the_pid_names_no_sender() {
    use std::io::BufRead;
    if !common::is_root() {
        println!("skipped: handing out a chosen PID (ns_last_pid) needs root");
        return;
    }
    let Some((mut victim, wait)) = waited_sleeper() else {
        return;
    };
    let pid = victim.id() as i32;
    common::send_signal(wait.id() as i32, libc::SIGSTOP);
    let mut first = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {pid}"))
        .spawn()
        .unwrap();
    let first_sender = first.id();
    let _ = first.wait();
    let _ = victim.wait();
    let mut command = Command::new("python3");
    command
        .args([
            "-c",
            "import signal, time\nsignal.signal(signal.SIGTERM, lambda *a: None)\nprint('ready', flush=True)\ntime.sleep(30)",
        ])
        .stdout(Stdio::piped());
    let Some(mut next) = common::spawn_at_pid(pid, &mut command) else {
        common::send_signal(wait.id() as i32, libc::SIGCONT);
        let _ = wait.wait_with_output();
        println!("skipped: another process took the PID first");
        return;
    };
    let mut line = String::new();
    std::io::BufReader::new(next.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut second = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {pid}"))
        .spawn()
        .unwrap();
    let second_sender = second.id();
    let _ = second.wait();
    common::send_signal(wait.id() as i32, libc::SIGCONT);
    let output = wait.wait_with_output().unwrap();
    let _ = next.kill();
    let _ = next.wait();
    assert_eq!(output.status.code(), Some(143), "{}", common::stderr(&output));
    let line: serde_json::Value = crate::common::schema::parse("wait", &String::from_utf8_lossy(&output.stdout));
    let sent = &line["sender"];
    assert_ne!(sent["pid"], second_sender, "the next holder's sender named: {line}");
    assert!(sent.is_null() || sent["pid"] == first_sender, "{line}");
}
