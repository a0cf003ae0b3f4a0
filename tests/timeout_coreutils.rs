//! `afterlife timeout` against coreutils `timeout`, side by side: the same
//! arguments must give the same status as a shell sees it (`$?`), following
//! the conventions of coreutils' own tests (tests/timeout/timeout.sh,
//! timeout-parameters.sh) — and one difference: nothing escapes.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Scratch, afterlife, kill_pids, pid_dead, pids_in, shell_code, stderr, stdout, wait_until};

const COREUTILS: &str = "/usr/bin/timeout";

fn ours(args: &[&str]) -> Output {
    afterlife()
        .arg("timeout")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn theirs(args: &[&str]) -> Output {
    Command::new(COREUTILS)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn coreutils_present() -> bool {
    if Path::new(COREUTILS).exists() {
        return true;
    }
    println!("skipped: coreutils timeout is not installed at {COREUTILS}");
    false
}

/// Runs each case with both in parallel threads and compares `$?`.
fn compare(cases: &[(&[&str], i32)]) {
    let handles: Vec<_> = cases
        .iter()
        .map(|(args, expected)| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let expected = *expected;
            std::thread::spawn(move || {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let ours = ours(&refs);
                let theirs = theirs(&refs);
                (args, expected, ours, theirs)
            })
        })
        .collect();
    for handle in handles {
        let (args, expected, ours, theirs) = handle.join().unwrap();
        assert_eq!(
            shell_code(theirs.status),
            expected,
            "coreutils timeout {args:?}: {}",
            stderr(&theirs)
        );
        assert_eq!(
            shell_code(ours.status),
            expected,
            "afterlife timeout {args:?}: {}",
            stderr(&ours)
        );
        assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}");
    }
}

#[test]
fn exit_codes_match_coreutils() {
    if !coreutils_present() {
        return;
    }
    compare(&[
        // The command's own status passes through.
        (&["10", "true"], 0),
        (&["10", "false"], 1),
        (&["10", "sh", "-c", "exit 3"], 3),
        // 0 disables the timeout.
        (&["0", "sh", "-c", "sleep 0.3; exit 2"], 2),
        // Timed out: 124.
        (&["0.2", "sleep", "10"], 124),
        (&["0.2", "sh", "-c", "trap 'exit 0' TERM; sleep 10 & wait"], 124),
        // --preserve-status: the command's status, here 128+TERM.
        (&["--preserve-status", "0.2", "sleep", "10"], 143),
        (&["--preserve-status", "-s", "INT", "0.2", "sleep", "10"], 130),
        // KILL had to be sent: 137.
        (&["-s", "KILL", "0.2", "sleep", "10"], 137),
        (&["-k", "0.2", "0.2", "sh", "-c", "trap '' TERM; sleep 10"], 137),
        (
            &[
                "--kill-after=0.2",
                "-s",
                "HUP",
                "0.2",
                "sh",
                "-c",
                "trap '' HUP; sleep 10",
            ],
            137,
        ),
        // Not run: 126 and 127.
        (&["10", "/"], 126),
        (&["10", "afterlife-no-such-command"], 127),
        // Bad input: 125.
        (&["invalid", "true"], 125),
        (&["1.5x", "true"], 125),
        (&["nan", "true"], 125),
        (&["1S", "true"], 125),
        (&["-s", "NOPE", "1", "true"], 125),
        (&["-k", "bogus", "1", "true"], 125),
        (&["1"], 125),
        (&[], 125),
        // Durations as strtod reads them; huge means forever.
        (&["1e400", "true"], 0),
        (&["inf", "true"], 0),
        (&["0x10", "true"], 0),
        (&[" 1", "true"], 0),
        (&["1.", "true"], 0),
        (&["0.5m", "true"], 0),
        (&["1d", "true"], 0),
        // A signal death is passed on: 128+N.
        (&["10", "sh", "-c", "kill -USR1 $$"], 138),
    ]);
}

#[test]
fn the_commands_own_options_pass_through_untouched() {
    if !coreutils_present() {
        return;
    }
    compare(&[
        (
            &[
                "5",
                "sh",
                "-c",
                "echo \"$@\"",
                "x",
                "-s",
                "KILL",
                "--foreground",
                "-v",
                "--",
                "-k",
            ],
            0,
        ),
        (&["5", "echo", "-n", "--help"], 0),
        (&["-s", "TERM", "--", "5", "echo", "-v"], 0),
    ]);
}

#[test]
fn short_p_is_preserve_status() {
    // coreutils added `-p` after 9.1; afterlife has it.
    assert_eq!(shell_code(ours(&["-p", "-s", "INT", "0.2", "sleep", "10"]).status), 130);
}

#[test]
fn verbose_says_which_signal_went_to_which_command() {
    let output = ours(&["-v", "-k", "0.2", "0.2", "sh", "-c", "trap '' TERM; sleep 10"]);
    assert_eq!(shell_code(output.status), 137);
    let err = stderr(&output);
    assert!(err.contains("afterlife: sending signal TERM to command 'sh'"), "{err}");
    assert!(err.contains("afterlife: sending signal KILL to command 'sh'"), "{err}");
    // Without -v, nothing of afterlife's own.
    let output = ours(&["0.2", "sleep", "10"]);
    assert_eq!(stderr(&output), "");
    // Errors say what could not be run.
    let output = ours(&["1", "afterlife-no-such-command"]);
    assert!(
        stderr(&output).contains("failed to run command 'afterlife-no-such-command'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn foreground_lets_the_command_keep_its_process_group() {
    // With -f the command stays in our process group; without, it gets its own.
    let script = "read me _ < /proc/self/stat; set -- $(cat /proc/$me/stat); echo $5";
    let ours_fg = ours(&["-f", "5", "sh", "-c", script]);
    let ours_own = ours(&["5", "sh", "-c", script]);
    assert_eq!(shell_code(ours_fg.status), 0);
    let group_fg: i32 = stdout(&ours_fg).trim().parse().unwrap();
    let group_own: i32 = stdout(&ours_own).trim().parse().unwrap();
    assert_ne!(group_fg, group_own);
}

#[test]
fn the_one_difference_nothing_escapes() {
    if !coreutils_present() {
        return;
    }
    let scratch = Scratch::new("timeout-escape");
    let theirs_file = scratch.path().join("theirs");
    let ours_file = scratch.path().join("ours");
    let daemon = |file: &Path| {
        format!(
            "( setsid sh -c 'read me _ < /proc/self/stat; echo $me >> \"{}\"; exec sleep 30' & ); sleep 10",
            file.display()
        )
    };
    std::fs::write(&theirs_file, "").unwrap();
    std::fs::write(&ours_file, "").unwrap();
    // Status only: the escaped daemon would hold an output pipe open.
    let quiet = |mut command: Command| {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
    };
    let mut coreutils = Command::new(COREUTILS);
    coreutils.args(["0.3", "sh", "-c", &daemon(&theirs_file)]);
    let mut afterlife_timeout = afterlife();
    afterlife_timeout.args(["timeout", "0.3", "sh", "-c", &daemon(&ours_file)]);
    assert_eq!(shell_code(quiet(coreutils)), 124);
    assert_eq!(shell_code(quiet(afterlife_timeout)), 124);
    assert!(wait_until(Duration::from_secs(5), || pids_in(&theirs_file).len() == 1));
    let escaped = pids_in(&theirs_file);
    let contained = pids_in(&ours_file);
    let theirs_alive = !pid_dead(escaped[0]);
    kill_pids(&escaped);
    kill_pids(&contained);
    assert!(theirs_alive, "coreutils timeout lost the setsid daemon, as expected");
    assert_eq!(contained.len(), 1);
    assert!(pid_dead(contained[0]), "afterlife timeout let the daemon escape");
}
