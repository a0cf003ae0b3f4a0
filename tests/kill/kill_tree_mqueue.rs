//! `kill --tree` lists a POSIX message queue the tree made and still has
//! open, and `--remove-ipc` removes it — also where no mqueue filesystem
//! is mounted, where afterlife (as root) lists queues through a mount of
//! its own.

use crate::common;

use common::MqCleanup;
use common::kill::{Tree, kill_json, kill_text};

/// A tree whose python3 makes queue `name` (`/NAME`), keeps it open and
/// prints its PID.
fn tree_with_queue(label: &str, name: &str) -> Tree {
    let script = format!(
        "exec python3 -c 'import ctypes, os, time\n\
         libc = ctypes.CDLL(\"librt.so.1\", use_errno=True)\n\
         assert libc.mq_open(b\"{name}\", os.O_CREAT | os.O_RDWR, 0o600, None) >= 0\n\
         print(os.getpid()); print(\"ready\", flush=True)\n\
         time.sleep(60)'\n"
    );
    Tree::start(label, &script)
}

fn queue_exists(name: &str) -> bool {
    let name = std::ffi::CString::new(name).unwrap();
    // SAFETY: a NUL-terminated name; no O_CREAT.
    let fd = unsafe { libc::mq_open(name.as_ptr(), libc::O_RDONLY) };
    if fd >= 0 {
        // SAFETY: the queue descriptor just opened.
        unsafe { libc::mq_close(fd) };
    }
    fd >= 0
}

#[test]
fn a_queue_the_tree_holds_is_listed_and_removed_on_request() {
    if !common::is_root() {
        println!("skipped: listing queues where no mqueue filesystem is mounted needs root");
        return;
    }
    let name = format!("/afterlife-kill-mq-{}-{}", std::process::id(), common::unique());
    let _cleanup = MqCleanup(name.clone());
    let tree = tree_with_queue("kill-mq", &name);
    let (code, text, stderr) = kill_text(&["--tree", &tree.root().to_string()]);
    assert_eq!(code, 0, "{text}\n{stderr}");
    assert!(text.contains("IPC left by the tree: 1"), "{text}");
    assert!(text.contains(&format!("POSIX message queue {name},")), "{text}");
    assert!(queue_exists(&name), "listed, not removed");
    drop(tree);

    let removed = format!("{name}-r");
    let _cleanup_removed = MqCleanup(removed.clone());
    let tree = tree_with_queue("kill-mq-remove", &removed);
    let (code, report, stderr) = kill_json(&["--tree", "--remove-ipc", &tree.root().to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let ipc = report["ipc"].as_array().unwrap_or_else(|| panic!("no ipc: {report:#}"));
    let queue = ipc
        .iter()
        .find(|o| o["object"]["name"] == removed.as_str())
        .unwrap_or_else(|| panic!("{removed} not listed: {report:#}"));
    assert_eq!(queue["object"]["kind"], "posix_mqueue", "{queue:#}");
    assert_eq!(queue["attribution"], "held_by_tree", "{queue:#}");
    assert_eq!(queue["by"], tree.pids[0], "{queue:#}");
    assert_eq!(queue["fate"], "removed", "{queue:#}");
    assert!(!queue_exists(&removed), "reported removed, still there");
}
