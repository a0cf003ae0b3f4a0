//! `holds` without privilege shows what it can see and says what it could
//! not read, without failing; processes vanishing mid-scan are skipped.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Py, is_root, run, stdout};

#[test]
fn an_unprivileged_user_sees_the_socket_and_is_told_what_it_could_not_read() {
    if !is_root() {
        println!("skipped: needs root to start a process of another user");
        return;
    }
    let py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
report(port=l.getsockname()[1])
finish()
"#,
    );
    let spec = format!("tcp:{}", py.num("port"));
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--color=never", "holds", &spec])
        .output()
        .expect("setpriv runs");
    let text = stdout(&output);
    // Root's fds are out of sight: nothing it can see holds it (exit 1), not an error.
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("tcp LISTEN 127.0.0.1:{}", py.num("port"))),
        "{text}"
    );
    assert!(
        text.contains("no readable process holds it: ")
            && text.contains("processes could not be read (permission denied)"),
        "{text}"
    );
    // Not that no process holds it: that is not known.
    assert!(!text.contains("no process holds it"), "{text}");
    assert!(text.contains("note: the fds of"), "{text}");
    // A kernel thread (kthreadd) has no fds: it is not among the unseen.
    let kthreadd = std::fs::read_to_string("/proc/2/stat").is_ok_and(|s| s.contains("(kthreadd)"));
    let unseen = text
        .lines()
        .find(|l| l.starts_with("note: the fds of"))
        .unwrap_or_default();
    assert!(!kthreadd || !unseen.contains(" 2,"), "{unseen}");
    // As root, the same search finds the holder.
    assert_eq!(run(&["holds", &spec]).status.code(), Some(0));
}

#[test]
fn processes_vanishing_mid_scan_are_skipped() {
    // A fixture that forks short-lived children as fast as it can.
    let py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
report(port=l.getsockname()[1])
import threading
stop = False
def churn():
    while not stop:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
t = threading.Thread(target=churn, daemon=True); t.start()
finish()
stop = True
"#,
    );
    let spec = format!("tcp:{}", py.num("port"));
    let start = Instant::now();
    let mut runs = 0;
    while start.elapsed() < Duration::from_secs(2) || runs < 5 {
        let output = run(&["holds", &spec]);
        assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
        let output = run(&["holds", "--deleted"]);
        assert!(matches!(output.status.code(), Some(0) | Some(1)));
        runs += 1;
        if runs >= 40 {
            break;
        }
    }
}

/// Where /proc is mounted with `hidepid=invisible`, root's processes are
/// not listed at all for another user: a socket they hold is said to be
/// held by no process afterlife can see, never taken for one in flight in
/// a unix socket queue, and the note names the hidepid.
#[test]
fn a_socket_held_by_processes_hidepid_hides_is_not_called_a_ghost() {
    if !is_root() {
        println!("skipped: needs root to mount a /proc with hidepid");
        return;
    }
    let py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
report(port=l.getsockname()[1])
finish()
"#,
    );
    let spec = format!("tcp:{}", py.num("port"));
    // A procfs instance of its own, in a mount namespace that ends with
    // the command (never a remount of the machine's /proc, whose options
    // are its superblock's).
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t proc -o hidepid=invisible proc /proc && \
             exec setpriv --reuid=65534 --regid=65534 --clear-groups -- \"$0\" --color=never \"$@\"",
        )
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["holds", &spec])
        .output()
        .expect("unshare runs");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no visible process holds it: /proc is mounted with hidepid=invisible"),
        "{text}"
    );
    assert!(!text.contains("in flight"), "{text}");
    assert!(text.contains("note: /proc is mounted with hidepid=invisible"), "{text}");
}

/// The root of a user namespace is no root outside it: the processes it
/// cannot read are the real root's to see, and the note says so.
#[test]
fn a_user_namespace_root_is_told_to_run_as_root() {
    if !is_root() {
        println!("skipped: needs root to start a process of another user");
        return;
    }
    let py = Py::start(
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
report(port=l.getsockname()[1])
finish()
"#,
    );
    let spec = format!("tcp:{}", py.num("port"));
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["unshare", "--user", "--map-root-user"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--color=never", "holds", &spec])
        .output()
        .expect("setpriv runs");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let note = text
        .lines()
        .find(|l| l.starts_with("note: the fds of"))
        .unwrap_or_default();
    assert!(note.ends_with("; run as root to see them"), "{text}");
}

/// A socket in a network namespace afterlife cannot find (its only
/// process is another user's, whose `ns/net` link is refused) is not said
/// to be bound nowhere: the answer is of the namespaces it found.
#[test]
fn a_socket_in_a_namespace_it_could_not_find_is_not_said_to_be_unbound() {
    if !is_root() {
        println!("skipped: needs root to start a process of another user");
        return;
    }
    let py = Py::start_with(
        &["unshare", "--net"],
        r#"
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
report(port=l.getsockname()[1])
finish()
"#,
    );
    let spec = format!("tcp:{}", py.num("port"));
    // As root: found, in its namespace.
    assert_eq!(run(&["holds", &spec]).status.code(), Some(0));
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--color=never", "holds", &spec])
        .output()
        .expect("setpriv runs");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(!text.contains("  nothing holds it:"), "{text}");
    assert!(
        text.contains(
            "  nothing holds it that afterlife could read: no socket is bound to it in the network namespaces it found"
        ),
        "{text}"
    );
}

/// `holds --deleted` without privilege cannot read root's processes: it
/// never says flatly that no deleted file is held open.
#[test]
fn deleted_files_unprivileged_say_what_could_not_be_read() {
    if !common::is_root() {
        eprintln!("skipped: switching to nobody needs root");
        return;
    }
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--color=never", "holds", "--deleted"])
        .output()
        .expect("setpriv runs");
    let text = stdout(&output);
    assert!(text.contains("note: the fds of"), "{text}");
    assert!(!text.contains("no deleted file is held open"), "{text}");
}

/// A process group whose leader /proc hides (hidepid) still has its
/// leader: `holds` does not say the leader has exited.
#[test]
fn a_group_leader_hidepid_hides_is_not_said_to_have_exited() {
    if !is_root() {
        println!("skipped: needs root to mount a /proc with hidepid");
        return;
    }
    let scratch = common::Scratch::new("holds-hidden-leader");
    let held = scratch.path().join("held");
    std::fs::write(&held, "x").unwrap();
    std::fs::set_permissions(scratch.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&held, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    // The shell (root, hidden from nobody) leads the group; the `sleep`
    // that holds the file is nobody's, in that group.
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t proc -o hidepid=invisible proc /proc || exit 1; \
             setpriv --reuid=65534 --regid=65534 --clear-groups -- sleep 20 < \"$1\" & P=$!; \
             i=0; until [ \"$(cat /proc/$P/comm)\" = sleep ] || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done; \
             setpriv --reuid=65534 --regid=65534 --clear-groups -- \"$0\" --color=never holds \"$1\"; \
             kill $P; wait $P",
        )
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .arg(&held)
        .output()
        .expect("unshare runs");
    let text = stdout(&output);
    assert!(text.contains(" sleep "), "the sleep holds it: {text}");
    assert!(!text.contains("which has exited"), "{text}");
}
