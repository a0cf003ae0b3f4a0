//! Memory figures of many watched processes. With 48 of them the counts
//! of each tick come from one pass of the kernel's sample iterator (as
//! root), and `statm` is read again only for a process whose memory
//! counters moved: every figure must still be the one `statm` gives.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use common::{afterlife, stderr};

/// Resident bytes of `pid`, as `statm` gives them now.
fn resident(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * afterlife::proc::page_size()
}

const GROWER: &str = "import sys
sys.stdout.write('ready\\n'); sys.stdout.flush()
sys.stdin.readline()
b = b'x' * (16 << 20)
sys.stdout.write('grown\\n'); sys.stdout.flush()
sys.stdin.readline()
";

#[test]
fn memory_figures_of_many_processes_are_statms() {
    let mut children: Vec<Child> = (0..47)
        .map(|_| Command::new("sleep").arg("30").spawn().unwrap())
        .collect();
    let mut grower = Command::new("python3")
        .args(["-c", GROWER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut told = grower.stdin.take().unwrap();
    let mut heard = BufReader::new(grower.stdout.take().unwrap());
    let mut line = String::new();
    heard.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let grower_pid = grower.id();
    children.push(grower);
    let pids: Vec<String> = children.iter().map(|c| c.id().to_string()).collect();
    let watch = afterlife()
        .args(["--json", "watch", "--interval", "100ms", "--duration", "3s"])
        .args(&pids)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    told.write_all(b"\n").unwrap();
    line.clear();
    heard.read_line(&mut line).unwrap();
    assert_eq!(line, "grown\n");
    let output = watch.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = common::ndjson(&output);
    for child in &children {
        let pid = child.id();
        let rss: Vec<u64> = events
            .iter()
            .filter(|e| e["event"] == "sample" && e["pid"] == pid)
            .map(|e| e["rss_bytes"].as_u64().unwrap())
            .collect();
        assert!(rss.len() >= 10, "{pid}: {} samples", rss.len());
        let now = resident(pid);
        assert_eq!(*rss.last().unwrap(), now, "{pid}: last sample against statm now");
        if pid == grower_pid {
            assert!(now >= rss[0] + (16 << 20), "{pid} grew from {} to {now}", rss[0]);
        } else {
            assert!(rss.iter().all(|&r| r == now), "{pid}: {rss:?} against {now}");
        }
    }
    drop(told);
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}
