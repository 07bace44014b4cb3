//! The subcommands: each takes its parsed arguments and returns an exit code.

mod arc;
mod assets;
mod bench;
mod check_domain;
mod common;
mod dkim;
mod eval;
mod migrate;
mod preflight;
mod reload;
mod serve;
mod spf;
mod srs;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::Config;

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Config(ConfigCommand::Check(args)) => {
            crate::logging::init_cli();
            let loaded = Config::load(args.path.as_deref())?;
            // every check serve runs before it binds: keys, SRS secrets, users, socket dirs
            common::runtime()?
                .block_on(async {
                    let dns = crate::cli::DnsArg {
                        dns: None,
                        zone: None,
                    };
                    preflight::run_checks(loaded.config.clone(), &dns, Default::default())
                        .map(|_| ())
                })
                .map_err(|e| e.context(format!("in {}", loaded.path.display())))?;
            eprintln!("{}: OK", loaded.path.display());
            print!("{}", loaded.config.to_toml()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Spf(args) => spf::run(args),
        Command::Dkim(cmd) => dkim::run(cmd),
        Command::Arc(cmd) => arc::run(cmd),
        Command::Eval(args) => eval::run(args),
        Command::Srs(cmd) => srs::run(cmd),
        Command::CheckDomain(args) => check_domain::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::GenerateAssets { dir } => assets::run(&dir),
        Command::Bench(args) => bench::run(args),
    }
}
