//! Shell completions and man pages, generated from the clap definitions.

use std::path::Path;

use crate::cli::{Failure, Shell};
use crate::exit_code;

pub(crate) fn completions(shell: Shell, command: &mut clap::Command) -> Result<u8, Failure> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, command, "afterlife", &mut std::io::stdout());
    Ok(exit_code::SUCCESS)
}

pub(crate) fn man(dir: Option<&Path>, command: clap::Command) -> Result<u8, Failure> {
    match dir {
        None => clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .map_err(|e| Failure::new(format!("cannot write the man page: {e}")))?,
        Some(dir) => clap_mangen::generate_to(command, dir).map_err(|e| {
            Failure::new(format!(
                "cannot write man pages to {}: {e}",
                crate::text::escape(&dir.display().to_string())
            ))
        })?,
    }
    Ok(exit_code::SUCCESS)
}
