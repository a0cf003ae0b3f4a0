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

/// A python3 program that changes its resources every 50 ms in a known way:
/// `files`, `sockets`, `pipes`, `eventfds` and `memory` leak one object
/// (1 MiB for memory) per step; `steady` opens, allocates and frees every
/// step; `sawtooth` grows by one fd and 2 MiB per step for `period` steps
/// and then frees it all (the memory is mmap'ed, so the kernel gets it back
/// at once). It prints `ready` once set up, runs `steps` steps
/// (0: for ever) and then exits with `exit_code`.
pub const WATCH_FIXTURE: &str = r#"
import mmap, os, socket, sys, tempfile, time
mode, steps, exit_code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
period = int(sys.argv[4]) if len(sys.argv) > 4 else 10
if len(sys.argv) > 5:
    with open('/proc/self/comm', 'w') as comm:
        comm.write(sys.argv[5])
fd, path = tempfile.mkstemp(prefix='afterlife-watch-')
os.close(fd)
listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(4096)
held, cycle = [], []
print('ready', flush=True)
i = 0
while steps == 0 or i < steps:
    if mode == 'files':
        held.append(open(path))
    elif mode == 'sockets':
        s = socket.socket()
        s.connect(listener.getsockname())
        held.append(s)
    elif mode == 'pipes':
        held.append(os.pipe())
    elif mode == 'eventfds':
        held.append(os.eventfd(0))
    elif mode == 'memory':
        held.append(b'x' * (1 << 20))
    elif mode == 'steady':
        f = open(path)
        block = b'y' * (1 << 20)
        f.close()
        del block
    elif mode == 'sawtooth':
        if len(cycle) >= period:
            for f, m in cycle:
                f.close()
                m.close()
            cycle = []
        else:
            # mmap, not bytes: freeing returns the pages to the kernel at once,
            # whatever malloc's trimming thresholds are.
            m = mmap.mmap(-1, 2 << 20)
            m.write(b'z' * (2 << 20))
            cycle.append((open(path), m))
    i += 1
    time.sleep(0.05)
os.unlink(path)
sys.exit(exit_code)
"#;

/// A running [`WATCH_FIXTURE`], killed and reaped on drop.
pub struct WatchFixture {
    pub child: Child,
}

impl WatchFixture {
    /// Starts the fixture and waits for its `ready` line.
    pub fn start(mode: &str, steps: u32, extra: &[&str]) -> WatchFixture {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(WATCH_FIXTURE)
            .arg(mode)
            .arg(steps.to_string())
            .arg("0")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("fixture says ready");
        assert_eq!(line.trim(), "ready");
        WatchFixture { child }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for WatchFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The NDJSON lines of `afterlife watch --json`, parsed.
pub fn ndjson(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}")))
        .collect()
}
