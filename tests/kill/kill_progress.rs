//! `kill` on a terminal shows one self-overwriting status line on stderr
//! while it waits out the grace period (who is left, time until SIGKILL),
//! erased before the report; never when stderr is not a terminal, nor with
//! `--json` or `-q`. The terminal is a real pty, from script(1).

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Reaped, afterlife, comm, pid_dead, wait_until};

/// `sleep 60` that ignores SIGTERM (an ignored disposition survives exec),
/// killed and reaped on drop.
fn stubborn() -> Reaped {
    let target = Reaped::spawn(Command::new("sh").args(["-c", "trap '' TERM; exec sleep 60"]));
    let pid = target.pid();
    assert!(wait_until(Duration::from_secs(10), || comm(pid) == "sleep"));
    target
}

fn have_script() -> bool {
    Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs afterlife with `args` on a new pty (stdin, stdout and stderr), and
/// returns its exit code and everything it wrote to the terminal.
fn on_terminal(args: &[&str]) -> (i32, String) {
    let mut line = format!("exec '{}' --color=never", env!("CARGO_BIN_EXE_afterlife"));
    for arg in args {
        line.push_str(&format!(" '{arg}'"));
    }
    let output = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_terminal_sees_who_is_left_and_when_sigkill_comes_then_the_line_goes() {
    if !have_script() {
        eprintln!("skipped: script(1) is not installed");
        return;
    }
    let target = stubborn();
    let pid = target.pid().to_string();
    let (code, screen) = on_terminal(&["kill", "--grace", "1500ms", &pid]);
    assert_eq!(code, 0, "{screen:?}");
    let shown = format!("\r\x1b[Kwaiting for 1 of 1 process (sleep {pid}), SIGKILL in ");
    let first = screen
        .find(&shown)
        .unwrap_or_else(|| panic!("no progress line in {screen:?}"));
    // Nothing before the first line; each update overwrites the last and
    // counts down to SIGKILL.
    assert_eq!(first, 0, "{screen:?}");
    let updates: Vec<&str> = screen.split("\r\x1b[K").filter(|s| !s.is_empty()).collect();
    let (report, lines) = updates.split_last().unwrap();
    let mut lefts = Vec::new();
    // Once SIGKILL went out, a line may say how long afterlife still waits.
    let after_kill = format!("waiting for 1 of 1 process (sleep {pid}), giving up in ");
    for line in lines {
        if line.starts_with(&after_kill) {
            continue;
        }
        let left = line
            .strip_prefix(&shown[4..])
            .and_then(|rest| rest.strip_suffix(" s"))
            .unwrap_or_else(|| panic!("not a progress line: {line:?}"));
        lefts.push(left.parse::<f64>().unwrap());
    }
    assert!(!lefts.is_empty(), "{screen:?}");
    assert!(lefts.windows(2).all(|w| w[0] >= w[1]), "{lefts:?}");
    assert!(lefts.iter().all(|&l| (0.0..=1.3).contains(&l)), "{lefts:?}");
    // Erased, then the report as usual, with no trace of the line.
    let rows: Vec<String> = report
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(rows[0], "PID NAME SENT RESULT", "{report:?}");
    assert!(
        rows[1].starts_with(&format!("{pid} sleep TERM,KILL needed SIGKILL after ")),
        "{report:?}"
    );
    assert!(rows[2].starts_with("every target ended: 1 process"), "{report:?}");
    assert_eq!(rows.len(), 3, "{report:?}");
    assert!(pid_dead(target.pid()));
}

#[test]
fn no_line_without_a_terminal_nor_with_json_or_quiet() {
    let target = stubborn();
    let pid = target.pid().to_string();
    let output = afterlife().args(["kill", "--grace", "700ms", &pid]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("waiting for") && !stdout.contains('\r'), "{stdout:?}");
    drop(target);
    if !have_script() {
        eprintln!("skipped the terminal part: script(1) is not installed");
        return;
    }
    let target = stubborn();
    let (code, screen) = on_terminal(&["--json", "kill", "--grace", "700ms", &target.pid().to_string()]);
    assert_eq!(code, 0, "{screen:?}");
    assert!(
        !screen.contains("waiting for") && !screen.contains('\x1b'),
        "{screen:?}"
    );
    let report: serde_json::Value = serde_json::from_str(&screen.replace("\r\n", "\n")).unwrap();
    assert_eq!(report["summary"]["needed_kill"], 1);
    drop(target);
    let target = stubborn();
    let (code, screen) = on_terminal(&["kill", "-q", "--grace", "700ms", &target.pid().to_string()]);
    assert_eq!((code, screen.as_str()), (0, ""));
    assert!(pid_dead(target.pid()));
}
