//! The parent's side of a demo child: the afterlife binary started again in
//! its hidden `demo-child MODE` form, addressed through a pidfd, spoken to
//! over its stdin and stdout, always ended and reaped when dropped.
//!
//! A child says `ready KEY=VALUE...` on stdout once it is in the state the
//! scenario needs, and waits for a line (or EOF) on stdin before it goes on,
//! so the parent never sleeps on a guess. Reads are bounded by `poll(2)`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::demo::error::DemoError;
use crate::exit::ExitStatus;
use crate::process::{ExitObservation, Pid, Process, StatusSource};
use crate::signal::Signal;

/// How long a child may take to get ready or to end once told to.
pub(crate) const STEP: Duration = Duration::from_secs(10);

use crate::demo::child::CHILD_COMMAND;

/// The value of `key` in a child's `ready` line (`ready key=value ...`),
/// parsed; a child PID parses as a [`Pid`], so 0 and negatives are refused.
pub(crate) fn field<T: std::str::FromStr>(
    fields: &BTreeMap<String, String>,
    key: &str,
    pid: Pid,
) -> Result<T, DemoError> {
    fields
        .get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| DemoError::Protocol {
            pid,
            message: format!("no {key} in its ready line"),
        })
}

/// A running demo child.
#[derive(Debug)]
pub(crate) struct DemoChild {
    process: Process,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    ended: bool,
}

/// How a child was started.
pub(crate) struct Spawn<'a> {
    mode: &'a str,
    args: Vec<String>,
    dir: Option<&'a Path>,
    capture_stderr: bool,
    stderr: Option<Stdio>,
}

impl<'a> Spawn<'a> {
    /// A child in `mode`.
    pub(crate) fn new(mode: &'a str) -> Spawn<'a> {
        Spawn {
            mode,
            args: Vec::new(),
            dir: None,
            capture_stderr: false,
            stderr: None,
        }
    }

    /// One more argument.
    pub(crate) fn arg(mut self, arg: impl ToString) -> Spawn<'a> {
        self.args.push(arg.to_string());
        self
    }

    /// The working directory (where a core file lands).
    pub(crate) fn dir(mut self, dir: &'a Path) -> Spawn<'a> {
        self.dir = Some(dir);
        self
    }

    /// Keep the child's stderr to read it after its end.
    pub(crate) fn capture_stderr(mut self) -> Spawn<'a> {
        self.capture_stderr = true;
        self
    }

    /// Give the child this as its stderr.
    pub(crate) fn stderr(mut self, stderr: Stdio) -> Spawn<'a> {
        self.stderr = Some(stderr);
        self
    }

    /// Starts the child.
    pub(crate) fn start(self) -> Result<DemoChild, DemoError> {
        let exe = self_exe().map_err(|source| DemoError::Spawn {
            mode: self.mode.to_string(),
            source,
        })?;
        let mut command = Command::new(exe);
        command
            .arg(CHILD_COMMAND)
            .arg(self.mode)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        match (self.stderr, self.capture_stderr) {
            (Some(stderr), _) => command.stderr(stderr),
            (None, true) => command.stderr(Stdio::piped()),
            (None, false) => command.stderr(Stdio::null()),
        };
        if let Some(dir) = self.dir {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|source| DemoError::Spawn {
            mode: self.mode.to_string(),
            source,
        })?;
        // The command (and any fd it was given) goes now, so that only the
        // child holds what it was handed.
        drop(command);
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let process = match Process::from_child(&child) {
            Ok(process) => process,
            Err(error) => {
                // Not even a pidfd: the child is ours and unreaped, so its PID
                // is still its own; std's kill uses it directly.
                let _ = child.kill();
                let _ = child.wait();
                return Err(error.into());
            }
        };
        // `child` is dropped without waiting: `process` reaps it through
        // waitid(P_PIDFD).
        Ok(DemoChild {
            process,
            stdin,
            stdout,
            stderr,
            ended: false,
        })
    }
}

/// The afterlife binary itself.
pub(crate) fn self_exe() -> std::io::Result<PathBuf> {
    std::env::current_exe()
}

impl DemoChild {
    /// Its PID.
    pub(crate) fn pid(&self) -> Pid {
        self.process.pid()
    }

    /// Its handle.
    pub(crate) fn process(&self) -> &Process {
        &self.process
    }

    /// Reads one line from its stdout, within `STEP`.
    pub(crate) fn read_line(&mut self) -> Result<String, DemoError> {
        let pid = self.pid();
        let stdout = self.stdout.as_mut().ok_or(DemoError::Protocol {
            pid,
            message: "its stdout is closed".to_string(),
        })?;
        let deadline = Instant::now() + STEP;
        let mut line = Vec::new();
        loop {
            if !readable(stdout, deadline)? {
                return Err(DemoError::Timeout {
                    pid,
                    what: "report ready",
                });
            }
            let mut byte = [0u8; 1];
            let n = stdout
                .read(&mut byte)
                .map_err(DemoError::io("read a demo child's stdout"))?;
            if n == 0 {
                return Err(DemoError::Protocol {
                    pid,
                    message: format!("it closed its stdout after {:?}", String::from_utf8_lossy(&line)),
                });
            }
            if byte[0] == b'\n' {
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            line.push(byte[0]);
        }
    }

    /// Waits for its `ready` line and returns its `KEY=VALUE` fields.
    pub(crate) fn ready(&mut self) -> Result<BTreeMap<String, String>, DemoError> {
        let line = self.read_line()?;
        let mut words = line.split_whitespace();
        if words.next() != Some("ready") {
            return Err(DemoError::Protocol {
                pid: self.pid(),
                message: format!("expected 'ready', got {line:?}"),
            });
        }
        Ok(words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// Tells it to go on.
    pub(crate) fn go(&mut self) -> Result<(), DemoError> {
        if let Some(stdin) = self.stdin.as_mut() {
            // EPIPE: it already ended, which the wait that follows shows.
            let _ = stdin.write_all(b"go\n");
        }
        Ok(())
    }

    /// Sends it a signal through its pidfd.
    pub(crate) fn signal(&self, signal: Signal) -> Result<(), DemoError> {
        Ok(self.process.signal(signal)?)
    }

    /// Whether it is still running after `wait` (waited on its pidfd).
    pub(crate) fn survives(&self, wait: Duration) -> Result<bool, DemoError> {
        Ok(crate::process::wait_any(&[&self.process], Some(wait))?.is_empty())
    }

    /// Waits (within `STEP`) until it has exited, without reaping it: it
    /// stays a zombie, whose /proc entry can still be read.
    pub(crate) fn wait_exited(&self) -> Result<(), DemoError> {
        if crate::process::wait_any(&[&self.process], Some(STEP))?.is_empty() {
            return Err(DemoError::Timeout {
                pid: self.pid(),
                what: "exit",
            });
        }
        Ok(())
    }

    /// Waits for its end (within `STEP`), reaps it and says how it ended.
    pub(crate) fn wait(&mut self) -> Result<(ExitStatus, StatusSource), DemoError> {
        let pid = self.pid();
        let observation = self
            .process
            .wait(Some(STEP))?
            .ok_or(DemoError::Timeout { pid, what: "end" })?;
        self.ended = true;
        known(pid, observation)
    }

    /// Reads what is left on its stdout up to EOF (within `STEP`).
    pub(crate) fn rest_of_stdout(&mut self) -> Result<Vec<u8>, DemoError> {
        let pid = self.pid();
        match self.stdout.take() {
            Some(mut stdout) => read_to_eof(pid, &mut stdout),
            None => Ok(Vec::new()),
        }
    }

    /// Reads its captured stderr up to EOF (within `STEP`).
    pub(crate) fn stderr_text(&mut self) -> Result<String, DemoError> {
        let pid = self.pid();
        match self.stderr.take() {
            Some(mut stderr) => Ok(String::from_utf8_lossy(&read_to_eof(pid, &mut stderr)?).into_owned()),
            None => Ok(String::new()),
        }
    }
}

/// The status, or why it cannot be known.
pub(crate) fn known(pid: Pid, observation: ExitObservation) -> Result<(ExitStatus, StatusSource), DemoError> {
    match observation {
        ExitObservation::Known { status, source } => Ok((status, source)),
        ExitObservation::Unobservable { reason } => Err(DemoError::Unobservable {
            pid,
            reason: reason.describe().to_string(),
        }),
    }
}

fn readable(fd: &impl AsFd, deadline: Instant) -> Result<bool, DemoError> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let left = deadline.saturating_duration_since(Instant::now());
    let spec = Timespec {
        tv_sec: left.as_secs() as _,
        tv_nsec: left.subsec_nanos() as _,
    };
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    loop {
        match rustix::event::poll(&mut fds, Some(&spec)) {
            Ok(n) => return Ok(n > 0),
            // A signal interrupted the poll: try again with the same limit.
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(DemoError::io("poll a demo child's pipe")(e.into())),
        }
    }
}

/// Reads `reader` to EOF, each read bounded by `poll(2)`; `Timeout` if EOF
/// does not come within `STEP`.
pub(crate) fn read_to_eof(pid: Pid, reader: &mut (impl Read + AsFd)) -> Result<Vec<u8>, DemoError> {
    let deadline = Instant::now() + STEP;
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if !readable(reader, deadline)? {
            return Err(DemoError::Timeout {
                pid,
                what: "close its pipe",
            });
        }
        let n = reader
            .read(&mut buf)
            .map_err(DemoError::io("read a demo child's pipe"))?;
        if n == 0 {
            return Ok(all);
        }
        all.extend_from_slice(&buf[..n]);
    }
}

impl Drop for DemoChild {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // Whatever happened, the child does not outlive its scenario: end it
        // through its pidfd and reap it. ESRCH (already ended) is fine.
        let _ = self.process.signal(Signal::KILL);
        let _ = self.process.wait(Some(STEP));
    }
}

/// A directory of one scenario, removed with all it holds when dropped.
#[derive(Debug)]
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Makes a fresh directory named after the scenario.
    pub(crate) fn new(scenario: &str) -> Result<ScratchDir, DemoError> {
        let dir = std::env::temp_dir().join(format!("afterlife-demo-{}-{scenario}", std::process::id()));
        // A leftover of an earlier run with the same PID: start clean.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(DemoError::io(format!("create {}", dir.display())))?;
        Ok(ScratchDir(dir))
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

/// Removes scratch directories left by demos that were killed before they
/// could clean up (a SIGKILL runs no destructor): those whose PID no
/// longer exists.
pub(crate) fn remove_stale_scratch() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("afterlife-demo-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            // ENOENT: another demo removed it first.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process the demo did not start directly (a grandchild, an orphan),
/// held by its pidfd and ended through it when dropped, if still running.
#[derive(Debug)]
pub(crate) struct Stray {
    process: Process,
    ended: bool,
}

impl Stray {
    /// Opens `pid`, which a demo child reported while it is alive.
    pub(crate) fn open(pid: Pid) -> Result<Stray, DemoError> {
        Ok(Stray {
            process: Process::open(pid)?,
            ended: false,
        })
    }

    /// Its handle.
    pub(crate) fn process(&self) -> &Process {
        &self.process
    }

    /// Sends `signal` through its pidfd and waits (within `STEP`) for its
    /// end, which its parent (init or a subreaper) reaps; the status comes
    /// from the zombie or from `PIDFD_INFO_EXIT`.
    pub(crate) fn end(&mut self, signal: Signal) -> Result<(ExitStatus, StatusSource), DemoError> {
        let pid = self.process.pid();
        self.process.signal(signal)?;
        let observation = self
            .process
            .wait(Some(STEP))?
            .ok_or(DemoError::Timeout { pid, what: "end" })?;
        self.ended = true;
        known(pid, observation)
    }
}

impl Drop for Stray {
    fn drop(&mut self) {
        if !self.ended {
            // ESRCH: it already ended; fine.
            let _ = self.process.signal(Signal::KILL);
            let _ = self.process.wait(Some(STEP));
        }
    }
}

/// Waits (bounded) until the process that started at `start_ticks` no
/// longer has `pid`: reaped by whoever is its parent.
pub(crate) fn wait_gone(pid: Pid, start_ticks: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let present = crate::process::ProcessInfo::read(pid).is_ok_and(|info| info.start_ticks == start_ticks);
        if !present {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
