//! FUSE servers for tests: a filesystem whose server answers on
//! `/dev/fuse` itself (no libfuse needed), mounted for the life of a
//! [`FuseMount`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{Scratch, is_root, state, wait_until};

/// A FUSE server speaking the kernel protocol on /dev/fuse itself (no
/// libfuse needed): it answers INIT, answers every other request at once
/// (ENOENT, ENOSYS) so that tools scanning mounts never hang on it, and
/// never answers a LOOKUP of `hold`.
pub const FUSE_SERVER: &str = r#"
import ctypes, os, struct, sys
fd = os.open("/dev/fuse", os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
opts = b"fd=%d,rootmode=40000,user_id=0,group_id=0" % fd
if libc.mount(b"afterlife-test", sys.argv[1].encode(), b"fuse.afterlifetest", 0, opts) != 0:
    sys.exit("mount failed: errno %d" % ctypes.get_errno())
def reply(unique, error, body=b""):
    try:
        os.write(fd, struct.pack("<IiQ", 16 + len(body), error, unique) + body)
    except OSError:
        pass
while True:
    data = os.read(fd, 1 << 20)
    length, opcode, unique = struct.unpack_from("<IIQ", data, 0)
    body = data[40:]
    if opcode == 26:
        minor = struct.unpack_from("<II", body, 0)[1]
        reply(unique, 0, struct.pack("<IIIIHHIIHHII", 7, min(minor, 31), 0, 0, 1, 1, 4096, 0, 1, 0, 0, 0) + bytes(24))
        print("ready", flush=True)
    elif opcode == 1 and body.split(b"\0")[0] == b"hold":
        print("held", flush=True)
    elif opcode in (2, 36, 42):
        pass
    else:
        reply(unique, -2 if opcode == 1 else -38)
"#;

/// The FUSE server and its mount; on drop the server is killed (which
/// aborts the connection and fails every waiting request) and the mount
/// detached.
pub struct FuseMount {
    pub server: Child,
    lines: BufReader<std::process::ChildStdout>,
    mount_point: PathBuf,
}

impl FuseMount {
    /// Makes the directory `name` in `scratch`, starts `script` (Python,
    /// given that mount point) and waits for its `ready`; `None` (with a
    /// printed reason) without root or `/dev/fuse`, or where it could not
    /// mount.
    pub fn start(script: &str, scratch: &Scratch, name: &str) -> Option<FuseMount> {
        if !is_root() || !Path::new("/dev/fuse").exists() {
            println!("skipped: needs root and /dev/fuse to mount a FUSE filesystem");
            return None;
        }
        let mount_point = scratch.path().join(name);
        std::fs::create_dir(&mount_point).unwrap();
        let mut server = Command::new("python3")
            .args(["-c", script])
            .arg(&mount_point)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        let mut lines = BufReader::new(server.stdout.take()?);
        let mut line = String::new();
        let _ = lines.read_line(&mut line);
        if line.trim() != "ready" {
            let _ = server.kill();
            let output = server.wait_with_output().ok()?;
            println!(
                "skipped: the FUSE server did not start: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            return None;
        }
        Some(FuseMount {
            server,
            lines,
            mount_point,
        })
    }

    /// Where it is mounted.
    pub fn mount_point(&self) -> &Path {
        &self.mount_point
    }

    /// The next line the server prints.
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        let _ = self.lines.read_line(&mut line);
        line.trim().to_string()
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = Command::new("umount").arg("-l").arg(&self.mount_point).status();
    }
}

/// A server that mounts and never reads `/dev/fuse`: the connection never
/// gets its INIT answer, so every request waits in `fuse_get_req` for it,
/// in a killable wait (state D; SIGKILL ends it, and so does a fatal
/// signal).
pub const FUSE_NEVER_READY: &str = r#"
import ctypes, os, sys, time
fd = os.open("/dev/fuse", os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
opts = b"fd=%d,rootmode=40000,user_id=0,group_id=0" % fd
if libc.mount(b"afterlife-test", sys.argv[1].encode(), b"fuse.afterlifetest", 0, opts) != 0:
    sys.exit("mount failed: errno %d" % ctypes.get_errno())
print("ready", flush=True)
time.sleep(600)
"#;

/// Starts `stat PATH`, its output thrown away: a FUSE client for the tests
/// to hold in the kernel.
pub fn stat_client(path: &Path) -> Child {
    Command::new("stat")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits up to 10 s for `pid` to sleep in D in kernel function `wchan`.
pub fn sleeps_in(pid: i32, wchan: &str) -> bool {
    wait_until(std::time::Duration::from_secs(10), || {
        state(pid) == Some('D')
            && std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.trim() == wchan)
    })
}
