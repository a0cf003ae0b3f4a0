//! `afterlife deaths` on Ctrl+C typed into a real terminal (a tmux pane):
//! the foreground process dies of SIGINT and the feed names the terminal
//! as the sender.

use crate::common;

use std::time::Duration;

use common::deaths::{Feed, signal_of};
use common::tmux::Tmux;
use common::wait_until;

#[test]
fn ctrl_c_is_the_terminal() {
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    let Some(tmux) = Tmux::start("deaths") else { return };
    tmux.keys(&["-l", "sh -c 'echo pid=$$; exec sleep 60'"]);
    tmux.keys(&["Enter"]);
    let mut pid = None;
    let started = wait_until(Duration::from_secs(10), || {
        pid = tmux
            .screen()
            .lines()
            .find_map(|l| l.strip_prefix("pid=").and_then(|p| p.trim().parse::<i64>().ok()));
        pid.is_some_and(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep"))
    });
    assert!(started, "the sleep did not start: {}", tmux.screen());
    let pid = pid.unwrap();
    tmux.keys(&["C-c"]);
    let death = feed
        .find(Duration::from_secs(15), |d| d["pid"] == pid)
        .unwrap_or_else(|| panic!("no death of {pid}; screen: {}", tmux.screen()));
    assert_eq!(signal_of(&death), Some(i64::from(libc::SIGINT)), "{death}");
    assert_eq!(death["sender"]["kind"], "terminal", "{death}");
    assert_eq!(death["sender"]["code_name"], "SI_KERNEL", "{death}");
    assert_eq!(death["name"], "sleep");
    feed.stop();
}
