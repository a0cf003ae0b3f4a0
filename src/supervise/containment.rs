//! Containment: how the supervised tree is held together so that all of it
//! can be found and ended, whatever its processes do.
//!
//! The strongest the machine allows is chosen, in this order:
//!
//! 1. **cgroup**: a new cgroup v2 leaf ([`super::cgroup_leaf`]); the command
//!    starts in it (`spawn`: `clone3(CLONE_INTO_CGROUP)`, or a move
//!    before `exec`), every descendant stays in it, and `cgroup.kill` ends
//!    them all at once. With the privilege for a PID namespace
//!    (`CAP_SYS_ADMIN`, in the initial PID namespace) the tree gets one too,
//!    inside the leaf, whose init is the keeper (the command is still
//!    afterlife's own child, forked after the keeper into its namespace):
//!    then even when afterlife and the keeper are SIGKILLed at the same
//!    moment (an OOM kill of both), the kernel ends the whole tree with its
//!    init. Without it, afterlife itself is a child subreaper, so
//!    double-forked daemons are reparented to it and their escape can be
//!    told, and the keeper only watches.
//! 2. **pidns**: a new PID namespace (`unshare(CLONE_NEWPID)`, needs
//!    `CAP_SYS_ADMIN`) whose init is the keeper ([`super::keeper`]); every
//!    descendant lives in it, and they all die with its init.
//! 3. **subreaper**: the keeper is a child subreaper
//!    (`PR_SET_CHILD_SUBREAPER`, Linux 3.4): orphans are reparented to it
//!    rather than to init, so the tree stays its descendants, ended by
//!    freeze-then-kill ([`super::sweep`]).
//!
//! In every case a keeper process ends the tree if afterlife is killed.
//! What stays unguarded when afterlife and its keeper die together: a cgroup
//! leaf without a PID namespace (no privilege, or afterlife itself in a
//! container's PID namespace) and a subreaper tree are left running (the
//! tree is reparented to init); a PID namespace is not. The empty leaf of a
//! dead afterlife is removed by the next one ([`super::cgroup_leaf`]).
//!
//! `unshare(CLONE_NEWPID)` changes the namespace of afterlife's next
//! children only, and while it differs from afterlife's own the kernel
//! refuses to start threads (`clone(CLONE_THREAD)`: EINVAL); afterlife goes
//! back to its own with `setns(2)` once the keeper is forked.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::process::{Pid, Process, ProcessTable, wait_any};
use crate::supervise::cgroup_leaf::{CgroupLeaf, LeafError};
use crate::supervise::keeper::{Keeper, LeafWatch, Report, Role};
use crate::supervise::signals::{ChildSetup, SETUP_FAILED_ERRNO};
use crate::supervise::{spawn, sweep};

/// Which containment to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ContainmentChoice {
    /// The strongest the machine allows.
    #[default]
    Auto,
    /// A cgroup v2 leaf, or fail.
    Cgroup,
    /// A PID namespace, or fail.
    Pidns,
    /// A child subreaper with freeze-then-kill.
    Subreaper,
}

/// The containment in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Containment {
    /// A cgroup v2 leaf.
    Cgroup,
    /// A PID namespace.
    Pidns,
    /// A child subreaper.
    Subreaper,
}

impl Containment {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Containment::Cgroup => "cgroup",
            Containment::Pidns => "pidns",
            Containment::Subreaper => "subreaper",
        }
    }
}

/// Starting the command failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The command was not found (exit 127).
    #[error("failed to run command '{command}': {reason}")]
    NotFound {
        /// The command.
        command: String,
        /// The error from exec, as strerror(3) words it.
        reason: String,
    },
    /// The command was found but could not be executed (exit 126).
    #[error("failed to run command '{command}': {reason}")]
    CannotExecute {
        /// The command.
        command: String,
        /// The error from exec, as strerror(3) words it.
        reason: String,
    },
    /// The containment asked for is not possible here (exit 125).
    #[error("cannot set up {containment} containment: {reason}")]
    Containment {
        /// Which.
        containment: &'static str,
        /// Why not.
        reason: String,
    },
    /// Another failure (exit 125).
    #[error("{0}")]
    Setup(String),
}

/// The command's main process, as afterlife watches it.
#[derive(Debug)]
pub enum Main {
    /// Our own child (cgroup): its pidfd polls readable when it ends.
    Child(Process),
    /// The keeper's child: the keeper reports its end on a pipe.
    Kept(Option<Process>),
}

impl Main {
    /// The main process's handle, if it could be opened.
    pub fn process(&self) -> Option<&Process> {
        match self {
            Main::Child(process) => Some(process),
            Main::Kept(process) => process.as_ref(),
        }
    }
}

/// The contained tree.
#[derive(Debug)]
pub struct Contained {
    kind: Containment,
    leaf: Option<CgroupLeaf>,
    keeper: Keeper,
    /// Whether the tree has a PID namespace of its own.
    pidns: bool,
    /// Once the keeper was dismissed: whether it keeps the leftovers, and
    /// whether the leaf stays.
    dismissed: Option<Kept>,
}

/// What stays once the run is over.
#[derive(Debug, Clone, Copy)]
struct Kept {
    /// The keeper stays to reap the leftovers.
    keeper: bool,
    /// The leaf stays, with leftovers in it.
    leaf: bool,
}

/// A new PID namespace for afterlife's next children, and afterlife's own
/// to go back to.
struct NewPidns {
    own: std::os::fd::OwnedFd,
}

impl NewPidns {
    /// `unshare(CLONE_NEWPID)`; the error says why not (no `CAP_SYS_ADMIN`).
    fn enter() -> Result<NewPidns, String> {
        let own = std::fs::File::open("/proc/self/ns/pid")
            .map_err(|e| format!("open /proc/self/ns/pid: {e}"))?
            .into();
        crate::sys::linux::ns::unshare_pid_namespace().map_err(|e| format!("unshare(CLONE_NEWPID): {e}"))?;
        Ok(NewPidns { own })
    }
}

impl Drop for NewPidns {
    fn drop(&mut self) {
        // setns to our own active PID namespace is always allowed with the
        // CAP_SYS_ADMIN unshare needed; it changes only the namespace of our
        // future children, so that threads work again.
        let _ = rustix::thread::move_into_link_name_space(
            self.own.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::ProcessID),
        );
    }
}

fn spawn_error(command: &str, error: io::Error) -> StartError {
    // "No such file or directory", without std's " (os error 2)".
    let text = error.to_string();
    let reason = match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let command = crate::text::escape(command).into_owned();
    match error.raw_os_error() {
        Some(libc::ENOENT) => StartError::NotFound { command, reason },
        Some(SETUP_FAILED_ERRNO) => StartError::Setup("failed to move the command into its cgroup".to_string()),
        // As timeout(1): every other exec failure is "cannot invoke".
        _ => StartError::CannotExecute { command, reason },
    }
}

/// The command, when it is the keeper's only child: the keeper forks
/// nothing else, and every other child it has is an orphan of the tree,
/// reparented to it while the command (reaped only after our `a`) is still
/// its child. Then no /proc/PID/status need be read to tell it. Pure.
fn only_child(children: &[Pid]) -> Option<Pid> {
    match children {
        [only] => Some(*only),
        _ => None,
    }
}

/// Whether the command, in a PID namespace of its own, may be given a
/// /proc of it without losing anything by its mount namespace of its own
/// ([`crate::proc::mountinfo::own_proc_fits`]): the mount table the
/// command will inherit, as `run` read it when it found its cgroup mount
/// ([`crate::proc::mountinfo::own_text`]; a mount made since then, in the
/// moment before the fork, would be as unseen as one made just after it).
fn proc_of_its_own_fits() -> bool {
    crate::proc::mountinfo::own_text().is_ok_and(crate::proc::mountinfo::own_proc_fits)
}

/// The cgroup v2 path of `pid` when it is outside `leaf` and every cgroup
/// below it; `None` inside, or once it has ended.
fn moved_to(leaf: &CgroupLeaf, pid: Pid) -> Option<String> {
    let path = crate::proc::cgroup::read(pid)
        .ok()
        .and_then(|groups| crate::proc::cgroup::v2_path(&groups))?;
    (!in_subtree(&path, leaf.cgroup().relative())).then_some(path)
}

/// Whether the cgroup `path` is `root` or below it (paths as
/// `/proc/PID/cgroup` gives them). Pure.
fn in_subtree(path: &str, root: &str) -> bool {
    let root = root.trim_end_matches('/');
    path == root || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/')) || root.is_empty()
}

/// The leaf's paths as C strings, made before the keeper's fork (after it,
/// the cgroup watch does not allocate).
struct LeafNames {
    path: std::ffi::CString,
    events: std::ffi::CString,
}

impl LeafNames {
    fn of(leaf: &CgroupLeaf) -> Result<LeafNames, StartError> {
        let c_string = |path: &std::path::Path| {
            std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| StartError::Setup(format!("the cgroup path {} holds a NUL byte", path.display())))
        };
        Ok(LeafNames {
            path: c_string(leaf.path())?,
            events: c_string(&leaf.path().join("cgroup.events"))?,
        })
    }

    /// What the keeper watches: the files, and the grace the tree gets on
    /// the command's death signal when afterlife dies (none for SIGKILL).
    fn watch<'a>(&'a self, leaf: &'a CgroupLeaf, setup: &ChildSetup) -> LeafWatch<'a> {
        let death = setup.death_signal.map_or(libc::SIGKILL, |s| s.number());
        let grace = if death == 0 || death == libc::SIGKILL || setup.death_grace.is_zero() {
            Duration::ZERO
        } else {
            setup.death_grace
        };
        LeafWatch {
            kill: leaf.kill_fd(),
            path: &self.path,
            events: &self.events,
            grace,
        }
    }
}

impl Contained {
    /// Starts `command` under the chosen containment.
    pub fn start(
        choice: ContainmentChoice,
        command: &mut std::process::Command,
        setup: ChildSetup,
    ) -> Result<(Contained, Main), StartError> {
        let name = command.get_program().to_string_lossy().into_owned();
        // A PID namespace is chosen only where the command can have a
        // /proc of it (see `start_cgroup`); asked for by name, it is given
        // all the same.
        let proc_fits = proc_of_its_own_fits();
        let auto: &[Containment] = if proc_fits {
            &[Containment::Cgroup, Containment::Pidns, Containment::Subreaper]
        } else {
            &[Containment::Cgroup, Containment::Subreaper]
        };
        let order: &[Containment] = match choice {
            ContainmentChoice::Auto => auto,
            ContainmentChoice::Cgroup => &[Containment::Cgroup],
            ContainmentChoice::Pidns => &[Containment::Pidns],
            ContainmentChoice::Subreaper => &[Containment::Subreaper],
        };
        let mut last = None;
        for &kind in order {
            let attempt = match kind {
                Containment::Cgroup => Self::start_cgroup(command, setup, &name, proc_fits),
                Containment::Pidns | Containment::Subreaper => Self::start_kept(kind, command, setup, &name, proc_fits),
            };
            match attempt {
                Err(StartError::Containment { containment, reason }) => {
                    last = Some(StartError::Containment { containment, reason });
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| StartError::Setup("no containment to try".to_string())))
    }

    /// `proc_fits`: whether the command may have a /proc of its own
    /// ([`proc_of_its_own_fits`]).
    fn start_cgroup(
        command: &mut std::process::Command,
        mut setup: ChildSetup,
        name: &str,
        proc_fits: bool,
    ) -> Result<(Contained, Main), StartError> {
        let unavailable = |e: LeafError| StartError::Containment {
            containment: "cgroup",
            reason: e.to_string(),
        };
        let leaf = CgroupLeaf::create().map_err(unavailable)?;
        let names = LeafNames::of(&leaf)?;
        let watch = names.watch(&leaf, &setup);
        // Only from the initial PID namespace, whose PIDs the kernel log's
        // OOM records carry (from inside another one a record is matched
        // by name and user only, see `cause`), and only where the command
        // can have a /proc of that namespace: with the machine's, every
        // `/proc/$$` or `/proc/<child's PID>` it read would be another
        // process's (`/proc/2` is kthreadd).
        let namespace = (crate::process::in_initial_pid_namespace() && proc_fits)
            .then(NewPidns::enter)
            .and_then(Result::ok);
        let pidns = namespace.is_some();
        // Both roles make only async-signal-safe calls after the fork, so
        // the caller's threads may still run.
        let keeper = Keeper::start(if pidns {
            Role::NamespaceInit(watch)
        } else {
            Role::CgroupWatch(watch)
        });
        let keeper = match keeper {
            Ok(keeper) => keeper,
            Err(e) => {
                drop(namespace);
                // Ours, just made and empty.
                let _ = leaf.remove();
                return Err(StartError::Setup(format!("failed to start the keeper process: {e}")));
            }
        };
        if !pidns {
            // Orphans of the tree come to us, not to init (in a namespace
            // they go to its init, the keeper). EINVAL only before Linux 3.4.
            let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
        }
        setup.cgroup_procs = Some(leaf.procs_fd().as_raw_fd());
        setup.own_proc = pidns;
        // From inside the new namespace our PID reads as 0 (the parent is
        // outside it), so that is the parent the command checks for: if we
        // die before its PR_SET_PDEATHSIG holds, the keeper ends the leaf.
        setup.parent = Some(if pidns { 0 } else { Pid::current().get() });
        setup.install(command);
        // With a namespace, our next child joins the keeper's, as its PID 2.
        let started = spawn::start(command, Some(leaf.dir_fd().as_fd()));
        drop(namespace);
        leaf.remove_stale_siblings();
        let contained = Contained {
            kind: Containment::Cgroup,
            leaf: Some(leaf),
            keeper,
            pidns,
            dismissed: None,
        };
        contained.own_child_started(started, name)
    }

    /// The command, started as our own child (cgroup containment), or the
    /// failure to start it.
    fn own_child_started(self, started: io::Result<libc::pid_t>, name: &str) -> Result<(Contained, Main), StartError> {
        let child = match started {
            Ok(child) => child,
            Err(error) => {
                let leaf_path = self.cgroup_path().unwrap_or_default();
                self.finish(false);
                // The kernel refused the move into the leaf (a cgroup type or
                // a limit we cannot see from here): a weaker containment may
                // still work.
                if error.raw_os_error() == Some(SETUP_FAILED_ERRNO) {
                    return Err(StartError::Containment {
                        containment: "cgroup",
                        reason: format!("cannot move a process into {}", leaf_path.display()),
                    });
                }
                return Err(spawn_error(name, error));
            }
        };
        let pid = Pid::new(child).ok_or_else(|| StartError::Setup("spawn returned a bad PID".to_string()));
        // Not waited through std: the pidfd reaps it.
        let process = pid.and_then(|pid| Process::open_own_child(pid).map_err(|e| StartError::Setup(e.to_string())));
        match process {
            Ok(process) => Ok((self, Main::Child(process))),
            Err(e) => {
                self.kill_all();
                self.finish(false);
                Err(e)
            }
        }
    }

    fn start_kept(
        kind: Containment,
        command: &mut std::process::Command,
        mut setup: ChildSetup,
        name: &str,
        proc_fits: bool,
    ) -> Result<(Contained, Main), StartError> {
        let pidns = kind == Containment::Pidns;
        setup.own_proc = pidns && proc_fits;
        let namespace = if pidns {
            Some(NewPidns::enter().map_err(|reason| StartError::Containment {
                containment: "pidns",
                reason,
            })?)
        } else {
            None
        };
        let keeper = Keeper::start(Role::Reaper { pidns, command, setup });
        drop(namespace);
        let keeper = keeper.map_err(|e| StartError::Setup(format!("failed to start the keeper process: {e}")))?;
        Self::kept_started(kind, None, keeper, name)
    }

    /// The keeper has started the command (or failed to): its first report.
    fn kept_started(
        kind: Containment,
        leaf: Option<CgroupLeaf>,
        mut keeper: Keeper,
        name: &str,
    ) -> Result<(Contained, Main), StartError> {
        let started = keeper.next_report();
        let pidns = kind == Containment::Pidns || leaf.is_some();
        let contained = Contained {
            kind,
            leaf,
            keeper,
            pidns,
            dismissed: None,
        };
        match started {
            Some(Report::Started(inner)) => {
                let process = contained.resolve(inner);
                let mut contained = contained;
                contained.keeper.tell(b'a');
                Ok((contained, Main::Kept(process)))
            }
            Some(Report::SpawnError(errno)) => {
                let in_leaf = contained.leaf.as_ref().map(|l| l.path().to_path_buf());
                contained.finish(false);
                match in_leaf {
                    // The kernel refused the move into the leaf: a weaker
                    // containment may still work.
                    Some(path) if errno == SETUP_FAILED_ERRNO => Err(StartError::Containment {
                        containment: "cgroup",
                        reason: format!("cannot move a process into {}", path.display()),
                    }),
                    _ => Err(spawn_error(name, io::Error::from_raw_os_error(errno))),
                }
            }
            _ => {
                contained.finish(false);
                Err(StartError::Setup(
                    "the keeper process ended before starting the command".to_string(),
                ))
            }
        }
    }

    /// The global PID of the keeper's child that the keeper calls `inner`
    /// (in a PID namespace the keeper sees other numbers: `NSpid` in
    /// /proc/PID/status lists them, outermost first).
    fn resolve(&self, inner: i32) -> Option<Process> {
        let keeper = self.keeper.process().pid();
        let children = sweep::children_of(keeper).unwrap_or_else(|| ProcessTable::scan().children(keeper));
        if let Some(only) = only_child(&children) {
            // The keeper does not reap it before our `a`: the PID is stable.
            return Process::open_own_child(only).ok();
        }
        children.into_iter().find_map(|pid| {
            let nspid = crate::proc::status::read(pid).ok()?.nspid?;
            let last = *nspid.last()?;
            if last != inner {
                return None;
            }
            // The keeper does not reap it before our `a`: the PID is stable.
            Process::open_own_child(pid).ok()
        })
    }

    /// Which containment this is.
    pub fn kind(&self) -> Containment {
        self.kind
    }

    /// Whether the tree has a PID namespace of its own (`pidns`, or a
    /// cgroup leaf with one inside).
    pub fn pid_namespace(&self) -> bool {
        self.pidns
    }

    /// The file at `path` as a process of the tree's PID namespace reads
    /// it: `None` without one, once the keeper (its init) is dismissed, or
    /// when it cannot be read.
    pub fn read_as_tree(&self, path: &std::ffi::CStr) -> Option<Vec<u8>> {
        if !self.pidns || self.dismissed.is_some() {
            return None;
        }
        crate::sys::linux::ns::read_in_pid_namespace(self.keeper.process().pidfd(), path).ok()
    }

    /// The cgroup leaf, if any.
    pub fn cgroup_path(&self) -> Option<PathBuf> {
        self.leaf.as_ref().map(|l| l.path().to_path_buf())
    }

    /// The keeper's report pipe, to poll.
    pub fn keeper_reports(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.keeper.reports_fd()
    }

    /// The keeper.
    pub fn keeper(&mut self) -> &mut Keeper {
        &mut self.keeper
    }

    /// The processes that hold the tree together and are not part of it:
    /// afterlife and the keeper.
    pub fn keeper_pid(&self) -> Pid {
        self.keeper.process().pid()
    }

    /// Every process in the tree now, opened.
    pub fn members(&self) -> Vec<Process> {
        self.members_but(|_| false)
    }

    /// Like [`Contained::members`], without those whose PID `known` names
    /// (a leaf's are left unopened: its scan lists PIDs before opening them;
    /// a walk of the tree opens each as it goes).
    pub fn members_but(&self, known: impl Fn(Pid) -> bool) -> Vec<Process> {
        match &self.leaf {
            Some(leaf) => {
                let listed = leaf.members();
                let mut members: Vec<Process> = listed
                    .iter()
                    .copied()
                    .filter(|&pid| !known(pid))
                    .filter_map(|pid| {
                        // ESRCH: ended since the listing. Checked after opening
                        // (pidfd and start time only, the cheap open): a PID
                        // reused by a process outside the leaf is not taken.
                        let process = Process::open_own_child(pid).ok()?;
                        leaf.contains(pid).then_some(process)
                    })
                    .collect();
                members.extend(self.moved_out(leaf, &listed, &known));
                members
            }
            None => sweep::descendants(self.keeper_pid())
                .into_iter()
                .filter(|p| !known(p.pid()))
                .collect(),
        }
    }

    /// The processes of a leaf's tree moved into a cgroup outside the
    /// leaf's subtree (a test that writes a child's PID into another
    /// cgroup's `cgroup.procs`), which `cgroup.kill` does not reach; not
    /// those in the leaf (`listed`, or born since) or below it (a nested
    /// afterlife's leaf, which the leaf's `cgroup.kill` reaches). They are
    /// still afterlife's descendants: orphans come to afterlife (the
    /// subreaper) or to the keeper (the namespace's init), afterlife's own
    /// child. Neither the keeper nor a process that has ended (a zombie
    /// not yet reaped) is one.
    fn moved_out(&self, leaf: &CgroupLeaf, listed: &[Pid], known: &impl Fn(Pid) -> bool) -> Vec<Process> {
        // /proc must name processes by our PIDs (not so inside another
        // run's PID namespace, where /proc is the outer one's).
        if crate::proc::ns::check_proc_view().is_err() {
            return Vec::new();
        }
        let keeper = self.keeper_pid();
        sweep::descendants(Pid::current())
            .into_iter()
            .filter(|p| p.pid() != keeper && !listed.contains(&p.pid()) && !known(p.pid()))
            .filter(|p| moved_to(leaf, p.pid()).is_some() && !p.has_exited())
            .collect()
    }

    /// The cgroup v2 path of a member moved out of the leaf's subtree;
    /// `None` in it, without a leaf, or once it has ended.
    pub fn moved_to(&self, pid: Pid) -> Option<String> {
        moved_to(self.leaf.as_ref()?, pid)
    }

    /// SIGKILLs the whole tree: `cgroup.kill`, or freeze-then-kill.
    pub fn kill_all(&self) -> usize {
        match &self.leaf {
            Some(leaf) => {
                let listed = leaf.members();
                if leaf.kill_all().is_err() {
                    // Without cgroup.kill working, fall back to signals.
                    return sweep::freeze_and_kill(|| self.members());
                }
                // Those moved into another cgroup, which cgroup.kill missed.
                listed.len() + sweep::freeze_and_kill(|| self.moved_out(leaf, &listed, &|_| false))
            }
            None => sweep::freeze_and_kill(|| self.members()),
        }
    }

    /// Waits until the tree is empty, at most `limit`; whether it is.
    pub fn wait_empty(&self, limit: Duration) -> bool {
        // A limit too long for an Instant (a grace of `inf`) never passes.
        let deadline = crate::duration::Deadline::after(limit);
        // Once the leaf is empty, what is left are members moved out of it.
        if let Some(leaf) = &self.leaf
            && !leaf.wait_empty(limit)
        {
            return false;
        }
        loop {
            let members = self.members();
            if members.is_empty() {
                return true;
            }
            let remaining = deadline.remaining().unwrap_or(Duration::MAX);
            if remaining.is_zero() {
                return false;
            }
            // Wake when one ends, and look again now and then for new ones.
            let refs: Vec<&Process> = members.iter().collect();
            let _ = wait_any(&refs, Some(remaining.min(Duration::from_millis(50))));
        }
    }

    /// The peak memory of the tree in bytes, where the cgroup knows it.
    pub fn memory_peak(&self) -> Option<u64> {
        self.leaf.as_ref().and_then(|l| l.memory_peak())
    }

    /// OOM kills in the tree, where the cgroup counts them.
    pub fn oom_kills(&self) -> Option<u64> {
        self.leaf.as_ref().and_then(|l| l.oom_kills())
    }

    /// Tells the keeper the run is over (`keep`: the leftovers stay, and
    /// it stays to reap them), so that it exits while the caller does other
    /// work: the tree is empty (or kept) by now, so nothing is left for it
    /// to kill. Once only; [`Contained::finish`] does it if not done.
    pub fn dismiss(&mut self, keep: bool) {
        if self.dismissed.is_some() {
            return;
        }
        let leaf = keep && self.leaf.as_ref().is_some_and(|l| !l.members().is_empty());
        // A namespace's init keeps its members alive, those moved out of
        // the leaf included.
        let keeper = leaf || (keep && (self.leaf.is_none() || !self.members().is_empty()));
        self.keeper.dismiss(keeper);
        self.dismissed = Some(Kept { keeper, leaf });
    }

    /// Ends the containment: dismisses the keeper (unless done already),
    /// removes the leaf (unless leftovers are kept) and reaps the keeper.
    /// Returns the leaf's path if it stays.
    pub fn finish(mut self, keep: bool) -> Option<PathBuf> {
        self.dismiss(keep);
        let Kept {
            keeper: keep,
            leaf: keep_leaf,
        } = self.dismissed.unwrap_or(Kept {
            keeper: false,
            leaf: false,
        });
        let mut kept = None;
        if let Some(leaf) = &self.leaf {
            if keep_leaf {
                kept = Some(leaf.path().to_path_buf());
            } else {
                leaf.wait_empty(Duration::from_secs(2));
                // EBUSY if something is still in it: leave it.
                let _ = leaf.remove();
            }
        }
        self.keeper.finish(keep);
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_below_the_leaf_is_in_its_subtree() {
        let leaf = "/user.slice/afterlife-42";
        assert!(in_subtree("/user.slice/afterlife-42", leaf));
        // A nested afterlife's leaf: the leaf's cgroup.kill reaches it.
        assert!(in_subtree("/user.slice/afterlife-42/afterlife-43", leaf));
        assert!(!in_subtree("/user.slice/afterlife-420", leaf));
        assert!(!in_subtree("/user.slice", leaf));
        assert!(!in_subtree("/elsewhere", leaf));
        // The root cgroup holds everything.
        assert!(in_subtree("/elsewhere", "/"));
    }

    #[test]
    fn the_keepers_only_child_is_the_command() {
        let pid = |n| Pid::new(n).unwrap();
        assert_eq!(only_child(&[pid(7)]), Some(pid(7)));
        assert_eq!(only_child(&[pid(7), pid(9)]), None);
        assert_eq!(only_child(&[]), None);
    }
}
