//! The documented JSON shapes (docs/schema/, one JSON Schema per command)
//! hold for what the commands print. Most tests check the documents they
//! parse through `common::schema`; these cover what no other test reads:
//! `status` for each kind of process, every kind of `explain` reading, and
//! `holds`, `snapshot` and `leftovers` on a real tree and socket.

use std::net::TcpListener;
use std::process::Command;

use crate::common::{self, Scratch, run_json, schema, sleeper, wait_until, zombie::TracedZombie};

#[test]
fn every_command_that_prints_json_has_a_schema() {
    let help = common::stdout(&common::run(&["--help"]));
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(commands.contains(&"run"), "{help}");
    for command in commands {
        if ["help", "completions", "man", "timeout"].contains(&command) {
            continue;
        }
        assert!(schema::COMMANDS.contains(&command), "no schema for {command}");
    }
    // Each schema compiles, with its references to common.json resolved.
    schema::compile_all();
}

#[test]
fn status_explain_and_why_match_their_schemas() {
    let running = sleeper("60");
    let zombie = TracedZombie::start("json-schema-status", 3);
    let (_, status) = run_json(&[
        "status",
        &running.pid().to_string(),
        &zombie.zombie.to_string(),
        "4000001",
    ]);
    let kinds: Vec<&str> = status["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["running", "zombie", "gone"], "{status:#}");
    let (_, explained) = run_json(&["explain", "0", "64", "124", "137", "SIGTERM", "-3", "300", "0xC0000005"]);
    assert_eq!(explained["explanations"].as_array().unwrap().len(), 8);
    run_json(&["why", &running.pid().to_string()]);
    run_json(&["why", &zombie.zombie.to_string()]);
}

#[test]
fn holds_snapshot_and_leftovers_match_their_schemas() {
    let scratch = Scratch::new("json-schema-holds");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (code, held) = run_json(&["holds", &format!("tcp:{port}"), &scratch.path().display().to_string()]);
    assert_eq!(code, Some(0), "{held:#}");
    assert_eq!(
        held["results"][0]["sockets"][0]["holders"][0]["pid"],
        std::process::id()
    );
    run_json(&["holds", "--deleted"]);

    // A tree whose root is killed: its child stays and holds a port.
    let tree = common::Py::start(
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
         child = fork(hold_forever, die_with_parent=False)\n\
         report(root=os.getpid(), child=child)\n\
         finish()\n",
    );
    let (root, child) = (
        tree.facts["root"].as_i64().unwrap(),
        tree.facts["child"].as_i64().unwrap(),
    );
    let child = common::Orphan(child as i32);
    let (_, snapshot) = run_json(&["snapshot", "--tree", &root.to_string()]);
    let file = scratch.path().join("snapshot.json");
    std::fs::write(&file, snapshot.to_string()).unwrap();
    let killed = Command::new("kill")
        .args(["-KILL", &root.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(wait_until(std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(format!("/proc/{root}/stat")).map_or(true, |s| s.contains(") Z "))
    }));
    let (code, left) = run_json(&["leftovers", &file.display().to_string()]);
    assert_eq!(code, Some(1), "{left:#}");
    assert_eq!(left["stayed"]["processes"][0]["pid"], child.0, "{left:#}");
    drop(tree);
}

/// A path that is not UTF-8 — a process's executable, a file a run left in
/// its temp directory — is given with U+FFFD for each stray byte, as names
/// and command lines are: it never costs the whole document.
#[test]
fn paths_that_are_not_utf8_keep_the_document() {
    use std::os::unix::ffi::OsStrExt;
    let scratch = Scratch::new("json-non-utf8");
    let exe = scratch.path().join(std::ffi::OsStr::from_bytes(b"sl\xffeep"));
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut command = Command::new(&exe);
    command
        .arg("60")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let copy = common::Reaped(common::spawn_fresh_copy(&mut command));
    let pid = copy.pid().to_string();
    assert!(wait_until(std::time::Duration::from_secs(5), || {
        std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|link| link == exe)
    }));
    let (code, status) = run_json(&["status", &pid]);
    assert_eq!(code, Some(0), "{status:#}");
    assert_eq!(
        status["processes"][0]["process"]["exe"],
        format!("{}/sl\u{fffd}eep", scratch.path().display()),
        "{status:#}"
    );

    let output = common::afterlife()
        .args(["--json", "run", "--tmpdir", "--", "sh", "-c"])
        .arg(r#"touch "$TMPDIR/$(printf 'a\377b')""#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    let stderr = common::stderr(&output);
    let report = schema::parse("run", stderr.lines().last().unwrap_or_default());
    let path = report["files"][0]["path"].as_str().unwrap_or_default();
    assert!(path.ends_with("/a\u{fffd}b"), "{report:#}");
}
