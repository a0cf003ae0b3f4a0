//! `holds --deleted`: files unlinked but still held open by an fd or kept
//! by a mapping, with the disk space they keep.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use serde::Serialize;

use crate::proc;
use crate::process::Pid;
use crate::resources::holders::brief::Briefs;
use crate::resources::holders::explain::holders_of;
use crate::resources::holders::{Holder, Unseen, Via};
use crate::resources::walk::{self, Hit, Slot};

/// A deleted file still held open.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletedFile {
    /// Its last path.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Disk space it keeps (allocated blocks).
    pub disk_bytes: u64,
    /// Device number.
    pub device: u64,
    /// Inode.
    pub inode: u64,
    /// Who holds it.
    pub holders: Vec<Holder>,
}

/// The answer of `holds --deleted`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletedReport {
    /// The files, largest first.
    pub files: Vec<DeletedFile>,
    /// Disk space they keep together.
    pub disk_bytes: u64,
    /// What could not be read.
    pub unseen: Unseen,
}

/// Every deleted file still held open by an fd, with the space it keeps.
pub fn deleted_files() -> DeletedReport {
    let pids = walk::all_pids();
    let walk = walk::walk(&pids, walk::Options::default(), |link| {
        (link.starts_with(b"/") && link.ends_with(b" (deleted)") && !link.starts_with(b"/memfd:")).then_some(0)
    });
    let mut briefs = Briefs::default();
    let mut by_file: BTreeMap<(u64, u64), (DeletedFile, Vec<&Hit>)> = BTreeMap::new();
    for hit in &walk.hits {
        let Slot::Fd(fd) = hit.slot else { continue };
        // Closed since the walk, or a process we cannot stat through: skip it.
        let Ok(meta) = std::fs::metadata(hit.fd_file("fd", fd)) else {
            continue;
        };
        // A name removed while another link stays (`rm a` of `ln a b`)
        // reads "(deleted)" too, but closing it frees nothing: only a file
        // with no link left is deleted (as `lsof +L1` lists).
        if !meta.is_file() || meta.nlink() > 0 {
            continue;
        }
        let path = hit.link.strip_suffix(b" (deleted)").unwrap_or(&hit.link);
        let entry = by_file.entry((meta.dev(), meta.ino())).or_insert_with(|| {
            (
                DeletedFile {
                    path: String::from_utf8_lossy(path).into_owned(),
                    size: meta.size(),
                    disk_bytes: meta.blocks() * 512,
                    device: meta.dev(),
                    inode: meta.ino(),
                    holders: Vec::new(),
                },
                Vec::new(),
            )
        });
        entry.1.push(hit);
    }
    let mut files: BTreeMap<(u64, u64), DeletedFile> = by_file
        .into_iter()
        .map(|(key, (mut file, hits))| {
            file.holders = holders_of(&hits, &mut briefs);
            (key, file)
        })
        .filter(|(_, f)| !f.holders.is_empty())
        .collect();
    // Deleted files kept only by a mapping (a library replaced by an
    // upgrade, a mapped log): they keep their disk space as well.
    let mapped = walk::parallel_map(&pids, |&pid| deleted_mappings(pid));
    for (pid, mappings) in pids.iter().zip(mapped) {
        for m in mappings {
            let Some(b) = briefs.get(*pid).cloned() else { continue };
            let user = briefs.user(b.uid);
            let file = files.entry((m.device, m.inode)).or_insert_with(|| DeletedFile {
                path: m.path.clone(),
                size: m.size,
                disk_bytes: m.disk_bytes,
                device: m.device,
                inode: m.inode,
                holders: Vec::new(),
            });
            if file.holders.iter().any(|h| h.pid == *pid && h.via == Via::Mapped) {
                continue;
            }
            file.holders.push(Holder::plain(*pid, &b, user, Via::Mapped));
        }
    }
    let mut files: Vec<DeletedFile> = files.into_values().collect();
    files.sort_by(|a, b| b.disk_bytes.cmp(&a.disk_bytes).then(a.path.cmp(&b.path)));
    let mut pids = walk.unreadable.clone();
    pids.truncate(20);
    DeletedReport {
        disk_bytes: files.iter().map(|f| f.disk_bytes).sum(),
        files,
        unseen: Unseen {
            processes: walk.unreadable.len(),
            pids,
            hidepid: crate::proc::mountinfo::proc_hides_others(),
        },
    }
}

/// A deleted file mapped into a process.
struct DeletedMapping {
    path: String,
    device: u64,
    inode: u64,
    size: u64,
    disk_bytes: u64,
}

/// The deleted files mapped into `pid`: size and disk use through
/// `/proc/PID/map_files/RANGE` (needs `CAP_SYS_ADMIN`; else 0). SysV shared
/// memory (`/SYSV...`), memfds and shared anonymous memory are not files on
/// a disk. Unreadable or gone: none.
fn deleted_mappings(pid: Pid) -> Vec<DeletedMapping> {
    // Lossy: one mapped file whose name is not UTF-8 must not cost the rest.
    let Ok(text) = proc::read_lossy(&format!("/proc/{pid}/maps")) else {
        return Vec::new();
    };
    let mut found: Vec<DeletedMapping> = Vec::new();
    // Only the lines of deleted files are parsed.
    let lines = text.lines().filter(|line| line.ends_with(" (deleted)"));
    for m in lines.filter_map(|line| deleted_file(&proc::maps::mapping(line)?)) {
        if found.iter().any(|f| f.device == m.device && f.inode == m.inode) {
            continue;
        }
        let (mut size, mut disk_bytes, mut device, mut inode) = (0, 0, m.device, m.inode);
        if let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/map_files/{}", m.range)) {
            if meta.nlink() > 0 {
                // Still linked under another name: not deleted.
                continue;
            }
            (size, disk_bytes, device, inode) = (meta.size(), meta.blocks() * 512, meta.dev(), meta.ino());
        }
        found.push(DeletedMapping {
            // Unlinked: no path to try against the kernel's `\012`.
            path: crate::resources::maps::unmangled(m.path, |_| false, true),
            device,
            inode,
            size,
            disk_bytes,
        });
    }
    found
}

/// A mapping of a deleted file.
#[derive(Debug, PartialEq, Eq)]
struct MapsDeleted<'a> {
    range: &'a str,
    device: u64,
    inode: u64,
    path: &'a str,
}

/// The deleted file a maps line maps, if it does: not SysV shared memory,
/// a memfd, or shared anonymous memory (`/dev/zero (deleted)`). Pure.
fn deleted_file<'a>(mapping: &proc::maps::Mapping<'a>) -> Option<MapsDeleted<'a>> {
    let (path, true) = mapping.file() else {
        return None;
    };
    if mapping.inode == 0
        || !path.starts_with('/')
        || path.starts_with("/SYSV")
        || path.starts_with("/memfd:")
        || path == "/dev/zero"
    {
        return None;
    }
    let (major, minor) = mapping.major_minor()?;
    Some(MapsDeleted {
        range: mapping.range,
        device: libc::makedev(major, minor),
        inode: mapping.inode,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_mappings_parse() {
        fn parse(line: &str) -> Option<MapsDeleted<'_>> {
            deleted_file(&proc::maps::mappings(line).next()?)
        }
        let m = parse("7f00-7f10 r--s 00000000 08:01 1234                       /var/log/a b.log (deleted)").unwrap();
        assert_eq!(m.range, "7f00-7f10");
        assert_eq!(m.device, libc::makedev(8, 1));
        assert_eq!(m.inode, 1234);
        assert_eq!(m.path, "/var/log/a b.log");
        assert_eq!(parse("7f00-7f10 rw-s 00000000 00:01 5 /SYSV00000000 (deleted)"), None);
        assert_eq!(parse("7f00-7f10 rw-s 00000000 00:01 5 /memfd:x (deleted)"), None);
        assert_eq!(parse("7f00-7f10 rw-p 00000000 00:00 0 [heap]"), None);
    }
}
