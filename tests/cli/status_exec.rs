//! `status` of a process that calls `execve` while it is read: its name,
//! command line and executable are read from different files, and an exec
//! between two reads gave a name of one program with the command line of
//! the next (or an empty one, while the kernel was copying the arguments
//! in). Every answer is now of one program: re-read until it is, and never
//! a command line of another program than the name.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use crate::common;

use common::{Scratch, run_json};

/// Two scripts that exec each other `n` times: the process is named
/// `ping` or `pong` (a script's name, as the kernel names it), and its
/// command line is `/bin/sh ./ping N` or `/bin/sh ./pong N`.
fn ping_pong(scratch: &Scratch) -> std::process::Child {
    for (name, next) in [("ping", "pong"), ("pong", "ping")] {
        let path = scratch.path().join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\n[ \"$1\" -gt 0 ] && exec ./{next} $(($1 - 1))\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    Command::new("./ping")
        .arg("1000000")
        .current_dir(scratch.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("ping runs")
}

#[test]
fn a_process_read_while_it_execs_is_read_of_one_program() {
    let scratch = Scratch::new("status-exec");
    let mut child = ping_pong(&scratch);
    let pid = child.id().to_string();
    let mut mixed = Vec::new();
    for _ in 0..150 {
        let (_, status) = run_json(&["status", &pid]);
        let process = &status["processes"][0]["process"];
        let name = process["name"].as_str().unwrap_or_default().to_string();
        let script = process["command_line"]
            .get(1)
            .and_then(|a| a.as_str())
            .map(|a| a.trim_start_matches("./").to_string());
        // No command line at all is no mix: caught inside an exec that a
        // loaded machine stretched past every re-read, the new program's
        // arguments are not in its memory yet, and none is said.
        if script.as_ref().is_some_and(|script| script != &name) {
            mixed.push(format!("{name}: {}", process["command_line"]));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(mixed.is_empty(), "{} of 150 mixed: {mixed:?}", mixed.len());
}
