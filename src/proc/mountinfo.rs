//! `/proc/PID/mountinfo` (proc_pid_mountinfo(5)), through procfs's
//! `MountInfo`, and where the cgroup hierarchies are mounted.
//!
//! procfs splits the fields; it leaves the kernel's octal escapes in the
//! mount point and root (a space is written `\040`, a tab `\011`, a newline
//! `\012`, a backslash `\134`), which are undone here, in the one place. A
//! line procfs cannot read is passed over, not the whole table. Read once
//! per command (the walks never parse it), procfs's cost does not matter,
//! except for `run`'s own lookups, made for every command it runs: those
//! read the type and mount point alone ([`own`]).

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use crate::process::Pid;

pub use procfs::process::MountInfo;

/// Parses mountinfo text, mount points and roots unescaped. Pure.
pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| MountInfo::from_line(line).ok())
        .map(|mut mount| {
            mount.mount_point = unescape(&mount.mount_point.to_string_lossy());
            mount.root = unescape(&mount.root).to_string_lossy().into_owned();
            mount
        })
        .collect()
}

/// The mounts `pid` sees (`None`: afterlife itself).
pub fn read(pid: Option<Pid>) -> io::Result<Vec<MountInfo>> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/mountinfo"),
        None => "/proc/self/mountinfo".to_string(),
    };
    let bytes = std::fs::read(path)?;
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

/// The `hidepid` of the procfs mounted on `/proc` (the last mount there,
/// which hides the others), where it hides other users' processes
/// altogether: `2`/`invisible`, or `4`/`ptraceable`. (`1`/`noaccess`
/// leaves their directories listed and refuses their files: those count
/// as unreadable.) Pure.
pub fn hidepid_of_proc(mounts: &[MountInfo]) -> Option<String> {
    let proc = mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == Path::new("/proc"))
        .filter(|m| m.fs_type == "proc")?;
    let value = proc.super_options.get("hidepid")?.clone()?;
    matches!(value.as_str(), "2" | "invisible" | "4" | "ptraceable").then_some(value)
}

/// Whether a command may be given a mount namespace of its own with a
/// procfs of its PID namespace over `/proc` and lose nothing by it. Pure.
///
/// - Every mount outside `/proc` is shared (`shared:N`): what the command
///   mounts on it then reaches the peer it was copied from and outlives
///   the command's namespace. A mount made on a private or slave mount
///   would stay in that namespace and go with it (most containers, and
///   hosts whose mounts are private).
/// - `/proc` is one procfs, read-write, without `hidepid` or `subset`
///   (which a fresh procfs would not keep), with nothing mounted below it
///   but `binfmt_misc` (a container runtime's masks over `/proc/kcore`,
///   `/proc/sys` and the like would be lost).
///
/// Read from the text, line by line, and stopped at the first mount that
/// does not fit: `run` asks this before every command it starts, and a
/// host whose mounts are private answers on its first line (procfs's
/// `MountInfo` builds two maps for every line).
pub fn own_proc_fits(text: &str) -> bool {
    let mut procs = 0;
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            return false;
        };
        let mut left = left.split(' ');
        let (Some(point), Some(options)) = (left.nth(4), left.next()) else {
            return false;
        };
        let mut right = right.split(' ');
        let (fs_type, super_options) = (right.next().unwrap_or(""), right.nth(1).unwrap_or(""));
        let has = |list: &str, key: &str| list.split(',').any(|o| o.split('=').next() == Some(key));
        if point == "/proc" {
            procs += 1;
            let options_kept = !has(options, "ro") && !has(super_options, "hidepid") && !has(super_options, "subset");
            if fs_type != "proc" || !options_kept {
                return false;
            }
        } else if point.starts_with("/proc/") {
            if point != "/proc/sys/fs/binfmt_misc" {
                return false;
            }
        } else if !left.any(|field| field.starts_with("shared:")) {
            return false;
        }
    }
    procs == 1
}

/// The `hidepid` that hides other users' processes from afterlife: that of
/// the /proc it reads ([`hidepid_of_proc`]), unless afterlife has
/// `CAP_SYS_PTRACE` in the initial user namespace, which sees through it. `None` where nothing is hidden
/// (or the mount table cannot be read).
pub fn proc_hides_others() -> Option<String> {
    const CAP_SYS_PTRACE: u32 = 19;
    if crate::process::capable_everywhere(CAP_SYS_PTRACE) {
        return None;
    }
    hidepid_of_proc(&read(None).ok()?)
}

/// A mount's filesystem type and where it is mounted: what `run` asks of
/// its own mount table (the cgroup v2 mount, the mqueue mount).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPoint {
    /// The filesystem type (`cgroup2`, `mqueue`).
    pub fs_type: String,
    /// Where it is mounted, escapes undone.
    pub mount_point: PathBuf,
    /// The directory of the filesystem it shows (field 4, escapes
    /// undone): `/` for the whole of it; for a cgroup mount, relative to
    /// the reader's cgroup namespace, so `/..` for the host's mount seen
    /// from inside one.
    pub root: PathBuf,
}

/// The type and mount point of each mountinfo line, in order; a line
/// without them is passed over. Pure. Two fields of each line, not
/// procfs's [`MountInfo`], which builds two option maps and a list per
/// line: `run` reads its own table once per command, and that parse was
/// about 25 us of it (50 us or more on the first call, cold).
pub fn parse_points(text: &str) -> Vec<MountPoint> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mut fields = before.split(' ').skip(3);
            let root = fields.next()?;
            let mount_point = fields.next()?;
            let fs_type = after.split(' ').next().filter(|t| !t.is_empty())?;
            Some(MountPoint {
                fs_type: fs_type.to_string(),
                mount_point: unescape(mount_point),
                root: unescape(root),
            })
        })
        .collect()
}

/// afterlife's own mount table as text, read once per process: for the
/// places a command reads it more than once on one path (`run` finds the
/// cgroup v2 mount and the mqueue mount, and asks whether its command may
/// have a /proc of its own), where a mount made meanwhile changes nothing
/// they look for. The kernel builds the text anew at every read (about
/// 30 µs for twenty mounts).
pub fn own_text() -> io::Result<&'static str> {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(text) = TEXT.get() {
        return Ok(text);
    }
    let bytes = super::read_small("/proc/self/mountinfo")?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(TEXT.get_or_init(|| text))
}

/// afterlife's own mount points, parsed once from [`own_text`].
pub fn own() -> io::Result<&'static [MountPoint]> {
    static OWN: std::sync::OnceLock<Vec<MountPoint>> = std::sync::OnceLock::new();
    if let Some(mounts) = OWN.get() {
        return Ok(mounts);
    }
    let mounts = parse_points(own_text()?);
    Ok(OWN.get_or_init(|| mounts))
}

/// The first mount of a filesystem type among [`own`]'s.
pub fn first_of_type_among<'a>(mounts: &'a [MountPoint], fs_type: &str) -> Option<&'a MountPoint> {
    mounts.iter().find(|m| m.fs_type == fs_type)
}

/// The first mount point of a filesystem type among [`own`]'s.
pub fn first_point_of_type(mounts: &[MountPoint], fs_type: &str) -> Option<PathBuf> {
    mounts
        .iter()
        .find(|m| m.fs_type == fs_type)
        .map(|m| m.mount_point.clone())
}

/// Undoes mountinfo's escapes: a backslash and three octal digits stand for
/// one byte. Pure.
pub fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(digits) = bytes.get(i + 1..i + 4)
            && digits.iter().all(|d| (b'0'..=b'7').contains(d))
            && let Ok(value) = u8::from_str_radix(std::str::from_utf8(digits).unwrap_or("x"), 8)
        {
            out.push(value);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    PathBuf::from(OsString::from_vec(out))
}

/// How many mounts of a mountinfo text are of device `dev` (field 3,
/// `MAJOR:MINOR`): more than one where a file system, or a part of it, is
/// bind-mounted elsewhere. Pure.
pub fn mounts_of_device(text: &str, dev: u64) -> usize {
    let device = format!("{}:{}", libc::major(dev), libc::minor(dev));
    text.lines()
        .filter(|line| line.split(' ').nth(2) == Some(device.as_str()))
        .count()
}

/// The device (field 3) of the mount whose ID (field 1) is `mnt_id`, as
/// an fd's fdinfo names its mount. Pure.
pub fn device_of_mount(text: &str, mnt_id: u64) -> Option<u64> {
    let id = mnt_id.to_string();
    let line = text.lines().find(|line| line.split(' ').next() == Some(id.as_str()))?;
    let (major, minor) = line.split(' ').nth(2)?.split_once(':')?;
    Some(libc::makedev(major.parse().ok()?, minor.parse().ok()?))
}

/// Whether `path` is a mount point that afterlife sees.
pub fn is_mount_point(path: &Path) -> bool {
    // Unreadable: not known as one.
    read(None).is_ok_and(|mounts| mounts.iter().any(|m| m.mount_point == path))
}

/// The first mount of a filesystem type (`mqueue`, `cgroup2`).
pub fn first_of_type(mounts: &[MountInfo], fs_type: &str) -> Option<PathBuf> {
    mounts
        .iter()
        .find(|m| m.fs_type == fs_type)
        .map(|m| m.mount_point.clone())
}

/// Where the cgroup hierarchies are mounted (a hybrid machine has both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupMounts {
    /// The first cgroup v2 mount.
    pub v2: Option<PathBuf>,
    /// The first cgroup v1 mount with the memory controller.
    pub v1_memory: Option<PathBuf>,
}

impl CgroupMounts {
    /// Reads afterlife's own mountinfo; an unreadable file means no cgroups.
    pub fn read() -> CgroupMounts {
        read(None).map(|m| CgroupMounts::of(&m)).unwrap_or_default()
    }

    /// Finds the hierarchies in mountinfo text. Pure.
    pub fn parse(text: &str) -> CgroupMounts {
        CgroupMounts::of(&parse(text))
    }

    /// Finds the hierarchies among parsed mounts. Pure.
    pub fn of(mounts: &[MountInfo]) -> CgroupMounts {
        CgroupMounts {
            v2: first_of_type(mounts, "cgroup2"),
            v1_memory: mounts
                .iter()
                .find(|m| m.fs_type == "cgroup" && m.super_options.contains_key("memory"))
                .map(|m| m.mount_point.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_of_a_device_are_counted_by_its_numbers() {
        let text = "22 27 0:21 / /proc rw - proc proc rw\n\
                    27 1 254:0 / / rw - ext4 /dev/vda rw\n\
                    40 27 254:0 /srv/data /mnt/data rw - ext4 /dev/vda rw\n";
        assert_eq!(mounts_of_device(text, libc::makedev(254, 0)), 2);
        assert_eq!(mounts_of_device(text, libc::makedev(0, 21)), 1);
        assert_eq!(mounts_of_device(text, libc::makedev(8, 1)), 0);
        assert_eq!(device_of_mount(text, 40), Some(libc::makedev(254, 0)));
        assert_eq!(device_of_mount(text, 22), Some(libc::makedev(0, 21)));
        assert_eq!(device_of_mount(text, 41), None);
    }

    #[test]
    fn a_command_gets_a_proc_of_its_own_only_where_nothing_is_lost() {
        let shared = "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
            23 22 0:22 / /proc rw,nosuid shared:12 - proc proc rw\n\
            24 23 0:23 / /proc/sys/fs/binfmt_misc rw shared:13 - autofs systemd-1 rw\n\
            25 22 0:24 / /tmp rw shared:14 - tmpfs tmpfs rw\n";
        assert!(own_proc_fits(shared));
        // A private mount: what the command mounts on it would be lost.
        let private = shared.replace(" shared:14 - tmpfs", " - tmpfs");
        assert!(!own_proc_fits(&private));
        // A slave mount: the same.
        let slave = shared.replace(" shared:14 - tmpfs", " master:3 - tmpfs");
        assert!(!own_proc_fits(&slave));
        // A mask over /proc/kcore, a read-only /proc/sys.
        let masked = format!("{shared}26 23 0:25 / /proc/kcore rw shared:15 - tmpfs tmpfs rw\n");
        assert!(!own_proc_fits(&masked));
        let hidden = shared.replace("- proc proc rw\n", "- proc proc rw,hidepid=2\n");
        assert!(!own_proc_fits(&hidden));
        let read_only = shared.replace("/proc rw,nosuid", "/proc ro,nosuid");
        assert!(!own_proc_fits(&read_only));
        // No /proc at all.
        assert!(!own_proc_fits("22 1 0:21 / / rw shared:1 - ext4 /dev/sda1 rw\n"));
    }

    #[test]
    fn hidepid_that_hides_processes_is_found_on_the_last_proc_mount() {
        let line =
            |n: u32, point: &str, fs: &str, opts: &str| format!("{n} 1 0:{n} / {point} rw,nosuid - {fs} {fs} {opts}\n");
        let hidden = parse(&(line(22, "/proc", "proc", "rw") + &line(40, "/proc", "proc", "rw,hidepid=invisible")));
        assert_eq!(hidepid_of_proc(&hidden).as_deref(), Some("invisible"));
        let numeric = parse(&line(22, "/proc", "proc", "rw,hidepid=2"));
        assert_eq!(hidepid_of_proc(&numeric).as_deref(), Some("2"));
        // `noaccess` lists every PID; its files are refused (unreadable).
        assert_eq!(
            hidepid_of_proc(&parse(&line(22, "/proc", "proc", "rw,hidepid=1"))),
            None
        );
        assert_eq!(hidepid_of_proc(&parse(&line(22, "/proc", "proc", "rw"))), None);
        // A later plain mount over it shows every process again.
        let remounted = parse(&(line(22, "/proc", "proc", "rw,hidepid=2") + &line(41, "/proc", "proc", "rw")));
        assert_eq!(hidepid_of_proc(&remounted), None);
        // Elsewhere, it is no /proc of afterlife's.
        assert_eq!(
            hidepid_of_proc(&parse(&line(22, "/mnt/proc", "proc", "rw,hidepid=2"))),
            None
        );
    }

    #[test]
    fn lines_parse_with_escapes_undone() {
        let text = "\
30 23 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
25 1 0:22 / /my\\040cgroups rw shared:4 master:1 - cgroup2 none rw
26 1 0:23 /a\\134b /tab\\011here rw - ext4 /dev/sda1 rw
not a mountinfo line
";
        let mounts = parse(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0].mount_point, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(mounts[0].fs_type, "tmpfs");
        assert_eq!(mounts[0].mnt_id, 30);
        assert_eq!(mounts[1].mount_point, PathBuf::from("/my cgroups"));
        assert_eq!(mounts[1].mount_source, None);
        assert_eq!(mounts[2].mount_point, PathBuf::from("/tab\there"));
        assert_eq!(mounts[2].root, "/a\\b");
        assert_eq!(mounts[2].majmin, "0:23");
        assert_eq!(mounts[2].mount_source.as_deref(), Some("/dev/sda1"));
        assert_eq!(first_of_type(&mounts, "cgroup2"), Some(PathBuf::from("/my cgroups")));
        assert_eq!(first_of_type(&mounts, "mqueue"), None);
        // The two fields alone, the same as the full parse gives.
        let points = parse_points(text);
        assert_eq!(points.len(), 3);
        for (point, mount) in points.iter().zip(&mounts) {
            assert_eq!(point.fs_type, mount.fs_type);
            assert_eq!(point.mount_point, mount.mount_point);
            assert_eq!(point.root, PathBuf::from(&mount.root));
        }
        assert_eq!(
            first_point_of_type(&points, "cgroup2"),
            Some(PathBuf::from("/my cgroups"))
        );
        assert_eq!(first_point_of_type(&points, "mqueue"), None);
        assert_eq!(parse_points("1 2 3:4 / /x rw - \n - \n"), Vec::new());
    }

    #[test]
    fn escapes_unescape() {
        assert_eq!(unescape("/mnt/a\\040b"), PathBuf::from("/mnt/a b"));
        assert_eq!(unescape("/plain"), PathBuf::from("/plain"));
        assert_eq!(unescape("/end\\040"), PathBuf::from("/end "));
        // Not three octal digits: kept as written.
        assert_eq!(unescape("/a\\04"), PathBuf::from("/a\\04"));
        assert_eq!(unescape("/a\\8xy"), PathBuf::from("/a\\8xy"));
        assert_eq!(unescape("/a\\777"), PathBuf::from("/a\\777"));
    }

    #[test]
    fn cgroup_hierarchies_are_found() {
        let hybrid = "\
30 23 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:16 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw shared:17 - cgroup cgroup rw,cpu,cpuacct
37 30 0:33 / /elsewhere/memory rw - cgroup cgroup rw,memory
";
        let mounts = CgroupMounts::parse(hybrid);
        assert_eq!(mounts.v2, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(mounts.v1_memory, Some(PathBuf::from("/sys/fs/cgroup/memory")));
        let v2_only = "25 1 0:22 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,memory_recursiveprot\n";
        assert_eq!(CgroupMounts::parse(v2_only).v1_memory, None);
        assert_eq!(
            CgroupMounts::parse("32 31 0:29 / /x rw - cgroup cgroup rw,cpu\n"),
            CgroupMounts::default()
        );
    }

    #[test]
    fn reads_its_own() {
        let mounts = read(None).unwrap();
        assert!(mounts.iter().any(|m| m.mount_point == Path::new("/")));
        assert!(is_mount_point(Path::new("/")));
        let points = own().unwrap();
        assert_eq!(
            first_point_of_type(points, "cgroup2"),
            CgroupMounts::read().v2,
            "{points:?}"
        );
    }
}
