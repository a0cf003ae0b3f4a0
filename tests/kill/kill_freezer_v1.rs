//! A process the cgroup v1 freezer holds (`freezer.state` FROZEN) is not
//! sent SIGSTOP, as one the v2 freezer holds is not: frozen, it cannot
//! fork, and a SIGSTOP it cannot act on would only hold up the signal.
//! Surviving, it is said to be frozen, not asleep in a kernel call.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use afterlife::process::Process;
use afterlife::signal::Signal;
use common::kill::{entry, kill_json, kill_text, sent};

/// The mount point of the cgroup v1 freezer hierarchy, from our own
/// mountinfo (its root mounted), or why the test cannot run.
fn freezer_root() -> Result<PathBuf, &'static str> {
    if !common::is_root() {
        return Err("the cgroup v1 freezer needs root");
    }
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|_| "no /proc/self/mountinfo")?;
    text.lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let freezer = right.next()? == "cgroup" && right.nth(1)?.split(',').any(|o| o == "freezer");
            let point = fields.get(4)?;
            (freezer && fields.get(3) == Some(&"/")).then(|| PathBuf::from(point))
        })
        .ok_or("no cgroup v1 freezer hierarchy is mounted")
}

/// A frozen v1 freezer cgroup holding one `sleep`; on drop the sleep is
/// sent SIGKILL through its pidfd, the cgroup thawed, the sleep reaped and
/// the cgroup removed.
struct Frozen {
    dir: PathBuf,
    child: Child,
}

impl Frozen {
    fn new(root: &Path) -> Frozen {
        let name = format!("afterlife-test-kill-v1-{}-{}", std::process::id(), common::unique());
        let dir = root.join(name);
        std::fs::create_dir(&dir).expect("create the freezer cgroup");
        let child = Command::new("sleep").arg("60").stdin(Stdio::null()).spawn().unwrap();
        let frozen = Frozen { dir, child };
        std::fs::write(frozen.dir.join("cgroup.procs"), frozen.child.id().to_string()).unwrap();
        std::fs::write(frozen.dir.join("freezer.state"), "FROZEN").unwrap();
        let state = || std::fs::read_to_string(frozen.dir.join("freezer.state")).unwrap_or_default();
        assert!(common::wait_until(Duration::from_secs(10), || state().trim() == "FROZEN"));
        frozen
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Ok(process) = Process::from_child(&self.child) {
            let _ = process.signal(Signal::KILL);
        }
        let _ = std::fs::write(self.dir.join("freezer.state"), "THAWED");
        let _ = self.child.wait();
        let _ = common::wait_until(Duration::from_secs(5), || std::fs::remove_dir(&self.dir).is_ok());
    }
}

/// The freezer's hierarchy, or `None` after saying why the test is skipped.
fn freezer_or_skip() -> Option<PathBuf> {
    freezer_root().map_err(|reason| println!("skipped: {reason}")).ok()
}

#[test]
fn a_member_the_v1_freezer_holds_is_not_stopped() {
    let Some(root) = freezer_or_skip() else { return };
    let frozen = Frozen::new(&root);
    let pid = frozen.pid().to_string();
    let (code, report, stderr) = kill_json(&["--no-escalate", "--grace", ".5", &pid]);
    // Frozen, it takes no signal until thawed: it survives the grace.
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    assert_eq!(report["containment"]["kind"], "none", "nothing was stopped: {report:#}");
    assert_eq!(sent(entry(&report, frozen.pid())), ["SIGTERM"], "{report:#}");
    let (code, text, stderr) = kill_text(&["--no-escalate", "--grace", ".5", &pid]);
    assert_eq!(code, 1, "{text}\n{stderr}");
    assert!(!text.contains("stopped 1 process"), "{text}");
}

#[test]
fn a_survivor_the_v1_freezer_holds_is_said_to_be_frozen() {
    let Some(root) = freezer_or_skip() else { return };
    let frozen = Frozen::new(&root);
    let pid = frozen.pid().to_string();
    // SIGKILL too waits for the thaw.
    let (code, report, stderr) = kill_json(&["--grace", ".2", &pid]);
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let e = entry(&report, frozen.pid());
    assert_eq!(sent(e), ["SIGTERM", "SIGKILL"], "{e:#}");
    assert_eq!(e["reason"], "frozen", "not asleep in a kernel call: {e:#}");
    let (code, text, stderr) = kill_text(&["--no-escalate", "--grace", ".2", &pid]);
    assert_eq!(code, 1, "{text}\n{stderr}");
    assert!(
        text.contains("frozen by the cgroup v1 freezer: signals, SIGKILL too, take effect only once it is thawed"),
        "{text}"
    );
    assert!(!text.contains("uninterruptible sleep in"), "{text}");
}
