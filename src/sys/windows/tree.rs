//! Which rows of a snapshot belong to a tree: pure functions.
//!
//! Toolhelp gives each process the PID its parent had at its creation. That
//! PID may since name another process, so a link counts only when the child
//! was created after the process now holding the parent PID (creation times
//! from `GetProcessTimes`). And a handle opened after a snapshot holds the
//! process the snapshot saw only if that process was created before the
//! snapshot was taken.

/// Whether a process created at `child_created` is a child of the process
/// created at `parent_created` that now holds its parent PID.
pub(crate) fn is_child(parent_created: u64, child_created: u64) -> bool {
    child_created >= parent_created
}

/// Whether a handle to a process created at `created` holds the process a
/// snapshot taken at `taken` found (not a later one with its PID).
pub(crate) fn held_is_snapshots(created: u64, taken: u64) -> bool {
    created <= taken
}

/// The PIDs in `rows` (PID, parent PID) whose parent PID is in `members`
/// and that are not members yet: the candidates of one more walk.
pub(crate) fn candidates(rows: &[(u32, u32)], members: &[u32]) -> Vec<(u32, u32)> {
    rows.iter()
        .filter(|(pid, ppid)| pid != ppid && members.contains(ppid) && !members.contains(pid))
        .copied()
        .collect()
}

/// The parent PIDs above `pid` in `rows` (PID, parent PID), nearest first.
/// A link may be stale (the parent gone, its PID reused): the list is what
/// a refusal should err on the side of, not a walk to act on.
pub(crate) fn ancestors(rows: &[(u32, u32)], pid: u32) -> Vec<u32> {
    let mut chain = Vec::new();
    let mut at = pid;
    while let Some(&(_, parent)) = rows.iter().find(|(p, _)| *p == at) {
        if parent == 0 || parent == at || chain.contains(&parent) || parent == pid {
            break;
        }
        chain.push(parent);
        at = parent;
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_younger_than_its_parent() {
        assert!(is_child(100, 100));
        assert!(is_child(100, 150));
        // The parent PID now names a process created after the child: the
        // real parent exited and its PID was reused.
        assert!(!is_child(200, 150));
    }

    #[test]
    fn a_handle_holds_the_snapshots_process_only_if_older_than_the_snapshot() {
        assert!(held_is_snapshots(90, 100));
        assert!(!held_is_snapshots(110, 100));
    }

    #[test]
    fn ancestors_stop_at_a_loop_or_the_root() {
        let rows = [(4, 0), (8, 4), (12, 8), (16, 20), (20, 16)];
        assert_eq!(ancestors(&rows, 12), vec![8, 4]);
        assert_eq!(ancestors(&rows, 16), vec![20]);
        assert_eq!(ancestors(&rows, 99), Vec::<u32>::new());
    }

    #[test]
    fn candidates_are_new_children_of_members() {
        let rows = [(4, 0), (8, 4), (12, 8), (16, 4), (20, 99), (0, 0)];
        assert_eq!(candidates(&rows, &[4]), vec![(8, 4), (16, 4)]);
        assert_eq!(candidates(&rows, &[4, 8, 16]), vec![(12, 8)]);
        assert_eq!(candidates(&rows, &[0]), vec![(4, 0)]);
    }
}
