//! Shell completions and man pages come from the same clap definitions as
//! the help text, so every command and flag appears in them.

mod common;

use common::*;

#[test]
fn completions_for_each_shell_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let output = run(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        for command in ["explain", "status", "wait"] {
            assert!(script.contains(command), "{shell} completion lacks {command}");
        }
        // fish writes `-l timeout`, the others `--timeout`.
        assert!(script.contains("timeout"), "{shell} completion lacks --timeout");
    }
    let output = run(&["completions", "powershell-ish"]);
    assert_eq!(output.status.code(), Some(125));
}

#[test]
fn man_page_to_stdout_and_one_page_per_command() {
    let output = run(&["man"]);
    assert_eq!(output.status.code(), Some(0));
    let page = stdout(&output);
    assert!(page.contains(".TH afterlife 1"), "{page}");
    assert!(page.contains("explain"), "{page}");

    let scratch = Scratch::new("man");
    let output = run(&["man", "--dir", scratch.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for page in [
        "afterlife.1",
        "afterlife-explain.1",
        "afterlife-status.1",
        "afterlife-wait.1",
    ] {
        let text = std::fs::read_to_string(scratch.path().join(page)).unwrap_or_else(|_| panic!("{page} written"));
        assert!(text.contains(".TH"), "{page}");
    }
}
