//! The real-server fixtures start, answer and are gone after drop.

use crate::common;

use common::servers;

#[test]
fn postgres_redis_and_nginx_start_answer_and_stop() {
    let mut pids = Vec::new();
    let alone = servers::postgres_alone();
    if let Some(pg) = servers::postgres("smoke", &[]) {
        assert_eq!(servers::psql(&pg, "select 1+1").trim(), "2");
        pids.push(pg.pid());
    }
    // Its server is stopped: others may run theirs.
    drop(alone);
    if let Some(redis) = servers::redis("smoke") {
        assert_eq!(servers::redis_command(redis.port, "PING").as_deref(), Some("+PONG"));
        pids.push(redis.pid());
    }
    if let Some(nginx) = servers::nginx("smoke", 2) {
        assert!(nginx.accepts());
        assert_eq!(nginx.children().len(), 2);
        pids.extend(nginx.children());
        pids.push(nginx.pid());
    }
    for pid in pids {
        assert!(common::pid_dead(pid), "process {pid} outlived its server's drop");
    }
}
