//! `kill --name PATTERN [--exact] [--user USER]`: pkill's selection with
//! afterlife's pidfds, refusals and report. Every fixture is a copy of
//! sleep(1) or sh(1) under a name unique to this test process, so that a
//! pattern reaches only what the test started.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::kill::{kill_report, kill_text};
use common::{Reaped, Scratch, afterlife, is_root, pid_dead, wait_until};
use serde_json::Value;

/// A copy of `program` named `name` in `dir`.
fn copy_as(dir: &Path, program: &str, name: &str) -> PathBuf {
    let path = dir.join(name);
    if !path.exists() {
        std::fs::copy(program, &path).expect("copy the program");
    }
    path
}

/// Starts `path` with `args` (through `wrapper` if given), and waits until its
/// name is the copy's.
fn start(path: &Path, args: &[&str], wrapper: &[&str]) -> Reaped {
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(path);
            c
        }
        None => Command::new(path),
    };
    let child = common::spawn_fresh_copy(command.args(args).stdin(Stdio::null()).stdout(Stdio::null()));
    let named = Reaped(child);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let pid = named.pid();
    assert!(
        wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
        }),
        "{name} did not start"
    );
    named
}

/// A name prefix no other test process uses.
fn prefix() -> String {
    format!("kn{}", std::process::id())
}

fn pids(report: &Value) -> Vec<i64> {
    let mut pids: Vec<i64> = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect();
    pids.sort();
    pids
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort();
    v
}

#[test]
fn a_pattern_ends_every_match_and_nothing_else() {
    let scratch = Scratch::new("kill-name-match");
    let p = prefix();
    let a = copy_as(scratch.path(), "/bin/sleep", &format!("{p}a"));
    let b = copy_as(scratch.path(), "/bin/sleep", &format!("{p}b"));
    let (a1, a2, b1) = (
        start(&a, &["60"], &[]),
        start(&a, &["60"], &[]),
        start(&b, &["60"], &[]),
    );
    let (code, text, stderr) = kill_text(&["--name", &format!("^{p}a$"), "--grace", "10s"]);
    assert_eq!(code, 0, "{text}{stderr}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "NAME", "SENT", "RESULT"]
    );
    let mut rows: Vec<(i64, String)> = lines[1..3]
        .iter()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (
                words[0].parse().unwrap(),
                format!("{} {} {} {} {}", words[1], words[2], words[3], words[4], words[5]),
            )
        })
        .collect();
    rows.sort();
    let expected_row = format!("{p}a TERM ended on SIGTERM");
    assert_eq!(
        rows,
        sorted(vec![a1.pid() as i64, a2.pid() as i64])
            .into_iter()
            .map(|pid| (pid, expected_row.clone()))
            .collect::<Vec<_>>(),
        "{text}"
    );
    assert!(
        lines[3].starts_with("every target ended: 2 processes, 2 ended (0 needed SIGKILL), 0 refused, in "),
        "{text}"
    );
    assert!(pid_dead(a1.pid()) && pid_dead(a2.pid()));
    assert!(!pid_dead(b1.pid()), "a process whose name does not match was signalled");

    // The same in JSON: what was matched, then the usual report.
    let (code, report) = kill_report(&["--name", &format!("{p}b"), "--grace", "10s"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["name_match"],
        serde_json::json!({"pattern": format!("{p}b"), "exact": false, "uid": null})
    );
    assert_eq!(pids(&report), [b1.pid() as i64]);
    assert_eq!(report["processes"][0]["name"], format!("{p}b"));
    assert_eq!(report["processes"][0]["named"], true);
    assert_eq!(report["processes"][0]["outcome"], "ended");
    assert_eq!(
        report["processes"][0]["sent"],
        serde_json::json!([{"number": 15, "name": "SIGTERM"}])
    );
    assert_eq!(report["summary"]["processes"], 1);
    assert!(pid_dead(b1.pid()));
}

#[test]
fn exact_matches_the_whole_name_and_no_match_is_exit_1() {
    let scratch = Scratch::new("kill-name-exact");
    let p = prefix();
    let path = copy_as(scratch.path(), "/bin/sleep", &format!("{p}x"));
    let sleeper = start(&path, &["60"], &[]);
    // The prefix matches anywhere, but not the whole name.
    let (code, text, stderr) = kill_text(&["--exact", "--name", &p]);
    assert_eq!(code, 1, "{text}{stderr}");
    assert_eq!(
        text,
        format!(
            "no process matched: none named exactly /{p}/ (afterlife and its ancestors are never selected); \
             nothing was signalled\n"
        )
    );
    assert_eq!(stderr, "");
    let (code, report) = kill_report(&["-x", "--name", &p]);
    assert_eq!(code, 1);
    assert_eq!(
        report["name_match"],
        serde_json::json!({"pattern": p, "exact": true, "uid": null})
    );
    assert_eq!(report["processes"], serde_json::json!([]));
    assert_eq!(report["summary"]["processes"], 0);
    assert!(!pid_dead(sleeper.pid()));
    // The whole name matches.
    let (code, report) = kill_report(&["-x", "--name", &format!("{p}x"), "--dry-run"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(pids(&report), [sleeper.pid() as i64]);
    assert_eq!(report["processes"][0]["outcome"], "would_signal");
    // -q: nothing at all, the exit code says it.
    let (code, text, stderr) = kill_text(&["-q", "-x", "--name", &p]);
    assert_eq!((code, text.as_str(), stderr.as_str()), (1, "", ""));
}

#[test]
fn a_user_restricts_the_match_to_its_real_uid() {
    if !is_root() {
        eprintln!("skipped: starting a process as another user needs root");
        return;
    }
    let scratch = Scratch::new("kill-name-user");
    // nobody must be able to run the copy.
    std::fs::set_permissions(scratch.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let p = prefix();
    let path = copy_as(scratch.path(), "/bin/sleep", &format!("{p}u"));
    let mine = start(&path, &["60"], &[]);
    let mut nobodys = start(
        &path,
        &["60"],
        &["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
    );
    let pattern = format!("^{p}u$");
    for (user, expected) in [("nobody", nobodys.pid()), ("0", mine.pid()), ("root", mine.pid())] {
        let (code, report) = kill_report(&["--dry-run", "--name", &pattern, "--user", user]);
        assert_eq!(code, 0, "{user}: {report:#}");
        assert_eq!(pids(&report), [expected as i64], "{user}");
    }
    assert_eq!(report_uid(&pattern, "nobody"), Some(65534));
    // -U, as pkill's real-user option.
    let (_, report) = kill_report(&["--dry-run", "--name", &pattern, "-U", "65534"]);
    assert_eq!(pids(&report), [nobodys.pid() as i64]);
    let (code, text, stderr) = kill_text(&["--name", &pattern, "--user", "nobody", "--grace", "10s"]);
    assert_eq!(code, 0, "{text}{stderr}");
    assert!(
        text.contains(&format!("{}  {p}u  TERM  ended on SIGTERM", nobodys.pid())),
        "{text}"
    );
    assert!(pid_dead(nobodys.pid()));
    assert!(!pid_dead(mine.pid()));
    // Reaped, it no longer matches (a zombie would, as in pgrep).
    let _ = nobodys.0.wait();
    let (code, text, _) = kill_text(&["--name", &pattern, "--user", "nobody"]);
    assert_eq!(code, 1);
    assert_eq!(
        text,
        format!(
            "no process matched: none with a name matching /{pattern}/ of user nobody (uid 65534) \
             (afterlife and its ancestors are never selected); nothing was signalled\n"
        )
    );
    // An unknown user is bad input: one line, 125, nothing signalled.
    let (code, text, stderr) = kill_text(&["--name", &pattern, "--user", "no-such-user-here"]);
    assert_eq!((code, text.as_str()), (125, ""));
    assert_eq!(
        stderr,
        "afterlife: error: --user: no user \"no-such-user-here\" in /etc/passwd (give a numeric user ID for \
         users not listed there)\n"
    );
    // A number is a user ID, never a name to look up: beyond the last one
    // ((uid_t)-1 is no user) it is out of range.
    for uid in ["4294967295", "4294967296"] {
        let (code, text, stderr) = kill_text(&["--name", &pattern, "-U", uid]);
        assert_eq!((code, text.as_str()), (125, ""));
        assert_eq!(
            stderr,
            format!("afterlife: error: --user: UID {uid} is out of range (0 to 4294967294)\n")
        );
    }
    assert!(!pid_dead(mine.pid()));
}

fn report_uid(pattern: &str, user: &str) -> Option<i64> {
    let (_, report) = kill_report(&["--dry-run", "--name", pattern, "--user", user]);
    report["name_match"]["uid"].as_i64()
}

#[test]
fn with_tree_each_match_brings_its_descendants() {
    let scratch = Scratch::new("kill-name-tree");
    let p = prefix();
    let shell = copy_as(scratch.path(), "/bin/sh", &format!("{p}t"));
    let child_file = scratch.path().join("child");
    let script = format!("sleep 60 & echo $! > '{}'; wait", child_file.display());
    let parent = start(&shell, &["-c", &script], &[]);
    assert!(wait_until(Duration::from_secs(10), || std::fs::read_to_string(
        &child_file
    )
    .is_ok_and(|t| t.ends_with('\n'))));
    let child: i64 = std::fs::read_to_string(&child_file).unwrap().trim().parse().unwrap();
    let pattern = format!("^{p}t$");
    // Without --tree only the match itself.
    let (code, report) = kill_report(&["--dry-run", "--name", &pattern]);
    assert_eq!(code, 0);
    assert_eq!(pids(&report), [parent.pid() as i64]);
    let (code, report) = kill_report(&["--tree", "--name", &pattern, "--grace", "10s"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["scope"], "tree");
    assert_eq!(pids(&report), sorted(vec![parent.pid() as i64, child]));
    for process in report["processes"].as_array().unwrap() {
        assert_eq!(process["outcome"], "ended", "{process:#}");
        let named = process["pid"] == parent.pid();
        assert_eq!(process["named"], named, "{process:#}");
    }
    assert!(pid_dead(child as i32));
}

#[test]
fn afterlife_and_its_ancestors_are_never_selected_and_kernel_threads_are_refused() {
    // This test process is an ancestor of afterlife: its name matches, yet
    // it is not selected.
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let me = me.trim_end();
    let (code, text, _) = kill_text(&["--dry-run", "-x", "--name", &regex_quote(me)]);
    assert_eq!(code, 1, "{text}");
    assert!(text.starts_with("no process matched: "), "{text}");
    // afterlife itself: whatever other afterlife runs the machine has, the
    // one asked is never among them.
    let child = afterlife()
        .args(["--json", "kill", "--dry-run", "-x", "--name", "afterlife"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let itself = child.id() as i64;
    let output = child.wait_with_output().unwrap();
    let report: Value = crate::common::schema::parse("kill", &String::from_utf8_lossy(&output.stdout));
    assert!(!pids(&report).contains(&itself), "{report:#}");
    // Kernel threads match by name but are refused, as when named.
    let kthreadd = std::fs::read_to_string("/proc/2/comm").is_ok_and(|c| c.trim_end() == "kthreadd");
    if !kthreadd {
        eprintln!("skipped the kernel thread part: no kthreadd in this PID namespace");
        return;
    }
    let (code, report) = kill_report(&["-x", "--name", "kthreadd"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(pids(&report), [2]);
    assert_eq!(report["processes"][0]["outcome"], "alive");
    assert_eq!(report["processes"][0]["reason"], "refused", "{report:#}");
    assert_eq!(report["processes"][0]["refusal"], "kernel_thread", "{report:#}");
    assert_eq!(report["processes"][0]["sent"], serde_json::json!([]));
    assert_eq!(report["summary"]["refused"], 1);
}

/// `text` as a regular expression that matches it literally.
fn regex_quote(text: &str) -> String {
    text.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$-".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[test]
fn a_bad_pattern_or_a_missing_name_is_a_usage_error() {
    for (args, expected) in [
        (
            &["--name", "ngin(x"][..],
            "afterlife: error: invalid --name pattern \"ngin(x\": unclosed group\n",
        ),
        (
            &["--name", ""][..],
            "afterlife: error: invalid --name pattern \"\": it is empty and would match every process \
             (write '.' to mean that)\n",
        ),
        (
            &["--exact", "1"][..],
            "afterlife: error: --exact and --user select by name: give --name PATTERN\n",
        ),
        // A character class POSIX does not know (a typo of [:alpha:]) was
        // read as a set of its letters, and selected every name with an
        // `a`, `l`, `p`, `h` or `:`; grep -E and pkill refuse it, and so
        // does afterlife now, before anything is signalled.
        (
            &["--name", "[[:alpah:]]"][..],
            "afterlife: error: invalid --name pattern \"[[:alpah:]]\": no character class [:alpah:] (POSIX has \
             alnum, alpha, blank, cntrl, digit, graph, lower, print, punct, space, upper, xdigit)\n",
        ),
    ] {
        let (code, text, stderr) = kill_text(args);
        assert_eq!((code, text.as_str(), stderr.as_str()), (125, "", expected), "{args:?}");
    }
    let (code, _, stderr) = kill_text(&["--name", "x", "1"]);
    assert_eq!(code, 125);
    assert!(
        stderr.starts_with("afterlife: error: the argument '--name <PATTERN>' cannot be used with"),
        "{stderr}"
    );
}

/// Inside a user namespace that does not map the overflow ID, every user
/// outside it reads as that ID: `--user` with it would take root's
/// processes for nobody's, and is refused before anything is scanned.
#[test]
fn the_overflow_id_of_a_user_namespace_is_refused_as_a_user() {
    if !is_root() {
        println!("skipped: needs root to run afterlife as another user");
        return;
    }
    for user in ["nobody", "65534"] {
        let output = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(["unshare", "--user", "--map-root-user"])
            .arg(env!("CARGO_BIN_EXE_afterlife"))
            .args(["kill", "--name", "^sleep$", "--user", user, "--dry-run"])
            .output()
            .expect("setpriv runs");
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(125), "{err}");
        assert!(err.contains("--user: UID 65534 is the overflow ID"), "{err}");
        assert!(output.stdout.is_empty());
    }
}

/// Where /proc is mounted with `hidepid=2`, another user's processes are
/// not listed: a pattern that matches none afterlife can see may match one
/// of those, and the line says so.
#[test]
fn no_match_under_hidepid_says_hidden_processes_may_match() {
    if !is_root() {
        println!("skipped: needs root to mount a /proc with hidepid");
        return;
    }
    let scratch = Scratch::new("kill-name-hidepid");
    let p = prefix();
    let path = copy_as(scratch.path(), "/bin/sleep", &format!("{p}h"));
    let sleeper = start(&path, &["60"], &[]);
    // A procfs instance of its own, in a mount namespace that ends with
    // the command (never a remount of the machine's /proc).
    for dry_run in [&["--dry-run"][..], &[]] {
        let output = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount -t proc -o hidepid=2 proc /proc && \
                 exec setpriv --reuid=65534 --regid=65534 --clear-groups -- \"$0\" --color=never \"$@\"",
            )
            .arg(env!("CARGO_BIN_EXE_afterlife"))
            .arg("kill")
            .args(dry_run)
            .args(["--name", &format!("{p}h")])
            .output()
            .expect("unshare runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{text}");
        assert!(text.starts_with("no process matched"), "{text}");
        // The kernel shows hidepid=2 as `invisible` (Linux 5.8).
        let note = |hidepid: &str| {
            format!(
                "; /proc is mounted with hidepid={hidepid}, which hides other users' processes: one of them may match"
            )
        };
        assert!(text.contains(&note("2")) || text.contains(&note("invisible")), "{text}");
    }
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t proc -o hidepid=2 proc /proc && \
             exec setpriv --reuid=65534 --regid=65534 --clear-groups -- \"$0\" --json \"$@\"",
        )
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["kill", "--dry-run", "--name", &format!("{p}h")])
        .output()
        .expect("unshare runs");
    let report = common::schema::parse("kill", &String::from_utf8_lossy(&output.stdout));
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_eq!(report["processes"], serde_json::json!([]), "{report:#}");
    let hidepid = report["name_match"]["hidepid"].as_str().unwrap_or_default();
    assert!(["2", "invisible"].contains(&hidepid), "{report:#}");
    assert!(!pid_dead(sleeper.pid()));
}
