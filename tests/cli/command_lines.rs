//! Command lines as the process holds them: an empty argument is an
//! argument (`redis-server --save ''`), and bytes that are not UTF-8 stay
//! in their own argument.

use crate::common;

use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use common::run_json;

#[test]
fn empty_arguments_and_stray_bytes_are_kept_in_place() {
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let mut child = Command::new("sh")
        .args(["-c", "read x", "sh", "--save", "", "--pidfile"])
        .arg(odd)
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let (_, report) = run_json(&["status", &child.id().to_string()]);
    drop(child.stdin.take());
    let _ = child.wait();
    let line: Vec<&str> = report["processes"][0]["process"]["command_line"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        line,
        ["sh", "-c", "read x", "sh", "--save", "", "--pidfile", "caf\u{fffd}"],
        "{report}"
    );
}
