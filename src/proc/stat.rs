//! `/proc/PID/stat` (proc_pid_stat(5)) and `/proc/PID/statm`, through
//! procfs's `Stat` and `StatM`.
//!
//! The name (`comm`) is taken between the first `(` and the last `)`, so a
//! name with parentheses or spaces reads whole, and as lossy UTF-8. Measured
//! against a parser of the five fields `holds` needs, procfs costs the same
//! (a few µs, less than the read): one parser for every reader.

use std::os::fd::AsFd;

use procfs::FromRead;

use crate::process::Pid;

pub use procfs::process::{Stat, StatM};

/// `PF_EXITING` in the flags: the process is in `do_exit`.
pub const PF_EXITING: u32 = 0x0000_0004;
/// `PF_FORKNOEXEC`: forked, and no `execve` since: the task still runs
/// its parent's program.
pub const PF_FORKNOEXEC: u32 = 0x0000_0040;
/// `PF_SIGNALED`: the task took a fatal signal, on its way to `do_exit`
/// (it never returns to user space); set before a tracer's exit stop
/// (`PTRACE_EVENT_EXIT`), where `PF_EXITING` is not yet.
pub const PF_SIGNALED: u32 = 0x0000_0400;
/// `PF_KTHREAD`: a kernel thread.
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// Whether flags say the task is on its way out: in `do_exit`
/// (`PF_EXITING`), or killed by a signal and heading there (`PF_SIGNALED`,
/// held at a tracer's exit stop perhaps). Pure.
pub fn on_its_way_out(flags: u32) -> bool {
    flags & (PF_EXITING | PF_SIGNALED) != 0
}

/// Parses the text of `/proc/PID/stat`. Pure.
pub fn parse(text: &[u8]) -> Option<Stat> {
    Stat::from_read(text).ok()
}

/// Whether `stat` was printed for a process released (reaped) while its
/// file was read: the kernel could no longer lock its signal handlers and
/// printed the defaults of `do_task_stat`, parent 0, group and session -1.
/// No process that exists has a group or session of -1. Pure.
pub fn released(stat: &Stat) -> bool {
    stat.pgrp < 0 || stat.session < 0
}

/// `stat` as read, or "not found" for a process released during the read
/// (see [`released`]): its parent, group and session are no longer known.
fn known(stat: Stat) -> procfs::ProcResult<Stat> {
    if released(&stat) {
        return Err(procfs::ProcError::NotFound(None));
    }
    Ok(stat)
}

/// Reads `/proc/PID/stat`.
pub fn read(pid: Pid) -> procfs::ProcResult<Stat> {
    read_raw(pid.get())
}

/// Reads `/proc/PID/stat` of a raw PID (a thread ID answers too).
pub fn read_raw(pid: i32) -> procfs::ProcResult<Stat> {
    known(Stat::from_read(
        super::read_small(&format!("/proc/{pid}/stat"))?.as_slice(),
    )?)
}

/// Reads `stat` of an opened `/proc/PID` (procfs's `Process::stat`, with
/// a process released during the read taken as gone).
pub fn of(process: &super::Process) -> procfs::ProcResult<Stat> {
    known(process.stat()?)
}

/// Reads `stat` relative to an open `/proc/PID` directory.
pub fn read_at(dir: impl AsFd) -> procfs::ProcResult<Stat> {
    let file = rustix::fs::openat(
        dir,
        "stat",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(std::io::Error::from)?;
    known(Stat::from_read(std::fs::File::from(file))?)
}

/// Whether two reads of a process's `stat` saw the same program: no
/// `execve` between them. An exec gives the process a new name (`comm`)
/// and a new memory, whose stack and code start elsewhere (the kernel
/// places both anew at each exec, and shows them where afterlife may
/// ptrace-read the process; 0 otherwise, the name then alone tells).
/// Pure.
pub fn same_program(before: &Stat, after: &Stat) -> bool {
    before.comm == after.comm && before.startstack == after.startstack && before.startcode == after.startcode
}

/// Parses the text of `/proc/PID/statm`. Pure.
pub fn parse_statm(text: &[u8]) -> Option<StatM> {
    StatM::from_read(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_with_odd_names() {
        let line = b"42 (a) b) S 7 42 41 34816 42 4194560 101 0 0 0 1 2 0 0 20 0 1 0 12345 1000 33 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let stat = parse(line).unwrap();
        assert_eq!(stat.pid, 42);
        assert_eq!(stat.comm, "a) b");
        assert_eq!(stat.state, 'S');
        assert_eq!((stat.ppid, stat.pgrp, stat.session), (7, 42, 41));
        assert_eq!(stat.tty_nr, 34816);
        assert_eq!(stat.starttime, 12345);
        assert_eq!(stat.rss, 33);
        assert_eq!(stat.flags, 4194560);
        assert_eq!(stat.processor, Some(1));
        // A name that is not UTF-8 reads lossily.
        let mut odd =
            b"9 (\xffx) Z 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n".to_vec();
        let stat = parse(&odd).unwrap();
        assert_eq!(stat.comm, "\u{fffd}x");
        assert_eq!(stat.state, 'Z');
        odd.truncate(20);
        assert!(parse(&odd).is_none());
    }

    #[test]
    fn a_stat_printed_after_release_is_known_as_such() {
        // What do_task_stat prints once the process's signal handlers are
        // gone: parent 0, group and session -1.
        let line = b"9 (sleep) Z 0 -1 -1 0 -1 4227340 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let stat = parse(line).unwrap();
        assert!(released(&stat));
        assert!(known(stat).is_err());
        // Session 0 and group 0 are the kernel's own, and real.
        let line = b"9 (sleep) S 1 0 0 0 -1 4227340 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert!(!released(&parse(line).unwrap()));
    }

    #[test]
    fn an_exec_between_two_reads_is_seen() {
        let line = |comm: &str, startcode: u64, startstack: u64| {
            format!(
                "9 ({comm}) R 1 9 9 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 {startcode} 0 {startstack} 0 0 0 0 0 0 0 0 0 0 0\n"
            )
        };
        let stat = |text: String| parse(text.as_bytes()).unwrap();
        let before = stat(line("ping", 0x5555_0000, 0x7ffc_1000));
        assert!(same_program(&before, &stat(line("ping", 0x5555_0000, 0x7ffc_1000))));
        // The same name, a new memory: `exec` of the same program.
        assert!(!same_program(&before, &stat(line("ping", 0x5611_0000, 0x7ffd_2000))));
        // A new name, its memory not set up yet.
        assert!(!same_program(&before, &stat(line("pong", 0, 0))));
    }

    #[test]
    fn statm_parses() {
        let statm = parse_statm(b"2142 427 384 5 0 107 0\n").unwrap();
        assert_eq!((statm.size, statm.resident, statm.shared), (2142, 427, 384));
        assert!(parse_statm(b"").is_none());
    }

    #[test]
    fn reads_its_own() {
        let me = Pid::current();
        let stat = read(me).unwrap();
        assert_eq!(stat.pid, me.get());
        let dir = std::fs::File::open(format!("/proc/{me}")).unwrap();
        assert_eq!(read_at(&dir).unwrap().starttime, stat.starttime);
    }
}
