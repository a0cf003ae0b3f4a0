//! Files a tree left in directories it was given (`run --dir DIR`,
//! `run --tmpdir`): what was listed at the start against what is there once
//! the tree has ended.
//!
//! "Created during the run" is exact and by path: an entry under DIR (a
//! file, a directory, a symbolic link, a socket, a FIFO; symbolic links are
//! not followed) whose path did not exist when the command started and
//! exists when the tree has ended. A file that existed and was only written
//! to is not one; a file deleted and created again under the same path is
//! not one either. A new directory is one leftover, with the number of
//! entries inside it. The listings are bounded ([`MAX_ENTRIES`] per
//! directory, [`MAX_DEPTH`] levels).
//!
//! [`new_entries`] and [`holders_of`] are pure; [`DirWatch`] lists and
//! removes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::supervise::report::Leftover;

/// At most this many entries are listed under each directory.
pub const MAX_ENTRIES: usize = 100_000;
/// At most this many levels below each directory are listed.
pub const MAX_DEPTH: usize = 32;

/// What kind of entry a leftover file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A unix socket's file.
    Socket,
    /// A FIFO.
    Fifo,
    /// A device or anything else.
    Other,
}

impl FileKind {
    fn of(kind: std::fs::FileType) -> FileKind {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_symlink() {
            FileKind::Symlink
        } else if kind.is_dir() {
            FileKind::Directory
        } else if kind.is_file() {
            FileKind::File
        } else if kind.is_socket() {
            FileKind::Socket
        } else if kind.is_fifo() {
            FileKind::Fifo
        } else {
            FileKind::Other
        }
    }

    /// The word for it.
    pub fn word(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Directory => "directory",
            FileKind::Symlink => "symbolic link",
            FileKind::Socket => "unix socket file",
            FileKind::Fifo => "FIFO",
            FileKind::Other => "special file",
        }
    }
}

/// One entry found under a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its path.
    pub path: PathBuf,
    /// Its kind.
    pub kind: FileKind,
    /// Its size in bytes (`st_size`).
    pub size: u64,
}

/// What became of a leftover file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum FileFate {
    /// Left in place (`--keep-leftovers`, or a process survived).
    Left,
    /// Removed.
    Removed,
    /// Removing failed.
    RemoveFailed {
        /// Why.
        error: String,
    },
}

/// A file (or directory) the tree created under a watched directory and left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileLeftover {
    /// Its path.
    #[serde(serialize_with = "crate::text::lossy_path")]
    pub path: PathBuf,
    /// Its kind.
    pub kind: FileKind,
    /// Bytes: its size, or for a directory the sum of the files inside.
    pub size: u64,
    /// For a directory: how many entries it holds, at every depth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<usize>,
    /// The leftover processes that held it open (PIDs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held_by: Vec<i32>,
    /// What became of it.
    #[serde(flatten)]
    pub fate: FileFate,
}

/// The entries of `now` whose path is not in `before`, topmost first: an
/// entry inside a new directory is counted in that directory, not listed
/// itself. Sorted by path. Pure.
pub fn new_entries(before: &HashSet<PathBuf>, now: &[Entry]) -> Vec<FileLeftover> {
    let mut fresh: Vec<&Entry> = now.iter().filter(|e| !before.contains(&e.path)).collect();
    fresh.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out: Vec<FileLeftover> = Vec::new();
    for entry in fresh {
        if let Some(top) = out
            .iter_mut()
            .rev()
            .find(|t| t.kind == FileKind::Directory && entry.path.starts_with(&t.path))
        {
            top.entries = Some(top.entries.unwrap_or(0) + 1);
            if entry.kind == FileKind::File {
                top.size += entry.size;
            }
            continue;
        }
        let directory = entry.kind == FileKind::Directory;
        out.push(FileLeftover {
            path: entry.path.clone(),
            kind: entry.kind,
            size: if directory { 0 } else { entry.size },
            entries: directory.then_some(0),
            held_by: Vec::new(),
            fate: FileFate::Left,
        });
    }
    out
}

/// The leftover processes holding `path` (or, for a directory, anything
/// under it) open, from the fds listed before they were ended. Pure.
pub fn holders_of(path: &Path, directory: bool, leftovers: &[Leftover]) -> Vec<i32> {
    let held = |target: &str| {
        let target = Path::new(target);
        target == path || (directory && target.starts_with(path))
    };
    leftovers
        .iter()
        .filter(|l| l.fds.iter().any(|f| held(&f.target)))
        .map(|l| l.pid.get())
        .collect()
}

/// Lists `dir` recursively (without following symbolic links), within the
/// bounds. Unreadable or vanishing entries are skipped.
pub fn list(dir: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    list_into(dir, 0, &mut out);
    out
}

fn list_into(dir: &Path, depth: usize, out: &mut Vec<Entry>) {
    if depth >= MAX_DEPTH {
        return;
    }
    // Unreadable, or removed meanwhile: nothing to list there.
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if out.len() >= MAX_ENTRIES {
            return;
        }
        // Removed since it was listed: skip it.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let kind = FileKind::of(meta.file_type());
        out.push(Entry {
            path: entry.path(),
            kind,
            size: meta.len(),
        });
        if kind == FileKind::Directory {
            list_into(&entry.path(), depth + 1, out);
        }
    }
}

/// A watched directory that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// It is not a directory afterlife can list.
    #[error("--dir {path}: {reason}")]
    NotADirectory {
        /// The path given.
        path: String,
        /// Why.
        reason: String,
    },
    /// The fresh temporary directory could not be made.
    #[error("cannot create a temporary directory in {parent}: {error}")]
    TempDir {
        /// Where it was to be made.
        parent: String,
        /// The error.
        error: std::io::Error,
    },
}

/// The watched directories and what each held at the start.
#[derive(Debug, Default)]
pub struct DirWatch {
    dirs: Vec<(PathBuf, HashSet<PathBuf>)>,
    /// The fresh directory of `--tmpdir`, removed at the end when empty of
    /// anything kept.
    temp: Option<PathBuf>,
}

impl DirWatch {
    /// Lists each directory now. A path that is not a readable directory
    /// is an error, before anything runs.
    pub fn start(dirs: &[PathBuf]) -> Result<DirWatch, DirError> {
        let mut watch = DirWatch::default();
        for dir in dirs {
            let bad = |reason: String| DirError::NotADirectory {
                path: crate::text::escape(&dir.to_string_lossy()).into_owned(),
                reason,
            };
            std::fs::read_dir(dir).map_err(|e| bad(e.to_string()))?;
            let before = list(dir).into_iter().map(|e| e.path).collect();
            watch.dirs.push((dir.clone(), before));
        }
        Ok(watch)
    }

    /// Makes a fresh, empty directory (mode 0700) under `parent` and
    /// watches it: everything in it at the end is a leftover. Returns its path.
    pub fn fresh_temp(&mut self, parent: &Path) -> Result<PathBuf, DirError> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last = None;
        for attempt in 0..100u32 {
            let name = format!("afterlife-tmp-{}-{:x}", std::process::id(), nanos.wrapping_add(attempt));
            let path = parent.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    // mkdir's mode is narrowed by the umask (0777 would
                    // leave a directory no one but root can use).
                    if let Err(e) = crate::sys::linux::fs::set_mode(&path, 0o700) {
                        let _ = std::fs::remove_dir(&path);
                        last = Some(e);
                        break;
                    }
                    self.dirs.push((path.clone(), HashSet::new()));
                    self.temp = Some(path.clone());
                    return Ok(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        Err(DirError::TempDir {
            parent: crate::text::escape(&parent.to_string_lossy()).into_owned(),
            error: last.unwrap_or_else(|| std::io::Error::other("no free name")),
        })
    }

    /// Whether any directory is watched.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// What was created and left, each with the leftover processes that
    /// held it; removed when `remove` (then `--tmpdir`'s directory goes too).
    pub fn finish(self, remove: bool, leftovers: &[Leftover]) -> Vec<FileLeftover> {
        let mut found = Vec::new();
        for (dir, before) in &self.dirs {
            found.extend(new_entries(before, &list(dir)));
        }
        for file in &mut found {
            file.held_by = holders_of(&file.path, file.kind == FileKind::Directory, leftovers);
            if remove {
                file.fate = match remove_entry(&file.path, file.kind) {
                    Ok(()) => FileFate::Removed,
                    Err(e) => FileFate::RemoveFailed { error: e.to_string() },
                };
            }
        }
        if let Some(temp) = &self.temp
            && (remove || found.is_empty())
        {
            // Not empty (something could not be removed): it stays, listed.
            let _ = std::fs::remove_dir(temp);
        }
        found
    }
}

fn remove_entry(path: &Path, kind: FileKind) -> std::io::Result<()> {
    let result = if kind == FileKind::Directory {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match result {
        // Gone already: what was asked is done.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: FileKind, size: u64) -> Entry {
        Entry {
            path: PathBuf::from(path),
            kind,
            size,
        }
    }

    #[test]
    fn only_paths_absent_at_the_start_are_new_and_a_new_directory_counts_its_contents() {
        let before: HashSet<PathBuf> = ["/t/old", "/t/d"].iter().map(PathBuf::from).collect();
        let now = vec![
            entry("/t/old", FileKind::File, 9),
            entry("/t/d", FileKind::Directory, 0),
            entry("/t/d/new", FileKind::File, 3),
            entry("/t/n", FileKind::Directory, 0),
            entry("/t/n/a", FileKind::File, 5),
            entry("/t/n/b", FileKind::Directory, 0),
            entry("/t/n/b/c", FileKind::File, 7),
            entry("/t/n2", FileKind::Symlink, 4),
        ];
        let found = new_entries(&before, &now);
        let paths: Vec<_> = found.iter().map(|f| f.path.to_string_lossy().into_owned()).collect();
        assert_eq!(paths, ["/t/d/new", "/t/n", "/t/n2"]);
        assert_eq!(found[0].entries, None);
        assert_eq!(found[1].entries, Some(3));
        assert_eq!(found[1].size, 12);
        assert_eq!(found[2].kind, FileKind::Symlink);
        assert!(new_entries(&before, &now[..2]).is_empty());
    }

    #[test]
    fn a_sibling_with_a_common_prefix_is_not_inside_a_new_directory() {
        let now = vec![entry("/t/a", FileKind::Directory, 0), entry("/t/ab", FileKind::File, 1)];
        assert_eq!(new_entries(&HashSet::new(), &now).len(), 2);
    }
}
