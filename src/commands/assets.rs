//! `authmilter generate-assets DIR` (hidden): writes the man pages (clap_mangen) and the
//! shell completions (clap_complete) for packaging, generated from the command-line
//! definition of this very binary so they always match it.
//!
//! A hidden subcommand rather than a build script: builds stay as fast as before, and the
//! pages come from the binary that is being packaged.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// Writes `DIR/man/*.1` and `DIR/completions/{authmilter.bash,_authmilter,authmilter.fish}`.
pub fn run(dir: &Path) -> anyhow::Result<ExitCode> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let cmd = Cli::command();
    let mut pages = 0;
    write_pages(&cmd, "authmilter", &man, &mut pages)?;
    let mut cmd = Cli::command();
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut cmd, "authmilter", &completions)
            .with_context(|| format!("cannot write {shell} completions"))?;
    }
    eprintln!(
        "wrote {pages} man pages to {} and completions to {}",
        man.display(),
        completions.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One page for `cmd` (named `name`, e.g. `authmilter-dkim-genkey`), then one per visible
/// subcommand.
fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    count: &mut usize,
) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    // the page's NAME and SYNOPSIS show the full command, e.g. authmilter-dkim-rotate
    clap_mangen::Man::new(cmd.clone().name(name.to_string()))
        .title(name)
        .manual("authmilter")
        .render(&mut buf)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    *count += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, count)?;
    }
    Ok(())
}
