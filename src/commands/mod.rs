//! The subcommands: each takes its parsed arguments and returns an exit code.

mod serve;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::Config;

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Config(ConfigCommand::Check(args)) => {
            let loaded = Config::load(args.path.as_deref())?;
            eprintln!("{}: OK", loaded.path.display());
            print!("{}", loaded.config.to_toml()?);
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!("not available yet: {other:?}"),
    }
}
