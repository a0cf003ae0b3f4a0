//! `holds` on Windows: text and JSON rendering of
//! [`crate::sys::windows::port_owners`]: who owns a TCP or UDP port, in the
//! same words as the Linux `holds`. Files and unix sockets need Linux.

use crate::cli::output::{Output, Style};
use crate::cli::{Failure, HoldsArgs};
use crate::exit_code;
use crate::holds_spec::{Spec, SpecError};
use crate::sys::windows::port_owners::{Owner, PortSocket, PortsReport, ProcessFacts, search};
use crate::sys::windows::socket_table::TcpState;
use crate::text::{escape_controls, escape_native as escape};

const PORTS_ONLY: &str = "on Windows holds takes TCP and UDP ports: tcp:PORT, udp:PORT, :PORT, ADDR:PORT, [V6]:PORT";

pub(crate) fn run(args: &HoldsArgs, output: &Output) -> Result<u8, Failure> {
    if args.deleted {
        return Err(Failure::new(format!(
            "--deleted needs Linux (/proc fds of deleted files); {PORTS_ONLY}"
        )));
    }
    if args.specs.is_empty() {
        return Err(Failure::new(format!("nothing to look for: give a SPEC; {PORTS_ONLY}")));
    }
    let specs = parse(&args.specs)?;
    let report = search(&specs).map_err(Failure::new)?;
    if output.json() {
        output.json_document(&report);
    } else {
        output.line(&render(&report, output).join("\n"));
    }
    Ok(if report.any_held() {
        exit_code::SUCCESS
    } else {
        exit_code::NEGATIVE
    })
}

/// The SPECs, each a port: a file or unix socket is refused in one line.
fn parse(texts: &[std::ffi::OsString]) -> Result<Vec<(String, Spec)>, Failure> {
    let mut specs = Vec::new();
    for text in texts {
        let spec = Spec::parse_os(text).map_err(|e: SpecError| Failure::new(escape(&e.to_string())))?;
        let text = text.to_string_lossy().into_owned();
        match spec {
            Spec::Port { .. } => specs.push((text, spec)),
            Spec::Unix { .. } => {
                return Err(Failure::new(format!(
                    "'{}': unix sockets need Linux (sock_diag); {PORTS_ONLY}",
                    escape(&text)
                )));
            }
            Spec::Path(_) => {
                return Err(Failure::new(format!(
                    "'{}': who holds a file needs Linux (/proc fds); {PORTS_ONLY}",
                    escape(&text)
                )));
            }
        }
    }
    Ok(specs)
}

fn render(report: &PortsReport, output: &Output) -> Vec<String> {
    let mut lines = Vec::new();
    for result in &report.results {
        lines.push(output.paint(Style::Bold, &escape(&result.spec)));
        if result.sockets.is_empty() {
            lines.push("  nothing holds it: no socket is bound to it".to_string());
        }
        for socket in &result.sockets {
            render_socket(socket, report, output, &mut lines);
        }
    }
    render_notes(report, &mut lines);
    lines
}

/// What could not be seen: processes whose handles were denied, a handle
/// walk given up or impossible.
fn render_notes(report: &PortsReport, lines: &mut Vec<String>) {
    if report.unseen.processes > 0 {
        let pids: Vec<String> = report.unseen.pids.iter().map(u32::to_string).collect();
        lines.push(format!(
            "note: the handles of {} processes could not be read (access denied: {}{}); run as administrator to see them",
            report.unseen.processes,
            pids.join(", "),
            if report.unseen.processes > pids.len() { ", ..." } else { "" }
        ));
    }
    match &report.handle_walk {
        Some(walk) if walk.error.is_some() => lines.push(format!(
            "note: the handle table could not be read ({}): holders other than the owner are not shown",
            escape(walk.error.as_deref().unwrap_or_default())
        )),
        Some(walk) if !walk.complete => lines.push(
            "note: a handle kept the walk of the handle table waiting (synchronous I/O in progress on it) and it was given up: some holders may be missing"
                .to_string(),
        ),
        _ => {}
    }
}

fn render_socket(m: &PortSocket, report: &PortsReport, output: &Output, lines: &mut Vec<String>) {
    let state = m.socket.state.map(|s| format!(" {}", s.name())).unwrap_or_default();
    let remote = m
        .socket
        .remote
        .as_deref()
        .map(|r| format!(" -> {r}"))
        .unwrap_or_default();
    lines.push(format!(
        "  {}{state} {}{remote}",
        m.socket.protocol.name(),
        m.socket.local
    ));
    match &m.owner {
        Owner::Running { process } => render_running_owner(m, process, report, output, lines),
        Owner::Ended { pid, exit_code } => {
            lines.push(format!(
                "    {pid}: owner, {} (exit code {exit_code}; an open handle keeps its process object)",
                output.paint(Style::Warn, "ended")
            ));
            lines.push(format!("    {}", still_held()));
        }
        Owner::Gone { pid } => {
            lines.push(format!(
                "    {pid}: owner, {}: no process has this PID; the process that created the socket has ended (netstat shows an unknown process, TCPView a non-existent one)",
                output.paint(Style::Warn, "gone")
            ));
            lines.push(format!("    {}", still_held()));
        }
        Owner::Unknown { .. } => lines.push(format!(
            "    {}: owner PID 0 on a socket in use: the system does not say which process has it (under Wine: no process has used it through a unix fd of its own, which is how Wine finds owners)",
            output.paint(Style::Warn, "owner not named")
        )),
        Owner::System { .. } => lines.push(format!(
            "    {}: owner PID 0, the system finishes the closing connection alone{}",
            output.paint(Style::Warn, "no process holds it"),
            if m.socket.state == Some(TcpState::TimeWait) {
                " (TIME_WAIT: the connection was closed; it is kept a while, TcpTimedWaitDelay, so late packets are not taken for a new connection)"
            } else {
                ""
            }
        )),
    }
    render_holders(m, output, lines);
    render_children(m, output, lines);
}

/// The owner that runs, with its own handles to the socket; or that it
/// has none while others do.
fn render_running_owner(
    m: &PortSocket,
    process: &ProcessFacts,
    report: &PortsReport,
    output: &Output,
    lines: &mut Vec<String>,
) {
    let handles: Vec<String> = m
        .holders
        .iter()
        .filter(|h| h.process.pid == process.pid)
        .map(|h| format!("{:#x}", h.handle))
        .collect();
    let held = if handles.is_empty() {
        String::new()
    } else {
        format!("; handle {}", handles.join(", "))
    };
    lines.push(format!(
        "    {}: owner (it created the socket{held})",
        process_line(process, output)
    ));
    // Complete, and every process whose handles were denied listed.
    let complete = report
        .handle_walk
        .as_ref()
        .is_some_and(|w| w.complete && w.error.is_none())
        && report.unseen.processes == report.unseen.pids.len();
    if m.owner_holds_no_handle(complete, &report.unseen.pids) {
        lines.push(format!(
            "        it holds no handle to it now: it closed its own, or {} is a newer process that got the creator's PID",
            process.pid
        ));
    }
}

/// The processes other than the owner that hold a handle to it.
fn render_holders(m: &PortSocket, output: &Output, lines: &mut Vec<String>) {
    let owner = m.owner.pid();
    for holder in m.holders.iter().filter(|h| h.process.pid != owner) {
        lines.push(format!(
            "    {}: handle {:#x}",
            process_line(&holder.process, output),
            holder.handle
        ));
        let parent = holder.process.parent;
        if owner != 0 && parent == owner {
            lines.push(format!(
                "        inherited: the owner {owner} started it, and the socket was inheritable (no WSA_FLAG_NO_HANDLE_INHERIT)"
            ));
        } else if !holder.parent_running && parent != 0 {
            lines.push(format!(
                "        inherited, it seems: its parent {parent} has ended, and a socket made inheritable outlives its creator in the children it started"
            ));
        }
    }
    let others: Vec<String> = m
        .holders
        .iter()
        .filter(|h| h.process.pid != owner)
        .map(|h| h.process.pid.to_string())
        .collect();
    if !others.is_empty() && !matches!(m.owner, Owner::Running { .. }) {
        lines.push(format!(
            "    to free it: afterlife kill {} (every process that holds a handle to it must end or close it)",
            others.join(" ")
        ));
    }
}

/// Why a socket whose owner has ended still exists.
fn still_held() -> &'static str {
    "the socket lives on: another process holds a handle to it (inherited: created without WSA_FLAG_NO_HANDLE_INHERIT and passed on by CreateProcess with bInheritHandles, or duplicated)"
}

fn render_children(m: &PortSocket, output: &Output, lines: &mut Vec<String>) {
    if !matches!(m.owner, Owner::Ended { .. } | Owner::Gone { .. }) {
        return;
    }
    // The holders said it (render_holders).
    if !m.holders.is_empty() {
        return;
    }
    if m.children.is_empty() {
        lines.push(format!(
            "    no process the owner {} started still runs: the handle went further (a grandchild, or DuplicateHandle)",
            m.owner.pid()
        ));
    }
    for child in &m.children {
        lines.push(format!(
            "    {}: started by the owner {}, it can hold the socket through an inherited handle",
            process_line(child, output),
            m.owner.pid()
        ));
    }
    if let Some(child) = m.children.first() {
        lines.push(format!(
            "    to free it: afterlife kill {} (every process that holds a handle to it must end or close it)",
            child.pid
        ));
    }
}

/// `PID name (user U, parent P)`, as the Linux `holds` names a holder.
fn process_line(process: &ProcessFacts, output: &Output) -> String {
    let user = match (&process.user, &process.user_error) {
        // DOMAIN\name: its backslash is the account's own.
        (Some(user), _) => escape_controls(user).into_owned(),
        (None, Some(error)) => format!("? ({})", escape(error)),
        (None, None) => "?".to_owned(),
    };
    let name = if process.name.is_empty() {
        "?"
    } else {
        process.name.as_str()
    };
    format!(
        "{} {} (user {user}, parent {})",
        process.pid,
        output.paint(Style::Bold, &escape(name)),
        process.parent
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_unix_sockets_need_linux() {
        let error = parse(&[std::ffi::OsString::from("C:\\x.txt")]).unwrap_err();
        assert_eq!(error.code, exit_code::FAILURE);
        assert!(error.message.contains("needs Linux"), "{}", error.message);
        let error = parse(&[std::ffi::OsString::from("unix:@x")]).unwrap_err();
        assert!(error.message.contains("unix sockets need Linux"), "{}", error.message);
        let error = parse(&[std::ffi::OsString::from("tcp:0")]).unwrap_err();
        assert!(error.message.contains("is not a port"), "{}", error.message);
        assert_eq!(
            parse(&[std::ffi::OsString::from("[::1]:80"), std::ffi::OsString::from(":53")])
                .unwrap()
                .len(),
            2
        );
    }
}
