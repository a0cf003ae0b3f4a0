//! A private tmux server for the tests that need a real terminal: a pane
//! runs a shell, keys are typed into it, and its screen is read back.

use std::process::Command;
use std::time::Duration;

use super::wait_until;

/// A private tmux server, killed on drop with everything in it.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            println!("skipped: tmux is not installed");
            return None;
        }
        let tmux = Tmux {
            socket: format!("afterlife-{name}-{}-{}", std::process::id(), super::unique()),
        };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", "200", "-y", "50", "bash --norc --noprofile"])
            .env("PS1", "$ ")
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session");
        // Type nothing before the shell prompts: typed-ahead text races
        // with the shell setting up its terminal.
        // (capture-pane drops the prompt's trailing space.)
        let prompt = wait_until(Duration::from_secs(10), || {
            tmux.screen().lines().any(|l| l.ends_with('$') || l.ends_with('#'))
        });
        assert!(prompt, "no shell prompt");
        Some(tmux)
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    pub fn keys(&self, keys: &[&str]) {
        let status = self.command().arg("send-keys").args(keys).status().unwrap();
        assert!(status.success());
    }

    pub fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    pub fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-S", "-100"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn shows_within(&self, text: &str, limit: Duration) -> bool {
        wait_until(limit, || self.screen().contains(text))
    }

    pub fn wait_for(&self, text: &str) {
        let found = wait_until(Duration::from_secs(10), || self.screen().contains(text));
        assert!(
            found,
            "waited for {text:?}; the screen shows:\n{}\nprocesses on the terminal:\n{}",
            self.screen(),
            self.processes()
        );
    }

    /// `ps` of the pane's terminal, for failure messages.
    pub fn processes(&self) -> String {
        let tty = self.command().args(["display", "-p", "#{pane_tty}"]).output().unwrap();
        let tty = String::from_utf8_lossy(&tty.stdout).trim().to_string();
        let ps = Command::new("ps")
            .args(["-o", "pid,ppid,pgid,tpgid,stat,wchan:24,args", "-t", &tty])
            .output()
            .unwrap();
        String::from_utf8_lossy(&ps.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}
