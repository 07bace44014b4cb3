//! `authmilter srs forward|reverse|secret`.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::SrsCommand;
use crate::forwarding::load_srs;

use super::common::tool_config;

/// Runs an `srs` subcommand.
pub fn run(cmd: SrsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SrsCommand::Secret => {
            let secret = srs::generate_secret().context("cannot generate a secret")?;
            outln!("{secret}")?;
            Ok(ExitCode::SUCCESS)
        }
        SrsCommand::Forward(a) => {
            let config = tool_config(&a.config)?;
            let srs = load_srs(&config.srs)?;
            match srs.forward(a.address.trim(), srs.srs_domain()) {
                Ok(srs::Forwarded::Rewritten(addr)) => outln!("{addr}")?,
                Ok(srs::Forwarded::NotRewritten(why)) => {
                    outln!("{}", a.address.trim())?;
                    eprintln!("not rewritten: {why:?}");
                }
                Err(e) => anyhow::bail!("{e}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        SrsCommand::Reverse(a) => {
            let config = tool_config(&a.config)?;
            let srs = load_srs(&config.srs)?;
            match srs.reverse(a.address.trim()) {
                Ok(addr) => {
                    outln!("{addr}")?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("authmilter: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
