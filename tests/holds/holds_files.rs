//! `afterlife holds PATH` (open, cwd, mapped, locked, under a mount point)
//! and `afterlife holds --deleted` on real files.

use crate::common;

use common::{Py, Scratch, run, run_json, stdout};
use serde_json::Value;

fn vias(report: &Value, pid: i64) -> Vec<String> {
    let mut v: Vec<String> = report["results"][0]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["pid"].as_i64() == Some(pid))
        .map(|h| h["via"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// `holds --deleted`'s entry for `file` (it must be listed).
fn deleted_entry(file: &std::path::Path) -> serde_json::Value {
    let (code, report) = run_json(&["holds", "--deleted"]);
    assert_eq!(code, Some(0));
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == file.to_str().unwrap())
        .unwrap_or_else(|| panic!("{report}"))
        .clone()
}

#[test]
fn a_file_open_mapped_and_locked_and_a_cwd() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("holds-files");
    let file = scratch.path().join("data.bin");
    std::fs::write(&file, vec![7u8; 8192]).unwrap();
    let py = Py::start(&format!(
        r#"
import mmap, fcntl
f = open({file:?}, "r+b")
fcntl.flock(f.fileno(), fcntl.LOCK_EX)
m = mmap.mmap(f.fileno(), 4096)
os.chdir({dir:?})
report(fd=f.fileno())
finish()
"#,
        file = file.to_str().unwrap(),
        dir = scratch.path().to_str().unwrap()
    ));
    let me = py.pid() as i64;
    let (code, report) = run_json(&["holds", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report}");
    // Python's mmap keeps a dup of the fd: two fds, one mapping, one lock.
    let mut kinds = vias(&report, me);
    kinds.dedup();
    assert_eq!(kinds, vec!["fd", "locked", "mapped"]);
    let fd = report["results"][0]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["via"] == "fd" && h["fd"].as_i64() == Some(py.num("fd")))
        .unwrap()
        .clone();
    assert_eq!(fd["fd"].as_i64(), Some(py.num("fd")));
    assert_eq!(fd["access"], "read_write");
    let (code, report) = run_json(&["holds", scratch.path().to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert_eq!(vias(&report, me), vec!["cwd"]);
    let text = stdout(&run(&["holds", scratch.path().to_str().unwrap()]));
    assert!(text.contains("working directory"), "{text}");
}

#[test]
fn open_file_locks_are_held_by_the_fds_that_hold_them() {
    let _ipc = common::ipc_serial();
    // flock and OFD locks belong to the open file: after the locker closed
    // its fds, its forked child holds both, through the inherited fds.
    // A POSIX lock stays its process's.
    let scratch = Scratch::new("holds-locks");
    let ofd = scratch.path().join("ofd.lck");
    let flocked = scratch.path().join("flock.lck");
    let posix = scratch.path().join("posix.lck");
    let py = Py::start(&format!(
        r#"
import fcntl
o = open({ofd:?}, "w"); fcntl.fcntl(o, 37, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
f = open({flocked:?}, "w"); fcntl.flock(f, fcntl.LOCK_EX)
p = open({posix:?}, "w"); fcntl.lockf(p, fcntl.LOCK_EX)
child = fork(hold_forever)
fds = (o.fileno(), f.fileno())
o.close(); f.close()
report(child=child, ofd_fd=fds[0], flock_fd=fds[1])
finish()
"#,
        ofd = ofd.to_str().unwrap(),
        flocked = flocked.to_str().unwrap(),
        posix = posix.to_str().unwrap()
    ));
    let parent = py.pid() as i64;
    let child = py.num("child");
    let locked = |report: &Value, index: usize| -> Vec<(i64, Option<i64>)> {
        let mut v: Vec<(i64, Option<i64>)> = report["results"][index]["holders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["via"] == "locked")
            .map(|h| (h["pid"].as_i64().unwrap(), h["fd"].as_i64()))
            .collect();
        v.sort();
        v
    };
    let paths = [
        ofd.to_str().unwrap(),
        flocked.to_str().unwrap(),
        posix.to_str().unwrap(),
    ];
    let (code, report) = run_json(&["holds", paths[0], paths[1], paths[2]]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(locked(&report, 0), vec![(child, Some(py.num("ofd_fd")))], "{report}");
    assert_eq!(locked(&report, 1), vec![(child, Some(py.num("flock_fd")))], "{report}");
    assert_eq!(locked(&report, 2), vec![(parent, None)], "{report}");
    let text = stdout(&run(&["holds", paths[1]]));
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with(&format!("{child} python3 ")) && l.contains("): locked through fd ")),
        "{text}"
    );
    assert!(!text.contains(&format!("{parent} python3")), "{text}");
}

#[test]
fn everything_under_a_mount_point() {
    let _ipc = common::ipc_serial();
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some("/dev/shm"));
    if !mounted {
        println!("skipped: /dev/shm is not a mount point here");
        return;
    }
    let name = format!("/dev/shm/afterlife-test-mnt-{}", std::process::id());
    std::fs::write(&name, b"x").unwrap();
    let py = Py::start(&format!("f = open({name:?})\nreport(fd=f.fileno())\nfinish()\n"));
    let (code, report) = run_json(&["holds", "/dev/shm"]);
    let _ = std::fs::remove_file(&name);
    assert_eq!(code, Some(0));
    assert!(vias(&report, py.pid() as i64).contains(&"fd".to_string()), "{report}");
}

#[test]
fn deleted_files_held_open_with_the_space_they_keep() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("holds-deleted");
    let file = scratch.path().join("big.log");
    let py = Py::start(&format!(
        r#"
f = open({file:?}, "wb")
f.write(b"z" * (1 << 20)); f.flush(); os.fsync(f.fileno())
os.unlink({file:?})
report(fd=f.fileno())
finish()
"#,
        file = file.to_str().unwrap()
    ));
    let me = py.pid() as i64;
    let ours = deleted_entry(&file);
    assert_eq!(ours["size"].as_i64(), Some(1 << 20));
    assert!(ours["disk_bytes"].as_i64().unwrap() >= 1 << 20);
    assert_eq!(ours["holders"][0]["pid"].as_i64(), Some(me));
    assert_eq!(ours["holders"][0]["fd"].as_i64(), Some(py.num("fd")));
    assert_eq!(ours["holders"][0]["access"], "write");
    let text = stdout(&run(&["holds", "--deleted"]));
    assert!(
        text.contains(&format!("{} (deleted): 1.0 MiB on disk", file.display())),
        "{text}"
    );
}

#[test]
fn a_name_removed_while_another_link_stays_is_not_deleted() {
    let _ipc = common::ipc_serial();
    // `rm a` of `ln a b`: the fd's link reads "a (deleted)", but the file
    // is still b, and closing it frees nothing (lsof +L1 leaves it out).
    let scratch = Scratch::new("holds-linked");
    let a = scratch.path().join("a");
    let b = scratch.path().join("b");
    let py = Py::start(&format!(
        r#"
f = open({a:?}, "wb")
f.write(b"z" * (1 << 20)); f.flush()
os.link({a:?}, {b:?})
os.unlink({a:?})
report(fd=f.fileno())
finish()
"#,
        a = a.to_str().unwrap(),
        b = b.to_str().unwrap()
    ));
    let link = std::fs::read_link(format!("/proc/{}/fd/{}", py.pid(), py.num("fd"))).unwrap();
    assert!(link.to_string_lossy().ends_with(" (deleted)"), "{link:?}");
    // 0 when other deleted files are held on this machine, 1 when none.
    let (code, report) = run_json(&["holds", "--deleted"]);
    assert!(matches!(code, Some(0 | 1)), "{report}");
    let listed = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == a.to_str().unwrap());
    assert!(!listed, "{report}");
}

#[test]
fn inherited_only_when_parent_and_child_share_the_open_file() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("holds-kcmp");
    let file = scratch.path().join("shared.txt");
    std::fs::write(&file, b"x").unwrap();
    let py = Py::start(&format!(
        r#"
f = open({file:?})
def own_open():
    g = open({file:?})
    os.dup2(g.fileno(), 50)
    hold_forever()
child = fork(own_open)
report(child=child, fd=f.fileno())
finish()
"#,
        file = file.to_str().unwrap()
    ));
    let child = py.num("child");
    let fd = py.num("fd");
    let mut report = Value::Null;
    assert!(common::wait_until(std::time::Duration::from_secs(5), || {
        report = run_json(&["holds", file.to_str().unwrap()]).1;
        report["results"][0]["holders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["pid"].as_i64() == Some(child) && h["fd"].as_i64() == Some(50))
    }));
    let holder = |fd: i64| {
        report["results"][0]["holders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["pid"].as_i64() == Some(child) && h["fd"].as_i64() == Some(fd))
            .cloned()
            .unwrap_or_else(|| panic!("{report}"))
    };
    let inherited = |h: &Value| {
        h["origins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["kind"] == "inherited")
    };
    assert!(inherited(&holder(fd)), "the fd that came with fork");
    assert!(!inherited(&holder(50)), "the child's own open of the same path");
}

#[test]
fn a_deleted_file_kept_only_by_a_mapping() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("holds-deleted-map");
    let file = scratch.path().join("mapped.bin");
    std::fs::write(&file, vec![1u8; 64 * 1024]).unwrap();
    let py = Py::start(&format!(
        r#"
import mmap
f = open({file:?}, "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
f.close()
os.unlink({file:?})
report(ok=1)
finish()
"#,
        file = file.to_str().unwrap()
    ));
    let me = py.pid() as i64;
    let ours = deleted_entry(&file);
    assert_eq!(ours["size"].as_i64(), Some(64 * 1024));
    let holders = ours["holders"].as_array().unwrap();
    // Python's mmap keeps a dup of the fd too; the mapping is listed either way.
    assert!(
        holders
            .iter()
            .any(|h| h["pid"].as_i64() == Some(me) && h["via"] == "mapped"),
        "{ours}"
    );
    let text = stdout(&run(&["holds", "--deleted"]));
    assert!(text.contains("memory-mapped"), "{text}");
}

/// A process that also maps a file whose name is not UTF-8 keeps its
/// deleted mapping in the list: its maps are read lossily, not dropped.
#[test]
fn a_deleted_mapping_beside_a_mapped_file_whose_name_is_not_utf8() {
    let _ipc = common::ipc_serial();
    let scratch = Scratch::new("holds-deleted-map-odd");
    let file = scratch.path().join("mapped.bin");
    std::fs::write(&file, vec![1u8; 64 * 1024]).unwrap();
    let py = Py::start(&format!(
        r#"
import mmap
{odd}
f = open({file:?}, "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
f.close()
os.unlink({file:?})
report(ok=1)
finish()
"#,
        odd = common::map_a_file_named_not_utf8_py(scratch.path()),
        file = file.to_str().unwrap()
    ));
    let me = py.pid() as i64;
    let ours = deleted_entry(&file);
    let holders = ours["holders"].as_array().unwrap();
    assert!(
        holders
            .iter()
            .any(|h| h["pid"].as_i64() == Some(me) && h["via"] == "mapped"),
        "{ours}"
    );
}

/// A path is any bytes: one that is not UTF-8 is looked up as given (it
/// was refused as an argument before), and shown escaped; as a `unix:`
/// name, matched as text, it is refused in one line.
#[test]
fn a_path_that_is_not_utf8_is_looked_up() {
    use std::os::unix::ffi::OsStrExt;
    let scratch = Scratch::new("holds-not-utf8");
    let py = Py::start(&format!(
        r#"
import mmap
{odd}
report(ok=1)
finish()
"#,
        odd = common::map_a_file_named_not_utf8_py(scratch.path()),
    ));
    let mut odd = scratch.path().as_os_str().as_bytes().to_vec();
    odd.extend_from_slice(b"/odd-\xff.bin");
    let odd = std::ffi::OsStr::from_bytes(&odd);
    let output = common::afterlife().arg("holds").arg(odd).output().unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", common::stderr(&output));
    assert!(text.contains(&format!("{} python3", py.pid())), "{text}");
    assert!(text.contains("memory-mapped"), "{text}");
    let mut unix = b"unix:".to_vec();
    unix.extend_from_slice(odd.as_bytes());
    let output = common::afterlife()
        .arg("holds")
        .arg(std::ffi::OsStr::from_bytes(&unix))
        .output()
        .unwrap();
    let err = common::stderr(&output);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("is not UTF-8: give the socket file's path without unix:"),
        "{err}"
    );
}

/// A path names another file in another mount namespace: a process that
/// opened and mapped `DIR/data` on a tmpfs mounted over `DIR` in its own
/// namespace holds that file, not the `DIR/data` afterlife sees. Only the
/// process that holds the very file (its device and inode) is listed, as
/// lsof and fuser list it.
#[test]
fn a_path_in_another_mount_namespace_is_another_file() {
    if !common::is_root() {
        println!("skipped: unshare --mount needs root");
        return;
    }
    let scratch = Scratch::new("holds-mntns");
    let dir = scratch.path().join("over");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("data");
    std::fs::write(&file, vec![1u8; 4096]).unwrap();
    // Each binds a unix socket at DIR/sock too, the host one by a relative
    // name from DIR.
    let hold = |path: &std::path::Path| {
        format!(
            r#"
import mmap
f = open({path:?}, "r+b")
m = mmap.mmap(f.fileno(), 4096)
os.chdir({dir:?})
s = socket.socket(socket.AF_UNIX)
s.bind("sock")
s.listen()
report(fd=f.fileno())
finish()
"#,
            path = path.to_str().unwrap(),
            dir = path.parent().unwrap().to_str().unwrap()
        )
    };
    let mount = format!(
        "mount -t tmpfs none {dir:?} && head -c 4096 /dev/zero > {file:?} && exec \"$@\"",
        dir = dir.to_str().unwrap(),
        file = file.to_str().unwrap()
    );
    let private = Py::start_with_mounts(&mount, &hold(&file));
    let host = Py::start(&hold(&file));
    let (code, report) = run_json(&["holds", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(vias(&report, host.pid() as i64), vec!["fd", "fd", "mapped"], "{report}");
    assert!(vias(&report, private.pid() as i64).is_empty(), "{report}");
    // The socket bound to the file afterlife sees, named `sock` as it was
    // bound; not the one bound at the same path in the other namespace.
    let sock = dir.join("sock");
    let (code, report) = run_json(&["holds", sock.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report}");
    let sockets = report["results"][0]["sockets"].as_array().unwrap();
    assert_eq!(sockets.len(), 1, "{report}");
    let holders = sockets[0]["holders"].as_array().unwrap();
    assert!(
        holders.iter().all(|h| h["pid"].as_i64() == Some(host.pid() as i64)),
        "{report}"
    );
    assert!(!holders.is_empty(), "{report}");
    // Its own file, asked for through its own root, is its alone.
    let own = format!("/proc/{}/root{}", private.pid(), file.to_str().unwrap());
    let (code, report) = run_json(&["holds", &own]);
    assert_eq!(code, Some(0), "{report}");
    assert!(!vias(&report, private.pid() as i64).is_empty(), "{report}");
    assert!(vias(&report, host.pid() as i64).is_empty(), "{report}");
}

/// A process that maps a file whose name is not UTF-8 still has its other
/// mappings read: the one of the target is found.
#[test]
fn a_mapping_with_a_name_that_is_not_utf8_loses_no_other_mapping() {
    let scratch = Scratch::new("holds-maps-bytes");
    let file = scratch.path().join("target.bin");
    std::fs::write(&file, vec![3u8; 4096]).unwrap();
    let py = Py::start(&format!(
        r#"
import mmap
odd = os.path.join({dir:?}.encode(), b"odd-\xff-name")
with open(odd, "wb") as w:
    w.write(b"x" * 4096)
a = open(odd, "rb")
ma = mmap.mmap(a.fileno(), 4096, prot=mmap.PROT_READ)
a.close()
b = open({file:?}, "rb")
mb = mmap.mmap(b.fileno(), 4096, prot=mmap.PROT_READ)
b.close()
report(ok=1)
finish()
"#,
        dir = scratch.path().to_str().unwrap(),
        file = file.to_str().unwrap()
    ));
    let (code, report) = run_json(&["holds", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report}");
    // Python's mmap keeps a dup of the fd: an fd and the mapping.
    assert!(
        vias(&report, py.pid() as i64).contains(&"mapped".to_string()),
        "{report}"
    );
}

/// `unix:/PATH` is the socket bound to the file at PATH, as a path SPEC
/// is: one bound by the very same name in another mount namespace (over a
/// tmpfs there) is another file and not listed; with no socket file here,
/// the name alone still finds it.
#[test]
fn a_unix_path_bound_in_another_mount_namespace_is_another_socket() {
    if !common::is_root() {
        println!("skipped: unshare --mount needs root");
        return;
    }
    let scratch = Scratch::new("holds-unix-mntns");
    let dir = scratch.path().join("over");
    std::fs::create_dir(&dir).unwrap();
    let sock = dir.join("sock");
    let spec = format!("unix:{}", sock.to_str().unwrap());
    let bind = format!(
        r#"
s = socket.socket(socket.AF_UNIX)
s.bind({sock:?})
s.listen()
report(fd=s.fileno())
finish()
"#,
        sock = sock.to_str().unwrap()
    );
    let mount = format!(
        "mount -t tmpfs none {dir:?} && exec \"$@\"",
        dir = dir.to_str().unwrap()
    );
    let private = Py::start_with_mounts(&mount, &bind);
    let holders_of = |report: &Value| -> Vec<i64> {
        report["results"][0]["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| {
                s["holders"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|h| h["pid"].as_i64())
            })
            .collect()
    };
    // No socket file here: the name is all there is to go by.
    let (code, report) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(holders_of(&report), vec![private.pid() as i64], "{report}");
    // A socket file here: only the socket bound to it.
    let host = Py::start(&bind);
    let (code, report) = run_json(&["holds", &spec]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["results"][0]["sockets"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(holders_of(&report), vec![host.pid() as i64], "{report}");
}

/// A file reached through another mount namespace's mounts is the same
/// file under another path: a process that opened `DIR/data` through a
/// bind mount of `SRC` at `DIR` in its own namespace (a container's
/// volume) holds `SRC/data`, and is listed for it, as lsof and fuser list
/// it: by device and inode, whatever its link's text.
#[test]
fn a_file_held_through_a_bind_mount_in_another_mount_namespace() {
    if !common::is_root() {
        println!("skipped: unshare --mount needs root");
        return;
    }
    let scratch = Scratch::new("holds-bind-mntns");
    let source = scratch.path().join("source");
    let over = scratch.path().join("over");
    std::fs::create_dir(&source).unwrap();
    std::fs::create_dir(&over).unwrap();
    let file = source.join("data");
    std::fs::write(&file, b"data").unwrap();
    let mount = format!(
        "mount --bind {source:?} {over:?} && cd {over:?} && exec \"$@\"",
        source = source.to_str().unwrap(),
        over = over.to_str().unwrap()
    );
    let private = Py::start_with_mounts(
        &mount,
        &format!(
            r#"
f = open({path:?})
report(fd=f.fileno())
finish()
"#,
            path = over.join("data").to_str().unwrap()
        ),
    );
    let (code, report) = run_json(&["holds", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(vias(&report, private.pid() as i64), vec!["fd"], "{report}");
    // Its working directory is the source directory too.
    let (code, report) = run_json(&["holds", source.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(vias(&report, private.pid() as i64), vec!["cwd"], "{report}");
}

/// afterlife's own fds are its scan's (the /proc directories it walks):
/// `holds /proc` does not name afterlife itself.
#[test]
fn afterlife_is_not_a_holder_of_what_it_scans() {
    let output = std::process::Command::new("sh")
        .args(["-c", "echo $$; exec \"$0\" --json holds /proc"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .output()
        .unwrap();
    let text = stdout(&output);
    let (own, json) = text.split_once('\n').unwrap();
    let report: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"));
    let own: i64 = own.trim().parse().unwrap();
    let named = report.to_string().contains(&format!("\"pid\":{own},"));
    assert!(!named, "afterlife ({own}) named as a holder: {report}");
}

/// A file reached by another path in afterlife's own mount namespace is
/// the same file, as lsof and fuser take it: through a hard link (also
/// once the name the process opened is removed) and through a bind mount.
#[test]
fn a_file_opened_by_another_name_or_through_a_bind_mount_is_held() {
    let scratch = Scratch::new("holds-other-paths");
    let a = scratch.path().join("a");
    let b = scratch.path().join("b");
    std::fs::write(&a, "x").unwrap();
    std::fs::hard_link(&a, &b).unwrap();
    let py = Py::start(&format!(
        "f = open({a:?})\nreport()\nfinish()\n",
        a = a.to_str().unwrap()
    ));
    let pid = py.pid() as i64;
    let held_by = |path: &std::path::Path| -> Vec<i64> {
        let (_, report) = run_json(&["holds", path.to_str().unwrap()]);
        report["results"][0]["holders"]
            .as_array()
            .map(|h| h.iter().filter_map(|h| h["pid"].as_i64()).collect())
            .unwrap_or_default()
    };
    assert!(held_by(&b).contains(&pid), "through the other name");
    std::fs::remove_file(&a).unwrap();
    assert!(held_by(&b).contains(&pid), "once the name it opened is gone");
    drop(py);

    if !common::is_root() {
        println!("skipped: a bind mount needs root");
        return;
    }
    let (src, dst) = bind_dirs(&scratch);
    std::fs::write(src.join("f"), "x").unwrap();
    let holders = holders_under_bind_mount(&src, &dst, &dst.join("f"), &src.join("f"));
    assert!(
        holders.iter().any(|h| h["name"] == "python3"),
        "through the bind mount: {holders:?}"
    );
}

/// Two directories of `scratch`, `src` and `dst`, for a bind mount.
fn bind_dirs(scratch: &Scratch) -> (std::path::PathBuf, std::path::PathBuf) {
    let (src, dst) = (scratch.path().join("src"), scratch.path().join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    (src, dst)
}

/// In a mount namespace of its own (the bind mount ends with it), `src`
/// is bound on `dst`, a python opens `open`, and afterlife is asked who
/// holds `ask`: the holders it lists.
fn holders_under_bind_mount(
    src: &std::path::Path,
    dst: &std::path::Path,
    open: &std::path::Path,
    ask: &std::path::Path,
) -> Vec<Value> {
    // The python is the shell's own child ($!), ended by its PID; it says
    // it has the file open by opening the ready file after it.
    let ready = src.with_file_name("ready");
    let script = format!(
        "mount --bind {src:?} {dst:?} || exit 1; \
         python3 -c 'import time; f = open(\"{open}\"); open(\"{ready}\", \"w\"); time.sleep(20)' & P=$!; \
         i=0; until [ -e {ready:?} ] || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done; \
         \"$0\" --json holds {ask:?}; kill $P; wait $P",
        ready = ready.to_str().unwrap(),
        src = src.to_str().unwrap(),
        dst = dst.to_str().unwrap(),
        open = open.to_str().unwrap(),
        ask = ask.to_str().unwrap()
    );
    let output = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .output()
        .unwrap();
    let text = stdout(&output);
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    report["results"][0]["holders"].as_array().cloned().unwrap_or_default()
}

/// A bind mount's mount point is held through that mount only: processes
/// with files open elsewhere on the same file system are not its holders
/// (the device is mounted twice, which lets a file's other paths count,
/// never a mount point's).
#[test]
fn a_bind_mount_point_is_not_held_by_the_rest_of_its_file_system() {
    if !common::is_root() {
        println!("skipped: a bind mount needs root");
        return;
    }
    let scratch = Scratch::new("holds-bind-point");
    let (src, dst) = bind_dirs(&scratch);
    let outside = scratch.path().join("outside");
    std::fs::write(&outside, "x").unwrap();
    let holders = holders_under_bind_mount(&src, &dst, &outside, &dst);
    assert!(
        !holders.iter().any(|h| h["name"] == "python3"),
        "a file elsewhere on the device: {holders:?}"
    );
}
