//! The `afterlife` binary: parse, run one command, return its code from
//! `main` (the C runtime passes it to exit(3)).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(afterlife::cli::main_with_args(std::env::args_os()))
}
