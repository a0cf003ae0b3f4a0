//! A fresh anonymous mapping with every page written: the process's
//! resident memory grows by its size until it is dropped. Used to check
//! that a reading of a process's memory counters moves when they do.

use std::ffi::c_void;

/// Pages mapped and written for as long as it lives.
pub(crate) struct Touched {
    at: *mut c_void,
    len: usize,
}

impl Touched {
    /// Maps `len` bytes and writes a byte to each page.
    pub(crate) fn new(len: usize) -> std::io::Result<Touched> {
        use rustix::mm::{MapFlags, ProtFlags};
        // SAFETY: a new private anonymous mapping at an address the kernel
        // chooses: it overlaps no memory of the process.
        let at = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }?;
        // SAFETY: `at` is the start of the `len` writable bytes just mapped,
        // owned by nothing else.
        unsafe { std::ptr::write_bytes(at.cast::<u8>(), 1, len) };
        Ok(Touched { at, len })
    }
}

impl Drop for Touched {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, not used after this.
        let _ = unsafe { rustix::mm::munmap(self.at, self.len) };
    }
}
