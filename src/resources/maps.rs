//! Memory-mapped files of a process, from `/proc/PID/maps` (proc_pid_maps(5)).
//!
//! A mapping keeps its file alive after the fd is closed and after the file
//! is unlinked (the path then ends in ` (deleted)`); it goes when the process
//! does. Reading another user's maps needs ptrace read access.

use serde::{Deserialize, Serialize};

use crate::process::{Pid, ReadError};

/// One file mapped into a process (all its mappings together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedFile {
    /// The path (without ` (deleted)`).
    pub path: String,
    /// Whether the file was unlinked.
    pub deleted: bool,
    /// Device as `MAJOR:MINOR` in hex, as the kernel prints it.
    pub device: String,
    /// Inode.
    pub inode: u64,
    /// Bytes mapped, over all its mappings.
    pub mapped_bytes: u64,
}

/// Reads the mapped files of `pid`.
pub fn read(pid: Pid) -> Result<Vec<MappedFile>, ReadError> {
    read_in(pid, &format!("/proc/{pid}"))
}

/// Reads the mapped files of `pid` from `FILES/maps` (`/proc/PID`, or a
/// thread's `/proc/PID/task/TID`: [`crate::process::files_dir`]).
pub fn read_in(pid: Pid, files: &str) -> Result<Vec<MappedFile>, ReadError> {
    // A mapped path may hold any byte: read lossily, the file still matched
    // by its device and inode.
    let text = crate::proc::read_lossy(&format!("{files}/maps")).map_err(|e| ReadError::from_io(pid, "maps", e))?;
    let mut files = parse(&text);
    for file in files.iter_mut().filter(|f| f.path.contains(MANGLED_NEWLINE)) {
        file.path = unmangled(
            &file.path,
            |path| is_the_file(path, &file.device, file.inode),
            file.deleted,
        );
    }
    for file in files.iter_mut().filter(|f| f.deleted) {
        // A name that itself ends in " (deleted)" and leads to the very
        // file mapped is its name, not the kernel's mark of an unlinked one.
        let whole = format!("{} (deleted)", file.path);
        if is_the_file(&whole, &file.device, file.inode) {
            file.path = whole;
            file.deleted = false;
        }
    }
    Ok(files)
}

/// How the kernel writes a newline in a mapped path (`seq_file_path`
/// escapes `\n` alone, as octal).
const MANGLED_NEWLINE: &str = "\\012";

/// A mapped path as the file is named: `\012` in maps is a newline, unless
/// the path as written leads to the file (a name with a backslash, a zero,
/// a one and a two). An unlinked file (`deleted`) has no path to try, and
/// takes the newline, the kernel's only escape. Pure but for `leads_to`.
pub(crate) fn unmangled(path: &str, leads_to: impl Fn(&str) -> bool, deleted: bool) -> String {
    let newline = path.replace(MANGLED_NEWLINE, "\n");
    if deleted || leads_to(&newline) || !leads_to(path) {
        newline
    } else {
        path.to_string()
    }
}

/// Whether `path` leads to the file of maps device `device` and `inode`.
fn is_the_file(path: &str, device: &str, inode: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|m| Some(m.dev()) == crate::proc::maps::device_number(device) && m.ino() == inode)
}

/// The mapped files of a maps text ([`crate::proc::maps`] parses the
/// lines): file-backed mappings only, one entry per file. Pure.
pub fn parse(text: &str) -> Vec<MappedFile> {
    let mut files: Vec<MappedFile> = Vec::new();
    for mapping in crate::proc::maps::mappings(text).filter(|m| m.is_file()) {
        let bytes = mapping.bytes();
        let (path, deleted) = mapping.file();
        match files
            .iter_mut()
            .find(|f| f.inode == mapping.inode && f.device == mapping.device && f.path == path)
        {
            Some(file) => file.mapped_bytes += bytes,
            None => files.push(MappedFile {
                path: path.to_string(),
                deleted,
                device: mapping.device.to_string(),
                inode: mapping.inode,
                mapped_bytes: bytes,
            }),
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_in_a_mapped_path_is_given_back() {
        let newline = |p: &str| p == "/tmp/a\nb";
        assert_eq!(unmangled("/tmp/a\\012b", newline, false), "/tmp/a\nb");
        // A name that holds the four characters themselves.
        let literal = |p: &str| p == "/tmp/a\\012b";
        assert_eq!(unmangled("/tmp/a\\012b", literal, false), "/tmp/a\\012b");
        assert_eq!(unmangled("/tmp/a\\012b", |_| false, true), "/tmp/a\nb");
    }

    #[test]
    fn maps_parse() {
        let text = "\
55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 1234                       /usr/bin/cat
55d0c0a02000-55d0c0a07000 r-xp 00002000 08:01 1234                       /usr/bin/cat
7f0000000000-7f0000001000 rw-s 00000000 00:05 99                         /SYSV00000000 (deleted)
7f0000002000-7f0000003000 rw-p 00000000 00:00 0                          [heap]
7f0000004000-7f0000005000 rw-s 00000000 00:1a 77                         /tmp/a b (deleted)
";
        let files = parse(text);
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].path, "/usr/bin/cat");
        assert_eq!(files[0].mapped_bytes, 0x7000);
        assert!(files[1].deleted);
        assert_eq!(files[2].path, "/tmp/a b");
        assert_eq!(files[2].device, "00:1a");
    }
}
