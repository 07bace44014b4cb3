//! The subcommands: each takes its parsed arguments and returns an exit code.
//!
//! The tools write their standard output with `out!` and `outln!` (below), which return the write
//! error instead of panicking as `print!` does: when the reader of a pipe goes away
//! (`authmilter dkim genkey ... | head -1`), the error travels up as `BrokenPipe` and `main`
//! ends the process quietly, as a Unix filter killed by SIGPIPE would (see
//! [`is_broken_pipe`]).

/// `print!` to standard output, returning `std::io::Result<()>` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!($($arg)*))
    };
}

/// `println!` to standard output, returning `std::io::Result<()>` instead of panicking.
macro_rules! outln {
    () => {
        std::io::Write::write_all(&mut std::io::stdout().lock(), b"\n")
    };
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(
            &mut std::io::stdout().lock(),
            format_args!("{}\n", format_args!($($arg)*)),
        )
    };
}

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
mod report;
mod report_in;
mod serve;
mod spf;
mod srs;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::Config;

/// True when `err` comes from writing to a pipe whose reader has gone (EPIPE): the tool's
/// output is not wanted any more, which is no error of the tool's.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // the tools log warnings to stderr (RUST_LOG for more); serve sets up its own logging
    if !matches!(cli.command, Command::Serve(_)) {
        crate::logging::init_cli();
    }
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Config(ConfigCommand::Check(args)) => {
            let loaded = Config::load(args.path.as_deref())?;
            // every check serve runs before it binds: keys, SRS secrets, users, socket dirs
            common::runtime()?.block_on(async {
                let dns = crate::cli::DnsArg {
                    dns: None,
                    zone: None,
                };
                preflight::run_checks(
                    loaded.config.clone(),
                    &loaded.path,
                    &dns,
                    Default::default(),
                    &|_| false,
                )
                .map(|_| ())
            })?;
            eprintln!("{}: OK", loaded.path.display());
            out!("{}", loaded.config.to_toml()?)?;
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
        Command::Report(cmd) => report::run(cmd),
    }
}
