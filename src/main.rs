//! The `authmilter` binary: parse the command line and run the subcommand.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = authmilter::cli::Cli::parse();
    match authmilter::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("authmilter: {err:#}");
            ExitCode::from(2)
        }
    }
}
