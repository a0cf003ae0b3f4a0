//! The `afterlife` binary: parse, run one command, return its code from
//! `main` (the C runtime passes it to exit(3)).
//!
//! On Linux the binary brings its own C `main` instead of Rust's runtime
//! start: that start guards the main thread's stack, which costs reading
//! `/proc/self/maps`, an alternate signal stack and a dozen system calls
//! per start, a tenth of a millisecond of every `afterlife run` (a test
//! harness pays it per test). A stack overflow is then a plain SIGSEGV
//! without Rust's message. What the start does that afterlife relies on
//! (fds 0 to 2 open, SIGPIPE ignored) `prepare_process` does; a panic still
//! prints its message and exits with 101.
#![cfg_attr(all(target_os = "linux", not(test)), no_main)]

#[cfg(any(not(target_os = "linux"), test))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(afterlife::cli::main_with_args(std::env::args_os()))
}

/// The C entry point; the arguments are read through `std::env`, which
/// glibc hands them to before `main`.
#[cfg(all(target_os = "linux", not(test)))]
// SAFETY: the program's only C `main` (the test build has Rust's own, and
// no library linked in defines one).
#[unsafe(no_mangle)]
extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    use std::io::Write;
    afterlife::cli::prepare_process();
    let code = std::panic::catch_unwind(|| afterlife::cli::main_with_args(std::env::args_os())).unwrap_or(101);
    // Rust's runtime flushes stdout after `main`; exit(3) knows nothing of
    // its buffer.
    let _ = std::io::stdout().flush();
    std::ffi::c_int::from(code)
}
