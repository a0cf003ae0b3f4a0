//! Scenario 15, the ghost socket: a server listens, starts a worker that
//! inherits the listening socket because its fd lacks `O_CLOEXEC`, and is
//! killed. The port stays taken — a new `bind(2)` fails with `EADDRINUSE` —
//! held by the worker, which never meant to listen. With `O_CLOEXEC` (Rust's
//! default) the socket is not inherited and the port is free at once.
//!
//! The kernel behaviour: an fd without `FD_CLOEXEC` survives execve(2)
//! (fcntl(2)); a socket is closed only when its last fd is.

use crate::demo::error::DemoError;
use crate::demo::holders::{SocketHolder, listening_port_holders};
use crate::demo::spawn::{Spawn, Stray, field};
use crate::demo::{Check, Outcome, RunReport, fds_check, gone_check, run_report, status_check};
use crate::exit::ExitStatus;
use crate::process::Pid;
use crate::signal::Signal;

/// Tries to bind 127.0.0.1:`port`; `Ok(())` if it could (the listener is
/// closed again at once), else the errno's name.
fn try_bind(port: u16) -> Result<(), String> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Err("EADDRINUSE".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn bind_text(result: &Result<(), String>) -> String {
    match result {
        Ok(()) => "bind succeeded".to_string(),
        Err(e) => format!("bind failed: {e}"),
    }
}

/// 15: the ghost socket, without and with `O_CLOEXEC`.
pub(crate) fn ghost_socket(outcome: &mut Outcome) -> Result<(), DemoError> {
    for inherit in [true, false] {
        outcome.run(one_server(inherit)?);
    }
    Ok(())
}

/// Describes the holders found, with how they got the socket.
/// `worker_parent` is the worker's PPID as read before the server was killed.
fn holders_text(holders: &[SocketHolder], server: Pid, worker: Pid, worker_parent: Option<i32>) -> String {
    if holders.is_empty() {
        return "no process holds it".to_string();
    }
    holders
        .iter()
        .map(|h| {
            format!(
                "PID {} ({}) fd {}{}{}",
                h.pid,
                h.name,
                h.fd,
                if h.pid == worker && worker_parent == Some(server.get()) {
                    format!(", a child of the killed server {server} (its PPID before the kill): inherited")
                } else {
                    String::new()
                },
                if h.cloexec { "" } else { ", no O_CLOEXEC" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One server, killed: with `inherit`, its listening fd lacks `O_CLOEXEC`.
fn one_server(inherit: bool) -> Result<RunReport, DemoError> {
    let mut server = Spawn::new("ghost-server")
        .arg(if inherit { "inherit" } else { "cloexec" })
        .start()?;
    let pid = server.pid();
    let fields = server.ready()?;
    let port: u16 = field(&fields, "port", pid)?;
    let listen_fd: i32 = field(&fields, "fd", pid)?;
    let worker_pid: Pid = field(&fields, "worker", pid)?;
    let mut worker = Stray::open(worker_pid)?;
    let worker_parent = worker.process().info().ok().map(|i| i.ppid);
    let cloexec = crate::resources::fd::read_one(pid, listen_fd).map(|fd| fd.cloexec);
    server.signal(Signal::KILL)?;
    let ended = server.wait()?;
    let bind = try_bind(port);
    let holders = listening_port_holders(port);
    let holders_text = holders_text(&holders, pid, worker_pid, worker_parent);
    let mut checks = vec![
        Check::observed(
            "O_CLOEXEC",
            format!(
                "the listening fd {listen_fd} {} O_CLOEXEC",
                if inherit { "lacks" } else { "has" }
            ),
            match cloexec {
                Some(true) => format!("fd {listen_fd}: O_CLOEXEC set"),
                Some(false) => format!("fd {listen_fd}: O_CLOEXEC clear"),
                None => format!("fd {listen_fd} not found"),
            },
            cloexec == Some(!inherit),
        ),
        status_check(
            ended.0,
            ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false,
            },
        ),
    ];
    if inherit {
        checks.push(Check::stayed(
            "port (inherited)",
            format!("port {port} stays taken: a new bind fails with EADDRINUSE"),
            bind_text(&bind),
            bind.as_ref().err().is_some_and(|e| e == "EADDRINUSE"),
        ));
        checks.push(Check::stayed(
            "child holds it",
            format!("the worker {worker_pid}, which inherited the socket, holds it"),
            holders_text,
            holders.len() == 1 && holders[0].pid == worker_pid && !holders[0].cloexec,
        ));
    } else {
        checks.push(Check::went(
            "port (O_CLOEXEC)",
            format!("port {port} is free at once: a new bind succeeds"),
            bind_text(&bind),
            bind.is_ok(),
        ));
        checks.push(Check::observed(
            "no holder",
            format!("no process holds the socket, though the worker {worker_pid} still runs"),
            format!(
                "{holders_text}; worker {}",
                if worker.process().has_exited() {
                    "ended"
                } else {
                    "running"
                }
            ),
            holders.is_empty() && !worker.process().has_exited(),
        ));
    }
    let worker_end = worker.end(Signal::KILL)?;
    let bind_after = try_bind(port);
    checks.push(Check::observed(
        "worker ended",
        format!("the worker ends by its pidfd (SIGKILL); port {port} is then free"),
        format!("worker: {}; then {}", worker_end.0, bind_text(&bind_after)),
        bind_after.is_ok(),
    ));
    checks.push(fds_check(&mut server));
    checks.push(gone_check(pid));
    Ok(run_report(
        if inherit { "without O_CLOEXEC" } else { "with O_CLOEXEC" },
        format!(
            "the server listened on 127.0.0.1:{port} (fd {listen_fd}{}), started worker {worker_pid}, and was sent SIGKILL",
            if inherit { ", FD_CLOEXEC cleared" } else { "" }
        ),
        pid,
        ended,
        checks,
    ))
}
