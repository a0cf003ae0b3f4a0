//! `why` on Windows: why a process resists termination, as a typed report
//! decided by pure functions from facts read by [`super::resist_gather`].
//!
//! The findings of the talk's "resisting termination": every thread
//! suspended (suspend counts), a debugger attached (who), already ended
//! with its process object kept by open handles (the Windows zombie: who
//! holds it), access denied (the rights tried), or nothing; each with its
//! evidence (the call and the value it gave), plain words and the next
//! step; and what WM_CLOSE, CTRL_BREAK_EVENT and `TerminateProcess` would
//! do now.

use serde::Serialize;

use super::threads::ThreadCount;
pub use crate::finding::Evidence;

/// Why a process resists termination, or that nothing does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowsDiagnosis {
    /// The PID.
    pub pid: u32,
    /// Its executable's name.
    pub name: String,
    /// Its executable's full path, where it could be read.
    pub image: Option<String>,
    /// `running`, `suspended` (every thread), `ended`, or `unknown` (it
    /// could not be opened even to wait on).
    pub state: &'static str,
    /// How many threads it has now.
    pub threads: usize,
    /// What `TerminateProcess` would do now, all findings taken together.
    pub terminate_process: Effect,
    /// The findings, the most important first.
    pub findings: Vec<Finding>,
    /// What each way of ending it would do now.
    pub endings: Vec<EndingOutcome>,
}

/// What `TerminateProcess` would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// End it now.
    EndsIt,
    /// Fail: OpenProcess(PROCESS_TERMINATE) is denied.
    NotPermitted,
    /// Nothing: it has already ended.
    AlreadyDead,
}

impl Effect {
    /// Plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Effect::EndsIt => "TerminateProcess would end it now",
            Effect::NotPermitted => "TerminateProcess would be denied: OpenProcess(PROCESS_TERMINATE) is refused",
            Effect::AlreadyDead => "it has already ended; there is nothing to terminate",
        }
    }
}

/// The kinds of findings on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Threads suspended (every one, or some).
    Suspended,
    /// A debugger is attached.
    Debugged,
    /// It has ended; open handles keep its process object.
    Ended,
    /// OpenProcess was denied some of the rights tried.
    AccessDenied,
    /// Nothing resists.
    Running,
}

/// One reason, with its evidence and the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of finding.
    pub kind: FindingKind,
    /// A short title.
    pub title: String,
    /// What it means, in plain words.
    pub explanation: String,
    /// The calls and values it rests on.
    pub evidence: Vec<Evidence>,
    /// The next step that would work.
    pub next_step: String,
    /// What `TerminateProcess` does, given this finding alone.
    pub terminate_process: Effect,
    /// The threads it is about (suspended threads and their counts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<ThreadRef>,
    /// The other processes it names (the debugger, the handle holders).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessRef>,
}

/// A thread named by a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadRef {
    /// Its thread ID.
    pub tid: u32,
    /// Its suspend count.
    pub suspend_count: u32,
}

/// Another process named by a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessRef {
    /// Its PID.
    pub pid: u32,
    /// Its executable's name (empty when unknown).
    pub name: String,
}

/// What one way of ending it would do now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndingOutcome {
    /// `WM_CLOSE`, `CTRL_BREAK_EVENT` or `TerminateProcess`.
    pub how: &'static str,
    /// `handled` (the program decides), `waits` (it cannot be handled
    /// now), `not_sent` (afterlife kill would not send it), `forced`,
    /// `not_permitted`, `already_ended`.
    pub handling: &'static str,
    /// Whether it would end the process now, for sure.
    pub ends_it_now: bool,
    /// What happens, in plain words.
    pub effect: String,
}

/// One `OpenProcess` tried, and what it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessAttempt {
    /// The rights asked, as written in code.
    pub rights: &'static str,
    /// `None`: granted; else the error.
    pub error: Option<String>,
}

/// The process's ending, once it has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedFacts {
    /// `GetExitCodeProcess`.
    pub exit_code: Option<u32>,
    /// The processes holding a handle to it (besides afterlife), or why
    /// they could not be found; with how many possible holders afterlife
    /// could not open to look.
    pub holders: Result<(Vec<ProcessRef>, usize), String>,
}

/// The debugger facts, with names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebuggerFacts {
    /// `CheckRemoteDebuggerPresent`.
    pub present: bool,
    /// The processes holding the debug object (or a debug object).
    pub debuggers: Result<Vec<ProcessRef>, String>,
    /// Matched by object address.
    pub exact: bool,
}

/// Everything read about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The PID.
    pub pid: u32,
    /// Its executable's name.
    pub name: String,
    /// Its executable's path.
    pub image: Option<String>,
    /// The OpenProcess calls tried to read it, in order, up to the first
    /// granted.
    pub access: Vec<AccessAttempt>,
    /// `OpenProcess(PROCESS_TERMINATE)`: `None` granted, else the error.
    pub terminate_denied: Option<String>,
    /// `WaitForSingleObject(h, 0)`: `Some(true)` signaled (ended), `None`
    /// when no handle could wait.
    pub ended: Option<bool>,
    /// Its ending, when it has ended.
    pub ending: Option<EndedFacts>,
    /// Its threads and their suspend counts, or why they could not be read.
    pub threads: Result<Vec<ThreadCount>, String>,
    /// The debugger, or why it could not be asked.
    pub debugger: Result<DebuggerFacts, String>,
    /// `ProcessProtectionInformation`'s byte (0: not protected), or why
    /// it could not be read.
    pub protection: Result<u8, String>,
    /// Its top-level windows.
    pub windows: usize,
    /// Its console process group ID, or why it could not be read.
    pub group: Result<u32, String>,
}

impl Facts {
    fn suspended_threads(&self) -> Vec<ThreadRef> {
        let Ok(threads) = &self.threads else {
            return Vec::new();
        };
        threads
            .iter()
            .filter_map(|t| match t.count {
                Ok(count) if count > 0 => Some(ThreadRef {
                    tid: t.tid,
                    suspend_count: count,
                }),
                _ => None,
            })
            .collect()
    }

    fn thread_count(&self) -> usize {
        self.threads.as_ref().map_or(0, Vec::len)
    }

    fn all_suspended(&self) -> bool {
        let total = self.thread_count();
        total > 0 && self.suspended_threads().len() == total
    }

    fn debugged(&self) -> bool {
        self.debugger.as_ref().is_ok_and(|d| d.present)
    }
}

/// The diagnosis. Pure.
pub fn decide(facts: &Facts) -> WindowsDiagnosis {
    let terminate_process = terminate_effect(facts);
    let mut findings = Vec::new();
    if let Some(ending) = facts.ending.as_ref().filter(|_| facts.ended == Some(true)) {
        findings.push(ended_finding(facts, ending));
    }
    if facts.access.iter().any(|a| a.error.is_some()) || facts.terminate_denied.is_some() {
        findings.push(access_finding(facts, terminate_process));
    }
    if facts.ended != Some(true) {
        if let Some(finding) = suspended_finding(facts) {
            findings.push(finding);
        }
        if let Ok(debugger) = &facts.debugger
            && debugger.present
        {
            findings.push(debugged_finding(facts, debugger, terminate_process));
        }
    }
    if findings.is_empty() {
        findings.push(running_finding(facts, terminate_process));
    }
    WindowsDiagnosis {
        pid: facts.pid,
        name: facts.name.clone(),
        image: facts.image.clone(),
        state: state(facts),
        threads: facts.thread_count(),
        terminate_process,
        findings,
        endings: endings(facts, terminate_process),
    }
}

fn state(facts: &Facts) -> &'static str {
    match facts.ended {
        Some(true) => "ended",
        None => "unknown",
        Some(false) if facts.all_suspended() => "suspended",
        Some(false) => "running",
    }
}

fn terminate_effect(facts: &Facts) -> Effect {
    if facts.ended == Some(true) {
        Effect::AlreadyDead
    } else if facts.terminate_denied.is_some() {
        Effect::NotPermitted
    } else {
        Effect::EndsIt
    }
}

fn named(process: &ProcessRef) -> String {
    if process.name.is_empty() {
        format!("PID {}", process.pid)
    } else {
        format!("PID {} ({})", process.pid, process.name)
    }
}

fn listed(processes: &[ProcessRef]) -> String {
    processes.iter().map(named).collect::<Vec<_>>().join(", ")
}

fn exit_words(code: Option<u32>) -> String {
    code.map_or("unreadable".to_string(), |c| format!("{c} ({c:#010X})"))
}

fn ended_finding(facts: &Facts, ending: &EndedFacts) -> Finding {
    let mut evidence_lines = vec![
        Evidence::new(
            "WaitForSingleObject(handle, 0)",
            "WAIT_OBJECT_0: signaled, it has ended",
        ),
        Evidence::new("GetExitCodeProcess", exit_words(ending.exit_code)),
    ];
    let (holders, title, next_step) = match &ending.holders {
        Ok((holders, unopened)) => {
            let mut value = if holders.is_empty() {
                "no process but afterlife holds a handle to it".to_string()
            } else {
                format!("held by {}", listed(holders))
            };
            if *unopened > 0 {
                value.push_str(&format!(
                    "; {unopened} other process(es) with process handles could not be opened to look (PROCESS_DUP_HANDLE denied)"
                ));
            }
            evidence_lines.push(Evidence::new(
                format!("{} + DuplicateHandle + GetProcessId", super::handle_table::SOURCE),
                value,
            ));
            let title = if holders.is_empty() {
                format!(
                    "already ended (exit code {}); no other process holds its handle now",
                    exit_words(ending.exit_code)
                )
            } else {
                format!(
                    "already ended (exit code {}); its process object is kept by {}",
                    exit_words(ending.exit_code),
                    listed(holders)
                )
            };
            let mut next = if holders.is_empty() {
                "Nothing to do: once afterlife's own handle closes, the object and its PID are freed.".to_string()
            } else {
                format!(
                    "Have {} close its handle (CloseHandle once it has read the exit code), or end it: the PID is freed when the last handle closes.",
                    listed(holders)
                )
            };
            if *unopened > 0 {
                next.push_str(&format!(
                    " Processes afterlife could not look into may hold it too: Sysinternals `handle.exe -a \"{}({})\"` from an elevated prompt lists them all.",
                    facts.name, facts.pid
                ));
            }
            (holders.clone(), title, next)
        }
        Err(error) => {
            evidence_lines.push(Evidence::new(
                super::handle_table::SOURCE,
                format!("unreadable: {error}"),
            ));
            (
                Vec::new(),
                format!(
                    "already ended (exit code {}); kept by open handles",
                    exit_words(ending.exit_code)
                ),
                format!(
                    "Find who holds it with Sysinternals handle.exe (`handle.exe -a \"{}({})\"`) or Process Explorer's Find Handle, and have it close the handle.",
                    facts.name, facts.pid
                ),
            )
        }
    };
    Finding {
        kind: FindingKind::Ended,
        title,
        explanation: "It has ended: its threads are gone and its exit code is set. What is left is its process object, which Windows keeps while any process holds a handle to it — the Windows zombie: the PID stays taken (no new process gets it) and its exit code can still be read. There is nothing left to terminate.".to_string(),
        evidence: evidence_lines,
        next_step,
        terminate_process: Effect::AlreadyDead,
        threads: Vec::new(),
        processes: holders,
    }
}

fn access_finding(facts: &Facts, terminate_process: Effect) -> Finding {
    let mut lines: Vec<Evidence> = facts
        .access
        .iter()
        .map(|a| {
            Evidence::new(
                format!("OpenProcess({})", a.rights),
                a.error.clone().unwrap_or_else(|| "granted".to_string()),
            )
        })
        .collect();
    lines.push(Evidence::new(
        "OpenProcess(PROCESS_TERMINATE)",
        facts.terminate_denied.clone().unwrap_or_else(|| "granted".to_string()),
    ));
    let protected = matches!(facts.protection, Ok(p) if p != 0);
    if let Ok(p) = facts.protection {
        lines.push(Evidence::new(
            "NtQueryInformationProcess(ProcessProtectionInformation)",
            format!("{p:#04X}{}", if p == 0 { " (not protected)" } else { "" }),
        ));
    }
    let denied: Vec<&str> = facts
        .access
        .iter()
        .filter(|a| a.error.is_some())
        .map(|a| a.rights)
        .chain(facts.terminate_denied.as_ref().map(|_| "PROCESS_TERMINATE"))
        .collect();
    let title = if protected {
        "a protected process: access denied".to_string()
    } else {
        format!("access denied: OpenProcess({})", denied.join("; "))
    };
    let explanation = if protected {
        "It is a protected process (PPL): Windows refuses other processes the rights to read or end it, administrators included; only its own service (or a reboot) ends it."
    } else {
        "Windows refused afterlife these rights (ERROR_ACCESS_DENIED; Wine 8.0 answers ERROR_INVALID_HANDLE): it is another user's process, a service, a process of higher integrity, or one whose security descriptor refuses them. What could not be read is not shown."
    };
    let next_step = if protected {
        "Stop it through its service (`sc stop NAME`, or the program's own shutdown); TerminateProcess cannot end a protected process."
    } else {
        "Run afterlife from an elevated prompt (Run as administrator); for another user's or a SYSTEM process, `taskkill /F /PID N` from an elevated prompt, which enables SeDebugPrivilege."
    };
    Finding {
        kind: FindingKind::AccessDenied,
        title,
        explanation: explanation.to_string(),
        evidence: lines,
        next_step: next_step.replace("/PID N", &format!("/PID {}", facts.pid)),
        terminate_process,
        threads: Vec::new(),
        processes: Vec::new(),
    }
}

fn suspended_finding(facts: &Facts) -> Option<Finding> {
    let suspended = facts.suspended_threads();
    if suspended.is_empty() {
        return None;
    }
    let total = facts.thread_count();
    let method = facts
        .threads
        .as_ref()
        .ok()
        .and_then(|t| t.first())
        .map_or(super::threads::QUERY, |t| t.method);
    let lines = suspended
        .iter()
        .map(|t| Evidence::new(format!("{method} of thread {}", t.tid), t.suspend_count.to_string()))
        .collect();
    let tids: Vec<String> = suspended.iter().map(|t| t.tid.to_string()).collect();
    let all = suspended.len() == total;
    let title = if all {
        format!("suspended: all {total} thread(s) ({})", tids.join(", "))
    } else {
        format!("{} of {total} threads suspended ({})", suspended.len(), tids.join(", "))
    };
    let explanation = if all {
        "Every thread has a suspend count above 0 (SuspendThread, NtSuspendProcess, a debugger or a tool such as Process Explorer's Suspend), so no code of it runs. TerminateProcess still ends it at once: it needs none of its threads. A graceful close cannot be handled: WM_CLOSE waits in the queue of a suspended thread, and a Ctrl+Break handler, which Windows runs on a new thread, cannot get the suspended ones to shut down."
    } else {
        "These threads have a suspend count above 0 and run no code; the others run. Work that waits for a suspended thread (a lock it holds, a message loop it runs) waits too, so a graceful close may hang. TerminateProcess still ends it at once."
    };
    Some(Finding {
        kind: FindingKind::Suspended,
        title,
        explanation: explanation.to_string(),
        evidence: lines,
        next_step: format!(
            "Resume it (ResumeThread on each thread, as many times as its count; Process Explorer: Resume) so a graceful close can be handled, or end it now: `afterlife kill --signal KILL {}` (TerminateProcess).",
            facts.pid
        ),
        terminate_process: Effect::EndsIt,
        threads: suspended,
        processes: Vec::new(),
    })
}

fn debugged_finding(facts: &Facts, debugger: &DebuggerFacts, terminate_process: Effect) -> Finding {
    let mut lines = vec![Evidence::new("CheckRemoteDebuggerPresent", "TRUE")];
    let (title, who, processes) = match &debugger.debuggers {
        Ok(list) if list.len() == 1 || (debugger.exact && !list.is_empty()) => {
            lines.push(Evidence::new(
                super::handle_table::SOURCE,
                format!(
                    "{} holds a handle to {}",
                    listed(list),
                    if debugger.exact {
                        "its debug object (the same object address)"
                    } else {
                        "a debug object (the only process that holds one)"
                    }
                ),
            ));
            (
                format!("being debugged by {}", listed(list)),
                listed(list),
                list.clone(),
            )
        }
        Ok(list) if !list.is_empty() => {
            lines.push(Evidence::new(
                super::handle_table::SOURCE,
                format!(
                    "{} hold debug objects; object addresses are not given here, so which one debugs it is not known",
                    listed(list)
                ),
            ));
            (
                format!("being debugged (by one of {})", listed(list)),
                "the debugger".to_string(),
                list.clone(),
            )
        }
        Ok(_) => {
            lines.push(Evidence::new(
                super::handle_table::SOURCE,
                "no other process holds a debug object",
            ));
            (
                "being debugged (the debugger was not found)".to_string(),
                "the debugger".to_string(),
                Vec::new(),
            )
        }
        Err(error) => {
            lines.push(Evidence::new("the debugger's process", format!("not found: {error}")));
            (
                "being debugged (the debugger was not found)".to_string(),
                "the debugger".to_string(),
                Vec::new(),
            )
        }
    };
    Finding {
        kind: FindingKind::Debugged,
        title,
        explanation: "A debugger is attached (DebugActiveProcess, or it started the process). While the debugger handles an event every thread of it stands still, so WM_CLOSE and Ctrl+Break wait for the debugger, and Ctrl+Break is first given to the debugger as an exception (DBG_CONTROL_BREAK). TerminateProcess still ends it. If the debugger ends without DebugActiveProcessStop, Windows ends this process too, unless the debugger called DebugSetProcessKillOnExit(FALSE).".to_string(),
        evidence: lines,
        next_step: format!(
            "Detach {who} (its detach command, or DebugActiveProcessStop({})) to leave it running, or end {who}, which ends this process too; `afterlife kill --signal KILL {}` ends it now either way.",
            facts.pid, facts.pid
        ),
        terminate_process,
        threads: Vec::new(),
        processes,
    }
}

fn running_finding(facts: &Facts, terminate_process: Effect) -> Finding {
    let counts = facts.threads.as_ref().map_or_else(
        |e| e.clone(),
        |t| format!("{} thread(s), every suspend count 0", t.len()),
    );
    Finding {
        kind: FindingKind::Running,
        title: "running: nothing resists TerminateProcess".to_string(),
        explanation: "No thread is suspended, no debugger is attached, and afterlife may open it to end it. A graceful close is up to the program: it may handle or ignore WM_CLOSE and Ctrl+Break; TerminateProcess ends it whatever it does.".to_string(),
        evidence: vec![
            Evidence::new("WaitForSingleObject(handle, 0)", "WAIT_TIMEOUT: still running"),
            Evidence::new("suspend counts", counts),
            Evidence::new("CheckRemoteDebuggerPresent", "FALSE"),
            Evidence::new("OpenProcess(PROCESS_TERMINATE)", "granted"),
        ],
        next_step: format!(
            "`afterlife kill {}`: a graceful close, then TerminateProcess after the grace.",
            facts.pid
        ),
        terminate_process,
        threads: Vec::new(),
        processes: Vec::new(),
    }
}

fn endings(facts: &Facts, terminate_process: Effect) -> Vec<EndingOutcome> {
    if facts.ended == Some(true) {
        return ["WM_CLOSE", "CTRL_BREAK_EVENT", "TerminateProcess"]
            .into_iter()
            .map(|how| EndingOutcome {
                how,
                handling: "already_ended",
                ends_it_now: false,
                effect: "nothing: it has already ended".to_string(),
            })
            .collect();
    }
    let stalled = if facts.all_suspended() {
        Some("every thread is suspended")
    } else if facts.debugged() {
        Some("a debugger is attached and may hold its threads")
    } else {
        None
    };
    vec![
        wm_close(facts, stalled),
        ctrl_break(facts, stalled),
        terminate(terminate_process),
    ]
}

fn wm_close(facts: &Facts, stalled: Option<&str>) -> EndingOutcome {
    let (handling, effect) = match (facts.windows, stalled) {
        (0, _) => (
            "not_sent",
            "it has no top-level window: there is nothing to post WM_CLOSE to".to_string(),
        ),
        (n, Some(why)) => (
            "waits",
            format!("posted to its {n} window(s), but it waits in the queue: {why}"),
        ),
        (n, None) => (
            "handled",
            format!("posted to its {n} window(s); the program decides (a window usually closes, and may ask first)"),
        ),
    };
    EndingOutcome {
        how: "WM_CLOSE",
        handling,
        ends_it_now: false,
        effect,
    }
}

fn ctrl_break(facts: &Facts, stalled: Option<&str>) -> EndingOutcome {
    let leader = match &facts.group {
        Ok(group) if super::console::leadership(facts.pid, *group) == super::console::Leadership::Leader => Ok(*group),
        Ok(0) => Err("its console process group ID reads 0 in its process parameters (not filled in; Wine 8.0 leaves it so): afterlife kill does not send it, as an ID that leads no group reaches every process on the console".to_string()),
        Ok(group) => Err(format!(
            "it does not lead a console process group (group ID {group}, read from its process parameters): afterlife kill does not send it, as an ID that leads no group reaches every process on the console"
        )),
        Err(error) => Err(format!(
            "its console process group could not be read ({error}): afterlife kill does not send it"
        )),
    };
    let (handling, effect) = match (leader, stalled) {
        (Err(words), _) => ("not_sent", words),
        (Ok(group), Some(why)) => (
            "waits",
            format!("sent to its group {group}, but a handler cannot get it to shut down: {why}"),
        ),
        (Ok(group), None) => (
            "handled",
            format!(
                "sent to its group {group} (it leads it); the default handler ends it (ExitProcess), a handler of its own decides"
            ),
        ),
    };
    EndingOutcome {
        how: "CTRL_BREAK_EVENT",
        handling,
        ends_it_now: false,
        effect,
    }
}

fn terminate(effect: Effect) -> EndingOutcome {
    let handling = match effect {
        Effect::EndsIt => "forced",
        Effect::NotPermitted => "not_permitted",
        Effect::AlreadyDead => "already_ended",
    };
    EndingOutcome {
        how: "TerminateProcess",
        handling,
        ends_it_now: effect == Effect::EndsIt,
        effect: match effect {
            Effect::EndsIt => "ends it at once, whatever its threads do (exit code 1 from afterlife kill)".to_string(),
            other => other.describe().to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> Facts {
        Facts {
            pid: 400,
            name: "app.exe".into(),
            image: None,
            access: vec![AccessAttempt {
                rights: "PROCESS_QUERY_INFORMATION | PROCESS_VM_READ | SYNCHRONIZE",
                error: None,
            }],
            terminate_denied: None,
            ended: Some(false),
            ending: None,
            threads: Ok(vec![
                ThreadCount {
                    tid: 404,
                    count: Ok(0),
                    method: super::super::threads::QUERY,
                },
                ThreadCount {
                    tid: 408,
                    count: Ok(0),
                    method: super::super::threads::QUERY,
                },
            ]),
            debugger: Ok(DebuggerFacts {
                present: false,
                debuggers: Ok(Vec::new()),
                exact: false,
            }),
            protection: Ok(0),
            windows: 0,
            group: Ok(0),
        }
    }

    fn suspend(facts: &mut Facts, counts: &[u32]) {
        if let Ok(threads) = facts.threads.as_mut() {
            for (t, &c) in threads.iter_mut().zip(counts) {
                t.count = Ok(c);
            }
        }
    }

    #[test]
    fn nothing_resists_a_running_process() {
        let d = decide(&running());
        assert_eq!(d.state, "running");
        assert_eq!(d.terminate_process, Effect::EndsIt);
        assert_eq!(d.findings.len(), 1);
        assert_eq!(d.findings[0].kind, FindingKind::Running);
        let terminate = d.endings.iter().find(|e| e.how == "TerminateProcess").unwrap();
        assert!(terminate.ends_it_now);
        // Group 0 leads nothing: Ctrl+Break is not sent.
        let ctrl = d.endings.iter().find(|e| e.how == "CTRL_BREAK_EVENT").unwrap();
        assert_eq!(ctrl.handling, "not_sent");
    }

    #[test]
    fn every_thread_suspended_names_them_and_terminate_still_works() {
        let mut facts = running();
        facts.windows = 1;
        facts.group = Ok(400);
        suspend(&mut facts, &[1, 2]);
        let d = decide(&facts);
        assert_eq!(d.state, "suspended");
        let f = &d.findings[0];
        assert_eq!(f.kind, FindingKind::Suspended);
        assert!(f.title.contains("all 2 thread(s) (404, 408)"), "{}", f.title);
        assert_eq!(f.threads[1].suspend_count, 2);
        assert_eq!(d.terminate_process, Effect::EndsIt);
        assert!(
            d.endings
                .iter()
                .filter(|e| e.how != "TerminateProcess")
                .all(|e| e.handling == "waits")
        );
    }

    #[test]
    fn some_threads_suspended_is_not_a_suspended_process() {
        let mut facts = running();
        suspend(&mut facts, &[0, 1]);
        let d = decide(&facts);
        assert_eq!(d.state, "running");
        assert!(
            d.findings[0].title.starts_with("1 of 2 threads"),
            "{}",
            d.findings[0].title
        );
    }

    #[test]
    fn a_debugger_is_named_when_only_one_process_holds_a_debug_object() {
        let mut facts = running();
        facts.debugger = Ok(DebuggerFacts {
            present: true,
            debuggers: Ok(vec![ProcessRef {
                pid: 96,
                name: "dbg.exe".into(),
            }]),
            exact: false,
        });
        let d = decide(&facts);
        let f = &d.findings[0];
        assert_eq!(f.kind, FindingKind::Debugged);
        assert_eq!(f.title, "being debugged by PID 96 (dbg.exe)");
        assert!(f.explanation.contains("DebugSetProcessKillOnExit"));
        // Two holders without addresses: both named, neither chosen.
        facts.debugger = Ok(DebuggerFacts {
            present: true,
            debuggers: Ok(vec![
                ProcessRef {
                    pid: 96,
                    name: "a".into(),
                },
                ProcessRef {
                    pid: 100,
                    name: "b".into(),
                },
            ]),
            exact: false,
        });
        assert!(
            decide(&facts).findings[0]
                .title
                .starts_with("being debugged (by one of")
        );
    }

    #[test]
    fn an_ended_process_held_open_is_the_windows_zombie() {
        let mut facts = running();
        facts.ended = Some(true);
        facts.threads = Ok(Vec::new());
        facts.ending = Some(EndedFacts {
            exit_code: Some(7),
            holders: Ok((
                vec![ProcessRef {
                    pid: 120,
                    name: "holder.exe".into(),
                }],
                0,
            )),
        });
        let d = decide(&facts);
        assert_eq!(d.state, "ended");
        assert_eq!(d.terminate_process, Effect::AlreadyDead);
        assert_eq!(d.findings[0].kind, FindingKind::Ended);
        assert!(
            d.findings[0].title.contains("PID 120 (holder.exe)"),
            "{}",
            d.findings[0].title
        );
        assert!(d.endings.iter().all(|e| e.handling == "already_ended"));
        // Holders unreadable: say how to find them.
        facts.ending.as_mut().unwrap().holders = Err("denied".into());
        assert!(decide(&facts).findings[0].next_step.contains("handle.exe"));
    }

    #[test]
    fn access_denied_lists_the_rights_tried() {
        let mut facts = running();
        facts.access = vec![
            AccessAttempt {
                rights: "PROCESS_QUERY_INFORMATION | PROCESS_VM_READ | SYNCHRONIZE",
                error: Some("ERROR_ACCESS_DENIED".into()),
            },
            AccessAttempt {
                rights: "SYNCHRONIZE",
                error: None,
            },
        ];
        facts.terminate_denied = Some("ERROR_ACCESS_DENIED".into());
        let d = decide(&facts);
        assert_eq!(d.terminate_process, Effect::NotPermitted);
        let f = d.findings.iter().find(|f| f.kind == FindingKind::AccessDenied).unwrap();
        assert!(f.title.contains("PROCESS_TERMINATE"), "{}", f.title);
        assert!(f.next_step.contains("elevated"));
        assert_eq!(f.evidence.len(), 4);
    }
}
