//! Running scenarios: a few at a time on threads (they are independent and
//! mostly wait on their children), each caught if it panics, reports kept
//! in the order asked for; and the machine facts that bear on the outcome.

use std::time::Instant;

#[cfg(target_os = "linux")]
use crate::demo::MachineFacts;
use crate::demo::{DemoReport, Outcome, Scenario, ScenarioReport};

/// How many scenarios run at once: they are independent, and most of their
/// time is spent waiting on children.
const PARALLEL: usize = 4;

/// Runs the scenarios and reports them in the order given.
pub fn run(scenarios: &[&'static Scenario]) -> DemoReport {
    let start = Instant::now();
    prepare();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<ScenarioReport>>> =
        scenarios.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(scenarios.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(scenario) = scenarios.get(i) else { break };
                    let report = run_one(scenario);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(report);
                    }
                }
            });
        }
    });
    let scenarios = slots
        .into_iter()
        .zip(scenarios)
        .map(|(slot, scenario)| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| ScenarioReport {
                id: scenario.id,
                name: scenario.name,
                title: scenario.title,
                question: scenario.question,
                runs: Vec::new(),
                notes: Vec::new(),
                error: Some("the scenario's thread ended without a report".to_string()),
                seconds: 0.0,
            })
        })
        .collect();
    DemoReport {
        machine: machine_facts(),
        scenarios,
        seconds: start.elapsed().as_secs_f64(),
    }
}

fn run_one(scenario: &Scenario) -> ScenarioReport {
    let start = Instant::now();
    let mut outcome = Outcome::default();
    // A panic in one scenario is that scenario's failure, not the demo's.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (scenario.run)(&mut outcome)));
    let error = match result {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some("the scenario panicked".to_string()),
    };
    ScenarioReport {
        id: scenario.id,
        name: scenario.name,
        title: scenario.title,
        question: scenario.question,
        runs: outcome.runs,
        notes: outcome.notes,
        error,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Before the scenarios: what a demo killed halfway left behind is removed.
#[cfg(target_os = "linux")]
fn prepare() {
    // The demo's directories and files are its own, made and read back by
    // itself and its children: a caller's umask (0777 masks every
    // permission, and a directory without x cannot be entered) must not
    // turn a check about the kernel into one about permissions.
    crate::sys::linux::fs::set_umask(0o077);
    crate::demo::spawn::remove_stale_scratch();
}

#[cfg(windows)]
use crate::sys::windows::demo::{machine_facts, prepare};

/// The core-dump limit of this process.
#[cfg(target_os = "linux")]
pub(crate) fn core_limit() -> crate::demo::CoreLimit {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Core);
    crate::demo::CoreLimit {
        soft: limit.current,
        hard: limit.maximum,
    }
}

/// `/proc/sys/kernel/core_pattern`, trimmed.
#[cfg(target_os = "linux")]
pub(crate) fn core_pattern() -> String {
    std::fs::read_to_string("/proc/sys/kernel/core_pattern")
        .map(|p| p.trim_end().to_string())
        .unwrap_or_default()
}

#[cfg(target_os = "linux")]
fn machine_facts() -> MachineFacts {
    MachineFacts {
        kernel: rustix::system::uname().release().to_string_lossy().into_owned(),
        core_pattern: core_pattern(),
        rlimit_core: core_limit(),
        init_name: std::fs::read_to_string("/proc/1/comm")
            .map(|n| n.trim_end().to_string())
            .unwrap_or_default(),
    }
}
