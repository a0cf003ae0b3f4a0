//! `afterlife demo`: the talk's questions — every way a process can die,
//! its exit code as each observer sees it, what goes and what stays —
//! answered by running each case for real on this machine.
//!
//! On Linux each scenario starts the afterlife binary again in a hidden mode
//! ([`child`], `afterlife demo-child MODE`), so nothing else is needed on
//! the machine. It observes the child with the project's own library: a
//! pidfd handle ([`crate::process::Process`]) for every signal and wait,
//! `waitid(P_PIDFD)` to reap, /proc for states, masks, memory and fds. Every
//! fact in a report is measured, never recited. Every scenario ends all it
//! started, through pidfds, and removes the files and IPC objects it made.
//!
//! Kernel behaviour shown: exit(2)/exit_group(2) and the 8-bit exit code;
//! the last thread's exit ending a process; signal default actions and the
//! core-dump flag (signal(7), core(5)); reparenting of orphans to init or a
//! subreaper (PR_SET_CHILD_SUBREAPER, prctl(2)); fds inherited across
//! execve(2) without `O_CLOEXEC`; pipe buffers, files and SysV shared memory
//! outliving their creator; stopped processes and pending signals; zombies.
//!
//! The registry, the runner and the reports are the same on Windows, where
//! the scenarios are the talk's own on Windows primitives
//! (`sys::windows::demo`): ExitProcess, ExitThread, TerminateProcess,
//! console control events, unhandled exceptions, `STILL_ACTIVE`, an
//! abandoned mutex, inherited sockets, named file mappings.

mod report;
mod runner;

// The Linux scenarios and what they share.
#[cfg(target_os = "linux")]
mod checks;
#[cfg(target_os = "linux")]
pub mod child;
#[cfg(target_os = "linux")]
mod error;
#[cfg(target_os = "linux")]
mod exits;
#[cfg(target_os = "linux")]
mod faults;
#[cfg(target_os = "linux")]
mod ghost;
#[cfg(target_os = "linux")]
mod holders;
#[cfg(target_os = "linux")]
mod leftovers;
#[cfg(target_os = "linux")]
mod orphan;
#[cfg(target_os = "linux")]
mod resisting;
#[cfg(target_os = "linux")]
mod signals;
#[cfg(target_os = "linux")]
mod spawn;

#[cfg(target_os = "linux")]
pub use error::DemoError;
#[cfg(target_os = "linux")]
pub use holders::{SocketHolder, listening_port_holders};
#[cfg(target_os = "linux")]
pub use report::CoreLimit;
pub use report::{Check, DemoReport, Ending, ExplainSummary, Fact, MachineFacts, RunReport, ScenarioReport};
#[cfg(target_os = "linux")]
pub use resisting::why_it_stays;
pub use runner::run;

#[cfg(target_os = "linux")]
pub(crate) use checks::{fds_check, gone_check, run_report, status_check, zombie_memory_check};
#[cfg(target_os = "linux")]
pub(crate) use runner::{core_limit, core_pattern};

#[cfg(windows)]
pub use crate::sys::windows::demo::{DemoError, SCENARIOS};

/// What a scenario gathers as it runs: kept even when it fails halfway.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    runs: Vec<RunReport>,
    notes: Vec<String>,
}

impl Outcome {
    pub(crate) fn run(&mut self, run: RunReport) {
        self.runs.push(run);
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

/// One scenario of the demo.
#[derive(Debug)]
pub struct Scenario {
    /// Its number, from 1, stable.
    pub id: u8,
    /// Its name, stable: what `afterlife demo NAME` takes.
    pub name: &'static str,
    /// A title.
    pub title: &'static str,
    /// The question it answers.
    pub question: &'static str,
    /// A line for readers who know the other system: on Linux what the
    /// Windows term of its title means (the talk was about Windows); on
    /// Windows its Linux counterpart.
    pub windows: Option<&'static str>,
    pub(crate) run: fn(&mut Outcome) -> Result<(), DemoError>,
}

/// Every scenario, in order.
#[cfg(target_os = "linux")]
pub static SCENARIOS: [Scenario; 18] = [
    Scenario {
        id: 1,
        name: "exit",
        title: "exit(3)",
        question: "What does the parent see when a process calls exit(3), and do destructors run?",
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
        question: "Does a process end when its main thread exits while another thread runs?",
        windows: None,
        run: exits::last_thread,
    },
    Scenario {
        id: 4,
        name: "sigkill",
        title: "killed from outside: SIGKILL (TerminateProcess)",
        question: "What does SIGKILL take with the process, and what does it skip?",
        windows: Some(
            "TerminateProcess is how one Windows process ends another at once, with no cleanup in the victim: what SIGKILL does here.",
        ),
        run: signals::sigkill,
    },
    Scenario {
        id: 5,
        name: "ctrl-c",
        title: "Ctrl+C: SIGINT",
        question: "How does SIGINT end a process by default, and with a handler that exits cleanly?",
        windows: Some(
            "On Windows, Ctrl+C reaches a console program as CTRL_C_EVENT, which a handler may catch, as SIGINT here.",
        ),
        run: signals::ctrl_c,
    },
    Scenario {
        id: 6,
        name: "ctrl-break",
        title: "Ctrl+Break: SIGQUIT and its core dump",
        question: "When does SIGQUIT leave a core dump?",
        windows: Some(
            "Ctrl+Break is the Windows console's second interrupt key (CTRL_BREAK_EVENT); Linux's nearest is Ctrl+\\, which sends SIGQUIT.",
        ),
        run: faults::ctrl_break,
    },
    Scenario {
        id: 7,
        name: "logoff",
        title: "logoff: SIGHUP",
        question: "What does hanging up do, by default and under nohup?",
        windows: Some(
            "Logoff is Windows ending a user's session (CTRL_LOGOFF_EVENT to console programs); on Linux a closed terminal or ended session sends SIGHUP.",
        ),
        run: signals::logoff,
    },
    Scenario {
        id: 8,
        name: "shutdown",
        title: "shutdown: SIGTERM, then SIGKILL after a grace",
        question: "What does a shutdown do to a process that handles SIGTERM, and to one that ignores it?",
        windows: Some(
            "At shutdown Windows asks programs to end (WM_QUERYENDSESSION, CTRL_SHUTDOWN_EVENT) and ends those that do not, as init sends SIGTERM and then SIGKILL.",
        ),
        run: signals::shutdown,
    },
    Scenario {
        id: 9,
        name: "faults",
        title: "unhandled faults: SIGSEGV, abort(), a Rust panic",
        question: "What exit codes do crashes give: 139, 134, 101?",
        windows: None,
        run: faults::faults,
    },
    Scenario {
        id: 10,
        name: "exit-range",
        title: "out-of-range exit codes",
        question: "What does the parent see for exit(256) and exit(-1)?",
        windows: None,
        run: exits::out_of_range,
    },
    Scenario {
        id: 11,
        name: "buffered-output",
        title: "buffered output",
        question: "Are bytes written through a buffer on disk when the process dies?",
        windows: None,
        run: leftovers::buffered_output,
    },
    Scenario {
        id: 12,
        name: "memory",
        title: "memory",
        question: "Does the memory a process allocated return to the system?",
        windows: None,
        run: leftovers::memory,
    },
    Scenario {
        id: 13,
        name: "files",
        title: "files and temp files",
        question: "Do the files a process wrote, and its temp files, stay?",
        windows: None,
        run: leftovers::files,
    },
    Scenario {
        id: 14,
        name: "orphan",
        title: "an orphan lives on",
        question: "What happens to a child whose parent dies?",
        windows: None,
        run: orphan::orphan,
    },
    Scenario {
        id: 15,
        name: "ghost-socket",
        title: "the ghost socket",
        question: "Why is the port still in use after the server was killed?",
        windows: None,
        run: ghost::ghost_socket,
    },
    Scenario {
        id: 16,
        name: "pipe",
        title: "data handed over through a pipe",
        question: "Does data written into a pipe survive its writer?",
        windows: None,
        run: leftovers::pipe,
    },
    Scenario {
        id: 17,
        name: "shm",
        title: "a SysV shared memory segment",
        question: "Does a shared memory segment outlive the process that made it?",
        windows: None,
        run: leftovers::shm,
    },
    Scenario {
        id: 18,
        name: "resisting",
        title: "resisting: stopped, ignoring TERM, a zombie",
        question: "Why does a process not die when asked?",
        windows: None,
        run: resisting::resisting,
    },
];

/// A scenario name or number that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no demo scenario '{0}': give a number 1-{count} or a name (see 'afterlife demo --list')", count = SCENARIOS.len())]
pub struct UnknownScenario(pub String);

/// Finds the scenarios named (by number or name), in the order given, each
/// once; all of them if none is named.
pub fn select(names: &[String]) -> Result<Vec<&'static Scenario>, UnknownScenario> {
    if names.is_empty() {
        return Ok(SCENARIOS.iter().collect());
    }
    let mut chosen: Vec<&'static Scenario> = Vec::new();
    for name in names {
        let wanted = name.trim().to_ascii_lowercase();
        let scenario = SCENARIOS
            .iter()
            .find(|s| s.name == wanted || wanted.parse::<u8>().is_ok_and(|id| id == s.id))
            .ok_or_else(|| UnknownScenario(name.clone()))?;
        if !chosen.iter().any(|c| c.id == scenario.id) {
            chosen.push(scenario);
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_stable_and_unique() {
        for (i, scenario) in SCENARIOS.iter().enumerate() {
            assert_eq!(usize::from(scenario.id), i + 1);
            assert!(SCENARIOS.iter().filter(|s| s.name == scenario.name).count() == 1);
        }
    }

    #[cfg(windows)]
    #[test]
    fn selects_the_windows_scenarios_by_number_and_name_in_order() {
        let chosen = select(&["8".to_string(), "exit".to_string(), "still-active".to_string()]).unwrap();
        assert_eq!(chosen.iter().map(|s| s.id).collect::<Vec<_>>(), [8, 1]);
        assert_eq!(select(&[]).unwrap().len(), 13);
        let error = select(&["14".to_string()]).unwrap_err();
        assert!(error.to_string().contains("give a number 1-13"), "{error}");
        // A Linux scenario's name is no Windows one.
        assert!(select(&["sigkill".to_string()]).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn selects_by_number_and_name_in_order() {
        let chosen = select(&["15".to_string(), "exit".to_string(), "ghost-socket".to_string()]).unwrap();
        assert_eq!(chosen.iter().map(|s| s.id).collect::<Vec<_>>(), [15, 1]);
        assert_eq!(select(&[]).unwrap().len(), 18);
        assert_eq!(
            select(&["19".to_string()]).unwrap_err(),
            UnknownScenario("19".to_string())
        );
        assert!(select(&["nope".to_string()]).is_err());
    }
}
