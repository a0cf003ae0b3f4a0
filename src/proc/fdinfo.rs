//! `/proc/PID/fdinfo/N` (proc_pid_fdinfo(5)): the lines every fd has
//! (`pos:`, `flags:` in octal, `mnt_id:`, `ino:` since Linux 5.14), and
//! `fuse_connection:` of a `/dev/fuse` fd. Its
//! `lock:` lines are [`crate::proc::locks`]'s format. procfs has no parser
//! for fdinfo text (its `FDInfo` is the fd's link).

use serde::{Deserialize, Serialize};

/// How an fd was opened: the access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// `O_RDONLY`.
    Read,
    /// `O_WRONLY`.
    Write,
    /// `O_RDWR`.
    ReadWrite,
    /// `O_PATH`: no reading or writing, a reference only.
    Path,
}

impl Access {
    /// Short form as lsof shows it: `r`, `w`, `u`, `p`.
    pub fn letter(self) -> char {
        match self {
            Access::Read => 'r',
            Access::Write => 'w',
            Access::ReadWrite => 'u',
            Access::Path => 'p',
        }
    }
}

/// `O_CLOEXEC` in fdinfo's octal `flags:`.
const O_CLOEXEC: u32 = 0o2000000;
/// `O_PATH`.
const O_PATH: u32 = 0o10000000;

/// The parsed lines of `/proc/PID/fdinfo/N` that every fd has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FdInfo {
    /// File offset.
    pub pos: u64,
    /// Open flags (octal in the file).
    pub flags: u32,
    /// Mount ID of the file.
    pub mnt_id: Option<u64>,
    /// Inode number (Linux 5.14+).
    pub ino: Option<u64>,
    /// For `/dev/fuse`: the FUSE connection the fd serves, the kernel's
    /// device number of its filesystem (`fuse_connection:`, printed by
    /// kernels since 2025; absent before, and for an fd not mounted yet).
    pub fuse_connection: Option<u64>,
}

impl FdInfo {
    /// Parses the text of an fdinfo file. Pure.
    pub fn parse(text: &str) -> FdInfo {
        let mut info = FdInfo::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key {
                "pos" => info.pos = value.parse().unwrap_or(0),
                "flags" => info.flags = u32::from_str_radix(value, 8).unwrap_or(0),
                "mnt_id" => info.mnt_id = value.parse().ok(),
                "ino" => info.ino = value.parse().ok(),
                "fuse_connection" => info.fuse_connection = value.parse().ok(),
                _ => {}
            }
        }
        info
    }

    /// Whether the fd is closed on `exec` (`O_CLOEXEC`).
    pub fn cloexec(&self) -> bool {
        self.flags & O_CLOEXEC != 0
    }

    /// The access mode.
    pub fn access(&self) -> Access {
        if self.flags & O_PATH != 0 {
            return Access::Path;
        }
        match self.flags & 0o3 {
            0 => Access::Read,
            1 => Access::Write,
            _ => Access::ReadWrite,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_parses_flags_in_octal() {
        let info = FdInfo::parse("pos:\t61\nflags:\t02000002\nmnt_id:\t27\nino:\t10010706\n");
        assert_eq!(info.pos, 61);
        assert!(info.cloexec());
        assert_eq!(info.access(), Access::ReadWrite);
        assert_eq!(info.ino, Some(10010706));
        let info = FdInfo::parse("pos:\t0\nflags:\t0100001\nmnt_id:\t27\n");
        assert!(!info.cloexec());
        assert_eq!(info.access(), Access::Write);
        assert_eq!(FdInfo::parse("flags:\t010000000\n").access(), Access::Path);
    }

    #[test]
    fn a_fuse_device_says_its_connection() {
        let text = "pos:\t0\nflags:\t02100002\nmnt_id:\t24\nino:\t89\nfuse_connection:\t40\n";
        assert_eq!(FdInfo::parse(text).fuse_connection, Some(40));
        assert_eq!(FdInfo::parse("pos:\t0\n").fuse_connection, None);
    }
}
