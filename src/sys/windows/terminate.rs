//! `kill` on Windows: every target held by a handle checked against the
//! snapshot that found it; the tree from Toolhelp parent links, counting
//! only children created after their parent; freeze-then-kill.
//!
//! Freeze: every member's threads are suspended as soon as it is held, and
//! the snapshot is walked again until it shows no new child, so a tree that
//! keeps spawning while it is killed is caught whole (a suspended process
//! creates nothing). Graceful first: WM_CLOSE to the members' top-level
//! windows, the threads resumed so they can handle it, and CTRL_BREAK_EVENT
//! to each member that leads its own console process group (its group ID,
//! read from its process parameters, is its PID: [`super::console`]); after
//! the grace, the tree is frozen again and `TerminateProcess` ends what is
//! left. A process that leads no group is never sent the event: an ID that
//! is not a group's would reach every process on the console.

use std::time::{Duration, Instant};

use serde::Serialize;
use windows_sys::Win32::Foundation::{HWND, LPARAM};
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_QUERY_INFORMATION, PROCESS_TERMINATE, PROCESS_VM_READ,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{EnumWindows, GetWindowThreadProcessId, PostMessageW, WM_CLOSE};

use super::console::{self, Leadership};
use super::ending::WindowsEnding;
use super::handle::{Handle, OpenError, ProcessHandle, now_filetime};
use super::snapshot::{self, suspend_threads_of};
use super::tree;

/// The exit code `TerminateProcess` leaves, as `taskkill /F` does.
pub const TERMINATED_CODE: u32 = 1;

/// What `--signal` asks for, on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMode {
    /// `--signal 0`: whether each target runs; nothing is sent.
    Check,
    /// TERM, INT, HUP, QUIT: a graceful close first, TerminateProcess after
    /// the grace.
    Graceful,
    /// KILL: TerminateProcess at once.
    Immediate,
}

/// How to kill.
#[derive(Debug, Clone, Copy)]
pub struct KillOptions {
    /// What to send first.
    pub mode: KillMode,
    /// Each PID's descendants too.
    pub tree: bool,
    /// How long a graceful close may take.
    pub grace: Duration,
    /// TerminateProcess after the grace.
    pub escalate: bool,
    /// Wait for the members to end.
    pub wait: bool,
    /// List, send nothing.
    pub dry_run: bool,
    /// Also afterlife's ancestors (its shell).
    pub force: bool,
}

/// One process of a termination, reported as on Linux.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// Its PID.
    pub pid: u32,
    /// Its executable's name.
    pub name: String,
    /// The PID of the member it was found under (`None`: a target named).
    pub parent: Option<u32>,
    /// What it was sent, in order.
    pub sent: Vec<&'static str>,
    /// Which graceful close it was given and why (`None`: no graceful
    /// phase: KILL, `--signal 0`, `--dry-run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graceful: Option<Graceful>,
    /// How it ended (`None`: still running, or not waited for).
    pub ending: Option<WindowsEnding>,
}

/// The graceful close chosen for one process.
#[derive(Debug, Clone, Serialize)]
pub struct Graceful {
    /// `CTRL_BREAK_EVENT` (it leads its console process group), `WM_CLOSE`
    /// (it has top-level windows), or `none`.
    pub signal: &'static str,
    /// Why, in plain words, with the group ID read.
    pub reason: String,
}

/// Which graceful close a process gets: CTRL_BREAK_EVENT only when it
/// leads its console process group and that group is not afterlife's own
/// (`own_group`), WM_CLOSE when it has windows. Pure.
pub fn choose_graceful(pid: u32, group: &Result<u32, String>, own_group: Option<u32>, windows: usize) -> Graceful {
    let group_words = match group {
        Ok(group) => match console::leadership(pid, *group) {
            Leadership::Leader if own_group == Some(*group) => format!(
                "it leads afterlife's own console process group ({group}), so it is not sent CTRL_BREAK_EVENT (afterlife would end too)"
            ),
            Leadership::Leader => {
                return Graceful {
                    signal: "CTRL_BREAK_EVENT",
                    reason: format!(
                        "it leads its console process group (group ID {group} = its PID, read from its process parameters)"
                    ),
                };
            }
            Leadership::Member(0) => {
                "its console process group ID reads 0 (not filled in), so it is not sent CTRL_BREAK_EVENT".to_string()
            }
            Leadership::Member(group) => format!(
                "it does not lead a console process group (group ID {group}), so it is not sent CTRL_BREAK_EVENT"
            ),
        },
        Err(error) => {
            format!("its console process group could not be read ({error}), so it is not sent CTRL_BREAK_EVENT")
        }
    };
    if windows > 0 {
        Graceful {
            signal: "WM_CLOSE",
            reason: format!("{group_words}; WM_CLOSE to its {windows} top-level window(s)"),
        }
    } else {
        Graceful {
            signal: "none",
            reason: format!("{group_words}, and it has no top-level window for WM_CLOSE"),
        }
    }
}

/// The whole termination.
#[derive(Debug, Clone, Serialize)]
pub struct KillReport {
    /// Every member.
    pub processes: Vec<Member>,
    /// Nothing was sent (`--dry-run`).
    pub dry_run: bool,
    /// How many still run after what was sent (0 for a dry run, which
    /// sends nothing to survive).
    pub survivors: usize,
    /// How the tree was held still: suspended threads.
    pub freeze: &'static str,
    /// Seconds from the start to the report.
    #[serde(rename = "elapsed_seconds")]
    pub elapsed: f64,
}

/// Why a termination failed before it began.
#[derive(Debug, thiserror::Error)]
pub enum KillError {
    /// A target could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// afterlife itself was named.
    #[error("refusing to kill process {0}: it is afterlife itself")]
    Itself(u32),
    /// An ancestor of afterlife was named, without `--force`.
    #[error("refusing to kill process {0}: it is an ancestor of afterlife (its shell?); --force to do it anyway")]
    Ancestor(u32),
    /// The snapshot failed.
    #[error("take a process snapshot (CreateToolhelp32Snapshot): {0}")]
    Snapshot(std::io::Error),
}

struct Held {
    process: ProcessHandle,
    member: Member,
}

/// Kills `pids` (and with `tree` their descendants); reports how each ended.
pub fn kill(pids: &[u32], options: KillOptions) -> Result<KillReport, KillError> {
    let started = Instant::now();
    let own = std::process::id();
    let freeze = options.mode != KillMode::Check && !options.dry_run;
    let mut held = open_targets(pids, &options, own)?;
    if freeze {
        let _ = suspend_threads_of(&pids_of(&held), false);
    }
    if options.tree {
        walk(&mut held, freeze, own)?;
    }
    if options.dry_run {
        return Ok(report(held, started, "none", true));
    }
    match options.mode {
        KillMode::Check => {}
        KillMode::Immediate => terminate_all(&mut held, options.wait),
        KillMode::Graceful => graceful_then_terminate(&mut held, &options, own)?,
    }
    for h in &mut held {
        h.member.ending = h.process.exit_code().map(WindowsEnding::of);
    }
    Ok(report(held, started, if freeze { "suspend" } else { "none" }, false))
}

/// The targets named, each held by a handle; afterlife itself is refused,
/// and its ancestors unless forced.
fn open_targets(pids: &[u32], options: &KillOptions, own: u32) -> Result<Vec<Held>, KillError> {
    let rows = snapshot::processes().map_err(KillError::Snapshot)?;
    let links: Vec<(u32, u32)> = rows.iter().map(|r| (r.pid, r.ppid)).collect();
    let ancestors = tree::ancestors(&links, own);
    let mut held: Vec<Held> = Vec::new();
    for &pid in pids {
        if pid == own {
            return Err(KillError::Itself(pid));
        }
        if ancestors.contains(&pid) && !options.force {
            return Err(KillError::Ancestor(pid));
        }
        if held.iter().any(|h| h.process.pid() == pid) {
            continue;
        }
        let process = ProcessHandle::open(pid, PROCESS_TERMINATE)?;
        held.push(Held::new(process, name_in(&rows, pid), None));
    }
    Ok(held)
}

/// WM_CLOSE, the members resumed to handle it, the grace; then, unless
/// `--no-escalate`, the tree frozen and walked again and what is left
/// ended with TerminateProcess.
fn graceful_then_terminate(held: &mut Vec<Held>, options: &KillOptions, own: u32) -> Result<(), KillError> {
    close_windows(held);
    let _ = suspend_threads_of(&pids_of(held), true);
    send_breaks(held);
    let members: Vec<&Member> = held.iter().map(|h| &h.member).collect();
    if (options.wait || options.escalate) && worth_the_grace(&members) {
        wait_all(held, Some(options.grace));
    }
    if options.escalate && held.iter().any(|h| !h.process.has_ended()) {
        let _ = suspend_threads_of(&pids_of(held), false);
        if options.tree {
            walk(held, true, own)?;
        }
        terminate_all(held, options.wait);
    }
    Ok(())
}

fn name_in(rows: &[snapshot::Row], pid: u32) -> String {
    rows.iter()
        .find(|r| r.pid == pid)
        .map(|r| r.name.clone())
        .unwrap_or_default()
}

impl Held {
    fn new(process: ProcessHandle, name: String, parent: Option<u32>) -> Held {
        let pid = process.pid();
        Held {
            process,
            member: Member {
                pid,
                name,
                parent,
                sent: Vec::new(),
                graceful: None,
                ending: None,
            },
        }
    }
}

/// Walks the snapshot again and again until no new child of a member
/// appears; each new member is held (and suspended, when freezing) before
/// the next walk.
fn walk(held: &mut Vec<Held>, freeze: bool, own: u32) -> Result<(), KillError> {
    loop {
        let rows = snapshot::processes().map_err(KillError::Snapshot)?;
        let taken = now_filetime();
        let links: Vec<(u32, u32)> = rows.iter().map(|r| (r.pid, r.ppid)).collect();
        let members: Vec<u32> = held.iter().map(|h| h.process.pid()).collect();
        let before = held.len();
        for (pid, ppid) in tree::candidates(&links, &members) {
            if pid == own {
                continue;
            }
            let Some(parent) = held.iter().find(|h| h.process.pid() == ppid) else {
                continue;
            };
            // Gone or not ours to open since the snapshot: not a member.
            let Ok(process) = ProcessHandle::open(pid, PROCESS_TERMINATE) else {
                continue;
            };
            if !tree::held_is_snapshots(process.created(), taken)
                || !tree::is_child(parent.process.created(), process.created())
            {
                continue;
            }
            held.push(Held::new(process, name_in(&rows, pid), Some(ppid)));
        }
        if held.len() == before {
            return Ok(());
        }
        // The new members, frozen before the next walk looks for their
        // children.
        if freeze {
            let _ = suspend_threads_of(&pids_of(&held[before..]), false);
        }
    }
}

/// TerminateProcess to every member still running, deepest first; with
/// `wait`, until each has ended (the call is asynchronous), at most 5 s.
fn pids_of(held: &[Held]) -> Vec<u32> {
    held.iter().map(|h| h.process.pid()).collect()
}

fn terminate_all(held: &mut [Held], wait: bool) {
    for h in held.iter_mut().rev() {
        if h.process.has_ended() {
            continue;
        }
        if h.process.terminate(TERMINATED_CODE).is_ok() {
            h.member.sent.push("TerminateProcess");
        }
    }
    if wait {
        wait_all(held, Some(Duration::from_secs(5)));
    }
}

/// Posts WM_CLOSE to every top-level window of the processes `pids` (held
/// by the caller); whether any was posted.
pub(crate) fn close_windows_of(pids: &[u32]) -> bool {
    let windows = top_level_windows();
    let mut posted = false;
    for &(window, _) in windows.iter().filter(|(_, pid)| pids.contains(pid)) {
        // SAFETY: a window handle from the enumeration; WM_CLOSE takes no
        // parameters.
        posted |= unsafe { PostMessageW(window, WM_CLOSE, 0, 0) } != 0;
    }
    posted
}

/// Chooses each member's graceful close and posts WM_CLOSE to the
/// top-level windows of those that have any.
fn close_windows(held: &mut [Held]) {
    let windows = top_level_windows();
    let own_group = console::own_group().ok();
    let mut groups = Vec::with_capacity(held.len());
    for h in held.iter_mut() {
        let pid = h.process.pid();
        let count = windows.iter().filter(|(_, owner)| *owner == pid).count();
        let group = read_group(pid);
        h.member.graceful = Some(choose_graceful(pid, &group, own_group, count));
        groups.push(group.ok());
        if count > 0 && close_windows_of(&[pid]) {
            h.member.sent.push("WM_CLOSE");
        }
    }
    let leaders: Vec<u32> = held
        .iter()
        .filter(|h| {
            h.member
                .graceful
                .as_ref()
                .is_some_and(|g| g.signal == "CTRL_BREAK_EVENT")
        })
        .map(|h| h.process.pid())
        .collect();
    for (h, group) in held.iter_mut().zip(groups) {
        if let (Some(group), Some(graceful)) = (group, h.member.graceful.as_mut())
            && group != h.process.pid()
            && leaders.contains(&group)
        {
            graceful.reason.push_str(&format!(
                "; the CTRL_BREAK_EVENT sent to its group's leader {group}, a target too, reaches it"
            ));
        }
    }
}

/// CTRL_BREAK_EVENT to every member chosen for it (a group leader), once
/// its threads run again.
fn send_breaks(held: &mut [Held]) {
    for h in held.iter_mut() {
        let leader = h
            .member
            .graceful
            .as_ref()
            .is_some_and(|g| g.signal == "CTRL_BREAK_EVENT");
        if !leader || h.process.has_ended() {
            continue;
        }
        match console::send_break(h.process.pid(), Duration::from_secs(5)) {
            Ok(()) => h.member.sent.push("CTRL_BREAK_EVENT"),
            Err(error) => {
                if let Some(graceful) = h.member.graceful.as_mut() {
                    graceful.reason.push_str(&format!("; sending it failed: {error}"));
                }
            }
        }
    }
}

/// The console process group ID of `pid`, through a second handle opened
/// to read its memory. The caller holds the process by a handle already,
/// so the PID cannot have been reused.
fn read_group(pid: u32) -> Result<u32, String> {
    // SAFETY: plain call; the result is checked.
    let raw = unsafe { OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, 0, pid) };
    let reader = Handle::from_raw(raw).ok_or_else(|| {
        format!(
            "OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ): {}",
            std::io::Error::last_os_error()
        )
    })?;
    console::group_id(pid, reader.raw()).map_err(|e| e.to_string())
}

/// Every top-level window with the PID of its owner.
pub(crate) fn top_level_windows() -> Vec<(HWND, u32)> {
    let mut windows: Vec<(HWND, u32)> = Vec::new();
    unsafe extern "system" fn collect(window: HWND, state: LPARAM) -> windows_sys::core::BOOL {
        // SAFETY: `state` is the address of the Vec passed to EnumWindows
        // below, alive for the whole enumeration.
        let windows = unsafe { &mut *(state as *mut Vec<(HWND, u32)>) };
        let mut pid = 0u32;
        // SAFETY: a window handle from the enumeration and a local.
        unsafe { GetWindowThreadProcessId(window, &mut pid) };
        windows.push((window, pid));
        1
    }
    // SAFETY: the callback only pushes into `windows`, which outlives the call.
    unsafe { EnumWindows(Some(collect), (&raw mut windows) as LPARAM) };
    windows
}

fn wait_all(held: &[Held], limit: Option<Duration>) {
    // A limit past what the clock can hold is none.
    let deadline = limit.and_then(|l| Instant::now().checked_add(l));
    for h in held {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        h.process.wait(left);
    }
}

fn report(held: Vec<Held>, started: Instant, freeze: &'static str, dry_run: bool) -> KillReport {
    let processes: Vec<Member> = held.into_iter().map(|h| h.member).collect();
    let survivors = survivors(&processes, dry_run);
    KillReport {
        processes,
        dry_run,
        survivors,
        freeze,
        elapsed: started.elapsed().as_secs_f64(),
    }
}

/// Whether waiting out the grace can change anything: some member was sent
/// a graceful close (WM_CLOSE posted, CTRL_BREAK_EVENT to its group). With
/// none sent — no window, no group a break could reach alone — nothing
/// can make a member end by itself, and TerminateProcess follows at once,
/// as `taskkill /F` would. Pure.
fn worth_the_grace(members: &[&Member]) -> bool {
    members.iter().any(|m| !m.sent.is_empty())
}

/// The members still running after a kill; none survive a dry run, which
/// sent nothing. Pure.
fn survivors(processes: &[Member], dry_run: bool) -> usize {
    if dry_run {
        return 0;
    }
    processes.iter().filter(|m| m.ending.is_none()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_is_waited_only_after_a_graceful_close_went() {
        let member = |sent: Vec<&'static str>| Member {
            pid: 8,
            name: "ping.exe".into(),
            parent: None,
            sent,
            graceful: None,
            ending: None,
        };
        let (none, closed, broken) = (
            member(vec![]),
            member(vec!["WM_CLOSE"]),
            member(vec!["CTRL_BREAK_EVENT"]),
        );
        assert!(!worth_the_grace(&[&none, &none]));
        assert!(worth_the_grace(&[&none, &closed]));
        assert!(worth_the_grace(&[&broken]));
        assert!(!worth_the_grace(&[]));
    }

    #[test]
    fn a_dry_run_has_no_survivors() {
        let running = Member {
            pid: 8,
            name: "ping.exe".into(),
            parent: None,
            sent: Vec::new(),
            graceful: None,
            ending: None,
        };
        assert_eq!(survivors(std::slice::from_ref(&running), true), 0);
        assert_eq!(survivors(&[running], false), 1);
    }

    #[test]
    fn ctrl_break_goes_only_to_a_group_leader_that_is_not_afterlifes_group() {
        let leader = choose_graceful(264, &Ok(264), Some(12), 0);
        assert_eq!(leader.signal, "CTRL_BREAK_EVENT");
        assert!(leader.reason.contains("group ID 264 = its PID"), "{}", leader.reason);
        // A member of another group, with a window: WM_CLOSE.
        let member = choose_graceful(268, &Ok(264), Some(12), 2);
        assert_eq!(member.signal, "WM_CLOSE");
        assert!(member.reason.contains("group ID 264"), "{}", member.reason);
        // Group 0 (Wine 8.0), no window: nothing graceful.
        let unread = choose_graceful(268, &Ok(0), Some(0), 0);
        assert_eq!(unread.signal, "none");
        assert!(unread.reason.contains("reads 0"), "{}", unread.reason);
        // Leading afterlife's own group: never sent.
        assert_eq!(choose_graceful(12, &Ok(12), Some(12), 0).signal, "none");
        // Unreadable: never guessed.
        let denied = choose_graceful(300, &Err("ERROR_ACCESS_DENIED".into()), Some(12), 1);
        assert_eq!(denied.signal, "WM_CLOSE");
        assert!(denied.reason.contains("could not be read"), "{}", denied.reason);
    }
}
