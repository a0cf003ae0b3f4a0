//! `afterlife snapshot` of a process caught in its exit: releasing a
//! gigabyte takes tens of milliseconds, during which /proc shows it
//! running with no memory and no command line. The snapshot said "0 B
//! resident" and an empty command of a process that held a gigabyte; it
//! now says the process was exiting.

use std::time::{Duration, Instant};

use crate::common;

use common::{Py, run_json};

/// Whether `pid` is in `do_exit` and not yet a zombie.
fn in_exit(pid: i32) -> bool {
    common::state(pid).is_some_and(|s| s != 'Z') && common::in_do_exit(&pid.to_string())
}

/// A process holding 1 GiB, told to exit, caught while it releases it.
fn exiting_with_a_gigabyte() -> Option<Py> {
    let mut py = Py::start(
        r#"
libc.mmap.restype = ctypes.c_void_p
# MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE: the exit has it all to free.
libc.mmap(None, 1 << 30, 3, 0x22 | 0x8000, -1, 0)
report(ready=1)
sys.stdin.read()
os._exit(0)
"#,
    );
    let pid = py.pid();
    drop(py.child.stdin.take());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if in_exit(pid) {
            return Some(py);
        }
        if common::state(pid).is_none_or(|s| s == 'Z') {
            return None;
        }
        std::thread::yield_now();
    }
    None
}

#[test]
fn a_process_read_in_its_exit_is_said_to_be_exiting() {
    for _ in 0..10 {
        let Some(py) = exiting_with_a_gigabyte() else {
            continue;
        };
        let pid = py.pid();
        let (_, snapshot) = run_json(&["snapshot", &pid.to_string()]);
        if !in_exit(pid) {
            continue;
        }
        let process = &snapshot["processes"][0];
        assert_eq!(process["exiting"], true, "{snapshot:#}");
        assert_eq!(process.get("zombie"), None, "{snapshot:#}");
        return;
    }
    panic!("never caught the process in its exit");
}
