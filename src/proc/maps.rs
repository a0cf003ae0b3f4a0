//! `/proc/PID/maps` (proc_pid_maps(5)) and `/proc/PID/smaps_rollup`.
//!
//! Maps lines are parsed here, not by procfs's `MemoryMaps`: `holds PATH`
//! and `holds --deleted` read the maps of every process, and procfs builds
//! an owned entry per line (about 2.6 times the time of this borrowing
//! parser on a 265-line maps, which is more than the read itself); it
//! also folds a SysV segment's path (`/SYSV0000002a (deleted)`) into its key,
//! losing the path and the ` (deleted)`, slices such a name without a length
//! check (a file named `/SYSVx` would panic it), trims spaces off the end of
//! paths, and rejects a whole file over one line it cannot read.
//!
//! Lines are parsed one at a time ([`mapping`]), so that a caller after a
//! few of them (` (deleted)` files, `/dev/shm`) skips the others with one
//! comparison, as the walks of every process need.
//!
//! `smaps_rollup` is scanned for its three lines here too: `watch` reads it
//! of every process it samples, as often as its page-table walk allows, and
//! procfs's `SmapsRollup` (a `MemoryMaps` with a map of every line) took 8 µs
//! a parse against 1.6 µs for the scan, a good part of a small process's
//! read.

use crate::proc::status::kb_field;

/// One line of a maps file, borrowed from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping<'a> {
    /// `START-END` as maps prints it (zero-padded to 8 digits, which the
    /// names in `/proc/PID/map_files` are not).
    pub range: &'a str,
    /// `rwxp`-style permissions.
    pub perms: &'a str,
    /// The device as `MAJOR:MINOR` in hex, as the kernel prints it.
    pub device: &'a str,
    /// The inode; 0 for anonymous memory.
    pub inode: u64,
    /// The path or pseudo-path (`[heap]`), empty for anonymous memory; an
    /// unlinked file's ends in ` (deleted)`.
    pub path: &'a str,
}

impl<'a> Mapping<'a> {
    /// Bytes mapped; 0 if the range does not read.
    pub fn bytes(&self) -> u64 {
        self.range
            .split_once('-')
            .and_then(|(a, b)| {
                u64::from_str_radix(b, 16)
                    .ok()?
                    .checked_sub(u64::from_str_radix(a, 16).ok()?)
            })
            .unwrap_or(0)
    }

    /// The device's major and minor numbers.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        major_minor(self.device)
    }

    /// Whether it maps a file (an inode and an absolute path).
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.path.starts_with('/')
    }

    /// The path without ` (deleted)`, and whether it was there.
    pub fn file(&self) -> (&'a str, bool) {
        match self.path.strip_suffix(" (deleted)") {
            Some(path) => (path, true),
            None => (self.path, false),
        }
    }
}

/// The lines of a maps text; lines without the five leading fields and an
/// inode number are passed over. Pure.
pub fn mappings(text: &str) -> impl Iterator<Item = Mapping<'_>> {
    text.lines().filter_map(mapping)
}

/// One line of a maps text; `None` without the five leading fields and an
/// inode number. Pure.
pub fn mapping(line: &str) -> Option<Mapping<'_>> {
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let device = fields.next()?;
    let inode = fields.next()?.parse().ok()?;
    let path = fields.next().unwrap_or("").trim_start();
    Some(Mapping {
        range,
        perms,
        device,
        inode,
        path,
    })
}

/// `Rss`, `Pss` and `Swap` of smaps_rollup, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rollup {
    /// `Rss:`.
    pub rss: u64,
    /// `Pss:`.
    pub pss: u64,
    /// `Swap:`.
    pub swap: u64,
}

/// Parses `/proc/PID/smaps_rollup`; what is missing reads 0. Pure.
pub fn rollup(text: &str) -> Rollup {
    let field = |key: &str| kb_field(text, key).unwrap_or(0);
    Rollup {
        rss: field("Rss:"),
        pss: field("Pss:"),
        swap: field("Swap:"),
    }
}

/// A maps device (`MAJOR:MINOR` in hex) as its major and minor numbers.
/// Pure.
pub fn major_minor(device: &str) -> Option<(u32, u32)> {
    let (major, minor) = device.split_once(':')?;
    Some((
        u32::from_str_radix(major, 16).ok()?,
        u32::from_str_radix(minor, 16).ok()?,
    ))
}

/// A maps device (`MAJOR:MINOR` in hex) as the `st_dev` that `stat` gives.
/// Pure.
pub fn device_number(device: &str) -> Option<u64> {
    let (major, minor) = major_minor(device)?;
    Some(libc::makedev(major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse() {
        let text = "\
00400000-00452000 r-xp 00000000 08:01 1234                       /usr/bin/cat
7f0000000000-7f0000001000 rw-s 00000000 00:05 99                         /SYSV00000000 (deleted)
7f0000002000-7f0000003000 rw-p 00000000 00:00 0                          [heap]
7f0000004000-7f0000005000 rw-s 00000000 00:1a 77                         /tmp/a b (deleted)
7f0000006000-7f0000007000 rw-p 00000000 00:00 0
garbage
";
        let lines: Vec<Mapping> = mappings(text).collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0].range, "00400000-00452000");
        assert_eq!(lines[0].bytes(), 0x52000);
        assert_eq!(lines[0].major_minor(), Some((8, 1)));
        assert_eq!(lines[0].perms, "r-xp");
        assert!(lines[0].is_file());
        assert_eq!(lines[1].file(), ("/SYSV00000000", true));
        assert_eq!(lines[1].inode, 99);
        assert!(!lines[2].is_file());
        assert_eq!(lines[2].path, "[heap]");
        assert_eq!(lines[3].file(), ("/tmp/a b", true));
        assert_eq!(lines[3].device, "00:1a");
        assert_eq!(lines[4].path, "");
        assert_eq!(lines[4].inode, 0);
    }

    #[test]
    fn rollups_parse() {
        let text = "5634ca27f000-7ffc27093000 ---p 00000000 00:00 0   [rollup]\nRss:                1708 kB\nPss:                 350 kB\nPss_Dirty:           112 kB\nSwap:                  4 kB\nSwapPss:               4 kB\n";
        assert_eq!(
            rollup(text),
            Rollup {
                rss: 1708 * 1024,
                pss: 350 * 1024,
                swap: 4096
            }
        );
        assert_eq!(rollup(""), Rollup::default());
    }
}
