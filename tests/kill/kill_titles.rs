//! `kill`'s NAME column shows a process's title where it says more than its
//! short name: the rows of a real PostgreSQL read "postgres: checkpointer",
//! "postgres: background writer", ..., not "postgres" over and over.

use crate::common;

use common::afterlife;
use common::kill::{entry, kill_json};
use common::servers;

#[test]
fn postgres_rows_show_each_process_title() {
    let Some(server) = servers::postgres("kill-titles", &[]) else {
        return;
    };
    let postmaster = server.pid();
    assert!(server.children().len() >= 3, "{:?}", server.children());

    // A dry run shows the table and signals nothing.
    let output = afterlife()
        .args(["kill", "--tree", "--dry-run", &postmaster.to_string()])
        .output()
        .expect("afterlife runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let row = |pid: i32| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{pid} ")))
            .unwrap_or_else(|| panic!("no row for {pid}: {text}"))
            .to_string()
    };
    // The postmaster runs as the program itself: its row says postgres.
    assert!(row(postmaster).contains(" postgres "), "{text}");
    assert!(text.lines().any(|l| l.contains("  postgres: checkpointer  ")), "{text}");

    let (code, report, stderr) = kill_json(&["--tree", "--grace", "10s", &postmaster.to_string()]);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    let main = entry(&report, postmaster);
    assert_eq!(main["name"], "postgres");
    assert!(main.get("title").is_none(), "{main:#}");
    // Every other process signalled is a postgres child with its title (an
    // autovacuum worker may come and go meanwhile: whoever was signalled).
    let others: Vec<&serde_json::Value> = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["pid"] != postmaster && !p["sent"].as_array().unwrap().is_empty())
        .collect();
    let titles: Vec<&str> = others
        .iter()
        .map(|p| p["title"].as_str().unwrap_or_else(|| panic!("no title: {p:#}")))
        .collect();
    assert!(titles.contains(&"postgres: checkpointer"), "{titles:?}");
    assert!(titles.contains(&"postgres: background writer"), "{titles:?}");
    assert!(titles.iter().all(|t| t.starts_with("postgres: ")), "{titles:?}");
    assert!(others.iter().all(|p| p["name"] == "postgres"), "{others:?}");
    drop(server);
}
