//! Freeze, then signal: the way to end a tree that keeps forking when no
//! cgroup holds it.
//!
//! A process with `SIGSTOP` pending cannot complete a `fork` (the kernel
//! restarts the call once the signal is handled, kernel/fork.c), and a
//! stopped process neither forks nor exits, so its children keep it as
//! their parent instead of being reparented out of reach. So: stop every
//! member through its pidfd, scan again, stop what appeared, until a scan
//! finds nothing new. Then every member gets the signal, and `SIGCONT` lets a
//! graceful one be handled (a stopped process runs no handler; `SIGKILL`
//! needs no continue).
//!
//! Walking again need not rescan /proc: every new process takes its PID
//! from the namespace's allocator, whose last value
//! `/proc/sys/kernel/ns_last_pid` shows, and a fork is visible in /proc by
//! the time a `SIGSTOP` sent to its parent returns (both take the parent's
//! signal lock). So after stopping, only the PIDs handed out since the last
//! look are read ([`Watch::refresh`]); a full scan is the fallback when that
//! file cannot be read or the range is too wide.

use std::collections::BTreeMap;

use crate::bpf::tasks::Tasks;
use crate::process::fd_limit;
use crate::process::{OpenError, Pid, Process, ProcessTable, TableEntry};
use crate::signal::Signal;
use crate::sys::linux::signal::{self as sys_signal, SigSet};
use crate::terminate::cgroup::Cgroup;
use crate::terminate::select::Scope;
use crate::terminate::targets::Targets;

/// Above this many new PIDs, a full scan is cheaper than reading each.
const MAX_BORN: usize = 4096;

/// The process table, kept up to date by reading only new PIDs.
pub(crate) struct Watch {
    last_pid: Option<i32>,
    table: ProcessTable,
    /// The BPF task iterator, where it runs: one pass reads every row.
    tasks: Option<Tasks>,
    /// The pidfds the first scan read each row through, until the members
    /// are chosen ([`Watch::take_held`], [`Watch::release_held`]).
    held: BTreeMap<Pid, Process>,
    /// What the iterator's first pass saw of each process (start time in
    /// nanoseconds and in clock ticks), until the chosen members are
    /// opened ([`Watch::hold`]).
    first_pass: Option<BTreeMap<Pid, (u64, u64)>>,
}

pub(crate) fn read_last_pid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub(crate) fn read_pid_max() -> i32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(crate::process::PID_MAX_LIMIT)
}

/// The PIDs handed out after `last` up to `now`, wrapping at `pid_max`
/// (the allocator restarts above 300 after a wrap, but reading a few
/// absent PIDs costs nothing); `None` when there are more than `limit`.
pub(crate) fn born_between(last: i32, now: i32, pid_max: i32, limit: usize) -> Option<Vec<i32>> {
    if now == last {
        return Some(Vec::new());
    }
    let pids: Vec<i32> = if now > last {
        if (now - last) as usize > limit {
            return None;
        }
        (last + 1..=now).collect()
    } else {
        let count = (pid_max - 1 - last).max(0) as usize + now.max(0) as usize;
        if count > limit {
            return None;
        }
        (last + 1..pid_max).chain(1..=now).collect()
    };
    Some(pids)
}

/// Above this many PIDs handed out during a scan, the scan checks its
/// pidfds with a second pass rather than reading each new PID.
const MAX_BORN_IN_SCAN: usize = 64;

/// The PIDs handed out after `last` up to `now` (the allocator's cursor
/// before the scan's pass and after its opens), when none of them is one
/// of `opened`: then no opened PID was freed and handed out again, and each
/// pidfd names the process the pass saw. `None` when one is, or when too
/// many were handed out to tell (a cursor behind where it was counts as
/// gone round). Pure.
///
/// It relies on the cursor moving only forward, round from `pid_max`: the
/// kernel writes it so; only checkpoint/restore (`CAP_CHECKPOINT_RESTORE`)
/// sets it, to restore a process under its old PID.
pub(crate) fn vouched_by_cursor(
    last: i32,
    now: i32,
    pid_max: i32,
    opened: impl Iterator<Item = i32>,
) -> Option<Vec<i32>> {
    let born = born_between(last, now, pid_max, MAX_BORN_IN_SCAN)?;
    let mut opened = opened;
    (!opened.any(|pid| born.contains(&pid))).then_some(born)
}

/// The process-table row of `pid`, read from `/proc/PID/stat`; `None` if
/// it is gone.
pub(crate) fn entry_of(pid: i32) -> Option<TableEntry> {
    let stat = crate::proc::stat::read_raw(pid).ok()?;
    TableEntry::from_stat(stat)
}

/// Whether `pid` names a process rather than one of its other threads:
/// thread IDs come from the same allocator, and `/proc/TID/stat` answers
/// for them too (with the process's parent), though no listing shows them.
fn is_leader(pid: i32) -> bool {
    crate::proc::status::read_raw(pid).is_ok_and(|s| s.tgid == pid)
}

/// How many pidfds a scan may hold: they must leave room for the members
/// still to be opened and for the reads themselves. Past the budget, a row
/// is read without one.
struct FdBudget(u64);

fn fd_budget() -> FdBudget {
    FdBudget(fd_limit::usage().map_or(u64::MAX, |(open, limit)| {
        limit.saturating_sub(open + super::engine::FD_SLACK)
    }))
}

impl FdBudget {
    /// Takes one fd from the budget, if any is left.
    fn take(&mut self) -> bool {
        self.0.checked_sub(1).map(|left| self.0 = left).is_some()
    }
}

/// Adds to `table` the rows of a later look that it does not know: new
/// processes, and new processes on reused PIDs. Rows already known are kept
/// as they were, so that a process whose parent exited meanwhile is still
/// linked to the tree through its old row.
fn add_fresh(table: &mut ProcessTable, rows: impl IntoIterator<Item = TableEntry>) {
    let fresh: Vec<TableEntry> = rows
        .into_iter()
        .filter(|e| table.get(e.pid).is_none_or(|known| known.start_ticks != e.start_ticks))
        .collect();
    table.extend(fresh);
}

impl Watch {
    /// A full scan, noting the allocator's position first. The scan runs on
    /// one thread: its system calls are cheap, and on a machine the tree
    /// keeps busy, a helper thread waiting for a CPU would hold up the
    /// whole scan (measured: opening 1,000 pidfds took 3 ms on one thread,
    /// 45 to 60 ms on two).
    ///
    /// Through /proc, each row is read through a pidfd opened first
    /// ([`Process::open_entry`]), and the pidfd is kept: the members chosen
    /// from this table then need neither a second open nor a second read of
    /// their start time. A process that cannot be opened (a pidfd refused,
    /// no file descriptor left) is read without one, and opened later as
    /// usual. Through the task iterator, only the members chosen are
    /// opened ([`Watch::hold`]): a kill of a few processes opens a few
    /// pidfds, not one per process of the machine.
    pub fn scan() -> Watch {
        let last_pid = read_last_pid();
        if let Some(watch) = Self::scan_tasks(last_pid) {
            return watch;
        }
        let mut held = BTreeMap::new();
        let table = match std::fs::read_dir("/proc") {
            Ok(dir) => {
                let pids: Vec<Pid> = dir
                    .flatten()
                    .filter_map(|entry| entry.file_name().to_str().and_then(|name| name.parse().ok()))
                    .filter_map(Pid::new)
                    .collect();
                let mut budget = fd_budget();
                let mut entries = Vec::with_capacity(pids.len());
                for pid in pids {
                    // Past the budget, the row alone.
                    if !budget.take() {
                        entries.extend(entry_of(pid.get()));
                        continue;
                    }
                    match Process::open_entry(pid) {
                        Ok((process, entry)) => {
                            held.insert(entry.pid, process);
                            entries.push(entry);
                        }
                        // ESRCH/ENOENT: it exited after the listing.
                        Err(OpenError::NoSuchProcess { .. }) => {}
                        // A pidfd refused: the row alone.
                        Err(_) => entries.extend(entry_of(pid.get())),
                    }
                }
                ProcessTable::from_entries(entries)
            }
            Err(_) => ProcessTable::scan(),
        };
        Watch {
            last_pid,
            table,
            tasks: None,
            held,
            first_pass: None,
        }
    }

    /// The scan through the BPF task iterator ([`crate::bpf::tasks`]), where
    /// it runs: one pass reads every row. Nothing is opened yet: the
    /// members chosen from the table are opened by [`Watch::hold`].
    fn scan_tasks(last_pid: Option<i32>) -> Option<Watch> {
        let (tasks, first) = Tasks::load()?;
        let first_pass = first
            .iter()
            // Kernel threads are never signalled: no pidfd for them.
            .filter(|t| !t.entry.kernel_thread)
            .map(|t| (t.entry.pid, (t.start_ns, t.entry.start_ticks)))
            .collect();
        Some(Watch {
            last_pid,
            table: ProcessTable::from_entries(first.into_iter().map(|t| t.entry)),
            tasks: Some(tasks),
            held: BTreeMap::new(),
            first_pass: Some(first_pass),
        })
    }

    /// Opens `pids` of the iterator's first pass (a pidfd only, within the
    /// fd budget) and keeps the pidfds, so that the members need neither a
    /// /proc read nor a later open. A pidfd names the process the pass saw
    /// unless its PID was freed and handed out again in between; the
    /// allocator hands out PIDs in turn after its cursor (`ns_last_pid`),
    /// so where none of the PIDs handed out since the pass is one that was
    /// opened ([`vouched_by_cursor`]), every pidfd is kept, and the few
    /// processes born meanwhile are read from /proc. Otherwise a second
    /// pass keeps the pidfds of the processes whose start time, in
    /// nanoseconds, it sees unchanged, and adds the processes it saw born
    /// (see `add_fresh`). Nothing happens after a /proc scan, which holds
    /// every row's pidfd already, or a second time.
    pub fn hold(&mut self, pids: &[Pid]) {
        let Some(first) = self.first_pass.take() else {
            return;
        };
        let mut budget = fd_budget();
        let opened: Vec<_> = pids
            .iter()
            .filter_map(|&pid| {
                let &(start_ns, start_ticks) = first.get(&pid)?;
                if !budget.take() {
                    return None;
                }
                let pidfd = Process::open_unchecked(pid).ok()?;
                Some((pid, start_ns, start_ticks, pidfd))
            })
            .collect();
        let now_last = read_last_pid();
        let born = self.last_pid.zip(now_last).and_then(|(last, now)| {
            vouched_by_cursor(last, now, read_pid_max(), opened.iter().map(|(pid, ..)| pid.get()))
        });
        let kept: Vec<_> = match born {
            Some(born) => {
                let fresh = born.into_iter().filter(|&pid| is_leader(pid)).filter_map(entry_of);
                add_fresh(&mut self.table, fresh);
                opened
            }
            None => match self.tasks.as_ref().and_then(Tasks::read) {
                Some(second) => {
                    let now: BTreeMap<Pid, u64> = second.iter().map(|t| (t.entry.pid, t.start_ns)).collect();
                    add_fresh(&mut self.table, second.into_iter().map(|t| t.entry));
                    opened
                        .into_iter()
                        .filter(|(pid, start_ns, ..)| now.get(pid) == Some(start_ns))
                        .collect()
                }
                // No second pass: the members are opened and checked one
                // by one later, as after a scan that held nothing, and the
                // next refresh looks for births from the old cursor on.
                None => return,
            },
        };
        for (pid, _, start_ticks, pidfd) in kept {
            self.held.insert(pid, Process::vouched(pid, pidfd, start_ticks));
        }
        // The table now has every process born up to `now_last`.
        self.last_pid = now_last.or(self.last_pid);
    }

    /// The pidfd the scan read `pid` through, if it was read through one
    /// and had the start time `start_ticks`.
    pub fn take_held(&mut self, pid: Pid, start_ticks: u64) -> Option<Process> {
        self.held.remove(&pid).filter(|p| p.start_ticks() == start_ticks)
    }

    /// Closes the pidfds of the processes that were not chosen.
    pub fn release_held(&mut self) {
        self.held.clear();
    }

    /// Closes the pidfds of every process but `keep`, and says how many of
    /// `keep` are still held.
    pub fn release_held_except(&mut self, keep: &[Pid]) -> usize {
        let keep: std::collections::BTreeSet<&Pid> = keep.iter().collect();
        self.held.retain(|pid, _| keep.contains(pid));
        self.held.len()
    }

    /// Starts from the caller's scan; the first refresh scans again.
    pub fn from_table(table: &ProcessTable) -> Watch {
        Watch {
            last_pid: None,
            table: table.clone(),
            tasks: None,
            held: BTreeMap::new(),
            first_pass: None,
        }
    }

    /// Whether [`Watch::exits`] reads every zombie's status in one pass
    /// (the task iterator); otherwise each status is a /proc read, best
    /// made as each exit is noticed, while the rest of the tree dies.
    pub fn reads_exits_in_one_pass(&self) -> bool {
        self.tasks.is_some()
    }

    /// One pass of the task iterator for the exit statuses of ended
    /// members: one `read(2)` in place of a `/proc/PID/stat` read each.
    /// `None` without the iterator.
    pub fn exits(&self) -> Option<Exits> {
        let rows = self.tasks.as_ref()?.read()?;
        Some(Exits {
            rows: rows
                .into_iter()
                .map(|t| (t.entry.pid, (t.entry.start_ticks, t.zombie_wait_status)))
                .collect(),
        })
    }

    /// The table as of the last refresh.
    pub fn table(&self) -> &ProcessTable {
        &self.table
    }

    /// Adds the processes born since the last look.
    pub fn refresh(&mut self) {
        let now = read_last_pid();
        let born = match (self.last_pid, now) {
            (Some(last), Some(now)) => born_between(last, now, read_pid_max(), MAX_BORN),
            _ => None,
        };
        match born {
            Some(pids) if pids.is_empty() => {}
            _ if let Some(rows) = self.tasks.as_ref().and_then(Tasks::read) => {
                add_fresh(&mut self.table, rows.into_iter().map(|t| t.entry));
            }
            Some(pids) => {
                let fresh = pids.into_iter().filter(|&pid| is_leader(pid)).filter_map(entry_of);
                add_fresh(&mut self.table, fresh);
            }
            None => self.table = ProcessTable::scan(),
        }
        self.last_pid = now;
    }
}

/// Every process one pass of the task iterator saw: start time and, for a
/// zombie, its raw wait status.
pub(crate) struct Exits {
    rows: BTreeMap<Pid, (u64, Option<i32>)>,
}

impl Exits {
    /// The raw wait status the pass read for `process` as a zombie;
    /// `None` where it was not one then (reaped, its PID taken by a newer
    /// process, or still on its way out). Pure.
    pub fn zombie_status(&self, process: &Process) -> Option<i32> {
        match self.rows.get(&process.pid()) {
            Some(&(start, raw)) if start == process.start_ticks() => raw,
            _ => None,
        }
    }
}

/// A bound on walks: a tree that outgrows this many rounds of stopping is
/// reported with what was caught, never walked forever.
const MAX_WALKS: usize = 100;

/// Stops every member and walks until no new member appears; returns the
/// number of walks. A member asleep in the kernel (state `D`) is not
/// stopped ([`stops`]).
pub(crate) fn stop_and_walk(targets: &mut Targets<'_>, watch: &mut Watch) -> usize {
    stop_unstopped(targets, watch.table());
    if targets.anchors.scope == Scope::Pids {
        return 0;
    }
    let mut walks = 0;
    while walks < MAX_WALKS {
        watch.refresh();
        walks += 1;
        let new = targets.walk_new(watch.table());
        if new.is_empty() {
            break;
        }
        stop_unstopped(targets, watch.table());
    }
    walks
}

/// Whether the freeze sends `SIGSTOP` to a member with this row (`None`:
/// not in the table) that the cgroup freezer holds (`frozen`) or not. Not
/// to a frozen one: it cannot fork while frozen, and a `SIGSTOP` it cannot
/// act on stays pending, which keeps a later `SIGTERM` from ending it
/// (the same `complete_signal` rule as below) — `kill -TERM` ends a frozen
/// process with no handler at once, and so does afterlife's. Not to one
/// asleep in the kernel (state `D`): it
/// cannot stop there, so the `SIGSTOP` would stay pending, and while a
/// signal is pending the kernel does not wake a killable sleeper (a vfork
/// parent, a FUSE request not yet read, a page lock) for a fatal signal
/// that follows — `complete_signal` finds no thread that "wants" it — so
/// SIGTERM, which ends such a process at once through `kill(2)`, would wait
/// for the end of the sleep. Asleep, it cannot fork either; should it wake
/// before the signal, what it forks is found by the next walk. Pure.
pub(crate) fn stops(row: Option<&TableEntry>, frozen: bool) -> bool {
    !frozen && !row.is_some_and(|r| r.disk_sleep)
}

/// Which members the cgroup freezer holds (v2: `docker pause`, `systemctl
/// freeze`, `cgroup.freeze` written by hand; v1: `freezer.state` FROZEN or
/// FREEZING), so that the freeze leaves them to it ([`stops`]).
///
/// Reading every member's cgroup would cost a /proc read each on the path
/// of a thousand-process kill. The cgroups of the named processes are read
/// first; only where one of them is held by the freezer is each member's
/// read, each cgroup's freezer state once. A member that sits in a frozen
/// cgroup while none of the named processes does is stopped as before:
/// a `SIGTERM` it has no handler for may then wait for the `SIGKILL` after
/// the grace period, which ends it. A member left unstopped because it was
/// frozen can fork only once its cgroup is thawed; what it forks then is
/// found by the next walk, as for one asleep in the kernel.
#[derive(Debug, Default)]
pub(crate) struct FrozenCgroups {
    /// Each cgroup read (as `/proc/PID/cgroup` shows it) and whether the
    /// freezer holds it; `None` where no named process's is held.
    known: Option<BTreeMap<String, bool>>,
}

impl FrozenCgroups {
    /// Looks at the cgroups of `named`.
    pub fn around(named: impl IntoIterator<Item = Pid>) -> FrozenCgroups {
        let mut known = BTreeMap::new();
        let mut any = false;
        for pid in named {
            any |= Self::look(&mut known, pid).unwrap_or(false);
        }
        FrozenCgroups {
            known: any.then_some(known),
        }
    }

    /// Whether the freezer holds `pid`'s cgroup (false where no named
    /// process's is held, or the cgroup cannot be read).
    pub fn hold(&mut self, pid: Pid) -> bool {
        let Some(known) = self.known.as_mut() else {
            return false;
        };
        Self::look(known, pid).unwrap_or(false)
    }

    /// Whether the cgroup v2 freezer or the v1 one holds `pid`, from one
    /// read of its `/proc/PID/cgroup`.
    fn look(known: &mut BTreeMap<String, bool>, pid: Pid) -> Option<bool> {
        let groups = crate::proc::cgroup::read(pid).ok()?;
        let v2 = crate::proc::cgroup::v2_path(&groups).map(|relative| {
            Self::remember(known, relative.clone(), || {
                Cgroup::root().is_ok_and(|root| root.at(&relative).held_by_freezer())
            })
        });
        let v1 = crate::proc::cgroup::v1_path(&groups, "freezer").map(|relative| {
            Self::remember(known, format!("freezer:{relative}"), || {
                crate::resist::gather::freezer_v1_of(&groups).is_some_and(|f| f.is_frozen())
            })
        });
        (v2.is_some() || v1.is_some()).then(|| v2 == Some(true) || v1 == Some(true))
    }

    /// `known[key]`, read with `held` the first time.
    fn remember(known: &mut BTreeMap<String, bool>, key: String, held: impl FnOnce() -> bool) -> bool {
        *known.entry(key).or_insert_with(held)
    }
}

/// Whether the cgroup v1 freezer holds `pid` now (`freezer.state` FROZEN
/// or FREEZING).
pub(crate) fn held_by_v1_freezer(pid: Pid) -> bool {
    crate::proc::cgroup::read(pid)
        .ok()
        .and_then(|groups| crate::resist::gather::freezer_v1_of(&groups))
        .is_some_and(|freezer| freezer.is_frozen())
}

fn stop_unstopped(targets: &mut Targets<'_>, table: &ProcessTable) {
    let indexes: Vec<usize> = (0..targets.list.len())
        .filter(|&i| targets.list[i].pending() && !targets.list[i].stopped)
        .filter(|&i| {
            let pid = targets.list[i].pid();
            stops(table.get(pid), targets.frozen.hold(pid))
        })
        .collect();
    for &i in &indexes {
        targets.list[i].stopped = true;
    }
    targets.send_many(indexes, Signal::STOP, false);
}

/// Holds back the signals that would end or stop afterlife while it keeps
/// members stopped: dying then would leave them stopped for good. A
/// hangup is the likely one. When a stopped member's exit orphans its
/// process group, the kernel sends SIGHUP and then SIGCONT to every
/// process of that group (POSIX orphaned process groups;
/// `kill_orphaned_pgrp` in kernel/exit.c), and afterlife is one of them
/// when it shares the group. Held signals are delivered when this drops,
/// once no member is left stopped.
///
/// The mask is this thread's; the threads that read /proc meanwhile are
/// started from it and inherit it.
pub(crate) struct HoldSignals {
    previous: SigSet,
}

impl HoldSignals {
    const HELD: [libc::c_int; 7] = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGQUIT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
    ];

    pub(crate) fn hold() -> HoldSignals {
        let set = SigSet::of(&Self::HELD);
        // Blocking valid signals in this thread cannot fail.
        let previous = sys_signal::block(&set).unwrap_or_else(|_| SigSet::empty());
        HoldSignals { previous }
    }
}

impl Drop for HoldSignals {
    fn drop(&mut self) {
        // Restores the mask saved above.
        let _ = sys_signal::set_mask(&self.previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: i32, ppid: i32, start_ticks: u64) -> TableEntry {
        TableEntry {
            start_ticks,
            name: "p".into(),
            ..TableEntry::fixture(pid, ppid, pid, pid)
        }
    }

    #[test]
    fn a_sleeper_in_the_kernel_is_not_stopped() {
        let mut asleep = row(10, 1, 5);
        asleep.disk_sleep = true;
        assert!(!stops(Some(&asleep), false));
        assert!(stops(Some(&row(11, 1, 5)), false));
        assert!(stops(None, false));
    }

    #[test]
    fn a_member_the_cgroup_freezer_holds_is_not_stopped() {
        assert!(!stops(Some(&row(11, 1, 5)), true));
        assert!(!stops(None, true));
    }

    #[test]
    fn a_later_pass_adds_births_and_keeps_old_links() {
        // 10 -> 11 -> 12; then 11 exits (12 goes to 1), 13 is born under 10,
        // and PID 14 goes to a newer process.
        let mut table = ProcessTable::from_entries([row(10, 1, 5), row(11, 10, 6), row(12, 11, 7), row(14, 1, 2)]);
        add_fresh(
            &mut table,
            [row(10, 1, 5), row(12, 1, 7), row(13, 10, 8), row(14, 10, 9)],
        );
        let root = Pid::new(10).unwrap();
        let mut below: Vec<i32> = table.descendants(root).into_iter().map(Pid::get).collect();
        below.sort();
        assert_eq!(below, [11, 12, 13, 14]);
        assert_eq!(table.get(Pid::new(12).unwrap()).unwrap().ppid, 11);
        assert_eq!(table.get(Pid::new(14).unwrap()).unwrap().start_ticks, 9);
    }

    #[test]
    fn births_are_the_pids_after_the_last_look() {
        assert_eq!(born_between(100, 100, 32768, 10), Some(vec![]));
        assert_eq!(born_between(100, 103, 32768, 10), Some(vec![101, 102, 103]));
        assert_eq!(born_between(100, 200, 32768, 10), None);
    }

    #[test]
    fn births_wrap_at_pid_max() {
        assert_eq!(born_between(32766, 2, 32768, 10), Some(vec![32767, 1, 2]));
        assert_eq!(born_between(32000, 300, 32768, 10), None);
    }

    #[test]
    fn pidfds_are_vouched_for_only_when_no_opened_pid_was_handed_out_again() {
        // Nothing handed out: every pidfd stands.
        assert_eq!(
            vouched_by_cursor(500, 500, 32768, [10, 499, 500].into_iter()),
            Some(vec![])
        );
        // 501 and 502 handed out; none of them was opened.
        assert_eq!(
            vouched_by_cursor(500, 502, 32768, [10, 499, 503].into_iter()),
            Some(vec![501, 502])
        );
        // 502 was opened and handed out again since: a second pass decides.
        assert_eq!(vouched_by_cursor(500, 502, 32768, [10, 502].into_iter()), None);
        // Round from pid_max: 32767 and 1 handed out.
        assert_eq!(vouched_by_cursor(32766, 1, 32768, [1].into_iter()), None);
        assert_eq!(
            vouched_by_cursor(32766, 1, 32768, [2, 32766].into_iter()),
            Some(vec![32767, 1])
        );
        // Too many to tell (or a cursor set back): a second pass.
        assert_eq!(vouched_by_cursor(500, 1000, 32768, std::iter::empty()), None);
        assert_eq!(vouched_by_cursor(500, 400, 32768, std::iter::empty()), None);
    }

    #[test]
    fn a_parallel_scan_sees_what_a_plain_scan_sees() {
        let watch = Watch::scan();
        let me = watch.table().get(Pid::current()).expect("this process is in the table");
        assert_eq!(me.ppid, std::os::unix::process::parent_id() as i32);
        assert!(watch.table().get(Pid::new(1).unwrap()).is_some());
    }

    #[test]
    fn the_chosen_members_are_held_with_their_start_time() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let pid = Pid::new(child.id() as i32).unwrap();
        let mut watch = Watch::scan();
        let ticks = watch.table().get(pid).expect("the child is in the table").start_ticks;
        watch.hold(&[pid]);
        let held = watch.take_held(pid, ticks).expect("the child is held");
        assert_eq!(held.pid(), pid);
        assert!(!held.has_exited());
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn a_refresh_ignores_new_threads() {
        let mut watch = Watch::scan();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            tx.send(rustix::thread::gettid().as_raw_nonzero().get()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
        });
        let tid = rx.recv().unwrap();
        watch.refresh();
        assert!(
            watch.table().get(Pid::new(tid).unwrap()).is_none(),
            "thread {tid} taken for a process"
        );
        thread.join().unwrap();
    }

    #[test]
    fn a_refresh_sees_a_new_child() {
        let mut watch = Watch::scan();
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        watch.refresh();
        let pid = Pid::new(child.id() as i32).unwrap();
        let entry = watch.table().get(pid).expect("the new child is in the table");
        assert_eq!(entry.ppid, std::process::id() as i32);
        let _ = child.kill();
        let _ = child.wait();
    }
}
