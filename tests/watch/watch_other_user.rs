//! `afterlife watch` run by one user on another user's process: it watches
//! what it may read (memory, threads, children) and says what it may not
//! (the fd directory and smaps_rollup need ptrace read access), instead of
//! failing. Run as root, the watcher drops to `nobody` with setpriv.

use crate::common;

use std::process::{Command, Stdio};

use common::{is_root, ndjson, stderr, stdout};

/// `afterlife ARGS` as nobody, or `None` where that cannot be done here.
fn as_nobody(args: &[&str]) -> Option<std::process::Output> {
    if !is_root() {
        println!("skipped: needs root to drop to nobody");
        return None;
    }
    let output = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .arg("--color=never")
        .args(args)
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.code() != Some(127) => Some(output),
        _ => {
            println!("skipped: setpriv cannot run afterlife as nobody here");
            None
        }
    }
}

#[test]
fn another_users_process_is_watched_for_what_can_be_read() {
    let mut target = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = target.id().to_string();
    let json = as_nobody(&["--json", "watch", "--interval", "100ms", "--duration", "1500ms", &pid]);
    let text = as_nobody(&["watch", "--interval", "100ms", "--duration", "1500ms", &pid]);
    let _ = target.kill();
    let _ = target.wait();
    let (Some(json), Some(text)) = (json, text) else {
        return;
    };
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let events = ndjson(&json);
    let sample = events.iter().find(|e| e["event"] == "sample").unwrap();
    assert!(sample["fds"].is_null(), "{sample}");
    assert!(sample["rss_anon_bytes"].as_u64().is_some(), "{sample}");
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    let verdicts = summary["processes"][0]["verdicts"].as_array().unwrap();
    assert!(!verdicts.iter().any(|v| v["metric"] == "fds"), "{verdicts:?}");
    assert!(
        verdicts
            .iter()
            .any(|v| v["metric"] == "rss_anon" && v["verdict"] == "steady")
    );
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let out = stdout(&text);
    assert!(
        out.contains(&format!("fds not read: /proc/{pid}/fd was refused")),
        "{out}"
    );
    // The last line says the fds were not judged.
    assert!(
        out.contains("no leak found in what could be read (1 process not read whole"),
        "{out}"
    );
}
