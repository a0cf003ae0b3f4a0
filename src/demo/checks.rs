//! The checks and run reports every scenario shares: how a run ended with
//! what `explain` says of it, and the facts measured after each death.

use crate::demo::spawn::DemoChild;
use crate::demo::{Check, ExplainSummary, RunReport};
use crate::exit::{ExitStatus, KnownEnding};
use crate::process::{Pid, StatusSource};

/// A run's report, with its views and what `explain` says of its `$?`.
pub(crate) fn run_report(
    label: &str,
    action: impl Into<String>,
    pid: Pid,
    (status, source): (ExitStatus, StatusSource),
    checks: Vec<Check>,
) -> RunReport {
    let input = status.shell_code().to_string();
    let readings = crate::exit::explain::explain(&input)
        .map(|e| e.readings.into_iter().take(2).map(|r| r.title).collect())
        .unwrap_or_default();
    RunReport {
        label: label.to_string(),
        action: action.into(),
        pid,
        ending: KnownEnding {
            views: status.into(),
            source,
        },
        explain: ExplainSummary { input, readings },
        why: Vec::new(),
        checks,
    }
}

/// The check that a reaped process's /proc entry is gone.
pub(crate) fn gone_check(pid: Pid) -> Check {
    let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
    Check::went(
        "process",
        format!("the process itself: /proc/{pid} is gone once it is reaped"),
        if gone {
            format!("/proc/{pid} gone")
        } else {
            format!("/proc/{pid} still there")
        },
        gone,
    )
}

/// The check that the kernel closed a dead child's fds: its end of the
/// stdout pipe reads EOF (once no process it started still holds it).
pub(crate) fn fds_check(child: &mut DemoChild) -> Check {
    let closed = child.rest_of_stdout().is_ok();
    Check::went(
        "fds",
        "its open fds: the kernel closed them, so the parent reads EOF on the child's stdout pipe",
        if closed { "EOF read" } else { "no EOF in time" },
        closed,
    )
}

/// The check that an exited, not yet reaped child holds no memory: its
/// zombie has no memory map (no `VmRSS` line, `statm` all zeros), because
/// exit tore the address space down and gave its pages back. Call after
/// [`DemoChild::wait_exited`], before reaping.
pub(crate) fn zombie_memory_check(pid: Pid, rss_kb: Option<u64>) -> Check {
    let zombie = crate::proc::Process::new(pid.get()).ok();
    let state = zombie.as_ref().and_then(|p| p.stat().ok()).map(|s| s.state);
    let zombie_rss = zombie.as_ref().and_then(|p| p.status().ok()).and_then(|s| s.vmrss);
    let statm = zombie
        .as_ref()
        .and_then(|p| p.statm().ok())
        .map(|m| m.size + m.resident);
    Check::went(
        "memory",
        "its memory goes back to the system at exit: its zombie holds none",
        format!(
            "VmRSS {} while it ran; as a zombie (state {}): VmRSS {}, statm size+resident {} pages",
            rss_kb.map_or("unknown".to_string(), |kb| format!("{} MiB", kb >> 10)),
            state.map_or("?".to_string(), |s| s.to_string()),
            zombie_rss.map_or("absent (no memory map)".to_string(), |kb| format!("{kb} kB")),
            statm.map_or("unreadable".to_string(), |p| p.to_string())
        ),
        state == Some('Z') && zombie_rss.is_none() && statm == Some(0),
    )
}

/// The check that a process ended with `expected`.
pub(crate) fn status_check(status: ExitStatus, expected: ExitStatus) -> Check {
    Check::observed(
        "status",
        format!("the parent sees: {expected} ($? = {})", expected.shell_code()),
        format!("{status} ($? = {})", status.shell_code()),
        status == expected,
    )
}
