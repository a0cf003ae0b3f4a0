//! `afterlife demo` on Windows: the talk's scenarios on its own OS, each
//! run for real and measured — ExitProcess, return from main, the last
//! thread's ExitThread, TerminateProcess, Ctrl+C and Ctrl+Break through
//! GenerateConsoleCtrlEvent, an unhandled access violation and abort,
//! exit code 259 against a naive `STILL_ACTIVE` loop, what goes (memory,
//! handles, an owned mutex released as abandoned) and what stays (files,
//! an inherited listening socket, a named file mapping another process
//! holds, an orphan).
//!
//! Every child is afterlife itself in a hidden mode (`__child demo-MODE`,
//! [`child`]), held by a process handle; every wait is bounded; every
//! scenario ends what it started (TerminateProcess on handles, never by
//! name) and removes the files it made. The registry, the runner and the
//! reports are [`crate::demo`]'s, shared with Linux. Where Wine behaves
//! otherwise than Windows, the check accepts what Wine does only when the
//! demo runs under Wine, and a note of the scenario names the difference.

pub(crate) mod child;
mod console;
mod exits;
mod leftovers;
mod spawn;
mod win32;

use serde::Serialize;

use crate::demo::Scenario;
use crate::sys::windows::handle::OpenError;

/// A scenario could not be run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The afterlife binary could not start itself in its hidden mode.
    #[error("start the demo child '{mode}': {source}")]
    Spawn {
        /// The hidden mode.
        mode: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A child said something other than what its mode promises.
    #[error("understand demo child {pid}: {message}")]
    Protocol {
        /// The child.
        pid: u32,
        /// What was wrong.
        message: String,
    },
    /// A child did not do what it should within the time allowed.
    #[error("see demo child {pid} {what} in time")]
    Timeout {
        /// The child.
        pid: u32,
        /// What it should have done.
        what: &'static str,
    },
    /// Opening a process failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A call on a demo child failed.
    #[error("{call} for demo child {pid}: {source}")]
    Call {
        /// The child.
        pid: u32,
        /// The call.
        call: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A call of the scenario itself failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl DemoError {
    /// An I/O failure while doing `what`.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
        let what = what.into();
        move |source| DemoError::Io { what, source }
    }
}

/// Facts about the machine the demo ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineFacts {
    /// The version Windows reports to afterlife (`GetVersionExW`): `6.1.7601`.
    pub windows_version: String,
    /// Wine's version when the demo ran under Wine, else `None`.
    pub wine: Option<String>,
}

/// The machine, for the report.
pub(crate) fn machine_facts() -> MachineFacts {
    MachineFacts {
        windows_version: win32::windows_version(),
        wine: win32::wine_version(),
    }
}

/// Whether the demo runs under Wine.
pub(crate) fn under_wine() -> bool {
    win32::wine_version().is_some()
}

/// Before the scenarios: the scratch files of a demo ended halfway go.
pub(crate) fn prepare() {
    spawn::remove_stale_scratch();
}

/// The width of the console on stdout, for the demo's table.
pub(crate) fn console_columns() -> Option<usize> {
    win32::console_columns()
}

/// Every scenario on Windows, in order.
pub static SCENARIOS: [Scenario; 13] = [
    Scenario {
        id: 1,
        name: "exit",
        title: "ExitProcess(3)",
        question: "What does the parent see when a process calls ExitProcess(3), and do destructors run?",
        windows: None,
        run: exits::exit_three,
    },
    Scenario {
        id: 2,
        name: "return",
        title: "return from main",
        question: "What happens when main returns?",
        windows: None,
        run: exits::return_from_main,
    },
    Scenario {
        id: 3,
        name: "last-thread",
        title: "the last thread ends the process",
        question: "Does a process end when its main thread calls ExitThread while another thread runs, and with whose exit code?",
        windows: None,
        run: exits::last_thread,
    },
    Scenario {
        id: 4,
        name: "terminate",
        title: "killed from outside: TerminateProcess",
        question: "What does TerminateProcess give the parent, and what does it skip?",
        windows: Some(
            "TerminateProcess is Windows's SIGKILL: no cleanup in the victim, the exit code chosen by the caller.",
        ),
        run: exits::terminate,
    },
    Scenario {
        id: 5,
        name: "ctrl-c",
        title: "Ctrl+C: CTRL_C_EVENT to a process group",
        question: "What does Ctrl+C do to a process started with CREATE_NEW_PROCESS_GROUP, with and without a handler?",
        windows: Some("Linux's SIGINT; a new process group starts with Ctrl+C ignored, as SIG_IGN inherited."),
        run: console::ctrl_c,
    },
    Scenario {
        id: 6,
        name: "ctrl-break",
        title: "Ctrl+Break: CTRL_BREAK_EVENT to a process group",
        question: "What does Ctrl+Break do to a process group, with and without a handler?",
        windows: Some("The console's second interrupt key; it cannot be ignored the way Ctrl+C is."),
        run: console::ctrl_break,
    },
    Scenario {
        id: 7,
        name: "faults",
        title: "an unhandled exception and abort",
        question: "What exit codes do crashes give: 0xC0000005, abort()'s 3, a fail-fast's 0xC0000409?",
        windows: None,
        run: exits::faults,
    },
    Scenario {
        id: 8,
        name: "still-active",
        title: "exit code 259 and STILL_ACTIVE",
        question: "Why does a loop on GetExitCodeProcess wait forever for a process that exited with 259?",
        windows: None,
        run: exits::still_active,
    },
    Scenario {
        id: 9,
        name: "what-goes",
        title: "what goes: memory, handles, an owned mutex",
        question: "What does the system take back when a process ends, and what do others holding its objects see?",
        windows: None,
        run: leftovers::what_goes,
    },
    Scenario {
        id: 10,
        name: "files",
        title: "files and temp files",
        question: "Do the files a process wrote, and its temp files, stay?",
        windows: None,
        run: leftovers::files,
    },
    Scenario {
        id: 11,
        name: "ghost-socket",
        title: "the ghost socket",
        question: "Why is the port still in use after the server was terminated?",
        windows: None,
        run: leftovers::ghost_socket,
    },
    Scenario {
        id: 12,
        name: "mapping",
        title: "a named file mapping held by another process",
        question: "Does shared memory outlive the process that made it?",
        windows: None,
        run: leftovers::mapping,
    },
    Scenario {
        id: 13,
        name: "orphan",
        title: "an orphan lives on",
        question: "What happens to a child whose parent is terminated?",
        windows: None,
        run: leftovers::orphan,
    },
];
