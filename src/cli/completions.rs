//! Shell completions and man pages, generated from the clap definitions.
//!
//! The man pages take their NAME, DESCRIPTION, OPTIONS and SUBCOMMANDS
//! sections from `clap_mangen`, and add what a man page reader expects and
//! clap does not know: a SYNOPSIS from clap's own usage line (so repeated
//! arguments show `...`), EXIT STATUS from [`crate::exit_code::TABLE`],
//! EXAMPLES and SEE ALSO. Inline code marks (backticks) of the help texts
//! become bold text instead of literal backticks.

use std::io::Write;
use std::path::Path;

use roff::{Inline, Roff, bold, roman};

use crate::cli::{Failure, Shell};
use crate::exit_code;
use crate::text::escape;

/// The environment variable through which the shell asks afterlife for
/// completions (clap_complete's protocol).
pub(crate) const COMPLETE_VAR: &str = "COMPLETE";

/// Prints the shell code that registers afterlife's completions: a small
/// function that asks this executable for candidates on every TAB, so PIDs
/// are completed from the processes running then, each with its name, and
/// `--signal` from the signal table.
pub(crate) fn completions(shell: Shell) -> Result<u8, Failure> {
    use clap_complete::env::EnvCompleter;
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &clap_complete::env::Bash,
        Shell::Zsh => &clap_complete::env::Zsh,
        Shell::Fish => &clap_complete::env::Fish,
    };
    let exe = std::env::current_exe().map_err(|e| Failure::new(format!("cannot find afterlife's own path: {e}")))?;
    let mut script = Vec::new();
    completer
        .write_registration(
            COMPLETE_VAR,
            "afterlife",
            "afterlife",
            &exe.to_string_lossy(),
            &mut script,
        )
        .map_err(|e| Failure::new(format!("cannot write the completions: {e}")))?;
    // A stdout that refuses them (closed, full) fails the run where every
    // command's output does: `main_with_args` says why, with 125.
    crate::cli::output::write_stdout(&script);
    Ok(exit_code::SUCCESS)
}

/// Answers a shell's completion request when `COMPLETE` is set (what the
/// registered function does); `None` for a normal run.
pub(crate) fn answer_shell(args: &[std::ffi::OsString], command: fn() -> clap::Command) -> Option<u8> {
    std::env::var_os(COMPLETE_VAR).filter(|v| !v.is_empty() && v != "0")?;
    let cwd = std::env::current_dir().ok();
    match clap_complete::CompleteEnv::with_factory(command)
        .var(COMPLETE_VAR)
        .try_complete(args.iter().cloned(), cwd.as_deref())
    {
        Ok(true) => Some(exit_code::SUCCESS),
        Ok(false) => None,
        Err(e) => {
            let _ = e.print();
            Some(exit_code::FAILURE)
        }
    }
}

/// Every process now, each with its name (escaped), for a PID argument.
pub(crate) fn pid_candidates() -> Vec<clap_complete::CompletionCandidate> {
    crate::sys::process_names()
        .into_iter()
        .map(|(pid, name)| {
            clap_complete::CompletionCandidate::new(pid.to_string()).help(Some(escape(&name).into_owned().into()))
        })
        .collect()
}

/// Every signal by its short name (`TERM`, `RTMIN+3`), with what it does.
pub(crate) fn signal_candidates() -> Vec<clap_complete::CompletionCandidate> {
    crate::signal::Signal::all()
        .map(|signal| {
            let name = signal.name();
            let short = name.strip_prefix("SIG").unwrap_or(&name).to_string();
            clap_complete::CompletionCandidate::new(short).help(Some(signal.description().into()))
        })
        .collect()
}

/// `kill --signal`'s values: 0, the check that sends nothing, then every
/// signal.
pub(crate) fn kill_signal_candidates() -> Vec<clap_complete::CompletionCandidate> {
    let check = clap_complete::CompletionCandidate::new("0")
        .help(Some("check only: who could be signalled; nothing is sent".into()));
    std::iter::once(check).chain(signal_candidates()).collect()
}

/// Prints afterlife(1), or writes it and one page per command into `dir`
/// (made if missing).
pub(crate) fn man(dir: Option<&Path>, command: clap::Command) -> Result<u8, Failure> {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    match dir {
        None => {
            let page = page(&command, &command_names(&command));
            crate::cli::output::write_stdout(page.as_bytes());
        }
        Some(dir) => write_pages(&command, dir).map_err(|e| {
            Failure::new(format!(
                "cannot write man pages to {}: {e}",
                escape(&dir.display().to_string())
            ))
        })?,
    }
    Ok(exit_code::SUCCESS)
}

fn write_pages(command: &clap::Command, dir: &Path) -> std::io::Result<()> {
    // `create_dir_all` of a file says EEXIST, "File exists": true, but the
    // trouble is that it is no directory.
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "it exists and is not a directory")
        }
        _ => e,
    })?;
    let siblings = command_names(command);
    write_page(&dir.join("afterlife.1"), &page(command, &siblings))?;
    for sub in visible(command) {
        let name = format!("afterlife-{}.1", sub.get_name());
        write_page(&dir.join(name), &page(sub, &siblings))?;
    }
    Ok(())
}

/// Writes one page over a regular file or a new one. Anything else is
/// refused: opening a FIFO for writing waits for a reader, for ever if
/// none comes, and a device or socket takes no page. The open itself does
/// not wait (`O_NONBLOCK`), so a FIFO put there after the check is refused
/// too.
fn write_page(path: &Path, text: &str) -> std::io::Result<()> {
    let refused = |is_dir: bool| {
        let kind = if is_dir {
            "a directory"
        } else {
            "not a regular file (a FIFO, a socket or a device)"
        };
        std::io::Error::other(format!("{} is {kind}", escape(&path.display().to_string())))
    };
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        return Err(refused(meta.is_dir()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(target_os = "linux")]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let mut file = options.open(path).map_err(|e| match e.raw_os_error() {
        // A FIFO without a reader, made since the check.
        #[cfg(target_os = "linux")]
        Some(libc::ENXIO) => refused(false),
        _ => e,
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(meta.is_dir()));
    }
    file.write_all(text.as_bytes())
}

fn command_names(command: &clap::Command) -> Vec<String> {
    visible(command).map(|sub| sub.get_name().to_string()).collect()
}

fn visible(command: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    command.get_subcommands().filter(|sub| !sub.is_hide_set())
}

/// One page: clap_mangen's sections with ours between them. `siblings` are
/// the commands' names, for SEE ALSO.
fn page(command: &clap::Command, siblings: &[String]) -> String {
    let prose = description(command);
    let command = without_backticks(command.clone());
    let man = clap_mangen::Man::new(command.clone());
    let mut out: Vec<u8> = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    out.extend(synopsis(&command).render().into_bytes());
    out.extend(prose.render().into_bytes());
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = man.render_options_section(&mut out);
    }
    if visible(&command).next().is_some() {
        let _ = man.render_subcommands_section(&mut out);
    }
    let mut tail = Roff::new();
    exit_status(&mut tail);
    examples(&mut tail, command.get_name());
    see_also(&mut tail, command.get_name(), siblings);
    out.extend(tail.render().into_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// clap's usage line, which knows `[OPTIONS]`, `<PID>...` and `-- COMMAND`.
fn synopsis(command: &clap::Command) -> Roff {
    let usage = command.clone().render_usage().to_string();
    let usage = usage.trim().strip_prefix("Usage: ").unwrap_or(usage.trim()).to_string();
    let words: Vec<&str> = usage.split_whitespace().collect();
    let split = words
        .iter()
        .position(|w| w.starts_with(['[', '<', '-']))
        .unwrap_or(words.len());
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    roff.text([
        bold(words[..split].join(" ")),
        roman(format!(" {}", words[split..].join(" "))),
    ]);
    roff
}

/// DESCRIPTION: the long about, then the paragraphs of the long help's
/// closing text, but for the exit codes, which EXIT STATUS gives in full.
fn description(command: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"]);
    let about = command.get_long_about().or(command.get_about()).map(|t| t.to_string());
    let after = command
        .get_after_long_help()
        .or(command.get_after_help())
        .map(|t| t.to_string());
    let paragraphs = about.iter().chain(after.iter()).flat_map(|text| {
        text.split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    });
    for (i, paragraph) in paragraphs
        .filter(|p| !p.is_empty() && !p.starts_with("Exit code"))
        .enumerate()
    {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text(inline_code(&paragraph));
    }
    roff
}

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in exit_code::TABLE {
        roff.control("TP", []);
        roff.text([bold(*code)]);
        roff.text(inline_code(meaning));
    }
}

fn examples(roff: &mut Roff, name: &str) {
    let mut seen: Vec<&str> = Vec::new();
    // afterlife(1) shows each command's first example; a command's page all of its own.
    let examples = EXAMPLES.iter().filter(|(command, _, _)| {
        let first = !seen.contains(command);
        seen.push(command);
        *command == name || (name == "afterlife" && first)
    });
    let mut any = false;
    for (_, line, what) in examples {
        if !any {
            roff.control("SH", ["EXAMPLES"]);
            any = true;
        }
        roff.control("TP", []);
        roff.text([bold(*line)]);
        roff.text(inline_code(what));
    }
}

fn see_also(roff: &mut Roff, name: &str, siblings: &[String]) {
    roff.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = Vec::new();
    if name != "afterlife" {
        refs.push("afterlife(1)".to_string());
    }
    refs.extend(
        siblings
            .iter()
            .filter(|s| *s != name)
            .map(|s| format!("afterlife-{s}(1)")),
    );
    refs.extend(
        SEE_ALSO
            .iter()
            .filter(|(command, _)| *command == name)
            .flat_map(|(_, pages)| pages.iter().map(|p| p.to_string())),
    );
    roff.text([roman(refs.join(", "))]);
}

/// Splits text at backticks: what was between them is bold.
fn inline_code(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| if i % 2 == 1 { bold(part) } else { roman(part) })
        .collect()
}

/// The help texts with their backticks removed, for clap_mangen's sections.
fn without_backticks(command: clap::Command) -> clap::Command {
    let strip = |text: Option<&clap::builder::StyledStr>| text.map(|t| t.to_string().replace('`', ""));
    let about = strip(command.get_about());
    let long_about = strip(command.get_long_about());
    let mut command = command.mut_args(|arg| {
        let help = strip(arg.get_help());
        let long_help = strip(arg.get_long_help());
        let arg = match help {
            Some(help) => arg.help(help),
            None => arg,
        };
        match long_help {
            Some(long_help) => arg.long_help(long_help),
            None => arg,
        }
    });
    if let Some(about) = about {
        command = command.about(about);
    }
    if let Some(long_about) = long_about {
        command = command.long_about(long_about);
    }
    command
}

/// A few examples per command: (command, command line, what it does).
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "explain",
        "afterlife explain 137 -1073741819",
        "every reading of a shell's 137 and of a Windows status",
    ),
    (
        "status",
        "afterlife status 4242",
        "running, a zombie with its exit code and the parent that must reap it, or gone",
    ),
    (
        "wait",
        "afterlife wait --timeout 30s 4242",
        "wait for any process, not only a child; exit with its status",
    ),
    (
        "kill",
        "afterlife kill --tree --grace 300ms 4100",
        "SIGTERM to a whole tree, SIGKILL to what is left after 300 ms",
    ),
    (
        "kill",
        "afterlife kill --pgroup --signal KILL 4100",
        "every member of the process group of 4100",
    ),
    (
        "why",
        "afterlife why 4242",
        "why 4242 does not die, with the evidence and the next step",
    ),
    (
        "snapshot",
        "afterlife snapshot --tree 4242 > before.json",
        "what a tree holds now, to compare after it dies",
    ),
    (
        "leftovers",
        "afterlife leftovers before.json --dir /tmp",
        "what went with the tree and what stayed",
    ),
    (
        "holds",
        "afterlife holds tcp:8080",
        "who holds port 8080, and how each holder got it",
    ),
    (
        "holds",
        "afterlife holds --deleted",
        "deleted files that processes still hold open",
    ),
    (
        "run",
        "afterlife run --timeout 10m -- make test",
        "the whole tree in a cgroup, ended at the deadline, with what it left",
    ),
    (
        "timeout",
        "afterlife timeout -k 5 60 ./server",
        "a drop-in for timeout(1) that ends the whole tree",
    ),
    (
        "watch",
        "afterlife watch --duration 10m 4242",
        "fd and memory trends with a leak verdict",
    ),
    (
        "watch",
        "afterlife watch --prometheus 127.0.0.1:9464 --tree 4242",
        "serve the tree's figures to Prometheus",
    ),
    (
        "completions",
        "source <(afterlife completions bash)",
        "completions for the running bash",
    ),
    (
        "man",
        "afterlife man --dir /usr/local/share/man/man1",
        "install every page",
    ),
    (
        "demo",
        "afterlife demo ghost-socket",
        "run one of the talk's scenarios for real",
    ),
];

/// Other tools' pages per command.
const SEE_ALSO: &[(&str, &[&str])] = &[
    ("afterlife", &["kill(1)", "timeout(1)", "lsof(8)", "ss(8)", "proc(5)"]),
    ("explain", &["signal(7)", "wait(2)"]),
    ("status", &["proc_pid_stat(5)", "pidfd_open(2)"]),
    ("wait", &["waitid(2)", "pidfd_open(2)"]),
    ("kill", &["kill(1)", "pkill(1)", "pidfd_send_signal(2)", "cgroups(7)"]),
    ("why", &["proc(5)", "ptrace(2)", "signal(7)"]),
    ("snapshot", &["lsof(8)", "proc_pid_fd(5)"]),
    ("leftovers", &["ipcs(1)", "lsof(8)"]),
    ("holds", &["ss(8)", "lsof(8)", "fuser(1)"]),
    ("run", &["timeout(1)", "cgroups(7)", "pid_namespaces(7)"]),
    ("timeout", &["timeout(1)"]),
    ("watch", &["proc_pid_status(5)", "getrlimit(2)"]),
    ("demo", &["exit(3)", "signal(7)", "core(5)"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_become_bold() {
        assert_eq!(inline_code("a `b` c"), vec![roman("a "), bold("b"), roman(" c")]);
    }
}
