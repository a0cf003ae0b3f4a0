//! Why a process survives, staged for real: one that ignores SIGTERM while
//! a debugger traces it (`TracerPid`), and a `vfork` parent, in `D` until
//! its child execs or exits, that ignores SIGTERM (the wait is killable:
//! the ignored signal is the reason), with `--no-escalate` so that nothing
//! ends them.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::kill::{Tree, entry, kill_json};
use common::wait_until;

#[test]
fn a_traced_process_names_its_tracer() {
    let mut target = Command::new("sh")
        .arg("-c")
        .arg("trap '' TERM; while :; do sleep 0.05; done")
        .spawn()
        .unwrap();
    let pid = target.id();
    let mut tracer = Command::new("strace")
        .args(["-o", "/dev/null", "-p", &pid.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .expect("strace runs");
    assert!(
        wait_until(Duration::from_secs(10), || common::status_field(
            pid as i32,
            "TracerPid"
        )
        .is_some_and(|t| t == tracer.id().to_string())),
        "strace did not attach"
    );
    let (code, report, stderr) = kill_json(&["--no-escalate", "--grace", "300ms", &pid.to_string()]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let e = entry(&report, pid as i32);
    assert_eq!(e["outcome"], "alive", "{e:#}");
    assert_eq!(e["reason"], "traced", "{e:#}");
    assert_eq!(e["tracer_pid"], tracer.id(), "{e:#}");
    assert_eq!(e["tracer_name"], "strace", "{e:#}");
    let _ = tracer.kill();
    let _ = tracer.wait();
    let _ = target.kill();
    let _ = target.wait();
}

#[test]
fn a_killable_sleep_is_not_the_reason_but_the_ignored_signal_is() {
    // The vfork child only calls pause(2); its parent waits in the kernel,
    // in D state (killable), until the child execs or exits.
    let tree = Tree::start(
        "uninterruptible",
        r#"
python3 -c '
import ctypes, signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
libc = ctypes.CDLL(None)
if libc.vfork() == 0:
    while True:
        libc.pause()
' &
echo $!
echo ready
wait
"#,
    );
    let pid = tree.pids[0];
    assert!(
        // D alone could be a page fault during start-up, before TERM is
        // ignored; with its vfork child there, it is the vfork wait.
        wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") D "))
                && std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                    .is_ok_and(|c| !c.trim().is_empty())
        }),
        "the fixture did not reach vfork"
    );
    let (code, report, stderr) = kill_json(&["--no-escalate", "--grace", "300ms", &pid.to_string()]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let e = entry(&report, pid);
    assert_eq!(e["outcome"], "alive", "{e:#}");
    assert_eq!(e["state"]["code"], "D", "{e:#}");
    // A vfork parent's wait is killable: any fatal signal would end it at
    // once. What keeps it is that it ignores TERM, not its sleep.
    assert_eq!(e["reason"], "ignores", "{e:#}");
    // Its jail's cgroup.kill ends the pair on drop.
}

#[test]
fn the_init_of_a_child_pid_namespace_survives_as_such() {
    if !common::is_root() {
        eprintln!("skipped: a PID namespace needs root");
        return;
    }
    // `unshare -f` forks: its child is PID 1 of the new namespace and
    // execs sleep, which has no handler for TERM. Seen from here its PID
    // is another; its own namespace (NSpid) is what makes it an init.
    let tree = Tree::start(
        "namespace-init",
        r#"
unshare -fp --mount-proc sleep 200 &
u=$!
c=
i=0
until [ -n "$c" ] && [ "$(cat /proc/$c/comm 2>/dev/null)" = sleep ]; do
  i=$((i + 1))
  [ $i -lt 2000 ] || exit 1
  sleep 0.01
  read -r c < /proc/$u/task/$u/children
done
echo $c
echo ready
wait
"#,
    );
    let pid = tree.pids[0];
    assert_ne!(pid, 1);
    assert!(
        common::status_field(pid, "NSpid").is_some_and(|nspid| nspid.ends_with("\t1")),
        "not a namespace init: {:?}",
        common::status_field(pid, "NSpid")
    );
    let (code, report, stderr) = kill_json(&["--no-escalate", "--grace", "300ms", &pid.to_string()]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let e = entry(&report, pid);
    assert_eq!(e["outcome"], "alive", "{e:#}");
    assert_eq!(e["sent"][0]["name"], "SIGTERM", "{e:#}");
    assert_eq!(e["reason"], "namespace_init", "{e:#}");
    // Its jail's cgroup.kill ends it and unshare on drop.
}
