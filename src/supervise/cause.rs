//! The exact cause of the command's death and the exit code afterlife
//! leaves with.
//!
//! - Exit codes follow `timeout(1)`: 124 if the deadline passed (unless
//!   `--preserve-status`), 137 if SIGKILL had to be sent to the main
//!   process, otherwise the command's own code; a death by signal is passed
//!   on by dying of the same signal (with our own core dump disabled), as
//!   coreutils does, so the parent's `waitpid` sees the same status.
//! - Where a core went: `/proc/sys/kernel/core_pattern` (core(5)) is either
//!   `|program` (the core is piped to it) or a file name template relative
//!   to the process's working directory, with `%p`, `%e`, ... expanded and
//!   `.PID` appended when `core_uses_pid` is 1 and the template has no `%p`.
//! - OOM kills: `oom_kill` in the cgroup's `memory.events` where the memory
//!   controller is on for it (cgroup v2); otherwise the kernel log
//!   (`/dev/kmsg`, "Killed process PID (name) ... UID:N") where readable;
//!   otherwise unknown. The log's PIDs are those of the initial PID
//!   namespace: from any other one (a container) the record is matched by
//!   the name the process died with and its user, within the run's time.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit::ExitStatus;
use crate::exit_code;
use crate::signal::Signal;

/// What afterlife does when the command has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitAction {
    /// Exit with this code.
    Code(u8),
    /// Die by this signal, as the command did.
    Die(Signal),
}

/// The facts the exit code depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// How the main process ended.
    pub status: ExitStatus,
    /// Whether the deadline passed.
    pub timed_out: bool,
    /// Whether afterlife sent SIGKILL to the main process.
    pub sent_kill: bool,
    /// Whether that SIGKILL ends afterlife too, as coreutils `timeout`
    /// sends it to its own process group, itself included (not with
    /// `--foreground`): its parent then sees a death by SIGKILL.
    pub kill_ends_us: bool,
}

/// The exit code rule of `timeout(1)`.
pub fn exit_action(verdict: Verdict, preserve_status: bool) -> ExitAction {
    let Verdict {
        status,
        timed_out,
        sent_kill,
        kill_ends_us,
    } = verdict;
    if timed_out && sent_kill && kill_ends_us {
        return ExitAction::Die(Signal::KILL);
    }
    if timed_out {
        let killed_by_us = sent_kill && matches!(status, ExitStatus::Signaled { signal, .. } if signal == Signal::KILL);
        if killed_by_us {
            // "it may be necessary to use the KILL signal ... in which case
            // the exit status is 128+9 rather than 124".
            return ExitAction::Code(128 + 9);
        }
        if preserve_status {
            return ExitAction::Code(status.shell_code());
        }
        return ExitAction::Code(exit_code::TIMED_OUT);
    }
    match status {
        ExitStatus::Exited { code } => ExitAction::Code(code),
        ExitStatus::Signaled { signal, .. } => ExitAction::Die(signal),
    }
}

/// Where a core dump went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum CoreDestination {
    /// Piped to a program (`|/usr/lib/systemd/systemd-coredump %P ...`).
    Program {
        /// The command line, as core_pattern gives it.
        command: String,
    },
    /// Written to a file.
    File {
        /// The path.
        #[serde(serialize_with = "crate::text::lossy_path")]
        path: PathBuf,
    },
}

/// What a core-pattern template needs to know about the dead process.
#[derive(Debug, Clone)]
pub struct CoreFacts<'a> {
    /// Its PID (as its own namespace numbers it for `%p`).
    pub pid: i32,
    /// Its name (`comm`).
    pub name: &'a str,
    /// Its working directory.
    pub cwd: &'a Path,
    /// The signal.
    pub signal: Signal,
    /// Seconds since the epoch.
    pub time: u64,
    /// The host name.
    pub hostname: &'a str,
    /// Its user ID.
    pub uid: u32,
}

/// Where a core went according to `core_pattern` (core(5)).
pub fn core_destination(pattern: &str, core_uses_pid: bool, facts: &CoreFacts<'_>) -> CoreDestination {
    let pattern = pattern.trim_end_matches('\n');
    if let Some(program) = pattern.strip_prefix('|') {
        return CoreDestination::Program {
            command: program.to_string(),
        };
    }
    let mut out = String::new();
    let mut has_pid = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('p') | Some('P') | Some('i') | Some('I') => {
                has_pid = true;
                out.push_str(&facts.pid.to_string());
            }
            Some('e') => out.push_str(facts.name),
            Some('s') => out.push_str(&facts.signal.number().to_string()),
            Some('t') => out.push_str(&facts.time.to_string()),
            Some('h') => out.push_str(facts.hostname),
            Some('u') => out.push_str(&facts.uid.to_string()),
            // Other specifiers (%g %c %d %E %f) are left as written.
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => {}
        }
    }
    if core_uses_pid && !has_pid {
        out.push_str(&format!(".{}", facts.pid));
    }
    let path = PathBuf::from(out);
    CoreDestination::File {
        path: if path.is_absolute() { path } else { facts.cwd.join(path) },
    }
}

/// Reads core_pattern and core_uses_pid.
pub fn read_core_settings() -> Option<(String, bool)> {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok()?;
    let uses_pid = std::fs::read_to_string("/proc/sys/kernel/core_uses_pid").is_ok_and(|v| v.trim() == "1");
    Some((pattern, uses_pid))
}

/// What is known of an OOM kill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OomCheck {
    /// `killed`, `not_killed` or `unknown`.
    pub verdict: OomVerdict,
    /// Where that came from: `memory.events`, `kernel log`, or why nothing
    /// could be read.
    pub source: String,
}

/// The OOM verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OomVerdict {
    /// The OOM killer ended it.
    Killed,
    /// The OOM killer did not end it.
    NotKilled,
    /// It cannot be known here.
    Unknown,
}

impl OomVerdict {
    /// `Killed` or `NotKilled`.
    pub fn from_killed(killed: bool) -> OomVerdict {
        if killed {
            OomVerdict::Killed
        } else {
            OomVerdict::NotKilled
        }
    }
}

/// Which process an OOM record must name to be the main process's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomTarget<'a> {
    /// By PID: afterlife is in the initial PID namespace, whose PIDs the
    /// kernel log uses.
    Pid(i32),
    /// In another PID namespace the log's PIDs are not ours: by the name
    /// (`comm`) it died with and, where the user namespace maps it, the
    /// user ID the kernel knows it by.
    Name {
        /// The `comm` it died with.
        name: &'a str,
        /// Its user ID in the initial user namespace, if known.
        uid: Option<u32>,
    },
}

/// Whether the kernel log has the OOM killer ending `target` at or after
/// `since_us` microseconds of monotonic time; `None` if the log is not
/// readable.
pub fn kernel_log_oom(target: OomTarget<'_>, since_us: u64) -> Option<bool> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .ok()?;
    let mut found = false;
    let mut buffer = vec![0u8; 8192];
    loop {
        // One record per read; EAGAIN at the end; EPIPE when a record was
        // overwritten while we read (skip on).
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                let record = String::from_utf8_lossy(&buffer[..n]);
                if kmsg_record_is_oom_kill(&record, target, since_us) {
                    found = true;
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    Some(found)
}

/// Whether one `/dev/kmsg` record (`PRI,SEQ,USEC,FLAGS;MESSAGE`) reports
/// the OOM killer ending `target` at or after `since_us`.
pub fn kmsg_record_is_oom_kill(record: &str, target: OomTarget<'_>, since_us: u64) -> bool {
    let Some((header, message)) = record.split_once(';') else {
        return false;
    };
    let usec: u64 = header.split(',').nth(2).and_then(|t| t.parse().ok()).unwrap_or(0);
    if usec < since_us {
        return false;
    }
    // "Out of memory: Killed process PID (name) total-vm:..., UID:N ..."
    // or, for a memory cgroup, "oom-kill:constraint=...,task=name,pid=PID,uid=N".
    let message = message.trim_end();
    if let Some(rest) = message.split_once("Killed process ").map(|(_, rest)| rest) {
        let Some((pid, rest)) = rest.split_once(" (") else {
            return false;
        };
        return match target {
            OomTarget::Pid(wanted) => pid == wanted.to_string(),
            OomTarget::Name { name, uid } => {
                rest.starts_with(&format!("{name}) ")) && uid.is_none_or(|uid| rest.contains(&format!(" UID:{uid} ")))
            }
        };
    }
    let Some(fields) = message.strip_prefix("oom-kill:") else {
        return false;
    };
    // The task's name may hold commas: take it from between ",task=" and
    // the last ",pid=".
    let Some((before, pid_uid)) = fields.rsplit_once(",pid=") else {
        return false;
    };
    let Some((pid, record_uid)) = pid_uid.split_once(",uid=") else {
        return false;
    };
    match target {
        OomTarget::Pid(wanted) => pid == wanted.to_string(),
        OomTarget::Name { name, uid } => {
            before.split_once(",task=").is_some_and(|(_, task)| task == name)
                && uid.is_none_or(|uid| record_uid == uid.to_string())
        }
    }
}

/// The user ID the kernel (the initial user namespace) knows `uid` of this
/// user namespace by, from a `/proc/self/uid_map` text; `None` if the map
/// does not cover it.
pub fn kernel_uid(uid_map: &str, uid: u32) -> Option<u32> {
    uid_map.lines().find_map(|line| {
        let mut numbers = line.split_whitespace().map(|n| n.parse::<u64>().ok());
        let (inside, outside, count) = (numbers.next()??, numbers.next()??, numbers.next()??);
        let uid = u64::from(uid);
        (inside..inside + count)
            .contains(&uid)
            .then(|| u32::try_from(uid - inside + outside).ok())
            .flatten()
    })
}

/// Microseconds of `CLOCK_MONOTONIC` now, the clock `/dev/kmsg` stamps with.
pub fn monotonic_us() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signaled(signal: Signal) -> ExitStatus {
        ExitStatus::Signaled {
            signal,
            core_dumped: false,
        }
    }

    #[test]
    fn exit_codes_follow_timeout() {
        let exited = |code| ExitStatus::Exited { code };
        let plain = |status| Verdict {
            status,
            timed_out: false,
            sent_kill: false,
            kill_ends_us: true,
        };
        assert_eq!(exit_action(plain(exited(0)), false), ExitAction::Code(0));
        assert_eq!(exit_action(plain(exited(3)), false), ExitAction::Code(3));
        assert_eq!(
            exit_action(plain(signaled(Signal::TERM)), false),
            ExitAction::Die(Signal::TERM)
        );
        let timed = |status, sent_kill| Verdict {
            status,
            timed_out: true,
            sent_kill,
            kill_ends_us: false,
        };
        assert_eq!(
            exit_action(timed(signaled(Signal::TERM), false), false),
            ExitAction::Code(124)
        );
        assert_eq!(exit_action(timed(exited(0), false), false), ExitAction::Code(124));
        assert_eq!(
            exit_action(timed(signaled(Signal::TERM), false), true),
            ExitAction::Code(143)
        );
        assert_eq!(exit_action(timed(exited(7), false), true), ExitAction::Code(7));
        assert_eq!(
            exit_action(timed(signaled(Signal::KILL), true), false),
            ExitAction::Code(137)
        );
        assert_eq!(
            exit_action(timed(signaled(Signal::KILL), true), true),
            ExitAction::Code(137)
        );
        // Killed by someone else after the deadline's TERM.
        assert_eq!(
            exit_action(timed(signaled(Signal::KILL), false), false),
            ExitAction::Code(124)
        );
        // coreutils' KILL to its own group ends it too, whatever the
        // command's status, even with --preserve-status.
        let group = |status, sent_kill| Verdict {
            kill_ends_us: true,
            ..timed(status, sent_kill)
        };
        for preserve in [false, true] {
            for status in [signaled(Signal::KILL), signaled(Signal::TERM), exited(0)] {
                assert_eq!(
                    exit_action(group(status, true), preserve),
                    ExitAction::Die(Signal::KILL)
                );
            }
        }
        assert_eq!(exit_action(group(exited(0), false), false), ExitAction::Code(124));
    }

    #[test]
    fn core_destinations() {
        let facts = CoreFacts {
            pid: 42,
            name: "crash",
            cwd: Path::new("/srv/job"),
            signal: Signal::from_number(11).unwrap(),
            time: 1000,
            hostname: "box",
            uid: 0,
        };
        assert_eq!(
            core_destination("core\n", false, &facts),
            CoreDestination::File {
                path: PathBuf::from("/srv/job/core")
            }
        );
        assert_eq!(
            core_destination("core", true, &facts),
            CoreDestination::File {
                path: PathBuf::from("/srv/job/core.42")
            }
        );
        assert_eq!(
            core_destination("/var/crash/%e.%p.%s.%t.%%", true, &facts),
            CoreDestination::File {
                path: PathBuf::from("/var/crash/crash.42.11.1000.%")
            }
        );
        assert_eq!(
            core_destination("|/usr/lib/systemd/systemd-coredump %P %u", false, &facts),
            CoreDestination::Program {
                command: "/usr/lib/systemd/systemd-coredump %P %u".to_string()
            }
        );
    }

    #[test]
    fn recognises_oom_records() {
        let by_pid = OomTarget::Pid(4242);
        let record = "3,1234,5000000,-;Out of memory: Killed process 4242 (hog) total-vm:1kB, anon-rss:1kB, \
                      file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:124kB oom_score_adj:0\n";
        assert!(kmsg_record_is_oom_kill(record, by_pid, 1000));
        assert!(!kmsg_record_is_oom_kill(record, by_pid, 6_000_000));
        assert!(!kmsg_record_is_oom_kill(record, OomTarget::Pid(424), 0));
        let memcg = "6,1233,4999999,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,\
                     oom_memcg=/a,task_memcg=/a,task=hog,pid=4242,uid=1000";
        assert!(kmsg_record_is_oom_kill(memcg, by_pid, 0));
        assert!(!kmsg_record_is_oom_kill(memcg, OomTarget::Pid(42), 0));
        assert!(!kmsg_record_is_oom_kill("6,1,1,-;hello", by_pid, 0));

        // From another PID namespace: by name and user.
        let hog = |uid| OomTarget::Name { name: "hog", uid };
        for record in [record, memcg] {
            assert!(kmsg_record_is_oom_kill(record, hog(Some(1000)), 0));
            assert!(kmsg_record_is_oom_kill(record, hog(None), 0));
            assert!(!kmsg_record_is_oom_kill(record, hog(Some(0)), 0));
            assert!(!kmsg_record_is_oom_kill(
                record,
                OomTarget::Name { name: "ho", uid: None },
                0
            ));
            assert!(!kmsg_record_is_oom_kill(record, hog(None), 6_000_000));
        }
        let comma = "6,1,1,-;oom-kill:constraint=CONSTRAINT_NONE,task=a,b,pid=7,uid=0";
        assert!(kmsg_record_is_oom_kill(
            comma,
            OomTarget::Name {
                name: "a,b",
                uid: Some(0)
            },
            0
        ));
    }

    #[test]
    fn maps_user_ids_to_the_kernels() {
        assert_eq!(kernel_uid("         0          0 4294967295\n", 1000), Some(1000));
        let container = "0 100000 65536\n";
        assert_eq!(kernel_uid(container, 0), Some(100_000));
        assert_eq!(kernel_uid(container, 70_000), None);
        assert_eq!(kernel_uid("", 0), None);
    }
}
