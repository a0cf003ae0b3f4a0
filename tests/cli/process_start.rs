//! What afterlife's start guarantees before any command runs (the binary
//! brings its own C `main`, so these are its own doing, not Rust's
//! runtime's): fds 0, 1 and 2 that its caller closed are open on
//! `/dev/null` in afterlife, so no file afterlife opens takes their
//! numbers and reaches the command as its stdin or stdout, and the command
//! gets them closed, as the caller left them (as from coreutils'
//! `timeout`); and SIGPIPE is ignored, so a write to a pipe nobody reads
//! fails instead of killing afterlife.

use crate::common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use common::Scratch;

#[test]
fn standard_fds_closed_by_the_caller_reach_the_command_closed() {
    let scratch = Scratch::new("closed-stdio");
    let links = scratch.path().join("links");
    let report = scratch.path().join("report.json");
    // The command says, on fd 9, whether each of its fds 0 to 2 is open.
    let script = format!(
        "exec 9> {}; for fd in 0 1 2; do r=closed; [ -e /proc/self/fd/$fd ] && r=open; echo $r >&9; done",
        links.display()
    );
    let status = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" <&- >&- 2>&-")
        .arg(env!("CARGO_BIN_EXE_afterlife"))
        .args(["run", "--report-json"])
        .arg(&report)
        .args(["--", "sh", "-c", &script])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    let seen = std::fs::read_to_string(&links).unwrap();
    assert_eq!(seen, "closed\nclosed\nclosed\n", "{seen}");
    // afterlife's own files went to numbers of their own: the report is whole.
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["exit_code"], 0, "{report}");
    assert_eq!(report["ending"]["status"]["code"], 0, "{report}");
}

#[test]
fn a_write_to_a_pipe_nobody_reads_does_not_kill_afterlife() {
    // The read end is closed before afterlife starts: its first write to
    // stdout gets EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = common::afterlife()
        .args(["completions", "bash"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), None, "{status:?}");
    assert!(status.code().is_some(), "{status:?}");
}
