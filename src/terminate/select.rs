//! Which processes a termination is about, and which it must refuse.
//!
//! Pure functions over one [`ProcessTable`] scan: a selection names PIDs and
//! a scope (the PIDs themselves, their trees, their sessions or their process
//! groups); [`select`] turns it into members and refusals, and [`walk`] finds
//! the members again in a later scan, so that processes forked meanwhile are
//! caught.
//!
//! What each scope can reach, given how Linux records parentage:
//!
//! - a tree is followed through parent PIDs (`/proc/PID/stat` field 4). A
//!   process whose parent exited was reparented to init or a subreaper and is
//!   no longer anyone's descendant (a double fork does this on purpose).
//! - a session (`setsid(2)`) or process group (`setpgid(2)`) keeps such
//!   orphans, but a process can leave either whenever it likes.
//! - only a cgroup or a PID namespace holds every process for sure; that is
//!   what `afterlife run` sets up.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::process::{Pid, ProcessTable, TableEntry};

/// What the named PIDs stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The named processes only.
    Pids,
    /// Each named process and all its descendants.
    Tree,
    /// Every process in the session of each named process.
    Session,
    /// Every process in the process group of each named process.
    Pgroup,
}

/// Why afterlife will not signal a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// afterlife itself (never signalled, not even with `--force`).
    Itself,
    /// PID 1: the init of this PID namespace; ending it ends every process
    /// in the namespace.
    Init,
    /// An ancestor of afterlife (its shell, its terminal, its supervisor).
    Ancestor,
    /// A kernel thread: signals do not end it.
    KernelThread,
}

impl Refusal {
    /// Plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Itself => "it is afterlife itself",
            Refusal::Init => "it is PID 1, the init of this PID namespace (use --force to signal it)",
            Refusal::Ancestor => "it is an ancestor of afterlife, such as its shell (use --force to signal it)",
            Refusal::KernelThread => "it is a kernel thread, which signals do not end (use --force to signal it)",
        }
    }
}

/// One process chosen by a selection, as the scan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The PID.
    pub pid: Pid,
    /// Its start time, to open it with [`crate::process::Process::open_expecting`].
    pub start_ticks: u64,
    /// Its name.
    pub name: String,
    /// Whether the user named it (rather than a walk finding it).
    pub named: bool,
}

/// A process the selection reached but afterlife will not signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The process.
    pub member: Member,
    /// Why.
    pub refusal: Refusal,
}

/// What a selection resolved to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    /// The processes to signal.
    pub members: Vec<Member>,
    /// The processes reached but refused.
    pub refused: Vec<Refused>,
}

/// The fixed context of refusals: who afterlife is, and its ancestors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// afterlife's own PID.
    pub me: Pid,
    /// afterlife's ancestors at the first scan.
    pub ancestors: BTreeSet<Pid>,
    /// Whether `--force` lifts the refusals (except of afterlife itself).
    pub force: bool,
}

impl Guard {
    /// The guard for this process, from a scan.
    pub fn for_current(table: &ProcessTable, force: bool) -> Guard {
        let me = Pid::current();
        Guard {
            me,
            ancestors: table.ancestors(me).into_iter().collect(),
            force,
        }
    }

    /// Why `entry` must not be signalled, if it must not.
    pub fn refusal(&self, entry: &TableEntry) -> Option<Refusal> {
        if entry.pid == self.me {
            return Some(Refusal::Itself);
        }
        if self.force {
            return None;
        }
        if entry.pid.get() == 1 {
            Some(Refusal::Init)
        } else if self.ancestors.contains(&entry.pid) {
            Some(Refusal::Ancestor)
        } else if entry.kernel_thread {
            Some(Refusal::KernelThread)
        } else {
            None
        }
    }
}

/// A named PID that the scan did not find.
/// Why a selection cannot be made: nothing is signalled then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A named PID is not in the scan.
    #[error("no such process: {0}")]
    NotFound(Pid),
    /// A named PID is not in the scan, but a process has it: /proc hides
    /// it (`hidepid`).
    #[error(
        "process {0} exists, but /proc does not show it (mounted with hidepid, which hides other users' processes): ask as its user or as root"
    )]
    Hidden(Pid),
    /// A named PID is not in the scan, but it still names a process group
    /// or a session with live members (a leader that died and left them):
    /// `--pgroup` or `--session` reaches them.
    #[error("{}", dead_leader_words(*pid, *group, *session))]
    DeadLeader {
        /// The named PID.
        pid: Pid,
        /// Live members of process group `pid`.
        group: usize,
        /// Live members of session `pid`.
        session: usize,
    },
    /// The session or group of a named process reads 0: it is the kernel's
    /// (init and whatever init or a kernel thread started without `setsid`
    /// or `setpgid` share it) or is led from an ancestor PID namespace.
    /// Every process so placed shares that 0, so the members of this one
    /// cannot be told from the others.
    #[error(
        "process {pid} has no {kind} of its own (its ID reads 0: it was started by init or the kernel \
         without setsid/setpgid, or the {kind} is led from outside this PID namespace), so its members \
         cannot be told from other processes; name them, or use --tree"
    )]
    ReadsZero {
        /// The named process.
        pid: Pid,
        /// `session` or `process group`.
        kind: &'static str,
    },
}

fn dead_leader_words(pid: Pid, group: usize, session: usize) -> String {
    format!(
        "no process {pid}: it has exited, but {}",
        still_names_words(pid, group, session)
    )
}

/// `its ID still names process group 812 (2 live processes): afterlife kill
/// --pgroup 812; and session ...`. Pure.
pub fn still_names_words(pid: Pid, group: usize, session: usize) -> String {
    let members = |n: usize| format!("{n} live {}", if n == 1 { "process" } else { "processes" });
    let mut hints = Vec::new();
    if group > 0 {
        hints.push(format!(
            "process group {pid} ({}): afterlife kill --pgroup {pid}",
            members(group)
        ));
    }
    if session > 0 {
        hints.push(format!(
            "session {pid} ({}): afterlife kill --session {pid}",
            members(session)
        ));
    }
    format!("its ID still names {}", hints.join("; and "))
}

/// A named process that had exited (a zombie) while the process group or
/// session it led still has other members: ending it ends none of them,
/// as `--tree` reaches none (its children went to a reaper when it died).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeftByLeader {
    /// The named zombie's PID, still the ID of its group or session.
    pub pid: Pid,
    /// Other processes in process group `pid`.
    pub pgroup_members: usize,
    /// Other processes in session `pid`.
    pub session_members: usize,
}

impl LeftByLeader {
    /// What the exited leader `pid` still names in `table`, besides
    /// itself; `None` when nothing. Pure.
    pub fn of(table: &ProcessTable, pid: Pid) -> Option<LeftByLeader> {
        let (pgroup_members, session_members) = left_by_dead_leader(table, pid);
        (pgroup_members > 0 || session_members > 0).then_some(LeftByLeader {
            pid,
            pgroup_members,
            session_members,
        })
    }

    /// Plain words with the commands that reach them.
    pub fn describe(&self) -> String {
        format!(
            "{} has exited, but {}",
            self.pid,
            still_names_words(self.pid, self.pgroup_members, self.session_members)
        )
    }
}

/// What an exited leader `pid` (reaped, or still a zombie in the table)
/// still names: the other members of process group `pid` and of session
/// `pid` (a group or session keeps its leader's ID, which no new process
/// can take, until its last member has gone). Pure.
pub fn left_by_dead_leader(table: &ProcessTable, pid: Pid) -> (usize, usize) {
    let others = |members: Vec<Pid>| members.into_iter().filter(|&m| m != pid).count();
    (
        others(table.pgroup_members(pid.get())),
        others(table.session_members(pid.get())),
    )
}

/// A selection by name, as pgrep(1) and pkill(1) make it: an extended
/// regular expression matched against each process's name (`comm`, at
/// most 15 bytes), anywhere in it unless `exact`, optionally only the
/// processes of one real user ID.
#[derive(Debug, Clone)]
pub struct NameMatch {
    pattern: String,
    exact: bool,
    regex: regex::Regex,
    /// Only processes of this real user ID.
    pub uid: Option<u32>,
}

impl PartialEq for NameMatch {
    fn eq(&self, other: &NameMatch) -> bool {
        (&self.pattern, self.exact, self.uid) == (&other.pattern, other.exact, other.uid)
    }
}

impl Eq for NameMatch {}

/// A name pattern that is not a regular expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --name pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it, in the regex parser's words.
    pub reason: String,
}

impl NameMatch {
    /// Compiles `pattern`; `exact` anchors it at both ends of the name
    /// (pgrep's `-x`).
    pub fn new(pattern: &str, exact: bool, uid: Option<u32>) -> Result<NameMatch, PatternError> {
        // An empty pattern is more likely an unset shell variable than a
        // wish to end every process.
        if pattern.is_empty() {
            return Err(PatternError {
                pattern: String::new(),
                reason: "it is empty and would match every process (write '.' to mean that)".to_string(),
            });
        }
        if let Some(reason) = bracket_error(pattern) {
            return Err(PatternError {
                pattern: pattern.to_string(),
                reason,
            });
        }
        let source = if exact {
            format!("^(?:{pattern})$")
        } else {
            pattern.to_string()
        };
        // POSIX ERE, as pgrep's regcomp(3) reads it without REG_NEWLINE:
        // `.` matches a newline too (a name may hold one: PR_SET_NAME and
        // /proc/PID/comm take any byte but NUL); `^` and `$` already match
        // only at the ends of the name.
        let regex = regex::RegexBuilder::new(&source)
            .dot_matches_new_line(true)
            .build()
            .map_err(|e| PatternError {
                pattern: pattern.to_string(),
                reason: regex_reason(&e),
            })?;
        Ok(NameMatch {
            pattern: pattern.to_string(),
            exact,
            regex,
            uid,
        })
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole name must match.
    pub fn exact(&self) -> bool {
        self.exact
    }

    /// Whether `name` matches. Pure.
    pub fn matches_name(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }
}

/// The character classes POSIX names (`[[:alpha:]]`), and the regex
/// crate's `word` and `ascii`.
const CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word",
    "xdigit",
];

/// What POSIX ERE refuses in a bracket expression and the regex crate
/// would read as a nested class of its letters (`[[:alpah:]]` as one of
/// `:`, `a`, `l`, `p`, `h`, selecting names POSIX would never select): a
/// character class it does not know or does not close, a collating element
/// `[. .]` or an equivalence class `[= =]`. `None` when there is none.
/// Pure.
fn bracket_error(pattern: &str) -> Option<String> {
    let bytes = pattern.as_bytes();
    let mut i = 0;
    let mut in_bracket = false;
    while i < bytes.len() {
        match (in_bracket, bytes[i]) {
            (false, b'\\') => i += 1,
            (false, b'[') => {
                in_bracket = true;
                // `[^]...]` and `[]...]`: a `]` first is a member.
                i += usize::from(bytes.get(i + 1) == Some(&b'^'));
                i += usize::from(bytes.get(i + 1) == Some(&b']'));
            }
            (true, b'\\') => i += 1,
            (true, b']') => in_bracket = false,
            (true, b'[') => match bytes.get(i + 1) {
                Some(b':') => {
                    let rest = &pattern[i + 2..];
                    let Some(end) = rest.find(":]") else {
                        return Some(format!(
                            "'[:' at byte {i} opens a character class that ':]' never closes"
                        ));
                    };
                    let name = &rest[..end];
                    if !CLASSES.contains(&name) {
                        return Some(format!(
                            "no character class [:{name}:] (POSIX has alnum, alpha, blank, cntrl, digit, graph, lower, print, punct, space, upper, xdigit)"
                        ));
                    }
                    i += 2 + end + 1;
                }
                Some(b'.' | b'=') => {
                    return Some(
                        "collating elements [. .] and equivalence classes [= =] are not supported".to_string(),
                    );
                }
                _ => {}
            },
            _ => {}
        }
        i += 1;
    }
    None
}

/// The regex parser's own words, without its drawing of the pattern. Pure.
fn regex_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().last().unwrap_or_default().trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// The processes of a scan that a [`NameMatch`] selects, by PID: every
/// name that matches, of the user asked for (`uid_of` reads a process's
/// real user ID; `None` when it is gone), except afterlife itself and its
/// ancestors, which a pattern never selects (pkill leaves itself out too;
/// a shell named like the pattern is not meant). PID 1 and kernel threads
/// are returned, to be refused as when named. Pure but for `uid_of`.
pub fn matching(
    table: &ProcessTable,
    names: &NameMatch,
    guard: &Guard,
    uid_of: impl Fn(Pid) -> Option<u32>,
) -> Vec<Pid> {
    table
        .entries()
        .filter(|e| e.pid != guard.me && !guard.ancestors.contains(&e.pid))
        .filter(|e| names.matches_name(&e.name))
        .filter(|e| names.uid.is_none() || uid_of(e.pid) == names.uid)
        .map(|e| e.pid)
        .collect()
}

/// The real user ID of `pid` (`/proc/PID/status`, `Uid:` first field).
pub fn real_uid(pid: Pid) -> Option<u32> {
    crate::proc::status::read(pid).ok().map(|status| status.ruid)
}

/// The highest user ID: `(uid_t)-1`, 4294967295, is no user but "no
/// change" to setresuid(2) and chown(2), and no process runs as it.
pub const MAX_UID: u32 = u32::MAX - 1;

/// A user given as a name or a numeric ID, resolved through /etc/passwd
/// (afterlife is static and does no NSS look-up: users known only to LDAP
/// or systemd-homed must be given by number). A number is a user ID up to
/// [`MAX_UID`]; a larger one is refused as such, not looked up as a name.
/// Pure but for the read of /etc/passwd.
pub fn resolve_user(user: &str) -> Result<u32, String> {
    if !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()) {
        return match user.parse::<u32>() {
            Ok(uid) if uid <= MAX_UID => Ok(uid),
            _ => Err(format!("UID {user} is out of range (0 to {MAX_UID})")),
        };
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("cannot read /etc/passwd: {e}"))?;
    uid_in_passwd(&passwd, user)
        .ok_or_else(|| format!("no user {user:?} in /etc/passwd (give a numeric user ID for users not listed there)"))
}

/// The user ID of `name` in the text of /etc/passwd. Pure.
pub fn uid_in_passwd(passwd: &str, name: &str) -> Option<u32> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// Where a walk starts: the named processes, and the sessions and groups
/// they were in at the first scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchors {
    /// The scope.
    pub scope: Scope,
    /// The named PIDs that are roots of a walk (refused tree roots are left
    /// out, so their trees are not walked).
    pub roots: Vec<Pid>,
    /// Session IDs (for [`Scope::Session`]).
    pub sessions: BTreeSet<i32>,
    /// Process group IDs (for [`Scope::Pgroup`]).
    pub groups: BTreeSet<i32>,
}

fn member(entry: &TableEntry, named: bool) -> Member {
    Member {
        pid: entry.pid,
        start_ticks: entry.start_ticks,
        name: entry.name.clone(),
        named,
    }
}

/// Resolves named PIDs and a scope against a scan. A named PID missing from
/// the scan is an error: nothing is signalled when the input is wrong. A
/// refused tree root refuses its whole tree (`--tree 1` must not mean every
/// process but init).
pub fn select(
    table: &ProcessTable,
    named: &[Pid],
    scope: Scope,
    guard: &Guard,
) -> Result<(Selected, Anchors), SelectError> {
    let mut anchors = Anchors {
        scope,
        roots: Vec::new(),
        sessions: BTreeSet::new(),
        groups: BTreeSet::new(),
    };
    let mut selected = Selected::default();
    let mut seen = BTreeSet::new();
    for &pid in named {
        let Some(entry) = table.get(pid) else {
            anchor_dead_leader(table, pid, scope, &mut anchors)?;
            continue;
        };
        let reads_zero = |kind| SelectError::ReadsZero { pid, kind };
        // Kernel threads have 0 too, and are refused below; see
        // `SelectError::ReadsZero` for the others.
        match scope {
            Scope::Session if entry.sid == 0 && !entry.kernel_thread => return Err(reads_zero("session")),
            Scope::Pgroup if entry.pgid == 0 && !entry.kernel_thread => {
                return Err(reads_zero("process group"));
            }
            _ => {}
        }
        if !seen.insert(pid) {
            continue;
        }
        match guard.refusal(entry) {
            Some(refusal) => selected.refused.push(Refused {
                member: member(entry, true),
                refusal,
            }),
            None => {
                selected.members.push(member(entry, true));
                anchors.roots.push(pid);
            }
        }
        // A kernel thread's 0 anchors nothing: it is no session.
        match scope {
            Scope::Session if entry.sid != 0 => {
                anchors.sessions.insert(entry.sid);
            }
            Scope::Pgroup if entry.pgid != 0 => {
                anchors.groups.insert(entry.pgid);
            }
            _ => {}
        }
    }
    let known: BTreeSet<Pid> = seen;
    let (more, refused) = walk(table, &anchors, &anchors.roots, &known, guard);
    selected.members.extend(more);
    selected.refused.extend(refused);
    Ok((selected, anchors))
}

impl SelectError {
    /// A named PID not found that a process has all the same (`/proc`
    /// hides it) is said to be hidden, not gone.
    pub fn hidden_if_unlisted(self) -> SelectError {
        match self {
            SelectError::NotFound(pid) if crate::process::Process::exists_unlisted(pid) => SelectError::Hidden(pid),
            other => other,
        }
    }
}

/// A named PID that is gone: with `--pgroup` or `--session`, the group or
/// session it still names is ended; otherwise the error says what it still
/// names and how to reach it.
fn anchor_dead_leader(table: &ProcessTable, pid: Pid, scope: Scope, anchors: &mut Anchors) -> Result<(), SelectError> {
    let (group, session) = left_by_dead_leader(table, pid);
    match scope {
        Scope::Pgroup if group > 0 => {
            anchors.groups.insert(pid.get());
            Ok(())
        }
        Scope::Session if session > 0 => {
            anchors.sessions.insert(pid.get());
            Ok(())
        }
        _ if group > 0 || session > 0 => Err(SelectError::DeadLeader { pid, group, session }),
        _ => Err(SelectError::NotFound(pid)),
    }
}

/// Finds members not in `known`: descendants of `live` (the roots and every
/// member still alive, whose PIDs are pinned by open pidfds) for a tree,
/// every process of the anchored sessions or groups otherwise.
pub fn walk(
    table: &ProcessTable,
    anchors: &Anchors,
    live: &[Pid],
    known: &BTreeSet<Pid>,
    guard: &Guard,
) -> (Vec<Member>, Vec<Refused>) {
    let found: Vec<Pid> = match anchors.scope {
        Scope::Pids => Vec::new(),
        Scope::Tree => descendants_of_all(table, live),
        Scope::Session => anchors
            .sessions
            .iter()
            .flat_map(|&sid| table.session_members(sid))
            .collect(),
        Scope::Pgroup => anchors
            .groups
            .iter()
            .flat_map(|&pgid| table.pgroup_members(pgid))
            .collect(),
    };
    let mut members = Vec::new();
    let mut refused = Vec::new();
    let mut seen = BTreeSet::new();
    for pid in found {
        if known.contains(&pid) || !seen.insert(pid) {
            continue;
        }
        let Some(entry) = table.get(pid) else { continue };
        match guard.refusal(entry) {
            Some(refusal) => refused.push(Refused {
                member: member(entry, false),
                refusal,
            }),
            None => members.push(member(entry, false)),
        }
    }
    (members, refused)
}

/// Every descendant of any of `roots`, parents before children, in one
/// pass over the table (a walk from each root alone would read the whole
/// table once per member).
fn descendants_of_all(table: &ProcessTable, roots: &[Pid]) -> Vec<Pid> {
    let mut by_parent: BTreeMap<i32, Vec<Pid>> = BTreeMap::new();
    for entry in table.entries() {
        by_parent.entry(entry.ppid).or_default().push(entry.pid);
    }
    let mut seen: BTreeSet<Pid> = roots.iter().copied().collect();
    let mut order = Vec::new();
    let mut queue: VecDeque<Pid> = roots.iter().copied().collect();
    while let Some(parent) = queue.pop_front() {
        for &child in by_parent.get(&parent.get()).into_iter().flatten() {
            if seen.insert(child) {
                order.push(child);
                queue.push_back(child);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: i32, ppid: i32, pgid: i32, sid: i32) -> TableEntry {
        TableEntry::fixture(pid, ppid, pgid, sid)
    }

    fn p(n: i32) -> Pid {
        Pid::new(n).unwrap()
    }

    /// 1 ─ 2 (kthreadd) ─ 3 (kworker)
    ///   ├ 50 (shell, session 50) ─ 60 (afterlife)
    ///   ├ 100 (group 100, session 100) ─ 101 ─ 102
    ///   │                              └ 103 (setsid: session 103) ─ 104
    ///   └ 110 (double-forked orphan, group 100, session 100)
    fn table() -> ProcessTable {
        let mut k2 = entry(2, 0, 0, 0);
        k2.kernel_thread = true;
        let mut k3 = entry(3, 2, 0, 0);
        k3.kernel_thread = true;
        ProcessTable::from_entries([
            entry(1, 0, 1, 1),
            k2,
            k3,
            entry(50, 1, 50, 50),
            entry(60, 50, 60, 50),
            entry(100, 1, 100, 100),
            entry(101, 100, 100, 100),
            entry(102, 101, 100, 100),
            entry(103, 100, 103, 103),
            entry(104, 103, 103, 103),
            entry(110, 1, 100, 100),
        ])
    }

    fn guard(force: bool) -> Guard {
        let t = table();
        Guard {
            me: p(60),
            ancestors: t.ancestors(p(60)).into_iter().collect(),
            force,
        }
    }

    fn pids(selected: &Selected) -> Vec<i32> {
        let mut v: Vec<i32> = selected.members.iter().map(|m| m.pid.get()).collect();
        v.sort();
        v
    }

    fn refusals(selected: &Selected) -> Vec<(i32, Refusal)> {
        selected
            .refused
            .iter()
            .map(|r| (r.member.pid.get(), r.refusal))
            .collect()
    }

    #[test]
    fn pids_are_just_the_pids() {
        let (s, _) = select(&table(), &[p(101), p(104)], Scope::Pids, &guard(false)).unwrap();
        assert_eq!(pids(&s), [101, 104]);
        assert!(s.members.iter().all(|m| m.named));
        assert_eq!(s.members[0].start_ticks, 1101);
    }

    #[test]
    fn a_tree_includes_setsid_descendants_but_not_orphans() {
        let (s, _) = select(&table(), &[p(100)], Scope::Tree, &guard(false)).unwrap();
        assert_eq!(pids(&s), [100, 101, 102, 103, 104]);
        assert_eq!(s.members.iter().filter(|m| m.named).count(), 1);
    }

    #[test]
    fn a_dead_leader_still_names_its_group_and_session() {
        // 100 is gone; 101, 102 and 110 keep its group and session.
        let t = ProcessTable::from_entries(table().entries().filter(|e| e.pid != p(100)).cloned());
        assert_eq!(left_by_dead_leader(&t, p(100)), (3, 3));
        for scope in [Scope::Tree, Scope::Pids] {
            let error = select(&t, &[p(100)], scope, &guard(false)).unwrap_err();
            assert!(
                matches!(
                    error,
                    SelectError::DeadLeader {
                        group: 3,
                        session: 3,
                        ..
                    }
                ),
                "{error:?}"
            );
            assert_eq!(
                error.to_string(),
                "no process 100: it has exited, but its ID still names process group 100 (3 live processes): \
afterlife kill --pgroup 100; and session 100 (3 live processes): afterlife kill --session 100"
            );
        }
        let (s, anchors) = select(&t, &[p(100)], Scope::Pgroup, &guard(false)).unwrap();
        assert_eq!(pids(&s), [101, 102, 110]);
        assert!(s.members.iter().all(|m| !m.named));
        assert_eq!(anchors.groups, BTreeSet::from([100]));
        let (s, _) = select(&t, &[p(100)], Scope::Session, &guard(false)).unwrap();
        assert_eq!(pids(&s), [101, 102, 110]);
        // A PID that names nothing is still no such process.
        assert!(matches!(
            select(&t, &[p(999)], Scope::Pgroup, &guard(false)),
            Err(SelectError::NotFound(_))
        ));
    }

    #[test]
    fn a_group_catches_the_orphan_but_not_the_setsid_child() {
        let (s, _) = select(&table(), &[p(101)], Scope::Pgroup, &guard(false)).unwrap();
        assert_eq!(pids(&s), [100, 101, 102, 110]);
    }

    #[test]
    fn a_session_refuses_afterlife_and_its_shell() {
        let (s, anchors) = select(&table(), &[p(60)], Scope::Session, &guard(false)).unwrap();
        assert!(pids(&s).is_empty());
        assert_eq!(refusals(&s), [(60, Refusal::Itself), (50, Refusal::Ancestor)]);
        assert_eq!(anchors.sessions, BTreeSet::from([50]));
    }

    #[test]
    fn init_ancestors_and_kernel_threads_are_refused() {
        let (s, _) = select(&table(), &[p(1), p(50), p(3)], Scope::Pids, &guard(false)).unwrap();
        assert!(s.members.is_empty());
        assert_eq!(
            refusals(&s),
            [(1, Refusal::Init), (50, Refusal::Ancestor), (3, Refusal::KernelThread)]
        );
    }

    #[test]
    fn a_refused_root_does_not_bring_its_tree() {
        let (s, anchors) = select(&table(), &[p(1)], Scope::Tree, &guard(false)).unwrap();
        assert!(s.members.is_empty());
        assert!(anchors.roots.is_empty());
        assert_eq!(refusals(&s), [(1, Refusal::Init)]);
    }

    #[test]
    fn force_lifts_every_refusal_but_itself() {
        let (s, _) = select(&table(), &[p(1), p(50), p(3), p(60)], Scope::Pids, &guard(true)).unwrap();
        assert_eq!(pids(&s), [1, 3, 50]);
        assert_eq!(refusals(&s), [(60, Refusal::Itself)]);
        // The forced tree of an ancestor still leaves afterlife out.
        let (s, _) = select(&table(), &[p(50)], Scope::Tree, &guard(true)).unwrap();
        assert_eq!(pids(&s), [50]);
        assert_eq!(refusals(&s), [(60, Refusal::Itself)]);
    }

    #[test]
    fn a_missing_pid_is_an_error() {
        assert_eq!(
            select(&table(), &[p(100), p(999)], Scope::Tree, &guard(false)),
            Err(SelectError::NotFound(p(999)))
        );
    }

    #[test]
    fn a_session_or_group_that_reads_zero_is_an_error() {
        // What init started without setsid, and in a container what is led
        // from outside its PID namespace, reads 0 for both: "session 0"
        // would be all of them.
        let t = ProcessTable::from_entries(
            table()
                .entries()
                .cloned()
                .chain([entry(200, 1, 0, 0), entry(201, 1, 0, 0)]),
        );
        for (scope, kind) in [(Scope::Session, "session"), (Scope::Pgroup, "process group")] {
            assert_eq!(
                select(&t, &[p(200)], scope, &guard(false)),
                Err(SelectError::ReadsZero { pid: p(200), kind })
            );
        }
        let (s, _) = select(&t, &[p(200)], Scope::Tree, &guard(false)).unwrap();
        assert_eq!(pids(&s), [200]);
        // A kernel thread's 0 is refused as a kernel thread instead.
        let (s, _) = select(&t, &[p(3)], Scope::Session, &guard(false)).unwrap();
        assert!(s.members.is_empty());
    }

    #[test]
    fn a_name_matches_like_pgrep() {
        let any = NameMatch::new("p1.[02]", false, None).unwrap();
        let got = matching(&table(), &any, &guard(false), |_| Some(0));
        assert_eq!(got, [p(100), p(102), p(110)]);
        let exact = NameMatch::new("p10", true, None).unwrap();
        assert!(matching(&table(), &exact, &guard(false), |_| Some(0)).is_empty());
        let exact = NameMatch::new("p10[34]", true, None).unwrap();
        assert_eq!(matching(&table(), &exact, &guard(false), |_| Some(0)), [p(103), p(104)]);
        // Alternation and anchors are ERE's.
        let alt = NameMatch::new("^p(2|3)$", false, None).unwrap();
        assert_eq!(matching(&table(), &alt, &guard(false), |_| Some(0)), [p(2), p(3)]);
    }

    #[test]
    fn a_name_never_selects_afterlife_or_its_ancestors() {
        // 60 is afterlife, 50 its shell and 1 an ancestor too: none of them,
        // even with --force.
        let all = NameMatch::new("^p", false, None).unwrap();
        let got = matching(&table(), &all, &guard(true), |_| Some(0));
        assert!(!got.contains(&p(60)) && !got.contains(&p(50)) && !got.contains(&p(1)));
        assert!(got.contains(&p(3)) && got.contains(&p(100)));
    }

    #[test]
    fn a_user_restricts_the_match_to_its_real_uid() {
        let names = NameMatch::new("p10", false, Some(1000)).unwrap();
        let uid = |pid: Pid| match pid.get() {
            101 | 103 => Some(1000),
            102 => None,
            _ => Some(0),
        };
        assert_eq!(matching(&table(), &names, &guard(false), uid), [p(101), p(103)]);
    }

    #[test]
    fn a_dot_matches_a_newline_in_a_name_as_in_posix_ere() {
        // pgrep '^q.z$' finds a process named "q\nz".
        assert!(NameMatch::new("^q.z$", false, None).unwrap().matches_name("q\nz"));
        assert!(NameMatch::new("q.z", true, None).unwrap().matches_name("q\nz"));
        // The name's ends are its only line ends.
        assert!(!NameMatch::new("^z", false, None).unwrap().matches_name("q\nz"));
        assert!(!NameMatch::new("q$", false, None).unwrap().matches_name("q\nz"));
    }

    /// A class POSIX does not know is refused, never read as a nested set
    /// of its letters; the known ones match as in grep -E.
    #[test]
    fn an_unknown_character_class_is_refused() {
        for (pattern, reason) in [
            ("[[:foo:]]", "no character class [:foo:]"),
            ("^[[:alpah:]]+$", "no character class [:alpah:]"),
            ("[a[:dgit:]]", "no character class [:dgit:]"),
            ("[[:alpha]]", "opens a character class that ':]' never closes"),
            ("[[.a.]]", "collating elements"),
            ("[[=a=]]", "equivalence classes"),
        ] {
            let error = NameMatch::new(pattern, false, None).unwrap_err();
            assert!(
                error.reason.starts_with(reason) || error.reason.contains(reason),
                "{pattern}: {error}"
            );
        }
        let digits = NameMatch::new("^[[:digit:][:space:]]+$", false, None).unwrap();
        assert!(digits.matches_name("12 3") && !digits.matches_name("pool"));
        assert!(
            !NameMatch::new("[[:upper:]]", false, None)
                .unwrap()
                .matches_name("pool_workqueue_")
        );
        // A `[:` outside a bracket, or after an escape, is no class.
        assert!(NameMatch::new(r"a\[:b", false, None).unwrap().matches_name("a[:b"));
        assert!(NameMatch::new("[]:]", false, None).unwrap().matches_name("a:b"));
    }

    #[test]
    fn a_bad_pattern_says_why() {
        let error = NameMatch::new("ngin(x", false, None).unwrap_err();
        assert_eq!(error.pattern, "ngin(x");
        assert!(
            error.to_string().starts_with("invalid --name pattern \"ngin(x\": "),
            "{error}"
        );
        assert!(error.reason.contains("unclosed group"), "{error}");
        assert_eq!(
            NameMatch::new("", false, None).unwrap_err().to_string(),
            "invalid --name pattern \"\": it is empty and would match every process (write '.' to mean that)"
        );
    }

    #[test]
    fn users_resolve_through_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\npostgres:x:107:113::/var/lib/postgresql:/bin/bash\n";
        assert_eq!(uid_in_passwd(passwd, "postgres"), Some(107));
        assert_eq!(uid_in_passwd(passwd, "root"), Some(0));
        assert_eq!(uid_in_passwd(passwd, "post"), None);
        assert_eq!(resolve_user("4242"), Ok(4242));
        assert_eq!(resolve_user("0"), Ok(0));
        assert_eq!(resolve_user("4294967294"), Ok(4_294_967_294));
    }

    #[test]
    fn a_numeric_user_out_of_range_is_refused_as_a_number() {
        for uid in ["4294967295", "4294967296", "99999999999999999999999"] {
            assert_eq!(
                resolve_user(uid),
                Err(format!("UID {uid} is out of range (0 to 4294967294)"))
            );
        }
    }

    #[test]
    fn an_exited_leader_still_names_the_others_of_its_group_and_session() {
        // 100 leads group 100 (101, 102, 110 besides it) and session 100
        // (101, 102, 110); 101 leads nothing.
        let left = LeftByLeader::of(&table(), p(100)).unwrap();
        assert_eq!(
            left,
            LeftByLeader {
                pid: p(100),
                pgroup_members: 3,
                session_members: 3
            }
        );
        assert_eq!(
            left.describe(),
            "100 has exited, but its ID still names process group 100 (3 live processes): afterlife kill \
--pgroup 100; and session 100 (3 live processes): afterlife kill --session 100"
        );
        assert_eq!(LeftByLeader::of(&table(), p(101)), None);
        // 104 is all that is left of 103's group and session.
        assert_eq!(
            LeftByLeader::of(&table(), p(103)).unwrap().describe(),
            "103 has exited, but its ID still names process group 103 (1 live process): afterlife kill --pgroup \
103; and session 103 (1 live process): afterlife kill --session 103"
        );
        // A leader alone in its group and session names nothing more.
        let alone = ProcessTable::from_entries([entry(1, 0, 1, 1), entry(7, 1, 7, 7)]);
        assert_eq!(LeftByLeader::of(&alone, p(7)), None);
    }

    #[test]
    fn duplicates_are_selected_once() {
        let (s, _) = select(&table(), &[p(102), p(101), p(102)], Scope::Tree, &guard(false)).unwrap();
        assert_eq!(pids(&s), [101, 102]);
    }

    #[test]
    fn a_walk_finds_only_new_members_below_live_ones() {
        let (s, anchors) = select(&table(), &[p(100)], Scope::Tree, &guard(false)).unwrap();
        let known: BTreeSet<Pid> = s.members.iter().map(|m| m.pid).collect();
        // 101 forked 120; 104 forked 121 then the table shows 104's child.
        let mut rows: Vec<TableEntry> = table().entries().cloned().collect();
        rows.push(entry(120, 101, 100, 100));
        rows.push(entry(121, 104, 103, 103));
        let later = ProcessTable::from_entries(rows);
        let (new, refused) = walk(&later, &anchors, &[p(101), p(104)], &known, &guard(false));
        assert_eq!(new.iter().map(|m| m.pid.get()).collect::<Vec<_>>(), [120, 121]);
        assert!(new.iter().all(|m| !m.named));
        assert!(refused.is_empty());
    }
}
