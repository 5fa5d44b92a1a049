//! Hidden `garnet completions <shell>` and `garnet man`: the files committed under `completions/`.

use anyhow::Result;
use clap::CommandFactory;

use crate::ExitStatus;
use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "garnet", &mut buf);
    buf
}

/// The man page (roff).
pub fn man_page() -> Vec<u8> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf).expect("render man page");
    buf
}

pub fn completions(shell: clap_complete::Shell) -> Result<ExitStatus> {
    use std::io::Write;
    std::io::stdout().write_all(&completion_script(shell))?;
    Ok(ExitStatus::Success)
}

pub fn man() -> Result<ExitStatus> {
    use std::io::Write;
    std::io::stdout().write_all(&man_page())?;
    Ok(ExitStatus::Success)
}
