//! A tracer attached to one thread, not the main one (a debugger attached
//! with `PTRACE_SEIZE` to a worker thread): `/proc/PID/status` reads
//! `TracerPid: 0`, the thread's own status names the tracer. `why` said
//! "nothing holds it, no debugger is attached", and `status` no tracer.

use crate::common;

use common::Py;
use common::why::{finding, kinds, why_json};

/// A worker thread that reports its thread ID as `tid`, and a pipe
/// (`seized_r`, `seized_w`) for the tracer to say whether it attached.
const WORKER: &str = r#"
import threading
r, w = os.pipe()
def worker():
    os.write(w, b"%d\n" % threading.get_native_id())
    time.sleep(60)
threading.Thread(target=worker, daemon=True).start()
tid = int(os.read(r, 32))
seized_r, seized_w = os.pipe()
"#;

#[test]
fn a_tracer_of_one_thread_is_named() {
    let py = Py::start(&format!(
        "{WORKER}{}",
        r#"
def tracer():
    # PTRACE_SEIZE, then PTRACE_INTERRUPT: the thread stops in a tracing stop.
    ok = libc.ptrace(0x4206, tid, 0, 0) == 0 and libc.ptrace(0x4207, tid, 0, 0) == 0
    if ok:
        os.waitpid(tid, 0x40000000)  # __WALL: the stop is seen
    os.write(seized_w, b"1" if ok else b"0")
    hold_forever()
tracer_pid = fork(tracer)
report(tid=tid, tracer=tracer_pid, seized=int(os.read(seized_r, 1)))
finish()
"#
    ));
    if py.num("seized") == 0 {
        eprintln!("ptrace refused here (Yama ptrace_scope?): nothing to check");
        return;
    }
    let (pid, tid, tracer) = (py.pid(), py.num("tid"), py.num("tracer"));
    let d = why_json(pid);
    let (_, status) = common::run_json(&["status", &pid.to_string()]);
    drop(py);
    // `status` names it too: it said no tracer, reading the main thread's.
    let process = &status["processes"][0]["process"];
    assert_eq!(process["tracer_pid"], tracer, "{status:#}");
    assert!(kinds(&d).contains(&"traced".to_string()), "{d:#}");
    assert!(!kinds(&d).contains(&"running".to_string()), "{d:#}");
    let traced = finding(&d, "traced");
    assert_eq!(
        traced["title"],
        format!("thread {tid} traced by {tracer} (python3)"),
        "{d:#}"
    );
    assert_eq!(
        traced["evidence"][0]["source"],
        format!("/proc/{pid}/task/{tid}/status TracerPid"),
        "{d:#}"
    );
    assert_eq!(traced["evidence"][0]["value"], tracer.to_string(), "{d:#}");
}

/// The process exits while a tracer attached to its worker thread alone
/// asked to see that thread's exit (`PTRACE_O_TRACEEXIT`): the main thread
/// is a zombie, and the worker is held in a tracing stop on its way out
/// (`PF_SIGNALED`, not yet `PF_EXITING`). It is no process running on
/// without its main thread, and SIGKILL does nothing more.
#[test]
fn a_thread_held_at_its_exit_by_its_tracer_holds_the_process() {
    let mut py = Py::start(&format!(
        "{WORKER}{}",
        r#"
def tracer():
    # PTRACE_SEIZE with PTRACE_O_TRACEEXIT: the thread stops at its exit.
    ok = libc.ptrace(0x4206, tid, 0, 0x40) == 0
    os.write(seized_w, b"1" if ok else b"0")
    hold_forever()
# Not ended with its parent's thread: it must outlive the exit it watches.
tracer_pid = fork(tracer, die_with_parent=False)
report(tid=tid, tracer=tracer_pid, seized=int(os.read(seized_r, 1)))
sys.stdin.readline()
os._exit(0)
"#
    ));
    if py.num("seized") == 0 {
        eprintln!("ptrace refused here (Yama ptrace_scope?): nothing to check");
        return;
    }
    let (pid, tid, tracer) = (py.pid(), py.num("tid"), py.num("tracer") as i32);
    use std::io::Write;
    py.child.stdin.as_mut().unwrap().write_all(b"exit\n").unwrap();
    let held = common::wait_until(std::time::Duration::from_secs(5), || {
        common::state(pid) == Some('Z')
            && std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).is_ok_and(|s| s.contains(") t "))
    });
    if !held {
        common::kill_pids(&[tracer]);
        panic!("the thread was never held at its exit");
    }
    let (_, status) = common::run_json(&["status", &pid.to_string()]);
    let d = why_json(pid);
    // Ending the tracer lets the thread go.
    common::kill_pids(&[tracer]);
    drop(py);
    let status = &status["processes"][0];
    assert_eq!(status["process"]["main_thread_exited"], false, "{status:#}");
    assert_eq!(status["process"]["exiting"], true, "{status:#}");
    assert_eq!(d["sigkill"], "delayed", "{d:#}");
    let traced = finding(&d, "traced");
    assert!(
        traced["title"].as_str().unwrap().ends_with("stopped at its exit"),
        "{d:#}"
    );
    assert!(!kinds(&d).contains(&"running".to_string()), "{d:#}");
}
