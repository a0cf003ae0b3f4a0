//! SysV IPC: shared memory (`shmget(2)`, `shmctl(2)`, `shmat(2)`/`shmdt(2)`,
//! for the demo's scenario of a segment that outlives its creator), the
//! removal of semaphore sets and message queues and `semctl(GETPID)` (for
//! `run`'s leftovers); POSIX message queues (`mq_open`, `mq_unlink`).

use std::io;
use std::ptr::NonNull;

use super::check;

/// What `shmctl(IPC_STAT)` says of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShmStat {
    /// `shm_segsz`: its size in bytes.
    pub(crate) size: usize,
    /// `shm_nattch`: how many attachments it has.
    pub(crate) attached: u64,
    /// `shm_cpid`: the PID of its creator.
    pub(crate) creator: i32,
}

/// A new private segment of `size` bytes (mode 0600); its ID.
pub(crate) fn shm_create(size: usize) -> io::Result<i32> {
    // SAFETY: shmget takes integers only.
    check(unsafe { libc::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600) })
}

/// `shmctl(IPC_STAT)`; `None` if the segment is gone (or not ours to see).
pub(crate) fn shm_stat(id: i32) -> Option<ShmStat> {
    // SAFETY: a shmid_ds is plain integers; all zeroes is a valid one.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT writes into the shmid_ds we own.
    let rc = unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) };
    (rc == 0).then_some(ShmStat {
        size: ds.shm_segsz,
        attached: ds.shm_nattch as u64,
        creator: ds.shm_cpid,
    })
}

/// `shmctl(IPC_RMID)`: the segment goes at its last detach.
pub(crate) fn shm_remove(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID takes no buffer.
    check(unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
}

/// A segment attached to this process, detached on drop.
#[derive(Debug)]
pub(crate) struct ShmMapping {
    addr: NonNull<u8>,
    len: usize,
    writable: bool,
}

impl ShmMapping {
    /// Attaches the whole segment, read-only or for writing.
    pub(crate) fn attach(id: i32, writable: bool) -> io::Result<ShmMapping> {
        let len = shm_stat(id).ok_or_else(io::Error::last_os_error)?.size;
        let flags = if writable { 0 } else { libc::SHM_RDONLY };
        // SAFETY: shmat with a null address lets the kernel pick where to
        // map; no memory of ours is touched.
        let addr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        if addr as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        let addr = NonNull::new(addr.cast::<u8>()).ok_or_else(|| io::Error::other("shmat returned null"))?;
        Ok(ShmMapping { addr, len, writable })
    }

    /// The segment's bytes. Another process may write them meanwhile: the
    /// demo's segments have one writer, which is stopped or dead by the
    /// time anyone else reads.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the kernel mapped `len` bytes at `addr`, and they stay
        // mapped until `self` is dropped.
        unsafe { std::slice::from_raw_parts(self.addr.as_ptr(), self.len) }
    }

    /// The segment's bytes, to write; `None` if attached read-only.
    pub(crate) fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        if !self.writable {
            return None;
        }
        // SAFETY: as in `bytes`, mapped writable; `&mut self` makes this
        // the only borrow of the mapping in this process.
        Some(unsafe { std::slice::from_raw_parts_mut(self.addr.as_ptr(), self.len) })
    }
}

impl Drop for ShmMapping {
    fn drop(&mut self) {
        // SAFETY: detaches the mapping `attach` made; no borrow of it
        // outlives `self`.
        unsafe { libc::shmdt(self.addr.as_ptr().cast()) };
    }
}

/// `semctl(IPC_RMID)`: the semaphore set goes at once.
pub(crate) fn sem_remove(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID takes no fourth argument.
    check(unsafe { libc::semctl(id, 0, libc::IPC_RMID) }).map(drop)
}

/// `msgctl(IPC_RMID)`: the message queue goes at once.
pub(crate) fn msg_remove(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID takes no buffer: a null one is not read.
    check(unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
}

/// `semctl(GETPID)`: the PID of the last process to operate on semaphore
/// `number` of set `id`.
pub(crate) fn sem_last_pid(id: i32, number: i32) -> io::Result<i32> {
    // SAFETY: GETPID takes no fourth argument; it reads the set only.
    check(unsafe { libc::semctl(id, number, libc::GETPID) })
}

/// How many SysV objects of each kind exist in this IPC namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SysvInUse {
    /// Shared memory segments.
    pub(crate) shm: i32,
    /// Semaphore sets.
    pub(crate) sem: i32,
    /// Message queues.
    pub(crate) msg: i32,
}

/// `SHM_INFO` (include/uapi/linux/shm.h; the libc crate has no constant).
const SHM_INFO: libc::c_int = 14;

/// `struct shm_info` (include/uapi/linux/shm.h).
#[repr(C)]
#[derive(Default)]
struct ShmInfo {
    used_ids: libc::c_int,
    shm_tot: libc::c_ulong,
    shm_rss: libc::c_ulong,
    shm_swp: libc::c_ulong,
    swap_attempts: libc::c_ulong,
    swap_successes: libc::c_ulong,
}

/// `struct seminfo` (include/uapi/linux/sem.h); `semusz` is the count.
#[repr(C)]
#[derive(Default)]
struct SemInfo {
    before: [libc::c_int; 7],
    semusz: libc::c_int,
    after: [libc::c_int; 2],
}

/// `struct msginfo` (include/uapi/linux/msg.h); `msgpool` is the count.
#[repr(C)]
#[derive(Default)]
struct MsgInfo {
    msgpool: libc::c_int,
    rest: [libc::c_int; 6],
    msgseg: libc::c_ushort,
}

/// The counts `shmctl(SHM_INFO)`, `semctl(SEM_INFO)` and `msgctl(MSG_INFO)`
/// give (the kernel's `in_use` of each table): three system calls, where
/// reading `/proc/sysvipc/*` takes a dozen. Made as raw system calls, since
/// C libraries rewrite the command of their wrappers. `None` if one fails.
pub(crate) fn sysv_in_use() -> Option<SysvInUse> {
    let mut shm = ShmInfo::default();
    let mut sem = SemInfo::default();
    let mut msg = MsgInfo::default();
    // SAFETY: SHM_INFO writes a struct shm_info into the one we own.
    let shm_rc = unsafe { libc::syscall(libc::SYS_shmctl, 0, SHM_INFO, &raw mut shm) };
    // SAFETY: SEM_INFO writes a struct seminfo through the fourth argument
    // (the union semun's pointer member), into the one we own.
    let sem_rc = unsafe { libc::syscall(libc::SYS_semctl, 0, 0, libc::SEM_INFO, &raw mut sem) };
    // SAFETY: MSG_INFO writes a struct msginfo into the one we own.
    let msg_rc = unsafe { libc::syscall(libc::SYS_msgctl, 0, libc::MSG_INFO, &raw mut msg) };
    (shm_rc >= 0 && sem_rc >= 0 && msg_rc >= 0).then_some(SysvInUse {
        shm: shm.used_ids,
        sem: sem.semusz,
        msg: msg.msgpool,
    })
}

/// A POSIX message queue descriptor, closed on drop.
#[derive(Debug)]
pub(crate) struct MessageQueue(libc::mqd_t);

impl Drop for MessageQueue {
    fn drop(&mut self) {
        // SAFETY: our own open queue, closed once.
        unsafe { libc::mq_close(self.0) };
    }
}

/// `mq_open(name, flags)` without `O_CREAT`.
pub(crate) fn mq_open(name: &std::ffi::CStr, flags: i32) -> io::Result<MessageQueue> {
    // SAFETY: a NUL-terminated name; no O_CREAT, so no further arguments.
    check(unsafe { libc::mq_open(name.as_ptr(), flags) }).map(MessageQueue)
}

/// `mq_open(name, O_CREAT | flags, mode, NULL)`: a queue with default
/// attributes (for tests).
#[cfg(test)]
pub(crate) fn mq_create(name: &std::ffi::CStr, flags: i32, mode: libc::mode_t) -> io::Result<MessageQueue> {
    // SAFETY: a NUL-terminated name, a mode and a null attribute pointer
    // (the defaults).
    let mq = unsafe {
        libc::mq_open(
            name.as_ptr(),
            libc::O_CREAT | flags,
            mode,
            std::ptr::null_mut::<libc::mq_attr>(),
        )
    };
    check(mq).map(MessageQueue)
}

/// `mq_unlink(name)`.
pub(crate) fn mq_unlink(name: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: a NUL-terminated name.
    check(unsafe { libc::mq_unlink(name.as_ptr()) }).map(drop)
}

/// The root directory of the mqueue filesystem of this process's IPC
/// namespace, from a mount of it that no one else sees (`fsopen`,
/// `fsconfig(FSCONFIG_CMD_CREATE)`, `fsmount`: Linux 5.2, and
/// `CAP_SYS_ADMIN`). The superblock is the namespace's own (the kernel
/// keys it by the namespace), so the queues are those `mq_open` names; the
/// mount goes when the last fd on it is closed.
pub(crate) fn mqueue_private_root() -> io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};
    let context = rustix::mount::fsopen("mqueue", FsOpenFlags::FSOPEN_CLOEXEC)?;
    rustix::mount::fsconfig_create(&context)?;
    let attributes =
        MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOEXEC;
    let mount = rustix::mount::fsmount(&context, FsMountFlags::FSMOUNT_CLOEXEC, attributes)?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(&mount, ".", flags, Mode::empty())?)
}
