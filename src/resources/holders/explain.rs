//! How each holder got what it holds: inherited from its parent (the same
//! socket, or the same open file by kcmp(2)), kept across `exec` for want of
//! `O_CLOEXEC`, or left by a process group leader that is gone.

use std::collections::HashSet;

use crate::proc;
use crate::proc::fdinfo::FdInfo;
use crate::process::Pid;
use crate::resources::holders::brief::{Brief, Briefs};
use crate::resources::holders::{Holder, Origin, Via};
use crate::resources::walk::{self, Hit, Slot, socket_inode};

impl Holder {
    /// A holder with no fd and no explanation (yet): a mapping, a lock, a
    /// cwd.
    pub(super) fn plain(pid: Pid, brief: &Brief, user: Option<String>, via: Via) -> Holder {
        Holder {
            pid,
            name: brief.name.clone(),
            uid: brief.uid,
            user,
            ppid: brief.ppid,
            pgid: brief.pgid,
            via,
            fd: None,
            access: None,
            cloexec: None,
            origins: Vec::new(),
        }
    }
}

/// The holders of a set of links: per hit, a [`Holder`] with fdinfo and the
/// inheritance explanation (its parent holds an equal link).
pub(super) fn holders_of(hits: &[&Hit], briefs: &mut Briefs) -> Vec<Holder> {
    let holding: HashSet<Pid> = hits.iter().map(|h| h.pid).collect();
    briefs.prefetch(holding.iter().copied());
    let parents: Vec<Pid> = holding
        .iter()
        .filter_map(|p| briefs.get(*p).and_then(|b| Pid::new(b.ppid)))
        .filter(|p| holding.contains(p))
        .collect();
    briefs.prefetch(parents);
    // ENOENT: closed since the walk; the holder is still reported, without fdinfo.
    let infos = walk::parallel_map(hits, |hit| match hit.slot {
        Slot::Fd(fd) => std::fs::read_to_string(hit.fd_file("fdinfo", fd))
            .ok()
            .map(|text| FdInfo::parse(&text)),
        _ => None,
    });
    let mut holders = Vec::with_capacity(hits.len());
    for (hit, info) in hits.iter().zip(infos) {
        // Gone since the walk: skip it.
        let Some(b) = briefs.get(hit.pid).cloned() else {
            continue;
        };
        let via = match hit.slot {
            Slot::Fd(_) => Via::Fd,
            Slot::Cwd => Via::Cwd,
            Slot::Root => Via::Root,
            Slot::Exe => Via::Exe,
        };
        let user = briefs.user(b.uid);
        let mut holder = Holder::plain(hit.pid, &b, user, via);
        if let Some(parent) = Pid::new(b.ppid)
            && holding.contains(&parent)
            && let Some(parent_fd) = shares_with_parent(hit, parent, hits)
        {
            let parent_name = briefs.get(parent).map(|p| p.name.clone()).unwrap_or_default();
            holder
                .origins
                .push(origin_from_parent(hit.slot, parent, parent_name, parent_fd));
        }
        let inherited = !holder.origins.is_empty();
        if !inherited && let Some(pgid) = Pid::new(b.pgid).filter(|&g| g != hit.pid) {
            let leader = briefs.get(pgid).map(|l| (l.pgid, l.start_ticks));
            // A leader /proc hides (hidepid) is not known to be gone.
            let hidden = leader.is_none() && crate::process::Process::exists_unlisted(pgid);
            if !hidden && leader_gone((hit.pid.get(), b.pgid, b.start_ticks), leader) {
                holder.origins.push(Origin::LeaderGone { pgid: b.pgid });
            }
        }
        if let Slot::Fd(fd) = hit.slot {
            holder.fd = Some(fd);
            if let Some(info) = info {
                holder.access = Some(info.access());
                holder.cloexec = Some(info.cloexec());
                if !info.cloexec() {
                    holder.origins.push(Origin::NoCloexec);
                }
            }
        }
        holders.push(holder);
    }
    holders
}

/// Whether the process that made a holder's process group is gone, from the
/// holder's `(pid, pgid, start ticks)` and what the group ID's PID is now
/// (`(pgid, start ticks)`, `None` when no such process exists). The group's
/// ID is its leader's PID; a process with that PID that is not in the group,
/// or that started after the holder (the PID was reused), is not the leader.
/// Pure.
pub fn leader_gone(holder: (i32, i32, u64), leader_now: Option<(i32, u64)>) -> bool {
    let (pid, pgid, started) = holder;
    if pgid <= 0 || pgid == pid {
        return false;
    }
    match leader_now {
        None => true,
        Some((its_pgid, its_start)) => its_pgid != pgid || its_start > started,
    }
}

/// Whether `hit` refers to the same open file as one of `parent`'s hits: for
/// a socket the inode says so (a socket has one open file); for a path,
/// `kcmp(KCMP_FILE)` compares the open file descriptions, since a parent
/// and child may have opened the same path each on its own.
/// What a parent holding the same thing says of where it came from: `fork`
/// keeps fd numbers, so the same number is inheritance; another number
/// may be a passing (SCM_RIGHTS, pidfd_getfd) as well as a `dup2` after
/// the fork, and is said as that. Pure.
fn origin_from_parent(slot: Slot, parent: Pid, parent_name: String, parent_fd: Option<i32>) -> Origin {
    match (slot, parent_fd) {
        (Slot::Fd(fd), Some(parent_fd)) if fd != parent_fd => Origin::SharedWithParent {
            parent,
            parent_name,
            parent_fd,
        },
        _ => Origin::Inherited { parent, parent_name },
    }
}

/// Whether `parent` holds what `hit` holds: `Some(None)` for the same
/// cwd, root or exe, `Some(Some(fd))` for the same socket or open file at
/// the parent's `fd` (at the holder's own number first).
fn shares_with_parent(hit: &Hit, parent: Pid, hits: &[&Hit]) -> Option<Option<i32>> {
    let Slot::Fd(fd) = hit.slot else {
        // cwd, root, exe: the same path in parent and child is inherited or
        // chosen alike; both read as "holds the same".
        return hits
            .iter()
            .any(|h| h.pid == parent && h.link == hit.link)
            .then_some(None);
    };
    let same = |h: &&&Hit| {
        let Slot::Fd(parent_fd) = h.slot else { return false };
        h.pid == parent
            && h.link == hit.link
            && (socket_inode(&hit.link).is_some() || proc::kcmp::same_file(parent, parent_fd, hit.pid, fd))
    };
    let at_same_number = hits.iter().filter(same).find(|h| h.slot == hit.slot);
    let found = at_same_number.or_else(|| hits.iter().find(same))?;
    match found.slot {
        Slot::Fd(parent_fd) => Some(Some(parent_fd)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_without_its_leader_is_told() {
        // Worker 201 in group 200; the master 200 was killed.
        assert!(leader_gone((201, 200, 50), None));
        // The master lives.
        assert!(!leader_gone((201, 200, 50), Some((200, 40))));
        // PID 200 is a new process, in another group or started later.
        assert!(leader_gone((201, 200, 50), Some((300, 40))));
        assert!(leader_gone((201, 200, 50), Some((200, 60))));
        // A group leader itself, or the kernel's group 0.
        assert!(!leader_gone((200, 200, 50), None));
        assert!(!leader_gone((201, 0, 50), None));
    }
}
