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
//!
//! The Linux build is static and against musl (`.cargo/config.toml`), with
//! dlmalloc as its allocator.
#![cfg_attr(all(target_os = "linux", not(test)), no_main)]

#[cfg(any(not(target_os = "linux"), test))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(afterlife::cli::main_with_args(std::env::args_os()))
}

/// The C entry point.
#[cfg(all(target_os = "linux", not(test)))]
// SAFETY: the program's only C `main` (the test build has Rust's own, and
// no library linked in defines one).
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    use std::io::Write;
    afterlife::cli::prepare_process();
    let args = arguments(argc, argv);
    let code = std::panic::catch_unwind(|| afterlife::cli::main_with_args(args)).unwrap_or(101);
    // Rust's runtime flushes stdout after `main`; exit(3) knows nothing of
    // its buffer.
    let _ = std::io::stdout().flush();
    std::ffi::c_int::from(code)
}

/// The arguments, from `main`'s own: `std::env::args_os` is empty here with
/// musl, which (unlike glibc) gives them to no initialiser that Rust's
/// standard library could take them from.
#[cfg(all(target_os = "linux", not(test)))]
fn arguments(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStringExt;
    (0..usize::try_from(argc).unwrap_or(0))
        .map(|i| {
            // SAFETY: the C runtime passes `argc` pointers to C strings in
            // `argv`, valid for the whole run.
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsString::from_vec(arg.to_bytes().to_vec())
        })
        .collect()
}

/// musl's own allocator is slow at allocation-heavy work such as clap's
/// parse; dlmalloc is a pure-Rust port of the allocator glibc's descends
/// from (measured: `--version` 0.30 ms with it, 0.37 ms with musl's).
#[cfg(all(target_os = "linux", target_env = "musl"))]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
