//! How the command enters its cgroup leaf: started in it by
//! `clone3(CLONE_INTO_CGROUP)`, with no write to `cgroup.procs` (a migration,
//! which waits for an RCU grace period), or, with `AFTERLIFE_CGROUP_MIGRATE`
//! (the way taken where the kernel refuses the clone), forked outside and
//! moved in before exec. Both ways: the command is in the leaf from its
//! start, its escapes are caught, exec failures keep their exit codes, and
//! no leaf is left behind.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Scratch, afterlife, stderr, stdout};

/// The two ways in: the environment each needs.
const WAYS: [(&str, &str); 2] = [("clone3", "0"), ("migrate", "1")];

/// `afterlife ARGS` with `AFTERLIFE_CGROUP_MIGRATE` set to `migrate`.
fn run_way(migrate: &str, args: &[&str]) -> Output {
    afterlife()
        .env("AFTERLIFE_CGROUP_MIGRATE", migrate)
        .args(args)
        .output()
        .expect("afterlife runs")
}

/// Whether cgroup containment works here; prints why not otherwise.
fn cgroup_available() -> bool {
    let output = run_way("0", &["run", "-q", "--containment", "cgroup", "--", "true"]);
    if output.status.code() == Some(125) && stderr(&output).contains("cannot set up") {
        println!("skipped: cgroup containment: {}", stderr(&output).trim());
        return false;
    }
    true
}

/// The system calls `afterlife run --containment cgroup -- true` makes
/// (every process), as strace writes them; `None` (skipped) without strace.
fn traced(migrate: &str, scratch: &Scratch) -> Option<String> {
    let trace = scratch.path().join(format!("trace-{migrate}"));
    let traced = Command::new("strace")
        .env("AFTERLIFE_CGROUP_MIGRATE", migrate)
        .args(["-f", "-qq", "-e", "trace=clone,clone3,write", "-e", "signal=none", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["run", "-q", "--containment", "cgroup", "--", "true"])
        .output();
    match traced {
        Ok(output) => {
            assert!(output.status.success(), "{}", stderr(&output));
            Some(std::fs::read_to_string(&trace).expect("strace wrote its trace"))
        }
        Err(e) => {
            println!("skipped: cannot run strace: {e}");
            None
        }
    }
}

/// Whether a trace holds the write of `0` that moves a process into a
/// cgroup (the leaf's `cgroup.procs`, written by the command before exec),
/// whole or, when another thread's call came between, split by strace
/// into `write(7, "0", 1 <unfinished ...>` and its resumption.
fn moves_into_a_cgroup(trace: &str) -> bool {
    trace.lines().any(|line| {
        line.contains("write(") && (line.contains(", \"0\", 1)") || line.contains(", \"0\", 1 <unfinished"))
    })
}

#[test]
fn the_command_is_started_in_its_leaf_without_a_move() {
    if !cgroup_available() {
        return;
    }
    let scratch = Scratch::new("leaf-clone3");
    let Some(trace) = traced("0", &scratch) else { return };
    assert!(trace.contains("CLONE_INTO_CGROUP"), "no clone3 into the leaf:\n{trace}");
    assert!(
        !moves_into_a_cgroup(&trace),
        "the command was moved into its leaf:\n{trace}"
    );
}

#[test]
fn the_fallback_forks_and_moves_the_command_in() {
    if !cgroup_available() {
        return;
    }
    let scratch = Scratch::new("leaf-migrate");
    let Some(trace) = traced("1", &scratch) else { return };
    assert!(
        !trace.contains("CLONE_INTO_CGROUP"),
        "clone3 into the leaf was used:\n{trace}"
    );
    assert!(
        moves_into_a_cgroup(&trace),
        "the command was not moved into its leaf:\n{trace}"
    );
}

#[test]
fn either_way_the_command_runs_in_the_leaf_from_its_start() {
    if !cgroup_available() {
        return;
    }
    for (way, migrate) in WAYS {
        let output = run_way(
            migrate,
            &[
                "--json",
                "run",
                "--containment",
                "cgroup",
                "--",
                "cat",
                "/proc/self/cgroup",
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{way}: {}", stderr(&output));
        // The report on stderr, what the command printed on stdout.
        let report = stderr(&output);
        let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
        let leaf = report["cgroup"].as_str().expect("a cgroup path in the report");
        let printed = stdout(&output);
        let inside = printed
            .lines()
            .find_map(|line| line.strip_prefix("0::"))
            .expect("a cgroup v2 line");
        assert!(
            leaf.ends_with(inside)
                && Path::new(inside)
                    .file_name()
                    .is_some_and(|n| { n.to_string_lossy().starts_with("afterlife-") }),
            "{way}: the command ran in {inside}, the leaf is {leaf}"
        );
        assert!(!Path::new(leaf).exists(), "{way}: the leaf {leaf} was left behind");
    }
}

#[test]
fn either_way_a_setsid_daemon_is_caught_and_ended() {
    if !cgroup_available() {
        return;
    }
    for (way, migrate) in WAYS {
        let scratch = Scratch::new(&format!("leaf-daemon-{way}"));
        // The daemon names itself (`common::NAME_ITSELF_SH`).
        let pidfile = scratch.path().join("pid");
        let script = format!(
            "setsid sh -c 'read -r s < /proc/self/stat; set -- $s; echo \"$(readlink /proc/self/ns/pid) $$ ${{22}}\" > {0}; exec sleep 60' \
             </dev/null >/dev/null 2>&1 & while [ ! -s {0} ]; do sleep 0.01; done",
            pidfile.display()
        );
        let output = run_way(
            migrate,
            &[
                "run",
                "--containment",
                "cgroup",
                "--grace",
                "1",
                "--fail-on-leftovers",
                "--",
                "sh",
                "-c",
                &script,
            ],
        );
        assert_eq!(output.status.code(), Some(121), "{way}: {}", stderr(&output));
        assert!(stderr(&output).contains("leaked process"), "{way}: {}", stderr(&output));
        let daemon = common::pid_lines(&pidfile);
        assert_eq!(daemon.len(), 1, "{way}");
        assert!(
            common::line_dead(&daemon[0]),
            "{way}: the daemon {} still runs",
            daemon[0]
        );
    }
}

#[test]
fn either_way_exec_failures_keep_their_exit_codes() {
    if !cgroup_available() {
        return;
    }
    let scratch = Scratch::new("leaf-exec");
    let not_executable = scratch.path().join("data");
    std::fs::write(&not_executable, "not a program\n").unwrap();
    let not_executable = not_executable.display().to_string();
    for (way, migrate) in WAYS {
        let missing = run_way(
            migrate,
            &["run", "--containment", "cgroup", "--", "afterlife-no-such-command"],
        );
        assert_eq!(missing.status.code(), Some(127), "{way}: {}", stderr(&missing));
        assert!(stderr(&missing).contains("No such file"), "{way}: {}", stderr(&missing));
        let refused = run_way(migrate, &["run", "--containment", "cgroup", "--", &not_executable]);
        assert_eq!(refused.status.code(), Some(126), "{way}: {}", stderr(&refused));
        assert!(
            stderr(&refused).contains("Permission denied"),
            "{way}: {}",
            stderr(&refused)
        );
    }
}
