//! `afterlife holds`: text and JSON rendering of
//! [`crate::resources::holders`].

use crate::cli::output::{Output, Style};
use crate::cli::{Failure, HoldsArgs};
use crate::exit_code;
use crate::resources::holders::{
    self, BindEffect, DeletedReport, Ghost, Holder, HoldsReport, Origin, ProcessRef, SocketMatch, Spec, Unseen, Via,
};
use crate::text::escape;

pub(crate) fn run(args: &HoldsArgs, output: &Output) -> Result<u8, Failure> {
    if args.deleted {
        let report = holders::deleted_files();
        if output.json() {
            output.json_document(&report);
        } else {
            let mut lines = Vec::new();
            render_deleted(&report, output, &mut lines);
            output.line(&lines.join("\n"));
        }
        return Ok(if report.files.is_empty() {
            exit_code::NEGATIVE
        } else {
            exit_code::SUCCESS
        });
    }
    if args.specs.is_empty() {
        return Err(Failure::new(
            "nothing to look for: give a SPEC (tcp:8080, udp:53, :8080, 127.0.0.1:8080, [::1]:8080, unix:/run/x.sock, unix:@name, a path) or --deleted",
        ));
    }
    let mut specs = Vec::new();
    for text in &args.specs {
        let spec = Spec::parse_os(text).map_err(|e: holders::SpecError| Failure::new(escape(&e.to_string())))?;
        specs.push((text.to_string_lossy().into_owned(), spec));
    }
    let report = holders::search(&specs).map_err(Failure::new)?;
    if output.json() {
        output.json_document(&report);
    } else {
        // One write for the whole report: thousands of holders are common.
        let mut lines = Vec::new();
        render(&report, output, &mut lines);
        output.line(&lines.join("\n"));
    }
    Ok(if report.any_held() {
        exit_code::SUCCESS
    } else {
        exit_code::NEGATIVE
    })
}

fn render(report: &HoldsReport, output: &Output, lines: &mut Vec<String>) {
    for result in &report.results {
        lines.push(output.paint(Style::Bold, &escape(&result.spec)));
        if result.unanswered {
            lines.push(
                "  note: its file system did not answer stat within 2 s (a hung FUSE or NFS mount?): matched by the path as written and by its mount"
                    .to_string(),
            );
        }
        if result.sockets.is_empty() && result.holders.is_empty() {
            lines.push(nothing_holds_it(
                report.unseen.hidepid.as_deref(),
                report.unseen.processes,
            ));
        }
        for m in &result.sockets {
            render_socket(m, report, output, lines);
        }
        for holder in &result.holders {
            render_holder(holder, "file", "  ", output, lines);
        }
    }
    render_unseen(&report.unseen, lines);
    for ns in &report.namespaces {
        if let Some(error) = &ns.error {
            lines.push(format!(
                "note: network namespace {} (process {}) could not be read: {}",
                ns.netns,
                ns.member.map(|p| p.to_string()).unwrap_or_default(),
                escape(error)
            ));
        }
    }
}

fn render_socket(m: &SocketMatch, report: &HoldsReport, output: &Output, lines: &mut Vec<String>) {
    let mut line = format!("  {}", escape(&m.socket.describe()));
    if m.socket.inode != 0 && m.socket.protocol != crate::resources::sockets::Protocol::Unix {
        line.push_str(&format!(" (inode {})", m.socket.inode));
    }
    lines.push(line);
    if let Some(member) = &m.foreign_netns {
        lines.push(format!(
            "    in another network namespace (net:[{}], like process {} {}), not afterlife's (net:[{}])",
            m.socket.netns,
            member.pid,
            escape(&member.name),
            report.own_netns.unwrap_or(0)
        ));
    }
    for holder in &m.holders {
        render_holder(holder, "socket", "    ", output, lines);
    }
    render_free_with(&m.holders, lines);
    if let Some(ghost) = &m.ghost {
        lines.push(format!(
            "    {}: {}",
            output.paint(Style::Warn, ghost_headline(ghost)),
            ghost_text(ghost)
        ));
    }
    if let (Some(effect), Some(local)) = (m.bind, m.socket.local) {
        lines.push(format!("    {}", bind_text(effect, local)));
    }
}

/// What a socket no process holds does to a new bind of its address and
/// port. Pure.
pub(crate) fn bind_text(effect: BindEffect, local: std::net::SocketAddr) -> String {
    // An IPv4 connection of a dual-stack listener shows its address mapped
    // into IPv6; a bind of the plain IPv4 address meets it all the same.
    let bind = match local {
        std::net::SocketAddr::V6(v6) if let Some(v4) = v6.ip().to_ipv4_mapped() => format!(
            "a new bind of {v4}:{port} or {local} (or of a wildcard address that covers it)",
            port = v6.port()
        ),
        _ => format!("a new bind of {local} (or of a wildcard address that covers it)"),
    };
    match (effect.fails_without_reuseaddr, effect.fails_with_reuseaddr) {
        (true, Some(true)) => format!("{bind} fails with EADDRINUSE while it lasts, with SO_REUSEADDR or without"),
        (true, None) => format!(
            "{bind} without SO_REUSEADDR fails with EADDRINUSE while it lasts; with SO_REUSEADDR it succeeds only if this socket had SO_REUSEADDR too (a connection accepted from a listener has the listener's), which the kernel does not report"
        ),
        (true, Some(false)) => format!("{bind} fails with EADDRINUSE while it lasts, unless it sets SO_REUSEADDR"),
        (false, _) => format!("{bind} succeeds"),
    }
}

/// The command that ends the holders left by a dead leader: one
/// `kill --pgroup PGID` per such group (`--pgroup` takes the dead leader's
/// PID while its group lives, and no new process can take that PID then).
/// When they are all the holders, it frees the socket.
fn render_free_with(holders: &[Holder], lines: &mut Vec<String>) {
    let groups = leaderless_groups(holders);
    if groups.is_empty() {
        return;
    }
    let all = holders.iter().all(|h| groups.iter().any(|&(pgid, _)| pgid == h.pgid));
    let what = if all {
        "to free it"
    } else {
        "to end the holders whose leader is gone"
    };
    for (pgid, _) in groups {
        lines.push(format!(
            "    {what}: afterlife kill --pgroup {pgid} (every process of the group its dead leader left)"
        ));
    }
}

/// The process groups of holders that inherited from a dead leader, in
/// order, each with its lowest holder's PID.
fn leaderless_groups(holders: &[Holder]) -> Vec<(i32, crate::process::Pid)> {
    let mut groups: Vec<(i32, crate::process::Pid)> = holders
        .iter()
        .filter(|h| h.origins.iter().any(|o| matches!(o, Origin::LeaderGone { .. })))
        .map(|h| (h.pgid, h.pid))
        .collect();
    groups.sort_unstable();
    groups.dedup_by_key(|g| g.0);
    groups
}

fn refs(list: &[ProcessRef]) -> String {
    if list.is_empty() {
        return "no process we could see".to_string();
    }
    list.iter()
        .map(|p| format!("{} {}", p.pid, escape(&p.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What is known of who holds a socket no process was seen holding: none
/// does, or none that afterlife could see. Pure.
fn ghost_headline(ghost: &Ghost) -> &'static str {
    match ghost {
        Ghost::Hidden { .. } => "no visible process holds it",
        Ghost::Unreadable { .. } => "no readable process holds it",
        _ => "no process holds it",
    }
}

fn ghost_text(ghost: &Ghost) -> String {
    match ghost {
        Ghost::TimeWait => "kernel-owned TIME_WAIT: the connection was closed; the kernel keeps it for 60 s so late packets are not taken for a new connection".to_string(),
        Ghost::Orphaned { state } => format!(
            "orphaned ({}): its last process closed it and the kernel is finishing the close handshake (tcp_fin_timeout, tcp_orphan_retries)",
            state.name()
        ),
        Ghost::HalfOpen => "half-open (SYN-RECV): a handshake the kernel answers for the listener; no process has it yet".to_string(),
        Ghost::AcceptQueue { listener, holders } => format!(
            "waiting in the accept queue of listener inode {listener}, held by {}; it becomes a process's fd when accept() takes it",
            refs(holders)
        ),
        Ghost::InFlight { receivers } => {
            let mut text = "it sits in flight in a unix socket queue: sent with SCM_RIGHTS and not yet received".to_string();
            match receivers.as_slice() {
                [] => text.push_str(" (no unix socket with unread data was found among the readable processes)"),
                [one] => text.push_str(&format!(
                    "; the receiving socket is unix inode {}{} with {} bytes unread, held by {}",
                    one.inode,
                    one.path.as_deref().map(|p| format!(" ({})", escape(p))).unwrap_or_default(),
                    one.recv_queue,
                    refs(&one.holders)
                )),
                many => {
                    text.push_str("; unix sockets with unread data: ");
                    text.push_str(
                        &many
                            .iter()
                            .map(|r| format!("inode {} held by {}", r.inode, refs(&r.holders)))
                            .collect::<Vec<_>>()
                            .join("; "),
                    );
                }
            }
            text
        }
        Ghost::Hidden { hidepid } => format!(
            "/proc is mounted with hidepid={}, which hides other users' processes, and one of them may hold it",
            escape(hidepid)
        ),
        Ghost::Unreadable { processes } => format!(
            "{} could not be read (permission denied), {}",
            crate::cli::output::count(*processes, "process", "processes"),
            if *processes == 1 { "and it may hold it" } else { "and one of them may hold it" }
        ),
    }
}

fn render_holder(holder: &Holder, noun: &str, indent: &str, output: &Output, lines: &mut Vec<String>) {
    let user = holder
        .user
        .clone()
        .or_else(|| holder.uid.map(|u| u.to_string()))
        .unwrap_or_else(|| "?".to_string());
    let how = match holder.via {
        Via::Fd => {
            let mut s = format!("fd {}", holder.fd.unwrap_or(-1));
            if let Some(access) = holder.access {
                s.push_str(&format!(" {}", access.letter()));
            }
            match holder.cloexec {
                Some(true) => s.push_str(", O_CLOEXEC"),
                Some(false) => s.push_str(", no O_CLOEXEC"),
                None => {}
            }
            s
        }
        Via::Cwd => "working directory".to_string(),
        Via::Root => "root directory".to_string(),
        Via::Exe => "executable".to_string(),
        Via::Mapped => "memory-mapped".to_string(),
        // A lock of an open file is told by the fd that holds it; a
        // POSIX lock by the PID /proc/locks records.
        Via::Locked => match holder.fd {
            Some(fd) => format!("locked through fd {fd}"),
            None => "locked (/proc/locks)".to_string(),
        },
    };
    lines.push(format!(
        "{indent}{} {} (user {}, parent {}): {how}",
        holder.pid,
        output.paint(Style::Bold, &escape(&holder.name)),
        escape(&user),
        holder.ppid
    ));
    for origin in &holder.origins {
        let text = match origin {
            Origin::Inherited { parent, parent_name } => format!(
                "inherited: its parent {parent} ({}) holds the same {}",
                escape(parent_name),
                noun
            ),
            Origin::NoCloexec => "this fd lacks O_CLOEXEC: every program this process starts inherits it".to_string(),
            Origin::SharedWithParent {
                parent,
                parent_name,
                parent_fd,
            } => format!(
                "its parent {parent} ({}) holds the same {} at fd {parent_fd}: passed to it, or inherited and moved",
                escape(parent_name),
                noun
            ),
            Origin::LeaderGone { pgid } => format!(
                "its process group {pgid} still carries the PID of its leader, which has exited: the leader may have \
left it to its group (or this process made it itself)"
            ),
        };
        lines.push(format!("{indent}    {text}"));
    }
}

fn render_unseen(unseen: &Unseen, lines: &mut Vec<String>) {
    if unseen.processes > 0 {
        // The root of a user namespace is no root outside it.
        let root = rustix::process::geteuid().is_root() && crate::process::in_initial_user_namespace();
        lines.push(unseen_note(unseen, root));
    }
    if let Some(hidepid) = &unseen.hidepid {
        lines.push(format!(
            "note: /proc is mounted with hidepid={}: other users' processes are hidden from afterlife and were not searched; run as root (or with CAP_SYS_PTRACE) to see them",
            escape(hidepid)
        ));
    }
}

/// The line for a SPEC nothing was found for: where /proc hides other
/// users' processes, only of the processes afterlife can see; where some
/// processes could not be read (`unseen`), only of those it read, and of
/// the network namespaces it found (an unreadable process's namespace is
/// unknown: its `ns/net` link needs the same access as its fds). Pure.
fn nothing_holds_it(hidepid: Option<&str>, unseen: usize) -> String {
    match hidepid {
        None if unseen == 0 => "  nothing holds it: no socket is bound to it and no process has it open".to_string(),
        None => format!(
            "  nothing holds it that afterlife could read: no socket is bound to it in the network namespaces it found, and no process it read has it open ({} could not be read, nor the network namespaces they are in)",
            crate::cli::output::count(unseen, "process", "processes")
        ),
        Some(hidepid) => format!(
            "  no process afterlife can see holds it: no socket is bound to it, and no visible process has it open (/proc is mounted with hidepid={}, which hides other users' processes)",
            escape(hidepid)
        ),
    }
}

/// The note on processes whose fds could not be read. As root, running as
/// root is no advice: such a process has capabilities root lacks here, or
/// a security module guards it. Pure.
fn unseen_note(unseen: &Unseen, root: bool) -> String {
    let pids: Vec<String> = unseen.pids.iter().map(|p| p.to_string()).collect();
    let advice = if root {
        "even root may not read them here (capabilities root lacks, or a security module)"
    } else {
        "run as root to see them"
    };
    format!(
        "note: the fds of {} could not be read (permission denied: {}{}); {advice}",
        crate::cli::output::count(unseen.processes, "process", "processes"),
        pids.join(", "),
        if unseen.processes > pids.len() { ", ..." } else { "" }
    )
}

fn render_deleted(report: &DeletedReport, output: &Output, lines: &mut Vec<String>) {
    if report.files.is_empty() {
        // Of the processes it could not read, nothing is known.
        let unseen = report.unseen.processes > 0 || report.unseen.hidepid.is_some();
        lines.push(
            if unseen {
                "no process afterlife could read holds a deleted file open"
            } else {
                "no deleted file is held open"
            }
            .to_string(),
        );
    }
    for file in &report.files {
        lines.push(format!(
            "{} (deleted): {} on disk, size {}",
            output.paint(Style::Bold, &escape(&file.path)),
            human_bytes(file.disk_bytes),
            human_bytes(file.size)
        ));
        for holder in &file.holders {
            render_holder(holder, "file", "  ", output, lines);
        }
    }
    if !report.files.is_empty() {
        let one = report.files.len() == 1;
        lines.push(format!(
            "{} deleted file{} keep{} {} of disk space until {} holders close {} or exit",
            report.files.len(),
            if one { "" } else { "s" },
            if one { "s" } else { "" },
            human_bytes(report.disk_bytes),
            if one { "its" } else { "their" },
            if one { "it" } else { "them" },
        ));
    }
    render_unseen(&report.unseen, lines);
}

/// `1.5 MiB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bind_verdict_names_an_ipv4_address_mapped_into_ipv6_both_ways() {
        let unknown = BindEffect {
            fails_without_reuseaddr: true,
            fails_with_reuseaddr: None,
        };
        let text = bind_text(unknown, "[::ffff:127.0.0.1]:80".parse().unwrap());
        assert!(
            text.starts_with("a new bind of 127.0.0.1:80 or [::ffff:127.0.0.1]:80 (or of a wildcard address that covers it) without SO_REUSEADDR fails"),
            "{text}"
        );
        let listener = BindEffect {
            fails_without_reuseaddr: true,
            fails_with_reuseaddr: Some(true),
        };
        assert_eq!(
            bind_text(listener, "[::1]:80".parse().unwrap()),
            "a new bind of [::1]:80 (or of a wildcard address that covers it) fails with EADDRINUSE while it lasts, with SO_REUSEADDR or without"
        );
    }

    #[test]
    fn the_unseen_note_advises_root_only_to_others() {
        let unseen = Unseen {
            processes: 1,
            pids: vec![crate::process::Pid::new(1).unwrap()],
            hidepid: None,
        };
        let as_root = unseen_note(&unseen, true);
        assert_eq!(
            as_root,
            "note: the fds of 1 process could not be read (permission denied: 1); even root may not read them here \
(capabilities root lacks, or a security module)"
        );
        assert!(unseen_note(&unseen, false).ends_with("; run as root to see them"));
    }

    #[test]
    fn nothing_found_under_hidepid_is_said_of_the_visible_processes_only() {
        assert!(nothing_holds_it(None, 0).starts_with("  nothing holds it"));
        let unread = nothing_holds_it(None, 3);
        assert!(
            unread.starts_with("  nothing holds it that afterlife could read: "),
            "{unread}"
        );
        assert!(unread.contains("(3 processes could not be read, nor the network namespaces they are in)"));
        let hidden = nothing_holds_it(Some("invisible"), 0);
        assert!(
            hidden.starts_with("  no process afterlife can see holds it"),
            "{hidden}"
        );
        assert!(hidden.contains("hidepid=invisible"), "{hidden}");
    }
}
