//! `afterlife snapshot`: text and JSON rendering of
//! [`crate::resources::Snapshot`].

use crate::cli::holds::human_bytes;
use crate::cli::output::{Output, Style};
use crate::cli::{Failure, SnapshotArgs};
use crate::exit_code;
use crate::resources::Snapshot;
use crate::text::{display_command_line, escape};

pub(crate) fn run(args: &SnapshotArgs, output: &Output) -> Result<u8, Failure> {
    let snapshot = if args.tree {
        Snapshot::of_tree(args.pid)
    } else {
        Snapshot::of_process(args.pid)
    }
    .map_err(Failure::new)?;
    if output.json() {
        output.json_document(&snapshot);
    } else {
        render(&snapshot, output);
    }
    Ok(exit_code::SUCCESS)
}

fn render(snapshot: &Snapshot, output: &Output) {
    for p in &snapshot.processes {
        // Fds that could not be read are not "0 fds": the note below says why.
        let fds = if p.fds_unreadable {
            "fds unreadable".to_string()
        } else {
            format!("{} fds", p.fds.len())
        };
        // A zombie holds nothing: it has exited and waits to be reaped.
        let holds = if p.zombie {
            format!(
                "{}: it has exited and its parent has not reaped it",
                output.paint(Style::Warn, "a zombie")
            )
        } else {
            format!(
                "{fds}, {} resident; {}",
                human_bytes(p.rss_bytes),
                display_command_line(&p.cmdline)
            )
        };
        output.line(&format!(
            "{} {} (parent {}, user {}): {holds}",
            p.pid,
            output.paint(Style::Bold, &escape(&p.name)),
            p.ppid,
            escape(
                &p.user
                    .clone()
                    .or_else(|| p.uid.map(|u| u.to_string()))
                    .unwrap_or_default()
            ),
        ));
        if let Some(cwd) = &p.cwd {
            output.line(&format!("  cwd {}", escape(cwd)));
        }
        for fd in &p.fds {
            let socket = fd.inode.and_then(|i| {
                snapshot
                    .sockets
                    .iter()
                    .find(|s| s.inode == i && fd.kind.name() == "socket")
            });
            let target = match socket {
                Some(s) => s.describe(),
                None => fd.target.clone(),
            };
            output.line(&format!(
                "  fd {:<4} {:<12} {} {}{}",
                fd.fd,
                fd.kind.name(),
                fd.access.letter(),
                escape(&target),
                if fd.cloexec { "" } else { "  [no O_CLOEXEC]" }
            ));
        }
        for map in &p.maps {
            output.line(&format!(
                "  mapped {} {}{}",
                human_bytes(map.mapped_bytes),
                escape(&map.path),
                if map.deleted { " (deleted)" } else { "" }
            ));
        }
        for error in &p.errors {
            output.line(&format!("  note: {}", escape(error)));
        }
    }
    for held in &snapshot.locks {
        let l = &held.lock;
        output.line(&format!(
            "lock {} {} by {} on {}{}",
            l.kind.name(),
            if l.write { "write" } else { "read" },
            l.pid.map(|p| p.to_string()).unwrap_or_else(|| "an open file".into()),
            escape(
                &held
                    .path
                    .clone()
                    .unwrap_or_else(|| format!("{:x}:{:x}:{}", l.major, l.minor, l.inode))
            ),
            byte_range(l.start, l.end)
        ));
    }
    for object in &snapshot.ipc {
        output.line(&format!(
            "ipc {}, {}, creator {}",
            object.label(),
            object.size_text(),
            object
                .creator_pid
                .map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into())
        ));
    }
}

/// The bytes a lock covers, when not the whole file: `, bytes 100-199`
/// (`/proc/locks` gives the last byte), `, bytes 100 to the end`. Pure.
fn byte_range(start: u64, end: Option<u64>) -> String {
    match (start, end) {
        (0, None) => String::new(),
        (start, None) => format!(", bytes {start} to the end"),
        (start, Some(end)) => format!(", bytes {start}-{end}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_on_part_of_a_file_says_which_bytes() {
        assert_eq!(byte_range(0, None), "");
        assert_eq!(byte_range(100, Some(199)), ", bytes 100-199");
        assert_eq!(byte_range(0, Some(9)), ", bytes 0-9");
        assert_eq!(byte_range(4096, None), ", bytes 4096 to the end");
    }
}
