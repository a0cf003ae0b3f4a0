//! Ctrl+C and Ctrl+Break: GenerateConsoleCtrlEvent to a child started
//! with CREATE_NEW_PROCESS_GROUP, with and without a handler.
//!
//! A control event goes only to processes of the sender's console, and
//! afterlife may have none (a service, a pipe, Wine without a terminal).
//! So each scenario makes a pseudo console, starts an agent in it (a demo
//! child), and the agent starts each target in a new process group and
//! sends it the event when the demo, holding the target's handle, says so.

use std::io::Write;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use windows_sys::Win32::Foundation::WAIT_OBJECT_0;

use super::child::HANDLER_CODE;
use super::spawn::{CLEANUP_CODE, Held, PATIENCE, next_line, one_spawn_at_a_time, read_lines, run_report};
use super::{DemoError, under_wine, win32};
use crate::demo::{Check, Outcome};
use crate::sys::windows::ending::WindowsEnding;
use crate::sys::windows::handle::Handle;

/// STATUS_CONTROL_C_EXIT: the default handler's exit code for Ctrl+C and
/// Ctrl+Break.
const CONTROL_C_EXIT: u32 = 0xC000_013A;

/// Wine 8's default Ctrl+C handler exits with this instead.
const WINE_DEFAULT_CODE: u32 = 0;

/// Whether a Ctrl+C with no handler ended the process as the default
/// handler does: STATUS_CONTROL_C_EXIT, or under Wine 8 its 0. Pure.
fn default_handler_seen(by_event: bool, code: u32, wine: bool) -> bool {
    by_event && (code == CONTROL_C_EXIT || (wine && code == WINE_DEFAULT_CODE))
}

/// Whether a Ctrl+Break ended the process with `expected`, or, under Wine
/// 8, which refuses CTRL_BREAK_EVENT to a process group, was refused. Pure.
fn break_seen(by_event: bool, code: u32, expected: u32, wine: bool, refused: bool) -> bool {
    (by_event && code == expected) || (wine && refused)
}

/// How long an event may take to end its target.
const DELIVERY: Duration = Duration::from_secs(5);

/// How long a target that should ignore the event is watched.
const IGNORED_FOR: Duration = Duration::from_millis(700);

/// The agent in its pseudo console.
struct Agent {
    process: Handle,
    input: Option<std::io::PipeWriter>,
    lines: Receiver<String>,
    // Closed last: the agent first sees the end of its input.
    _console: win32::PseudoConsole,
}

/// What became of one event.
struct Sent {
    target: Held,
    pid: u32,
    /// `Err(code)`: GenerateConsoleCtrlEvent failed with this Win32 error.
    result: Result<(), u32>,
}

impl Agent {
    fn start() -> Result<Agent, DemoError> {
        let console = win32::PseudoConsole::new().map_err(DemoError::io("CreatePseudoConsole"))?;
        let (stdin_read, stdin_write) = std::io::pipe().map_err(DemoError::io("CreatePipe"))?;
        let (stdout_read, stdout_write) = std::io::pipe().map_err(DemoError::io("CreatePipe"))?;
        let exe = std::env::current_exe().map_err(DemoError::io("find afterlife's executable"))?;
        let command = format!(
            "\"{}\" {} {}ctrl-agent",
            exe.display(),
            crate::sys::windows::child::CHILD_COMMAND,
            super::child::PREFIX
        );
        let spawning = one_spawn_at_a_time();
        let process = console.spawn(&command, &stdin_read, &stdout_write);
        // The agent's ends are inheritable: closed before another spawn.
        drop((stdin_read, stdout_write));
        drop(spawning);
        let process = process.map_err(DemoError::io("start the console agent in a pseudo console"))?;
        Ok(Agent {
            process,
            input: Some(stdin_write),
            lines: read_lines(Some(stdout_read)),
            _console: console,
        })
    }

    fn say(&mut self, line: &str) -> Result<(), DemoError> {
        let input = self.input.as_mut().ok_or_else(|| DemoError::Protocol {
            pid: 0,
            message: "the console agent's input is closed".to_string(),
        })?;
        writeln!(input, "{line}").map_err(DemoError::io("write to the console agent"))
    }

    /// Starts a target in `mode` and sends it `event` (`c` or `break`).
    fn send(&mut self, event: &str, mode: &str) -> Result<Sent, DemoError> {
        self.say(&format!("{event} {mode}"))?;
        let line = next_line(&self.lines, 0, "the target's PID")?;
        let pid = line.strip_prefix("pid ").unwrap_or_default().trim().to_string();
        let target = Held::open(&pid)?;
        self.say("go")?;
        let line = next_line(&self.lines, target.0.pid(), "whether the event was sent")?;
        let result = match line.strip_prefix("sent ") {
            Some("ok") => Ok(()),
            Some(error) => Err(error.trim_start_matches("error ").parse::<u32>().unwrap_or(0)),
            None => {
                return Err(DemoError::Protocol {
                    pid: target.0.pid(),
                    message: format!("expected 'sent ...', read '{line}'"),
                });
            }
        };
        Ok(Sent {
            pid: target.0.pid(),
            target,
            result,
        })
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // The end of its input ends the agent; then the console closes.
        drop(self.input.take());
        if !win32::wait_object(&self.process, PATIENCE.as_millis() as u32).is_ok_and(|w| w == WAIT_OBJECT_0) {
            let _ = win32::terminate(&self.process, CLEANUP_CODE);
        }
    }
}

/// How the target ended: by the event within [`DELIVERY`] (`true`), or
/// ended by the demo afterwards (`false`); and its exit code.
fn outcome_of(sent: &Sent, wait: Duration) -> (bool, u32) {
    let by_event = sent.result.is_ok() && sent.target.0.wait(Some(wait));
    if !by_event {
        let _ = sent.target.0.terminate(CLEANUP_CODE);
        sent.target.0.wait(Some(PATIENCE));
    }
    (by_event, sent.target.0.exit_code().unwrap_or(CLEANUP_CODE))
}

fn sent_words(sent: &Sent) -> String {
    match sent.result {
        Ok(()) => "GenerateConsoleCtrlEvent succeeded".to_string(),
        Err(code) => format!(
            "GenerateConsoleCtrlEvent failed: {}",
            std::io::Error::from_raw_os_error(code as i32)
        ),
    }
}

fn ending_words(by_event: bool, code: u32) -> String {
    if by_event {
        format!("ended by the event: {}", WindowsEnding::of(code).describe())
    } else {
        format!("still running; ended by the demo (TerminateProcess, exit code {CLEANUP_CODE})")
    }
}

pub(super) fn ctrl_c(outcome: &mut Outcome) -> Result<(), DemoError> {
    let wine = under_wine();
    let mut agent = Agent::start()?;

    // A new group starts with Ctrl+C ignored.
    let sent = agent.send("c", "none")?;
    let ignored = sent.result.is_ok() && !sent.target.0.wait(Some(IGNORED_FOR));
    let (_, code) = outcome_of(&sent, Duration::ZERO);
    outcome.run(run_report(
        "Ctrl+C left ignored",
        "the child, started with CREATE_NEW_PROCESS_GROUP, did nothing about Ctrl+C; CTRL_C_EVENT was sent to its group",
        sent.pid,
        code,
        vec![Check::observed(
            "ignored",
            "a new process group starts with Ctrl+C ignored: the child runs on",
            format!(
                "{}; {} after {} ms",
                sent_words(&sent),
                if ignored { "still running" } else { "not running" },
                IGNORED_FOR.as_millis()
            ),
            ignored,
        )],
    ));

    // Re-enabled, no handler: the default handler ends the process.
    let sent = agent.send("c", "enable")?;
    let (by_event, code) = outcome_of(&sent, DELIVERY);
    let wine_default = wine && by_event && code == WINE_DEFAULT_CODE;
    outcome.run(run_report(
        "Ctrl+C re-enabled, no handler",
        "the child called SetConsoleCtrlHandler(NULL, FALSE) to take Ctrl+C again, and installed no handler; CTRL_C_EVENT was sent to its group",
        sent.pid,
        code,
        vec![Check::observed(
            "default handler",
            "the default handler calls ExitProcess(STATUS_CONTROL_C_EXIT): 0xC000013A",
            format!("{}; {}", sent_words(&sent), ending_words(by_event, code)),
            default_handler_seen(by_event, code, wine),
        )],
    ));
    if wine_default {
        outcome.note(
            "under Wine 8 the default Ctrl+C handler exits with 0, not STATUS_CONTROL_C_EXIT (0xC000013A) as Windows does",
        );
    }

    // Re-enabled, with a handler: the handler decides.
    let sent = agent.send("c", "handler")?;
    let (by_event, code) = outcome_of(&sent, DELIVERY);
    outcome.run(run_report(
        "Ctrl+C with a handler",
        format!(
            "the child took Ctrl+C again and added a handler that exits with {HANDLER_CODE}; CTRL_C_EVENT was sent to its group"
        ),
        sent.pid,
        code,
        vec![Check::observed(
            "handler",
            format!("the handler runs on a new thread and ends the process its own way: exit code {HANDLER_CODE}"),
            format!("{}; {}", sent_words(&sent), ending_words(by_event, code)),
            by_event && code == HANDLER_CODE,
        )],
    ));
    Ok(())
}

pub(super) fn ctrl_break(outcome: &mut Outcome) -> Result<(), DemoError> {
    let wine = under_wine();
    let mut agent = Agent::start()?;
    let mut refused_under_wine = None;
    let runs = [
        (
            "Ctrl+Break, no handler",
            "none",
            "the child, started with CREATE_NEW_PROCESS_GROUP, did nothing about console events; CTRL_BREAK_EVENT was sent to its group".to_string(),
            CONTROL_C_EXIT,
            "Ctrl+Break is not ignored in a new group: the default handler calls ExitProcess(STATUS_CONTROL_C_EXIT), 0xC000013A".to_string(),
        ),
        (
            "Ctrl+Break with a handler",
            "break-handler",
            format!("the child added a handler that exits with {HANDLER_CODE}; CTRL_BREAK_EVENT was sent to its group"),
            HANDLER_CODE,
            format!("the handler runs and ends the process its own way: exit code {HANDLER_CODE}"),
        ),
    ];
    for (label, mode, action, expected_code, expected) in runs {
        let sent = agent.send("break", mode)?;
        let (by_event, code) = outcome_of(&sent, DELIVERY);
        let wine_refused = wine && sent.result.is_err();
        if wine_refused {
            refused_under_wine = sent.result.err();
        }
        outcome.run(run_report(
            label,
            action,
            sent.pid,
            code,
            vec![Check::observed(
                "Ctrl+Break",
                expected,
                format!("{}; {}", sent_words(&sent), ending_words(by_event, code)),
                break_seen(by_event, code, expected_code, wine, sent.result.is_err()),
            )],
        ));
    }
    if let Some(error) = refused_under_wine {
        outcome.note(format!(
            "under Wine 8 GenerateConsoleCtrlEvent refuses CTRL_BREAK_EVENT to a process group ({}), while it delivers CTRL_C_EVENT: Wine cannot show Ctrl+Break; the children were ended by the demo",
            std::io::Error::from_raw_os_error(error as i32)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wines_differences_are_accepted_under_wine_only() {
        assert!(default_handler_seen(true, CONTROL_C_EXIT, false));
        assert!(default_handler_seen(true, 0, true));
        assert!(!default_handler_seen(true, 0, false));
        assert!(!default_handler_seen(false, CONTROL_C_EXIT, false));
        assert!(break_seen(true, HANDLER_CODE, HANDLER_CODE, false, false));
        assert!(break_seen(false, CLEANUP_CODE, HANDLER_CODE, true, true));
        assert!(!break_seen(false, CLEANUP_CODE, HANDLER_CODE, false, true));
    }
}
