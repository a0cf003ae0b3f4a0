//! `afterlife run` under each containment level, forced in turn: escaped
//! daemons are found, described and ended; killing afterlife itself with
//! SIGKILL takes the whole tree with it; `--keep-leftovers` leaves them.

use crate::common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Scratch, afterlife, kill_pids, pid_dead, pids_in, stderr, wait_until};

const LEVELS: [&str; 3] = ["cgroup", "pidns", "subreaper"];

/// Whether this machine can do `level`; prints why not otherwise.
fn available(level: &str) -> bool {
    let output = afterlife()
        .args(["run", "-q", "--containment", level, "--", "true"])
        .output()
        .unwrap();
    if output.status.code() == Some(125) && stderr(&output).contains("cannot set up") {
        assert!(
            !(common::is_root() && level != "cgroup"),
            "root must be able to use {level}: {}",
            stderr(&output)
        );
        println!("skipped: {level} containment: {}", stderr(&output).trim());
        return false;
    }
    true
}

/// A python command: listens on a TCP port with an inheritable socket, then
/// double-forks a `setsid` daemon holding it, which writes its PID to
/// `pidfile`; the main process prints the port and exits 0.
fn daemon_script(pidfile: &Path) -> Vec<String> {
    let script = r#"
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
s.set_inheritable(True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        # Our PID namespace, our PID in it and our start time.
        start = open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]
        with open(sys.argv[1], "a") as f:
            f.write("%s %d %s\n" % (os.readlink("/proc/self/ns/pid"), os.getpid(), start))
        time.sleep(60)
    os._exit(0)
os.wait()
while not open(sys.argv[1]).read().strip():
    time.sleep(0.01)
print(s.getsockname()[1], s.fileno(), flush=True)
"#;
    std::fs::write(pidfile, "").unwrap();
    vec![
        "python3".into(),
        "-c".into(),
        script.into(),
        pidfile.display().to_string(),
    ]
}

#[test]
fn each_level_ends_and_reports_a_double_forked_setsid_daemon() {
    for level in LEVELS {
        if !available(level) {
            continue;
        }
        let scratch = Scratch::new(&format!("contain-{level}"));
        let pidfile = scratch.path().join("pids");
        let output = afterlife()
            .args([
                "run",
                "--containment",
                level,
                "--grace",
                "2",
                "--report-json",
                "/dev/stderr",
                "--",
            ])
            .args(daemon_script(&pidfile))
            .output()
            .unwrap();
        kill_pids(&pids_in(&pidfile));
        let daemon = common::pid_lines(&pidfile);
        assert_eq!(output.status.code(), Some(0), "{level}: {}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        let mut words = text.split_whitespace();
        let port = words.next().expect("port printed");
        let socket_fd: i64 = words.next().unwrap().parse().unwrap();
        let err = stderr(&output);
        let json_start = err.find('{').expect("JSON report on stderr");
        let json: serde_json::Value =
            crate::common::schema::parse("run", &err[json_start..err.rfind('}').unwrap() + 1]);
        assert_eq!(json["containment"], level);
        let leftovers = json["leftovers"].as_array().unwrap();
        assert_eq!(leftovers.len(), 1, "{level}: {leftovers:?}");
        let leftover = &leftovers[0];
        // The daemon wrote its namespace's PID; the report has both.
        let own: i32 = daemon[0].split_whitespace().nth(1).unwrap().parse().unwrap();
        if json["pid_namespace"] == true {
            assert_eq!(leftover["ns_pid"], own, "{level}: {leftover:#}");
        } else {
            assert_eq!(leftover["ns_pid"], serde_json::Value::Null, "{level}");
            assert_eq!(leftover["pid"], own, "{level}");
        }
        let how: Vec<&str> = leftover["escaped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["how"].as_str().unwrap())
            .collect();
        assert!(how.contains(&"new_session"), "{level}: {how:?}");
        assert!(how.contains(&"orphaned"), "{level}: {how:?}");
        let inherited = leftover["escaped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["how"] == "inherited_fds")
            .expect("inherited fds reported");
        assert!(
            inherited["fds"].as_array().unwrap().contains(&socket_fd.into()),
            "{level}"
        );
        let socket = leftover["fds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fd"] == socket_fd)
            .expect("the socket fd is listed");
        assert_eq!(socket["cloexec"], false);
        assert_eq!(socket["socket"]["state"], "listen");
        assert_eq!(socket["socket"]["local"], format!("127.0.0.1:{port}"));
        // Ended by SIGTERM, as afterlife reaped it; or, where the keeper
        // of a PID namespace reaped it, ended after SIGTERM.
        let fate = leftover["fate"]["fate"].as_str().unwrap_or_default();
        assert!(fate == "ended" || fate == "ended_after", "{level}: {fate}");
        assert_eq!(leftover["fate"]["signal"]["name"], "SIGTERM");
        assert!(common::line_dead(&daemon[0]), "{level}: the daemon still runs");
        assert!(err.contains("1 leftover ended"), "{level}: {err}");
    }
}

#[test]
fn sigkilling_afterlife_ends_the_tree_within_a_second_at_each_level() {
    for level in LEVELS {
        if !available(level) {
            continue;
        }
        let scratch = Scratch::new(&format!("sigkill-{level}"));
        let pidfile = scratch.path().join("pids");
        std::fs::write(&pidfile, "").unwrap();
        let script = format!(
            // Each shell names itself (`common::NAME_ITSELF_SH`) before it
            // becomes `sleep`.
            "read -r s < /proc/self/stat; set -- $s; echo \"$(readlink /proc/self/ns/pid) $$ ${{22}}\" >> '{p}'; \
             ( setsid sh -c 'read -r s < /proc/self/stat; set -- $s; echo \"$(readlink /proc/self/ns/pid) $$ ${{22}}\" >> \"{p}\"; trap \"\" TERM HUP; exec sleep 60' & ); \
             sh -c 'read -r s < /proc/self/stat; set -- $s; echo \"$(readlink /proc/self/ns/pid) $$ ${{22}}\" >> \"{p}\"; exec sleep 60' & wait",
            p = pidfile.display()
        );
        let mut child = afterlife()
            .args(["run", "--containment", level, "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || pids_in(&pidfile).len() == 3),
            "{level}: the tree did not start"
        );
        let tree = pids_in(&pidfile);
        child.kill().unwrap();
        child.wait().unwrap();
        let gone = wait_until(Duration::from_secs(1), || tree.iter().all(|&p| pid_dead(p)));
        kill_pids(&tree);
        assert!(gone, "{level}: the tree outlived afterlife");
        if level == "cgroup" {
            let leaf_gone = wait_until(Duration::from_secs(3), || {
                !std::fs::read_dir("/sys/fs/cgroup/unified")
                    .map(|d| {
                        d.flatten()
                            .any(|e| e.file_name() == format!("afterlife-{}", child.id()).as_str())
                    })
                    .unwrap_or(false)
            });
            assert!(leaf_gone, "the keeper did not remove the leaf");
        }
    }
}

#[test]
fn keep_leftovers_lists_them_and_leaves_them_running() {
    for level in LEVELS {
        if !available(level) {
            continue;
        }
        let scratch = Scratch::new(&format!("keep-{level}"));
        let pidfile = scratch.path().join("pids");
        // The kept daemon holds our stdout and stderr: they go to files, not
        // pipes we would wait on.
        let report = scratch.path().join("report.json");
        let err_file = scratch.path().join("stderr");
        let status = afterlife()
            .args(["run", "--containment", level, "--keep-leftovers", "--report-json"])
            .arg(&report)
            .arg("--")
            .args(daemon_script(&pidfile))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err_file).unwrap())
            .status()
            .unwrap();
        let daemon = pids_in(&pidfile);
        let alive = !pid_dead(daemon[0]);
        kill_pids(&daemon);
        assert_eq!(status.code(), Some(0));
        assert!(alive, "{level}: the kept leftover was ended");
        let err = std::fs::read_to_string(&err_file).unwrap();
        let json: serde_json::Value = crate::common::schema::parse("run", &std::fs::read_to_string(&report).unwrap());
        assert_eq!(json["leftovers"][0]["fate"]["fate"], "kept");
        assert!(err.contains("1 leftover still running"), "{err}");
        if let Some(leaf) = json["cgroup"].as_str() {
            // The leaf stays while the leftover runs; remove it once empty.
            // (Another test's afterlife, starting meanwhile, may remove it
            // first: a stale leaf of a gone afterlife, now empty.)
            let removed = wait_until(Duration::from_secs(3), || {
                std::fs::remove_dir(leaf).is_ok() || !Path::new(leaf).exists()
            });
            assert!(removed, "cannot remove {leaf}");
        }
    }
}

#[test]
fn a_forced_level_is_used_and_an_impossible_one_fails_with_125() {
    // A forced level that works is the one used.
    for level in LEVELS {
        if !available(level) {
            continue;
        }
        let output = afterlife()
            .args([
                "run",
                "--containment",
                level,
                "--report-json",
                "/dev/stdout",
                "--",
                "true",
            ])
            .output()
            .unwrap();
        let json: serde_json::Value = crate::common::schema::parse("run", &String::from_utf8_lossy(&output.stdout));
        assert_eq!(json["containment"], level);
    }
    // Without privileges (setpriv drops every capability) a PID namespace
    // cannot be made: forcing it fails with 125 and says why.
    if !common::is_root() {
        println!("skipped: dropping privileges needs root");
        return;
    }
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["run", "--containment", "pidns", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot set up pidns containment"),
        "{}",
        stderr(&output)
    );
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--json", "run", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = crate::common::schema::parse("run", &stderr(&output));
    assert_eq!(json["containment"], "subreaper", "auto falls back to the subreaper");
}

/// Waiting out the leftovers' grace period sleeps in poll(2) on
/// `cgroup.events` instead of spinning: over a second of grace, afterlife
/// and the processes it reaps use a small part of a second of CPU.
#[test]
fn waiting_out_the_grace_period_does_not_spin() {
    if !available("cgroup") {
        return;
    }
    // The main process ignores TERM, forks a daemon that inherits that, and
    // exits: the daemon is a leftover that outlives its grace period.
    let daemon = "import os, signal, sys, time\n\
                  signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
                  if os.fork():\n    sys.exit(0)\n\
                  os.setsid()\n\
                  time.sleep(30)\n";
    // Reaped below with wait4(2), which also gives its CPU time.
    #[allow(clippy::zombie_processes)]
    let child = afterlife()
        .args([
            "run",
            "-q",
            "--containment",
            "cgroup",
            "--grace",
            "1",
            "--",
            "python3",
            "-c",
            daemon,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: wait4 on our own child, into a struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are locals that outlive the call; `pid`
    // is a child this test started and has not reaped.
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    assert!(libc::WIFEXITED(status), "afterlife ended with wait status {status}");
    assert!(cpu < 0.4, "afterlife used {cpu:.3} s of CPU over a 1 s grace period");
}

/// A plain background child stays in the command's process group: under
/// every containment it is an orphan, never one that called `setpgid`
/// (in a PID namespace the command is in its init's group, not
/// afterlife's, whose ID means nothing there).
#[test]
fn a_background_child_has_not_escaped_by_setpgid() {
    for level in ["pidns", "cgroup", "subreaper"] {
        if !available(level) {
            continue;
        }
        let output = afterlife()
            .args(["run", "-q", "--containment", level, "--report-json"])
            .arg("/dev/stderr")
            .args(["--", "sh", "-c", "sleep 300 & sleep 0.2; exit 0"])
            .output()
            .unwrap();
        let json = crate::common::schema::parse("run", &stderr(&output));
        let leftovers = json["leftovers"].as_array().unwrap();
        assert_eq!(leftovers.len(), 1, "{level}: {json}");
        let how: Vec<&str> = leftovers[0]["escaped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["how"].as_str().unwrap())
            .collect();
        assert!(how.contains(&"orphaned"), "{level}: {how:?}");
        assert!(!how.contains(&"new_process_group"), "{level}: {how:?}");
        assert!(!how.contains(&"new_session"), "{level}: {how:?}");
    }
}

/// A child of the command that moves itself into another cgroup (the
/// test's own leaf, `$JAIL`), out of reach of the run's `cgroup.kill`:
/// the script waits until the move is done and the moved process runs
/// `sleep`, then exits 0.
const MOVES_OUT: &str = r#"sh -c 'echo $$ > "$JAIL/cgroup.procs" && exec sleep 60' &
i=0
until p=$(head -n 1 "$JAIL/cgroup.procs") && [ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ]; do
    sleep 0.01; i=$((i+1)); [ $i -lt 1000 ] || exit 9
done"#;

/// The test's leaf for [`MOVES_OUT`], or why there is none.
fn jail_for_moves() -> Option<common::kill::Jail> {
    if !available("cgroup") {
        return None;
    }
    match common::kill::Jail::required("run-moved-out") {
        Ok(jail) => Some(jail),
        Err(e) => {
            println!("skipped: no cgroup of the test's own: {e}");
            None
        }
    }
}

#[test]
fn a_process_moved_into_another_cgroup_is_a_leftover_and_ended() {
    let Some(jail) = jail_for_moves() else {
        return;
    };
    let cgroup = jail.cgroup.as_ref().unwrap();
    let cgroup_relative = cgroup.relative().to_string();
    let output = afterlife()
        .args([
            "run",
            "--containment",
            "cgroup",
            "--fail-on-leftovers",
            "--grace",
            "2",
            "--timeout",
            "20",
        ])
        .args(["--report-json", "/dev/stderr", "--", "sh", "-c", MOVES_OUT])
        .env("JAIL", cgroup.path())
        .output()
        .unwrap();
    let err = stderr(&output);
    let left = cgroup.procs().unwrap_or_default();
    // Drop kills what is left in the jail.
    drop(jail);
    assert_eq!(output.status.code(), Some(121), "{err}");
    assert!(left.is_empty(), "still running in the other cgroup: {left:?}; {err}");
    let json_start = err.find('{').expect("JSON report on stderr");
    let json: serde_json::Value = common::schema::parse("run", &err[json_start..err.rfind('}').unwrap() + 1]);
    let leftovers = json["leftovers"].as_array().unwrap();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    assert_eq!(leftovers[0]["name"], "sleep");
    let moved = leftovers[0]["escaped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["how"] == "other_cgroup")
        .expect("the move is named");
    assert!(moved["cgroup"].as_str().unwrap() == cgroup_relative, "{moved}");
    assert_eq!(leftovers[0]["fate"]["fate"], "ended", "{err}");
    assert!(err.contains("another cgroup"), "{err}");
}

/// The same when the other cgroup's name is not UTF-8 (cgroupfs takes any
/// byte but NUL, `/` and a newline): the move is still seen, and the
/// process is a leftover, not missed.
#[test]
fn a_process_moved_into_a_cgroup_whose_name_is_not_utf8_is_a_leftover() {
    use std::os::unix::ffi::OsStrExt;
    let Some(jail) = jail_for_moves() else {
        return;
    };
    let other = jail
        .cgroup
        .as_ref()
        .unwrap()
        .path()
        .join(std::ffi::OsStr::from_bytes(b"moved-\xff"));
    std::fs::create_dir(&other).unwrap();
    let output = afterlife()
        .args([
            "run",
            "--containment",
            "cgroup",
            "--fail-on-leftovers",
            "--grace",
            "2",
            "--timeout",
            "20",
            "--",
            "sh",
            "-c",
            MOVES_OUT,
        ])
        .env("JAIL", &other)
        .output()
        .unwrap();
    let left = std::fs::read_to_string(other.join("cgroup.procs")).unwrap_or_default();
    if !left.is_empty() {
        let _ = std::fs::write(other.join("cgroup.kill"), "1");
        wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(other.join("cgroup.procs")).is_ok_and(|procs| procs.is_empty())
        });
    }
    let _ = std::fs::remove_dir(&other);
    drop(jail);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(121), "{err}");
    assert!(left.is_empty(), "still running in the other cgroup: {left:?}; {err}");
    assert!(err.contains("another cgroup"), "{err}");
}

/// The same from inside a PID namespace that afterlife does not lead
/// (a container's): there the leaf has no namespace of its own, and
/// nothing but afterlife ends what left it.
#[test]
fn a_process_moved_out_of_a_leaf_without_a_pid_namespace_is_ended() {
    if !common::is_root() {
        println!("skipped: unshare(CLONE_NEWPID) needs root");
        return;
    }
    let Some(jail) = jail_for_moves() else {
        return;
    };
    let cgroup = jail.cgroup.as_ref().unwrap();
    // The namespace's init is the shell, which outlives afterlife: the
    // moved process would run on until it exits.
    let script = r#""$AFTERLIFE" run -q --containment cgroup --fail-on-leftovers --grace 2 --timeout 20 -- sh -c "$MOVES_OUT"
echo "exit $?"
echo "left $(cat "$JAIL/cgroup.procs" | wc -l)""#;
    let output = std::process::Command::new("unshare")
        .args(["--fork", "--pid", "--mount-proc", "sh", "-c", script])
        .env("AFTERLIFE", env!("CARGO_BIN_EXE_afterlife"))
        .env("MOVES_OUT", MOVES_OUT)
        .env("JAIL", cgroup.path())
        .stdin(Stdio::null())
        .output();
    drop(jail);
    let Ok(output) = output else {
        println!("skipped: no unshare(1)");
        return;
    };
    let out = String::from_utf8_lossy(&output.stdout);
    if !out.contains("exit ") {
        println!("skipped: unshare failed: {}", stderr(&output).trim());
        return;
    }
    assert!(out.contains("exit 121"), "{out}{}", stderr(&output));
    assert!(out.contains("left 0"), "{out}{}", stderr(&output));
}

/// A run inside another run's PID namespace (as root where every mount is
/// shared, made so here) makes its leaf below the outer run's leaf, where
/// the outer `cgroup.kill` reaches it.
#[test]
fn a_nested_run_makes_its_leaf_inside_the_outer_leaf() {
    if !available("cgroup") {
        return;
    }
    let output = shared_mounts_or_plain()
        .args(["run", "--containment", "cgroup", "--report-json", "/dev/stderr", "--"])
        .args([env!("CARGO_BIN_EXE_afterlife"), "run", "--containment", "cgroup"])
        .args(["--report-json", "/dev/stdout", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let inner: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let err = stderr(&output);
    let outer: serde_json::Value = serde_json::from_str(&err[err.find('{').unwrap()..]).unwrap();
    assert_eq!(outer["pid_namespace"], common::is_root(), "{outer}");
    let outer_leaf = outer["cgroup"].as_str().unwrap();
    let inner_leaf = inner["cgroup"].as_str().unwrap();
    assert!(
        inner_leaf.starts_with(&format!("{outer_leaf}/")),
        "inner {inner_leaf} outside outer {outer_leaf}"
    );
}

/// Inside a cgroup namespace whose cgroup v2 mount is the host's (its root
/// `/..` there), `/proc/self/cgroup` reads `/` and names no directory
/// under the mount: no leaf is made at the hierarchy's root, outside
/// afterlife's own cgroup. `auto` takes the next containment, and
/// `--containment cgroup` says why it cannot.
#[test]
fn a_cgroup_namespace_over_the_hosts_mount_makes_no_leaf_at_the_root() {
    if !common::is_root() || !available("cgroup") {
        println!("skipped: needs root and cgroup containment");
        return;
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let Some(mount) = mountinfo
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .and_then(|l| l.split(' ').nth(4))
    else {
        println!("skipped: no cgroup v2 mount");
        return;
    };
    // A cgroup of the test's own, the namespace's root; removed at the end.
    let dir = Path::new(mount).join(format!(
        "afterlife-test-cgns-{}-{}",
        std::process::id(),
        common::unique()
    ));
    std::fs::create_dir(&dir).unwrap();
    let script = format!(
        "echo $$ > {procs:?} && exec unshare --cgroup sh -c '\"$0\" run -q --report-json /dev/stdout -- true; \"$0\" run -q --containment cgroup -- true' \"$0\"",
        procs = dir.join("cgroup.procs").to_str().unwrap()
    );
    let output = std::process::Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_afterlife")])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir(&dir);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the first run's report");
    assert_ne!(report["containment"], "cgroup", "{report}");
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(err.contains("shows the hierarchy from /.., not from the root"), "{err}");
}

/// `sh -c SCRIPT` in a mount namespace of its own whose mounts have the
/// propagation `propagation` (`unshare --mount --propagation`), with the
/// afterlife under test as `$AFTERLIFE`; `None` (and a printed reason)
/// where that cannot be made.
fn in_mount_namespace(propagation: &str, script: &str) -> Option<std::process::Output> {
    if !common::is_root() {
        println!("skipped: a mount namespace of the test's own needs root");
        return None;
    }
    let output = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", propagation, "sh", "-c", script])
        .env("AFTERLIFE", env!("CARGO_BIN_EXE_afterlife"))
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if !stderr(&output).contains("unshare failed") => Some(output),
        other => {
            println!("skipped: unshare --mount: {other:?}");
            None
        }
    }
}

/// Where every mount is shared, the command of a run with a PID namespace
/// of its own gets a /proc of that namespace: `pgrep` and `pkill` inside
/// find the PIDs that `kill(2)` takes there (with the machine's /proc,
/// `pkill` found its child under a PID that names no process in the
/// namespace, and signalled nothing). What it mounts still reaches the
/// namespace the run was started in, and outlives the command.
#[test]
fn where_every_mount_is_shared_the_command_gets_a_proc_of_its_own() {
    if !available("pidns") {
        return;
    }
    let scratch = Scratch::new("own-proc-shared");
    let dir = scratch.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    for level in ["cgroup", "pidns"] {
        if level == "cgroup" && !available("cgroup") {
            continue;
        }
        let script = format!(
            r#""$AFTERLIFE" run -q --containment {level} -- sh -c '{SLEEPER_PKILLED}'
"$AFTERLIFE" run -q --containment {level} -- mount -t tmpfs afterlife-test '{dir}'
mountpoint -q '{dir}' && echo kept && umount '{dir}'"#,
            SLEEPER_PKILLED = SLEEPER_PKILLED.replace('\'', r"'\''"),
            dir = dir.display()
        );
        let Some(output) = in_mount_namespace("shared", &script) else {
            return;
        };
        let out = String::from_utf8_lossy(&output.stdout);
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(
            words.get(1),
            Some(&"143"),
            "pkill did not end the child ({level}): {out}{}",
            stderr(&output)
        );
        // `readlink /proc/self` runs as a child of the shell, in the namespace.
        let own: i32 = words[3].parse().unwrap();
        assert!(own < 100, "/proc/self is not of the namespace ({level}): {out}");
        assert!(
            out.contains("kept"),
            "the command's mount was lost ({level}): {out}{}",
            stderr(&output)
        );
    }
}

/// Where a mount is private (most containers, and hosts that make theirs
/// so), the command keeps the mount namespace and /proc it had: a mount
/// it makes on a private mount would go with a namespace of its own. It
/// then gets no PID namespace either: the machine's /proc would take each
/// PID it knows (`$$`, a child's) for another process.
#[test]
fn where_a_mount_is_private_the_command_keeps_its_mounts_and_proc() {
    if !available("pidns") {
        return;
    }
    let scratch = Scratch::new("own-proc-private");
    let dir = scratch.path().join("mnt");
    std::fs::create_dir(&dir).unwrap();
    let script = format!(
        r#""$AFTERLIFE" run -q -- mount -t tmpfs afterlife-test '{dir}'
mountpoint -q '{dir}' && echo kept && umount '{dir}'
"$AFTERLIFE" run -q -- readlink /proc/self/ns/mnt
readlink /proc/self/ns/mnt
"$AFTERLIFE" run -q --report-json /dev/stdout -- sh -c 'cat /proc/$$/comm' | grep -o '^sh$\|"pid_namespace": [a-z]*'"#,
        dir = dir.display()
    );
    let Some(output) = in_mount_namespace("private", &script) else {
        return;
    };
    let out = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"kept"),
        "the command's mount was lost: {out}{}",
        stderr(&output)
    );
    assert_eq!(
        lines.get(1),
        lines.get(2),
        "the command got a mount namespace of its own: {out}"
    );
    // Nor a PID namespace whose PIDs the machine's /proc would read as
    // other processes: its own PID leads to itself.
    assert_eq!(lines.get(3), Some(&"sh"), "/proc/$$ is another process: {out}");
    assert_eq!(lines.get(4), Some(&"\"pid_namespace\": false"), "{out}");
}

/// A shell that starts `sleep`, finds it with `pgrep` once it has exec'd
/// (for at most a few seconds), ends it with `pkill`, and prints how it
/// ended, its own PID as /proc names it, and the child's.
const SLEEPER_PKILLED: &str = r#"sleep 60 & i=0
while [ $i -lt 3000 ] && ! pgrep -x -P $$ sleep >/dev/null; do i=$((i + 1)); done
pkill -x -P $$ sleep; wait $!; echo "status $? self $(readlink /proc/self) child $!""#;

/// How many procfs mounts this process's mount namespace shows.
fn proc_mounts() -> usize {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo.lines().filter(|l| l.contains(" - proc ")).count()
}

/// The report of `run --fail-on-leftovers --report-json /dev/stdout` of a
/// command that leaves a `sleep` behind, run by `sh -c` under `outer`, and
/// the inner run's exit code.
fn leaving_a_sleep_under(outer: &mut std::process::Command) -> (i32, serde_json::Value, String) {
    // Popen returns once its child has exec'd (it waits on a pipe that
    // closes on exec): the leftover is `sleep` by then, not a forked copy.
    let inner = format!(
        "{bin} run -q --fail-on-leftovers --report-json /dev/stdout -- python3 -c 'import subprocess; subprocess.Popen([\"sleep\", \"60\"])'; echo \"inner $?\"",
        bin = env!("CARGO_BIN_EXE_afterlife")
    );
    let output = outer.args(["sh", "-c", &inner]).stdin(Stdio::null()).output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = stderr(&output);
    let at = out.rfind("inner ").unwrap_or_else(|| panic!("{out}{err}"));
    let code = out[at + 6..].trim().parse().unwrap();
    let report = serde_json::from_str(&out[..at]).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, report, format!("{out}{err}"))
}

fn assert_one_sleep_left(report: &serde_json::Value) {
    let leftovers = report["leftovers"].as_array().unwrap();
    assert_eq!(leftovers.len(), 1, "{report:#}");
    assert_eq!(leftovers[0]["name"], "sleep", "{report:#}");
    assert_eq!(
        leftovers[0]["command_line"],
        serde_json::json!(["sleep", "60"]),
        "{report:#}"
    );
}

/// A run inside another run's PID namespace finds, names and fails the
/// gate on what its command left, as a run of its own does.
#[test]
fn a_nested_run_finds_and_names_what_its_command_left() {
    if !common::is_root() || !available("cgroup") {
        println!("skipped: a nested run with a PID namespace needs root and cgroup containment");
        return;
    }
    let mut outer = shared_mounts_or_plain();
    outer.args(["run", "-q", "--"]);
    let (code, report, output) = leaving_a_sleep_under(&mut outer);
    assert_eq!(code, 121, "{output}");
    assert_one_sleep_left(&report);
}

/// afterlife, started as root in a mount namespace whose mounts are shared
/// (`unshare --mount --propagation shared`), where a run's command may
/// have a /proc of its PID namespace and so gets a namespace; as another
/// user, afterlife itself.
fn shared_mounts_or_plain() -> std::process::Command {
    if !common::is_root() {
        return afterlife();
    }
    let mut command = std::process::Command::new("unshare");
    command.args(["--mount", "--propagation", "shared", env!("CARGO_BIN_EXE_afterlife")]);
    command
}

/// Where /proc is another PID namespace's (`unshare --pid --fork` without
/// `--mount-proc`), `run` mounts a /proc of its own in a mount namespace of
/// its own: its own PIDs then name its processes, and what the command left
/// is found and named. Nothing reaches the machine's mounts.
#[test]
fn a_run_whose_proc_is_another_namespaces_mounts_its_own() {
    if !common::is_root() {
        println!("skipped: a PID namespace of the test's own needs root");
        return;
    }
    let mounts_before = proc_mounts();
    let mut outer = std::process::Command::new("unshare");
    outer.args(["--pid", "--fork"]);
    let (code, report, output) = leaving_a_sleep_under(&mut outer);
    assert_eq!(code, 121, "{output}");
    assert_one_sleep_left(&report);
    assert_eq!(proc_mounts(), mounts_before, "the machine's mounts changed");
}
