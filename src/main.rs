//! The `afterlife` binary: parse, run one command, exit with its code.

fn main() {
    let code = afterlife::cli::main_with_args(std::env::args_os());
    std::process::exit(i32::from(code));
}
