//! `afterlife watch` on real servers under load: healthy servers warm up
//! (PostgreSQL touches its shared buffers, Redis loads its keys) and are not
//! called leaking; a Redis whose client never closes its connections is.
//!
//! Each watch starts before the load, so the warm-up is in the window. The
//! servers run on loopback with private directories (`common::servers`);
//! the load generators are children of the test, ended by their PID.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Reaped, afterlife, ndjson, servers, stderr};
use serde_json::Value;

/// A load generator, ended by its PID when the test is done.
fn load(program: &str, args: &[&str]) -> Option<Reaped> {
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => Some(Reaped(child)),
        Err(e) => {
            eprintln!("skipped: cannot run {program}: {e} (.ci/run installs it)");
            None
        }
    }
}

/// Starts `afterlife --json watch ARGS`, lets `during` run while it
/// watches, and returns its exit code and NDJSON.
/// Runs `watch` while `during` runs; what `during` returns (connections a
/// client holds) is kept until the watch has ended.
fn watch_while<T>(args: &[&str], during: impl FnOnce() -> T) -> (i32, Vec<Value>) {
    let watch = afterlife()
        .arg("--json")
        .arg("watch")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("afterlife runs");
    let kept = during();
    let output = watch.wait_with_output().expect("afterlife ends");
    drop(kept);
    let code = output.status.code().unwrap_or_else(|| panic!("{}", stderr(&output)));
    (code, ndjson(&output))
}

fn summary(events: &[Value]) -> &Value {
    events.iter().find(|e| e["event"] == "summary").expect("a summary line")
}

fn verdict<'a>(process: &'a Value, metric: &str) -> Option<&'a Value> {
    process["verdicts"].as_array()?.iter().find(|v| v["metric"] == metric)
}

/// Every process of a summary, as `title-or-name: leaking verdicts`, for
/// failure messages.
fn leaks(summary: &Value) -> Vec<String> {
    summary["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["leaking"] == true)
        .map(|p| {
            let metrics: Vec<String> = p["verdicts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["verdict"] == "leaking" && v["judged"] == true)
                .map(|v| v.to_string())
                .collect();
            format!("{} {}: {}", p["pid"], p["title"], metrics.join(" "))
        })
        .collect()
}

#[test]
fn postgres_under_pgbench_warms_up_without_a_leak() {
    let _alone = servers::postgres_alone();
    let Some(pg) = servers::postgres("watch", &["shared_buffers=64MB"]) else {
        return;
    };
    let port = pg.port.to_string();
    let connect = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
    let init = Command::new("pgbench")
        .args(connect)
        .args(["-i", "-s", "2", "-q", "postgres"])
        .output();
    let Ok(init) = init else {
        eprintln!("skipped: pgbench is not installed (.ci/run installs it)");
        return;
    };
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let root = pg.pid().to_string();
    let (code, events) = watch_while(&["--interval", "500ms", "--duration", "40s", "--tree", &root], || {
        // The load starts after the watch: its warm-up is in the window.
        std::thread::sleep(Duration::from_secs(2));
        let mut args: Vec<&str> = connect.to_vec();
        args.extend(["-c", "4", "-j", "2", "-T", "45", "postgres"]);
        let bench = load("pgbench", &args);
        assert!(bench.is_some());
        std::thread::sleep(Duration::from_secs(39));
    });
    let summary = summary(&events);
    assert_eq!(code, 0, "{:#?}", leaks(summary));
    assert_eq!(summary["leak"], false);
    let processes = summary["processes"].as_array().unwrap();
    // Shown by their titles.
    assert!(
        processes
            .iter()
            .any(|p| p["title"].as_str().is_some_and(|t| t.starts_with("postgres: "))),
        "{processes:?}"
    );
    // The backends' RSS holds shared buffers they touched: shown, not
    // judged. (How much of it came after a backend's first sample depends
    // on when the tree's refresh found it, so the level is checked, not
    // the growth.)
    let shmem_shown = processes
        .iter()
        .any(|p| verdict(p, "rss_shmem").is_some_and(|v| v["last"].as_f64().unwrap() > 4e6 && v["judged"] == false));
    assert!(shmem_shown, "no backend touched shared buffers: {processes:?}");
    for p in processes {
        for v in p["verdicts"].as_array().unwrap() {
            if v["judged"] == false {
                assert!(v["time_to_limit_seconds"].is_null(), "{v}");
            }
        }
    }
}

#[test]
fn redis_under_redis_benchmark_loads_its_keys_without_a_leak() {
    let Some(redis) = servers::redis("watch") else {
        return;
    };
    let port = redis.port.to_string();
    let root = redis.pid().to_string();
    let (code, events) = watch_while(&["--interval", "500ms", "--duration", "30s", &root], || {
        std::thread::sleep(Duration::from_secs(2));
        let bench = load(
            "redis-benchmark",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-t",
                "set,get",
                "-r",
                "100000",
                "-n",
                "100000000",
                "-c",
                "20",
                "-q",
            ],
        );
        assert!(bench.is_some());
        std::thread::sleep(Duration::from_secs(29));
    });
    let summary = summary(&events);
    assert_eq!(code, 0, "{:#?}", leaks(summary));
    let process = &summary["processes"][0];
    // The keys were loaded: memory rose, and it is not called a leak.
    let anon = verdict(process, "rss_anon").unwrap();
    assert!(
        anon["last"].as_f64().unwrap() > anon["first"].as_f64().unwrap(),
        "{anon}"
    );
    assert_ne!(anon["verdict"], "leaking", "{anon}");
    assert!(
        process["title"].as_str().unwrap_or("").starts_with("redis-server"),
        "{process}"
    );
}

#[test]
fn redis_with_a_client_that_never_closes_leaks_sockets_under_its_listener() {
    let Some(redis) = servers::redis("watch-leak") else {
        return;
    };
    let port = redis.port;
    let root = redis.pid().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (code, events) = watch_while(&["--interval", "250ms", "--duration", "15s", &root], || {
        // A connection every 100 ms, never closed (kept until the test ends).
        let mut held = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline && !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Held until the watch has ended: its last samples must not see
        // them closed.
        held
    });
    let summary = summary(&events);
    assert_eq!(code, 1, "{summary}");
    let process = &summary["processes"][0];
    assert_eq!(process["leaking_kinds"], serde_json::json!(["socket"]), "{process}");
    // The held sockets are one group: accepted by the listener, from one host.
    let top = &process["fd_breakdown"]["top_targets"][0];
    let target = top["target"].as_str().unwrap();
    assert!(
        target.starts_with(&format!("tcp 127.0.0.1:{port} <- 127.0.0.1")),
        "{top}"
    );
    assert!(top["count"].as_u64().unwrap() >= 100, "{top}");
}
