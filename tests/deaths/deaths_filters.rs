//! `afterlife deaths` filters (`--nonzero`, `--name`, `--signal`,
//! `--cgroup`) and its Prometheus counters, on real deaths.

use crate::common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use common::deaths::{Feed, code_of, signal_of};

const LIMIT: Duration = Duration::from_secs(15);

fn exit_with(code: u8) -> i64 {
    let mut shell = Command::new("sh")
        .args(["-c", &format!("exit {code}")])
        .spawn()
        .unwrap();
    let pid = i64::from(shell.id());
    assert_eq!(shell.wait().unwrap().code(), Some(i32::from(code)));
    pid
}

/// The PID of a sleep its shell killed with SIGUSR1.
fn killed_by_usr1() -> i64 {
    let shell = Command::new("sh")
        .args(["-c", "sleep 30 & echo $!; kill -USR1 $!; wait"])
        .output()
        .unwrap();
    assert!(shell.status.success());
    common::stdout(&shell).trim().parse().expect("the child's PID")
}

#[test]
fn nonzero_and_name_leave_out_the_rest() {
    let Some(mut feed) = Feed::start(&["--nonzero", "--name", "sh"], &[]) else {
        return;
    };
    let zero = exit_with(0);
    let seven = exit_with(7);
    let death = feed.find(LIMIT, |d| d["pid"] == seven).expect("exit 7");
    assert_eq!(code_of(&death), Some(7));
    // The exit 0 died first, so it would have been printed first.
    assert!(feed.seen.iter().all(|d| d["pid"] != zero), "{:?}", feed.seen);
    assert!(
        feed.seen
            .iter()
            .all(|d| code_of(d) != Some(0) && d["name"].as_str().is_some_and(|n| n.contains("sh"))),
        "{:?}",
        feed.seen
    );
    feed.stop();
}

#[test]
fn signal_keeps_only_that_signal() {
    let Some(mut feed) = Feed::start(&["--signal", "USR1"], &[]) else {
        return;
    };
    let seven = exit_with(7);
    let victim = killed_by_usr1();
    let death = feed.find(LIMIT, |d| d["pid"] == victim).expect("the SIGUSR1 death");
    assert_eq!(signal_of(&death), Some(i64::from(libc::SIGUSR1)));
    assert!(feed.seen.iter().all(|d| d["pid"] != seven));
    assert!(feed.seen.iter().all(|d| signal_of(d) == Some(i64::from(libc::SIGUSR1))));
    feed.stop();
}

/// A cgroup v2 directory made for the test, removed on drop.
struct TestCgroup(std::path::PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        common::wait_until(Duration::from_secs(5), || std::fs::remove_dir(&self.0).is_ok());
    }
}

#[test]
fn cgroup_keeps_the_deaths_inside() {
    let Ok(mount) = afterlife::terminate::cgroup::v2_mount() else {
        println!("skipped: no cgroup v2 mount");
        return;
    };
    let name = format!("afterlife-test-deaths-{}", std::process::id());
    if !common::is_root() || std::fs::create_dir(mount.join(&name)).is_err() {
        println!("skipped: cannot make a cgroup");
        return;
    }
    let cgroup = TestCgroup(mount.join(&name));
    let Some(mut feed) = Feed::start(&["--cgroup", &format!("/{name}")], &[]) else {
        return;
    };
    let outside = exit_with(3);
    let script = format!("echo $$ > {}/cgroup.procs && exit 5", cgroup.0.display());
    let mut inside = Command::new("sh").args(["-c", &script]).spawn().unwrap();
    let inside_pid = i64::from(inside.id());
    assert_eq!(inside.wait().unwrap().code(), Some(5));
    let death = feed.find(LIMIT, |d| d["pid"] == inside_pid).expect("the death inside");
    assert_eq!(death["cgroup"], format!("/{name}"));
    assert_eq!(code_of(&death), Some(5));
    assert!(feed.seen.iter().all(|d| d["pid"] != outside));
    feed.stop();
}

fn scrape(address: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("the exporter listens");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn prometheus_counts_deaths_by_cause_without_pids() {
    let Some(mut feed) = Feed::start(&["--prometheus", "127.0.0.1:0"], &[]) else {
        return;
    };
    let line = feed
        .stderr_line("Prometheus metrics on", LIMIT)
        .expect("the exporter's address");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .expect("an address")
        .to_string();
    let seven = exit_with(7);
    let victim = killed_by_usr1();
    feed.find(LIMIT, |d| d["pid"] == seven).expect("exit 7");
    feed.find(LIMIT, |d| d["pid"] == victim).expect("the SIGUSR1 death");
    // Published after the batch that held them.
    let mut text = String::new();
    let counted = common::wait_until(Duration::from_secs(10), || {
        text = scrape(&address);
        text.contains("cause=\"signal\",signal=\"SIGUSR1\"") && text.contains("cause=\"exit_nonzero\"")
    });
    assert!(counted, "{text}");
    assert!(text.contains("# TYPE afterlife_process_deaths_total counter"), "{text}");
    assert!(text.contains("afterlife_process_deaths_lost_total 0"), "{text}");
    assert!(!text.contains("pid="), "{text}");
    feed.stop();
}

#[test]
fn the_feed_ends_when_its_reader_goes() {
    if !common::is_root() {
        println!("skipped: the deaths feed needs root");
        return;
    }
    use std::io::BufRead;
    let mut feed = common::afterlife()
        .args(["deaths", "--json", "--duration", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = feed.id();
    // Ready once it says which source it runs on.
    let mut errors = std::io::BufReader::new(feed.stderr.take().unwrap());
    let mut said = String::new();
    errors.read_line(&mut said).unwrap();
    assert!(said.contains("deaths from"), "{said}");
    // One death read, as `| head -1` would, then the pipe is closed.
    let mut reader = std::io::BufReader::new(feed.stdout.take().unwrap());
    exit_with(1);
    let mut line = String::new();
    assert!(reader.read_line(&mut line).unwrap() > 0);
    drop(reader);
    // The next write fails with EPIPE and the feed ends.
    let ended = common::wait_until(Duration::from_secs(20), || {
        exit_with(2);
        matches!(feed.try_wait(), Ok(Some(_)))
    });
    if !ended {
        let _ = feed.kill();
    }
    let status = feed.wait().unwrap();
    assert!(ended, "the feed {pid} went on after its reader left");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_duration_past_the_clock_is_no_limit() {
    // 1e300 s does not fit the monotonic clock: no limit, as 0 and inf,
    // not a panic. The feed runs until it is interrupted.
    let mut feed = Command::new(env!("CARGO_BIN_EXE_afterlife"))
        .args(["deaths", "--duration", "1e300", "--pid", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Ready (SIGINT handled) once it says which source it runs on; a
    // loaded machine may take longer than any fixed pause to get there.
    use std::io::BufRead;
    let mut errors = std::io::BufReader::new(feed.stderr.take().unwrap());
    let mut stderr = String::new();
    errors.read_line(&mut stderr).unwrap();
    assert!(stderr.contains("deaths from"), "{stderr}");
    std::thread::sleep(Duration::from_millis(300));
    let still = feed.try_wait().unwrap().is_none();
    common::send_signal(feed.id() as i32, libc::SIGINT);
    let status = feed.wait().unwrap();
    errors.read_to_string(&mut stderr).unwrap();
    assert!(still, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// Deaths that could not be written are not counted as shown: with stdout
/// full, the feed ends with an error (125) and "0 shown".
#[test]
fn deaths_that_could_not_be_written_are_not_counted_as_shown() {
    if !common::is_root() {
        println!("skipped: the deaths feed needs root");
        return;
    }
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let child = common::afterlife()
        .args(["deaths", "--duration", "4s"])
        .stdout(full)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        exit_with(0);
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let err = common::stderr(&output);
    assert!(err.contains(" 0 shown"), "{err}");
    if err.contains(" 0 deaths seen") {
        println!("skipped: the feed saw no death while it ran");
        return;
    }
    assert_eq!(output.status.code(), Some(125), "{err}");
}
