//! Why a socket no process holds still exists: TIME_WAIT, an orphan
//! finishing its close, a half-open handshake, a connection in a listener's
//! accept queue, or a socket in flight in a unix socket's queue.

use std::collections::{HashMap, HashSet};

use crate::process::Pid;
use crate::resources::holders::brief::Briefs;
use crate::resources::holders::{Ghost, Receiver, SpecReport};
use crate::resources::sockets::{Protocol, Socket, SocketState};
use crate::resources::walk::{self, Hit, socket_inode};

/// The explanation that fits a socket no process holds. Pure over the dump.
pub fn ghost_reason(socket: &Socket, all: &[Socket], unreadable: usize, hidden: bool) -> GhostKind {
    match socket.state {
        SocketState::TimeWait => return GhostKind::TimeWait,
        SocketState::SynRecv | SocketState::NewSynRecv => return GhostKind::HalfOpen,
        _ => {}
    }
    if socket.protocol == Protocol::Unix
        && let Some(listener) = all
            .iter()
            .find(|l| l.pending.contains(&socket.inode) && l.netns == socket.netns)
    {
        return GhostKind::AcceptQueue(listener.inode);
    }
    if socket.inode == 0 {
        // A connection not yet accepted has no inode; one whose peer has
        // closed meanwhile waits there in CLOSE-WAIT (the kernel's orphans,
        // closed by their last process, are in FIN-WAIT, CLOSING or
        // LAST-ACK: closing a CLOSE-WAIT socket moves it to LAST-ACK).
        if matches!(socket.state, SocketState::Established | SocketState::CloseWait)
            && let Some(listener) = all.iter().find(|l| {
                l.state == SocketState::Listen
                    && l.protocol == socket.protocol
                    && l.netns == socket.netns
                    && l.port() == socket.port()
            })
        {
            return GhostKind::AcceptQueue(listener.inode);
        }
        return GhostKind::Orphaned(socket.state);
    }
    // Processes /proc does not list at all may hold it (hidepid).
    if hidden {
        return GhostKind::Hidden;
    }
    if unreadable > 0 {
        return GhostKind::Unreadable;
    }
    GhostKind::InFlight
}

/// The kinds of [`Ghost`], before holders of related sockets are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GhostKind {
    /// TIME_WAIT.
    TimeWait,
    /// Half-open.
    HalfOpen,
    /// In a listener's accept queue (the listener's inode).
    AcceptQueue(u64),
    /// Orphaned, in this state.
    Orphaned(SocketState),
    /// Processes could not be read.
    Unreadable,
    /// Processes are hidden from afterlife (`hidepid`).
    Hidden,
    /// In flight in a unix socket queue.
    InFlight,
}

pub(super) fn explain_ghost(
    socket: &Socket,
    all: &[Socket],
    by_inode: &HashMap<u64, Vec<&Hit>>,
    briefs: &mut Briefs,
    unreadable: usize,
    hidepid: Option<&str>,
) -> Ghost {
    match ghost_reason(socket, all, unreadable, hidepid.is_some()) {
        GhostKind::TimeWait => Ghost::TimeWait,
        GhostKind::HalfOpen => Ghost::HalfOpen,
        GhostKind::Orphaned(state) => Ghost::Orphaned { state },
        GhostKind::Unreadable => Ghost::Unreadable { processes: unreadable },
        GhostKind::Hidden => Ghost::Hidden {
            hidepid: hidepid.unwrap_or_default().to_string(),
        },
        GhostKind::InFlight => Ghost::InFlight { receivers: Vec::new() },
        GhostKind::AcceptQueue(listener) => {
            let mut pids: Vec<Pid> = by_inode
                .get(&listener)
                .map(|hits| hits.iter().map(|h| h.pid).collect())
                .unwrap_or_default();
            pids.dedup();
            Ghost::AcceptQueue {
                listener,
                holders: pids.into_iter().map(|p| briefs.process_ref(p)).collect(),
            }
        }
    }
}

/// Looks up the unix sockets with unread data and their holders: the
/// candidates for a socket in flight.
pub(super) fn fill_receivers(results: &mut [SpecReport], all: &[Socket], pids: &[Pid], briefs: &mut Briefs) {
    let candidates: Vec<&Socket> = all
        .iter()
        .filter(|s| s.protocol == Protocol::Unix && s.recv_queue > 0 && s.state != SocketState::Listen)
        .collect();
    let wanted: HashSet<u64> = candidates.iter().map(|s| s.inode).collect();
    let walk = walk::walk(pids, walk::Options::default(), |link| {
        socket_inode(link).filter(|i| wanted.contains(i)).map(|_| 0)
    });
    let mut receivers: Vec<Receiver> = Vec::new();
    for socket in candidates {
        let mut holders: Vec<Pid> = walk
            .hits
            .iter()
            .filter(|h| socket_inode(&h.link) == Some(socket.inode))
            .map(|h| h.pid)
            .collect();
        holders.dedup();
        if holders.is_empty() {
            continue;
        }
        receivers.push(Receiver {
            inode: socket.inode,
            path: socket.path.clone(),
            recv_queue: socket.recv_queue,
            holders: holders.into_iter().map(|p| briefs.process_ref(p)).collect(),
        });
    }
    for result in results {
        for m in &mut result.sockets {
            if let Some(Ghost::InFlight { receivers: r }) = &mut m.ghost {
                *r = receivers.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::holders::inet;

    #[test]
    fn ghosts_are_explained() {
        let listener = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::Listen, 9);
        let tw = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::TimeWait, 0);
        let fin = inet(Protocol::Tcp, "127.0.0.1:81", SocketState::FinWait2, 0);
        let syn = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::NewSynRecv, 0);
        let queued = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::Established, 0);
        let queued_closed = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::CloseWait, 0);
        let last_ack = inet(Protocol::Tcp, "127.0.0.1:80", SocketState::LastAck, 0);
        let all = vec![
            listener.clone(),
            tw.clone(),
            fin.clone(),
            syn.clone(),
            queued.clone(),
            queued_closed.clone(),
            last_ack.clone(),
        ];
        assert_eq!(ghost_reason(&tw, &all, 0, false), GhostKind::TimeWait);
        assert_eq!(
            ghost_reason(&fin, &all, 0, false),
            GhostKind::Orphaned(SocketState::FinWait2)
        );
        assert_eq!(ghost_reason(&syn, &all, 0, false), GhostKind::HalfOpen);
        assert_eq!(ghost_reason(&queued, &all, 0, false), GhostKind::AcceptQueue(9));
        assert_eq!(
            ghost_reason(&queued_closed, &all, 0, false),
            GhostKind::AcceptQueue(9),
            "its peer closed before it was accepted"
        );
        assert_eq!(
            ghost_reason(&last_ack, &all, 0, false),
            GhostKind::Orphaned(SocketState::LastAck)
        );
        assert_eq!(ghost_reason(&listener, &all, 0, false), GhostKind::InFlight);
        assert_eq!(ghost_reason(&listener, &all, 3, false), GhostKind::Unreadable);
        // Processes /proc hides (hidepid) may hold it: never "in flight".
        assert_eq!(ghost_reason(&listener, &all, 0, true), GhostKind::Hidden);
        assert_eq!(ghost_reason(&tw, &all, 0, true), GhostKind::TimeWait);
    }
}
