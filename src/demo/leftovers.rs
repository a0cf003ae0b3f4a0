//! Scenarios 11, 12, 13, 16 and 17: what a death takes and what it leaves —
//! bytes still in a buffer, memory, files and temp files, data already
//! handed to a pipe, a SysV shared memory segment. Each is measured before
//! and after the death.

use std::process::Stdio;

use crate::demo::child::{BUFFERED_BYTES, shm_pattern};
use crate::demo::error::DemoError;
use crate::demo::holders::fd_holders;
use crate::demo::signals::procfs_rss;
use crate::demo::spawn::{ScratchDir, Spawn, read_to_eof};
use crate::demo::{Check, Outcome, fds_check, gone_check, run_report, status_check, zombie_memory_check};
use crate::exit::ExitStatus;
use crate::resources::fd::FdKind;
use crate::signal::Signal;
use crate::sys::linux::ipc;

fn file_size(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn size_text(size: Option<u64>) -> String {
    size.map_or("no file".to_string(), |s| format!("{s} bytes"))
}

/// 11: bytes in a buffer are lost on SIGKILL and on std::process::exit,
/// flushed when main returns and by C's exit(3).
pub(crate) fn buffered_output(outcome: &mut Outcome) -> Result<(), DemoError> {
    let scratch = ScratchDir::new("buffered-output")?;
    let total = BUFFERED_BYTES as u64;
    let cases: [(&str, &str, &str, bool); 4] = [
        (
            "kill",
            "SIGKILL",
            "wrote through a Rust BufWriter, then was sent SIGKILL",
            false,
        ),
        (
            "return",
            "return from main",
            "wrote through a Rust BufWriter, then returned from main (the BufWriter was dropped)",
            true,
        ),
        (
            "exit",
            "std::process::exit",
            "wrote through a Rust BufWriter, then called std::process::exit(0), which runs no destructor",
            false,
        ),
        (
            "c-exit",
            "C exit(3)",
            "wrote through C stdio (fwrite), then called exit(3), which flushes stdio",
            true,
        ),
    ];
    for (how, label, action, flushed) in cases {
        let path = scratch.path().join(format!("{how}.out"));
        let mut child = Spawn::new("buffered").arg(how).arg(path.display()).start()?;
        let pid = child.pid();
        child.ready()?;
        let alive = file_size(&path);
        if how == "kill" {
            child.signal(Signal::KILL)?;
        } else {
            child.go()?;
        }
        let ended = child.wait()?;
        let after = file_size(&path);
        let expected_status = if how == "kill" {
            ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false,
            }
        } else {
            ExitStatus::Exited { code: 0 }
        };
        let on_disk = after.unwrap_or(0);
        let bytes_check = if flushed {
            Check::stayed(
                "flushed bytes",
                format!("the {total} buffered bytes reach the file on the way out"),
                format!("{} while it ran; {} after its end", size_text(alive), size_text(after)),
                alive == Some(0) && on_disk == total,
            )
        } else {
            Check::went(
                "buffered bytes",
                format!("the {total} bytes still in the process's buffer are lost with it"),
                format!("{} while it ran; {} after its end", size_text(alive), size_text(after)),
                alive == Some(0) && on_disk == 0,
            )
        };
        let checks = vec![
            status_check(ended.0, expected_status),
            bytes_check,
            fds_check(&mut child),
            gone_check(pid),
        ];
        outcome.run(run_report(label, action, pid, ended, checks));
    }
    Ok(())
}

fn mem_available() -> Option<u64> {
    use crate::proc::Current;
    crate::proc::Meminfo::current().ok()?.mem_available
}

/// MemAvailable once it has moved by `bytes` from `from` (down if `down`),
/// or after a bounded wait: the kernel folds its per-CPU page counters into
/// the figure only every `vm.stat_interval` (1 s by default).
fn mem_available_after_move(from: Option<u64>, bytes: u64, down: bool) -> Option<u64> {
    let from = from?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    loop {
        let now = mem_available()?;
        let moved = if down {
            from.saturating_sub(now)
        } else {
            now.saturating_sub(from)
        };
        if moved >= bytes || std::time::Instant::now() >= deadline {
            return Some(now);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// 12: 200 MiB touched, then the process exits without freeing it.
///
/// The proof is the process's own: its resident set while it runs, and,
/// once it has exited but before it is reaped, its zombie, which holds no
/// memory at all — exit(2) tore the address space down and gave the pages
/// back. MemAvailable is shown alongside; it is system-wide, and other
/// processes move it, so it is a note, not a check.
pub(crate) fn memory(outcome: &mut Outcome) -> Result<(), DemoError> {
    const MIB: u64 = 200;
    let before = mem_available();
    let mut child = Spawn::new("memory").arg(MIB).start()?;
    let pid = child.pid();
    child.ready()?;
    let rss = procfs_rss(pid).unwrap_or(0) * 1024;
    let during = mem_available_after_move(before, rss / 10 * 9, true);
    child.go()?;
    child.wait_exited()?;
    let memory = zombie_memory_check(pid, Some(rss >> 10));
    let ended = child.wait()?;
    let after = mem_available_after_move(during, rss / 10 * 9, false);
    let text = |v: Option<u64>| v.map_or("unknown".to_string(), mib);
    let mut checks = vec![
        Check::observed(
            "allocated",
            format!("the child touched {MIB} MiB: its resident set shows it"),
            format!("VmRSS {} while it ran", mib(rss)),
            rss >= MIB << 20,
        ),
        status_check(ended.0, ExitStatus::Exited { code: 0 }),
        memory,
    ];
    checks.push(fds_check(&mut child));
    checks.push(gone_check(pid));
    outcome.run(run_report(
        "200 MiB",
        format!("the child allocated and touched {MIB} MiB, then called exit without freeing it"),
        pid,
        ended,
        checks,
    ));
    outcome.note(format!(
        "MemAvailable (system-wide, moved by every process on the machine and folded from per-CPU counters every vm.stat_interval): {} before, {} while it ran, {} after",
        text(before),
        text(during),
        text(after)
    ));
    Ok(())
}

/// 13: a file written and a temp file left behind stay; an unnamed
/// (`O_TMPFILE`) file goes.
pub(crate) fn files(outcome: &mut Outcome) -> Result<(), DemoError> {
    let scratch = ScratchDir::new("files")?;
    let mut child = Spawn::new("files").arg(scratch.path().display()).start()?;
    let pid = child.pid();
    let fields = child.ready()?;
    let unnamed_fd: i32 = fields.get("unnamed_fd").and_then(|v| v.parse().ok()).unwrap_or(-1);
    let unnamed = crate::resources::fd::read_one(pid, unnamed_fd);
    let unnamed_inode = unnamed.as_ref().and_then(|fd| fd.inode);
    // Its link names the inode: `/dir/#INODE (deleted)`.
    let unnamed_link = std::fs::read_link(format!("/proc/{pid}/fd/{unnamed_fd}")).ok();
    let unnamed_before = unnamed.as_ref().map_or("not found in its fds".to_string(), |fd| {
        format!("fd {} → {} ({}) while it ran", fd.fd, fd.target, fd.kind.name())
    });
    child.signal(Signal::KILL)?;
    let ended = child.wait()?;
    let report = scratch.path().join("report.txt");
    let temp = scratch.path().join("afterlife-demo.tmp");
    let holders_after = unnamed_link.map(|link| {
        use std::os::unix::ffi::OsStrExt;
        fd_holders(|l| l == link.as_os_str().as_bytes()).len()
    });
    let checks = vec![
        status_check(
            ended.0,
            ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false,
            },
        ),
        Check::stayed(
            "file",
            "the file it wrote stays, with all it wrote",
            format!("report.txt: {}", size_text(file_size(&report))),
            file_size(&report) == Some(1000),
        ),
        Check::stayed(
            "temp file",
            "the temp file it meant to remove stays: nothing removes it for a dead process",
            format!("afterlife-demo.tmp: {}", size_text(file_size(&temp))),
            file_size(&temp) == Some(2000),
        ),
        Check::went(
            "unnamed temp file",
            "a temp file with no name (O_TMPFILE) goes: its last reference was the dead process's fd",
            format!(
                "{unnamed_before}; after: {}",
                match holders_after {
                    Some(0) => format!("no process holds inode {}", unnamed_inode.unwrap_or(0)),
                    Some(n) => format!("{n} fds still hold it"),
                    None => "unknown".to_string(),
                }
            ),
            unnamed.as_ref().is_some_and(|fd| fd.kind == FdKind::DeletedFile) && holders_after == Some(0),
        ),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "SIGKILL",
        "the child wrote report.txt, created afterlife-demo.tmp and an O_TMPFILE file, then was sent SIGKILL",
        pid,
        ended,
        checks,
    ));
    Ok(())
}

/// 16: data written into a pipe survives its writer.
pub(crate) fn pipe(outcome: &mut Outcome) -> Result<(), DemoError> {
    const BYTES: usize = 16 * 1024;
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| DemoError::io("create a pipe")(e.into()))?;
    let mut child = Spawn::new("pipe-writer")
        .arg(BYTES)
        .stderr(Stdio::from(write))
        .start()?;
    let pid = child.pid();
    child.ready()?;
    child.signal(Signal::KILL)?;
    let ended = child.wait()?;
    let (data, eof) = match read_to_eof(pid, &mut std::fs::File::from(read)) {
        Ok(data) => (data, true),
        Err(DemoError::Timeout { .. }) => (Vec::new(), false),
        Err(error) => return Err(error),
    };
    let intact = data.len() == BYTES && data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
    let checks = vec![
        status_check(
            ended.0,
            ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false,
            },
        ),
        Check::stayed(
            "pipe data",
            format!("the {BYTES} bytes it wrote into the pipe are still there for the reader"),
            format!(
                "read {} bytes after its death, {}",
                data.len(),
                if intact { "identical" } else { "not as written" }
            ),
            intact,
        ),
        Check::went(
            "write end",
            "its write end of the pipe: the reader gets EOF after the data",
            if eof {
                "EOF after the data"
            } else {
                "no EOF within the time allowed"
            },
            eof,
        ),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "SIGKILL",
        format!(
            "the child wrote {BYTES} bytes into a pipe, then was sent SIGKILL; the parent read the pipe afterwards"
        ),
        pid,
        ended,
        checks,
    ));
    Ok(())
}

/// `shmctl(IPC_STAT)`: size, attach count, creator PID; `None` if removed.
fn shm_stat(id: i32) -> Option<(usize, u64, i32)> {
    ipc::shm_stat(id).map(|stat| (stat.size, stat.attached, stat.creator))
}

/// Attaches read-only and compares the content with the pattern.
fn shm_content_intact(id: i32, size: usize) -> bool {
    let Ok(mapping) = ipc::ShmMapping::attach(id, false) else {
        return false;
    };
    let bytes = mapping.bytes();
    bytes.len() >= size && bytes[..size].iter().enumerate().all(|(i, &b)| b == shm_pattern(i))
}

/// Removes a segment by its ID; whether it is gone afterwards.
fn shm_remove(id: i32) -> bool {
    // EINVAL: already removed.
    let _ = ipc::shm_remove(id);
    shm_stat(id).is_none()
}

/// Removes the segment when dropped.
struct Segment(i32);

impl Drop for Segment {
    fn drop(&mut self) {
        // EINVAL: already removed, which is what this is for.
        shm_remove(self.0);
    }
}

/// 17: a SysV shared memory segment stays after its creator.
pub(crate) fn shm(outcome: &mut Outcome) -> Result<(), DemoError> {
    const SIZE: usize = 1 << 20;
    let mut child = Spawn::new("shm").arg(SIZE).start()?;
    let pid = child.pid();
    let fields = child.ready()?;
    let Some(id) = fields.get("shmid").and_then(|v| v.parse::<i32>().ok()) else {
        return Err(DemoError::Protocol {
            pid,
            message: "no shmid in its ready line".to_string(),
        });
    };
    // Removed on every way out of this function, even an early error.
    let _segment = Segment(id);
    let while_alive = shm_stat(id);
    child.signal(Signal::KILL)?;
    let ended = child.wait()?;
    let after = shm_stat(id);
    let intact = after.is_some() && shm_content_intact(id, SIZE);
    let removed = shm_remove(id);
    let describe = |s: Option<(usize, u64, i32)>| {
        s.map_or("no segment".to_string(), |(size, attached, creator)| {
            format!("{size} bytes, {attached} attached, created by {creator}")
        })
    };
    let checks = vec![
        status_check(
            ended.0,
            ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false,
            },
        ),
        Check::went(
            "attachment",
            "its attachment of the segment goes: the attach count drops by one",
            format!(
                "{} attached while it ran, {} after",
                while_alive.map_or(0, |s| s.1),
                after.map_or(0, |s| s.1)
            ),
            while_alive.map(|s| s.1) == Some(1) && after.map(|s| s.1) == Some(0),
        ),
        Check::stayed(
            "shm segment",
            format!("segment {id} stays, content and all, until someone removes it (ipcrm)"),
            format!(
                "after its death: {}; content {}",
                describe(after),
                if intact { "as written" } else { "not as written" }
            ),
            after.is_some_and(|(size, _, creator)| size == SIZE && creator == pid.get()) && intact,
        ),
        fds_check(&mut child),
        gone_check(pid),
    ];
    outcome.run(run_report(
        "SIGKILL",
        format!("the child created SysV shm segment {id} ({SIZE} bytes), filled it, then was sent SIGKILL"),
        pid,
        ended,
        checks,
    ));
    outcome.note(if removed {
        format!("the demo removed segment {id} afterwards (shmctl IPC_RMID)")
    } else {
        format!("segment {id} could not be removed: remove it with 'ipcrm -m {id}'")
    });
    Ok(())
}
