//! How a process ends by itself or is ended from outside: ExitProcess,
//! return from main, the last thread's ExitThread, TerminateProcess, an
//! unhandled exception and abort, and exit code 259 against a naive
//! `STILL_ACTIVE` loop.

use std::path::Path;
use std::time::{Duration, Instant};

use super::DemoError;
use super::spawn::{DemoChild, code_check, ended_check, run_report, scratch_path};
use super::win32;
use crate::demo::{Check, Outcome};

/// STILL_ACTIVE: what GetExitCodeProcess reads while a process runs.
const STILL_ACTIVE: u32 = 259;

/// Whether a destructor wrote `marker`; the file is removed.
fn destructor_ran(marker: &Path) -> bool {
    let ran = marker.exists();
    let _ = std::fs::remove_file(marker);
    ran
}

fn destructor_check(ran: bool, should_run: bool, expected: &str) -> Check {
    Check::observed(
        "destructors",
        expected,
        if ran {
            "the destructor's file was written"
        } else {
            "no file: the destructor did not run"
        },
        ran == should_run,
    )
}

pub(super) fn exit_three(outcome: &mut Outcome) -> Result<(), DemoError> {
    let marker = scratch_path("exit-destructor");
    let child = DemoChild::start("exit", &["3", &marker.to_string_lossy()])?;
    child.line("ready")?;
    let code = child.ended("exit")?;
    let ran = destructor_ran(&marker);
    outcome.run(run_report(
        "ExitProcess(3)",
        "the child called ExitProcess(3) while a value whose destructor writes a file was alive",
        child.pid(),
        code,
        vec![
            code_check(code, 3),
            destructor_check(
                ran,
                false,
                "ExitProcess does not return: the destructors of the values alive in main do not run",
            ),
            ended_check(child.process()),
        ],
    ));
    Ok(())
}

pub(super) fn return_from_main(outcome: &mut Outcome) -> Result<(), DemoError> {
    let marker = scratch_path("return-destructor");
    let child = DemoChild::start("return", &["7", &marker.to_string_lossy()])?;
    child.line("ready")?;
    let code = child.ended("return from main")?;
    let ran = destructor_ran(&marker);
    outcome.run(run_report(
        "return 7",
        "the child's main returned 7; the runtime passed it to ExitProcess",
        child.pid(),
        code,
        vec![
            code_check(code, 7),
            destructor_check(
                ran,
                true,
                "returning from main runs the destructors first, then ExitProcess(7)",
            ),
            ended_check(child.process()),
        ],
    ));
    Ok(())
}

pub(super) fn last_thread(outcome: &mut Outcome) -> Result<(), DemoError> {
    const WORKER_CODE: u32 = 5;
    let child = DemoChild::start("last-thread", &[&WORKER_CODE.to_string()])?;
    let tid = child.value("main")?;
    let started = Instant::now();
    // The main thread's object lasts only while a handle holds it: once it
    // has ended with none, its ID names no thread. Either way it ended.
    let main_ended = match tid.parse::<u32>().ok().map(win32::open_thread) {
        Some(Ok(thread)) => win32::wait_object(&thread, 5_000).is_ok_and(|w| w == 0),
        _ => true,
    };
    let main_after = started.elapsed();
    let running = child.runs_after(Duration::ZERO);
    let code = child.ended("the worker end")?;
    outcome.run(run_report(
        "main thread: ExitThread(0)",
        format!("the child's main thread (TID {tid}) called ExitThread(0) while a worker slept 1 s and then called ExitThread({WORKER_CODE})"),
        child.pid(),
        code,
        vec![
            Check::observed(
                "main thread",
                "the process runs on after its main thread ended",
                format!(
                    "main thread ended: {}; the process {} {} ms later",
                    if main_ended { "yes" } else { "no" },
                    if running { "still ran" } else { "had ended" },
                    main_after.as_millis()
                ),
                main_ended && running,
            ),
            Check::observed(
                "last thread",
                format!("the last thread's exit ends the process, and its code ({WORKER_CODE}) is the process's"),
                crate::sys::windows::ending::WindowsEnding::of(code).describe(),
                code == WORKER_CODE,
            ),
            ended_check(child.process()),
        ],
    ));
    Ok(())
}

pub(super) fn terminate(outcome: &mut Outcome) -> Result<(), DemoError> {
    const CODE: u32 = 99;
    let marker = scratch_path("terminate-destructor");
    let child = DemoChild::start("sleep", &[&marker.to_string_lossy()])?;
    child.line("ready")?;
    child.terminate(CODE)?;
    let code = child.ended("TerminateProcess's end")?;
    let ran = destructor_ran(&marker);
    let closed = child.stdout_closed(Duration::from_secs(5));
    outcome.run(run_report(
        "TerminateProcess(h, 99)",
        "the demo called TerminateProcess on the sleeping child with exit code 99, chosen by the caller",
        child.pid(),
        code,
        vec![
            code_check(code, CODE),
            destructor_check(ran, false, "nothing of the victim runs: no destructor, no handler"),
            Check::went(
                "handles",
                "its handles: the system closed them, so the demo reads the end of the child's stdout pipe",
                if closed {
                    "end of pipe read"
                } else {
                    "no end of pipe in time"
                },
                closed,
            ),
            ended_check(child.process()),
        ],
    ));
    Ok(())
}

/// `(label, mode, what it does, the codes it may end with, the expectation)`.
type Fault = (&'static str, &'static str, &'static str, &'static [u32], &'static str);

const FAULTS: [Fault; 3] = [
    (
        "access violation",
        "access-violation",
        "the child read a committed page with no access (PAGE_NOACCESS); nothing handles the exception",
        &[0xC000_0005],
        "an unhandled exception ends the process with the exception's code, 0xC0000005",
    ),
    (
        "std::process::abort",
        "rust-abort",
        "the child called Rust's std::process::abort",
        &[0xC000_0409, 3],
        "Rust's abort is a fail-fast (__fastfail): 0xC0000409 (the C runtime's abort gives 3)",
    ),
    (
        "abort()",
        "crt-abort",
        "the child called the C runtime's abort()",
        &[3, 0xC000_0409],
        "the C runtime's abort() exits with 3 (a runtime built to fail fast gives 0xC0000409)",
    ),
];

/// How long a faulting child may take to end: under Wine the unhandled
/// exception first starts winedbg, which writes a crash report, and on a
/// machine busy with other work that has taken longer than the demo's
/// usual patience.
const FAULT_PATIENCE: Duration = Duration::from_secs(60);

pub(super) fn faults(outcome: &mut Outcome) -> Result<(), DemoError> {
    for (label, mode, action, codes, expected) in FAULTS {
        let started = Instant::now();
        let child = DemoChild::start("fault", &[mode])?;
        let code = child.ended_within("the fault's end", FAULT_PATIENCE)?;
        let took = started.elapsed();
        outcome.run(run_report(
            label,
            format!("{action} (SetErrorMode(SEM_NOGPFAULTERRORBOX): no error box)"),
            child.pid(),
            code,
            vec![
                Check::observed(
                    "exit code",
                    expected,
                    format!(
                        "{} after {} ms",
                        crate::sys::windows::ending::WindowsEnding::of(code).describe(),
                        took.as_millis()
                    ),
                    codes.contains(&code),
                ),
                ended_check(child.process()),
            ],
        ));
        if mode == "access-violation" && super::under_wine() {
            outcome.note(format!(
                "under Wine the unhandled exception starts winedbg (the AeDebug debugger), which writes a crash report before the process ends: {} ms here; on Windows, Windows Error Reporting takes that turn",
                took.as_millis()
            ));
        }
    }
    Ok(())
}

pub(super) fn still_active(outcome: &mut Outcome) -> Result<(), DemoError> {
    const NAIVE_FOR: Duration = Duration::from_millis(500);
    let child = DemoChild::start("exit", &[&STILL_ACTIVE.to_string(), ""])?;
    child.line("ready")?;
    let asked = Instant::now();
    let signaled = child.process().wait(Some(Duration::from_secs(10)));
    let answered = asked.elapsed();
    // The naive loop: "while GetExitCodeProcess says STILL_ACTIVE, it runs".
    let started = Instant::now();
    let mut reads = 0u32;
    let mut still_active = 0u32;
    while started.elapsed() < NAIVE_FOR {
        reads += 1;
        if win32::raw_exit_code(child.process().raw()) == Some(STILL_ACTIVE) {
            still_active += 1;
        } else {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let code = child.ended("its exit")?;
    outcome.run(run_report(
        "ExitProcess(259)",
        "the child exited with 259, the value of STILL_ACTIVE",
        child.pid(),
        code,
        vec![
            Check::observed(
                "naive loop",
                "a loop on GetExitCodeProcess until it stops reading STILL_ACTIVE (259) never ends: given up after 0.5 s",
                format!("read 259 {still_active} of {reads} times in {} ms after the process ended", started.elapsed().as_millis()),
                reads > 0 && still_active == reads,
            ),
            Check::observed(
                "WaitForSingleObject",
                "WaitForSingleObject on the process handle answers as soon as it ends",
                format!(
                    "{} after {} ms",
                    if signaled { "WAIT_OBJECT_0" } else { "WAIT_TIMEOUT" },
                    answered.as_millis()
                ),
                signaled,
            ),
            code_check(code, STILL_ACTIVE),
        ],
    ));
    Ok(())
}
