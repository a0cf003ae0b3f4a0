//! `afterlife explain`: one table over every class of number a user meets,
//! through the command line and its JSON.

use crate::common;

use common::*;
use serde_json::Value;

fn readings(code: &str) -> Vec<Value> {
    let output = run(&["explain", "--json", code]);
    assert_eq!(output.status.code(), Some(0), "{code}: {}", stderr(&output));
    let doc: Value = crate::common::schema::parse("explain", &String::from_utf8_lossy(&output.stdout));
    doc["explanations"][0]["readings"].as_array().unwrap().clone()
}

/// (input, kind of the first reading, text its title must contain)
const TABLE: &[(&str, &str, &str)] = &[
    ("0", "exit_code", "exit code 0"),
    ("1", "exit_code", "exit code 1"),
    ("2", "exit_code", "exit code 2"),
    ("64", "sysexits", "EX_USAGE"),
    ("75", "sysexits", "EX_TEMPFAIL"),
    ("124", "convention", "timed out"),
    ("125", "convention", "the tool itself failed"),
    ("126", "convention", "found but not executable"),
    ("127", "convention", "command not found"),
    ("130", "shell_signal", "128+2: killed by SIGINT"),
    ("134", "shell_signal", "128+6: killed by SIGABRT"),
    ("137", "shell_signal", "128+9: killed by SIGKILL"),
    ("139", "shell_signal", "128+11: killed by SIGSEGV"),
    ("143", "shell_signal", "128+15: killed by SIGTERM"),
    ("255", "exit_code", "exit code 255"),
    ("256", "wrapped", "exit(256) is seen as 0"),
    ("-1", "negative_signal", "-1: killed by SIGHUP"),
    ("-9", "negative_signal", "-9: killed by SIGKILL"),
    ("SIGSEGV", "signal", "SIGSEGV (signal 11)"),
    ("KILL", "signal", "SIGKILL (signal 9)"),
    ("sigterm", "signal", "SIGTERM (signal 15)"),
    ("0xC0000005", "windows", "STATUS_ACCESS_VIOLATION"),
    ("3221225477", "windows", "STATUS_ACCESS_VIOLATION"),
    ("-1073741819", "windows", "STATUS_ACCESS_VIOLATION"),
    ("0xC00000FD", "windows", "STATUS_STACK_OVERFLOW"),
    ("0xC0000409", "windows", "STATUS_STACK_BUFFER_OVERRUN"),
    ("0xC0000374", "windows", "STATUS_HEAP_CORRUPTION"),
    ("0xC000001D", "windows", "STATUS_ILLEGAL_INSTRUCTION"),
    ("0xC0000094", "windows", "STATUS_INTEGER_DIVIDE_BY_ZERO"),
    ("0xC0000135", "windows", "STATUS_DLL_NOT_FOUND"),
    ("0xC0000139", "windows", "STATUS_ENTRYPOINT_NOT_FOUND"),
    ("0xC0000142", "windows", "STATUS_DLL_INIT_FAILED"),
    ("0xC000013A", "windows", "STATUS_CONTROL_C_EXIT"),
    ("0x40010004", "windows", "DBG_TERMINATE_PROCESS"),
    ("0x80000003", "windows", "STATUS_BREAKPOINT"),
    ("0xE0434352", "windows", "0xE0434352"),
    ("0xC0AB0001", "windows", "not a known value"),
];

#[test]
fn every_class_is_explained() {
    for (input, kind, title) in TABLE {
        let readings = readings(input);
        let first = &readings[0];
        assert_eq!(first["kind"], *kind, "{input}: {first}");
        assert!(first["title"].as_str().unwrap().contains(title), "{input}: {first}");
    }
}

#[test]
fn ambiguity_is_shown() {
    let kinds: Vec<String> = readings("137")
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["shell_signal", "exit_code"]);
    let still_active = readings("259");
    assert!(still_active.iter().any(|r| r["windows"]["name"] == "STILL_ACTIVE"));
    let minus_one = readings("-1");
    assert!(minus_one.iter().any(|r| r["title"] == "exit(-1) is seen as 255"));
}

#[test]
fn text_output_names_each_reading() {
    let output = run(&["explain", "137", "0xC0000005"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.starts_with("137\n  1. 128+9: killed by SIGKILL\n"), "{text}");
    assert!(text.contains("OOM killer"), "{text}");
    assert!(text.contains("\n0xC0000005\n"), "{text}");
    assert!(text.contains("STATUS_ACCESS_VIOLATION"), "{text}");
    assert!(!text.contains('\x1b'), "no colors with --color=never");
}

#[test]
fn colors_follow_the_flag_and_no_color() {
    let always = std::process::Command::new(env!("CARGO_BIN_EXE_afterlife"))
        .args(["--color=always", "explain", "0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&always.stdout).contains("\x1b[1m"));
    // Not a terminal: auto means no color.
    let auto = std::process::Command::new(env!("CARGO_BIN_EXE_afterlife"))
        .args(["explain", "0"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&auto.stdout).contains('\x1b'));
}
