//! The keeper: a small process forked from afterlife that outlives it just
//! long enough to end the tree if afterlife itself is killed, even by
//! SIGKILL, which no code in afterlife can catch.
//!
//! - With a cgroup, the keeper only holds `cgroup.kill` open and waits on a
//!   pipe whose only write end afterlife holds: end of file means afterlife
//!   is gone, so it writes `1` to `cgroup.kill`.
//! - With a PID namespace, the keeper is the namespace's init (PID 1). It
//!   starts the command and reaps every orphan; when it dies the kernel
//!   SIGKILLs everything else in the namespace (pid_namespaces(7)). It has
//!   `PR_SET_PDEATHSIG` = SIGKILL as well as the pipe, unless the command
//!   has a death signal to handle first (below).
//! - With a cgroup and the privilege for a PID namespace, both: the keeper
//!   is the init of a namespace whose processes all live in the leaf (the
//!   keeper itself stays outside it). It does not start the command:
//!   afterlife does, as its own child, born into the namespace (a process
//!   forked after `unshare(CLONE_NEWPID)` joins the namespace whose init was
//!   forked first) and into the leaf, so no report has to cross a pipe
//!   before the command runs or after it ends. The keeper reaps the orphans
//!   the namespace gives it; on end of file it writes `1` to `cgroup.kill`
//!   and removes the leaf once empty, then exits; if it is killed together
//!   with afterlife (an OOM kill of both, `kill -9` of both), its death still
//!   ends the namespace, and the empty leaf is removed by the next
//!   afterlife. No `PR_SET_PDEATHSIG` here, so that end of file is handled.
//! - With a subreaper, the keeper sets `PR_SET_CHILD_SUBREAPER`, so every
//!   orphan in the tree (double forks, `setsid` daemons) is reparented to it
//!   and stays findable as its descendant; on end of file it freezes and
//!   kills them all.
//!
//! When `timeout` dies and the command has a death signal other than
//! SIGKILL (`-s`'s, which coreutils' timeout also passes on when it is
//! killed itself), the command gets it and the tree gets the grace period
//! (`-k`, else 5 s) to end on it before the keeper ends what is left (`run`
//! ends the tree at once): a reaper keeper sends it and reaps until it has no child left;
//! with a leaf (where the kernel sends it through the command's
//! `PR_SET_PDEATHSIG`) the keeper waits for `cgroup.events` to read
//! `populated 0`.
//!
//! The cgroup watch makes only async-signal-safe calls after the fork. The
//! reaper roles run ordinary code (they start the command with
//! `std::process::Command`), which is sound because afterlife is
//! single-threaded when it forks.
//!
//! The pipes speak lines (keeper to afterlife: `pid N`, `spawn-error ERRNO`,
//! `stopped SIGNAL`, `exit RAW`) and bytes (afterlife to keeper: `a` the PID was taken, `k`
//! keep the leftovers running, `d` all done).

use std::io::{self, BufRead, BufReader};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::process::WaitOptions;

use crate::process::{Pid, Process};
use crate::signal::Signal;
use crate::supervise::signals::ChildSetup;
use crate::supervise::sweep;
use crate::sys::linux::process::{self as sys_process, Forked};

/// What the keeper does.
#[derive(Debug)]
pub enum Role<'a> {
    /// End the leaf's tree if afterlife dies.
    CgroupWatch(LeafWatch<'a>),
    /// The same, as the init of the new PID namespace the tree lives in,
    /// reaping the orphans it is given meanwhile.
    NamespaceInit(LeafWatch<'a>),
    /// Start the command and reap the tree, as namespace init (`pidns`) or as
    /// child subreaper.
    Reaper {
        /// Whether the keeper is the init of a new PID namespace.
        pidns: bool,
        /// The command.
        command: &'a mut std::process::Command,
        /// What the command does before exec.
        setup: ChildSetup,
    },
}

/// The leaf files a keeper uses after afterlife died, named before the fork.
#[derive(Debug, Clone, Copy)]
pub struct LeafWatch<'a> {
    /// `cgroup.kill`, open for writing.
    pub kill: &'a OwnedFd,
    /// The leaf, removed once empty (a C string made before the fork).
    pub path: &'a std::ffi::CStr,
    /// The leaf's `cgroup.events` (a C string made before the fork).
    pub events: &'a std::ffi::CStr,
    /// How long the tree gets to end on the death signal the command got
    /// from afterlife's death (`PR_SET_PDEATHSIG`); zero when that signal
    /// is SIGKILL or none.
    pub grace: Duration,
}

impl LeafWatch<'_> {
    /// Closes the descriptors of afterlife's that the fork copied (its
    /// signalfd, fanotify group, pidfds, the sender program's BPF link)
    /// but the two pipes and `cgroup.kill`: the keeper
    /// then keeps nothing of afterlife's alive after afterlife let it go,
    /// and its exit has nothing of afterlife's to release. Only for the
    /// cgroup roles: a reaper keeper starts the command, which inherits
    /// what afterlife was given.
    fn close_others(&self, control: &OwnedFd, reports: &OwnedFd) {
        use std::os::fd::AsRawFd;
        crate::sys::linux::fd::close_all_but([control.as_raw_fd(), reports.as_raw_fd(), self.kill.as_raw_fd()]);
    }

    /// afterlife died, and the command got its death signal from the
    /// kernel: the grace, then `cgroup.kill` and the leaf's removal. Only
    /// async-signal-safe calls.
    fn end_tree(self) {
        wait_unpopulated(self.events, self.grace);
        kill_and_remove(self.kill, self.path);
    }
}

/// afterlife's side of the keeper.
#[derive(Debug)]
pub struct Keeper {
    process: Process,
    control: Option<OwnedFd>,
    reports: Option<BufReader<std::fs::File>>,
}

/// What the keeper said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The command started with this PID (as the keeper sees it).
    Started(i32),
    /// Starting the command failed with this errno.
    SpawnError(i32),
    /// The command ended with this raw wait status.
    Exited(i32),
    /// The command was stopped by this signal.
    Stopped(i32),
    /// Told to keep the leftovers, the keeper no longer dies with
    /// afterlife (its `PR_SET_PDEATHSIG` is cleared).
    Keeping,
}

/// Parses one report line.
pub fn parse_report(line: &str) -> Option<Report> {
    let (word, value) = line.trim().split_once(' ')?;
    let value: i32 = value.parse().ok()?;
    match word {
        "pid" => Some(Report::Started(value)),
        "spawn-error" => Some(Report::SpawnError(value)),
        "exit" => Some(Report::Exited(value)),
        "stopped" => Some(Report::Stopped(value)),
        "keeping" => Some(Report::Keeping),
        _ => None,
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(io::Error::from)
}

impl Keeper {
    /// Forks the keeper. For `pidns`, the caller has already called
    /// `unshare(CLONE_NEWPID)`, so the fork is the namespace's PID 1.
    pub fn start(role: Role<'_>) -> io::Result<Keeper> {
        let (control_read, control_write) = pipe()?;
        let (report_read, report_write) = pipe()?;
        let parent = Pid::current().get();
        // SAFETY: the cgroup watch makes only async-signal-safe calls after
        // the fork; the reaper roles run ordinary code, which is sound in a
        // single-threaded caller such as the afterlife binary (see
        // `Supervisor::run`). The child never returns from `keeper_main`.
        let pid = match unsafe { sys_process::fork() }? {
            Forked::Child => {
                drop(control_write);
                drop(report_read);
                keeper_main(role, parent, control_read, report_write);
            }
            Forked::Parent(pid) => pid,
        };
        drop(control_read);
        drop(report_write);
        let pid = Pid::new(pid).ok_or_else(|| io::Error::other("fork returned a bad PID"))?;
        // Our own unreaped child: its PID cannot change hands.
        let process = Process::open_own_child(pid).map_err(io::Error::other)?;
        Ok(Keeper {
            process,
            control: Some(control_write),
            reports: Some(BufReader::new(std::fs::File::from(report_read))),
        })
    }

    /// The keeper process.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// The pipe the keeper's reports arrive on, to poll.
    pub fn reports_fd(&self) -> Option<BorrowedFd<'_>> {
        self.reports.as_ref().map(|r| r.get_ref().as_fd())
    }

    /// Reads the next report, blocking; `None` when the keeper is gone.
    pub fn next_report(&mut self) -> Option<Report> {
        let reader = self.reports.as_mut()?;
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => {
                self.reports = None;
                None
            }
            Ok(_) => parse_report(&line),
        }
    }

    /// Tells the keeper something.
    pub fn tell(&mut self, byte: u8) {
        if let Some(control) = &self.control {
            // EPIPE: the keeper is gone already.
            let _ = rustix::io::write(control, &[byte]);
        }
    }

    /// Tells the keeper all is done (`keep`: the leftovers stay, and it
    /// stays to reap them); it exits on its own.
    pub fn dismiss(&mut self, keep: bool) {
        self.tell(if keep { b'k' } else { b'd' });
        self.control = None;
    }

    /// Reaps a dismissed keeper; one told to keep the leftovers is waited
    /// for until it says it no longer dies with afterlife, so that the
    /// leftovers of a PID namespace outlive us.
    pub fn finish(mut self, keep: bool) {
        if keep {
            self.await_keeping(Duration::from_secs(2));
            return;
        }
        if !self.reap(Duration::from_secs(1)) {
            // It exits at once on `d`; not within a second means it hangs.
            let _ = self.process.signal(crate::signal::Signal::KILL);
            self.reap(Duration::from_secs(1));
        }
    }

    /// Reads reports until `Keeping`, the keeper's end, or `limit`.
    fn await_keeping(&mut self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let Some(fd) = self.reports_fd() else { return };
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            let spec = rustix::event::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            // EINTR: poll again with what is left.
            if !matches!(rustix::event::poll(&mut fds, Some(&spec)), Ok(n) if n > 0) {
                continue;
            }
            match self.next_report() {
                Some(Report::Keeping) => return,
                Some(_) => continue,
                // The keeper is gone (a cgroup watch exits on `k`).
                None => {
                    if self.reports.is_none() {
                        return;
                    }
                }
            }
        }
    }

    /// Waits up to `limit` for the keeper to exit and reaps it (our own
    /// child, through its pidfd); whether it was reaped.
    fn reap(&self, limit: Duration) -> bool {
        use rustix::process::{WaitId, WaitIdOptions};
        let pidfd = self.process.pidfd();
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        let spec = rustix::event::Timespec {
            tv_sec: limit.as_secs() as i64,
            tv_nsec: i64::from(limit.subsec_nanos()),
        };
        // EINTR: the waitid below then finds it not yet exited.
        let _ = rustix::event::poll(&mut fds, Some(&spec));
        matches!(
            rustix::process::waitid(
                WaitId::PidFd(self.process.pidfd()),
                WaitIdOptions::EXITED | WaitIdOptions::NOHANG
            ),
            Ok(Some(_))
        )
    }
}

fn write_line(fd: &OwnedFd, line: &str) {
    // Lines are far below PIPE_BUF, so each write is whole (pipe(7)).
    // EPIPE: afterlife is gone; the loop below notices.
    let _ = rustix::io::write(fd, line.as_bytes());
}

fn quiet_stdio() {
    // Reopens /dev/null onto 0, 1, 2 of this process only, so the keeper
    // holds no pipe a caller waits to close. System calls only (no
    // allocation): async-signal-safe.
    use rustix::fs::{Mode, OFlags};
    if let Ok(null) = rustix::fs::open(c"/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}

fn keeper_main(role: Role<'_>, parent: libc::pid_t, control: OwnedFd, reports: OwnedFd) -> ! {
    // A process group of its own keeps the keeper out of a kill aimed at
    // afterlife's group (`kill -KILL -PGID`), which it must outlive.
    let _ = rustix::thread::set_name(c"afterlife-keep");
    let _ = rustix::process::setpgid(None, None);
    let code = match role {
        Role::CgroupWatch(leaf) => {
            quiet_stdio();
            leaf.close_others(&control, &reports);
            let byte = read_control(&control);
            if !matches!(byte, Some(b'd') | Some(b'k')) {
                // End of file: afterlife died.
                leaf.end_tree();
            }
            0
        }
        Role::NamespaceInit(leaf) => {
            quiet_stdio();
            leaf.close_others(&control, &reports);
            namespace_init(leaf, &control, &reports)
        }
        Role::Reaper { pidns, command, setup } => reaper(pidns, command, setup, parent, &control, &reports),
    };
    // Leave without running afterlife's exit handlers or flushing its
    // buffers a second time.
    sys_process::exit_now(code)
}

/// Kills the whole tree through `cgroup.kill`, then removes the leaf once
/// the kernel has emptied it. Only async-signal-safe calls (write, rmdir,
/// nanosleep), so it is safe after a fork even from a multi-threaded
/// program.
fn kill_and_remove(kill: &OwnedFd, path: &std::ffi::CStr) {
    let _ = crate::supervise::cgroup_leaf::write_kill(kill);
    let pause = rustix::thread::Timespec {
        tv_sec: 0,
        tv_nsec: 5_000_000,
    };
    // At most 2 s (400 x 5 ms).
    for _ in 0..400 {
        if rustix::fs::rmdir(path).is_ok() {
            break;
        }
        let _ = rustix::thread::nanosleep(&pause);
    }
}

/// Waits up to `grace` for the leaf's `cgroup.events` to read
/// `populated 0`. Only async-signal-safe calls (open, read, close,
/// clock_gettime, nanosleep), as in [`kill_and_remove`].
fn wait_unpopulated(events: &std::ffi::CStr, grace: Duration) {
    let now = || {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    };
    let start = now();
    let pause = rustix::thread::Timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    while now().saturating_sub(start) < grace {
        let mut buf = [0u8; 128];
        use rustix::fs::{Mode, OFlags};
        let Ok(fd) = rustix::fs::open(events, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
            return;
        };
        let read = rustix::io::read(&fd, &mut buf).unwrap_or(0);
        drop(fd);
        if read == 0 || unpopulated(&buf[..read]) {
            return;
        }
        let _ = rustix::thread::nanosleep(&pause);
    }
}

/// Whether a `cgroup.events` text says `populated 0`. Pure, no allocation.
fn unpopulated(events: &[u8]) -> bool {
    events.split(|&b| b == b'\n').any(|line| line == b"populated 0")
}

/// Waits for a child to end (SIGCHLD) or, until the keeper keeps the
/// leftovers, for a word on the control pipe; whether the control pipe has
/// one. Once keeping, the control pipe is closed (it would poll ready for
/// ever): only SIGCHLD matters.
fn wait_child_or_control(sigchld: &crate::supervise::signals::SignalInbox, control: &OwnedFd, keeping: bool) -> bool {
    let listened = if keeping { 1 } else { 2 };
    let mut fds = [
        PollFd::new(sigchld.fd(), PollFlags::IN),
        PollFd::new(control, PollFlags::IN),
    ];
    if let Err(rustix::io::Errno::INTR) | Ok(_) = rustix::event::poll(&mut fds[..listened], None) {}
    sigchld.drain();
    !keeping && !fds[1].revents().is_empty()
}

fn read_control(control: &OwnedFd) -> Option<u8> {
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(control, &mut byte) {
            Ok(1) => return Some(byte[0]),
            Ok(_) => return None,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// The init of the tree's namespace: reaps every orphan until afterlife
/// says `d` (all done: its exit ends the namespace, empty by then), `k`
/// (keep the leftovers: it reaps them until none is left, then exits), or
/// dies (end of file: [`LeafWatch::end_tree`]).
fn namespace_init(leaf: LeafWatch<'_>, control: &OwnedFd, reports: &OwnedFd) -> i32 {
    let Ok(sigchld) = crate::supervise::signals::SignalInbox::open() else {
        return 125;
    };
    let mut keeping = false;
    loop {
        if reap_ended() && keeping {
            return 0;
        }
        if !wait_child_or_control(&sigchld, control, keeping) {
            continue;
        }
        match read_control(control) {
            Some(b'k') => {
                keeping = true;
                write_line(reports, "keeping 0\n");
            }
            Some(b'd') => return 0,
            Some(_) => {}
            None => {
                leaf.end_tree();
                return 0;
            }
        }
    }
}

/// Reaps every child that has ended; whether none is left.
fn reap_ended() -> bool {
    loop {
        match wait_own(None, WaitOptions::empty()) {
            Waited::Ended(..) => continue,
            Waited::NoChild => return true,
            Waited::Nothing => return false,
        }
    }
}

fn reaper(
    pidns: bool,
    command: &mut std::process::Command,
    mut setup: ChildSetup,
    parent: libc::pid_t,
    control: &OwnedFd,
    reports: &OwnedFd,
) -> i32 {
    // With a death signal the command gets time to handle, end of file is
    // handled instead (see the module docs).
    let death = setup.death_signal.map_or(libc::SIGKILL, Signal::number);
    let handles_eof = death != 0 && death != libc::SIGKILL && !setup.death_grace.is_zero();
    if pidns && !handles_eof {
        let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    }
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    // afterlife may have died before the prctl took effect. (From inside a
    // new PID namespace the parent shows as 0.)
    let expected = if pidns { 0 } else { parent };
    if rustix::process::Pid::as_raw(rustix::process::getppid()) != expected {
        return 125;
    }
    setup.parent = Some(Pid::current().get());
    let (death_signal, death_grace) = (setup.death_signal, setup.death_grace);
    setup.install(command);
    let command_pid = match command.spawn() {
        // Reaped below by its PID (dropping a `Child` does not wait).
        Ok(child) => child.id() as libc::pid_t,
        Err(error) => {
            write_line(reports, &format!("spawn-error {}\n", error.raw_os_error().unwrap_or(0)));
            return 0;
        }
    };
    write_line(reports, &format!("pid {command_pid}\n"));
    // After the report, so that afterlife goes on at once.
    quiet_stdio();
    let mut ending = Ending {
        command: command_pid,
        alive: true,
        signal: death_signal,
        grace: death_grace,
    };
    // Reap nothing until afterlife has opened its pidfd for the command.
    match read_control(control) {
        Some(b'a') => {}
        other => return after_control(other, pidns, ending),
    }
    let Ok(sigchld) = crate::supervise::signals::SignalInbox::open() else {
        return 125;
    };
    let mut keeping = false;
    let mut command_alive = true;
    loop {
        if command_alive {
            // A stop (Ctrl+Z) is passed on so that afterlife stops as a
            // shell's job would.
            match wait_own(Some(command_pid), WaitOptions::UNTRACED) {
                Waited::Ended(_, status) if status.stopped() => {
                    let signal = status.stopping_signal().unwrap_or(0);
                    write_line(reports, &format!("stopped {signal}\n"));
                }
                Waited::Ended(_, status) => {
                    command_alive = false;
                    write_line(reports, &format!("exit {}\n", status.as_raw()));
                }
                Waited::Nothing | Waited::NoChild => {}
            }
        }
        // Reap everything else that has ended.
        loop {
            match wait_own(None, WaitOptions::empty()) {
                Waited::Ended(pid, status) if pid == command_pid => {
                    command_alive = false;
                    write_line(reports, &format!("exit {}\n", status.as_raw()));
                }
                Waited::Ended(..) => continue,
                Waited::NoChild if keeping => return 0,
                Waited::NoChild | Waited::Nothing => break,
            }
        }
        if wait_child_or_control(&sigchld, control, keeping) {
            match read_control(control) {
                Some(b'k') => {
                    keeping = true;
                    let _ = rustix::process::set_parent_process_death_signal(None);
                    write_line(reports, "keeping 0\n");
                }
                Some(b'a') => {}
                other => {
                    ending.alive = command_alive;
                    return after_control(other, pidns, ending);
                }
            }
        }
    }
}

/// What a non-blocking wait for the keeper's own children found.
enum Waited {
    /// This child changed state (ended, or stopped when asked).
    Ended(libc::pid_t, rustix::process::WaitStatus),
    /// None has (or the wait was interrupted).
    Nothing,
    /// No child is left (`ECHILD`).
    NoChild,
}

/// `waitpid(pid or -1, options | WNOHANG)` on the keeper's own children.
/// (rustix's `waitpid(None)` is `waitpid(0)`, the caller's process group
/// only; `wait` is -1, any child.)
fn wait_own(pid: Option<libc::pid_t>, options: WaitOptions) -> Waited {
    let options = options | WaitOptions::NOHANG;
    let waited = match pid.and_then(rustix::process::Pid::from_raw) {
        Some(pid) => rustix::process::waitpid(Some(pid), options),
        None => rustix::process::wait(options),
    };
    match waited {
        Ok(Some((pid, status))) => Waited::Ended(pid.as_raw_nonzero().get(), status),
        Err(rustix::io::Errno::CHILD) => Waited::NoChild,
        Ok(None) | Err(_) => Waited::Nothing,
    }
}

/// What the keeper knows of the command, to pass afterlife's death on.
#[derive(Debug, Clone, Copy)]
struct Ending {
    /// The command, the keeper's own child.
    command: libc::pid_t,
    /// Whether it is still unreaped (its PID still names it).
    alive: bool,
    /// The signal it gets when afterlife dies (`timeout -s`'s; `None`:
    /// SIGKILL; [`Signal::NULL`]: none).
    signal: Option<Signal>,
    /// How long the tree gets to end on it.
    grace: Duration,
}

impl Ending {
    /// afterlife died: the command gets its signal, as coreutils' timeout
    /// gives it when it is killed itself, and the tree gets the grace
    /// period to end on it; the keeper reaps meanwhile, and stops waiting
    /// when it has no child left (every process of the tree comes to it: it
    /// is their namespace's init or their subreaper). Whatever is left is
    /// then killed by the caller.
    fn give_grace(self) {
        let number = self.signal.map_or(libc::SIGKILL, Signal::number);
        if number == 0 || number == libc::SIGKILL || self.grace.is_zero() {
            return;
        }
        if self.alive {
            // The keeper's own unreaped child: its PID names it still.
            let _ = sys_process::signal_own_child(self.command, number);
        }
        let deadline = crate::duration::Deadline::after(self.grace);
        loop {
            match wait_own(None, WaitOptions::empty()) {
                Waited::Ended(..) => continue,
                Waited::NoChild => return,
                Waited::Nothing if deadline.passed() => return,
                Waited::Nothing => {}
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `d`: all done. End of file: afterlife died, so the command gets its
/// signal and the tree its grace ([`Ending::give_grace`]), then the tree is
/// ended (a namespace init's exit does it by itself; a subreaper freezes
/// and kills).
fn after_control(byte: Option<u8>, pidns: bool, ending: Ending) -> i32 {
    if byte != Some(b'd') {
        ending.give_grace();
    }
    if byte != Some(b'd') && !pidns {
        let me = Pid::current();
        sweep::freeze_and_kill(|| sweep::descendants(me));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_events_say_when_the_leaf_is_empty() {
        assert!(unpopulated(b"populated 0\nfrozen 0\n"));
        assert!(!unpopulated(b"populated 1\nfrozen 0\n"));
        assert!(!unpopulated(b""));
    }

    #[test]
    fn parses_reports() {
        assert_eq!(parse_report("pid 42\n"), Some(Report::Started(42)));
        assert_eq!(parse_report("spawn-error 2\n"), Some(Report::SpawnError(2)));
        assert_eq!(parse_report("exit 256\n"), Some(Report::Exited(256)));
        assert_eq!(parse_report("stopped 20\n"), Some(Report::Stopped(20)));
        assert_eq!(parse_report("keeping 0\n"), Some(Report::Keeping));
        assert_eq!(parse_report("exit x\n"), None);
        assert_eq!(parse_report("hello 1\n"), None);
    }
}
