//! Every kind of IPC object a tree can leave, under `run`: a SysV segment,
//! semaphore set and message queue, a POSIX shared memory object and a
//! POSIX message queue (held open by a leftover). Objects another process
//! makes meanwhile are never reported nor removed.

use crate::common;

use std::process::Stdio;

use common::ipc::sysv_ids;
use common::{MqCleanup, Scratch, afterlife};
use serde_json::Value;

/// Python that makes one object of each kind, forks a child that keeps the
/// message queue open (a leftover), prints what it made, waits for `go` on
/// stdin (so that the test can make its own objects meanwhile), and exits.
const MAKER: &str = r#"
import ctypes, os, sys, time, json
libc = ctypes.CDLL(None, use_errno=True)
tag = sys.argv[1]
shm = libc.shmget(0, 4096, 0o1600)
sem = libc.semget(0, 2, 0o1600)
class Sembuf(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]
libc.semop(sem, ctypes.byref(Sembuf(1, 1, 0)), 1)
msg = libc.msgget(0, 0o1600)
class Msg(ctypes.Structure):
    _fields_ = [("type", ctypes.c_long), ("text", ctypes.c_char * 8)]
libc.msgsnd(msg, ctypes.byref(Msg(1, b"hi")), 8, 0)
fd = os.open("/dev/shm/afterlife-kinds-" + tag, os.O_CREAT | os.O_RDWR, 0o600)
os.ftruncate(fd, 8192)
libc.mq_open.restype = ctypes.c_int
mq = libc.mq_open(("/afterlife-kinds-" + tag).encode(), os.O_CREAT | os.O_RDWR, 0o600, None)
os.set_inheritable(mq, True)
if os.fork() == 0:
    os.setsid()
    time.sleep(100)
    os._exit(0)
print(json.dumps({"shm": shm, "sem": sem, "msg": msg, "mq": mq}), flush=True)
sys.stdin.readline()
"#;

struct SysvCleanup(Vec<(&'static str, i64)>);

impl Drop for SysvCleanup {
    fn drop(&mut self) {
        for (flag, id) in &self.0 {
            let _ = std::process::Command::new("ipcrm")
                .args([*flag, &id.to_string()])
                .output();
        }
    }
}

fn run_maker(tag: &str, extra: &[&str], cleanup: &mut SysvCleanup) -> (Value, Value, i64) {
    use std::io::{BufRead, Write};
    let scratch = Scratch::new(&format!("ipc-kinds-{tag}"));
    let report_path = scratch.path().join("report.json");
    let mut child = afterlife()
        .args(["run", "--grace", "2s", "--report-json"])
        .arg(&report_path)
        .args(extra)
        .args(["--", "python3", "-c", MAKER, tag])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("afterlife runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let made: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    cleanup.0.extend([
        ("-m", made["shm"].as_i64().unwrap()),
        ("-s", made["sem"].as_i64().unwrap()),
        ("-q", made["msg"].as_i64().unwrap()),
    ]);
    // Someone else's semaphore set, made while the tree runs.
    // SAFETY: semget with plain arguments.
    let other = i64::from(unsafe { libc::semget(libc::IPC_PRIVATE, 1, 0o600) });
    assert!(other >= 0);
    cleanup.0.push(("-s", other));
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let report: Value = crate::common::schema::parse("run", &std::fs::read_to_string(&report_path).unwrap());
    (report, made, other)
}

fn find<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["ipc"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["object"]["kind"] == kind)
        .collect()
}

#[test]
fn each_kind_is_reported_with_its_removal_and_others_are_left_alone() {
    let tag = format!("{}", std::process::id());
    let shm_name = format!("/afterlife-kinds-{tag}");
    let _files = MqCleanup(shm_name.clone());
    let mut cleanup = SysvCleanup(Vec::new());
    let _file = RemoveFile(format!("/dev/shm{shm_name}").into());

    let (report, made, other) = run_maker(&tag, &[], &mut cleanup);
    let one = |kind: &str| -> Value {
        let found = find(&report, kind);
        assert_eq!(found.len(), 1, "{kind}: {report}");
        found[0].clone()
    };
    let shm = one("sysv_shm");
    assert_eq!(shm["object"]["id"], made["shm"]);
    assert_eq!(shm["attribution"], "creator_pid");
    assert_eq!(shm["remove_with"], format!("ipcrm -m {}", made["shm"]));
    let sem = one("sysv_sem");
    assert_eq!(sem["object"]["id"], made["sem"]);
    assert_eq!(sem["attribution"], "last_user");
    assert_eq!(sem["remove_with"], format!("ipcrm -s {}", made["sem"]));
    let msg = one("sysv_msg");
    assert_eq!(msg["object"]["id"], made["msg"]);
    assert_eq!(msg["attribution"], "last_user");
    assert_eq!(msg["remove_with"], format!("ipcrm -q {}", made["msg"]));
    let posix = one("posix_shm");
    assert_eq!(posix["object"]["name"], shm_name);
    assert_eq!(posix["attribution"], "creator_pid");
    let mq = one("posix_mqueue");
    assert_eq!(mq["object"]["name"], shm_name);
    // Where its creation is watched (root, Linux 6.8; a mount of the
    // mqueue filesystem of afterlife's own where none is mounted) by its
    // creator; else as new and held by the tree.
    let expected = if common::ipc::queues_watched() {
        "creator_pid"
    } else {
        "held_by_tree"
    };
    assert_eq!(mq["attribution"], expected, "{mq}");
    assert_eq!(report["ipc"].as_array().unwrap().len(), 5, "{report}");
    // Someone else's semaphore set is not the tree's.
    assert!(sysv_ids("sem").contains(&other));
    for object in report["ipc"].as_array().unwrap() {
        assert_eq!(object["fate"], "left");
    }
    assert!(sysv_ids("shm").contains(&made["shm"].as_i64().unwrap()));

    // With --remove-ipc: all five removed, someone else's left.
    let (report, made, other) = run_maker(&format!("{tag}r"), &["--remove-ipc"], &mut cleanup);
    let _more = MqCleanup(format!("/afterlife-kinds-{tag}r"));
    let _file_more = RemoveFile(format!("/dev/shm/afterlife-kinds-{tag}r").into());
    assert_eq!(report["ipc"].as_array().unwrap().len(), 5, "{report}");
    for object in report["ipc"].as_array().unwrap() {
        assert_eq!(object["fate"], "removed", "{object}");
    }
    assert!(!sysv_ids("shm").contains(&made["shm"].as_i64().unwrap()));
    assert!(!sysv_ids("sem").contains(&made["sem"].as_i64().unwrap()));
    assert!(!sysv_ids("msg").contains(&made["msg"].as_i64().unwrap()));
    assert!(!std::path::Path::new(&format!("/dev/shm/afterlife-kinds-{tag}r")).exists());
    assert!(!afterlife::resources::ipc::mqueue_exists(&format!(
        "/afterlife-kinds-{tag}r"
    )));
    assert!(sysv_ids("sem").contains(&other), "someone else's set stays");
}

/// A /dev/shm name is any bytes but `/` and NUL: an object whose name is
/// not UTF-8 is removed by `--remove-ipc` as any other (it was reported as
/// "could not be removed", the name it was looked up by being the one
/// shown, each odd byte replaced).
#[test]
fn a_posix_object_whose_name_is_not_utf8_is_removed() {
    let (path, script) = odd_shm_maker("afterlife-odd-", 0xff);
    let _file = RemoveFile(path.clone());
    let output = afterlife()
        .args(["--json", "run", "--remove-ipc", "--", "python3", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stderr).unwrap();
    let posix = find(&report, "posix_shm");
    assert_eq!(posix.len(), 1, "{report}");
    assert_eq!(posix[0]["fate"], "removed", "{report}");
    assert!(!path.exists(), "the file is gone");
}

/// A message queue the command made and closed again is left all the same
/// (no mq_close or exit removes it), and no process holds it at the end:
/// only its creation tells it is the tree's. Where the mqueue filesystem
/// is not mounted, afterlife mounts one of its own to list and watch the
/// queues. A queue someone else makes meanwhile is not reported.
#[test]
fn a_message_queue_made_and_closed_by_the_command_is_found_and_removed() {
    if !common::ipc::queues_watched() {
        eprintln!("skipped: watching the creation of queues needs root and Linux 6.8");
        return;
    }
    let tag = std::process::id();
    let ours = format!("/afterlife-closed-{tag}");
    let odd = format!("/afterlife-closed-{tag}-");
    let theirs = format!("/afterlife-theirs-{tag}");
    let _cleanup = [MqCleanup(ours.clone()), MqCleanup(theirs.clone())];
    let _odd_cleanup = OddQueueCleanup(odd.clone());
    // Makes both queues, closes them, then waits for `go` so that the test
    // can make its own queue meanwhile.
    let script = format!(
        "import ctypes, os, sys\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         for name in [b'{ours}', b'{odd}' + bytes([0xff])]:\n\
         \x20   fd = libc.mq_open(name, os.O_CREAT | os.O_RDWR, 0o600, None)\n\
         \x20   assert fd >= 0, ctypes.get_errno()\n\
         \x20   os.close(fd)\n\
         print('made', flush=True)\n\
         sys.stdin.readline()\n"
    );
    for remove in [false, true] {
        let mut args = vec!["--json", "run"];
        if remove {
            args.push("--remove-ipc");
        }
        let mut child = afterlife()
            .args(&args)
            .args(["--", "python3", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
        assert_eq!(line, "made\n");
        let name = std::ffi::CString::new(theirs.clone()).unwrap();
        // SAFETY: a NUL-terminated name, a mode and a null attribute pointer.
        let fd = unsafe {
            libc::mq_open(
                name.as_ptr(),
                libc::O_CREAT | libc::O_RDWR,
                0o600,
                std::ptr::null_mut::<libc::mq_attr>(),
            )
        };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        // SAFETY: the queue descriptor just opened.
        unsafe { libc::mq_close(fd) };
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"go\n").unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0));
        let report: Value = serde_json::from_slice(&output.stderr).unwrap();
        let queues = find(&report, "posix_mqueue");
        let mut names: Vec<&str> = queues.iter().map(|q| q["object"]["name"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, [ours.as_str(), &format!("{odd}\u{fffd}")], "{report}");
        for queue in &queues {
            assert_eq!(queue["attribution"], "creator_pid", "{queue}");
            assert_eq!(queue["fate"], if remove { "removed" } else { "left" }, "{queue}");
        }
        let left = afterlife::resources::ipc::mqueue_exists(&ours);
        assert_eq!(left, !remove, "{ours} is still there: {left}");
        assert!(
            afterlife::resources::ipc::mqueue_exists(&theirs),
            "someone else's queue stays"
        );
        if !remove {
            drop(OddQueueCleanup(odd.clone()));
            drop(MqCleanup(ours.clone()));
        }
        drop(MqCleanup(theirs.clone()));
    }
    assert!(!odd_queue_exists(&odd), "the queue whose name is not UTF-8 was removed");
}

/// Removes the queue named `NAME` and byte 0xff.
struct OddQueueCleanup(String);

impl Drop for OddQueueCleanup {
    fn drop(&mut self) {
        let mut name = self.0.clone().into_bytes();
        name.push(0xff);
        let name = std::ffi::CString::new(name).unwrap();
        // SAFETY: a NUL-terminated name; ENOENT if already gone.
        unsafe { libc::mq_unlink(name.as_ptr()) };
    }
}

fn odd_queue_exists(prefix: &str) -> bool {
    let mut name = prefix.as_bytes().to_vec();
    name.push(0xff);
    let name = std::ffi::CString::new(name).unwrap();
    // SAFETY: a NUL-terminated name; no O_CREAT.
    let fd = unsafe { libc::mq_open(name.as_ptr(), libc::O_RDONLY) };
    if fd >= 0 {
        // SAFETY: the queue descriptor just opened.
        unsafe { libc::mq_close(fd) };
    }
    fd >= 0
}

/// The command a report gives to remove a POSIX object is one a shell
/// runs as written: a name with spaces, a `;` or control characters is
/// quoted, and running it removes that object and nothing else.
#[test]
fn the_remove_command_of_an_odd_name_removes_that_object_only() {
    let name = format!("afterlife-q {};x\u{1b}[31m\n'", std::process::id());
    let path = std::path::PathBuf::from(format!("/dev/shm/{name}"));
    let _file = RemoveFile(path.clone());
    let python = name
        .replace('\u{1b}', "\\x1b")
        .replace('\n', "\\n")
        .replace('\'', "\\'");
    let script = format!("import os; os.close(os.open('/dev/shm/{python}', os.O_CREAT | os.O_RDWR, 0o600))");
    let output = afterlife()
        .args(["--json", "run", "--", "python3", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stderr).unwrap();
    let posix = find(&report, "posix_shm");
    assert_eq!(posix.len(), 1, "{report}");
    let command = posix[0]["remove_with"].as_str().unwrap();
    assert!(path.exists());
    let scratch = common::Scratch::new("remove-with");
    let status = std::process::Command::new("bash")
        .args(["-c", command])
        .current_dir(scratch.path())
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
    assert!(!path.exists(), "{command} left {path:?}");
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}

/// A /dev/shm name that is not UTF-8 is reported with U+FFFD for the odd
/// byte, but its remove command names its very bytes: running it removes
/// that object.
#[test]
fn the_remove_command_of_a_name_that_is_not_utf8_names_its_bytes() {
    let (path, script) = odd_shm_maker("afterlife-odd-rm-", 0xfe);
    let _file = RemoveFile(path.clone());
    let output = afterlife()
        .args(["--json", "run", "--", "python3", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stderr).unwrap();
    let posix = find(&report, "posix_shm");
    assert_eq!(posix.len(), 1, "{report}");
    let command = posix[0]["remove_with"].as_str().unwrap();
    assert!(path.exists());
    let status = std::process::Command::new("bash")
        .args(["-c", command])
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
    assert!(!path.exists(), "{command} left it");
}

/// Removes a file on drop.
struct RemoveFile(std::path::PathBuf);

impl Drop for RemoveFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A /dev/shm path named `TAG<pid>-` and the byte `odd` (not UTF-8), and
/// the Python that makes it and closes it.
fn odd_shm_maker(tag: &str, odd: u8) -> (std::path::PathBuf, String) {
    use std::os::unix::ffi::OsStrExt;
    let name = format!("{tag}{}-", std::process::id());
    let bytes = [b"/dev/shm/", name.as_bytes(), &[odd]].concat();
    let script = format!("import os; os.close(os.open(b'/dev/shm/{name}\\x{odd:02x}', os.O_CREAT | os.O_RDWR, 0o600))");
    (std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&bytes)), script)
}
