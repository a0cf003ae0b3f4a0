//! `afterlife why` on processes the kernel holds: frozen cgroups (v2 and
//! v1), uninterruptible sleep of the whole process or of one thread, a core
//! dump in progress, a process exiting while a thread is held, and a vfork
//! parent.
//!
//! Uninterruptible sleep is staged two ways. The FUSE way is the one users
//! meet: a small FUSE server (the kernel protocol on /dev/fuse, written in
//! python3, no libfuse needed) never answers one LOOKUP; the client, once
//! sent SIGKILL, waits for the answer in D. The cgroup v1 freezer is the
//! other: its frozen tasks show as D and take no signal, not even SIGKILL,
//! until thawed — reliable, and undone by writing THAWED. Because
//! v1 freezer cgroups take single threads (`tasks`), the same tool holds one
//! thread of a process: that stages a single D thread, a core dump that
//! waits for that thread, and an exit that waits for it.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use afterlife::process::Process;
use afterlife::signal::Signal;
use common::fuse::{FUSE_NEVER_READY, FUSE_SERVER, FuseMount, sleeps_in, stat_client};
use common::why::*;
use common::*;

/// The mount point of a cgroup hierarchy, from our own mountinfo.
fn cgroup_mount(v2: bool) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fields: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let fs_type = right.next()?;
        let options = right.nth(1).unwrap_or("");
        let wanted = if v2 {
            fs_type == "cgroup2"
        } else {
            fs_type == "cgroup" && options.split(',').any(|o| o == "freezer")
        };
        if wanted && fields.get(3) == Some(&"/") {
            fields.get(4).map(PathBuf::from)
        } else {
            None
        }
    })
}

/// A cgroup made for one test; thawed and removed on drop, after the test
/// has ended its processes.
struct Cgroup {
    dir: PathBuf,
    v2: bool,
}

impl Cgroup {
    fn new(root: &Path, v2: bool, name: &str) -> Cgroup {
        let dir = root.join(format!("afterlife-test-why-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create cgroup");
        Cgroup { dir, v2 }
    }

    fn freeze(&self) {
        if self.v2 {
            std::fs::write(self.dir.join("cgroup.freeze"), "1").unwrap();
        } else {
            std::fs::write(self.dir.join("freezer.state"), "FROZEN").unwrap();
        }
    }

    fn thaw(&self) {
        let _ = if self.v2 {
            std::fs::write(self.dir.join("cgroup.freeze"), "0")
        } else {
            std::fs::write(self.dir.join("freezer.state"), "THAWED")
        };
    }

    fn add_process(&self, pid: i32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
    }

    fn add_thread(&self, tid: i32) {
        std::fs::write(self.dir.join("tasks"), tid.to_string()).unwrap();
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.thaw();
        // The test's processes are gone by now; rmdir fails only if one lingers.
        let _ = wait_until(Duration::from_secs(5), || std::fs::remove_dir(&self.dir).is_ok());
    }
}

/// Ends a child for sure: SIGKILL through its pidfd, thaw, reap.
fn end(child: &mut Child, cgroup: &Cgroup) {
    if let Ok(process) = Process::from_child(child) {
        let _ = process.signal(Signal::KILL);
    }
    cgroup.thaw();
    let _ = child.wait();
}

fn v1_freezer() -> Option<PathBuf> {
    if !is_root() {
        println!("skipped: the cgroup v1 freezer needs root");
        return None;
    }
    let root = cgroup_mount(false);
    if root.is_none() {
        println!("skipped: no cgroup v1 freezer hierarchy is mounted");
    }
    root
}

#[test]
fn frozen_cgroup_v2() {
    if !is_root() {
        println!("skipped: creating a cgroup needs root");
        return;
    }
    let Some(root) = cgroup_mount(true) else {
        println!("skipped: cgroup v2 is not mounted");
        return;
    };
    let cgroup = Cgroup::new(&root, true, "v2");
    let mut child = Command::new("sleep").arg("300").stdin(Stdio::null()).spawn().unwrap();
    let pid = child.id() as i32;
    cgroup.add_process(pid);
    cgroup.freeze();
    assert!(wait_until(Duration::from_secs(10), || std::fs::read_to_string(
        cgroup.dir.join("cgroup.events")
    )
    .is_ok_and(|e| e.contains("frozen 1"))));
    let d = why_json(pid);
    // status says so too, not that signals are delivered at once.
    let status = stdout(&run(&["status", &pid.to_string()]));
    end(&mut child, &cgroup);
    assert!(status.contains("its cgroup is frozen (cgroup.freeze)"), "{status}");
    // As why says: the v2 freezer lets a fatal signal through.
    assert!(status.contains("without a core dump, as SIGTERM"), "{status}");
    assert_eq!(kinds(&d), vec!["frozen_cgroup_v2"]);
    let f = finding(&d, "frozen_cgroup_v2");
    let dir = cgroup.dir.display().to_string();
    assert!(has_evidence(f, &format!("{dir}/cgroup.freeze"), "1"));
    assert!(has_evidence(f, &format!("{dir}/cgroup.events frozen"), "1"));
    assert!(
        f["next_step"]
            .as_str()
            .unwrap()
            .contains(&format!("echo 0 > {dir}/cgroup.freeze"))
    );
    assert_eq!(d["sigkill"], "ends_it");
}

#[test]
fn uninterruptible_sleep_in_the_v1_freezer() {
    let Some(root) = v1_freezer() else { return };
    let cgroup = Cgroup::new(&root, false, "d");
    let mut child = Command::new("sleep").arg("300").stdin(Stdio::null()).spawn().unwrap();
    let pid = child.id() as i32;
    // Freeze it inside its sleep, so that the system call is known.
    assert!(wait_until(Duration::from_secs(10), || std::fs::read_to_string(
        format!("/proc/{pid}/wchan")
    )
    .is_ok_and(|w| w.contains("nanosleep"))));
    cgroup.add_process(pid);
    cgroup.freeze();
    assert!(wait_until(Duration::from_secs(10), || state(pid) == Some('D')));
    // SIGKILL is queued, and waits.
    let process = Process::from_child(&child).unwrap();
    process.signal(Signal::KILL).unwrap();
    let d = why_json(pid);
    let text = stdout(&run(&["why", &pid.to_string()]));
    end(&mut child, &cgroup);
    assert_eq!(
        kinds(&d),
        vec!["uninterruptible_sleep", "frozen_cgroup_v1", "signals_pending"],
        "{d:#}"
    );
    assert_eq!(d["sigkill"], "delayed");
    let sleep = finding(&d, "uninterruptible_sleep");
    assert_eq!(sleep["title"], "uninterruptible sleep (D)");
    assert!(has_evidence(sleep, &format!("/proc/{pid}/task/{pid}/stat state"), "D"));
    assert!(has_evidence(sleep, &format!("/proc/{pid}/task/{pid}/wchan"), ""));
    assert!(has_evidence(sleep, &format!("/proc/{pid}/task/{pid}/stack"), ""));
    assert!(has_evidence(
        sleep,
        &format!("/proc/{pid}/task/{pid}/syscall"),
        "clock_nanosleep"
    ));
    let dir = cgroup.dir.display().to_string();
    assert!(
        sleep["next_step"]
            .as_str()
            .unwrap()
            .contains(&format!("echo THAWED > {dir}/freezer.state"))
    );
    assert!(has_evidence(
        finding(&d, "frozen_cgroup_v1"),
        &format!("{dir}/freezer.state"),
        "FROZEN"
    ));
    assert!(has_evidence(
        finding(&d, "signals_pending"),
        &format!("/proc/{pid}/status ShdPnd"),
        "SIGKILL"
    ));
    assert!(text.contains("uninterruptible sleep (D)"), "{text}");
    assert!(
        text.contains("  SIGKILL  forced        queued until its freezer cgroup is thawed"),
        "{text}"
    );
}

/// python3 with a worker thread named `worker`; prints "PID TID" and then
/// obeys one line on stdin: `abort`, `exit`, or anything to keep waiting.
struct Threaded {
    child: Child,
    stdin: ChildStdin,
    pid: i32,
    tid: i32,
}

const THREADED: &str = r#"
import ctypes, os, resource, sys, threading, time
resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
def worker():
    ctypes.CDLL(None).prctl(15, b"worker", 0, 0, 0)
    time.sleep(300)
t = threading.Thread(target=worker, daemon=True)
t.start()
while t.native_id is None:
    time.sleep(0.001)
print(os.getpid(), t.native_id, flush=True)
command = sys.stdin.readline().strip()
if command == "abort":
    os.abort()
if command == "exit":
    os._exit(3)
sys.stdin.readline()
"#;

impl Threaded {
    fn start(dir: &Path) -> Threaded {
        let mut child = Command::new("python3")
            .args(["-c", THREADED])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut ids = line.split_whitespace().map(|n| n.parse::<i32>().unwrap());
        let (pid, tid) = (ids.next().unwrap(), ids.next().unwrap());
        assert_eq!(pid, child.id() as i32);
        assert!(wait_until(Duration::from_secs(5), || std::fs::read_to_string(format!(
            "/proc/{pid}/task/{tid}/comm"
        ))
        .is_ok_and(|c| c.trim() == "worker")));
        Threaded { child, stdin, pid, tid }
    }

    fn say(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
    }
}

fn thread_state(pid: i32, tid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

/// One thread frozen in the v1 freezer, the main thread free.
fn threaded_with_frozen_worker(name: &str) -> Option<(Scratch, Cgroup, Threaded)> {
    let root = v1_freezer()?;
    let scratch = Scratch::new(&format!("why-{name}"));
    let cgroup = Cgroup::new(&root, false, name);
    cgroup.freeze();
    let fixture = Threaded::start(scratch.path());
    cgroup.add_thread(fixture.tid);
    assert!(wait_until(Duration::from_secs(10), || thread_state(
        fixture.pid,
        fixture.tid
    ) == Some('D')));
    Some((scratch, cgroup, fixture))
}

#[test]
fn one_thread_in_uninterruptible_sleep_is_named() {
    let Some((_scratch, cgroup, mut fixture)) = threaded_with_frozen_worker("thread") else {
        return;
    };
    let (pid, tid) = (fixture.pid, fixture.tid);
    let d = why_json(pid);
    end(&mut fixture.child, &cgroup);
    assert_eq!(d["threads"], 2);
    let sleep = finding(&d, "uninterruptible_sleep");
    assert_eq!(
        sleep["title"],
        format!("uninterruptible sleep (D) in thread {tid} (worker)")
    );
    assert_eq!(sleep["thread"]["tid"], tid);
    assert!(
        sleep["explanation"]
            .as_str()
            .unwrap()
            .contains("keeps the whole process alive")
    );
    assert!(has_evidence(sleep, &format!("/proc/{pid}/task/{tid}/stat state"), "D"));
    assert!(has_evidence(
        finding(&d, "frozen_cgroup_v1"),
        &format!("/proc/{pid}/task/{tid}/cgroup freezer"),
        "afterlife-test-why-thread"
    ));
    // The process's state is its main thread's, which waits for the next
    // command (it may be caught just running): never the worker's D.
    let state = d["state"]["code"].as_str().unwrap();
    assert!(["S", "R"].contains(&state), "{state}");
}

#[test]
fn core_dump_in_progress() {
    // The dump waits for every thread to stop; a frozen thread never does,
    // so the dump stays in progress until the test thaws it. core_pattern is
    // left as it is: whatever it names, the wait comes first.
    let Some((_scratch, cgroup, mut fixture)) = threaded_with_frozen_worker("core") else {
        return;
    };
    let pid = fixture.pid;
    fixture.say("abort");
    let dumping = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| s.contains("CoreDumping:\t1"))
    });
    if !dumping {
        end(&mut fixture.child, &cgroup);
        let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
        println!("skipped: no core dump started (core_pattern {pattern:?}, or core dumps disabled)");
        return;
    }
    let d = why_json(pid);
    end(&mut fixture.child, &cgroup);
    assert_eq!(kinds(&d)[0], "core_dumping", "{d:#}");
    let f = finding(&d, "core_dumping");
    assert!(has_evidence(f, &format!("/proc/{pid}/status CoreDumping"), "1"));
    assert!(f["explanation"].as_str().unwrap().contains("worker"));
    assert_eq!(d["sigkill"], "delayed");
}

#[test]
fn exiting_while_a_thread_is_held() {
    let Some((_scratch, cgroup, mut fixture)) = threaded_with_frozen_worker("exit") else {
        return;
    };
    let (pid, tid) = (fixture.pid, fixture.tid);
    fixture.say("exit");
    assert!(wait_until(Duration::from_secs(10), || state(pid) == Some('Z')));
    let d = why_json(pid);
    end(&mut fixture.child, &cgroup);
    assert_eq!(kinds(&d)[0], "exiting", "{d:#}");
    assert!(!kinds(&d).contains(&"zombie".to_string()));
    let f = finding(&d, "exiting");
    assert!(has_evidence(f, &format!("/proc/{pid}/stat flags"), "PF_EXITING"));
    assert!(f["title"].as_str().unwrap().contains(&format!("{tid} (worker")));
    assert!(kinds(&d).contains(&"uninterruptible_sleep".to_string()));
}

#[test]
fn vfork_parent_waits_for_its_child() {
    // posix_spawn runs its file actions in the vfork child before exec:
    // opening a FIFO with no writer keeps the child there, and the parent
    // waiting in clone(CLONE_VFORK).
    let scratch = Scratch::new("why-vfork");
    let fifo = scratch.fifo("hold");
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import os, sys\npid = os.posix_spawn('/bin/true', ['true'], os.environ, file_actions=[(os.POSIX_SPAWN_OPEN, 3, sys.argv[1], os.O_RDONLY, 0)])\nos.waitpid(pid, 0)",
        ])
        .arg(&fifo)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut vfork_child = 0;
    let ready = wait_until(Duration::from_secs(10), || {
        vfork_child = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
            .unwrap_or(0);
        vfork_child > 0
            && state(pid) == Some('D')
            && std::fs::read_to_string(format!("/proc/{vfork_child}/wchan")).is_ok_and(|w| w.contains("partner"))
    });
    let d = ready.then(|| why_json(pid));
    // Release the child: it execs, the parent resumes and reaps it.
    let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
    let _ = child.wait();
    assert!(ready, "the vfork child did not block on the FIFO");
    let d = d.unwrap();
    assert_eq!(kinds(&d)[0], "vfork_parent", "{d:#}");
    let f = finding(&d, "vfork_parent");
    assert!(has_evidence(f, &format!("kcmp(KCMP_VM, {pid}, {vfork_child})"), "0"));
    assert!(f["next_step"].as_str().unwrap().contains(&vfork_child.to_string()));
    assert_eq!(d["sigkill"], "ends_it");
}

#[test]
fn a_killable_wait_in_d_is_said_to_end_on_sigkill() {
    // A FUSE request waiting for a connection that was never initialised:
    // state D, but in wait_event_killable (fuse_get_req), so SIGKILL ends
    // it at once, as kill -9 shows.
    let scratch = Scratch::new("why-killable");
    let Some(fuse) = FuseMount::start(FUSE_NEVER_READY, &scratch, "mnt") else {
        return;
    };
    let mut client = stat_client(&fuse.mount_point().join("x"));
    let pid = client.id() as i32;
    let asleep = sleeps_in(pid, "fuse_get_req");
    let d = asleep.then(|| why_json(pid));
    // SIGTERM, which stat neither catches nor blocks, is fatal: it ends a
    // killable wait as SIGKILL does.
    let process = Process::from_child(&client).unwrap();
    let _ = process.signal(Signal::TERM);
    let ended = wait_until(Duration::from_secs(5), || client.try_wait().is_ok_and(|s| s.is_some()));
    if !ended {
        let _ = client.kill();
    }
    drop(fuse);
    let _ = client.wait();
    assert!(asleep, "the FUSE client did not wait in fuse_get_req");
    assert!(ended, "SIGTERM did not end the killable wait");
    let d = d.unwrap();
    assert_eq!(d["sigkill"], "ends_it", "{d:#}");
    let text = d.to_string();
    assert!(
        text.contains("This particular wait is killable: SIGKILL ends it, and so does any signal that would kill"),
        "{d:#}"
    );
    // As root, with BTF, the kernel's own state says so.
    let f = finding(&d, "uninterruptible_sleep");
    assert!(
        has_evidence(f, "task->__state (BPF task iterator)", "TASK_KILLABLE (0x"),
        "{d:#}"
    );
}

#[test]
fn uninterruptible_sleep_on_a_fuse_file_names_the_server() {
    // The classic "kill -9 does nothing": a process whose FUSE request the
    // server has read but not answered. The wait is interruptible until a
    // signal comes; after SIGKILL the kernel waits for the answer
    // uninterruptibly (fuse request_wait_answer), with SIGKILL pending.
    let scratch = Scratch::new("why-fuse");
    // A second FUSE server, started first (so a walk of /proc meets it
    // first), serves another mount: it must not be named.
    let Some(decoy) = FuseMount::start(FUSE_SERVER, &scratch, "decoy") else {
        return;
    };
    let Some(mut fuse) = FuseMount::start(FUSE_SERVER, &scratch, "mnt") else {
        return;
    };
    let mount_point = fuse.mount_point().to_path_buf();
    let held = mount_point.join("hold");
    let mut client = stat_client(&held);
    let pid = client.id() as i32;
    assert_eq!(fuse.next_line(), "held");
    let process = Process::from_child(&client).unwrap();
    process.signal(Signal::KILL).unwrap();
    // D, and asleep: the wchan reads 0 until the task has left its CPU.
    let in_d = wait_until(Duration::from_secs(10), || {
        state(pid) == Some('D') && std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.trim() != "0")
    });
    let d = in_d.then(|| why_json(pid));
    let seen = format!(
        "state {:?}, wchan {:?}",
        state(pid),
        std::fs::read_to_string(format!("/proc/{pid}/wchan"))
    );
    let server = fuse.server.id() as i32;
    let decoy_server = decoy.server.id() as i32;
    drop(fuse);
    drop(decoy);
    let _ = client.wait();
    assert!(in_d, "the FUSE client did not enter D and fall asleep: {seen}");
    let d = d.unwrap();
    assert_eq!(d["sigkill"], "delayed");
    let f = finding(&d, "uninterruptible_sleep");
    assert!(
        has_evidence(f, "task->__state (BPF task iterator)", "TASK_UNINTERRUPTIBLE (0x2)"),
        "{d:#}"
    );
    assert!(
        has_evidence(f, &format!("/proc/{pid}/task/{pid}/wchan"), "request_wait_answer"),
        "{d:#}"
    );
    assert!(
        has_evidence(f, &format!("/proc/{pid}/task/{pid}/stack"), "fuse"),
        "{d:#}"
    );
    assert!(
        has_evidence(
            f,
            &format!("/proc/{pid}/task/{pid}/syscall path argument"),
            &held.display().to_string()
        ),
        "{d:#}"
    );
    assert!(f["evidence"].as_array().unwrap().iter().any(|e| {
        e["value"]
            .as_str()
            .is_some_and(|v| v.ends_with("type fuse.afterlifetest"))
    }));
    // The kernel says which connection each /dev/fuse fd serves (kernels
    // since 2025 print fuse_connection in its fdinfo); before, every holder
    // is listed and none is named as the one.
    let says_connection = f["evidence"].as_array().unwrap().iter().any(|e| {
        e["source"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("/proc/{server}/fdinfo/")) && s.ends_with(" fuse_connection"))
    });
    if !says_connection {
        println!("this kernel does not print fuse_connection: the servers are candidates");
        assert!(f.to_string().contains(&format!("/proc/{server}/fd/")), "{d:#}");
        assert!(f["explanation"].as_str().unwrap().contains("one of the"), "{d:#}");
        return;
    }
    assert!(
        !f.to_string().contains(&format!("/proc/{decoy_server}/")),
        "the decoy server was named: {d:#}"
    );
    let explanation = f["explanation"].as_str().unwrap();
    assert!(
        explanation.contains(&format!("the FUSE server {server} (python3")),
        "{explanation}"
    );
    assert!(
        f["next_step"]
            .as_str()
            .unwrap()
            .contains(&format!("umount -l {}", mount_point.display()))
    );
    assert!(has_evidence(
        finding(&d, "signals_pending"),
        &format!("/proc/{pid}/status ShdPnd"),
        "SIGKILL"
    ));
}

#[test]
fn status_says_a_kernel_thread_takes_no_signals() {
    // kthreadd, or any child of it: a kernel thread, asleep (S or I).
    let Some(pid) = std::fs::read_to_string("/proc/2/stat")
        .ok()
        .filter(|s| s.contains("(kthreadd)"))
        .map(|_| 2)
    else {
        println!("skipped: no kthreadd in this PID namespace");
        return;
    };
    let text = stdout(&run(&["status", &pid.to_string()]));
    assert!(
        text.contains("a kernel thread: signals from user space do not end it"),
        "{text}"
    );
    assert!(!text.contains("signals are delivered at once"), "{text}");
}
