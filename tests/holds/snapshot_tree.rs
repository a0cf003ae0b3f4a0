//! `afterlife snapshot PID --tree`: every process of a tree with its fds,
//! sockets, mapped files, locks and SysV shared memory.

use crate::common;

use common::{IpcCleanup, Py, Scratch, run, run_json, stderr, stdout, unused_pid};

const SHM: &str = r#"
libc.shmget.restype = ctypes.c_int
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
shmid = libc.shmget(0, 4096, 0o1600)
assert shmid >= 0
libc.shmat(shmid, None, 0)
"#;

#[test]
fn a_tree_with_sockets_pipes_locks_maps_and_shm() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("snapshot-tree");
    let lock_path = scratch.path().join("lock");
    let mut ipc = IpcCleanup::default();
    let py = Py::start(&format!(
        r#"
import fcntl
{SHM}
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
os.set_inheritable(l.fileno(), True)
r, w = os.pipe()
lf = open({lock:?}, "w")
fcntl.lockf(lf.fileno(), fcntl.LOCK_EX)
child = fork(hold_forever)
report(port=l.getsockname()[1], child=child, shmid=shmid, lockfd=lf.fileno())
finish()
"#,
        lock = lock_path.to_str().unwrap()
    ));
    ipc.0.push(py.num("shmid"));
    let me = py.pid() as i64;
    let child = py.num("child");
    let (code, snap) = run_json(&["snapshot", "--tree", &me.to_string()]);
    assert_eq!(code, Some(0));
    assert_eq!(snap["root"].as_i64(), Some(me));
    assert_eq!(snap["tree"], true);
    let pids: Vec<i64> = snap["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids, vec![me, child]);
    let parent = &snap["processes"][0];
    let fds = parent["fds"].as_array().unwrap();
    assert!(fds.iter().any(|f| f["kind"] == "pipe" && f["access"] == "read"));
    assert!(fds.iter().any(|f| f["kind"] == "pipe" && f["access"] == "write"));
    assert!(
        fds.iter()
            .any(|f| f["kind"] == "file" && f["target"] == lock_path.to_str().unwrap())
    );
    assert!(
        parent["maps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["path"].as_str().unwrap().contains("python"))
    );
    assert!(parent["rss_bytes"].as_i64().unwrap() > 0);
    let port = py.num("port");
    let listener = snap["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"] == format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("{}", snap["sockets"]));
    assert_eq!(listener["state"], "listen");
    let lock = snap["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == lock_path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{}", snap["locks"]));
    assert_eq!(lock["lock"]["kind"], "posix");
    assert_eq!(lock["lock"]["pid"].as_i64(), Some(me));
    let shm = snap["ipc"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"].as_i64() == Some(py.num("shmid")))
        .unwrap_or_else(|| panic!("{}", snap["ipc"]));
    assert_eq!(shm["kind"], "sysv_shm");
    assert_eq!(shm["creator_pid"].as_i64(), Some(me));
    assert_eq!(shm["size"].as_i64(), Some(4096));

    let text = stdout(&run(&["snapshot", "--tree", &me.to_string()]));
    assert!(text.contains(&format!("tcp LISTEN 127.0.0.1:{port}")), "{text}");
    assert!(text.contains("SysV shared memory id"), "{text}");
    // Without --tree: the process alone.
    let (_, single) = run_json(&["snapshot", &me.to_string()]);
    assert_eq!(single["processes"].as_array().unwrap().len(), 1);
}

#[test]
fn a_missing_process_is_an_error() {
    let _ipc = common::ipc_serial();
    let pid = unused_pid().to_string();
    let output = run(&["snapshot", &pid]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stderr(&output).starts_with(&format!("afterlife: error: no process {pid}")));
    let output = run(&["snapshot", "0"]);
    assert_eq!(output.status.code(), Some(125));
}

/// A file whose path is longer than 4096 bytes is open all the same:
/// `readlink` of its fd (and of a working directory there) fails with
/// ENAMETOOLONG, and the snapshot still counts and lists it, with its
/// kind, rather than leaving it out.
#[test]
fn a_file_whose_path_is_too_long_to_read_is_still_listed() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("snapshot-long-path");
    let py = Py::start(&format!(
        r#"
os.chdir({dir:?})
for _ in range(25):
    os.mkdir("d" * 200)
    os.chdir("d" * 200)
fd = os.open("f", os.O_CREAT | os.O_RDWR)
report(fd=fd)
finish()
"#,
        dir = scratch.path().to_str().unwrap()
    ));
    let fd = py.num("fd");
    let pid = py.pid().to_string();
    let (code, report) = run_json(&["snapshot", &pid]);
    assert_eq!(code, Some(0), "{report}");
    let process = &report["processes"][0];
    let fds = process["fds"].as_array().unwrap();
    let long = fds
        .iter()
        .find(|f| f["fd"].as_i64() == Some(fd))
        .unwrap_or_else(|| panic!("fd {fd} is missing: {process}"));
    assert_eq!(long["kind"], "file", "{long}");
    assert_eq!(long["target"], afterlife::resources::fd::PATH_TOO_LONG, "{long}");
    assert_eq!(process["cwd"], afterlife::resources::fd::PATH_TOO_LONG, "{process}");
    let listed = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    assert_eq!(fds.len(), listed, "{process}");
    let text = stdout(&run(&["snapshot", &pid]));
    assert!(text.contains(&format!("{listed} fds")), "{text}");
}

/// The kernel marks an unlinked file's link with " (deleted)"; a file may
/// also be named so. One that is there under that very name is a file,
/// with its whole name, open or mapped; one that was unlinked is a
/// deleted file.
#[test]
fn a_file_named_deleted_is_not_taken_for_a_deleted_one() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("snapshot-named-deleted");
    let named = scratch.path().join("x (deleted)");
    let gone = scratch.path().join("y");
    let py = Py::start(&format!(
        r#"
import mmap
named = os.open({named:?}, os.O_CREAT | os.O_RDWR)
os.write(named, b"x" * 4096)
named_map = mmap.mmap(named, 4096, prot=mmap.PROT_READ)
gone = os.open({gone:?}, os.O_CREAT | os.O_RDWR)
os.unlink({gone:?})
report(named=named, gone=gone)
finish()
"#,
        named = named.to_str().unwrap(),
        gone = gone.to_str().unwrap()
    ));
    let (code, report) = run_json(&["snapshot", &py.pid().to_string()]);
    assert_eq!(code, Some(0), "{report}");
    let fds = report["processes"][0]["fds"].as_array().unwrap();
    let fd = |n: i64| fds.iter().find(|f| f["fd"].as_i64() == Some(n)).unwrap();
    let kept = fd(py.num("named"));
    assert_eq!(kept["kind"], "file", "{kept}");
    assert_eq!(kept["target"], named.to_str().unwrap(), "{kept}");
    let unlinked = fd(py.num("gone"));
    assert_eq!(unlinked["kind"], "deleted_file", "{unlinked}");
    assert_eq!(unlinked["target"], gone.to_str().unwrap(), "{unlinked}");
    // Mapped, the same.
    let maps = report["processes"][0]["maps"].as_array().unwrap();
    let mapped = maps
        .iter()
        .find(|m| {
            m["path"]
                .as_str()
                .unwrap_or_default()
                .starts_with(scratch.path().to_str().unwrap())
        })
        .unwrap_or_else(|| panic!("no mapping of {named:?}: {maps:?}"));
    assert_eq!(mapped["path"], named.to_str().unwrap(), "{mapped}");
    assert_eq!(mapped["deleted"], false, "{mapped}");
}

/// A zombie holds nothing, and the snapshot says it is one rather than
/// showing it with 0 fds and 0 bytes as if it ran.
#[test]
fn a_zombie_is_named_as_one() {
    let _ipc = common::ipc_serial();
    let py = Py::start(
        r#"
pid = os.fork()
if pid == 0:
    os._exit(3)
time.sleep(0.2)
report(zombie=pid)
finish()
os.waitpid(pid, 0)
"#,
    );
    let zombie = py.num("zombie").to_string();
    let (code, report) = run_json(&["snapshot", &zombie]);
    assert_eq!(code, Some(0), "{report}");
    let process = &report["processes"][0];
    assert_eq!(process["zombie"], true, "{report}");
    let text = stdout(&run(&["snapshot", &zombie]));
    assert!(
        text.contains("a zombie: it has exited and its parent has not reaped it"),
        "{text}"
    );
    if common::is_root() {
        // Another user's zombie: /proc/PID/fd and root are refused, yet a
        // zombie has none to hide. Its fds are none, not unreadable.
        let output = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_afterlife"))
            .args(["--color=never", "--json", "snapshot", &zombie])
            .output()
            .expect("setpriv runs");
        assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
        let report: serde_json::Value = common::schema::parse("snapshot", &stdout(&output));
        let process = &report["processes"][0];
        assert_eq!(process["zombie"], true, "{report}");
        assert_eq!(process.get("fds_unreadable"), None, "{report}");
        assert_eq!(process["errors"], serde_json::json!([]), "{report}");
    }
}

/// A socket of another network namespace is marked in the text, as the
/// JSON's `netns` tells: `127.0.0.1:PORT` there is not the host's.
#[test]
fn a_socket_in_another_network_namespace_is_marked() {
    if !common::is_root() {
        println!("skipped: unshare --net needs root");
        return;
    }
    let mut py = Py::start_with(
        &["unshare", "--net"],
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
report(port=l.getsockname()[1], pid=os.getpid(), netns=os.readlink("/proc/self/ns/net"))
finish()
"#,
    );
    let pid = py.num("pid").to_string();
    let (code, snap) = run_json(&["snapshot", &pid]);
    assert_eq!(code, Some(0));
    let netns = py.facts["netns"].as_str().unwrap().to_string();
    assert_eq!(format!("net:[{}]", snap["sockets"][0]["netns"]), netns);
    let text = stdout(&run(&["snapshot", &pid]));
    let line = text
        .lines()
        .find(|l| l.contains(&format!("tcp LISTEN 127.0.0.1:{}", py.num("port"))))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.ends_with(&format!("[network namespace {netns}, not afterlife's]")),
        "{text}"
    );
    // A socket of afterlife's own namespace is not marked.
    py.finish();
    let py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
report(ready=1)
finish()
"#,
    );
    let text = stdout(&run(&["snapshot", &py.pid().to_string()]));
    assert!(text.contains("tcp LISTEN 127.0.0.1:"), "{text}");
    assert!(!text.contains("network namespace"), "{text}");
}

/// The kernel writes a newline in a mapped file's path as `\012`; the
/// snapshot gives the path back as the file is named, and the text shows
/// it escaped once.
#[test]
fn a_mapped_file_with_a_newline_in_its_name_is_named_as_it_is() {
    let scratch = Scratch::new("snapshot-newline-map");
    let path = scratch.path().join("two\nlines");
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let py = Py::start(&format!(
        r#"
import mmap
f = open({path:?}, "r+b")
m = mmap.mmap(f.fileno(), 0)
report()
finish()
"#,
        path = path.to_str().unwrap()
    ));
    let pid = py.pid().to_string();
    let (code, snap) = run_json(&["snapshot", &pid]);
    assert_eq!(code, Some(0), "{snap}");
    let maps = snap["processes"][0]["maps"].as_array().unwrap();
    assert!(
        maps.iter().any(|m| m["path"] == path.to_str().unwrap()),
        "{}",
        snap["processes"][0]["maps"]
    );
    let output = run(&["snapshot", &pid]);
    let text = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    let shown = path.to_str().unwrap().replace('\n', "\\n");
    assert!(
        text.lines().any(|l| l.starts_with("  mapped ") && l.ends_with(&shown)),
        "{text}"
    );
}

/// A POSIX shared memory object is named by whoever made it: its name is
/// shown escaped, so that it cannot write to the reader's terminal.
#[test]
fn a_shared_memory_name_with_escape_codes_is_shown_escaped() {
    let name = format!("afterlife-test-\u{1b}[31mred\nline-{}", std::process::id());
    let path = format!("/dev/shm/{name}");
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _remove = Remove(path.clone());
    // Written for Python: ESC and the newline as its escapes.
    let python_path = path.replace('\u{1b}', "\\x1b").replace('\n', "\\n");
    let py = Py::start(&format!(
        r#"
import mmap
fd = os.open("{python_path}", os.O_CREAT | os.O_RDWR, 0o600)
os.ftruncate(fd, 4096)
m = mmap.mmap(fd, 4096)
report()
finish()
"#
    ));
    let output = run(&["snapshot", &py.pid().to_string()]);
    let text = stdout(&output);
    assert!(!text.contains('\u{1b}'), "{text:?}");
    let ipc = text
        .lines()
        .find(|l| l.starts_with("ipc "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(ipc.contains("\\e[31mred\\nline-"), "{ipc}");
}
