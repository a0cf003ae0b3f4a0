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

/// Renders a page with man(1), as a reader sees it.
fn rendered(page: &std::path::Path) -> Option<String> {
    let output = std::process::Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .env_remove("MANPAGER")
        .env("PAGER", "cat")
        .output()
        .ok()?;
    assert!(
        output.status.success(),
        "man -l {}: {}",
        page.display(),
        stderr(&output)
    );
    // man marks bold with backspaces when it is not writing to a terminal.
    let text = stdout(&output);
    Some(text.chars().fold(String::new(), |mut out, c| {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
        out
    }))
}

#[test]
fn man_pages_read_as_man_pages() {
    let scratch = Scratch::new("man-sections");
    // --dir makes the folder, parents included.
    let dir = scratch.path().join("share/man/man1");
    let output = run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let Some(kill) = rendered(&dir.join("afterlife-kill.1")) else {
        eprintln!("skipped: man(1) is not installed (.ci/run installs man-db)");
        return;
    };
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(
            kill.lines().any(|l| l == section),
            "afterlife-kill(1) lacks {section}:\n{kill}"
        );
    }
    assert!(kill.contains("afterlife kill [OPTIONS] <PID>..."), "{kill}");
    assert!(kill.contains("afterlife kill --tree --grace 300ms 4100"), "{kill}");
    assert!(
        kill.contains("afterlife-holds(1)") && kill.contains("pidfd_send_signal(2)"),
        "{kill}"
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = rendered(&path).unwrap();
        assert!(
            !text.contains('`'),
            "{} shows a literal backtick:\n{text}",
            path.display()
        );
        assert!(
            text.contains("EXIT STATUS") && text.contains("128+N"),
            "{}",
            path.display()
        );
    }
    let run_page = rendered(&dir.join("afterlife-run.1")).unwrap();
    assert!(run_page.contains("afterlife run [OPTIONS] <COMMAND>..."), "{run_page}");
}

#[test]
fn completions_and_man_refuse_json() {
    for args in [&["--json", "completions", "bash"][..], &["man", "--json"]] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(125), "{args:?}");
        assert!(stdout(&output).is_empty(), "{args:?}");
        assert_eq!(
            stderr(&output),
            "afterlife: error: completions and man pages have no JSON form: run the command without --json\n"
        );
    }
}

#[test]
fn the_global_options_do_not_open_a_command_s_help() {
    let output = run(&["kill", "--help"]);
    let help = stdout(&output);
    let options = help.find("Options:").expect("an options heading");
    let global = help.find("Global options:").expect("a global options heading");
    assert!(options < global, "{help}");
    assert!(help[options..global].contains("--signal"), "{help}");
    assert!(!help.contains("Possible values"), "{help}");
}
