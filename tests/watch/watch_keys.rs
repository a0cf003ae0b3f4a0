//! The live view at a real terminal (tmux): `q` stops it with the summary
//! on the normal screen, sparklines are drawn at 60 columns, and the
//! processes that do not fit are counted as "+N more".

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::tmux::Tmux;

/// Children of this test, ended by their PIDs on drop.
struct Sleepers(Vec<Child>);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn q_stops_the_live_view_at_sixty_columns_with_the_rest_counted() {
    // The verdicts must be drawn in time: no chart decoding beside it.
    let _core = crate::busy_core();
    let Some(tmux) = Tmux::start("watch-keys") else {
        return;
    };
    let status = tmux
        .command()
        .args(["resize-window", "-x", "60", "-y", "30"])
        .status()
        .unwrap();
    assert!(status.success(), "tmux resize-window");
    let sleepers = Sleepers(
        (0..5)
            .map(|_| Command::new("sleep").arg("120").stdin(Stdio::null()).spawn().unwrap())
            .collect(),
    );
    let pids: Vec<String> = sleepers.0.iter().map(|c| c.id().to_string()).collect();
    tmux.line(&format!(
        "{} watch --interval 100ms --duration 60s {}; echo watch-ended-$?",
        env!("CARGO_BIN_EXE_afterlife"),
        pids.join(" ")
    ));
    // 30 rows: a header, two blocks of 11 rows, and the line for the rest.
    tmux.wait_for("+3 more (not leaking)");
    let screen = tmux.screen();
    assert!(screen.contains("leaking — q stops"), "{screen}");
    let bars = |s: &str| s.chars().filter(|c| ('▁'..='█').contains(c)).count();
    let drawn = common::wait_until(Duration::from_secs(10), || bars(&tmux.screen()) > 20);
    assert!(drawn, "no sparklines at 60 columns:\n{}", tmux.screen());
    assert!(
        tmux.screen().lines().all(|l| l.chars().count() <= 60),
        "{}",
        tmux.screen()
    );
    // Enough samples for verdicts, so the watch ends with "no leak" (0).
    tmux.wait_for("steady");
    tmux.keys(&["q"]);
    tmux.wait_for("watch-ended-0");
    let screen = tmux.screen();
    assert!(screen.contains("watched 5 processes"), "{screen}");
    // The summary is on the normal screen, and the terminal echoes again.
    tmux.line("echo typed-back");
    tmux.wait_for("typed-back\ntyped-back");
}
