//! The one /proc layer: each /proc (and cgroupfs) text format afterlife
//! reads is parsed here, in exactly one place, and every caller goes
//! through it.
//!
//! The parsers are the `procfs` crate's where they cover the format: they
//! read from any `BufRead`, so a caller that already holds the text (a
//! `pread` into a kept buffer, a file opened relative to a `/proc/PID`
//! directory fd) parses it without another open. Our own parser is kept
//! only where procfs lacks something, or where it is measurably too slow on
//! a hot path (`watch` samples many processes per second; `holds` walks
//! every process); each such module says which and why:
//!
//! | module | format | parser |
//! |---|---|---|
//! | [`stat`] | `/proc/PID/stat`, `/proc/PID/statm` | procfs (`Stat`, `StatM`) |
//! | [`status`] | `/proc/PID/status` | procfs (`Status`), fed lossy UTF-8; our own scan of two memory lines on `watch`'s hot path |
//! | [`mountinfo`] | `/proc/PID/mountinfo` | procfs (`MountInfo`), with the octal escapes of mount points undone (procfs leaves them) |
//! | [`net`] | `/proc/PID/net/{tcp,tcp6,udp,udp6,unix}` | procfs for TCP/UDP (`TcpNetEntries`, `UdpNetEntries`); our own for unix (procfs drops the listening flag and cuts paths at spaces) |
//! | [`maps`] | `/proc/PID/maps`, `smaps_rollup` | our own: maps on `holds`'s walks (procfs allocates per line, folds SysV segments into a key, panics on short `/SYSV` names), `smaps_rollup` on `watch`'s (procfs's took 5 times as long) |
//! | [`cgroup`] | `/proc/PID/cgroup`, `cgroup.events`, flat-keyed cgroup files | procfs (`ProcessCGroups`); our own for cgroupfs files, which procfs does not read |
//! | [`children`] | `/proc/PID/task/TID/children` | our own (procfs reads it only by path; `watch` re-reads a kept fd) |
//! | [`cmdline`] | `/proc/PID/cmdline` (and the bytes `deaths`' program copies) | our own (procfs drops empty arguments and refuses bytes that are not UTF-8) |
//! | [`fdinfo`] | `/proc/PID/fdinfo/N` | our own (procfs has no parser for fdinfo text) |
//! | [`locks`] | `/proc/locks`, fdinfo `lock:` lines | our own (procfs's `Locks` drops the `->` of a waiter and reads no fdinfo line) |
//! | [`limits`] | `/proc/PID/limits` | procfs (`Limits`) |
//! | [`kcmp`] | kcmp(2), the system call that compares what /proc names | |
//! | [`ns`] | `/proc/PID/ns/*` links | (a link's text, compared whole) |
//! | (re-exported) | `/proc/meminfo`, the files [`Process`] reads | procfs (`Meminfo`, `Process`) |
//!
//! Left where they are, each parsed once: `/proc/sysvipc/*` in
//! [`crate::resources::ipc`] (procfs reads only `shm`), the per-thread
//! `syscall`, `stack` and `sched` in [`crate::resist::parse`] (procfs
//! rejects the `-1 SP PC` form of `syscall`). `supervise::keeper` reads
//! `cgroup.events` on its own after a fork, where it may not allocate.
//!
//! Readers of many files of one process use [`Process`] (procfs's, which
//! holds a `/proc/PID` directory fd and reads each file relative to it).

pub mod cgroup;
pub mod children;
pub mod cmdline;
pub mod fdinfo;
pub mod kcmp;
pub mod limits;
pub mod locks;
pub mod maps;
pub mod mountinfo;
pub mod net;
pub mod ns;
pub mod stat;
pub mod status;

pub use procfs::process::{FDTarget, MountInfo, Process, Task};
pub use procfs::{Current, Meminfo, ProcError, ProcResult, boot_time_secs, page_size, ticks_per_second};

/// Reads a small /proc file whole: `open`, `read` into a buffer that
/// usually holds all of it, `read` once more to see its end, `close`.
/// `std::fs::read` adds an `fstat` and an `lseek` for its size hint, and
/// musl's `open` an `fcntl` for `O_CLOEXEC`: seven calls instead of four,
/// for each of the thousand `stat` files a kill of a large tree reads
/// without the task iterator.
pub fn read_small(path: &str) -> std::io::Result<Vec<u8>> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut text = Vec::with_capacity(1024);
    loop {
        if text.capacity() - text.len() < 256 {
            text.reserve(text.capacity());
        }
        // `spare_capacity` extends the length by what the kernel wrote.
        match rustix::io::read(&fd, rustix::buffer::spare_capacity(&mut text)) {
            Ok(0) => return Ok(text),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reads a small /proc file whole as text, bytes that are not UTF-8
/// replaced: a name, command line, path or cgroup can hold any byte but
/// NUL and `/`, and one such byte must not lose the whole file.
pub fn read_lossy(path: &str) -> std::io::Result<String> {
    read_small(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// When a process that started `start_ticks` after boot (`/proc/PID/stat`
/// field 22, `CLOCK_BOOTTIME` in clock ticks) started, in seconds since
/// the epoch: now on `CLOCK_REALTIME` less the time since then on
/// `CLOCK_BOOTTIME`. Not `btime` of `/proc/stat` plus the ticks: `btime`
/// is cut to a whole second, which put every start up to a second early
/// (and files made just before a tree counted as the tree's). Exact to
/// the tick (10 ms), early rather than late.
pub fn started_at(start_ticks: u64) -> f64 {
    use rustix::time::{ClockId, clock_gettime};
    let seconds = |t: rustix::time::Timespec| t.tv_sec as f64 + t.tv_nsec as f64 / 1e9;
    let boot_now = seconds(clock_gettime(ClockId::Boottime));
    let real_now = seconds(clock_gettime(ClockId::Realtime));
    real_now - boot_now + start_ticks as f64 / ticks_per_second().max(1) as f64
}

/// The boot-time offset of afterlife's time namespace, in clock ticks:
/// /proc shows every start time (`/proc/PID/stat` field 22) shifted by
/// it, so start times read in two time namespaces compare only once each
/// is taken back to the initial one's. 0 in the initial time namespace,
/// or where `/proc/self/timens_offsets` is missing (no time namespaces).
pub fn boottime_offset_ticks() -> i64 {
    std::fs::read_to_string("/proc/self/timens_offsets")
        .map_or(0, |text| parse_boottime_offset(&text, ticks_per_second()))
}

/// The `boottime SECONDS NANOSECONDS` line of `timens_offsets`, in ticks
/// of `hz` per second (0 where absent). Pure.
pub fn parse_boottime_offset(text: &str, hz: u64) -> i64 {
    text.lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next()? == "boottime").then_some(())?;
            let seconds: i64 = fields.next()?.parse().ok()?;
            let nanoseconds: i64 = fields.next()?.parse().ok()?;
            let hz = i64::try_from(hz).ok()?;
            Some(seconds * hz + nanoseconds * hz / 1_000_000_000)
        })
        .unwrap_or(0)
}

/// Opens `/proc/PID` and reads its `stat`, up to `tries` times while
/// either fails. While a thread's `execve` moves the main thread's PID to
/// itself (`de_thread`), the PID names no task for an instant and
/// `/proc/PID` fails to open or read although the process lives on (about
/// 1 read in 100,000 made in a tight loop during such execs; the next read
/// was right each time): a reader that took that for the process's end was
/// wrong. Other errors (a process gone, one refused) cost `tries` reads.
pub fn open_with_stat(pid: i32, tries: usize) -> ProcResult<(Process, stat::Stat)> {
    let read = || {
        let process = Process::new(pid)?;
        let stat = stat::of(&process)?;
        Ok((process, stat))
    };
    let mut result = read();
    for _ in 1..tries {
        if result.is_ok() {
            break;
        }
        result = read();
    }
    result
}

/// Every process in /proc, each with its `/proc/PID` directory fd.
pub fn all_processes() -> ProcResult<procfs::process::ProcessesIter> {
    procfs::process::all_processes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boottime_offset_is_read_in_ticks() {
        let text = "monotonic 0 0\nboottime 100000 500000000\n";
        assert_eq!(parse_boottime_offset(text, 100), 10_000_050);
        assert_eq!(parse_boottime_offset("monotonic 7 0\nboottime -3 0\n", 100), -300);
        assert_eq!(parse_boottime_offset("", 100), 0);
        assert_eq!(
            boottime_offset_ticks(),
            0,
            "the tests run in the initial time namespace"
        );
    }
}
