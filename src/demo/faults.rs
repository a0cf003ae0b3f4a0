//! Scenarios 6 and 9: deaths that may leave a core dump — SIGQUIT
//! (Ctrl+Break), SIGSEGV from a real fault, abort(3) — and a Rust panic,
//! which is no signal at all but exit code 101.
//!
//! Whether a core is written depends on `/proc/sys/kernel/core_pattern` and
//! the dying process's `RLIMIT_CORE` (core(5)): a file pattern needs a soft
//! limit above 0; a pipe pattern (`|program`) hands the dump to that program
//! whatever the limit. The demo never changes the system's settings: each
//! child sets its own soft limit, to 0 or up to its hard limit, and runs in
//! a scratch directory, where a relative pattern puts the core.

use serde::Serialize;

use crate::demo::error::DemoError;
use crate::demo::spawn::{ScratchDir, Spawn};
use crate::demo::{Check, Outcome, core_limit, core_pattern, fds_check, gone_check, run_report};
use crate::exit::ExitStatus;
use crate::signal::Signal;

/// Whether a core dump is to be expected, from what the machine says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoreExpectation {
    /// A file will be written (in the working directory, for a relative pattern).
    File,
    /// No core: the soft limit is 0 and the pattern is a file.
    None,
    /// It depends on what the demo cannot see: the pipe program's own policy,
    /// or the writability of an absolute path.
    Unpredictable,
}

/// What `core_pattern` and a soft `RLIMIT_CORE` (`None`: unlimited) promise.
pub fn core_expectation(pattern: &str, soft_limit: Option<u64>) -> CoreExpectation {
    if pattern.starts_with('|') {
        CoreExpectation::Unpredictable
    } else if soft_limit == Some(0) || pattern.is_empty() {
        CoreExpectation::None
    } else if pattern.starts_with('/') {
        CoreExpectation::Unpredictable
    } else {
        CoreExpectation::File
    }
}

/// The files a dump left in `dir`, with their sizes.
fn core_files(dir: &std::path::Path) -> Vec<(String, u64)> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let size = e.metadata().ok()?.len();
                    Some((e.file_name().to_string_lossy().into_owned(), size))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn limit_text(limit: Option<u64>) -> String {
    limit.map_or("unlimited".to_string(), |l| format!("{l} bytes"))
}

/// Parses the `core_limit=` a child reported.
fn reported_limit(fields: &std::collections::BTreeMap<String, String>) -> Option<u64> {
    fields.get("core_limit").and_then(|v| v.parse().ok())
}

/// The checks on the core flag and file of one dumping death.
fn core_checks(status: ExitStatus, soft_limit: Option<u64>, dir: &std::path::Path) -> Vec<Check> {
    let pattern = core_pattern();
    let flag = matches!(status, ExitStatus::Signaled { core_dumped: true, .. });
    let expectation = core_expectation(&pattern, soft_limit);
    let files = core_files(dir);
    let file_text = if files.is_empty() {
        format!("no file in its working directory {}", dir.display())
    } else {
        files
            .iter()
            .map(|(name, size)| format!("{} ({size} bytes)", name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (expected, held) = match expectation {
        CoreExpectation::File => (
            "a core file: core_pattern is a relative file name and RLIMIT_CORE is above 0".to_string(),
            flag && !files.is_empty(),
        ),
        CoreExpectation::None => (
            "no core: RLIMIT_CORE is 0 and core_pattern is a file".to_string(),
            !flag && files.is_empty(),
        ),
        CoreExpectation::Unpredictable => (
            format!(
                "the core flag as the kernel reports it (core_pattern '{}' decides where the dump goes)",
                pattern
            ),
            true,
        ),
    };
    vec![Check::observed(
        "core dump",
        expected,
        format!(
            "core flag {}; RLIMIT_CORE {}; {file_text}",
            if flag { "set" } else { "clear" },
            limit_text(soft_limit)
        ),
        held,
    )]
}

fn machine_notes(outcome: &mut Outcome) {
    let limit = core_limit();
    outcome.note(format!(
        "core_pattern is '{}'; afterlife's RLIMIT_CORE is soft {}, hard {}; each child sets its own soft limit",
        core_pattern(),
        limit_text(limit.soft),
        limit_text(limit.hard)
    ));
}

/// 6: SIGQUIT, without and with a core dump.
pub(crate) fn ctrl_break(outcome: &mut Outcome) -> Result<(), DemoError> {
    machine_notes(outcome);
    for (label, which) in [("RLIMIT_CORE 0", "0"), ("core dumps enabled", "max")] {
        let scratch = ScratchDir::new(&format!("ctrl-break-{which}"))?;
        let mut child = Spawn::new("core-limit").arg(which).dir(scratch.path()).start()?;
        let pid = child.pid();
        let fields = child.ready()?;
        let soft = reported_limit(&fields);
        child.signal(Signal::QUIT)?;
        let ended = child.wait()?;
        let is_quit = matches!(ended.0, ExitStatus::Signaled { signal, .. } if signal == Signal::QUIT);
        let mut checks = vec![Check::observed(
            "status",
            "killed by SIGQUIT: $? = 131 whether or not a core was written",
            format!("{} ($? = {})", ended.0, ended.0.shell_code()),
            is_quit && ended.0.shell_code() == 131,
        )];
        checks.extend(core_checks(ended.0, soft, scratch.path()));
        checks.push(fds_check(&mut child));
        checks.push(gone_check(pid));
        outcome.run(run_report(
            label,
            format!(
                "the child set its RLIMIT_CORE soft limit to {}; sent SIGQUIT (what Ctrl+Backslash sends)",
                limit_text(soft)
            ),
            pid,
            ended,
            checks,
        ));
    }
    Ok(())
}

/// 9: SIGSEGV, abort(), panic.
pub(crate) fn faults(outcome: &mut Outcome) -> Result<(), DemoError> {
    machine_notes(outcome);
    // SIGSEGV from a real fault, core dumps enabled.
    let scratch = ScratchDir::new("faults-segv")?;
    let mut child = Spawn::new("segv").dir(scratch.path()).start()?;
    let pid = child.pid();
    let soft = reported_limit(&child.ready()?);
    child.go()?;
    let ended = child.wait()?;
    let is_segv = matches!(ended.0, ExitStatus::Signaled { signal, .. } if signal.number() == libc::SIGSEGV);
    let mut checks = vec![Check::observed(
        "status",
        "killed by SIGSEGV: $? = 139",
        format!("{} ($? = {})", ended.0, ended.0.shell_code()),
        is_segv && ended.0.shell_code() == 139,
    )];
    checks.extend(core_checks(ended.0, soft, scratch.path()));
    checks.push(fds_check(&mut child));
    checks.push(gone_check(pid));
    outcome.run(run_report(
        "SIGSEGV",
        format!(
            "the child wrote to address 8 (never mapped), RLIMIT_CORE {}",
            limit_text(soft)
        ),
        pid,
        ended,
        checks,
    ));
    drop(scratch);

    // abort(), core dumps off.
    let scratch = ScratchDir::new("faults-abort")?;
    let mut child = Spawn::new("abort").dir(scratch.path()).start()?;
    let pid = child.pid();
    let soft = reported_limit(&child.ready()?);
    child.go()?;
    let ended = child.wait()?;
    let is_abrt = matches!(ended.0, ExitStatus::Signaled { signal, .. } if signal.number() == libc::SIGABRT);
    let mut checks = vec![Check::observed(
        "status",
        "killed by SIGABRT: $? = 134",
        format!("{} ($? = {})", ended.0, ended.0.shell_code()),
        is_abrt && ended.0.shell_code() == 134,
    )];
    checks.extend(core_checks(ended.0, soft, scratch.path()));
    checks.push(fds_check(&mut child));
    checks.push(gone_check(pid));
    outcome.run(run_report(
        "abort()",
        format!("the child called abort(3), RLIMIT_CORE {}", limit_text(soft)),
        pid,
        ended,
        checks,
    ));
    drop(scratch);

    // A Rust panic: unwinding, then exit code 101.
    let mut child = Spawn::new("panic").capture_stderr().start()?;
    let pid = child.pid();
    child.ready()?;
    child.go()?;
    let ended = child.wait()?;
    let stderr = child.stderr_text()?;
    let message = stderr.lines().find(|l| l.contains("panicked")).unwrap_or_default();
    let checks = vec![
        Check::observed(
            "status",
            "a Rust panic is no signal: the runtime exits with code 101",
            format!("{} ($? = {})", ended.0, ended.0.shell_code()),
            ended.0 == ExitStatus::Exited { code: 101 },
        ),
        Check::observed(
            "panic message",
            "the panic message goes to stderr",
            if message.is_empty() {
                "no panic message on stderr".to_string()
            } else {
                message.to_string()
            },
            !message.is_empty(),
        ),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "panic!",
        "the child panicked on its main thread",
        pid,
        ended,
        checks,
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_expectations() {
        assert_eq!(core_expectation("core", Some(0)), CoreExpectation::None);
        assert_eq!(core_expectation("core", None), CoreExpectation::File);
        assert_eq!(core_expectation("core.%p", Some(1 << 20)), CoreExpectation::File);
        assert_eq!(
            core_expectation("|/usr/lib/systemd/systemd-coredump %P", Some(0)),
            CoreExpectation::Unpredictable
        );
        assert_eq!(
            core_expectation("/var/crash/core.%e", None),
            CoreExpectation::Unpredictable
        );
        assert_eq!(core_expectation("", None), CoreExpectation::None);
    }
}
