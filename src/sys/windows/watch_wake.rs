//! What wakes the Windows watch loop between ticks: a stop (Ctrl+C,
//! Ctrl+Break or the console closing, through a console control handler;
//! or `q`/Esc in the live view) or a watched process's end (its handle is
//! signaled).
//!
//! The handler sets an event, and one `WaitForMultipleObjects` waits on it
//! and on the handles of the processes still running: an end is seen at
//! once, not at the next tick. At most 64 objects are waited on at once
//! (MAXIMUM_WAIT_OBJECTS): past 63 processes the rest are looked at when
//! the wait ends, at the next tick at the latest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use windows_sys::Win32::Foundation::{HANDLE, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
use windows_sys::Win32::System::Threading::{CreateEventW, SetEvent, WaitForMultipleObjects};

use super::handle::Handle;

/// What ended a wait.
pub enum Wake {
    /// A stop was asked for.
    Stop,
    /// One of the processes (indexes of the list waited on) may have
    /// ended; empty when the time is up.
    Exited(Vec<usize>),
}

/// The stop event, as the console handler (which gets no context) finds
/// it: a raw handle, 0 when no watch runs.
static STOP_EVENT: AtomicUsize = AtomicUsize::new(0);

/// The stop event and the console handler that sets it, installed while
/// the watch runs.
pub struct StopEvent {
    event: Handle,
}

/// Sets the stop event on Ctrl+C, Ctrl+Break and the console closing.
unsafe extern "system" fn stop_on_console_event(_event: u32) -> windows_sys::core::BOOL {
    request_stop();
    1
}

/// Asks the running watch to stop, as Ctrl+C does.
pub fn request_stop() {
    let raw = STOP_EVENT.load(Ordering::Acquire);
    if raw != 0 {
        // SAFETY: the event stays open while STOP_EVENT names it.
        unsafe { SetEvent(raw as HANDLE) };
    }
}

impl StopEvent {
    /// Creates the event and installs the handler.
    pub fn install() -> std::io::Result<StopEvent> {
        // SAFETY: plain call; a manual-reset event, not signaled, unnamed.
        let raw = unsafe { CreateEventW(std::ptr::null(), 1, 0, std::ptr::null()) };
        let event = Handle::from_raw(raw).ok_or_else(std::io::Error::last_os_error)?;
        STOP_EVENT.store(event.raw() as usize, Ordering::Release);
        // SAFETY: a handler valid for the whole process.
        if unsafe { SetConsoleCtrlHandler(Some(stop_on_console_event), 1) } == 0 {
            STOP_EVENT.store(0, Ordering::Release);
            return Err(std::io::Error::last_os_error());
        }
        Ok(StopEvent { event })
    }

    /// Waits until a stop, a process of `processes` ends, or `timeout`
    /// passes.
    pub fn wait(&self, processes: &[HANDLE], timeout: Duration) -> Wake {
        let mut objects = vec![self.event.raw()];
        objects.extend(processes.iter().take(63));
        let millis = u32::try_from(timeout.as_millis())
            .unwrap_or(u32::MAX - 1)
            .min(u32::MAX - 1);
        // SAFETY: an array of valid handles, its length given.
        let event = unsafe { WaitForMultipleObjects(objects.len() as u32, objects.as_ptr(), 0, millis) };
        match event.wrapping_sub(WAIT_OBJECT_0) as usize {
            0 => Wake::Stop,
            _ if event == WAIT_TIMEOUT => Wake::Exited(Vec::new()),
            index if index < objects.len() => Wake::Exited(vec![index - 1]),
            // WAIT_FAILED (a handle closed meanwhile): look at them all.
            _ => Wake::Exited((0..processes.len()).collect()),
        }
    }
}

impl Drop for StopEvent {
    fn drop(&mut self) {
        // SAFETY: removes the handler installed above.
        unsafe { SetConsoleCtrlHandler(Some(stop_on_console_event), 0) };
        STOP_EVENT.store(0, Ordering::Release);
    }
}

/// The live view's key reader: a thread reads the console's key events
/// (crossterm) and asks the watch to stop on a key that stops the view.
/// Ctrl+C stays a console control event, which the handler above sees.
pub struct Keys;

impl Keys {
    /// Starts reading keys; `stops` tells a key that stops the view.
    pub fn start(stops: fn(&[u8]) -> bool) -> Option<Keys> {
        use ratatui::crossterm::event::{Event, KeyCode, KeyEventKind, read};
        std::thread::Builder::new()
            .name("keys".into())
            .spawn(move || {
                while let Ok(event) = read() {
                    let Event::Key(key) = event else { continue };
                    let bytes: &[u8] = match key.code {
                        KeyCode::Char('q') => b"q",
                        KeyCode::Char('Q') => b"Q",
                        KeyCode::Esc => &[0x1b],
                        _ => continue,
                    };
                    if key.kind == KeyEventKind::Press && stops(bytes) {
                        request_stop();
                        return;
                    }
                }
            })
            .ok()?;
        Some(Keys)
    }
}
