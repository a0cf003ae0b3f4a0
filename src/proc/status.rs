//! `/proc/PID/status` (proc_pid_status(5)), through procfs's `Status`.
//!
//! The text is handed to procfs as lossy UTF-8: the kernel prints `Name:`
//! unescaped beyond whitespace and backslashes, so a name that is not UTF-8
//! would otherwise fail the whole file (procfs reads it line by line as
//! strings).
//!
//! `watch` reads two memory lines (`RssShmem`, `VmSwap`) of every process
//! it samples: [`memory`] scans for just those. procfs builds a map of
//! every line first, which measured 70 µs per parse against 4 µs for the
//! scan, more than the read of the file itself (47 µs), on the hot path.

use procfs::FromBufRead;

use crate::process::Pid;

pub use procfs::process::Status;

/// Parses the text of a status file (a process's or a thread's). Pure.
pub fn parse(text: &[u8]) -> procfs::ProcResult<Status> {
    Status::from_buf_read(String::from_utf8_lossy(text).as_bytes())
}

/// `status` as read, or "not found" for a process released (reaped)
/// while its file was read: the kernel then prints `Tgid: 0`, a parent of
/// 0 and no signal disposition, which no process that exists has.
fn known(status: Status) -> procfs::ProcResult<Status> {
    if status.tgid == 0 {
        return Err(procfs::ProcError::NotFound(None));
    }
    Ok(status)
}

/// Reads `/proc/PID/status` of a raw PID (a thread ID answers too).
pub fn read_raw(pid: i32) -> procfs::ProcResult<Status> {
    known(parse(&super::read_small(&format!("/proc/{pid}/status"))?)?)
}

/// Reads `/proc/PID/status`.
pub fn read(pid: Pid) -> procfs::ProcResult<Status> {
    read_raw(pid.get())
}

/// Reads `status` through procfs's [`crate::proc::Process`] (relative to
/// its directory fd).
pub fn of(process: &crate::proc::Process) -> procfs::ProcResult<Status> {
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut process.open_relative("status")?, &mut text)?;
    known(parse(&text)?)
}

/// Whether SIGKILL is pending for the task (its own queue or its
/// process's): an `exit_group` queues it to every other thread before they
/// have begun to exit. Pure.
pub fn sigkill_pending(status: &Status) -> bool {
    const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
    (status.sigpnd | status.shdpnd) & SIGKILL_BIT != 0
}

/// `RssShmem` (0 where missing) and `VmSwap` of a status text, in bytes.
/// Pure; see the module's note on why this is not procfs's parser.
pub fn memory(text: &str) -> (u64, Option<u64>) {
    (kb_field(text, "RssShmem:").unwrap_or(0), kb_field(text, "VmSwap:"))
}

/// The first `KEY:   N kB` line of a status or smaps text, in bytes. Pure.
pub(crate) fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &[u8] = b"Name:\tpost\xffgres\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t812\nNgid:\t0\nPid:\t812\nPPid:\t1\nTracerPid:\t0\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\nFDSize:\t64\nGroups:\t4 24 \nNStgid:\t812\t1\nNSpid:\t812\t1\nNSpgid:\t812\t1\nNSsid:\t812\t1\nVmPeak:\t  160000 kB\nVmSize:\t  151552 kB\nVmRSS:\t  151552 kB\nRssAnon:\t    3072 kB\nRssFile:\t   11264 kB\nRssShmem:\t  137216 kB\nVmSwap:\t       8 kB\nThreads:\t1\nSigQ:\t0/31523\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\nSigBlk:\t0000000000010000\nSigIgn:\t0000000001001000\nSigCgt:\t0000000180004a03\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nCoreDumping:\t0\n";

    #[test]
    fn status_parses_even_with_a_name_that_is_not_utf8() {
        let status = parse(STATUS).unwrap();
        assert_eq!(status.name, "post\u{fffd}gres");
        assert_eq!((status.ruid, status.euid, status.suid), (1000, 1001, 1002));
        assert_eq!((status.rgid, status.egid, status.sgid), (100, 101, 102));
        assert_eq!(status.tgid, 812);
        assert_eq!(status.nspid, Some(vec![812, 1]));
        assert_eq!(status.shdpnd, 0x100);
        assert_eq!(status.sigblk, 0x10000);
        assert_eq!(status.core_dumping, Some(false));
        assert_eq!(status.rssshmem, Some(137216));
    }

    #[test]
    fn sigkill_pending_reads_both_queues() {
        // SIGKILL (9) is bit 8: ShdPnd 0x100 in the fixture.
        assert!(sigkill_pending(&parse(STATUS).unwrap()));
        let own = String::from_utf8_lossy(STATUS)
            .replace("SigPnd:\t0000000000000000", "SigPnd:\t0000000000000100")
            .replace("ShdPnd:\t0000000000000100", "ShdPnd:\t0000000000000000");
        assert!(sigkill_pending(&parse(own.as_bytes()).unwrap()));
        let none = String::from_utf8_lossy(STATUS).replace("ShdPnd:\t0000000000000100", "ShdPnd:\t0000000000004000");
        assert!(!sigkill_pending(&parse(none.as_bytes()).unwrap()));
    }

    #[test]
    fn a_status_printed_after_release_is_not_taken_for_facts() {
        let text = String::from_utf8_lossy(STATUS).replace("Tgid:\t812", "Tgid:\t0");
        assert!(known(parse(text.as_bytes()).unwrap()).is_err());
        assert!(known(parse(STATUS).unwrap()).is_ok());
    }

    #[test]
    fn memory_lines_scan() {
        let text = String::from_utf8_lossy(STATUS);
        assert_eq!(memory(&text), (137216 * 1024, Some(8192)));
        assert_eq!(memory("Name:\tkthreadd\n"), (0, None));
    }

    #[test]
    fn reads_its_own() {
        let status = read(Pid::current()).unwrap();
        assert_eq!(status.pid, Pid::current().get());
        let process = crate::proc::Process::myself().unwrap();
        assert_eq!(of(&process).unwrap().tgid, status.tgid);
    }
}
