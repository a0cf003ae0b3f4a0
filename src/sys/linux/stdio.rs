//! A C stdio stream (`fopen(3)`, `setvbuf(3)`, `fwrite(3)`), for the demo's
//! scenario of data lost or kept in a buffer: `exit(3)` flushes C streams
//! (`std::process::exit` calls it), `_exit(2)` and a kill do not.

use std::ffi::CStr;
use std::io;
use std::ptr::NonNull;

/// A stream opened for writing, fully buffered with a buffer it owns.
#[derive(Debug)]
pub(crate) struct CStream {
    file: NonNull<libc::FILE>,
    /// The stream's buffer: it must outlive every use of the stream, which
    /// `exit(3)` may make after `main` (this is then never dropped).
    buffer: Box<[u8]>,
}

impl CStream {
    /// `fopen(path, "w")` with a full buffer of `capacity` bytes, so that a
    /// write smaller than it stays in memory (with glibc's own buffer, of
    /// `st_blksize` bytes, a write of a whole block would go straight to
    /// the file).
    pub(crate) fn create_buffered(path: &CStr, capacity: usize) -> io::Result<CStream> {
        // SAFETY: fopen reads two C strings we borrow.
        let file = unsafe { libc::fopen(path.as_ptr(), c"w".as_ptr()) };
        let file = NonNull::new(file).ok_or_else(io::Error::last_os_error)?;
        let mut stream = CStream {
            file,
            buffer: vec![0u8; capacity].into_boxed_slice(),
        };
        let (buffer, len) = (stream.buffer.as_mut_ptr(), stream.buffer.len());
        // SAFETY: setvbuf before any I/O on the stream; the buffer lives as
        // long as the stream (see the field).
        let rc = unsafe { libc::setvbuf(stream.file.as_ptr(), buffer.cast(), libc::_IOFBF, len) };
        if rc != 0 {
            return Err(io::Error::other("setvbuf refused the buffer"));
        }
        Ok(stream)
    }

    /// `fwrite(3)`: how many bytes went into the stream.
    pub(crate) fn write(&mut self, data: &[u8]) -> usize {
        // SAFETY: fwrite reads `data.len()` bytes of the slice we borrow
        // into the open stream.
        unsafe { libc::fwrite(data.as_ptr().cast(), 1, data.len(), self.file.as_ptr()) }
    }
}

impl Drop for CStream {
    fn drop(&mut self) {
        // SAFETY: closes the stream `create_buffered` opened, before the
        // buffer field is dropped.
        unsafe { libc::fclose(self.file.as_ptr()) };
    }
}

/// What Rust's runtime does for fds 0, 1 and 2 before `main`, which a
/// binary with its own C `main` does itself: each one that is closed is
/// opened on `/dev/null`. Otherwise the first file afterlife opened would
/// take that number, and the command it starts would inherit the file as
/// its stdin (say).
pub(crate) fn open_closed_standard_fds() {
    CLOSED_AT_START.store(0, std::sync::atomic::Ordering::Relaxed);
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes the three structs we own; a closed fd
    // comes back as POLLNVAL, not as an error.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    if rc < 0 {
        // ENOMEM or EINTR with a zero timeout: nothing known, nothing done.
        return;
    }
    for entry in fds {
        if entry.revents & libc::POLLNVAL != 0 {
            CLOSED_AT_START.fetch_or(1 << entry.fd, std::sync::atomic::Ordering::Relaxed);
            // The lowest free number, which this is (0, 1, 2 in order);
            // kept open for the life of the process.
            if let Ok(null) = rustix::fs::open("/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()) {
                let _ = std::os::fd::IntoRawFd::into_raw_fd(null);
            }
        }
    }
}

/// Which of fds 0, 1 and 2 were closed when afterlife started (bit N for
/// fd N), before [`open_closed_standard_fds`] put `/dev/null` there.
static CLOSED_AT_START: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Whether standard fd `fd` (0, 1 or 2) was closed when afterlife started:
/// what is written there goes nowhere, and a command it starts gets it
/// closed again, as from coreutils' `timeout`. Async-signal-safe.
pub(crate) fn closed_at_start(fd: i32) -> bool {
    (0..3).contains(&fd) && CLOSED_AT_START.load(std::sync::atomic::Ordering::Relaxed) & (1 << fd) != 0
}
