//! The hidden child modes of `watch`'s Windows tests: processes that leak
//! handles or private bytes at a steady rate, or hold a steady count.
//! Each prints its PID, then runs until it is ended.

use std::time::Duration;

use windows_sys::Win32::System::Threading::CreateEventW;

use super::handle::Handle;

/// How long a mode runs at most, if nothing ends it.
const LIFETIME: Duration = Duration::from_secs(600);

/// An unnamed event, not signaled: one more handle of the process.
fn event() -> Option<Handle> {
    // SAFETY: plain call; the handle is checked.
    Handle::from_raw(unsafe { CreateEventW(std::ptr::null(), 1, 0, std::ptr::null()) })
}

/// `leak-handles MS`: opens an event every MS milliseconds and never
/// closes it.
pub fn leak_handles(every: Duration) -> u8 {
    println!("{}", std::process::id());
    let mut kept = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < LIFETIME {
        kept.extend(event());
        std::thread::sleep(every);
    }
    0
}

/// `hold-handles N MS`: opens N events, then every MS milliseconds opens
/// one more and closes it again (a steady count with churn).
pub fn hold_handles(count: u64, every: Duration) -> u8 {
    let held: Vec<Handle> = (0..count).filter_map(|_| event()).collect();
    println!("{} {}", std::process::id(), held.len());
    let started = std::time::Instant::now();
    while started.elapsed() < LIFETIME {
        drop(event());
        std::thread::sleep(every);
    }
    0
}

/// `leak-private KIB MS`: allocates KIB KiB every MS milliseconds, writes
/// to every page (so that it is committed and resident), and keeps it.
pub fn leak_private(kib: u64, every: Duration) -> u8 {
    println!("{}", std::process::id());
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < LIFETIME {
        let mut block = vec![0u8; (kib * 1024) as usize];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        kept.push(std::hint::black_box(block));
        std::thread::sleep(every);
    }
    0
}
