//! The BPF `task_file` iterator that `holds` uses for sockets, checked
//! against /proc: the records of this process's own sockets, the holders it
//! finds for a real listener compared with the /proc walk's, and a cached
//! set of BTF offsets that is wrong being noticed and rebuilt. One test, so
//! that nothing else touches the cache meanwhile.

mod common;

use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use afterlife::resources::bpf_iter;
use common::afterlife;

fn holds_json(port: u16, proc_walk: bool) -> serde_json::Value {
    let mut command = afterlife();
    command.args(["--json", "holds", &format!("tcp:{port}")]);
    if proc_walk {
        command.env("AFTERLIFE_PROC_WALK", "1");
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", common::stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_iterator_agrees_with_proc() {
    if bpf_iter::open_files().is_none() {
        println!("skipped: the BPF task_file iterator cannot run here (needs root, BTF, the initial PID namespace)");
        return;
    }
    // Our own listener: its record has our PID, its fd, its inode.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = listener.as_raw_fd();
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap());
    let files = bpf_iter::open_files().unwrap();
    let me = std::process::id() as i32;
    let found = files.iter().find(|f| f.pid == me && f.fd == fd).expect("our listener");
    assert_eq!(found.inode, inode);
    assert!(found.is_socket());

    // A child that inherited the listener: both paths name the same holders,
    // with the same fds and explanations.
    let port = listener.local_addr().unwrap().port();
    let mut holder = {
        use std::os::unix::process::CommandExt;
        let raw = listener.as_raw_fd();
        let mut command = Command::new("sleep");
        command.arg("30").stdin(Stdio::null()).stdout(Stdio::null());
        // SAFETY: dup2 and fcntl are async-signal-safe; the listener's fd is
        // valid in the child.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(raw, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command.spawn().unwrap()
    };
    let with_bpf = holds_json(port, false);
    let with_proc = holds_json(port, true);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(with_bpf, with_proc);
    let text = with_bpf.to_string();
    assert!(text.contains(&holder.id().to_string()), "{text}");

    // A cache that lies is noticed, removed and rebuilt from BTF.
    let Some(cached) = std::fs::read_dir("/run/afterlife")
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok().map(|e| e.path())))
    else {
        println!("skipped the cache check: /run/afterlife holds no cache here");
        return;
    };
    let good = std::fs::read_to_string(&cached).unwrap();
    let mut numbers: Vec<i64> = good.split_whitespace().map(|w| w.parse().unwrap()).collect();
    // Swap i_ino and i_mode: a program that loads, reading the wrong fields.
    numbers.swap(5, 6);
    let bad: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    std::fs::write(&cached, bad.join(" ") + "\n").unwrap();
    let files = bpf_iter::open_files().expect("rebuilt from BTF");
    assert!(files.iter().any(|f| f.pid == me && f.fd == fd && f.inode == inode));
    assert_eq!(std::fs::read_to_string(&cached).unwrap(), good);
}
