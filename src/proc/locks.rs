//! `/proc/locks` (proc_locks(5)) and the `lock:` lines of
//! `/proc/PID/fdinfo/N`, which have the same format. Parsed here:
//! procfs's `Locks` drops the `->` that marks a process waiting for a lock
//! and reads no fdinfo line.

use serde::{Deserialize, Serialize};

/// The kind of a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// `fcntl(F_SETLK)`: per process.
    Posix,
    /// `flock(2)`: per open file.
    Flock,
    /// `fcntl(F_OFD_SETLK)`: per open file description.
    Ofd,
    /// A lease.
    Lease,
    /// Something else (DELEG, ...).
    Other,
}

impl LockKind {
    /// The name as `/proc/locks` and `lslocks` show it.
    pub fn name(self) -> &'static str {
        match self {
            LockKind::Posix => "POSIX",
            LockKind::Flock => "FLOCK",
            LockKind::Ofd => "OFDLCK",
            LockKind::Lease => "LEASE",
            LockKind::Other => "other",
        }
    }
}

/// One lock (or one waiter for a lock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// The kind.
    pub kind: LockKind,
    /// Whether it is a write (exclusive) lock.
    pub write: bool,
    /// The PID the kernel records (the locker; none for OFD locks).
    pub pid: Option<i32>,
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Inode of the locked file.
    pub inode: u64,
    /// First byte locked.
    pub start: u64,
    /// Last byte locked (none: to the end of file).
    pub end: Option<u64>,
    /// Whether this line is a process waiting for the lock (`->`).
    pub waiting: bool,
}

impl Lock {
    /// Whether `other` is this lock as another listing shows it (the PID
    /// may read differently).
    pub fn same_lock(&self, other: &Lock) -> bool {
        (
            self.kind,
            self.write,
            self.major,
            self.minor,
            self.inode,
            self.start,
            self.end,
            self.waiting,
        ) == (
            other.kind,
            other.write,
            other.major,
            other.minor,
            other.inode,
            other.start,
            other.end,
            other.waiting,
        )
    }

    /// Whether the lock is on the file with this device and inode.
    pub fn is_on(&self, dev: u64, inode: u64) -> bool {
        self.inode == inode && self.major == libc::major(dev) && self.minor == libc::minor(dev)
    }
}

/// The locks on one open file, from the `lock:` lines of its
/// `/proc/PID/fdinfo/FD` text. Pure.
pub fn from_fdinfo(text: &str) -> Vec<Lock> {
    text.lines()
        .filter_map(|line| line.strip_prefix("lock:"))
        .filter_map(parse_line)
        .collect()
}

/// Parses the text of `/proc/locks`. Pure.
pub fn parse(text: &str) -> Vec<Lock> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Lock> {
    let mut fields = line.split_whitespace().skip(1).peekable();
    let waiting = fields.peek() == Some(&"->");
    if waiting {
        fields.next();
    }
    let kind = match fields.next()? {
        "POSIX" => LockKind::Posix,
        "FLOCK" => LockKind::Flock,
        "OFDLCK" => LockKind::Ofd,
        "LEASE" => LockKind::Lease,
        _ => LockKind::Other,
    };
    let _advisory = fields.next()?;
    let write = fields.next()? == "WRITE";
    let pid: i32 = fields.next()?.parse().ok()?;
    let mut dev = fields.next()?.split(':');
    let major = u32::from_str_radix(dev.next()?, 16).ok()?;
    let minor = u32::from_str_radix(dev.next()?, 16).ok()?;
    let inode = dev.next()?.parse().ok()?;
    let start = fields.next()?.parse().ok()?;
    let end = fields.next().and_then(|e| e.parse().ok());
    Some(Lock {
        kind,
        write,
        pid: (pid > 0).then_some(pid),
        major,
        minor,
        inode,
        start,
        end,
        waiting,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_parse() {
        let text = "\
1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF
1: -> POSIX  ADVISORY  WRITE 4321 08:01:5678 0 EOF
2: FLOCK  ADVISORY  READ 77 00:1a:99 0 EOF
3: OFDLCK ADVISORY  WRITE -1 fd:00:12 0 100
";
        let locks = parse(text);
        assert_eq!(locks.len(), 4);
        assert_eq!(locks[0].kind, LockKind::Posix);
        assert!(locks[0].write && !locks[0].waiting);
        assert_eq!(locks[0].pid, Some(1234));
        assert!(locks[1].waiting);
        assert_eq!(locks[2].kind, LockKind::Flock);
        assert_eq!((locks[2].major, locks[2].minor, locks[2].inode), (0, 0x1a, 99));
        assert_eq!(locks[3].pid, None);
        assert_eq!(locks[3].major, 0xfd);
        assert_eq!(locks[3].end, Some(100));
        assert_eq!(locks[0].end, None);
    }

    #[test]
    fn fdinfo_lock_lines_parse() {
        // A flock whose locker is not visible here shows PID 0.
        let text = "pos:\t0\nflags:\t02\nmnt_id:\t30\nino:\t5678\n\
                    lock:\t1: FLOCK  ADVISORY  WRITE 0 08:01:5678 0 EOF\n";
        let locks = from_fdinfo(text);
        assert_eq!(locks.len(), 1);
        assert_eq!(locks[0].kind, LockKind::Flock);
        assert_eq!(locks[0].pid, None);
        assert_eq!((locks[0].major, locks[0].minor, locks[0].inode), (8, 1, 5678));
        assert!(from_fdinfo("pos:\t0\nflags:\t02\n").is_empty());
    }
}
