//! Shared helpers for the integration tests: run the afterlife binary, start
//! fixture processes with shell one-liners, and wait on events rather than
//! sleeping. Each test binary (`tests/<name>/main.rs`) includes this module
//! with `#[path = "../common/mod.rs"] mod common;`; what is shared by the
//! tests of one command only is in a submodule: [`kill`] (process trees in
//! cgroup jails), [`deaths`] (a running feed), [`why`] (reading a
//! diagnosis), [`zombie`] (a zombie held by its tracer), [`ipc`] (IPC
//! objects on the machine), [`servers`] (real servers) and [`tmux`] (a real
//! terminal).
//!
//! The tests of one binary run on parallel threads of one process, so
//! nothing here changes process-wide state (environment, current directory,
//! signal dispositions or masks, limits) once they run — the one exception
//! is made as the binary loads, before any test: signals it was started
//! with ignored are put back to their default (so under `nohup` a hangup
//! ends the test binary) — and every name a test makes on the
//! machine (scratch directories, cgroups, tmux sockets) carries this
//! process's PID and a number no other test of it has had ([`unique`]). A
//! test that must be alone in its process runs through [`run_alone`].

#![allow(dead_code)]

pub mod deaths;
pub mod fuse;
pub mod ipc;
pub mod kill;
pub mod schema;
pub mod servers;
pub mod tmux;
pub mod why;
pub mod zombie;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Puts every signal the test binary was started with ignored back to its
/// default action, before any test runs. "Ignore" survives exec: a harness
/// started under `nohup` or as a script's `&` job would pass SIGHUP,
/// SIGINT or SIGQUIT ignored to every fixture, and the tests that read a
/// fixture's dispositions or end it with one of those would see the
/// harness's choice, not the fixture's. SIGPIPE is left to Rust's runtime.
extern "C" fn default_inherited_dispositions() {
    for signal in 1..=libc::SIGRTMAX() {
        if [libc::SIGKILL, libc::SIGSTOP, libc::SIGPIPE].contains(&signal) {
            continue;
        }
        // SAFETY: a sigaction is plain data; all zeroes is a valid one.
        let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: with no new action, sigaction only writes the current one
        // into the struct we own.
        let read = unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) };
        if read == 0 && current.sa_sigaction == libc::SIG_IGN {
            // SAFETY: SIG_DFL installs no code of ours; no thread runs yet.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
}

/// Runs [`default_inherited_dispositions`] as the test binary loads, before
/// the harness starts its threads.
#[used]
// SAFETY: `.init_array` holds pointers to functions the loader calls with
// no arguments before `main`; this one only changes signal dispositions.
#[unsafe(link_section = ".init_array")]
static DEFAULT_INHERITED_DISPOSITIONS: extern "C" fn() = default_inherited_dispositions;

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
/// Spawns a program the test has just copied. Another test thread's fork
/// may still hold the copy's write fd (inherited until that child's exec
/// closes it), and exec then fails with ETXTBSY: try again for a while.
pub fn spawn_fresh_copy(command: &mut Command) -> std::process::Child {
    for _ in 0..200 {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => std::thread::sleep(Duration::from_millis(10)),
            other => return other.expect("the copy runs"),
        }
    }
    command.spawn().expect("the copy runs")
}

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
    /// `afterlife-test-NAME-PID-N` in the temporary directory: `N` keeps
    /// two tests of this process that pick the same name apart.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("afterlife-test-{name}-{}-{}", std::process::id(), unique()));
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
    /// A pidfd to the reported process, taken while it surely was ours, so
    /// that drop ends it too and never a process that reused its PID.
    reported_handle: Option<afterlife::process::Process>,
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
        Fixture::adopt(child, reported)
    }

    /// Takes charge of `child`, which reported `reported`.
    pub fn adopt(child: Child, reported: i32) -> Fixture {
        let reported_handle =
            afterlife::process::Pid::new(reported).and_then(|pid| afterlife::process::Process::open(pid).ok());
        Fixture {
            child,
            reported,
            reported_handle,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(handle) = &self.reported_handle {
            // It may have exited already (ESRCH through the pidfd): fine.
            let _ = handle.signal(afterlife::signal::Signal::KILL);
        }
    }
}

/// Whether process `holder` has a pidfd open for process `target`
/// (`Pid:` in its fdinfo), i.e. afterlife has started watching it.
pub fn holds_pidfd_for(holder: u32, target: i32) -> bool {
    // Between fork and exec the holder is a copy of this test process, with
    // copies of its pidfds (a `Fixture` holds one for its process): only a
    // holder that has become another program counts.
    let exe = |pid: &str| std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    if exe(&holder.to_string()).is_none_or(|holder_exe| Some(holder_exe) == exe("self")) {
        return false;
    }
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

/// Starts `command` with the PID `pid` (which must be free) through the
/// allocator's cursor, `/proc/sys/kernel/ns_last_pid` (root only), putting
/// the cursor back right after the spawn so that no other process is
/// given a PID handed out a moment ago. `None` where another process took
/// the PID first (a few tries) or the cursor cannot be written.
pub fn spawn_at_pid(pid: i32, command: &mut Command) -> Option<Child> {
    const CURSOR: &str = "/proc/sys/kernel/ns_last_pid";
    for _ in 0..5 {
        let cursor: i32 = std::fs::read_to_string(CURSOR).ok()?.trim().parse().ok()?;
        std::fs::write(CURSOR, (pid - 1).to_string()).ok()?;
        let spawned = command.spawn();
        std::fs::write(CURSOR, cursor.to_string()).ok()?;
        let mut child = spawned.ok()?;
        if child.id() as i32 == pid {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

/// Has the next PID handed out be `pid` (which must be free) while
/// `trigger` makes some process fork, through the allocator's cursor
/// (root only); the cursor is put back as soon as it moves (the fork took
/// a PID, `pid` or, if another process was faster, another), so that no
/// other process is given a PID handed out a moment ago. Whether the
/// cursor could be set.
pub fn fork_at_pid(pid: i32, trigger: impl FnOnce()) -> bool {
    const CURSOR: &str = "/proc/sys/kernel/ns_last_pid";
    let read = || std::fs::read_to_string(CURSOR).ok()?.trim().parse::<i32>().ok();
    let Some(cursor) = read() else {
        return false;
    };
    if std::fs::write(CURSOR, (pid - 1).to_string()).is_err() {
        return false;
    }
    trigger();
    // Read without a pause: every moment the cursor stays back is one in
    // which another process may be given a PID just freed.
    let start = Instant::now();
    while read() == Some(pid - 1) && start.elapsed() < Duration::from_secs(5) {
        std::hint::spin_loop();
    }
    std::fs::write(CURSOR, cursor.to_string()).is_ok()
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

/// A python3 fixture: the script gets a prelude with `fork(fn)` (a child
/// that dies with its parent, `PR_SET_PDEATHSIG`), `report(**facts)` (one
/// JSON line the test reads) and `finish()` (block until the test closes
/// stdin, then kill and reap the children it forked, by their PIDs). Dropping
/// the fixture closes stdin, then kills and reaps the python process.
pub struct Py {
    pub child: Child,
    pub facts: serde_json::Value,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

pub const PY_PRELUDE: &str = r#"
import os, sys, socket, ctypes, json, time, signal, struct
libc = ctypes.CDLL(None, use_errno=True)
kids = []
def fork(fn, die_with_parent=True):
    pid = os.fork()
    if pid == 0:
        if die_with_parent:
            libc.prctl(1, 9)
            if os.getppid() == 1:
                os._exit(0)
        try:
            fn()
        finally:
            os._exit(0)
    kids.append(pid)
    return pid
def hold_forever():
    while True:
        time.sleep(60)
def report(**facts):
    print(json.dumps(facts), flush=True)
def finish():
    sys.stdin.read()
    for k in kids:
        try:
            os.kill(k, 9)
            os.waitpid(k, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
"#;

impl Py {
    /// Runs the script (after the prelude) with `python3`, optionally under
    /// a wrapper command (`unshare --net`), and reads its first report.
    pub fn start_with(wrapper: &[&str], script: &str) -> Py {
        use std::io::BufRead;
        let program = format!("{PY_PRELUDE}\n{script}");
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg("python3");
                c
            }
            None => Command::new("python3"),
        };
        let mut child = command
            .arg("-c")
            .arg(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("fixture reports");
        let facts = serde_json::from_str(&line).unwrap_or_else(|_| panic!("fixture printed {line:?}"));
        Py { child, facts, stdout }
    }

    /// Runs the script in a private mount namespace of its own, after the
    /// shell command `mount` has mounted there what it needs (it ends with
    /// `exec "$@"`, which runs the script).
    pub fn start_with_mounts(mount: &str, script: &str) -> Py {
        Py::start_with(
            &[
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                mount,
                "sh",
            ],
            script,
        )
    }

    /// Runs the script with `python3`.
    pub fn start(script: &str) -> Py {
        Py::start_with(&[], script)
    }

    /// The next report line.
    pub fn next_report(&mut self) -> serde_json::Value {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("fixture reports");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("fixture printed {line:?}"))
    }

    /// A reported number.
    pub fn num(&self, key: &str) -> i64 {
        self.facts[key]
            .as_i64()
            .unwrap_or_else(|| panic!("no {key} in {}", self.facts))
    }

    /// The python process's PID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Closes stdin: the fixture kills its children and exits.
    pub fn finish(&mut self) {
        drop(self.child.stdin.take());
        let id = self.child.id();
        wait_until(Duration::from_secs(10), || {
            !std::fs::read_to_string(format!("/proc/{id}/stat")).is_ok_and(|s| !s.contains(") Z "))
        });
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        self.finish();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `afterlife --json ARGS` and parses stdout.
pub fn run_json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = run(&all);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("afterlife {args:?}: {e}: {}\n{}", stdout(&output), stderr(&output)));
    if let Some(command) = schema::command_of(args) {
        schema::check(command, &value);
    }
    (output.status.code(), value)
}

/// Held by each test of one binary that makes IPC objects or judges what
/// a dead tree left: `leftovers` counts an object made while the tree
/// lived, by its user, as the tree's, so one made meanwhile by a test
/// running beside it would be counted too.
pub fn ipc_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// SysV shm and other IPC objects a test created, removed by their ids on
/// drop with `ipcrm`.
#[derive(Default)]
pub struct IpcCleanup(pub Vec<i64>);

impl Drop for IpcCleanup {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = Command::new("ipcrm").args(["-m", &id.to_string()]).output();
        }
    }
}

/// A process the test caused to outlive its parent: killed through a pidfd
/// (checked against its start time) on drop.
pub struct Orphan(pub i32);

impl Drop for Orphan {
    fn drop(&mut self) {
        if let Some(pid) = afterlife::process::Pid::new(self.0)
            && let Ok(process) = afterlife::process::Process::open(pid)
        {
            let _ = process.signal(afterlife::signal::Signal::KILL);
            let _ = process.wait(Some(Duration::from_secs(5)));
        }
    }
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

/// A POSIX message queue a test created, unlinked by its name on drop.
pub struct MqCleanup(pub String);

impl Drop for MqCleanup {
    fn drop(&mut self) {
        if let Ok(name) = std::ffi::CString::new(self.0.clone()) {
            // SAFETY: a NUL-terminated name; ENOENT if already gone.
            unsafe { libc::mq_unlink(name.as_ptr()) };
        }
    }
}

/// Python lines (needing `mmap` and `os` imported) that write a file
/// whose name is not UTF-8 into `dir` and map it for good: a process whose
/// /proc/PID/maps cannot be read as UTF-8.
pub fn map_a_file_named_not_utf8_py(dir: &Path) -> String {
    format!(
        r#"
odd = os.fsencode({dir:?}) + b"/odd-\xff.bin"
with open(odd, "wb") as g:
    g.write(b"x" * 4096)
g = open(odd, "rb")
odd_map = mmap.mmap(g.fileno(), 0, prot=mmap.PROT_READ)
"#,
        dir = dir.to_str().expect("a UTF-8 scratch path")
    )
}

/// PIDs listed one per line in a file (missing file: none).
///
/// A line may also be `pid:[INODE] N START`, what a shell inside a run
/// writes with [`NAME_ITSELF_SH`]: process N of that PID namespace, started
/// at tick START, resolved to the PID this test's namespace gives it while
/// it runs (a line whose process is gone is left out; the start time keeps
/// a namespace made later with the same number, and its process N, from
/// being taken for it).
pub fn pids_in(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [pid] => pid.parse().ok(),
            [namespace, pid, start] => outer_pid(namespace, pid.parse().ok()?, start.parse().ok()?),
            _ => None,
        })
        .collect()
}

/// A shell command that writes (to its stdout) how a shell names itself
/// for [`pids_in`] and [`line_dead`]: its PID namespace, its PID there
/// (`$$`) and its start time (field 22 of its own `stat`, read by the
/// shell itself), whichever /proc it sees. It sets the positional
/// parameters.
pub const NAME_ITSELF_SH: &str =
    r#"read -r own_stat < /proc/self/stat; set -- $own_stat; echo "$(readlink /proc/self/ns/pid) $$ ${22}""#;

/// The lines of `path` that name a process, as written: a PID, or a PID
/// namespace, a PID in it and a start time (missing file: none).
pub fn pid_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether the process a line of [`pid_lines`] names has ended (or is a
/// zombie).
pub fn line_dead(line: &str) -> bool {
    match line.split_whitespace().collect::<Vec<_>>()[..] {
        [pid] => pid_dead(pid.parse().expect("a PID")),
        [namespace, pid, start] => outer_pid(
            namespace,
            pid.parse().expect("a PID"),
            start.parse().expect("a start time"),
        )
        .is_none_or(pid_dead),
        _ => panic!("not a PID line: {line:?}"),
    }
}

/// The PID this test's /proc gives process `pid` of the PID namespace
/// whose link reads `namespace` (`pid:[INODE]`), started at tick `start`:
/// the process whose `ns/pid` is that, whose `NSpid` ends with `pid`, and
/// whose start time is `start`.
pub fn outer_pid(namespace: &str, pid: i32, start: u64) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let outer: i32 = entry.file_name().to_str()?.parse().ok()?;
        let link = std::fs::read_link(entry.path().join("ns/pid")).ok()?;
        if link.to_str() != Some(namespace) {
            return None;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).ok()?;
        let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
        if nspid.split_whitespace().last()?.parse::<i32>().ok()? != pid {
            return None;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        let started: u64 = stat.rsplit_once(") ")?.1.split(' ').nth(19)?.parse().ok()?;
        (started == start).then_some(outer)
    })
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
    /// Its TMPDIR, where it makes its file; removed on drop.
    _tmp: Scratch,
}

impl WatchFixture {
    /// Starts the fixture and waits for its `ready` line.
    pub fn start(mode: &str, steps: u32, extra: &[&str]) -> WatchFixture {
        use std::io::{BufRead, BufReader};
        let tmp = Scratch::new(&format!("watch-fixture-{mode}-{}", unique()));
        let mut child = Command::new("python3")
            .env("TMPDIR", tmp.path())
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
        WatchFixture { child, _tmp: tmp }
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

/// The NDJSON lines of `afterlife watch --json`, parsed and checked
/// against the schema.
pub fn ndjson(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| schema::parse("watch", line))
        .collect()
}

/// A number no other call in this test process has had.
pub fn unique() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The name the test harness gives test `name` of the module whose
/// `module_path!()` is `module`: its path without the crate's own name
/// (`kill_pid_reuse::inner_kill_pid_reuse` in the `kill` binary).
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, path)) => format!("{path}::{name}"),
        None => name.to_string(),
    }
}

/// The variable [`run_alone`] sets to the name of the test it runs.
const ALONE: &str = "AFTERLIFE_TEST_ALONE";

/// Runs the ignored test `inner` (a name from [`test_name`]) of this test
/// binary in a test process of its own, where no other test runs: for a
/// test that counts this process's own fds, or holds a socket whose holders
/// must not include a copy made by another test's fork before its exec.
/// Panics with the inner test's output if it failed or did not run; prints
/// that output otherwise (its "skipped" lines).
pub fn run_alone(inner: &str) {
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", inner, "--ignored", "--nocapture", "--test-threads=1"])
        .env(ALONE, inner)
        .stdin(Stdio::null())
        .output()
        .expect("the test binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{inner}, run alone, failed:\n{text}");
    assert!(text.contains("1 passed"), "{inner} did not run:\n{text}");
    print!("{text}");
}

/// Whether this is the process [`run_alone`] started for the test `inner`;
/// if not (the ignored test was asked for in a shared process), says so,
/// and the test does nothing.
pub fn alone(inner: &str) -> bool {
    let inside = std::env::var(ALONE).is_ok_and(|name| name == inner);
    if !inside {
        println!("skipped: {inner} runs only in a process of its own, through run_alone");
    }
    inside
}

/// Re-runs the ignored test `inner` (a name from [`test_name`]) of this
/// test binary as PID 1 of a new PID namespace with its own /proc
/// (`unshare --pid --fork --mount-proc`), with `marker` set in its
/// environment so that the outer test can tell it runs inside. Returns the
/// inner run's stdout and stderr; `None` (with the reason printed) where
/// the machine cannot: not root, or no new PID namespaces allowed.
pub fn run_in_new_pid_namespace(inner: &str, marker: &str) -> Option<(std::process::ExitStatus, String)> {
    if !is_root() {
        eprintln!("skipped: writing ns_last_pid in a new PID namespace needs root");
        return None;
    }
    let output = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(std::env::current_exe().expect("the test binary"))
        .args(["--exact", inner, "--ignored", "--nocapture", "--test-threads=1"])
        .env(marker, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("unshare runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() && text.contains("unshare failed") {
        eprintln!("skipped: this machine does not allow new PID namespaces: {text}");
        return None;
    }
    Some((output.status, text))
}

// ---- Reading /proc.

/// The state letter of `pid` (`S`, `D`, `Z`, ...), from `/proc/PID/stat`.
pub fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// Field `index` of `/proc/PID/stat` counted from the state letter (0), as
/// a number: 1 the parent, 2 the group, 3 the session. `pid` may be `"self"`.
/// Read, not asked of `getpgrp`/`getsid`: a machine whose init never called
/// `setsid` runs everything in the kernel's group and session 0.
pub fn stat_number(pid: &str, index: usize) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split(' ').nth(index)?.parse().ok()
}

/// Whether the task whose `/proc` directory is `task` (`"PID"` or
/// `"PID/task/TID"`) is in `do_exit`: `PF_EXITING` in its flags (field 9,
/// the sixth after the state).
pub fn in_do_exit(task: &str) -> bool {
    const PF_EXITING: i64 = 4;
    stat_number(task, 6).is_some_and(|flags| flags & PF_EXITING != 0)
}

/// The name (`comm`) of `pid`; empty once it is gone.
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// The direct children of `pid` now (of its main thread).
pub fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A field of `/proc/PID/status` (`TracerPid`, `SigCgt`, ...), trimmed.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

// ---- Children of the test.

/// A child of the test, killed and reaped on drop (by the PID we started,
/// never by name).
pub struct Reaped(pub Child);

impl Reaped {
    /// Spawns `command` with stdin and stdout on /dev/null.
    pub fn spawn(command: &mut Command) -> Reaped {
        Reaped(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("the fixture starts"),
        )
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// Whether it still runs (it is not reaped before drop, so a signal
    /// that ended it would show here).
    pub fn running(&mut self) -> bool {
        self.0.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sleep SECONDS`, killed and reaped on drop.
pub fn sleeper(seconds: &str) -> Reaped {
    Reaped::spawn(Command::new("sleep").arg(seconds))
}

/// Runs `afterlife ARGS` (`--color=never`) and returns its exit code (-1
/// for a signal), stdout and stderr.
pub fn run_text(args: &[&str]) -> (i32, String, String) {
    let output = run(args);
    (output.status.code().unwrap_or(-1), stdout(&output), stderr(&output))
}

/// How many BPF links a process holds (each attached tracepoint is one).
pub fn bpf_links(pid: u32) -> usize {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| target.to_string_lossy() == "anon_inode:bpf_link")
        .count()
}
