//! A process whose threads are all on their way out: `exit` from the main
//! thread takes the others with it, the main thread is a zombie at once,
//! and the last thread out releases the memory (a gigabyte takes tens of
//! milliseconds). /proc then shows the main thread Z beside a running
//! thread, as after `pthread_exit` in `main`; but that thread has
//! `PF_EXITING` set: the process is ending, not running on, and nothing
//! holds it. The window is short: the test tries a few times to land in it.

use std::time::{Duration, Instant};

use crate::common;

use common::why::why_json;
use common::{Py, run_json};

/// Starts a two-thread process holding 1 GiB, lets it exit, and waits for
/// its main thread to be a zombie while the other thread, in `do_exit`
/// (`PF_EXITING`, which stays set until it is gone), still runs.
fn ending_with_a_thread_releasing_memory() -> Option<Py> {
    let mut py = Py::start(
        r#"
import threading
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
libc.mmap.restype = ctypes.c_void_p
# MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE: the exit has it all to free.
assert libc.mmap(None, 1 << 30, 3, 0x22 | 0x8000, -1, 0) not in (None, ctypes.c_void_p(-1).value)
report(ready=1)
sys.stdin.read()
os._exit(0)
"#,
    );
    let pid = py.pid();
    drop(py.child.stdin.take());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        match common::state(pid) {
            Some('Z') if other_thread_exiting(pid) => return Some(py),
            None => return None,
            _ => std::thread::yield_now(),
        }
    }
    None
}

/// Whether a thread of `pid` other than the main one is in `do_exit`.
fn other_thread_exiting(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        let tid = task.file_name().to_string_lossy().into_owned();
        tid != pid.to_string() && common::in_do_exit(&format!("{pid}/task/{tid}"))
    })
}

/// Whether the process still had its main thread a zombie and another
/// thread running after a command read it.
fn still_in_window(pid: i32) -> bool {
    common::state(pid) == Some('Z') && other_thread_exiting(pid)
}

#[test]
fn a_process_whose_last_thread_is_exiting_is_ending_not_running_without_its_main_thread() {
    for _ in 0..10 {
        let Some(py) = ending_with_a_thread_releasing_memory() else {
            continue;
        };
        let pid = py.pid();
        let (_, status) = run_json(&["status", &pid.to_string()]);
        if !still_in_window(pid) {
            continue;
        }
        let status = &status["processes"][0];
        assert_eq!(status["status"], "running", "{status:#}");
        assert_eq!(status["process"]["main_thread_exited"], false, "{status:#}");
        assert_eq!(status["process"]["exiting"], true, "{status:#}");
        return;
    }
    panic!("never caught a process ending with its main thread a zombie first");
}

#[test]
fn nothing_holds_a_process_whose_last_thread_is_exiting() {
    for _ in 0..10 {
        let Some(py) = ending_with_a_thread_releasing_memory() else {
            continue;
        };
        let pid = py.pid();
        let d = why_json(pid);
        let text = common::stdout(&common::run(&["status", &pid.to_string()]));
        if !still_in_window(pid) {
            continue;
        }
        let exiting = d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "exiting")
            .unwrap_or_else(|| panic!("{d:#}"));
        // No thread "has SIGKILL queued but has not acted on it": the one
        // left is in do_exit, releasing the memory.
        assert_eq!(exiting["title"], "exiting", "{d:#}");
        assert_ne!(d["sigkill"], "delayed", "{d:#}");
        // Its command line went with its memory: that makes it no kernel
        // thread, and `status` does not write it as one.
        assert!(!text.contains("[python3]"), "{text}");
        return;
    }
    panic!("never caught a process ending with its main thread a zombie first");
}
