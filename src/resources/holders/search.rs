//! The search of `holds`, in its three steps: the sockets the SPECs name,
//! one walk of every process's fds (and a second for sockets of other
//! network namespaces), then holders, explanations and ghosts per SPEC.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::bpf::task_file::{self, OpenFile};
use crate::proc;
use crate::process::Pid;
use crate::resources::holders::brief::Briefs;
use crate::resources::holders::explain::holders_of;
use crate::resources::holders::ghosts::{explain_ghost, fill_receivers};
use crate::resources::holders::path::{FdLocks, PathTarget, foreign_mount_hits};
use crate::resources::holders::{
    BindEffect, Ghost, Holder, HoldsError, HoldsReport, NamespaceRead, SocketMatch, Spec, SpecReport, Unseen,
};
use crate::resources::locks;
use crate::resources::sockets::{self, NetnsId, Selection, Socket, Source};
use crate::resources::walk::{self, Hit, Slot, Walk, socket_inode};

/// The needle of a socket link in a walk (path SPECs use their index).
const SOCKET: u32 = u32::MAX;

/// Searches for the holders of every SPEC. A relative `unix:` path is
/// taken under the current directory, as a bare path is.
pub fn search(specs: &[(String, Spec)]) -> Result<HoldsReport, HoldsError> {
    // No current directory (removed): the path stays as written.
    let specs: Vec<(String, Spec)> = match std::env::current_dir() {
        Ok(cwd) => specs
            .iter()
            .map(|(text, spec)| (text.clone(), spec.clone().with_unix_path_under(&cwd)))
            .collect(),
        Err(_) => specs.to_vec(),
    };
    let specs = specs.as_slice();
    let pids = walk::all_pids();
    let hidepid = crate::proc::mountinfo::proc_hides_others();
    let own_netns = sockets::own_netns();
    let mut briefs = Briefs::default();

    // 1. The sockets the specs name, in every network namespace in use.
    let targets = Targets::examine(specs)?;
    // Keep only what a spec names; with one port asked for, the kernel filters.
    let keep = |socket: &Socket| targets.keeps(specs, socket);
    let filter = sockets::Filter {
        local_port: single_port(specs),
        keep: Some(&keep),
    };
    let mut found = Found::default();
    found.read_own(own_netns, targets.selection, &filter)?;
    let wanted = inodes_of(&found.sockets);

    // 2. One walk of every fd (and cwd/root/exe when paths are asked for),
    // noting each process's network namespace on the way.
    let files = targets.open_files(|file| wanted.contains(&file.inode));
    let mut walk = walk_once(&pids, &targets, &wanted, files.as_deref());
    let members = namespaces_in_use(&walk);
    // Other namespaces in use: their sockets, once each; a second walk only
    // if one of them has a socket the spec names.
    let own_count = found.sockets.len();
    found.read_others(&members, own_netns, targets.selection, &filter);
    let foreign: HashSet<u64> = inodes_of(&found.sockets[own_count..])
        .difference(&wanted)
        .copied()
        .collect();
    walk_again(&pids, &foreign, &targets, files.is_some(), &mut walk);
    // afterlife's own /proc directories are its scan's (`holds /proc` would
    // name them); what else it holds (a library caller's own socket) counts.
    let own = Pid::current();
    walk.hits
        .retain(|hit| hit.pid != own || !hit.link.starts_with(b"/proc"));
    let foreign_mounts = if targets.paths.is_empty() {
        Vec::new()
    } else {
        foreign_mount_hits(&pids, &targets.paths)
    };

    // 3. Holders, and for sockets nobody holds, why they exist.
    let by_inode = socket_hits(&walk);
    let context = Context {
        sockets: &found.sockets,
        by_inode: &by_inode,
        walk: &walk,
        members: &members,
        own_netns,
        pids: &pids,
        hidepid: hidepid.as_deref(),
        foreign_mounts: &foreign_mounts,
    };
    let mut results = Vec::new();
    let mut needs_receivers = false;
    for (i, (text, spec)) in specs.iter().enumerate() {
        let sockets: Vec<&Socket> = found
            .sockets
            .iter()
            .filter(|socket| targets.names(i, spec, socket))
            .collect();
        let mut socket_matches = context.socket_matches(&sockets, &mut briefs);
        if targets.by_name_alone(i, spec) {
            // Bound by that name in a chroot: the socket's file is under the
            // holders' root, not at this path.
            socket_matches.retain(|m| {
                let roots: Vec<Option<String>> = m.holders.iter().map(|h| root_of(h.pid)).collect();
                !bound_under_other_roots(&roots)
            });
        }
        needs_receivers |= socket_matches
            .iter()
            .any(|m| matches!(m.ghost, Some(Ghost::InFlight { .. })));
        let path = targets.paths.iter().find(|p| p.index == i);
        let path_holders = match path {
            Some(target) => context.path_holders(target, &mut briefs),
            None => Vec::new(),
        };
        let held = socket_matches.iter().any(|m| !m.holders.is_empty()) || !path_holders.is_empty();
        results.push(SpecReport {
            spec: text.clone(),
            sockets: socket_matches,
            holders: path_holders,
            held,
            unanswered: path.is_some_and(|p| p.unanswered),
        });
    }
    if needs_receivers {
        // The receiving socket is a unix socket: dump those now, once per namespace read.
        let unix = found.unix_sockets();
        fill_receivers(&mut results, &unix, &pids, &mut briefs);
    }
    Ok(HoldsReport {
        results,
        own_netns,
        namespaces: found.namespaces,
        unseen: unseen(&walk, hidepid),
    })
}

/// What the SPECs ask for: which socket tables to dump, and the path SPECs,
/// examined once.
struct Targets {
    selection: Selection,
    paths: Vec<PathTarget>,
    /// The socket files `unix:/PATH` SPECs name here, examined once: a
    /// socket bound by that name in another mount namespace is another
    /// file.
    unix_files: Vec<PathTarget>,
}

impl Targets {
    fn examine(specs: &[(String, Spec)]) -> Result<Targets, HoldsError> {
        let mut selection = Selection {
            tcp: false,
            udp: false,
            unix: false,
        };
        let mut paths = Vec::new();
        let mut unix_files = Vec::new();
        for (i, (_, spec)) in specs.iter().enumerate() {
            let s = spec.selection();
            selection.tcp |= s.tcp;
            selection.udp |= s.udp;
            selection.unix |= s.unix;
            // A `unix:` path with no socket file here (removed, or bound in
            // another mount namespace only) is matched by name alone.
            if let Spec::Unix { name } = spec
                && name.starts_with('/')
                && let Ok(file) = PathTarget::examine(i, std::path::Path::new(name))
                && file.is_socket
            {
                unix_files.push(file);
            }
            if let Spec::Path(path) = spec {
                let target = PathTarget::examine(i, path)?;
                if target.is_socket {
                    selection.unix = true;
                }
                paths.push(target);
            }
        }
        Ok(Targets {
            selection,
            paths,
            unix_files,
        })
    }

    /// Whether SPEC number `index` is a `unix:` path matched by the name
    /// a socket was bound by, no socket file being at the path here.
    fn by_name_alone(&self, index: usize, spec: &Spec) -> bool {
        matches!(spec, Spec::Unix { name } if name.starts_with('/'))
            && !self.unix_files.iter().any(|f| f.index == index)
    }

    fn wants_sockets(&self) -> bool {
        self.selection.tcp || self.selection.udp || self.selection.unix
    }

    /// Whether a dump keeps `socket`: a SPEC names it, or a path SPEC is
    /// the path it is bound to.
    fn keeps(&self, specs: &[(String, Spec)], socket: &Socket) -> bool {
        specs.iter().any(|(_, spec)| spec.matches_socket(socket))
            || self.paths.iter().chain(&self.unix_files).any(|p| p.is_bound_to(socket))
    }

    /// Whether SPEC number `index` names `socket` (a path SPEC names the
    /// unix socket bound to it; so does a `unix:` path whose socket file
    /// is here, by the bound file's device and inode, not the name it was
    /// bound by, which names another file in another mount namespace).
    fn names(&self, index: usize, spec: &Spec, socket: &Socket) -> bool {
        if let Some(file) = self.unix_files.iter().find(|f| f.index == index) {
            return file.is_bound_to(socket) || (socket.bound_file.is_none() && spec.matches_socket(socket));
        }
        spec.matches_socket(socket) || self.paths.iter().any(|p| p.index == index && p.is_bound_to(socket))
    }

    /// Sockets alone: every process's open files in one pass inside the
    /// kernel where the BPF iterator runs; paths need the /proc walk (cwd,
    /// root and exe are not fds).
    fn open_files(&self, keep: impl Fn(&OpenFile) -> bool) -> Option<Vec<OpenFile>> {
        if self.wants_sockets() && self.paths.is_empty() {
            task_file::open_files(|file| file.is_socket() && keep(file))
        } else {
            None
        }
    }
}

/// With one port asked for (however often), that port: the kernel then
/// filters the dump. A range is filtered here, after the dump.
fn single_port(specs: &[(String, Spec)]) -> Option<u16> {
    let mut ports = specs.iter().filter_map(|(_, spec)| match spec {
        Spec::Port { ports, .. } => Some(ports.clone()),
        _ => None,
    });
    let first = ports.next().filter(|p| p.start() == p.end())?;
    ports.all(|p| p == first).then_some(*first.start())
}

/// The sockets found, and how each network namespace was read.
#[derive(Default)]
struct Found {
    sockets: Vec<Socket>,
    namespaces: Vec<NamespaceRead>,
}

impl Found {
    /// The sockets of afterlife's own namespace.
    fn read_own(
        &mut self,
        own_netns: Option<NetnsId>,
        selection: Selection,
        filter: &sockets::Filter<'_>,
    ) -> Result<(), HoldsError> {
        let wants_sockets = selection.tcp || selection.udp || selection.unix;
        if wants_sockets && let Some(own) = own_netns {
            self.sockets.extend(sockets::dump_filtered(own, selection, filter)?);
            self.namespaces.push(NamespaceRead {
                netns: own,
                member: None,
                source: Some(Source::SockDiag),
                error: None,
            });
        }
        Ok(())
    }

    /// The sockets of the other namespaces in use, through a member of each.
    fn read_others(
        &mut self,
        members: &BTreeMap<NetnsId, Pid>,
        own_netns: Option<NetnsId>,
        selection: Selection,
        filter: &sockets::Filter<'_>,
    ) {
        for (&netns, &member) in members {
            if Some(netns) == own_netns {
                continue;
            }
            match sockets::dump_namespace_filtered(netns, Some(member), selection, filter) {
                Ok((found, source)) => {
                    self.sockets.extend(found);
                    self.namespaces.push(NamespaceRead {
                        netns,
                        member: Some(member),
                        source: Some(source),
                        error: None,
                    });
                }
                // The member exited or its namespace is out of reach: say so.
                Err(error) => self.namespaces.push(NamespaceRead {
                    netns,
                    member: Some(member),
                    source: None,
                    error: Some(error.to_string()),
                }),
            }
        }
    }

    /// Every unix socket of the namespaces that were read.
    fn unix_sockets(&self) -> Vec<Socket> {
        let mut unix = Vec::new();
        let only_unix = Selection {
            tcp: false,
            udp: false,
            unix: true,
        };
        for ns in self.namespaces.iter().filter(|n| n.error.is_none()) {
            if let Ok((found, _)) = sockets::dump_namespace(ns.netns, ns.member, only_unix) {
                unix.extend(found);
            }
        }
        unix
    }
}

fn inodes_of(sockets: &[Socket]) -> HashSet<u64> {
    sockets.iter().map(|s| s.inode).filter(|&i| i != 0).collect()
}

/// The walk of every process: links to the `wanted` sockets (needle
/// [`SOCKET`]) and to the path SPECs (needle: the index among them).
fn walk_once(pids: &[Pid], targets: &Targets, wanted: &HashSet<u64>, files: Option<&[OpenFile]>) -> Walk {
    let options = walk::Options {
        process_links: !targets.paths.is_empty(),
        netns: targets.wants_sockets(),
    };
    let matcher = |link: &[u8]| {
        if let Some(inode) = socket_inode(link) {
            return wanted.contains(&inode).then_some(SOCKET);
        }
        targets
            .paths
            .iter()
            .position(|p| p.matches_link(link) || p.may_lead_to(link))
            .map(|n| n as u32)
    };
    match files {
        Some(files) => walk::walk_open_files(pids, files, options, matcher),
        None => walk::walk(pids, options, matcher),
    }
}

/// Walks again for the sockets found in other namespaces, adding the hits;
/// where the first walk read the BPF iterator (`iterated`), its records are
/// read again for these sockets (the first kept only the wanted ones).
fn walk_again(pids: &[Pid], foreign: &HashSet<u64>, targets: &Targets, iterated: bool, walk: &mut Walk) {
    if foreign.is_empty() {
        return;
    }
    let matcher = |link: &[u8]| socket_inode(link).filter(|i| foreign.contains(i)).map(|_| SOCKET);
    let files = iterated
        .then(|| targets.open_files(|file| foreign.contains(&file.inode)))
        .flatten();
    let more = match files {
        Some(files) => walk::walk_open_files(pids, &files, walk::Options::default(), matcher),
        None => walk::walk(pids, walk::Options::default(), matcher),
    };
    walk.hits.extend(more.hits);
}

/// One process per network namespace the walk saw (the first).
fn namespaces_in_use(walk: &Walk) -> BTreeMap<NetnsId, Pid> {
    let mut members: BTreeMap<NetnsId, Pid> = BTreeMap::new();
    for &(pid, netns) in &walk.netns {
        members.entry(netns).or_insert(pid);
    }
    members
}

/// The walk's socket hits by inode.
fn socket_hits(walk: &Walk) -> HashMap<u64, Vec<&Hit>> {
    let mut by_inode: HashMap<u64, Vec<&Hit>> = HashMap::new();
    for hit in &walk.hits {
        if hit.needle == SOCKET
            && let Some(inode) = socket_inode(&hit.link)
        {
            by_inode.entry(inode).or_default().push(hit);
        }
    }
    by_inode
}

/// The processes whose fds could not be read: how many, and the first 20;
/// and the `hidepid` that hides others altogether.
fn unseen(walk: &Walk, hidepid: Option<String>) -> Unseen {
    let mut pids = walk.unreadable.clone();
    pids.truncate(20);
    Unseen {
        processes: walk.unreadable.len(),
        pids,
        hidepid,
    }
}

/// A process's root directory as its `/proc/PID/root` link reads from
/// afterlife's root; `None` where unreadable.
fn root_of(pid: Pid) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/root"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Whether a unix socket whose holders have these root directories
/// (`None`: unreadable) was bound under another root than afterlife's:
/// every holder is chrooted, so the name it was bound by is a path under
/// their root. Held by none, or by one whose root is `/` or unknown, it is
/// not known to be. Pure.
fn bound_under_other_roots(roots: &[Option<String>]) -> bool {
    !roots.is_empty() && roots.iter().all(|r| r.as_deref().is_some_and(|r| r != "/"))
}

/// What the third step reads from the first two.
struct Context<'a> {
    sockets: &'a [Socket],
    by_inode: &'a HashMap<u64, Vec<&'a Hit>>,
    walk: &'a Walk,
    members: &'a BTreeMap<NetnsId, Pid>,
    own_netns: Option<NetnsId>,
    pids: &'a [Pid],
    hidepid: Option<&'a str>,
    /// Links of processes in other mount namespaces that lead to a path
    /// target's file, whatever their text (`needle`: the SPEC's index).
    foreign_mounts: &'a [Hit],
}

impl Context<'_> {
    /// Each socket a SPEC names, with its holders, or why it exists
    /// without one.
    fn socket_matches(&self, sockets: &[&Socket], briefs: &mut Briefs) -> Vec<SocketMatch> {
        let mut matches = Vec::with_capacity(sockets.len());
        for &socket in sockets {
            let hits = self.by_inode.get(&socket.inode).map(Vec::as_slice).unwrap_or(&[]);
            let holders = if socket.inode == 0 {
                Vec::new()
            } else {
                holders_of(hits, briefs)
            };
            let foreign_netns = (Some(socket.netns) != self.own_netns)
                .then(|| self.members.get(&socket.netns).map(|&m| briefs.process_ref(m)))
                .flatten();
            let ghost = holders.is_empty().then(|| {
                explain_ghost(
                    socket,
                    self.sockets,
                    self.by_inode,
                    briefs,
                    self.walk.unreadable.len(),
                    self.hidepid,
                )
            });
            // What stays in the way of a new server when none holds it; a
            // connection in an accept queue is its listener's, which the
            // listener's own line speaks for.
            let bind = ghost
                .as_ref()
                .filter(|g| !matches!(g, Ghost::AcceptQueue { .. } | Ghost::HalfOpen))
                .and_then(|_| BindEffect::of(socket));
            matches.push(SocketMatch {
                socket: socket.clone(),
                foreign_netns,
                holders,
                ghost,
                bind,
            });
        }
        matches
    }

    /// The holders of a path SPEC: by link, then by mapping and lock.
    fn path_holders(&self, target: &PathTarget, briefs: &mut Briefs) -> Vec<Holder> {
        // A link may match several path specs (a file and its mount point).
        let mut hits: Vec<&Hit> = self
            .walk
            .hits
            .iter()
            .filter(|h| h.needle != SOCKET)
            .filter(|h| {
                if target.matches_link(&h.link) {
                    target.is_same_file(|| file_behind(h), || proc::ns::shares_mount_namespace(h.pid))
                } else {
                    // Another path: the fd's file itself must be the
                    // target's, in afterlife's own mount namespace.
                    target.may_lead_to(&h.link)
                        && proc::ns::shares_mount_namespace(h.pid)
                        && fd_file_id(h).is_some_and(|(mnt_id, inode)| {
                            proc::mountinfo::own_text().is_ok_and(|mounts| target.is_file_on(mnt_id, inode, mounts))
                        })
                }
            })
            .collect();
        // The same file reached through another namespace's mounts.
        for hit in self.foreign_mounts.iter().filter(|h| h.needle as usize == target.index) {
            if !hits.iter().any(|h| (h.pid, h.slot) == (hit.pid, hit.slot)) {
                hits.push(hit);
            }
        }
        hits.sort_by_key(|h| (h.pid, h.slot));
        let mut holders = holders_of(&hits, briefs);
        // The locks of open files go where their fds go: read from the
        // fdinfo of the fds on the path (the same `lock:` lines snapshot
        // reads), where there can be one.
        let all = locks::read();
        let fd_locks: Vec<FdLocks> = if target.wants_fd_locks(&all, crate::process::in_initial_pid_namespace()) {
            hits.iter()
                .filter_map(|h| match h.slot {
                    // Closed or gone meanwhile: it holds nothing now.
                    Slot::Fd(fd) => std::fs::read_to_string(h.fd_file("fdinfo", fd))
                        .ok()
                        .map(|text| (h.pid, fd, locks::from_fdinfo(&text))),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        holders.extend(target.mapped_and_locked(self.pids, &all, &fd_locks, briefs));
        holders
    }
}

/// The mount ID and inode of the file an fd hit refers to, from its
/// fdinfo (`mnt_id:`, `ino:` lines; `ino` since Linux 5.14): no look at
/// the file itself. `None` for cwd, root and exe, or an fd closed since.
fn fd_file_id(hit: &Hit) -> Option<(u64, u64)> {
    let Slot::Fd(fd) = hit.slot else { return None };
    let text = std::fs::read_to_string(hit.fd_file("fdinfo", fd)).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    Some((field("mnt_id:")?, field("ino:")?))
}

/// The device and inode of the file a hit's link leads to (`stat`
/// follows a `/proc` link into any mount namespace); `None` where it is
/// gone (an fd closed since the walk read it).
fn file_behind(hit: &Hit) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(hit.link_path()).ok().map(|m| (m.dev(), m.ino()))
}

/// One process per network namespace in use (the lowest PID).
pub fn namespace_members(pids: &[Pid]) -> BTreeMap<NetnsId, Pid> {
    let found = walk::parallel_map(pids, |&pid| sockets::netns_of(pid));
    let mut members = BTreeMap::new();
    for (pid, netns) in pids.iter().zip(found) {
        // Unreadable (another user's process) or gone: skip it.
        if let Some(netns) = netns {
            members.entry(netns).or_insert(*pid);
        }
    }
    members
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::holders::inet;
    use crate::resources::sockets::{Protocol, SocketState};

    fn specs(texts: &[&str]) -> Vec<(String, Spec)> {
        texts.iter().map(|t| (t.to_string(), t.parse().unwrap())).collect()
    }

    #[test]
    fn a_socket_is_bound_under_another_root_only_when_every_holder_is_chrooted() {
        let root = |r: &str| Some(r.to_string());
        assert!(bound_under_other_roots(&[root("/srv/jail")]));
        assert!(bound_under_other_roots(&[root("/srv/jail"), root("/srv/other")]));
        assert!(!bound_under_other_roots(&[root("/srv/jail"), root("/")]));
        assert!(!bound_under_other_roots(&[root("/srv/jail"), None]));
        assert!(!bound_under_other_roots(&[]));
    }

    #[test]
    fn one_port_asked_for_is_filtered_by_the_kernel() {
        assert_eq!(single_port(&specs(&["tcp:80", ":80", "127.0.0.1:80"])), Some(80));
        assert_eq!(single_port(&specs(&["tcp:80", "udp:53"])), None);
        assert_eq!(single_port(&specs(&["unix:@x"])), None);
    }

    #[test]
    fn targets_select_the_tables_the_specs_need() {
        let targets = Targets::examine(&specs(&["udp:53", "unix:@x"])).unwrap();
        assert_eq!(
            targets.selection,
            Selection {
                tcp: false,
                udp: true,
                unix: true
            }
        );
        assert!(targets.paths.is_empty() && targets.wants_sockets());
        let paths = specs(&["/"]);
        let targets = Targets::examine(&paths).unwrap();
        assert!(!targets.wants_sockets());
        assert_eq!(targets.paths.len(), 1);
        let listener = inet(Protocol::Tcp, "0.0.0.0:80", SocketState::Listen, 7);
        let tcp = specs(&["tcp:80"]);
        assert!(Targets::examine(&tcp).unwrap().keeps(&tcp, &listener));
        assert!(!targets.keeps(&paths, &listener));
    }

    #[test]
    fn hits_are_grouped_by_socket_inode() {
        let hit = |pid: i32, needle: u32, link: &[u8]| Hit {
            pid: Pid::new(pid).unwrap(),
            slot: walk::Slot::Fd(3),
            needle,
            link: link.to_vec(),
            thread: None,
        };
        let walk = Walk {
            netns: vec![
                (Pid::new(5).unwrap(), 40),
                (Pid::new(9).unwrap(), 41),
                (Pid::new(2).unwrap(), 40),
            ],
            hits: vec![
                hit(5, SOCKET, b"socket:[11]"),
                hit(9, SOCKET, b"socket:[11]"),
                hit(9, 0, b"/tmp/x"),
            ],
            unreadable: (100..130).map(|p| Pid::new(p).unwrap()).collect(),
            scanned: 3,
        };
        let by_inode = socket_hits(&walk);
        assert_eq!(by_inode.len(), 1);
        assert_eq!(by_inode[&11].len(), 2);
        let members = namespaces_in_use(&walk);
        assert_eq!(members[&40], Pid::new(5).unwrap());
        assert_eq!(members[&41], Pid::new(9).unwrap());
        let unseen = unseen(&walk, None);
        assert_eq!((unseen.processes, unseen.pids.len()), (30, 20));
    }
}
