//! Real servers for the tests — PostgreSQL, Redis and nginx from Debian's
//! packages — each started on loopback on a free port, with a private
//! directory, in a process group of its own whose ID is the PID the test
//! started. Dropping one stops it gracefully, then kills its group by that
//! PID (never by name), and removes its directory.
//!
//! `.ci/run` installs the packages; where one is missing (a developer's
//! machine), `start` returns `None` after printing why, and the test skips.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Scratch, pid_dead, wait_until};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind a free loopback port")
}

/// One running server.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: Scratch,
    /// The signal that shuts it down gracefully.
    stop_signal: i32,
    /// Run on drop after the server is gone (IPC a killed server left).
    after_stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Server {
    /// The server's main process (PostgreSQL's postmaster, nginx's master).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The PIDs of its direct children now (workers, backends).
    pub fn children(&self) -> Vec<i32> {
        super::children(self.pid())
    }

    fn spawn(mut command: Command, port: u16, dir: Scratch, stop_signal: i32) -> Option<Server> {
        let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
        let log_too = log.try_clone().expect("dup the server log");
        command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_too)
            .process_group(0);
        match command.spawn() {
            Ok(child) => Some(Server {
                child,
                port,
                dir,
                stop_signal,
                after_stop: None,
            }),
            Err(e) => {
                eprintln!("skipped: cannot start {command:?}: {e}");
                None
            }
        }
    }

    /// Waits until `ready` holds, or gives up (and stops the server).
    fn ready(self, what: &str, limit: Duration, mut ready: impl FnMut(&Server) -> bool) -> Server {
        let start = Instant::now();
        while start.elapsed() < limit {
            if ready(&self) {
                return self;
            }
            if pid_dead(self.pid()) {
                let log = self.log();
                panic!("{what} exited while starting:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = self.log();
        panic!("{what} was not ready within {limit:?}:\n{log}");
    }

    /// The server's own log, for a failure message.
    pub fn log(&self) -> String {
        ["server.log", "redis.log", "error.log"]
            .iter()
            .filter_map(|name| std::fs::read_to_string(self.dir.path().join(name)).ok())
            .collect()
    }

    /// Whether something accepts connections on the port.
    pub fn accepts(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }
}

impl Drop for Server {
    /// Stops the server without ever signalling a PID that may have been
    /// reused: the main process is signalled only while it is our unreaped
    /// child (alive or a zombie, its PID cannot be taken), and its group
    /// only while the leader is unreaped or a member still carries the
    /// group's ID (a group's ID is not handed out while the group exists).
    fn drop(&mut self) {
        let pid = self.pid();
        // What the server and its children map in /dev/shm now (segments
        // made after it was ready, for parallel work): removed below if a
        // server that did not shut down itself left them.
        let mut mapped: Vec<PathBuf> = std::iter::once(pid)
            .chain(self.children())
            .flat_map(shm_mapped_by)
            .collect();
        mapped.sort();
        mapped.dedup();
        let unreaped = || exited_unreaped(pid).is_some();
        if unreaped() {
            // SAFETY: kill(2) on our own unreaped child.
            unsafe { libc::kill(pid, self.stop_signal) };
            let exited = wait_until(Duration::from_secs(15), || exited_unreaped(pid) == Some(true));
            if !exited {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                wait_until(Duration::from_secs(15), || exited_unreaped(pid) == Some(true));
            }
        }
        if unreaped() || group_has_members(pid) {
            // SAFETY: kill(2) on the group this test made, whose ID is held
            // by its unreaped leader or a live member; ESRCH is fine.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            // Until the last member is gone it may still map a segment,
            // which the clean-up below would then leave as someone's.
            wait_until(Duration::from_secs(10), || !group_has_members(pid));
        }
        let _ = self.child.wait();
        if let Some(after_stop) = self.after_stop.take() {
            after_stop();
        }
        for segment in mapped {
            let _ = std::fs::remove_file(segment);
        }
    }
}

/// `Some(exited)` while `pid` is our child and not yet reaped (it is not
/// reaped here: `WNOWAIT`); `None` once it has been.
fn exited_unreaped(pid: i32) -> Option<bool> {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid(2).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid(2) with a valid out-pointer; WNOWAIT leaves the child
    // waitable, WNOHANG returns at once.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT | libc::WNOHANG,
        )
    };
    // SAFETY: si_pid is set by waitid when a child changed state, else 0.
    (rc == 0).then(|| unsafe { info.si_pid() } == pid)
}

/// Whether any process is in process group `pgid` now.
fn group_has_members(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| {
                let rest = stat
                    .rsplit_once(") ")?
                    .1
                    .split_whitespace()
                    .nth(2)?
                    .parse::<i32>()
                    .ok()?;
                Some(rest == pgid)
            })
            .unwrap_or(false)
    })
}

/// Finds a server program: on PATH, or in PostgreSQL's versioned directory.
fn program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin"].iter().map(PathBuf::from));
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    dirs.extend(versions.into_iter().rev());
    let found = dirs.into_iter().map(|dir| dir.join(name)).find(|path| path.is_file());
    if found.is_none() {
        eprintln!("skipped: {name} is not installed (.ci/run installs it)");
    }
    found
}

/// `id -u NAME` and `id -g NAME`.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, name]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// PostgreSQL: `initdb` and `postgres` on a free port, as the `postgres`
/// user when run as root (PostgreSQL refuses root). `settings` are extra
/// `-c name=value` settings. The data is in `dir/data`, the socket in `dir`.
pub fn postgres(name: &str, settings: &[&str]) -> Option<Server> {
    let initdb = program("initdb")?;
    let postgres = program("postgres")?;
    let dir = Scratch::new(&format!("pg-{name}"));
    let root = super::is_root();
    let owner = if root {
        let Some(ids) = user_ids("postgres") else {
            eprintln!("skipped: no postgres user to run PostgreSQL as");
            return None;
        };
        std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1)).expect("chown the server's dir");
        Some(ids)
    } else {
        None
    };
    let as_owner = |program: &Path| {
        let mut command = Command::new(program);
        if let Some((uid, gid)) = owner {
            // std drops the supplementary groups itself when root sets a uid.
            command.uid(uid).gid(gid);
        }
        command.current_dir(dir.path());
        command
    };
    let data = dir.path().join("data");
    let init = as_owner(&initdb)
        .args([
            "-D",
            &data.to_string_lossy(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ])
        .output()
        .expect("initdb runs");
    assert!(
        init.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let port = free_port();
    let mut command = as_owner(&postgres);
    command
        .args(["-D", &data.to_string_lossy(), "-p", &port.to_string(), "-k"])
        .arg(dir.path())
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "logging_collector=off",
        ])
        .args(settings.iter().flat_map(|s| ["-c", s]));
    let started = *FIRST_POSTGRES_START.get_or_init(std::time::SystemTime::now);
    let mut server = Server::spawn(command, port, dir, libc::SIGINT)?;
    let pid_file = data.join("postmaster.pid");
    server = server.ready("postgres", Duration::from_secs(60), |_| {
        // Line 8 of postmaster.pid is the postmaster's status.
        std::fs::read_to_string(&pid_file).is_ok_and(|text| text.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
    });
    let segments = shm_mapped_by(server.pid());
    server.after_stop = Some(Box::new(move || {
        remove_postgres_ipc(&pid_file, &segments);
        remove_unmapped_segments_since(started);
    }));
    Some(server)
}

/// The `/dev/shm` files a process maps now (PostgreSQL's dynamic shared
/// memory control segment, `PostgreSQL.N`, is mapped by the postmaster).
fn shm_mapped_by(pid: i32) -> Vec<PathBuf> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut files: Vec<PathBuf> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| path.starts_with("/dev/shm/"))
        .map(PathBuf::from)
        .collect();
    files.sort();
    files.dedup();
    files
}

/// After a killed postmaster: its SysV segment (line 7 of postmaster.pid
/// holds its key and ID) and the `/dev/shm` segments it mapped once ready
/// are removed if they are still there (a postmaster that shuts down
/// removes them itself).
fn remove_postgres_ipc(pid_file: &Path, segments: &[PathBuf]) {
    for segment in segments {
        let _ = std::fs::remove_file(segment);
    }
    let Ok(text) = std::fs::read_to_string(pid_file) else {
        return;
    };
    if let Some(id) = text.lines().nth(6).and_then(|l| l.split_whitespace().nth(1)) {
        let _ = Command::new("ipcrm").args(["-m", id]).output();
    }
}

/// Held by a test for as long as its PostgreSQL server runs, where the
/// test needs to be the only one: what another server of the same user
/// makes meanwhile (a statistics segment in `/dev/shm`) is, by time and
/// user, what a killed server could have left.
pub fn postgres_alone() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// When this test binary started its first PostgreSQL server.
static FIRST_POSTGRES_START: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();

/// Removes the `/dev/shm/PostgreSQL.*` segments made since `started` that
/// no process maps any more: those a killed server's processes made after
/// the test last looked (a worker's dynamic shared memory), which no one
/// else removes. Only once no PostgreSQL process runs on the machine: a
/// server still running (another test's) keeps segments no process maps
/// at times (its statistics' dynamic shared memory, pinned, mapped only by
/// the backends that use it, or one made and not yet mapped), and removing
/// one fails its next connection. The last server of the binary to stop
/// removes what the others left.
fn remove_unmapped_segments_since(started: std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    if !no_postgres_runs() {
        return;
    }
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    let since = started
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let candidates: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("PostgreSQL."))
        .filter(|e| e.metadata().is_ok_and(|m| m.ctime() >= since))
        .map(|e| e.path())
        .collect();
    if candidates.is_empty() {
        return;
    }
    let mapped: Vec<PathBuf> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .flat_map(shm_mapped_by)
        .collect();
    for segment in candidates.iter().filter(|c| !mapped.contains(c)) {
        let _ = std::fs::remove_file(segment);
    }
}

/// Whether no PostgreSQL process runs on the machine, waiting up to 5 s
/// for the ones a test has just killed to end. A clean-up of
/// `PostgreSQL.*` segments that no process maps is safe only then: a
/// running server keeps segments no process maps at times (its
/// statistics' dynamic shared memory, pinned, mapped only by the backends
/// that use it; or one just made and not yet mapped), and removing one
/// fails its next connection. (Processes are looked up by name here only
/// to leave their segments alone.)
pub fn no_postgres_runs() -> bool {
    let runs = || {
        std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|entry| {
            std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ").is_some_and(|(name, rest)| {
                    name.ends_with("(postgres") && !rest.starts_with('Z') && !rest.starts_with('X')
                })
            })
        })
    };
    super::wait_until(Duration::from_secs(5), || !runs())
}

/// Runs SQL on a PostgreSQL server through `psql` over its unix socket.
pub fn psql(server: &Server, sql: &str) -> String {
    let psql = program("psql").expect("psql is installed with the server");
    let out = Command::new(psql)
        .args(["-X", "-q", "-t", "-A", "-U", "postgres", "-h"])
        .arg(server.dir.path())
        .args(["-p", &server.port.to_string(), "-d", "postgres", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Redis on a free port, no persistence, its files in a private directory.
pub fn redis(name: &str) -> Option<Server> {
    let redis = program("redis-server")?;
    let dir = Scratch::new(&format!("redis-{name}"));
    let port = free_port();
    let mut command = Command::new(redis);
    command
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--daemonize", "no", "--protected-mode", "yes", "--dir"])
        .arg(dir.path())
        .arg("--logfile")
        .arg(dir.path().join("redis.log"));
    let server = Server::spawn(command, port, dir, libc::SIGTERM)?;
    Some(server.ready("redis-server", Duration::from_secs(30), |s| {
        redis_command(s.port, "PING").as_deref() == Some("+PONG")
    }))
}

/// Sends one inline command to Redis and returns its first reply line.
pub fn redis_command(port: u16, command: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).ok()?;
    String::from_utf8_lossy(&buf[..n]).lines().next().map(str::to_owned)
}

/// nginx with a master and `workers` workers on a free port, answering `ok`
/// to every request; its pid, logs and temp files in a private directory.
pub fn nginx(name: &str, workers: u32) -> Option<Server> {
    let nginx = program("nginx")?;
    let dir = Scratch::new(&format!("nginx-{name}"));
    let port = free_port();
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nmaster_process on;\nworker_processes {workers};\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 512; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(&conf_path);
    let server = Server::spawn(command, port, dir, libc::SIGQUIT)?;
    Some(server.ready("nginx", Duration::from_secs(30), |s| {
        s.accepts() && s.children().len() >= workers as usize
    }))
}

// ---- Server command lines for tests that start a server themselves (under
// `afterlife run`, say) rather than through `Server`.

/// The path of an installed server program (`nginx`, `postgres`, `initdb`),
/// or `None` after printing why the test skips.
pub fn program_path(name: &str) -> Option<PathBuf> {
    program(name)
}

/// Writes an nginx configuration like [`nginx`]'s into `dir` (in the
/// foreground, a master and `workers` workers on 127.0.0.1:`port`) and
/// returns its path.
pub fn nginx_conf(dir: &Path, port: u16, workers: u32) -> PathBuf {
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process on;\nworker_processes {workers};\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 512; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("write nginx.conf");
    path
}

/// A PostgreSQL data directory made by `initdb` (as the `postgres` user when
/// run as root), for a test that starts `postgres` itself; the socket
/// directory is `dir`, the data `dir/data`; `owner` is the uid and gid the
/// server must run as (`None`: as the test).
pub struct PgData {
    pub dir: Scratch,
    pub data: PathBuf,
    pub owner: Option<(u32, u32)>,
}

/// Runs `initdb` into a private directory.
pub fn postgres_initdb(name: &str) -> Option<PgData> {
    let initdb = program("initdb")?;
    let dir = Scratch::new(&format!("pgdata-{name}"));
    let owner = if super::is_root() {
        let Some(ids) = user_ids("postgres") else {
            eprintln!("skipped: no postgres user to run PostgreSQL as");
            return None;
        };
        std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1)).expect("chown the data's dir");
        Some(ids)
    } else {
        None
    };
    let data = dir.path().join("data");
    let mut command = Command::new(initdb);
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    let init = command
        .current_dir(dir.path())
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        .output()
        .expect("initdb runs");
    assert!(
        init.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    Some(PgData { dir, data, owner })
}
