//! Scenarios 1, 2, 3 and 10: a process ends itself — exit(3), return from
//! main, its last thread returning — and the 8-bit exit code that results.

use crate::demo::error::DemoError;
use crate::demo::spawn::{ScratchDir, Spawn};
use crate::demo::{Check, Outcome, fds_check, gone_check, run_report, status_check};
use crate::exit::ExitStatus;

/// Whether the child's destructors wrote their marker file.
fn destructors_check(marker: &std::path::Path, expect_ran: bool) -> Check {
    let ran = marker.exists();
    Check::observed(
        "destructors",
        if expect_ran {
            "Rust destructors run on the way out of main"
        } else {
            "Rust destructors do not run: exit ends the process where it stands"
        },
        if ran {
            "a Drop impl wrote its marker file"
        } else {
            "the Drop impl's marker file is absent"
        },
        ran == expect_ran,
    )
}

/// 1: `std::process::exit(3)`.
pub(crate) fn exit_three(outcome: &mut Outcome) -> Result<(), DemoError> {
    let scratch = ScratchDir::new("exit")?;
    let marker = scratch.path().join("dropped");
    let mut child = Spawn::new("exit").arg(3).arg(marker.display()).start()?;
    let pid = child.pid();
    let ended = child.wait()?;
    let checks = vec![
        status_check(ended.0, ExitStatus::Exited { code: 3 }),
        destructors_check(&marker, false),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "exit(3)",
        "the child called std::process::exit(3)",
        pid,
        ended,
        checks,
    ));
    Ok(())
}

/// 2: `main` returns.
pub(crate) fn return_from_main(outcome: &mut Outcome) -> Result<(), DemoError> {
    let scratch = ScratchDir::new("return")?;
    let marker = scratch.path().join("dropped");
    let mut child = Spawn::new("return").arg(marker.display()).start()?;
    let pid = child.pid();
    let ended = child.wait()?;
    let checks = vec![
        status_check(ended.0, ExitStatus::Exited { code: 0 }),
        destructors_check(&marker, true),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "return",
        "main returned; the C runtime called exit(0) with its value",
        pid,
        ended,
        checks,
    ));
    Ok(())
}

/// The states of a process's threads, from /proc/PID/task/*/stat.
fn thread_states(pid: crate::process::Pid) -> Vec<(i32, char)> {
    let Ok(process) = crate::proc::Process::new(pid.get()) else {
        // ENOENT: it ended meanwhile; no threads.
        return Vec::new();
    };
    let Ok(tasks) = process.tasks() else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| task.stat().ok().map(|s| (task.tid, s.state)))
        .collect()
}

/// 3: the main thread exits while a worker runs; the process ends when the
/// worker returns.
pub(crate) fn last_thread(outcome: &mut Outcome) -> Result<(), DemoError> {
    let mut child = Spawn::new("last-thread").start()?;
    let pid = child.pid();
    child.ready()?;
    // Wait (bounded) until the main thread is a zombie while the worker lives.
    let deadline = std::time::Instant::now() + crate::demo::spawn::STEP;
    let mut states = thread_states(pid);
    while std::time::Instant::now() < deadline && !states.iter().any(|&(tid, s)| tid == pid.get() && s == 'Z') {
        std::thread::sleep(std::time::Duration::from_millis(2));
        states = thread_states(pid);
    }
    let main_state = states.iter().find(|&&(tid, _)| tid == pid.get()).map(|&(_, s)| s);
    let live: Vec<i32> = states.iter().filter(|&&(_, s)| s != 'Z').map(|&(tid, _)| tid).collect();
    let alive = !child.process().has_exited();
    let lived_on = Check::observed(
        "main thread gone, process alive",
        "after the main thread exits, the process lives on in its other thread",
        format!(
            "main thread {pid}: state {}; live threads: {}; process exited: {}",
            main_state.map_or("gone".to_string(), |s| s.to_string()),
            if live.is_empty() {
                "none".to_string()
            } else {
                live.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
            },
            if alive { "no" } else { "yes" }
        ),
        main_state == Some('Z') && !live.is_empty() && alive,
    );
    child.go()?;
    let ended = child.wait()?;
    let checks = vec![
        lived_on,
        status_check(ended.0, ExitStatus::Exited { code: 0 }),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.note(
        "pthread_exit(3) on a Rust main thread aborts: glibc unwinds the thread, std's catch_unwind around main catches the unwind, and glibc answers 'exception not rethrown'; so the main thread ends the way pthread_exit itself ends, with exit(2) of that thread alone",
    );
    outcome.run(run_report(
        "last thread returns",
        "the main thread ended with the thread-exit system call (what pthread_exit ends in); the worker then returned",
        pid,
        ended,
        checks,
    ));
    Ok(())
}

/// 10: `exit(256)` and `exit(-1)`.
pub(crate) fn out_of_range(outcome: &mut Outcome) -> Result<(), DemoError> {
    for (code, seen) in [(256, 0u8), (-1, 255u8)] {
        let mut child = Spawn::new("exit").arg(code).start()?;
        let pid = child.pid();
        let ended = child.wait()?;
        let checks = vec![
            Check::observed(
                "low 8 bits",
                format!("only the low 8 bits of exit({code}) reach the parent: {seen}"),
                format!("{} ($? = {})", ended.0, ended.0.shell_code()),
                ended.0 == ExitStatus::Exited { code: seen },
            ),
            fds_check(&mut child),
            gone_check(pid),
        ];
        let mut run = run_report(
            &format!("exit({code})"),
            format!("the child called std::process::exit({code})"),
            pid,
            ended,
            checks,
        );
        // What explain says of the number the program passed, not only of $?.
        if let Ok(explained) = crate::exit::explain::explain(&code.to_string()) {
            run.explain.input = code.to_string();
            run.explain.readings = explained.readings.into_iter().take(2).map(|r| r.title).collect();
        }
        outcome.run(run);
    }
    Ok(())
}
