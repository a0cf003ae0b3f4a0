//! `snapshot` and `leftovers` on a real PostgreSQL killed with SIGKILL:
//! what stays is exactly what the kernel keeps — its SysV segment, its
//! `/dev/shm` segments and its socket file — and nothing else.

use crate::common;

use std::time::Duration;

use common::servers;
use serde_json::Value;

#[test]
fn a_killed_postmaster_leaves_exactly_its_shared_memory_and_socket_file() {
    let _ipc = common::ipc_serial();
    // No other server of the postgres user beside it: what one made after
    // the snapshot would stay by time and user.
    let _alone = servers::postgres_alone();
    let Some(mut pg) = servers::postgres("leftovers", &[]) else {
        return;
    };
    let pid = pg.pid();
    let data = pg.dir.path().join("data");
    // Line 7 of postmaster.pid: the SysV segment's key and ID.
    let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap();
    let shm_id: i64 = pid_file
        .lines()
        .nth(6)
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .expect("the segment's ID");
    let members: Vec<i32> = std::iter::once(pid).chain(pg.children()).collect();
    let (code, snapshot) = common::run_json(&["snapshot", "--tree", &pid.to_string()]);
    assert_eq!(code, Some(0));
    let file = pg.dir.path().join("snap.json");
    std::fs::write(&file, serde_json::to_vec(&snapshot).unwrap()).unwrap();
    // The /dev/shm segments its children made stay after the kill: removed
    // at the end whatever happens (the fixture removes the postmaster's).
    let _segments = ShmFiles(
        snapshot["ipc"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["name"].as_str())
            .map(|name| format!("/dev/shm{name}"))
            .collect(),
    );

    common::send_signal(pid, libc::SIGKILL);
    let _ = pg.child.wait();
    // Its children notice the postmaster's death and exit.
    assert!(common::wait_until(Duration::from_secs(10), || {
        members.iter().all(|&p| common::pid_dead(p))
    }));
    let (code, report) = common::run_json(&["leftovers", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{report:#}");
    let stayed = &report["stayed"];
    assert_eq!(stayed["processes"], Value::Array(vec![]), "{report:#}");
    assert_eq!(stayed["sockets"], Value::Array(vec![]), "{report:#}");
    // The peers' view: ipcs lists the segment, /dev/shm the files.
    let mut ipc: Vec<String> = stayed["ipc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| match o["object"]["name"].as_str() {
            Some(name) => format!("posix_shm {name}"),
            None => format!("{} {}", o["object"]["kind"].as_str().unwrap(), o["object"]["id"]),
        })
        .collect();
    ipc.sort();
    // A segment of the snapshot may be gone: a backend that was the last
    // to detach from a dynamic segment removes it as it exits, and the
    // backends exit on their own once the postmaster is dead. Every one
    // of them has exited by now, so what is in /dev/shm stays.
    let mut expected = vec![format!("sysv_shm {shm_id}")];
    for o in snapshot["ipc"].as_array().unwrap() {
        if let Some(name) = o["name"].as_str()
            && std::path::Path::new(&format!("/dev/shm{name}")).exists()
        {
            expected.push(format!("posix_shm {name}"));
        }
    }
    expected.sort();
    assert_eq!(ipc, expected, "{report:#}");
    assert!(common::ipc::sysv_exists(shm_id));
    let socket = pg.dir.path().join(format!(".s.PGSQL.{}", pg.port));
    assert!(socket.exists());
    assert_eq!(
        stayed["socket_files"],
        serde_json::json!([{
            "path": socket.to_str().unwrap(),
            "remove_with": format!("rm {}", socket.to_str().unwrap()),
        }]),
        "{report:#}"
    );
}

/// `/dev/shm` files removed on drop.
struct ShmFiles(Vec<String>);

impl Drop for ShmFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}
