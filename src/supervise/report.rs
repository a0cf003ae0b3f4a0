//! The report of one supervised run: what ran, how it was contained, how it
//! ended and why, which signals afterlife sent, and what the tree left
//! behind. Serialized as documented in docs/JSON.md.

use std::path::PathBuf;

use serde::Serialize;

use crate::exit::{Cause, StatusViews};
use crate::process::Pid;
use crate::resources::ipc_left::IpcLeftover;
use crate::signal::Signal;
use crate::supervise::cause::{CoreDestination, OomCheck};
use crate::supervise::containment::Containment;
use crate::supervise::dir_left::FileLeftover;
use crate::supervise::leftover_facts::HeldFd;

/// Everything about one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The command line.
    #[serde(rename = "command_line")]
    pub command: Vec<String>,
    /// The containment used.
    pub containment: Containment,
    /// The cgroup leaf, with cgroup containment.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::text::lossy_optional_path"
    )]
    pub cgroup: Option<PathBuf>,
    /// Whether the tree had a PID namespace of its own (`pidns`, or a
    /// cgroup leaf with one inside): then it ends with the keeper, even if
    /// afterlife and the keeper are killed together.
    pub pid_namespace: bool,
    /// The main process's PID.
    pub pid: Option<Pid>,
    /// Start time, seconds since the Unix epoch.
    pub started_at: f64,
    /// Seconds from start to the end of the main process.
    #[serde(rename = "duration_seconds")]
    pub duration: f64,
    /// Seconds from start until afterlife was done with the whole tree.
    #[serde(rename = "total_duration_seconds")]
    pub total_duration: f64,
    /// How the main process ended: raw wait status, shell `$?`, meaning.
    #[serde(rename = "ending", serialize_with = "reaped_ending")]
    pub exit: StatusViews,
    /// Why, beyond the status: timeout, OOM kill, or nothing more known.
    pub cause: Cause,
    /// Whether the deadline passed.
    pub timed_out: bool,
    /// Where the core dump went, if one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<CoreDestination>,
    /// For a SIGKILL afterlife did not send: was it the OOM killer?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom: Option<OomCheck>,
    /// For a death by a signal afterlife did not send: who sent it, where
    /// the BPF tracepoints saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_sender: Option<crate::deaths::Sender>,
    /// Every signal afterlife sent, in order.
    pub timeline: Vec<TimelineEvent>,
    /// Peak memory, where known.
    pub peak_memory: Option<PeakMemory>,
    /// Processes of the tree still running when the main process ended.
    pub leftovers: Vec<Leftover>,
    /// IPC objects the tree created and left (SysV shared memory, semaphore
    /// sets and message queues; POSIX shared memory and message queues),
    /// each with the command that removes it, or removed (`--remove-ipc`).
    pub ipc: Vec<IpcLeftover>,
    /// Files and directories created under the watched directories (`--dir`,
    /// `--tmpdir`) and left there.
    pub files: Vec<FileLeftover>,
    /// Whether the tree left anything: a process, an IPC object or a file.
    pub leaked: bool,
    /// The exit code afterlife leaves with (for a signal death: 128+N, the
    /// shell's view of the same signal).
    pub exit_code: u8,
    /// The signal afterlife dies of to pass the command's death on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dies_by: Option<Signal>,
}

/// The main process's ending in the shape every report shares: afterlife
/// (or its keeper) reaped it with `waitid`.
fn reaped_ending<S: serde::Serializer>(views: &StatusViews, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize as _;
    crate::exit::KnownEnding {
        views: views.clone(),
        source: crate::process::StatusSource::Waitid,
    }
    .serialize(serializer)
}

/// One signal sent.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    /// Seconds after the start.
    #[serde(rename = "at_seconds")]
    pub at: f64,
    /// The signal.
    pub signal: Signal,
    /// To whom.
    pub to: Target,
    /// How many processes it was sent to.
    pub processes: usize,
    /// Why.
    pub reason: Reason,
}

/// Who a signal went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The main process only.
    Main,
    /// The main process's process group.
    Group,
    /// Every process of the tree.
    Tree,
    /// The leftovers.
    Leftovers,
    /// Processes of the tree born after the deadline's signal went to it
    /// (a trap that starts a clean-up child, a shell still forking).
    Newcomers,
}

/// Why a signal was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The deadline passed.
    Deadline,
    /// The grace period after the deadline passed.
    GraceExpired,
    /// afterlife received it and passed it on.
    Forwarded,
    /// Ending the leftovers.
    Leftovers,
    /// The leftovers' grace period passed.
    LeftoversGraceExpired,
}

/// Peak memory.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PeakMemory {
    /// Bytes.
    pub bytes: u64,
    /// What was measured.
    pub source: PeakSource,
}

/// What a peak-memory figure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeakSource {
    /// The cgroup's `memory.peak`: the whole tree together.
    CgroupMemoryPeak,
    /// `getrusage(RUSAGE_CHILDREN)` `ru_maxrss`: the largest resident set of
    /// any single process afterlife (or its keeper) reaped.
    LargestProcessRss,
}

/// A process of the tree that outlived the main process.
#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    /// The PID.
    pub pid: Pid,
    /// Its name.
    pub name: String,
    /// Its command line.
    #[serde(rename = "command_line")]
    pub cmdline: Vec<String>,
    /// Its parent's PID when found.
    pub ppid: i32,
    /// Its session.
    pub sid: i32,
    /// Its process group.
    pub pgid: i32,
    /// How it got away from the main process.
    pub escaped: Vec<Escape>,
    /// Its open fds (with sockets) when found.
    pub fds: Vec<HeldFd>,
    /// Which of afterlife's own stdout and stderr it holds, when they are
    /// pipes or sockets: a harness reading them waits for end-of-file until
    /// every holder has ended.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holds_output: Vec<OutputStream>,
    /// What became of it.
    pub fate: Fate,
    /// The PID the run's PID namespace gives it (what the command's
    /// scripts and logs call it); `None` without a namespace of its own.
    pub ns_pid: Option<i32>,
}

/// afterlife's own stdout or stderr, which the command inherits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    /// fd 1.
    Stdout,
    /// fd 2.
    Stderr,
}

impl OutputStream {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        }
    }
}

/// The fd targets (`pipe:[N]`, `socket:[N]`) of afterlife's stdout and
/// stderr: only a pipe or a socket has a reader waiting for its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputTargets {
    /// fd 1's target, when a pipe or socket.
    pub stdout: Option<String>,
    /// fd 2's target, when a pipe or socket.
    pub stderr: Option<String>,
}

impl OutputTargets {
    /// Keeps a target only when it is a pipe or a socket. Pure.
    pub fn new(stdout: Option<String>, stderr: Option<String>) -> OutputTargets {
        let waited_on = |t: Option<String>| t.filter(|t| t.starts_with("pipe:[") || t.starts_with("socket:["));
        OutputTargets {
            stdout: waited_on(stdout),
            stderr: waited_on(stderr),
        }
    }

    /// Which of them `fds` hold. Pure.
    pub fn held_in(&self, fds: &[HeldFd]) -> Vec<OutputStream> {
        let holds = |target: &Option<String>| target.as_ref().is_some_and(|t| fds.iter().any(|f| &f.target == t));
        let mut streams = Vec::new();
        if holds(&self.stdout) {
            streams.push(OutputStream::Stdout);
        }
        if holds(&self.stderr) {
            streams.push(OutputStream::Stderr);
        }
        streams
    }
}

/// How a leftover escaped the main process's reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Escape {
    /// It called `setsid`: a session of its own, out of reach of the
    /// terminal's signals and of `kill` on the main process's group.
    NewSession {
        /// Its session ID.
        sid: i32,
    },
    /// It left the main process's process group (`setpgid`).
    NewProcessGroup {
        /// Its group.
        pgid: i32,
    },
    /// Its parent exited (a double fork, or a background child): it was
    /// reparented to the subreaper, afterlife or its keeper.
    Orphaned {
        /// Set when the leader of its process group is gone too: its group
        /// still carries the PID of a process that ended (the workers of a
        /// killed master), not of a daemon that left on purpose.
        #[serde(skip_serializing_if = "Option::is_none")]
        group_leader_gone: Option<i32>,
    },
    /// It was moved out of the run's cgroup leaf into another cgroup
    /// (its PID written to that cgroup's `cgroup.procs`), out of reach of
    /// the leaf's `cgroup.kill`.
    OtherCgroup {
        /// Its cgroup v2 path, as `/proc/PID/cgroup` gives it.
        cgroup: String,
    },
    /// It holds descriptors without `O_CLOEXEC` beyond stdin/stdout/stderr,
    /// inherited from its parent or passed to what it runs next.
    InheritedFds {
        /// The descriptor numbers.
        fds: Vec<i32>,
    },
}

/// What became of a leftover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// It ended after the first signal of the grace plan.
    Ended {
        /// That signal.
        signal: Signal,
    },
    /// It ended after the first signal of the grace plan, and its status
    /// went to another parent (its own, or the keeper of a PID namespace):
    /// whether that signal ended it is not known.
    EndedAfter {
        /// That signal.
        signal: Signal,
    },
    /// It had to be killed with SIGKILL.
    Killed,
    /// It exited with a code of its own after the grace plan's first
    /// signal, which it handled or ignored (its status, as reaped).
    Exited {
        /// The exit code.
        code: u8,
        /// The signal it was sent first.
        after: Signal,
    },
    /// It ended by itself before being signalled.
    ExitedOnItsOwn,
    /// Left running (`--keep-leftovers`).
    Kept,
    /// Still running after SIGKILL (uninterruptible sleep, or afterlife may
    /// not signal it).
    Survived,
}

/// Which escapes a leftover made, from its facts: its session and group
/// against the main process's, whether its parent is the subreaper (and
/// whether its group's leader is gone), and its fds without `O_CLOEXEC`
/// beyond 0-2.
pub fn classify_escape(
    leftover: (i32, i32, i32),
    main: (i32, i32),
    reapers: &[i32],
    fds: &[HeldFd],
    leader_gone: bool,
) -> Vec<Escape> {
    let (ppid, sid, pgid) = leftover;
    let (main_sid, main_pgid) = main;
    let mut escapes = Vec::new();
    if sid != main_sid {
        escapes.push(Escape::NewSession { sid });
    } else if pgid != main_pgid {
        escapes.push(Escape::NewProcessGroup { pgid });
    }
    if reapers.contains(&ppid) {
        escapes.push(Escape::Orphaned {
            group_leader_gone: leader_gone.then_some(pgid),
        });
    }
    let inherited: Vec<i32> = fds.iter().filter(|f| f.fd > 2 && !f.cloexec).map(|f| f.fd).collect();
    if !inherited.is_empty() {
        escapes.push(Escape::InheritedFds { fds: inherited });
    }
    escapes
}

impl Escape {
    /// A short name for summaries.
    pub fn short(&self) -> &'static str {
        match self {
            Escape::NewSession { .. } => "setsid",
            Escape::NewProcessGroup { .. } => "setpgid",
            Escape::Orphaned { .. } => "orphaned",
            Escape::OtherCgroup { .. } => "another cgroup",
            Escape::InheritedFds { .. } => "fds without O_CLOEXEC",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(fd: i32, cloexec: bool) -> HeldFd {
        HeldFd {
            fd,
            target: "pipe:[1]".to_string(),
            kind: crate::resources::FdKind::Pipe,
            cloexec,
            socket: None,
        }
    }

    #[test]
    fn output_is_held_only_through_a_pipe_or_socket_target() {
        let mut held = fd(5, false);
        held.target = "pipe:[77]".to_string();
        let targets = OutputTargets::new(Some("pipe:[77]".to_string()), Some("/dev/pts/3".to_string()));
        assert_eq!(targets.stderr, None);
        assert_eq!(
            targets.held_in(&[fd(1, false), held.clone()]),
            vec![OutputStream::Stdout]
        );
        let both = OutputTargets::new(Some("pipe:[77]".to_string()), Some("pipe:[77]".to_string()));
        assert_eq!(both.held_in(&[held]), vec![OutputStream::Stdout, OutputStream::Stderr]);
        assert!(both.held_in(&[fd(1, false)]).is_empty());
    }

    #[test]
    fn classifies_escapes() {
        // A double-forked setsid daemon holding fd 3 without CLOEXEC.
        let escapes = classify_escape(
            (100, 300, 300),
            (200, 200),
            &[100],
            &[fd(1, false), fd(3, false)],
            false,
        );
        assert_eq!(
            escapes,
            vec![
                Escape::NewSession { sid: 300 },
                Escape::Orphaned {
                    group_leader_gone: None
                },
                Escape::InheritedFds { fds: vec![3] }
            ]
        );
        // A plain child still under its living parent, same group.
        assert_eq!(
            classify_escape((201, 200, 200), (200, 200), &[100], &[fd(4, true)], false),
            vec![]
        );
        assert_eq!(
            classify_escape((201, 200, 250), (200, 200), &[100], &[], false),
            vec![Escape::NewProcessGroup { pgid: 250 }]
        );
        // A worker of a killed master: orphaned, in the dead master's group.
        assert_eq!(
            classify_escape((100, 200, 200), (200, 200), &[100], &[], true),
            vec![Escape::Orphaned {
                group_leader_gone: Some(200)
            }]
        );
    }
}
