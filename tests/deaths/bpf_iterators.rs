//! The BPF iterators, checked against /proc.
//!
//! - `task_file`, which `holds` uses for sockets: the records of this
//!   process's own sockets, the holders it finds for a real listener
//!   compared with the /proc walk's.
//! - `task`, which `kill` uses to scan the process table: its rows compared
//!   with `/proc/PID/stat` for a tree with a `setsid` child and for zombies
//!   (their exit statuses), and a kill through it compared with one through
//!   /proc.
//!
//! For each, a cached set of BTF offsets that is wrong is noticed and
//! rebuilt. One test per iterator, so that nothing else touches its cache
//! meanwhile: they are in the `deaths` binary because no test here runs
//! `kill` or `holds`, which read those caches.
//!
//! Each runs alone in a test process of its own ([`common::run_alone`]):
//! the listener and the scans are this process's, and another test's fork
//! (a copy of this process until it execs) would hold the listener too, or
//! show up as a row that changes between two scans.

use crate::common;

use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use afterlife::bpf::{task_file, tasks};
use afterlife::process::{Pid, Process, ProcessTable, TableEntry};
use afterlife::signal::Signal;

use common::afterlife;

/// The tests start processes that would show up in each other's scans:
/// one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The cache file of one iterator, if there is one.
fn cache_file(prefix: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir("/run/afterlife").ok()?.find_map(|e| {
        let path = e.ok()?.path();
        path.file_name()?.to_str()?.starts_with(prefix).then_some(path)
    })
}

/// Swaps two numbers of an iterator's cache file; its path and the good
/// text, or `None` (said why) where there is no cache.
fn corrupt_cache(prefix: &str, a: usize, b: usize) -> Option<(std::path::PathBuf, String)> {
    let Some(cached) = cache_file(prefix) else {
        println!("skipped the cache check: /run/afterlife holds no cache here");
        return None;
    };
    let good = std::fs::read_to_string(&cached).unwrap();
    let mut numbers: Vec<i64> = good.split_whitespace().map(|w| w.parse().unwrap()).collect();
    numbers.swap(a, b);
    let bad: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    std::fs::write(&cached, bad.join(" ") + "\n").unwrap();
    Some((cached, good))
}

fn holds_json(port: u16, proc_walk: bool) -> serde_json::Value {
    let mut command = afterlife();
    command.args(["--json", "holds", &format!("tcp:{port}")]);
    if proc_walk {
        command.env("AFTERLIFE_PROC_WALK", "1");
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    crate::common::schema::parse("holds", &String::from_utf8_lossy(&output.stdout))
}

#[test]
fn the_task_file_iterator_agrees_with_proc() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    common::run_alone(&common::test_name(module_path!(), "task_file_alone"));
}

#[test]
#[ignore = "runs alone in a process of its own, through the_task_file_iterator_agrees_with_proc"]
fn task_file_alone() {
    if !common::alone(&common::test_name(module_path!(), "task_file_alone")) {
        return;
    }
    if task_file::open_files(|_| true).is_none() {
        println!("skipped: the BPF task_file iterator cannot run here (needs root, BTF, the initial PID namespace)");
        return;
    }
    // Our own listener: its record has our PID, its fd, its inode.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = listener.as_raw_fd();
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap());
    let files = task_file::open_files(|_| true).unwrap();
    let me = std::process::id() as i32;
    let found = files.iter().find(|f| f.pid == me && f.fd == fd).expect("our listener");
    assert_eq!(found.inode, inode);
    assert!(found.is_socket());

    // A child that inherited the listener: both paths name the same holders,
    // with the same fds and explanations.
    let port = listener.local_addr().unwrap().port();
    let mut holder = {
        use std::os::unix::process::CommandExt;
        let raw = listener.as_raw_fd();
        let mut command = Command::new("sleep");
        command.arg("30").stdin(Stdio::null()).stdout(Stdio::null());
        // SAFETY: dup2 and fcntl are async-signal-safe; the listener's fd is
        // valid in the child.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(raw, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command.spawn().unwrap()
    };
    // The exec may still be closing the child's close-on-exec fds (the
    // listener's fd 3) when spawn returns: both paths then saw another
    // child. Compared once it has.
    let inherited = format!("/proc/{}/fd/3", holder.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::symlink_metadata(&inherited).is_ok() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let with_bpf = holds_json(port, false);
    let with_proc = holds_json(port, true);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(with_bpf, with_proc);
    let text = with_bpf.to_string();
    assert!(text.contains(&holder.id().to_string()), "{text}");

    // A cache that lies is noticed, removed and rebuilt from BTF. Swap
    // i_ino and i_mode: a program that loads, reading the wrong fields.
    let Some((cached, good)) = corrupt_cache("task-file-", 5, 6) else {
        return;
    };
    let files = task_file::open_files(|_| true).expect("rebuilt from BTF");
    assert!(files.iter().any(|f| f.pid == me && f.fd == fd && f.inode == inode));
    assert_eq!(std::fs::read_to_string(&cached).unwrap(), good);
}

#[test]
fn the_task_iterator_agrees_with_proc() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    common::run_alone(&common::test_name(module_path!(), "task_alone"));
}

#[test]
#[ignore = "runs alone in a process of its own, through the_task_iterator_agrees_with_proc"]
fn task_alone() {
    if !common::alone(&common::test_name(module_path!(), "task_alone")) {
        return;
    }
    let Some((iterator, first)) = tasks::Tasks::load() else {
        println!("skipped: the BPF task iterator cannot run here (needs root, BTF, the initial PID namespace)");
        return;
    };
    // A shell in a session of its own, with 800 children and a grandchild:
    // more rows than the kernel hands out in one read of the iterator.
    let mut tree = Command::new("setsid")
        .args([
            "sh",
            "-c",
            "for i in $(seq 800); do sleep 30 & done; sh -c 'sleep 30; true' & wait",
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let root = tree.id() as i32;
    let rows_now = || {
        let rows = iterator.read().unwrap();
        rows.into_iter()
            .map(|t| (t.entry.pid.get(), t))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let mut grown = false;
    for _ in 0..1000 {
        let scan = ProcessTable::scan();
        if scan.descendants(Pid::new(root).unwrap()).len() == 802 {
            grown = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(grown, "the tree did not start");
    let before = ProcessTable::scan();
    let rows = rows_now();
    let after = ProcessTable::scan();
    // Every process of the tree ends, each by its own pidfd.
    for pid in before.descendants(Pid::new(root).unwrap()) {
        if let Ok(process) = Process::open_expecting(pid, before.get(pid).unwrap().start_ticks) {
            let _ = process.signal(Signal::KILL);
        }
    }
    let _ = tree.kill();
    let _ = tree.wait();
    let me = std::process::id() as i32;
    assert!(first.iter().any(|t| t.entry.pid.get() == me));
    assert_eq!(rows[&me].zombie_wait_status, None);
    zombies_have_their_status(&iterator);
    // Every process seen by both /proc scans, unchanged between them, has
    // the same row in the iterator's pass between them. Whether it is in
    // disk sleep is compared for the tree's own sleeping processes only:
    // any other (a kernel worker, a server writing) can pass through D
    // between two scans that both find it sleeping.
    let ours = before.descendants(Pid::new(root).unwrap());
    let mut compared = 0;
    for entry in before.entries() {
        if after.get(entry.pid) != Some(entry) {
            continue;
        }
        let row = rows
            .get(&entry.pid.get())
            .unwrap_or_else(|| panic!("no row for {entry:?}"));
        // /proc gives a kernel thread's full name; the task its first 15 bytes.
        assert!(entry.name.starts_with(&row.entry.name), "{row:?} {entry:?}");
        if !entry.kernel_thread {
            assert_eq!(row.entry.name, entry.name);
        }
        let disk_sleep = if ours.contains(&entry.pid) {
            row.entry.disk_sleep
        } else {
            entry.disk_sleep
        };
        assert_eq!(
            TableEntry {
                name: entry.name.clone(),
                disk_sleep,
                ..row.entry.clone()
            },
            *entry
        );
        compared += 1;
    }
    assert!(compared > 10, "{compared}");
    for pid in before.descendants(Pid::new(root).unwrap()) {
        assert_eq!(rows[&pid.get()].entry.sid, root, "{:?}", rows[&pid.get()]);
    }
    // Kernel threads are rows too, and marked.
    assert!(
        rows.values()
            .any(|t| t.entry.kernel_thread && t.entry.name.starts_with("kthreadd"))
    );

    // A cache that lies is noticed, removed and rebuilt from BTF. Swap the
    // parent and the signal struct: a program that loads, reading the wrong
    // fields.
    let Some((cached, good)) = corrupt_cache("tasks-", 3, 4) else {
        return;
    };
    let (_, rows) = tasks::Tasks::load().expect("rebuilt from BTF");
    assert!(
        rows.iter()
            .any(|t| t.entry.pid.get() == me && t.entry.ppid == std::os::unix::process::parent_id() as i32)
    );
    assert_eq!(std::fs::read_to_string(&cached).unwrap(), good);
}

/// A zombie's row carries its raw wait status as `/proc/PID/stat`'s field
/// 52 shows it to root: an exit code, and a death by signal.
fn zombies_have_their_status(iterator: &tasks::Tasks) {
    let mut exited = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    let mut killed = Command::new("sleep").arg("30").spawn().unwrap();
    killed.kill().unwrap();
    let pids = [(exited.id() as i32, 7 << 8), (killed.id() as i32, 9)];
    let zombie = |pid: i32| afterlife::proc::stat::read_raw(pid).is_ok_and(|s| s.state == 'Z');
    for _ in 0..500 {
        if pids.iter().all(|&(pid, _)| zombie(pid)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let rows = iterator.read().unwrap();
    for (pid, raw) in pids {
        let stat = afterlife::proc::stat::read_raw(pid).unwrap();
        assert_eq!((stat.state, stat.exit_code), ('Z', Some(raw)));
        let row = rows
            .iter()
            .find(|t| t.entry.pid.get() == pid)
            .expect("a row for the zombie");
        assert_eq!(row.zombie_wait_status, Some(raw), "{row:?}");
    }
    exited.wait().unwrap();
    killed.wait().unwrap();
}
