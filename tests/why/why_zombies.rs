//! `afterlife why` on zombies built for real: one held by its tracer (not
//! by its parent, which waits for it), and how long a zombie has been one,
//! on the scheduler clock the kernel records it in.

use crate::common;

use std::time::Duration;

use common::why::{finding, has_evidence, kinds, why_json};
use common::zombie::TracedZombie;

/// The age in the evidence of the zombie finding (`1.2s ago`, `340ms ago`).
fn evidence_age(z: &serde_json::Value, zombie: i32) -> Duration {
    let source = format!("/proc/{zombie}/sched se.exec_start (its last run, against our own on the same clock)");
    let value = z["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == source.as_str())
        .unwrap_or_else(|| panic!("no age evidence in {z:#}"))["value"]
        .as_str()
        .unwrap()
        .to_string();
    let text = value.strip_suffix(" ago").expect("an age");
    afterlife::duration::parse_duration(text).unwrap_or_else(|e| panic!("{value}: {e}"))
}

#[test]
fn a_traced_zombie_is_held_by_its_tracer() {
    let fixture = TracedZombie::start("why-traced-zombie", 3);
    let zombie = fixture.zombie;
    let tracer = fixture.tracer_pid();
    let name = fixture.tracer_name();
    let parent = fixture.parent_pid();
    let d = why_json(zombie);
    assert_eq!(kinds(&d), vec!["zombie"], "{d:#}");
    assert_eq!(d["sigkill"], "already_dead");
    // `status` names the tracer too, not the parent alone.
    let status = common::run(&["--json", "status", &zombie.to_string()]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["processes"][0]["tracer"]["pid"], tracer, "{status:#}");
    let text = common::stdout(&common::run(&["status", &zombie.to_string()]));
    assert!(text.contains(&format!("its tracer {tracer} ({name}")), "{text}");
    let z = finding(&d, "zombie");
    assert_eq!(
        z["title"],
        format!("zombie (Z): already dead, held by its tracer {tracer} ({name})")
    );
    assert!(has_evidence(
        z,
        &format!("/proc/{zombie}/status TracerPid"),
        &tracer.to_string()
    ));
    let explanation = z["explanation"].as_str().unwrap();
    assert!(
        explanation.contains(&format!("It is traced (ptrace) by {tracer} ({name}: ")),
        "{explanation}"
    );
    assert!(explanation.contains("the parent is not at fault"), "{explanation}");
    assert!(
        !explanation.contains("SIGCHLD"),
        "the parent is not blamed: {explanation}"
    );
    let next = z["next_step"].as_str().unwrap();
    assert_eq!(
        next,
        format!(
            "Detach or end the tracer {tracer} (gdb: detach or quit; strace: Ctrl+C; or afterlife kill {tracer}): \
once it lets go, the parent {parent} is told and reaps it."
        )
    );

    // As text.
    let output = common::run(&["why", &zombie.to_string()]);
    let text = common::stdout(&output);
    assert!(
        text.contains(&format!(
            "1. zombie (Z): already dead, held by its tracer {tracer} ({name})"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("   next: Detach or end the tracer {tracer}")),
        "{text}"
    );

    // Once the tracer is gone the parent is told and reaps it.
    let zombie_pid = fixture.zombie;
    drop(fixture);
    assert!(common::wait_until(Duration::from_secs(10), || common::pid_dead(
        zombie_pid
    )));
}

#[test]
fn a_young_zombie_is_said_to_be_young() {
    let fixture = TracedZombie::start("why-zombie-age", 0);
    let zombie = fixture.zombie;
    let d = why_json(zombie);
    // Read after `why` answered: the zombie is at most this old.
    let at_most = fixture.released_at.elapsed();
    let age = evidence_age(finding(&d, "zombie"), zombie);
    // A scheduler tick of slack; the scheduler clock runs tens of seconds
    // away from CLOCK_MONOTONIC on virtual machines, which this would catch.
    assert!(
        age <= at_most + Duration::from_millis(50),
        "a zombie at most {at_most:?} old is said to be {age:?} old"
    );
    let explanation = finding(&d, "zombie")["explanation"].as_str().unwrap();
    assert!(explanation.contains("It has been a zombie for about"), "{explanation}");
}
