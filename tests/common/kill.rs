//! Fixtures of the `kill` tests: process trees started inside a cgroup v2
//! leaf the test creates, so that cleanup reaches every process the test
//! started (through that cgroup's `cgroup.kill`, never by name) even when
//! afterlife failed; pidfd handles to check that a process has exited
//! whatever happens to its PID; and readers of afterlife's JSON report.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use afterlife::process::{Pid, Process, ProcessTable};
use afterlife::signal::Signal;
use afterlife::terminate::cgroup::Cgroup;
use serde_json::Value;

/// `afterlife-test-NAME-PID-N`: no other test's, of this process or another.
fn leaf_name(name: &str) -> String {
    format!("afterlife-test-{name}-{}-{}", std::process::id(), super::unique())
}

/// A cgroup v2 leaf for one test, killed and removed on drop.
pub struct Jail {
    pub cgroup: Option<Cgroup>,
}

impl Jail {
    /// A new leaf under the v2 root; `None` inside when the machine does not
    /// allow it (no v2 mount, or not root), in which case cleanup walks the
    /// tree instead.
    pub fn new(name: &str) -> Jail {
        let cgroup = Cgroup::root().and_then(|root| root.create_child(&leaf_name(name))).ok();
        Jail { cgroup }
    }

    /// A leaf that must exist (the cgroup tests need one).
    pub fn required(name: &str) -> Result<Jail, String> {
        let root = Cgroup::root().map_err(|e| e.to_string())?;
        let cgroup = root.create_child(&leaf_name(name)).map_err(|e| e.to_string())?;
        Ok(Jail { cgroup: Some(cgroup) })
    }

    fn clean(&self) {
        if let Some(cgroup) = &self.cgroup {
            let _ = cgroup.kill();
            let _ = cgroup.wait_empty(Duration::from_secs(10));
            for child in cgroup.children().unwrap_or_default() {
                let _ = child.remove();
            }
            let _ = cgroup.remove();
        }
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        self.clean();
    }
}

/// A process tree started by `sh -c SCRIPT`. The script prints PIDs one per
/// line and then `ready`; the tree is killed on drop.
pub struct Tree {
    pub child: Child,
    /// The PIDs the script printed, in order.
    pub pids: Vec<i32>,
    /// A pidfd handle for each printed PID, opened while it ran.
    pub handles: Vec<Process>,
    pub jail: Jail,
}

impl Tree {
    /// Starts `script` in a new jail named `name`.
    pub fn start(name: &str, script: &str) -> Tree {
        Tree::start_in(Jail::new(name), script)
    }

    /// Starts `script` in `jail`.
    pub fn start_in(jail: Jail, script: &str) -> Tree {
        Tree::spawn(jail, script, false)
    }

    /// Starts `script` as the leader of a new session (and process group),
    /// so that `--session` and `--pgroup` reach nothing but the fixture.
    pub fn start_session(name: &str, script: &str) -> Tree {
        Tree::spawn(Jail::new(name), script, true)
    }

    fn spawn(jail: Jail, script: &str, new_session: bool) -> Tree {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new("sh");
        if new_session {
            // SAFETY: setsid is async-signal-safe and touches no memory.
            unsafe {
                command.pre_exec(|| {
                    rustix::process::setsid()?;
                    Ok(())
                });
            }
        } else {
            // A process group of its own: when a stopped fixture's exit
            // orphans its group, the kernel hangs up the whole group, which
            // must not be the test harness's (nor the CI runner's).
            command.process_group(0);
        }
        match &jail.cgroup {
            Some(cgroup) => command
                .arg("-c")
                .arg("echo $$ > \"$JAIL/cgroup.procs\" && exec sh -c \"$SCRIPT\"")
                .env("JAIL", cgroup.path()),
            None => command.arg("-c").arg("exec sh -c \"$SCRIPT\""),
        };
        let mut child = command
            .env("SCRIPT", script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut pids = Vec::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("fixture output");
            assert!(n > 0, "fixture ended before it was ready");
            let line = line.trim();
            if line == "ready" {
                break;
            }
            pids.push(line.parse().unwrap_or_else(|_| panic!("fixture printed {line:?}")));
        }
        let handles = pids
            .iter()
            .map(|&pid| Process::open(Pid::new(pid).unwrap()).expect("fixture process is open"))
            .collect();
        Tree {
            child,
            pids,
            handles,
            jail,
        }
    }

    /// The root's PID (the script's shell).
    pub fn root(&self) -> i32 {
        self.child.id() as i32
    }

    /// Whether every printed process has exited.
    pub fn all_exited(&self) -> bool {
        self.handles.iter().all(|h| h.has_exited())
    }

    /// Reaps the root (our child) if it has exited.
    pub fn reap(&mut self) {
        let _ = self.child.try_wait();
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if self.jail.cgroup.is_none() {
            // No cgroup: end the descendants we can still see, through
            // pidfds opened from one scan.
            let table = ProcessTable::scan();
            let root = Pid::new(self.root()).unwrap();
            for pid in table.descendants(root) {
                if let Some(entry) = table.get(pid)
                    && let Ok(process) = Process::open_expecting(pid, entry.start_ticks)
                {
                    let _ = process.signal(Signal::KILL);
                }
            }
            for handle in &self.handles {
                let _ = handle.signal(Signal::KILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.jail.clean();
    }
}

/// Runs afterlife with `args` plus `--json` and parses its report.
pub fn kill_json(args: &[&str]) -> (i32, Value, String) {
    kill_json_env(args, &[])
}

/// [`kill_json`] with environment variables set for afterlife.
pub fn kill_json_env(args: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    let output = super::afterlife()
        .envs(env.iter().copied())
        .arg("--json")
        .arg("kill")
        .args(args)
        .output()
        .expect("afterlife runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let value = super::schema::parse("kill", &stdout);
    (output.status.code().unwrap_or(-1), value, stderr)
}

/// [`kill_json`] without stderr (which is in the panic message if stdout is
/// not JSON).
pub fn kill_report(args: &[&str]) -> (i32, Value) {
    let (code, report, _) = kill_json(args);
    (code, report)
}

/// Runs `afterlife kill ARGS` as text: exit code, stdout, stderr.
pub fn kill_text(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["kill"];
    all.extend_from_slice(args);
    super::run_text(&all)
}

/// The report entry of `pid`.
pub fn entry(report: &Value, pid: i32) -> &Value {
    report["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("process {pid} is not in the report: {report:#}"))
}

/// The names of the signals sent to an entry.
pub fn sent(entry: &Value) -> Vec<String> {
    entry["sent"]
        .as_array()
        .expect("sent")
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// Waits (up to 20 s) until `pid` has a handler for `signal` (`SigCgt`).
pub fn wait_caught(pid: i32, signal: i32) -> bool {
    let bit = 1u64 << (signal - 1);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let caught = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
            .unwrap_or(0);
        if caught & bit != 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}
