//! A zombie held by its tracer, built for real: a shell starts a child and
//! waits for it (a parent that would reap it at once), a python3 tracer
//! `PTRACE_SEIZE`s that child and never waits, then the child exits with a
//! known code. A traced process that exits is reported to its tracer first
//! and stays a zombie until the tracer waits for it or detaches; the parent
//! is not even told until then.
//!
//! Dropping it ends the tracer first (its exit detaches, the parent is told
//! and reaps the zombie), then the shell, both by the PIDs the test started.

use std::time::{Duration, Instant};

use super::{Fixture, Py, Scratch, comm, release, wait_until};

pub struct TracedZombie {
    /// Dropped first: the tracer lets go of the zombie.
    pub tracer: Py,
    /// The shell that waits for the zombie.
    pub parent: Fixture,
    /// The zombie's PID.
    pub zombie: i32,
    /// Taken just before the child was told to exit: the zombie is younger.
    pub released_at: Instant,
    _scratch: Scratch,
}

impl TracedZombie {
    pub fn start(name: &str, code: u8) -> TracedZombie {
        let scratch = Scratch::new(name);
        let fifo = scratch.fifo("go");
        let parent = Fixture::start(&format!(
            "( read x < '{}'; exit {code} ) & echo $!; wait $!",
            fifo.display()
        ));
        let zombie = parent.reported;
        let tracer = Py::start(&format!(
            r#"
PTRACE_SEIZE = 0x4206
libc.ptrace.restype = ctypes.c_long
r = libc.ptrace(ctypes.c_long(PTRACE_SEIZE), ctypes.c_int({zombie}), None, None)
report(ok=(r == 0), errno=ctypes.get_errno())
sys.stdin.read()
"#
        ));
        assert_eq!(tracer.facts["ok"], true, "PTRACE_SEIZE failed: {}", tracer.facts);
        let released_at = Instant::now();
        release(&fifo);
        assert!(
            wait_until(Duration::from_secs(20), || {
                std::fs::read_to_string(format!("/proc/{zombie}/stat")).is_ok_and(|s| s.contains(") Z "))
            }),
            "process {zombie} did not become a zombie"
        );
        TracedZombie {
            tracer,
            parent,
            zombie,
            released_at,
            _scratch: scratch,
        }
    }

    pub fn tracer_pid(&self) -> i32 {
        self.tracer.pid()
    }

    /// The tracer's name (`comm`): `python3`, or `python3.11` where
    /// `python3` is a link to the versioned interpreter.
    pub fn tracer_name(&self) -> String {
        comm(self.tracer_pid())
    }

    pub fn parent_pid(&self) -> i32 {
        self.parent.child.id() as i32
    }
}
