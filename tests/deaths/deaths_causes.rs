//! `afterlife deaths` on BPF tracepoints: real deaths with known causes
//! while the feed runs — a SIGUSR1 from a known shell, `exit 7`, a real
//! segfault — each reported with its status, its sender and the join of
//! the two.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::deaths::{Feed, STORM, code_of, signal_of, storm_pids};

const LIMIT: Duration = Duration::from_secs(15);

#[test]
fn a_sigusr1_names_the_shell_that_sent_it() {
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    assert!(feed.stderr[0].contains("BPF tracepoints"), "{:?}", feed.stderr);
    // The shell starts a sleep and signals it: the shell is the sender.
    let mut shell = Command::new("sh")
        .args(["-c", "sleep 30 & kill -USR1 $!; wait"])
        .spawn()
        .unwrap();
    let shell_pid = i64::from(shell.id());
    assert!(shell.wait().unwrap().success());
    let death = feed
        .find(LIMIT, |d| {
            d["ppid"] == shell_pid && signal_of(d) == Some(i64::from(libc::SIGUSR1))
        })
        .unwrap_or_else(|| panic!("no SIGUSR1 death under {shell_pid}: {:?}", feed.seen));
    let sender = &death["sender"];
    assert_eq!(sender["pid"], shell_pid, "{death}");
    assert_eq!(sender["name"], "sh", "{death}");
    assert_eq!(sender["kind"], "kill", "{death}");
    assert_eq!(sender["code_name"], "SI_USER", "{death}");
    assert_eq!(sender["itself"], false, "{death}");
    assert_eq!(sender["uid"], 0, "{death}");
    assert_eq!(death["ending"]["shell_code"], 138, "{death}");
    assert_eq!(death["source"], "bpf");
    // The shell's own death, exit 0, is there too.
    let own = feed.find(LIMIT, |d| d["pid"] == shell_pid).expect("the shell's death");
    assert_eq!(code_of(&own), Some(0), "{own}");
    assert!(own["sender"].is_null(), "{own}");
    feed.stop();
}

/// A child that asked for SIGUSR1 on its parent's death (PR_SET_PDEATHSIG)
/// gets it from the kernel as the parent exits: the parent made no kill().
#[test]
fn a_parent_death_signal_is_named_as_such() {
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    let script = r#"
import ctypes, os, signal, sys, time
child = os.fork()
if child == 0:
    ctypes.CDLL(None).prctl(1, signal.SIGUSR1)
    time.sleep(30)
    os._exit(0)
print(child, flush=True)
time.sleep(0.3)
os._exit(0)
"#;
    let output = Command::new("python3").args(["-c", script]).output().unwrap();
    let child: i64 = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
    let death = feed
        .find(LIMIT, |d| d["pid"] == child)
        .unwrap_or_else(|| panic!("no death of {child}: {:?}", feed.seen));
    assert_eq!(signal_of(&death), Some(i64::from(libc::SIGUSR1)), "{death}");
    let sender = &death["sender"];
    assert_eq!(sender["kind"], "parent_death", "{death}");
    assert_eq!(sender["code_name"], "SI_USER", "{death}");
    assert_eq!(sender["name"], "python3", "{death}");
    assert_eq!(sender["itself"], false, "{death}");
    feed.stop();
}

#[test]
fn exit_7_is_reported_with_its_command_line_and_lifetime() {
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    let mut shell = Command::new("sh").args(["-c", "sleep 0.2; exit 7"]).spawn().unwrap();
    let pid = i64::from(shell.id());
    assert_eq!(shell.wait().unwrap().code(), Some(7));
    let death = feed.find(LIMIT, |d| d["pid"] == pid).expect("the shell's death");
    assert_eq!(code_of(&death), Some(7), "{death}");
    assert_eq!(death["ending"]["status"]["kind"], "exited");
    assert_eq!(death["ending"]["wait_status"], 7 << 8);
    assert_eq!(death["name"], "sh");
    assert_eq!(death["ppid"], i64::from(std::process::id()));
    assert_eq!(death["uid"], 0);
    assert_eq!(death["user"], "root");
    assert!(death["sender"].is_null() && death["oom"].is_null(), "{death}");
    let lifetime = death["lifetime_seconds"].as_f64().expect("a lifetime");
    assert!((0.2..10.0).contains(&lifetime), "{death}");
    // Read in the kernel before the address space goes (6.16 and later).
    let cmdline = &death["command_line"];
    if !cmdline.is_null() {
        assert_eq!(cmdline, &serde_json::json!(["sh", "-c", "sleep 0.2; exit 7"]));
    }
    let cgroup = death["cgroup"].as_str().expect("a cgroup");
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(own.lines().any(|l| l == format!("0::{cgroup}")), "{cgroup} vs {own}");
    feed.stop();
}

/// A signal sent from a thread that named itself: the sender is named as
/// its process is, as its PID is the process's.
#[test]
fn a_sender_thread_is_named_by_its_process() {
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    let script = r#"
import ctypes, os, signal, subprocess, threading
child = subprocess.Popen(["sleep", "30"])
def worker():
    ctypes.CDLL(None).prctl(15, b"killer-thread")
    os.kill(child.pid, signal.SIGUSR2)
t = threading.Thread(target=worker)
t.start()
t.join()
child.wait()
print(child.pid, flush=True)
"#;
    let output = Command::new("python3").args(["-c", script]).output().unwrap();
    let child: i64 = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
    let death = feed
        .find(LIMIT, |d| d["pid"] == child)
        .unwrap_or_else(|| panic!("no death of {child}: {:?}", feed.seen));
    assert_eq!(signal_of(&death), Some(i64::from(libc::SIGUSR2)), "{death}");
    assert_eq!(death["sender"]["name"], "python3", "{death}");
    assert_eq!(death["sender"]["pid"], death["ppid"], "{death}");
    feed.stop();
}

/// A title written over argv and on into the environment's space, as
/// nginx and PostgreSQL write theirs: the kernel's copy stops at the end of
/// argv, so the command line is marked cut rather than shown as whole.
#[test]
fn a_title_written_past_argv_is_marked_cut() {
    use std::io::Write;
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    // The script comes on stdin: argv is short ("python3\0-\0", or the
    // interpreter's path where python3 is a shim that execs it).
    let script = br#"
import ctypes, os, time
fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
arg_start, arg_end, env_end = int(fields[45]), int(fields[46]), int(fields[48])
title = b"python3: a title that runs past the end of argv\0"
assert arg_start + len(title) < env_end
ctypes.memmove(arg_start, title, len(title))
assert open("/proc/self/cmdline", "rb").read() == title
time.sleep(0.1)
os._exit(3)
"#;
    let mut python = Command::new("python3")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = i64::from(python.id());
    python.stdin.take().unwrap().write_all(script).unwrap();
    assert_eq!(python.wait().unwrap().code(), Some(3));
    let death = feed.find(LIMIT, |d| d["pid"] == pid).expect("the death");
    assert_eq!(code_of(&death), Some(3), "{death}");
    if death["command_line"].is_null() {
        println!("skipped: the kernel reads no command line at exit (before 6.16)");
        return;
    }
    // The copy holds the title up to the end of argv, not all of it.
    let title = "python3: a title that runs past the end of argv";
    let copied = death["command_line"][0].as_str().expect("a command line");
    assert!(title.starts_with(copied) && copied.len() < title.len(), "{death}");
    assert_eq!(death["command_line"].as_array().unwrap().len(), 1, "{death}");
    assert_eq!(death["command_line_truncated"], true, "{death}");
    feed.stop();
}

#[test]
fn a_segfault_is_a_fault_with_its_code() {
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    // strlen(NULL): a read of address 0, which is never mapped.
    let mut python = Command::new("sh")
        .args([
            "-c",
            "ulimit -c 0; exec python3 -c 'import ctypes; ctypes.string_at(0)'",
        ])
        .spawn()
        .unwrap();
    let pid = i64::from(python.id());
    let _ = python.wait();
    let death = feed.find(LIMIT, |d| d["pid"] == pid).expect("the segfault");
    assert_eq!(signal_of(&death), Some(i64::from(libc::SIGSEGV)), "{death}");
    assert_eq!(death["ending"]["status"]["core_dumped"], false, "{death}");
    let sender = &death["sender"];
    assert_eq!(sender["kind"], "fault", "{death}");
    assert_eq!(sender["code_name"], "SEGV_MAPERR", "{death}");
    assert_eq!(sender["fault"], "address not mapped", "{death}");
    assert_eq!(sender["itself"], true, "{death}");
    assert_eq!(death["name"], "python3");
    feed.stop();
}

#[test]
fn a_storm_of_2000_processes_loses_none() {
    let _storm = common::deaths::one_storm_at_a_time();
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    let list = common::Scratch::new("deaths-storm");
    let mut shell = Command::new("sh")
        .args(["-c", STORM])
        .arg("storm")
        .arg(list.path().join("pids"))
        .spawn()
        .unwrap();
    assert!(shell.wait().unwrap().success());
    let pids = storm_pids(&list);
    let found = feed.count(Duration::from_secs(30), 2000, |d| {
        d["pid"].as_i64().is_some_and(|p| pids.contains(&p)) && d["name"] == "true"
    });
    let stderr = feed.stop();
    assert_eq!(found, 2000, "stderr: {stderr:?}");
    let summary = stderr.iter().find(|l| l.contains("deaths seen")).expect("a summary");
    assert!(summary.ends_with(" 0 lost"), "{summary}");
}
