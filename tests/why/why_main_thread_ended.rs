//! A process whose main thread has ended while another thread runs
//! (`pthread_exit` in `main`): /proc shows the main thread a zombie with no
//! fds and no memory, but the process lives and holds everything its other
//! thread holds. `status`, `why`, `snapshot` and `holds` say so.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common;

use common::afterlife;
use common::why::why_json;

const MAIN_ENDS: &str = r#"
import ctypes, os, socket, sys, threading, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
f = open(sys.argv[1], "w")
os.unlink(sys.argv[1])
threading.Thread(target=time.sleep, args=(60,)).start()
print(s.getsockname()[1], flush=True)
ctypes.CDLL(None).pthread_exit(None)
"#;

fn json(args: &[&str]) -> serde_json::Value {
    let output = afterlife().arg("--json").args(args).output().unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {output:?}"))
}

#[test]
fn a_process_whose_main_thread_ended_is_alive_with_its_files() {
    let scratch = common::Scratch::new("main-thread-ended");
    let file = scratch.path().join("held");
    let mut child = Command::new("python3")
        .args(["-c", MAIN_ENDS])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().to_string();
    let pid = child.id() as i32;
    assert!(common::wait_until(std::time::Duration::from_secs(5), || common::state(
        pid
    ) == Some('Z')));

    let status = json(&["status", &pid.to_string()]);
    let d = why_json(pid);
    let snapshot = json(&["snapshot", &pid.to_string()]);
    let holds = json(&["holds", &format!("tcp:{port}")]);
    let deleted = json(&["holds", "--deleted"]);
    let _ = child.kill();
    let _ = child.wait();

    let status = &status["processes"][0];
    assert_eq!(status["status"], "running", "{status:#}");
    assert_eq!(status["process"]["main_thread_exited"], true, "{status:#}");
    assert!(
        !d["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "exiting"),
        "{d:#}"
    );
    assert_eq!(d["sigkill"], "ends_it", "{d:#}");
    let fds = snapshot["processes"][0]["fds"].as_array().unwrap();
    assert!(fds.len() >= 5, "the other thread's table: {snapshot:#}");
    assert!(
        snapshot["processes"][0]["rss_bytes"].as_u64().unwrap() > 0,
        "{snapshot:#}"
    );
    assert!(holds.to_string().contains(&format!("\"pid\":{pid}")), "{holds:#}");
    assert!(deleted.to_string().contains(&file.display().to_string()), "{deleted:#}");
}
