//! `afterlife run` in a real terminal (a tmux pane): Ctrl+C interrupts the
//! command exactly once and afterlife exits with its status; an
//! interactive program works; Ctrl+Z and `fg` stop and resume the job.

use crate::common;

use std::time::Duration;

use common::tmux::Tmux;
use common::{Scratch, wait_until};

const AFTERLIFE: &str = env!("CARGO_BIN_EXE_afterlife");

#[test]
fn ctrl_c_interrupts_the_command_exactly_once() {
    let Some(tmux) = Tmux::start("ctrl-c") else { return };
    let scratch = Scratch::new("tty-ctrl-c");
    let script = scratch.path().join("count.py");
    std::fs::write(
        &script,
        "import signal, sys, time\n\
         count = 0\n\
         def on_int(n, f):\n    global count\n    count += 1\n\
         signal.signal(signal.SIGINT, on_int)\n\
         print('ready', flush=True)\n\
         while count == 0:\n    time.sleep(0.02)\n\
         time.sleep(0.5)\n\
         print('INT count', count, flush=True)\n\
         sys.exit(7)\n",
    )
    .unwrap();
    tmux.line(&format!("{AFTERLIFE} run -- python3 {}; echo rc=$?", script.display()));
    tmux.wait_for("ready");
    tmux.keys(&["C-c"]);
    tmux.wait_for("rc=7");
    let screen = tmux.screen();
    assert!(screen.contains("INT count 1"), "{screen}");
    assert!(screen.contains("exited with code 7 (exit 7)"), "{screen}");
}

#[test]
fn an_interactive_python_works_under_afterlife() {
    let Some(tmux) = Tmux::start("python") else { return };
    tmux.line(&format!("{AFTERLIFE} run -- python3 -q; echo rc=$?"));
    tmux.wait_for(">>>");
    tmux.line("print(6 * 7)");
    tmux.wait_for("42");
    // Ctrl+C interrupts the prompt, not python itself.
    tmux.keys(&["C-c"]);
    tmux.wait_for("KeyboardInterrupt");
    tmux.line("print('still' + ' here')");
    tmux.wait_for("still here");
    tmux.keys(&["C-d"]);
    tmux.wait_for("rc=0");
}

#[test]
fn ctrl_z_stops_the_job_and_fg_resumes_it_at_each_level() {
    for level in ["cgroup", "pidns", "subreaper"] {
        let Some(tmux) = Tmux::start(&format!("ctrl-z-{level}")) else {
            return;
        };
        tmux.line(&format!(
            "{AFTERLIFE} run --containment {level} -- sh -c 'echo st\"\"arted; sleep 30; echo fin\"\"ished'"
        ));
        // The quotes keep the command line itself from matching.
        tmux.wait_for("started");
        // Press Ctrl+Z once `sleep` runs: dash starts it with vfork, and a
        // child stopped between vfork and exec leaves its parent waiting
        // in the kernel for good, so the job would never stop whole (a
        // race of the shell's, not of afterlife's).
        let sleeping = wait_until(Duration::from_secs(10), || {
            tmux.processes().lines().any(|l| l.trim_end().ends_with(" sleep 30"))
        });
        assert!(sleeping, "{level}: sleep did not start:\n{}", tmux.processes());
        tmux.keys(&["C-z"]);
        // The interactive shell hands the terminal to its job as it starts
        // it; a key pressed in that instant may reach the shell instead. A
        // user presses again; so do we, once.
        if !tmux.shows_within("Stopped", Duration::from_secs(2)) {
            tmux.keys(&["C-z"]);
        }
        tmux.wait_for("Stopped");
        tmux.line("fg");
        // Resumed in the foreground (bash echoes the job's command line a
        // third time): Ctrl+C reaches the command again.
        let resumed = wait_until(Duration::from_secs(10), || {
            tmux.screen().matches("ished'\n").count() >= 3
        });
        assert!(resumed, "{level}: not resumed:\n{}", tmux.screen());
        tmux.keys(&["C-c"]);
        tmux.line("echo rc=$?");
        tmux.wait_for("rc=130");
        assert!(!tmux.screen().contains("finished\n"), "{level}");
    }
}

#[test]
fn an_interactive_shell_works_under_afterlife() {
    let Some(tmux) = Tmux::start("shell") else { return };
    tmux.line(&format!("{AFTERLIFE} run -- bash --norc --noprofile; echo outer-rc=$?"));
    tmux.line("PS1='inner$ '");
    tmux.wait_for("inner$ ");
    tmux.line("echo answer $((6 * 7))");
    tmux.wait_for("answer 42");
    // Ctrl+C ends the inner shell's foreground job, not the shell.
    // The job says when it runs (a shell's `echo; sleep` would leave a gap
    // in which Ctrl+C reaches the shell between the two).
    tmux.line("python3 -c \"import time; print('slee' + 'ping', flush=True); time.sleep(30)\"");
    tmux.wait_for("sleeping");
    tmux.keys(&["C-c"]);
    tmux.line("echo sleep-ended $?");
    tmux.wait_for("sleep-ended 130");
    tmux.line("exit 3");
    tmux.wait_for("outer-rc=3");
}
