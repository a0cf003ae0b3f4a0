//! The numbers taken from BTF (an attach function's type ID, member
//! offsets), kept in `/run/afterlife/` for the rest of the boot: one file
//! per program, named after it and the boot ID, root's own and writable by
//! nobody else.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

const DIR: &str = "/run/afterlife";

fn path(name: &str) -> Option<PathBuf> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(PathBuf::from(DIR).join(format!("{name}-{}", boot.trim())))
}

/// Only root's own files, writable by nobody else, are trusted.
fn trusted(meta: &std::fs::Metadata) -> bool {
    meta.uid() == 0 && meta.mode() & 0o022 == 0
}

/// The numbers stored for `name` this boot.
pub(crate) fn load(name: &str) -> Option<Vec<i64>> {
    if !std::fs::metadata(DIR).is_ok_and(|m| trusted(&m)) {
        return None;
    }
    let path = path(name)?;
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && trusted(&m)) {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    text.split_whitespace().map(|w| w.parse().ok()).collect()
}

/// Stores `numbers` for `name`; failing that, nothing is kept.
pub(crate) fn store(name: &str, numbers: &[i64]) {
    let Some(path) = path(name) else { return };
    if std::fs::DirBuilder::new().mode(0o700).create(DIR).is_err() && !std::fs::metadata(DIR).is_ok_and(|m| trusted(&m))
    {
        return;
    }
    let mut text = numbers.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
    text.push('\n');
    let temp = path.with_extension(format!("{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
    // A concurrent afterlife may have stored it first: either copy will do.
    if written.is_err() || std::fs::rename(&temp, &path).is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

/// Forgets what was stored for `name` (a program built from it failed).
pub(crate) fn remove(name: &str) {
    if let Some(path) = path(name) {
        let _ = std::fs::remove_file(path);
    }
}
