//! The live terminal view (in a real pseudo-terminal, through tmux) and
//! stopping on SIGINT with a summary.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use afterlife::process::{Pid, Process};
use afterlife::signal::Signal;
use common::{WatchFixture, afterlife, stderr, wait_until};

#[test]
fn sigint_stops_the_watch_with_a_summary() {
    let fixture = WatchFixture::start("steady", 0, &[]);
    let watch = afterlife()
        .args(["--json", "watch", "--interval", "50ms"])
        .arg(fixture.pid().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let handle = Process::open(Pid::new(watch.id() as i32).unwrap()).unwrap();
    // Signal once it has started sampling: it holds a pidfd for the fixture.
    assert!(wait_until(Duration::from_secs(10), || common::holds_pidfd_for(
        watch.id(),
        fixture.pid()
    )));
    // Long enough for the 10 samples a verdict needs.
    std::thread::sleep(Duration::from_millis(900));
    handle.signal(Signal::INT).unwrap();
    let output = watch.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = common::ndjson(&output);
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["stopped"], "interrupted");
    assert_eq!(summary["processes"][0]["pid"], fixture.pid());
}

#[test]
fn live_view_draws_sparklines_in_a_terminal() {
    let _core = crate::busy_core();
    let fixture = WatchFixture::start("sockets", 400, &[]);
    let socket = format!("afterlife-watch-live-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs")
    };
    let command = format!(
        "{} watch --interval 100ms --duration 20s {}; sleep 30",
        env!("CARGO_BIN_EXE_afterlife"),
        fixture.pid()
    );
    let started = tmux(&["new-session", "-d", "-x", "160", "-y", "40", &command]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let mut screen = String::new();
    let drawn = wait_until(Duration::from_secs(15), || {
        screen = String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
        screen.contains("leaking") && screen.contains("(socket)")
    });
    // Stop the tmux server we started (its socket is ours alone).
    tmux(&["kill-server"]);
    assert!(drawn, "screen:\n{screen}");
    assert!(screen.contains("afterlife watch — 1 process"), "{screen}");
    assert!(screen.contains(&format!("{} python3", fixture.pid())), "{screen}");
    for label in ["open fds", "RSS", "PSS", "threads", "children"] {
        assert!(screen.contains(label), "no {label}:\n{screen}");
    }
    // Sparkline bars.
    assert!(screen.chars().any(|c| ('▁'..='█').contains(&c)), "{screen}");
}
