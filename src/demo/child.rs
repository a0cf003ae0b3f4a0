//! The hidden child modes: the afterlife binary, started again as
//! `afterlife demo-child MODE [ARG...]`, ends in exactly the way a scenario
//! needs. Plain Rust and libc calls, nothing else needed on the machine.
//!
//! Every mode that waits for its parent reads stdin: a line means "go on",
//! EOF means the parent is gone, and the child ends by itself, so no demo
//! child outlives a demo that died. Modes that sleep end after
//! [`FAILSAFE`] at the latest.

use std::io::{BufRead, Write};
use std::time::Duration;

/// The longest any demo child lives on its own.
pub const FAILSAFE: Duration = Duration::from_secs(60);

/// Bytes that scenario 11 writes through a buffer.
pub const BUFFERED_BYTES: usize = 4096;

/// The exit code of the zombie in scenario 18.
pub const ZOMBIE_CODE: i32 = 7;

/// The first argument that selects a child mode: `afterlife demo-child MODE [ARG...]`.
pub const CHILD_COMMAND: &str = "demo-child";

/// If `args` (as `main` got them) select a child mode, runs it and returns
/// the code to return from `main` with; else `None`. Checked before the
/// command line is parsed, so the mode stays out of help and completions.
pub fn run_if_child(args: &[std::ffi::OsString]) -> Option<u8> {
    if args.get(1).is_none_or(|a| a != CHILD_COMMAND) {
        return None;
    }
    let mode = args
        .get(2)
        .map(|m| m.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest: Vec<String> = args.iter().skip(3).map(|a| a.to_string_lossy().into_owned()).collect();
    // Each child shows a default action (or sets its own): one ignored by
    // whoever started the demo (`nohup`, a script's `&`) would hide it.
    crate::sys::linux::signal::default_every_ignored();
    Some(run(&mode, &rest))
}

/// Runs a child mode; returns the code to return from `main` with, for the
/// modes that end that way. An unknown mode is a usage error (125).
pub fn run(mode: &str, args: &[String]) -> u8 {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    match mode {
        "exit" => exit_with(arg(0).parse().unwrap_or(1), arg(1)),
        "return" => return_from_main(arg(0)),
        "last-thread" => last_thread(),
        "wait" => wait_mode(arg(0)),
        "sigint-handler" => handler_mode(libc::SIGINT, arg(0)),
        "term-handler" => handler_mode(libc::SIGTERM, arg(0)),
        "ignore" => ignore_mode(arg(0)),
        "core-limit" => core_limit_mode(arg(0)),
        "segv" => segv(),
        "abort" => abort(),
        "panic" => panic_mode(),
        "buffered" => buffered(arg(0), arg(1)),
        "memory" => memory(arg(0).parse().unwrap_or(200)),
        "files" => files(arg(0)),
        "orphan-parent" => orphan_parent(),
        "subreaper" => subreaper(),
        "sleep" => sleep_mode(),
        "ghost-server" => ghost_server(arg(0) == "inherit"),
        "pipe-writer" => pipe_writer(arg(0).parse().unwrap_or(65536)),
        "shm" => shm(arg(0).parse().unwrap_or(1 << 20)),
        "zombie-parent" => zombie_parent(),
        _ => {
            eprintln!(
                "afterlife: error: unknown demo child mode '{}'",
                crate::text::escape(mode)
            );
            crate::exit_code::FAILURE
        }
    }
}

/// Says `ready FIELDS` on stdout.
fn ready(fields: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ready {fields}");
    let _ = out.flush();
}

/// Waits for a line on stdin (or EOF: the parent is gone).
fn wait_go() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// Writes `marker` when dropped: shows whether destructors ran.
struct DropMarker(String);

impl Drop for DropMarker {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = std::fs::write(&self.0, "destructors ran\n");
        }
    }
}

fn exit_with(code: i32, marker: &str) -> u8 {
    let _marker = DropMarker(marker.to_string());
    // exit(3) keeps the low 8 bits of the code; destructors do not run.
    std::process::exit(code)
}

fn return_from_main(marker: &str) -> u8 {
    let _marker = DropMarker(marker.to_string());
    0
}

fn last_thread() -> u8 {
    let worker = std::thread::spawn(|| {
        // Runs on after the main thread is gone, until the parent says go.
        wait_go();
    });
    drop(worker);
    ready("");
    // pthread_exit(3) on the main thread of a Rust program would unwind
    // through std's catch_unwind in `lang_start`, which glibc answers with
    // abort ("exception not rethrown"). So the main thread ends the way
    // pthread_exit itself finally does: exit(2), the system call that ends
    // only the calling thread. The process lives on in its worker; when
    // that returns, glibc sees the last thread end and the process exits 0.
    // SAFETY: nothing on this thread's stack is used by the worker.
    unsafe { crate::sys::linux::process::exit_thread() };
    unreachable_end()
}

/// Reached only if a call that ends the thread returned.
fn unreachable_end() -> u8 {
    crate::exit_code::FAILURE
}

fn wait_mode(marker: &str) -> u8 {
    let _marker = DropMarker(marker.to_string());
    ready("");
    wait_go();
    0
}

static CAUGHT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_signal(_: libc::c_int) {
    CAUGHT.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Catches `signal` with a handler; when it comes, writes `marker` (its
/// "cleanup") and exits 0. The signal is blocked except inside
/// `sigsuspend`, so it cannot slip in between the check and the wait.
fn handler_mode(signal: libc::c_int, marker: &str) -> u8 {
    use crate::sys::linux::signal::{self as sys_signal, SigSet};
    let Ok(old) = sys_signal::block(&SigSet::of(&[signal])) else {
        return crate::exit_code::FAILURE;
    };
    // SAFETY: the handler only stores to an atomic.
    if unsafe { sys_signal::set_handler(signal, note_signal) }.is_err() {
        return crate::exit_code::FAILURE;
    }
    // Should the parent go away, EOF on stdin ends this process too. The
    // thread inherits the blocked mask, so the signal comes to the main
    // thread's sigsuspend.
    std::thread::spawn(|| {
        wait_go();
        std::process::exit(0)
    });
    ready("");
    while !CAUGHT.load(std::sync::atomic::Ordering::SeqCst) {
        sys_signal::suspend(&old);
    }
    if !marker.is_empty() {
        let _ = std::fs::write(marker, "cleaned up\n");
    }
    std::process::exit(0)
}

/// Ignores the signal named (`HUP`, `TERM`) and waits.
fn ignore_mode(name: &str) -> u8 {
    let signal = match name {
        "HUP" => libc::SIGHUP,
        _ => libc::SIGTERM,
    };
    crate::sys::linux::signal::set_ignored(signal);
    ready("");
    wait_go();
    0
}

/// Sets this process's own `RLIMIT_CORE` soft limit: `0`, or `max` (the
/// hard limit). Returns the soft limit set (`None`: unlimited).
fn set_core_limit(max: bool) -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Core);
    limit.current = if max { limit.maximum } else { Some(0) };
    // EPERM cannot happen: a soft limit may always go up to the hard one.
    let _ = setrlimit(Resource::Core, limit);
    limit.current
}

fn limit_field(limit: Option<u64>) -> String {
    limit.map_or("unlimited".to_string(), |l| l.to_string())
}

fn core_limit_mode(which: &str) -> u8 {
    let limit = set_core_limit(which == "max");
    ready(&format!("core_limit={}", limit_field(limit)));
    wait_go();
    0
}

fn segv() -> u8 {
    let limit = set_core_limit(true);
    ready(&format!("core_limit={}", limit_field(limit)));
    wait_go();
    // A real fault: a write to address 8, in the first page, which
    // vm.mmap_min_addr keeps unmapped. (Not address 0: debug builds check
    // write_volatile for null and would panic instead.) std's own SIGSEGV
    // handler, there for stack overflows, sees a fault outside a guard
    // page, restores the default action and returns; the write faults again
    // and the kernel kills the process.
    // SAFETY: none; this write is meant to fault.
    unsafe {
        // dangling_mut::<u64>() is address 8, u64's alignment.
        std::ptr::write_volatile(std::ptr::dangling_mut::<u64>(), 1);
    }
    unreachable_end()
}

fn abort() -> u8 {
    let limit = set_core_limit(false);
    ready(&format!("core_limit={}", limit_field(limit)));
    wait_go();
    // abort(3): raises SIGABRT and does not return.
    std::process::abort()
}

fn panic_mode() -> u8 {
    ready("");
    wait_go();
    panic!("a demo panic: nothing caught it")
}

/// Writes [`BUFFERED_BYTES`] through a buffer into `path`, says ready, waits,
/// then ends as `how` says: `return` (the buffer is dropped and flushed),
/// `exit` (std::process::exit: no destructor runs, the buffer is lost),
/// `c-exit` (C stdio's buffer, which exit(3) flushes), or waits forever for
/// a SIGKILL (`kill`).
fn buffered(how: &str, path: &str) -> u8 {
    let data = vec![b'x'; BUFFERED_BYTES];
    if how == "c-exit" {
        let Ok(cpath) = std::ffi::CString::new(path) else {
            return crate::exit_code::FAILURE;
        };
        // A C stream, fully buffered with a buffer larger than the data.
        let Ok(mut file) = crate::sys::linux::stdio::CStream::create_buffered(&cpath, 2 * BUFFERED_BYTES) else {
            return crate::exit_code::FAILURE;
        };
        file.write(&data);
        ready("");
        wait_go();
        // exit(3), which flushes C streams; `file` is never dropped.
        std::process::exit(0);
    }
    let Ok(file) = std::fs::File::create(path) else {
        return crate::exit_code::FAILURE;
    };
    let mut writer = std::io::BufWriter::with_capacity(2 * BUFFERED_BYTES, file);
    let _ = writer.write_all(&data);
    ready("");
    wait_go();
    match how {
        "exit" => std::process::exit(0),
        "kill" => sleep_mode(),
        // `writer` is dropped on the way out of main: BufWriter flushes.
        _ => 0,
    }
}

fn memory(mib: usize) -> u8 {
    let mut block = vec![0u8; mib << 20];
    // Touch every page so that it is really allocated.
    for i in (0..block.len()).step_by(4096) {
        block[i] = 1;
    }
    std::hint::black_box(&block);
    ready(&format!("bytes={}", block.len()));
    wait_go();
    // exit without freeing: whatever the program does not give back, the
    // kernel takes back with the address space.
    std::process::exit(0)
}

/// Writes `dir/report.txt`, leaves `dir/afterlife-demo.tmp` behind and holds
/// an unnamed temp file (`O_TMPFILE`) in `dir`.
fn files(dir: &str) -> u8 {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::path::Path::new(dir);
    let report = std::fs::write(dir.join("report.txt"), vec![b'r'; 1000]);
    let temp = std::fs::write(dir.join("afterlife-demo.tmp"), vec![b't'; 2000]);
    let unnamed = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .open(dir);
    let (Ok(()), Ok(()), Ok(mut unnamed)) = (report, temp, unnamed) else {
        return crate::exit_code::FAILURE;
    };
    let _ = unnamed.write_all(&vec![b'u'; 3000]);
    ready(&format!("unnamed_fd={}", std::os::fd::AsRawFd::as_raw_fd(&unnamed)));
    wait_go();
    0
}

fn spawn_self(mode: &str, args: &[&str]) -> Option<std::process::Child> {
    let exe = std::env::current_exe().ok()?;
    std::process::Command::new(exe)
        .arg(CHILD_COMMAND)
        .arg(mode)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()
}

/// Starts a grandchild that sleeps, says its PID, and exits 0 when told:
/// the grandchild is orphaned.
fn orphan_parent() -> u8 {
    let Some(child) = spawn_self("sleep", &[]) else {
        return crate::exit_code::FAILURE;
    };
    ready(&format!("child={}", child.id()));
    wait_go();
    0
}

/// Becomes a child subreaper (prctl(2) `PR_SET_CHILD_SUBREAPER`), starts
/// an `orphan-parent`, lets it exit and reaps it, says the orphan's PID and
/// waits; told to go on, reaps every adopted child that has ended and exits.
fn subreaper() -> u8 {
    if rustix::process::set_child_subreaper(Some(rustix::process::getpid())).is_err() {
        return crate::exit_code::FAILURE;
    }
    let Ok(exe) = std::env::current_exe() else {
        return crate::exit_code::FAILURE;
    };
    let Ok(mut middle) = std::process::Command::new(exe)
        .args([CHILD_COMMAND, "orphan-parent"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return crate::exit_code::FAILURE;
    };
    let mut line = String::new();
    if let Some(stdout) = middle.stdout.take() {
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    }
    let Some(orphan) = line.split_whitespace().find_map(|w| w.strip_prefix("child=")) else {
        // EOF on its stdin ends it.
        drop(middle.stdin.take());
        let _ = middle.wait();
        return crate::exit_code::FAILURE;
    };
    let orphan = orphan.to_string();
    if let Some(mut stdin) = middle.stdin.take() {
        let _ = stdin.write_all(b"go\n");
    }
    let _ = middle.wait();
    ready(&format!("middle={} child={orphan}", middle.id()));
    wait_go();
    // Reap what was adopted; ECHILD ends the loop once none is left.
    while let Ok(Some(_)) = rustix::process::wait(rustix::process::WaitOptions::empty()) {}
    0
}

fn sleep_mode() -> ! {
    std::thread::sleep(FAILSAFE);
    std::process::exit(0)
}

/// Listens on 127.0.0.1, port chosen by the kernel; with `inherit`, clears
/// `FD_CLOEXEC` on the listening fd (Rust sets it) so that the worker it
/// then starts inherits the socket.
fn ghost_server(inherit: bool) -> u8 {
    let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", 0)) else {
        return crate::exit_code::FAILURE;
    };
    let Ok(port) = listener.local_addr().map(|a| a.port()) else {
        return crate::exit_code::FAILURE;
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    if inherit {
        use rustix::io::{FdFlags, fcntl_getfd, fcntl_setfd};
        let flags = fcntl_getfd(&listener).unwrap_or(FdFlags::CLOEXEC);
        let _ = fcntl_setfd(&listener, flags - FdFlags::CLOEXEC);
    }
    let Some(worker) = spawn_self("sleep", &[]) else {
        return crate::exit_code::FAILURE;
    };
    ready(&format!("port={port} fd={fd} worker={}", worker.id()));
    wait_go();
    0
}

/// Writes `bytes` bytes to its stderr (a pipe the parent reads later),
/// says ready and waits.
fn pipe_writer(bytes: usize) -> u8 {
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    if std::io::stderr().lock().write_all(&data).is_err() {
        return crate::exit_code::FAILURE;
    }
    ready(&format!("bytes={bytes}"));
    wait_go();
    0
}

/// The byte pattern written into the shared memory segment.
pub fn shm_pattern(i: usize) -> u8 {
    (i % 253) as u8
}

/// Creates a SysV shared memory segment of `size` bytes, fills it, says
/// its ID and waits.
fn shm(size: usize) -> u8 {
    use crate::sys::linux::ipc;
    let Ok(id) = ipc::shm_create(size) else {
        return crate::exit_code::FAILURE;
    };
    let Ok(mut mapping) = ipc::ShmMapping::attach(id, true) else {
        let _ = ipc::shm_remove(id);
        return crate::exit_code::FAILURE;
    };
    for (i, b) in mapping.bytes_mut().into_iter().flatten().enumerate() {
        *b = shm_pattern(i);
    }
    ready(&format!("shmid={id}"));
    // The parent ends this child with SIGKILL, leaving the segment for it
    // to examine; only if the parent goes away first does the child get
    // here, and then it removes the segment itself.
    wait_go();
    let _ = ipc::shm_remove(id);
    0
}

/// Starts a child that exits with [`ZOMBIE_CODE`] at once, and never
/// reaps it.
fn zombie_parent() -> u8 {
    let code = ZOMBIE_CODE.to_string();
    let Some(child) = spawn_self("exit", &[&code]) else {
        return crate::exit_code::FAILURE;
    };
    ready(&format!("child={}", child.id()));
    // `child` is never waited for.
    std::mem::forget(child);
    wait_go();
    0
}
