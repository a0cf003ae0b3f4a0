//! afterlife's hidden child mode on Windows, for the tests: processes that
//! behave in known ways (sleep, exit with a code, spawn a tree, keep
//! spawning), as the Linux tests use `afterlife __child`.
//!
//! `afterlife __child MODE ARGS`, checked before the command line is
//! parsed, so the mode stays out of help and completions.

use std::process::{Command, Stdio};
use std::time::Duration;

/// The first argument that selects the child mode.
pub const CHILD_COMMAND: &str = "__child";

/// If `args` select a child mode, runs it and returns its exit code.
pub fn run_if_child(args: &[std::ffi::OsString]) -> Option<u8> {
    if args.get(1).is_none_or(|a| a != CHILD_COMMAND) {
        return None;
    }
    let rest: Vec<String> = args.iter().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
    let number = |i: usize| rest.get(i).and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
    match rest.first().map(String::as_str) {
        // sleep MS
        Some("sleep") => {
            std::thread::sleep(Duration::from_millis(number(1)));
            Some(0)
        }
        // ready-sleep MS: prints its PID once it runs, then sleeps MS.
        Some("ready-sleep") => {
            println!("{}", std::process::id());
            std::thread::sleep(Duration::from_millis(number(1)));
            Some(0)
        }
        // exit CODE [MS]: after MS milliseconds, any 32-bit code, through
        // ExitProcess.
        Some("exit") => {
            std::thread::sleep(Duration::from_millis(number(2)));
            std::process::exit(number(1) as u32 as i32)
        }
        // tree DEPTH WIDTH: WIDTH children, each a tree of DEPTH-1; then
        // sleep until killed; prints its PID when it is the root.
        Some("tree") => {
            let (depth, width) = (number(1), number(2));
            let mut children = Vec::new();
            if depth > 0 {
                for _ in 0..width {
                    children.push(spawn_self(&["tree", &(depth - 1).to_string(), &width.to_string()]));
                }
            }
            println!("{}", std::process::id());
            std::thread::sleep(Duration::from_secs(600));
            Some(0)
        }
        // break CODE: exits with CODE on CTRL_BREAK_EVENT (or Ctrl+C);
        // else sleeps.
        Some("break") => {
            BREAK_CODE.store(number(1) as u32, std::sync::atomic::Ordering::Relaxed);
            // SAFETY: a handler valid for the whole process.
            unsafe { windows_sys::Win32::System::Console::SetConsoleCtrlHandler(Some(exit_on_break), 1) };
            println!("{}", std::process::id());
            std::thread::sleep(Duration::from_secs(600));
            Some(0)
        }
        // spawner: starts a new sleeping child every few milliseconds.
        Some("spawner") => loop {
            let _ = spawn_self(&["sleep", "600000"]);
            std::thread::sleep(Duration::from_millis(5));
        },
        // leave MS: starts a child that sleeps MS, then exits at once.
        Some("leave") => {
            let child = spawn_self(&["sleep", &number(1).to_string()]);
            println!("{}", child.map_or(0, |c| c.id()));
            Some(0)
        }
        // demo-MODE ARGS: the demo's children (sys::windows::demo::child).
        Some(mode) if mode.starts_with(super::demo::child::PREFIX) => Some(super::demo::child::run(
            &mode[super::demo::child::PREFIX.len()..],
            &rest[1..],
        )),
        // listen tcp|udp ADDR: prints the port of a socket bound on ADDR.
        Some("listen") => Some(super::child_sockets::listen(&rest[1..])),
        // listen-parent inherit|no-inherit: the socket case study's parent.
        Some("listen-parent") => Some(super::child_sockets::listen_parent(&rest[1..])),
        // leak-handles MS: an event opened every MS ms and kept (watch).
        Some("leak-handles") => Some(super::child_leaks::leak_handles(Duration::from_millis(number(1)))),
        // hold-handles N MS: N events held, one opened and closed every MS ms.
        Some("hold-handles") => Some(super::child_leaks::hold_handles(
            number(1),
            Duration::from_millis(number(2)),
        )),
        // leak-private KIB MS: KIB KiB allocated, touched and kept every MS ms.
        Some("leak-private") => Some(super::child_leaks::leak_private(
            number(1),
            Duration::from_millis(number(2)),
        )),
        Some("suspend") => Some(super::child_resist::suspend(number(1) as u32)),
        Some("debug") => Some(super::child_resist::debug(number(1) as u32)),
        Some("protect") => Some(super::child_resist::protect()),
        Some("hold") => Some(super::child_resist::hold(number(1) as u32)),
        Some(super::console::BREAK_HELPER_MODE) => Some(super::console::break_helper(number(1) as u32)),
        _ => {
            eprintln!("afterlife: error: unknown child mode");
            Some(crate::exit_code::FAILURE)
        }
    }
}

fn spawn_self(args: &[&str]) -> Option<std::process::Child> {
    let exe = std::env::current_exe().ok()?;
    Command::new(exe)
        .arg(CHILD_COMMAND)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .ok()
}

static BREAK_CODE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

unsafe extern "system" fn exit_on_break(_event: u32) -> windows_sys::core::BOOL {
    std::process::exit(BREAK_CODE.load(std::sync::atomic::Ordering::Relaxed) as i32)
}
