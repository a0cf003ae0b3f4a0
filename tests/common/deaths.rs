//! A running `afterlife deaths --json` feed for the deaths tests: started,
//! read line by line on a thread, asked for the death a test caused, and
//! ended by the PID it was started with.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A feed in progress.
pub struct Feed {
    child: Child,
    lines: Receiver<Value>,
    errors: Receiver<String>,
    /// Every death read so far.
    pub seen: Vec<Value>,
    /// The feed's stderr so far.
    pub stderr: Vec<String>,
}

impl Feed {
    /// Starts a feed with `args` and waits until it says which source it
    /// runs on (its programs are attached then). `None` (with the reason
    /// printed) when not root.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Option<Feed> {
        if !super::is_root() {
            println!("skipped: the deaths feed needs root");
            return None;
        }
        let mut command = super::afterlife();
        command
            .args(["deaths", "--json"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("afterlife deaths starts");
        let (line_tx, lines) = channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = super::schema::parse("deaths", &line);
                if line_tx.send(value).is_err() {
                    return;
                }
            }
        });
        let (error_tx, errors) = channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if error_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut feed = Feed {
            child,
            lines,
            errors,
            seen: Vec::new(),
            stderr: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !feed.stderr.iter().any(|l| l.contains("deaths from")) {
            let left = deadline.saturating_duration_since(Instant::now());
            match feed.errors.recv_timeout(left) {
                Ok(line) => feed.stderr.push(line),
                Err(_) => panic!("the feed did not start: {:?}", feed.stderr),
            }
        }
        Some(feed)
    }

    /// The feed's PID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a line on stderr that contains `text`.
    pub fn stderr_line(&mut self, text: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.stderr.iter().find(|l| l.contains(text)) {
                return Some(line.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            self.stderr.push(self.errors.recv_timeout(left).ok()?);
        }
    }

    /// Reads deaths until one matches, for up to `limit`.
    pub fn find(&mut self, limit: Duration, matches: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(found) = self.seen.iter().find(|v| matches(v)) {
            return Some(found.clone());
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(value) => {
                    assert!(value["pid"].is_i64(), "every object has pid: {value}");
                    self.seen.push(value.clone());
                    if matches(&value) {
                        return Some(value);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Reads deaths until `count` of them match, for up to `limit`; the
    /// number that matched.
    pub fn count(&mut self, limit: Duration, count: usize, matches: impl Fn(&Value) -> bool) -> usize {
        let deadline = Instant::now() + limit;
        let mut found = self.seen.iter().filter(|v| matches(v)).count();
        while found < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(value) => {
                    if matches(&value) {
                        found += 1;
                    }
                    self.seen.push(value);
                }
                Err(_) => break,
            }
        }
        found
    }

    /// Ends the feed with SIGTERM and returns its stderr.
    pub fn stop(mut self) -> Vec<String> {
        super::send_signal(self.child.id() as i32, libc::SIGTERM);
        let status = self.child.wait().expect("the feed is reaped");
        assert!(status.success(), "the feed ended with {status:?}");
        while let Ok(line) = self.errors.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push(line);
        }
        std::mem::take(&mut self.stderr)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The signal number of a death, if it was one.
pub fn signal_of(death: &Value) -> Option<i64> {
    death["ending"]["status"]["signal"]["number"].as_i64()
}

/// The exit code of a death, if it exited.
pub fn code_of(death: &Value) -> Option<i64> {
    death["ending"]["status"]["code"].as_i64()
}

/// Held by a test that runs a [`STORM`]: two storms at once (the BPF one and
/// the proc connector's, in one test process) would double the rate of
/// deaths every feed must keep up with, where each test counts on its own.
pub fn one_storm_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static STORMS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    STORMS.lock().unwrap_or_else(|e| e.into_inner())
}

/// 2000 short processes, one after the other, each PID written to the file
/// named by `$1` as it starts.
pub const STORM: &str = "i=0; while [ $i -lt 2000 ]; do /bin/true & echo $! >> \"$1\"; wait $!; i=$((i+1)); done";

/// The PIDs the storm wrote, all distinct.
pub fn storm_pids(scratch: &super::Scratch) -> std::collections::HashSet<i64> {
    let text = std::fs::read_to_string(scratch.path().join("pids")).expect("the storm's PIDs");
    let pids: std::collections::HashSet<i64> = text.lines().map(|l| l.parse().expect("a PID")).collect();
    assert_eq!(pids.len(), 2000, "PIDs reused within the storm");
    pids
}
