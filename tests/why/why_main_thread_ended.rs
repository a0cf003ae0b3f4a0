//! A process whose main thread has ended while another thread runs
//! (`pthread_exit` in `main`): /proc shows the main thread a zombie with no
//! fds and no memory, but the process lives and holds everything its other
//! thread holds. `status`, `why`, `snapshot` and `holds` say so.

use crate::common;

use common::why::why_json;
use common::{Py, run_json};

#[test]
fn a_process_whose_main_thread_ended_is_alive_with_its_files() {
    let scratch = common::Scratch::new("main-thread-ended");
    let file = scratch.path().join("held");
    let py = Py::start(&format!(
        r#"
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
f = open({file:?}, "w")
os.unlink({file:?})
import threading
threading.Thread(target=time.sleep, args=(60,)).start()
report(port=s.getsockname()[1])
libc.pthread_exit(None)
"#,
        file = file.display().to_string()
    ));
    let (port, pid) = (py.num("port"), py.pid());
    assert!(common::wait_until(std::time::Duration::from_secs(5), || {
        common::state(pid) == Some('Z')
    }));

    let (_, status) = run_json(&["status", &pid.to_string()]);
    let d = why_json(pid);
    let (_, snapshot) = run_json(&["snapshot", &pid.to_string()]);
    let snapshot_text = common::stdout(&common::run(&["snapshot", &pid.to_string()]));
    let (_, holds) = run_json(&["holds", &format!("tcp:{port}")]);
    let (_, deleted) = run_json(&["holds", "--deleted"]);
    drop(py);

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
    // Its main thread reads Z, but the process runs: no zombie.
    assert_eq!(snapshot["processes"][0].get("zombie"), None, "{snapshot:#}");
    assert!(!snapshot_text.contains("zombie"), "{snapshot_text}");
    assert!(
        snapshot["processes"][0]["rss_bytes"].as_u64().unwrap() > 0,
        "{snapshot:#}"
    );
    assert!(holds.to_string().contains(&format!("\"pid\":{pid}")), "{holds:#}");
    assert!(deleted.to_string().contains(&file.display().to_string()), "{deleted:#}");
}
