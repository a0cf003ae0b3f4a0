//! Starting processes under Wine, for the Windows tests.

use std::time::Duration;

/// Runs `start` again when process creation fails with
/// ERROR_INTERNAL_ERROR (1359): Wine 8.0 does so now and then when many
/// processes start at once (the tests run in parallel). A start is not
/// what these tests check.
pub fn retrying<T>(start: impl Fn() -> std::io::Result<T>) -> T {
    for _ in 0..5 {
        match start() {
            Err(error) if error.raw_os_error() == Some(1359) => std::thread::sleep(Duration::from_millis(200)),
            other => return other.unwrap(),
        }
    }
    start().unwrap()
}
