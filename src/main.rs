//! The `authmilter` binary: parse the command line and run the subcommand.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = authmilter::cli::Cli::parse();
    if !matches!(cli.command, authmilter::cli::Command::Serve(_)) {
        // The tools write to stdout, which may be a pipe closed early (`| head`): let SIGPIPE
        // end the process quietly, as for any Unix filter, instead of a write error.
        // SAFETY: setting a signal disposition to SIG_DFL before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match authmilter::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("authmilter: {err:#}");
            ExitCode::from(2)
        }
    }
}
