//! `afterlife snapshot`: text and JSON rendering of
//! [`crate::resources::Snapshot`].

use crate::cli::holds::human_bytes;
use crate::cli::output::{Output, Style};
use crate::cli::{Failure, SnapshotArgs};
use crate::exit_code;
use crate::resources::Snapshot;
use crate::resources::snapshot::in_root;
use crate::resources::sockets::{NetnsId, Socket};
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
    let own_netns = crate::resources::sockets::own_netns();
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
        } else if p.exiting {
            // What it held is going as it is read: say so, not "0 B".
            format!(
                "{}: {fds}, {} resident as read, its memory and command line going or gone",
                output.paint(Style::Warn, "exiting"),
                human_bytes(p.rss_bytes)
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
        if let Some(root) = &p.root_dir {
            output.line(&format!(
                "  root {} (chrooted: the names it binds and opens are relative to it)",
                escape(root)
            ));
        }
        for fd in &p.fds {
            let socket = fd.inode.and_then(|i| {
                snapshot
                    .sockets
                    .iter()
                    .find(|s| s.inode == i && fd.kind.name() == "socket")
            });
            let target = match socket {
                Some(s) => socket_text(s, own_netns, p.root_dir.as_deref()),
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
            escape(&object.label()),
            object.size_text(),
            object
                .creator_pid
                .map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into())
        ));
    }
}

/// A socket of a process whose root is `root`, for a reader in network
/// namespace `own`: its namespace named when it is another, and a unix
/// socket's name bound in a chroot also as afterlife reaches it. Pure.
fn socket_text(socket: &Socket, own: Option<NetnsId>, root: Option<&str>) -> String {
    let text = socket.describe_from(own);
    match (root, socket.path.as_deref()) {
        (Some(root), Some(path)) if path.starts_with('/') => {
            format!("{text} [bound in its root: {}]", in_root(Some(root), path))
        }
        _ => text,
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
    fn a_socket_of_another_namespace_or_root_says_so() {
        use crate::resources::sockets::{Protocol, SocketState};
        let mut tcp = Socket::inet_fixture(Protocol::Tcp, SocketState::Listen, "127.0.0.1:8080", "0.0.0.0:0", 7);
        assert_eq!(socket_text(&tcp, Some(1), None), "tcp LISTEN 127.0.0.1:8080");
        tcp.netns = 2;
        assert_eq!(
            socket_text(&tcp, Some(1), Some("/jail")),
            "tcp LISTEN 127.0.0.1:8080 [network namespace net:[2], not afterlife's]"
        );
        let mut unix = tcp.clone();
        unix.protocol = Protocol::Unix;
        unix.netns = 1;
        unix.path = Some("/s.sock".into());
        assert_eq!(
            socket_text(&unix, Some(1), Some("/jail/")),
            "unix stream LISTEN /s.sock (inode 7) [bound in its root: /jail/s.sock]"
        );
        unix.path = Some("@abstract".into());
        assert_eq!(
            socket_text(&unix, Some(1), Some("/jail")),
            "unix stream LISTEN @abstract (inode 7)"
        );
    }

    #[test]
    fn a_lock_on_part_of_a_file_says_which_bytes() {
        assert_eq!(byte_range(0, None), "");
        assert_eq!(byte_range(100, Some(199)), ", bytes 100-199");
        assert_eq!(byte_range(0, Some(9)), ", bytes 0-9");
        assert_eq!(byte_range(4096, None), ", bytes 4096 to the end");
    }
}
