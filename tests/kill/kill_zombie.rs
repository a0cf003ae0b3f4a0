//! Zombies: a zombie has already ended. In a tree, once afterlife ends its
//! parent, a reaper takes it; named on its own, it stays until its parent
//! (or, while one is attached, its tracer) collects its status. Either way
//! it counts as ended, with its exit code, and the report says who holds it.

use crate::common;

use common::afterlife;
use common::kill::{entry, kill_json, sent};

#[test]
fn a_zombie_child_in_a_tree_is_reported_as_already_exited() {
    let mut parent = common::unreaped_zombie(5);
    let zombie = parent.reported;
    let parent_pid = parent.child.id() as i32;
    let (code, report, stderr) = kill_json(&["--tree", "--grace", "3s", &parent_pid.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let p = entry(&report, parent_pid);
    assert_eq!(p["outcome"], "ended", "{p:#}");
    assert_eq!(p["by"], "signal", "{p:#}");
    // The root afterlife ended is a zombie now, until this test, its
    // parent, waits for it; the zombie went to a reaper with its parent.
    assert_eq!(p["unreaped_by"]["role"], "parent", "{p:#}");
    assert_eq!(p["unreaped_by"]["pid"], std::process::id(), "{p:#}");
    let z = entry(&report, zombie);
    assert_eq!(z["outcome"], "ended", "{z:#}");
    assert_eq!(z["by"], "before_signal", "{z:#}");
    assert!(sent(z).is_empty(), "a zombie is not signalled: {z:#}");
    assert_eq!(z["ending"]["status"]["code"], 5, "{z:#}");
    assert!(z.get("unreaped_by").is_none(), "{z:#}");
    let _ = parent.child.wait();
}

#[test]
fn a_process_afterlife_ends_names_the_parent_that_has_not_reaped_it() {
    // This test is the parent, and waits for it only after the report:
    // the run that ends it says, as a second run would, that it is a
    // zombie until its parent reaps it.
    let mut child = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id() as i32;
    let (code, report, stderr) = kill_json(&["--grace", "3s", &pid.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let e = entry(&report, pid);
    assert_eq!(e["by"], "signal", "{e:#}");
    assert_eq!(e["ending"]["status"]["signal"]["name"], "SIGTERM", "{e:#}");
    assert_eq!(e["unreaped_by"]["role"], "parent", "{e:#}");
    assert_eq!(e["unreaped_by"]["pid"], std::process::id(), "{e:#}");
    let _ = child.wait();

    let mut child = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id();
    let output = afterlife().args(["kill", &pid.to_string()]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("ended on SIGTERM after ")
            && text.contains(&format!(
                "(killed by SIGTERM, $? = 143); a zombie until its parent {} (",
                std::process::id()
            )),
        "{text}"
    );
    let _ = child.wait();
}

#[test]
fn a_named_zombie_has_already_ended_and_names_its_parent() {
    let parent = common::unreaped_zombie(3);
    let zombie = parent.reported;
    let parent_pid = parent.child.id() as i32;
    let live = common::Fixture::start("echo $$; exec sleep 300");
    let (code, report, stderr) = kill_json(&["--grace", "3s", &zombie.to_string(), &live.reported.to_string()]);
    assert_eq!(code, 0, "a zombie counts as ended: {report:#}\n{stderr}");
    assert_eq!(report["finish"], "all_ended");
    assert_eq!(report["summary"]["survivors"], 0);
    assert_eq!(report["summary"]["ended"], 2);
    let z = entry(&report, zombie);
    assert_eq!(z["outcome"], "ended", "{z:#}");
    assert_eq!(z["by"], "before_signal", "{z:#}");
    assert!(sent(z).is_empty(), "a zombie is not signalled: {z:#}");
    assert_eq!(z["ending"]["status"]["code"], 3, "{z:#}");
    assert_eq!(
        z["unreaped_by"],
        serde_json::json!({"role": "parent", "pid": parent_pid, "name": "sleep"}),
        "{z:#}"
    );
    let l = entry(&report, live.reported);
    assert_eq!(l["outcome"], "ended", "{l:#}");
    assert_eq!(sent(l), ["SIGTERM"], "{l:#}");

    // The same as text, on a zombie still there.
    let output = afterlife()
        .args(["kill", "--grace", "3s", &zombie.to_string()])
        .output()
        .expect("afterlife runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with(&zombie.to_string()))
        .unwrap_or_else(|| panic!("no row for {zombie}: {text}"));
    assert!(
        row.ends_with(&format!(
            "-     already exited with code 3; a zombie until its parent {parent_pid} (sleep) reaps it"
        )),
        "{row}"
    );
    assert!(!text.contains("ALIVE"), "{text}");
    assert!(
        text.contains("every target ended: 1 process, 1 ended (0 needed SIGKILL), 0 refused"),
        "{text}"
    );
}

#[test]
fn a_traced_zombie_names_its_tracer() {
    let fixture = common::zombie::TracedZombie::start("kill-traced-zombie", 3);
    let zombie = fixture.zombie;
    let tracer = fixture.tracer_pid();
    let name = fixture.tracer_name();
    let (code, report, stderr) = kill_json(&["--grace", "3s", &zombie.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let z = entry(&report, zombie);
    assert_eq!(z["outcome"], "ended", "{z:#}");
    assert_eq!(z["by"], "before_signal", "{z:#}");
    assert_eq!(z["ending"]["status"]["code"], 3, "{z:#}");
    assert_eq!(
        z["unreaped_by"],
        serde_json::json!({"role": "tracer", "pid": tracer, "name": name}),
        "{z:#}"
    );
    let output = afterlife()
        .args(["kill", &zombie.to_string()])
        .output()
        .expect("afterlife runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!(
            "already exited with code 3; a zombie until its tracer {tracer} ({name}) waits for it \
(detach or end the tracer)"
        )),
        "{text}"
    );
    assert!(!text.contains(&format!("parent {}", fixture.parent_pid())), "{text}");
}

#[test]
fn a_zombie_found_in_a_group_has_ended_and_names_its_parent() {
    // The child leads a group of its own with a grandchild in it, and exits
    // with 3; its parent (python3) never waits for it.
    let py = common::Py::start(
        r#"
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    gc = os.fork()
    if gc == 0:
        os.close(r); os.close(w)
        time.sleep(300)
        os._exit(0)
    os.write(w, str(gc).encode())
    os._exit(3)
os.close(w)
gc = int(os.read(r, 32))
report(child=pid, grandchild=gc)
finish()
"#,
    );
    let (zombie, grandchild) = (py.num("child") as i32, py.num("grandchild") as i32);
    let _orphan = common::Orphan(grandchild);
    assert!(common::wait_until(std::time::Duration::from_secs(20), || {
        std::fs::read_to_string(format!("/proc/{zombie}/stat")).is_ok_and(|s| s.contains(") Z "))
    }));
    let (code, report, stderr) = kill_json(&["--pgroup", "--grace", "3s", &grandchild.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["summary"]["processes"], 2, "{report:#}");
    let z = entry(&report, zombie);
    assert_eq!(z["named"], false, "found by the walk: {z:#}");
    assert_eq!(z["outcome"], "ended", "{z:#}");
    assert_eq!(z["by"], "before_signal", "{z:#}");
    assert_eq!(z["ending"]["status"]["code"], 3, "{z:#}");
    assert_eq!(
        z["unreaped_by"],
        serde_json::json!({"role": "parent", "pid": py.pid(), "name": common::comm(py.pid())}),
        "{z:#}"
    );
    let g = entry(&report, grandchild);
    assert_eq!(g["outcome"], "ended", "{g:#}");
    assert_eq!(sent(g), ["SIGTERM"], "{g:#}");
}

/// A dry run says of a zombie what the real run says: it has already
/// exited, would be sent nothing, and who holds its entry.
#[test]
fn a_dry_run_reports_a_zombie_as_the_real_run_does() {
    let mut parent = common::unreaped_zombie(5);
    let zombie = parent.reported.to_string();
    let (code, dry, stderr) = kill_json(&["--dry-run", &zombie]);
    assert_eq!(code, 0, "{dry:#}\n{stderr}");
    let (code, real, stderr) = kill_json(&[&zombie]);
    assert_eq!(code, 0, "{real:#}\n{stderr}");
    for report in [&dry, &real] {
        let z = entry(report, parent.reported);
        assert_eq!(z["outcome"], "ended", "{report:#}");
        assert_eq!(z["by"], "before_signal", "{z:#}");
        assert_eq!(z["ending"]["status"]["code"], 5, "{z:#}");
        assert_eq!(z["unreaped_by"]["pid"], parent.child.id(), "{z:#}");
        assert_eq!(report["summary"]["ended"], 1, "{report:#}");
    }
    let _ = parent.child.kill();
    let _ = parent.child.wait();
}
