//! Facts of a file from one `statx(2)`: its type, owner, size and birth
//! time. Rust's `Metadata::created` reads the birth time through `statx`
//! only when built against glibc; built against musl it has none, so the
//! call is made here, the same way for both.

use std::io;
use std::path::Path;

use rustix::fs::{AtFlags, CWD, FileType, StatxFlags};

/// What one `statx` said of a path (not following a final symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileFacts {
    pub(crate) file_type: FileType,
    pub(crate) uid: u32,
    pub(crate) size: u64,
    /// When it was made, in nanoseconds since the epoch: its birth time,
    /// or where the filesystem keeps none, its last status change.
    pub(crate) born_ns: i128,
}

/// The facts of `path`.
pub(crate) fn facts(path: &Path) -> io::Result<FileFacts> {
    let wanted = StatxFlags::TYPE | StatxFlags::UID | StatxFlags::SIZE | StatxFlags::CTIME | StatxFlags::BTIME;
    let st = rustix::fs::statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, wanted)?;
    let has_birth = StatxFlags::from_bits_retain(st.stx_mask).contains(StatxFlags::BTIME);
    let time = if has_birth { st.stx_btime } else { st.stx_ctime };
    Ok(FileFacts {
        file_type: FileType::from_raw_mode(st.stx_mode.into()),
        uid: st.stx_uid,
        size: st.stx_size,
        born_ns: i128::from(time.tv_sec) * 1_000_000_000 + i128::from(time.tv_nsec),
    })
}

/// Sets this process's file mode creation mask (umask(2)), which the
/// processes it starts inherit; the mask before.
pub(crate) fn set_umask(mask: u32) -> u32 {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask)).bits()
}

/// Gives `path` exactly `mode` (chmod(2)), which, unlike the mode given at
/// creation, no umask narrows.
pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    rustix::fs::chmod(path, rustix::fs::Mode::from_raw_mode(mode)).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_born_now_to_the_nanosecond() {
        let dir = std::env::temp_dir().join(format!("afterlife-fs-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let path = dir.join("made");
        std::fs::write(&path, b"four").unwrap();
        let facts = facts(&path).unwrap();
        let dir_facts = facts_of_dir(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(facts.file_type, FileType::RegularFile);
        assert_eq!(facts.size, 4);
        assert_eq!(facts.uid, rustix::process::geteuid().as_raw());
        // The file system's clock is the kernel's coarse one: up to a tick
        // behind the one read here before.
        assert!(
            facts.born_ns + 20_000_000 >= before.as_nanos() as i128,
            "{facts:?} {before:?}"
        );
        assert_eq!(dir_facts, FileType::Directory);
    }

    fn facts_of_dir(dir: &Path) -> FileType {
        facts(dir).unwrap().file_type
    }
}
