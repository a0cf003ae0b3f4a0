//! Shared helpers for the integration tests: run the afterlife binary, start
//! fixture processes with shell one-liners, and wait on events rather than
//! sleeping.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The afterlife binary under test.
pub fn afterlife() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_afterlife"));
    command.env_remove("NO_COLOR").arg("--color=never");
    command
}

/// Runs afterlife with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    afterlife().args(args).output().expect("afterlife runs")
}

/// stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Polls `condition` every 5 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// A scratch directory removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("afterlife-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Makes a FIFO in the scratch dir; a fixture blocks reading it until the
    /// test writes a line.
    pub fn fifo(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        let status = Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
        assert!(status.success());
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Releases a fixture blocked on `fifo`.
pub fn release(fifo: &Path) {
    std::fs::write(fifo, "go\n").expect("write fifo");
}

/// A shell fixture whose first stdout line is a PID it reports; killed and
/// reaped on drop (by the PID we started, never by name).
pub struct Fixture {
    pub child: Child,
    pub reported: i32,
}

impl Fixture {
    /// Runs `sh -c script`; the script must `echo` a PID first.
    pub fn start(script: &str) -> Fixture {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("fixture reports a PID");
        let reported = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("fixture printed {line:?}"));
        Fixture { child, reported }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `holder` has a pidfd open for process `target`
/// (`Pid:` in its fdinfo), i.e. afterlife has started watching it.
pub fn holds_pidfd_for(holder: u32, target: i32) -> bool {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{holder}/fdinfo")) else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_to_string(entry.path())
            .map(|text| {
                text.lines()
                    .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Pid:", &target.to_string()])
            })
            .unwrap_or(false)
    })
}

/// A PID that no process has now.
pub fn unused_pid() -> i32 {
    (4_000_000..4_194_304)
        .rev()
        .find(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        .expect("a free PID")
}

/// Whether we run as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A zombie whose parent never reaps it: a shell starts a child, then
/// `exec`s `sleep`; the child exits with `code` only once its parent is
/// `sleep`, so the shell cannot reap it first. Returns the fixture (the
/// parent) once the child is a zombie; `reported` is the zombie's PID.
pub fn unreaped_zombie(code: u8) -> Fixture {
    let fixture = Fixture::start(&format!(
        "p=$$; ( while [ \"$(cat /proc/$p/comm)\" != sleep ]; do sleep 0.01; done; exit {code} ) & echo $!; exec sleep 300"
    ));
    let pid = fixture.reported;
    assert!(
        wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
        }),
        "process {pid} did not become a zombie"
    );
    fixture
}

/// A shell's `$?` for a status: the code, or 128 + the signal.
pub fn shell_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Whether `pid` is dead: no /proc entry, or a zombie.
pub fn pid_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => true,
    }
}

/// Sends `signal` to `pid` through a pidfd.
pub fn send_signal(pid: i32, signal: i32) {
    let pid = afterlife::process::Pid::new(pid).expect("a PID");
    let process = afterlife::process::Process::open(pid).expect("the process exists");
    let signal = afterlife::signal::Signal::from_number(signal).expect("a signal");
    process.signal(signal).expect("signal sent");
}

/// Kills the processes a test started (by the PIDs it learned), ignoring
/// those already gone.
pub fn kill_pids(pids: &[i32]) {
    for &pid in pids {
        if let Some(pid) = afterlife::process::Pid::new(pid)
            && let Ok(process) = afterlife::process::Process::open(pid)
        {
            let _ = process.signal(afterlife::signal::Signal::KILL);
        }
    }
}

/// PIDs listed one per line in a file (missing file: none).
pub fn pids_in(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}
