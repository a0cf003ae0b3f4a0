//! `afterlife deaths` on Ctrl+C typed into a real terminal (a tmux pane):
//! the foreground process dies of SIGINT and the feed names the terminal
//! as the sender.

mod common;
mod deaths_support;

use std::process::Command;
use std::time::Duration;

use common::wait_until;
use deaths_support::{Feed, signal_of};

/// A private tmux server, killed on drop with everything in it.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start() -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            println!("skipped: tmux is not installed");
            return None;
        }
        let tmux = Tmux {
            socket: format!("afterlife-deaths-{}", std::process::id()),
        };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", "120", "-y", "30", "bash --norc --noprofile"])
            .env("PS1", "$ ")
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session");
        let prompt = wait_until(Duration::from_secs(10), || {
            tmux.screen().lines().any(|l| l.ends_with('$') || l.ends_with('#'))
        });
        assert!(prompt, "no shell prompt");
        Some(tmux)
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    fn keys(&self, keys: &[&str]) {
        let status = self.command().arg("send-keys").args(keys).status().unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let output = self.command().args(["capture-pane", "-p"]).output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

#[test]
fn ctrl_c_is_the_terminal() {
    let Some(mut feed) = Feed::start(&[], &[]) else { return };
    let Some(tmux) = Tmux::start() else { return };
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
