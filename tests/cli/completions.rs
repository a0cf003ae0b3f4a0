//! Shell completions and man pages come from the same clap definitions as
//! the help text, so every command and flag appears in them.

use crate::common;

use common::*;

/// Runs `script` in `shell` with afterlife's completions registered; `None`
/// (with the reason printed) when the shell is not installed.
fn in_shell(shell: &str, script: &str) -> Option<String> {
    let exe = env!("CARGO_BIN_EXE_afterlife");
    let setup = match shell {
        "bash" => format!("source <({exe} completions bash)\n"),
        "fish" => format!("source ({exe} completions fish | psub)\n"),
        _ => format!("autoload -U compinit; compinit -u -D; source <({exe} completions zsh)\n"),
    };
    let mut command = std::process::Command::new(shell);
    if shell == "zsh" {
        command.arg("-f");
    }
    let output = match command.arg("-c").arg(setup + script).output() {
        Ok(output) => output,
        Err(e) => {
            eprintln!("skipped: {shell} cannot run ({e}); .ci/run installs it");
            return None;
        }
    };
    assert!(output.status.success(), "{shell}: {}", stderr(&output));
    Some(stdout(&output))
}

/// What bash's completion function offers for `words`, the last one being
/// completed.
fn bash_completes(words: &[&str]) -> Option<Vec<String>> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "COMP_WORDS=({}); COMP_CWORD={}; COMP_TYPE=9; _clap_complete_afterlife afterlife '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2]
    );
    in_shell("bash", &script).map(|out| out.lines().map(str::to_owned).collect())
}

#[test]
fn bash_registers_and_completes_commands_signals_and_pids() {
    let Some(registered) = in_shell("bash", "complete -p afterlife") else {
        return;
    };
    assert!(
        registered.contains("-F _clap_complete_afterlife afterlife"),
        "{registered}"
    );
    assert_eq!(bash_completes(&["afterlife", "expl"]).unwrap(), ["explain"]);
    assert_eq!(
        bash_completes(&["afterlife", "kill", "--signal", "KI"]).unwrap(),
        ["KILL"]
    );
    let names = bash_completes(&["afterlife", "kill", "-s", ""]).unwrap();
    for name in ["0", "TERM", "HUP", "USR1", "RTMIN", "RTMIN+3"] {
        assert!(names.iter().any(|n| n == name), "{name} missing from {names:?}");
    }
    // 0 is `kill`'s check; `run` and `timeout` send a real signal.
    let names = bash_completes(&["afterlife", "timeout", "--signal", ""]).unwrap();
    assert!(
        names.iter().any(|n| n == "TERM") && !names.iter().any(|n| n == "0"),
        "{names:?}"
    );
    let mut sleeper = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let pid = sleeper.id().to_string();
    for words in [
        &["afterlife", "why", &pid][..],
        &["afterlife", "watch", "--tree", &pid],
        &["afterlife", "kill", "--tree", &pid],
    ] {
        // Other PIDs may start with the same digits.
        let offered = bash_completes(words).unwrap();
        assert!(
            offered.contains(&pid) && offered.iter().all(|p| p.starts_with(&pid)),
            "{words:?}: {offered:?}"
        );
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

#[test]
fn fish_completes_pids_with_their_names_and_signals_with_their_meaning() {
    let mut sleeper = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let pid = sleeper.id();
    let out = in_shell(
        "fish",
        &format!("complete -C 'afterlife status {pid}'; complete -C 'afterlife kill --signal TER'"),
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let Some(out) = out else { return };
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&format!("{pid}\tsleep").as_str()), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("TERM\t") && l.contains("termination")),
        "{out}"
    );
}

#[test]
fn zsh_registers_its_completer() {
    let Some(out) = in_shell("zsh", "print -r -- $_comps[afterlife]") else {
        return;
    };
    assert_eq!(out.trim(), "_clap_dynamic_completer_afterlife");
    // What the registered function asks afterlife: PID:name pairs.
    let mut sleeper = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let output = afterlife()
        .env("COMPLETE", "zsh")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .args(["--", "afterlife", "wait", &pid])
        .output()
        .unwrap();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let offered = stdout(&output);
    assert!(offered.lines().any(|l| l == format!("{pid}:sleep")), "{offered:?}");
}

#[test]
fn completions_refuse_an_unknown_shell() {
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

/// `man --dir` given a file says that it is no directory; it said "File
/// exists (os error 17)", which names no trouble. Nothing is written.
#[test]
fn man_pages_to_a_file_are_refused_as_no_directory() {
    let scratch = Scratch::new("man-file");
    let file = scratch.path().join("pages");
    std::fs::write(&file, "mine").unwrap();
    let output = run(&["man", "--dir", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        stderr(&output),
        format!(
            "afterlife: error: cannot write man pages to {}: it exists and is not a directory\n",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
}

/// `man --dir` over a FIFO refuses it at once: opening it for writing
/// waited for a reader for ever. A directory in a page's place is refused
/// too, and the other pages are not written.
#[test]
fn man_pages_over_a_fifo_or_directory_are_refused_without_waiting() {
    let scratch = Scratch::new("man-fifo");
    let fifo = scratch.fifo("afterlife.1");
    let args = ["man", "--dir", scratch.path().to_str().unwrap()];
    let limit = std::time::Duration::from_secs(10);
    let output = crate::cli_errors::run_within(&args, limit).expect("man --dir waited on the FIFO");
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "afterlife: error: cannot write man pages to {}: {} is not a regular file (a FIFO, a socket or a device)\n",
            scratch.path().display(),
            fifo.display()
        )
    );
    assert!(!scratch.path().join("afterlife-kill.1").exists());

    let other = Scratch::new("man-dir");
    std::fs::create_dir(other.path().join("afterlife.1")).unwrap();
    let output = run(&["man", "--dir", other.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    assert!(
        stderr(&output).ends_with("afterlife.1 is a directory\n"),
        "{}",
        stderr(&output)
    );
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
