//! nginx under `run`, its master SIGKILLed: the workers stay with the
//! listening socket. The report says they were orphaned, in the process
//! group afterlife leads (the command is born in it, as under coreutils'
//! timeout, so that it is no group leader).

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::{Scratch, afterlife, children, kill_pids, pid_dead, send_signal, servers, wait_until};

/// The nginx master whose title names `dir` (only the master's does).
fn master_in(dir: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let text = String::from_utf8_lossy(&cmdline);
        (text.starts_with("nginx: master") && text.contains(dir)).then_some(pid)
    })
}

#[test]
fn workers_of_a_killed_master_are_left_behind_in_its_group() {
    let Some(nginx) = servers::program_path("nginx") else {
        return;
    };
    let dir = Scratch::new("run-dead-master");
    let port = servers::free_port();
    let conf = servers::nginx_conf(dir.path(), port, 2);
    let report_path = dir.path().join("report.json");
    let text_path = dir.path().join("report.txt");
    let mut run = afterlife()
        .args(["run", "--report", "--grace", "5s", "--report-json"])
        .arg(&report_path)
        .arg("--")
        .arg(&nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&text_path).unwrap())
        .spawn()
        .expect("afterlife runs");
    let dir_text = dir.path().to_string_lossy().into_owned();
    let mut master = None;
    let mut workers = Vec::new();
    let up = wait_until(Duration::from_secs(30), || {
        master = master.or_else(|| master_in(&dir_text));
        workers = master.map(children).unwrap_or_default();
        workers.len() == 2 && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    if !up {
        let _ = run.kill();
        kill_pids(&workers);
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
    }
    let master = master.unwrap();
    let group = run.id() as i64;
    workers.sort_unstable();
    send_signal(master, libc::SIGKILL);
    let status = run.wait().expect("afterlife ends");
    kill_pids(&workers);
    // afterlife dies of the command's signal, as the command did.
    assert_eq!(common::shell_code(status), 137);
    for &worker in &workers {
        assert!(pid_dead(worker), "afterlife ended worker {worker}");
    }

    let report: serde_json::Value =
        crate::common::schema::parse("run", &std::fs::read_to_string(&report_path).unwrap());
    let leftovers = report["leftovers"].as_array().unwrap();
    let mut pids: Vec<i32> = leftovers.iter().map(|l| l["pid"].as_i64().unwrap() as i32).collect();
    pids.sort_unstable();
    assert_eq!(pids, workers, "{report}");
    for leftover in leftovers {
        assert_eq!(leftover["pgid"], group, "{leftover}");
        let escaped = leftover["escaped"].as_array().unwrap();
        assert!(escaped.contains(&serde_json::json!({"how": "orphaned"})), "{leftover}");
        let listening = leftover["fds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["socket"]["state"] == "listen" && f["socket"]["local"] == format!("127.0.0.1:{port}"));
        assert!(listening, "the worker holds the listener: {leftover}");
    }
    let text = std::fs::read_to_string(&text_path).unwrap();
    assert_eq!(
        text.matches("      escaped: orphaned: its parent exited").count(),
        2,
        "{text}"
    );
}
