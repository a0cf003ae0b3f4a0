//! `afterlife leftovers SNAPSHOT.json`: a tree is snapshotted while it
//! lives, its root is killed, and what stayed is listed: the child that
//! survived, the port it still holds, the SysV segment and the file the tree
//! created, and the flock that the surviving child's inherited fd keeps.

use crate::common;

use std::time::Duration;

use common::{IpcCleanup, MqCleanup, Orphan, Py, Scratch, run, run_json, stdout, wait_until};
use serde_json::Value;

fn find(list: &Value, pred: impl Fn(&Value) -> bool) -> Option<&Value> {
    list.as_array().unwrap().iter().find(|v| pred(v))
}

#[test]
fn what_stayed_after_the_root_died() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers");
    let out_dir = scratch.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let created = out_dir.join("left.txt");
    let lock_path = scratch.path().join("flock");
    let mut ipc = IpcCleanup::default();
    let mq_name = format!("/afterlife-test-leftovers-{}", std::process::id());
    let _mq = MqCleanup(mq_name.clone());
    let mut py = Py::start(&format!(
        r#"
import fcntl
libc.mq_open.restype = ctypes.c_int
mq = libc.mq_open({mq_name:?}.encode(), os.O_CREAT | os.O_RDWR, 0o600, None)
assert mq >= 0
libc.shmget.restype = ctypes.c_int
shmid = libc.shmget(0, 8192, 0o1600)
assert shmid >= 0
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
os.set_inheritable(l.fileno(), True)
lf = open({lock:?}, "w")
fcntl.flock(lf.fileno(), fcntl.LOCK_EX)
open({created:?}, "w").write("x")
child = fork(hold_forever, die_with_parent=False)
report(port=l.getsockname()[1], child=child, shmid=shmid)
finish()
"#,
        lock = lock_path.to_str().unwrap(),
        created = created.to_str().unwrap()
    ));
    ipc.0.push(py.num("shmid"));
    let child = py.num("child");
    let _orphan = Orphan(child as i32);
    let root = py.pid() as i64;
    let port = py.num("port");

    let snapshot = run(&["--json", "snapshot", "--tree", &root.to_string()]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();

    // The root dies; the child (no PR_SET_PDEATHSIG) lives on.
    py.child.kill().unwrap();
    py.child.wait().unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|s| !s.contains(&format!(" {root} ")))
    }));

    let (code, report) = run_json(&["leftovers", file.to_str().unwrap(), "--dir", out_dir.to_str().unwrap()]);
    assert_eq!(code, Some(1), "something stayed: {report}");
    assert_eq!(report["clean"], false);
    assert!(find(&report["gone"]["processes"], |p| p["pid"].as_i64() == Some(root)).is_some());
    assert!(report["gone"]["memory_bytes"].as_i64().unwrap() > 0);
    assert!(report["gone"]["fds"].as_i64().unwrap() > 0);
    let survivor = find(&report["stayed"]["processes"], |p| p["pid"].as_i64() == Some(child)).expect("child stayed");
    assert_eq!(survivor["in_snapshot"], true);
    assert_eq!(survivor["ppid_then"].as_i64(), Some(root));
    assert_ne!(survivor["ppid_now"].as_i64(), Some(root));
    let socket = find(&report["stayed"]["sockets"], |s| {
        s["socket"]["local"] == format!("127.0.0.1:{port}")
    })
    .expect("the port is still bound");
    assert_eq!(socket["holders"][0]["pid"].as_i64(), Some(child));
    let shm = find(&report["stayed"]["ipc"], |o| {
        o["object"]["id"].as_i64() == Some(py.num("shmid"))
    })
    .expect("shm stayed");
    assert_eq!(shm["object"]["creator_pid"].as_i64(), Some(root));
    assert!(find(&report["stayed"]["files"], |f| f["path"] == created.to_str().unwrap()).is_some());
    let mq = find(&report["stayed"]["ipc"], |o| o["object"]["name"] == mq_name.as_str()).expect("mqueue stayed");
    assert_eq!(mq["object"]["kind"], "posix_mqueue");
    let lock = find(&report["stayed"]["locks"], |l| l["path"] == lock_path.to_str().unwrap()).expect("flock stayed");
    assert_eq!(lock["lock"]["kind"], "flock");
    assert_eq!(lock["recorded_pid_alive"], false);
    assert!(find(&lock["holders"], |h| h["pid"].as_i64() == Some(child)).is_some());

    let text = stdout(&run(&["leftovers", file.to_str().unwrap()]));
    assert!(
        text.contains(&format!("process {child} python3: survived; reparented from {root}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "tcp LISTEN 127.0.0.1:{port}: still open, held by {child} python3"
        )),
        "{text}"
    );
    assert!(text.contains("which is gone: an inherited fd keeps it"), "{text}");
}

/// Removes SysV message queues and semaphore sets on drop.
struct SysvCleanup(Vec<(&'static str, i64)>);

impl Drop for SysvCleanup {
    fn drop(&mut self) {
        for (flag, id) in &self.0 {
            let _ = std::process::Command::new("ipcrm")
                .arg(flag)
                .arg(id.to_string())
                .output();
        }
    }
}

#[test]
fn what_was_there_before_the_tree_is_not_its_own() {
    let _ipc = common::ipc_serial();
    // A file made 300 ms before the tree started is not the tree's: start
    // times are exact to the clock tick, not cut to /proc/stat's whole
    // second. A message queue nobody used yet and a semaphore set are the
    // tree's by time and user; the set is sized in semaphores.
    let scratch = Scratch::new("leftovers-before");
    let out_dir = scratch.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let before = out_dir.join("made-before");
    std::fs::write(&before, "x").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut py = Py::start(
        r#"
libc.msgget.restype = ctypes.c_int
libc.semget.restype = ctypes.c_int
msqid = libc.msgget(0, 0o1600)
semid = libc.semget(0, 3, 0o1600)
assert msqid >= 0 and semid >= 0
report(msqid=msqid, semid=semid)
finish()
"#,
    );
    let _sysv = SysvCleanup(vec![("-q", py.num("msqid")), ("-s", py.num("semid"))]);
    let root = py.pid().to_string();
    let snapshot = run(&["--json", "snapshot", "--tree", &root]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    py.child.kill().unwrap();
    py.child.wait().unwrap();

    let (code, report) = run_json(&["leftovers", file.to_str().unwrap(), "--dir", out_dir.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        find(&report["stayed"]["files"], |f| f["path"] == before.to_str().unwrap()).is_none(),
        "{report}"
    );
    for (kind, id) in [("sysv_msg", py.num("msqid")), ("sysv_sem", py.num("semid"))] {
        let left = find(&report["stayed"]["ipc"], |o| {
            o["object"]["kind"] == kind && o["object"]["id"].as_i64() == Some(id)
        });
        assert!(left.is_some(), "{kind} {id}: {report}");
    }
    let text = stdout(&run(&["leftovers", file.to_str().unwrap()]));
    assert!(
        text.contains("(3 semaphores): created since the tree started"),
        "{text}"
    );
}

/// A semaphore set names no creator, but each semaphore names the last
/// process that changed it: a set the tree changed is in its snapshot, and
/// left by a process the kernel names — not "no PID recorded".
#[test]
fn a_semaphore_set_the_tree_changed_is_named_by_its_last_user() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-sem");
    let mut py = Py::start(
        r#"
libc.semget.restype = ctypes.c_int
semid = libc.semget(0, 2, 0o1600)
assert semid >= 0
op = ctypes.create_string_buffer(struct.pack("Hhh", 1, 1, 0))
assert libc.semop(semid, op, 1) == 0
report(semid=semid)
finish()
"#,
    );
    let semid = py.num("semid");
    let _sysv = SysvCleanup(vec![("-s", semid)]);
    let pid = py.pid() as i64;
    let (code, snap) = run_json(&["snapshot", "--tree", &pid.to_string()]);
    assert_eq!(code, Some(0));
    let recorded = find(&snap["ipc"], |o| {
        o["kind"] == "sysv_sem" && o["id"].as_i64() == Some(semid)
    })
    .unwrap_or_else(|| panic!("the set it changed: {snap:#}"));
    assert_eq!(recorded["last_pids"], serde_json::json!([pid]), "{recorded}");
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, serde_json::to_vec(&snap).unwrap()).unwrap();
    py.child.kill().unwrap();
    py.child.wait().unwrap();

    // The snapshot names it; and with a snapshot that does not (taken
    // before the set was made, as by run), the kernel does.
    let (_, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    let left = find(&report["stayed"]["ipc"], |o| o["object"]["id"].as_i64() == Some(semid))
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(left["attribution"], "snapshot", "{left}");
    let mut without = snap.clone();
    without["ipc"] = serde_json::json!([]);
    std::fs::write(&file, serde_json::to_vec(&without).unwrap()).unwrap();
    let (_, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    let left = find(&report["stayed"]["ipc"], |o| o["object"]["id"].as_i64() == Some(semid))
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(left["attribution"], "pid", "{left}");
    assert_eq!(left["object"]["last_pids"], serde_json::json!([pid]), "{left}");
    let text = stdout(&run(&["leftovers", file.to_str().unwrap()]));
    assert!(
        text.contains(&format!(
            "ipc SysV semaphore set id {semid} (key 0x0) (2 semaphores): the kernel records a process of the tree as its creator or last user"
        )),
        "{text}"
    );
}

/// A server killed while a client keeps its connection open: the
/// connection's socket went with the server, but the kernel is still
/// closing it (FIN-WAIT-2) and keeps the port bound — a restarted server
/// that binds it without SO_REUSEADDR fails, and `leftovers` says so.
#[test]
fn a_connection_the_kernel_is_still_closing_is_said_to_keep_its_port() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-closing");
    let mut py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
report(port=l.getsockname()[1])
a, _ = l.accept()
finish()
"#,
    );
    let port = py.num("port");
    let client = std::net::TcpStream::connect(("127.0.0.1", port as u16)).unwrap();
    let pid = py.pid().to_string();
    let mut snap = Value::Null;
    assert!(wait_until(Duration::from_secs(5), || {
        snap = run_json(&["snapshot", &pid]).1;
        find(&snap["sockets"], |s| s["state"] == "established").is_some()
    }));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, serde_json::to_vec(&snap).unwrap()).unwrap();
    common::send_signal(py.pid(), libc::SIGKILL);
    let _ = py.child.wait();

    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    let closing = report["gone"]["closing"].as_array().cloned().unwrap_or_default();
    assert_eq!(closing.len(), 1, "{report:#}");
    let local = format!("127.0.0.1:{port}");
    assert_eq!(closing[0]["socket"]["local"], local.as_str(), "{report:#}");
    assert_eq!(closing[0]["socket"]["remote"], client.local_addr().unwrap().to_string());
    assert_eq!(closing[0]["bind"]["fails_without_reuseaddr"], true);
    // The kernel agrees: the port is still bound.
    let plain = std::process::Command::new("python3")
        .args([
            "-c",
            "import socket, sys; socket.socket().bind(('127.0.0.1', int(sys.argv[1])))",
        ])
        .arg(port.to_string())
        .output()
        .unwrap();
    assert!(!plain.status.success(), "a bind without SO_REUSEADDR fails");
    // Nothing of the tree's holds it: the tree left nothing a process has.
    assert_eq!(report["clean"], true, "{report:#}");
    assert_eq!(code, Some(0));
    let text = stdout(&run(&["leftovers", file.to_str().unwrap()]));
    assert!(
        text.contains(&format!("  connection tcp FIN-WAIT-2 {local} -> ")),
        "{text}"
    );
    assert!(
        text.contains(&format!("    a new bind of {local} (or of a wildcard address that covers it) without SO_REUSEADDR fails with EADDRINUSE")),
        "{text}"
    );
    drop(client);
}

#[test]
fn a_tree_that_left_nothing_is_clean() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-clean");
    let mut py = Py::start("r, w = os.pipe()\nreport(ok=1)\nfinish()\n");
    let snapshot = run(&["--json", "snapshot", "--tree", &py.pid().to_string()]);
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    py.finish();
    py.child.wait().unwrap();
    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["clean"], true);
    // stdin, stdout and the pair it made, at least.
    assert!(report["gone"]["fds_by_kind"]["pipe"].as_i64().unwrap() >= 4);
    let text = stdout(&run(&["leftovers", file.to_str().unwrap()]));
    assert!(text.contains("stayed: nothing"), "{text}");
}

#[test]
fn a_file_that_is_no_snapshot_is_an_error() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-bad");
    let file = scratch.path().join("bad.json");
    std::fs::write(&file, "{\"root\": -4}").unwrap();
    let output = run(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(125));
    assert!(common::stderr(&output).contains("is not an afterlife snapshot"));
    let output = run(&["leftovers", "/no/such/snapshot.json"]);
    assert_eq!(output.status.code(), Some(125));
}

#[test]
fn a_snapshot_from_another_boot_is_refused() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-boot");
    let output = run(&["--json", "snapshot", &std::process::id().to_string()]);
    assert_eq!(output.status.code(), Some(0));
    let mut snapshot: Value = serde_json::from_slice(&output.stdout).unwrap();
    snapshot["boot_id"] = Value::from("x");
    let file = scratch.path().join("other-boot.json");
    std::fs::write(&file, snapshot.to_string()).unwrap();
    // Nothing compares: an error, not "stayed: nothing".
    let output = run(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    let error = common::stderr(&output);
    assert!(error.contains("was taken in another boot (boot_id x, now "), "{error}");
    assert_eq!(error.trim_end().lines().count(), 1, "{error}");
    let output = run(&["--json", "leftovers", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stdout(&output).is_empty());
}

/// A unix listener's socket file stays on disk when its process is killed:
/// a server that binds the path again fails until it is removed.
#[test]
fn a_killed_listener_leaves_its_socket_file() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-sock");
    let path = scratch.path().join("server.sock");
    let mut py = Py::start(&format!(
        r#"
u = socket.socket(socket.AF_UNIX); u.bind({path:?}); u.listen()
report(ready=1)
finish()
"#,
        path = path.to_str().unwrap()
    ));
    let root = py.pid().to_string();
    let snapshot = run(&["--json", "snapshot", "--tree", &root]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    common::send_signal(py.pid(), libc::SIGKILL);
    let _ = py.child.wait();
    assert!(path.exists(), "the socket file stays");

    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{report:#}");
    let files = report["stayed"]["socket_files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report:#}");
    assert_eq!(files[0]["path"], path.to_str().unwrap());
    let text = stdout(&run(&["leftovers", file.to_str().unwrap()]));
    assert!(text.contains("unix socket file"), "{text}");

    // Once it is removed, nothing stayed.
    std::fs::remove_file(&path).unwrap();
    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report:#}");
}

/// A chrooted listener binds a name relative to its root: the snapshot
/// records the root, and `leftovers` names the socket file it left under
/// it — not the same name under afterlife's root, which is another file or
/// none.
#[test]
fn a_chrooted_listener_leaves_its_socket_file_under_its_root() {
    if !common::is_root() {
        println!("skipped: chroot needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-sock-chroot");
    let jail = scratch.path().join("jail");
    std::fs::create_dir(&jail).unwrap();
    // The modules the fixture uses are loaded before it enters its root.
    let mut py = Py::start(&format!(
        r#"
os.chroot({jail:?}); os.chdir("/")
u = socket.socket(socket.AF_UNIX); u.bind("/server.sock"); u.listen()
report(ready=1)
finish()
"#,
        jail = jail.to_str().unwrap()
    ));
    let pid = py.pid().to_string();
    let (code, snap) = run_json(&["snapshot", &pid]);
    assert_eq!(code, Some(0));
    assert_eq!(snap["processes"][0]["root_dir"], jail.to_str().unwrap(), "{snap:#}");
    let text = stdout(&run(&["snapshot", &pid]));
    let host_path = jail.join("server.sock");
    assert!(text.contains(&format!("  root {}", jail.display())), "{text}");
    assert!(
        text.contains(&format!(
            "LISTEN /server.sock (inode {}) [bound in its root: {}]",
            snap["sockets"][0]["inode"],
            host_path.display()
        )),
        "{text}"
    );
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, serde_json::to_vec(&snap).unwrap()).unwrap();
    common::send_signal(py.pid(), libc::SIGKILL);
    let _ = py.child.wait();
    assert!(host_path.exists(), "the socket file stays");

    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{report:#}");
    let files = report["stayed"]["socket_files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report:#}");
    assert_eq!(files[0]["path"], host_path.to_str().unwrap());
    std::fs::remove_file(&host_path).unwrap();
    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report:#}");
}

/// A listener bound on a tmpfs of its own mount namespace leaves its
/// socket file there, gone with that namespace: a socket file at the same
/// path here (there before, another file) is not the tree's, and nothing
/// is said to have stayed, let alone to be removed.
#[test]
fn a_socket_file_at_the_same_path_in_another_mount_namespace_is_not_left_by_the_tree() {
    if !common::is_root() {
        println!("skipped: unshare --mount needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-sock-mntns");
    let dir = scratch.path().join("over");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("server.sock");
    // Here: a stale socket file, its binder gone.
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
        ])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let mount = format!(
        "mount -t tmpfs none {dir:?} && exec \"$@\"",
        dir = dir.to_str().unwrap()
    );
    let mut py = Py::start_with_mounts(
        &mount,
        &format!(
            r#"
u = socket.socket(socket.AF_UNIX); u.bind({path:?}); u.listen()
report(ready=1)
finish()
"#,
            path = path.to_str().unwrap()
        ),
    );
    let snapshot = run(&["--json", "snapshot", &py.pid().to_string()]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    common::send_signal(py.pid(), libc::SIGKILL);
    let _ = py.child.wait();
    assert!(path.exists(), "the file here stays");
    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(
        report["stayed"]["socket_files"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
}

/// A snapshot taken in a time namespace whose boot time is shifted (its
/// /proc shifts every start time) compares with the processes here: the
/// process that still runs stayed, and did not go with the tree.
#[test]
fn a_snapshot_from_another_time_namespace_sees_its_survivors() {
    if !common::is_root() {
        println!("skipped: unshare --time needs root");
        return;
    }
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("leftovers-timens");
    let sleeper = common::sleeper("60");
    let pid = sleeper.0.id().to_string();
    let snapshot = std::process::Command::new("unshare")
        .args(["--time", "--boottime", "100000"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--json", "snapshot", &pid])
        .output()
        .unwrap();
    if !snapshot.status.success() && common::stderr(&snapshot).contains("unshare failed") {
        println!("skipped: no time namespaces here");
        return;
    }
    assert_eq!(snapshot.status.code(), Some(0), "{}", common::stderr(&snapshot));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{report:#}");
    let stayed = report["stayed"]["processes"].as_array().unwrap();
    let pid_number: i64 = pid.parse().unwrap();
    assert!(
        stayed.iter().any(|p| p["pid"].as_i64() == Some(pid_number)),
        "{report:#}"
    );
    // And read from inside another one, the same.
    let output = std::process::Command::new("unshare")
        .args(["--time", "--boottime", "5000"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["leftovers", "-q", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", common::stderr(&output));
}

/// A lock the tree held on a file, let go when the tree died, and taken on
/// the same file by another process since (a restarted daemon's on its
/// lock file), is that process's: not a lock the tree left.
#[test]
fn a_lock_taken_since_on_the_trees_lock_file_is_not_the_trees() {
    let scratch = Scratch::new("leftovers-relocked");
    let lock_path = scratch.path().join("daemon.lock");
    let take_lock = format!(
        "import fcntl\nlf = open({lock:?}, \"w\")\nfcntl.flock(lf.fileno(), fcntl.LOCK_EX)\nreport()\nfinish()\n",
        lock = lock_path.to_str().unwrap()
    );
    let mut tree = Py::start(&take_lock);
    let root = tree.pid();
    let snapshot = run(&["--json", "snapshot", "--tree", &root.to_string()]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    let snap: Value = serde_json::from_slice(&snapshot.stdout).unwrap();
    assert_eq!(snap["locks"].as_array().map(Vec::len), Some(1), "{snap}");
    tree.child.kill().unwrap();
    tree.child.wait().unwrap();

    // The next instance takes the lock on the same file.
    let next = Py::start(&take_lock);
    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert!(
        report["stayed"]["locks"].as_array().unwrap().is_empty(),
        "process {}'s lock taken as the dead tree's: {report}",
        next.pid()
    );
    assert_eq!(report["gone"]["locks"], 1, "{report}");
    assert_eq!(code, Some(0), "nothing of the tree stayed: {report}");
}

/// A directory given twice, or inside another one given, lists each file
/// once; and the text says only what is known of it: created since the
/// tree started (when the tree ended is not known).
#[test]
fn a_file_under_two_given_directories_is_listed_once() {
    let scratch = Scratch::new("leftovers-dirs");
    let dir = scratch.path().join("out");
    let inner = dir.join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    let mut tree = Py::start("report()\nfinish()\n");
    let root = tree.pid().to_string();
    let snapshot = run(&["--json", "snapshot", "--tree", &root]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    tree.child.kill().unwrap();
    tree.child.wait().unwrap();
    let made = inner.join("made");
    std::fs::write(&made, "x").unwrap();
    let (dir, inner) = (dir.to_str().unwrap(), inner.to_str().unwrap());
    let args = [
        "leftovers",
        file.to_str().unwrap(),
        "--dir",
        dir,
        "--dir",
        dir,
        "--dir",
        inner,
    ];
    let (code, report) = run_json(&args);
    assert_eq!(code, Some(1), "{report}");
    let files = report["stayed"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report}");
    assert_eq!(files[0]["path"], made.to_str().unwrap());
    let text = stdout(&run(&args));
    assert!(text.contains("created since the tree started"), "{text}");
}

/// A unix socket file whose name is not UTF-8 is found all the same (the
/// snapshot has U+FFFD for the odd byte), and the command given to remove
/// it removes that very file.
#[test]
fn a_socket_file_whose_name_is_not_utf8_is_left_and_removable() {
    use std::os::unix::ffi::OsStrExt;
    let scratch = Scratch::new("leftovers-odd-socket");
    let dir = scratch.path().to_str().unwrap().to_string();
    let mut py = Py::start(&format!(
        "u = socket.socket(socket.AF_UNIX)\nu.bind(b'{dir}/bad\\xfe.sock')\nu.listen()\nreport()\nfinish()\n"
    ));
    let root = py.pid().to_string();
    let snapshot = run(&["--json", "snapshot", "--tree", &root]);
    assert_eq!(snapshot.status.code(), Some(0));
    let file = scratch.path().join("snap.json");
    std::fs::write(&file, &snapshot.stdout).unwrap();
    py.child.kill().unwrap();
    py.child.wait().unwrap();
    let odd = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(
        &[dir.as_bytes(), b"/bad\xfe.sock"].concat(),
    ));
    assert!(odd.exists());
    let (code, report) = run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{report}");
    let left = report["stayed"]["socket_files"].as_array().unwrap();
    assert_eq!(left.len(), 1, "{report}");
    let command = left[0]["remove_with"].as_str().unwrap();
    let status = std::process::Command::new("bash")
        .args(["-c", command])
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
    assert!(!odd.exists(), "{command} left it");
}
