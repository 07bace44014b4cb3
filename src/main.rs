//! The `authmilter` binary: parse the command line and run the subcommand.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

/// The exit status of a tool whose output pipe was closed early: 128 + SIGPIPE, what the shell
/// reports for a filter the signal ended, so `set -o pipefail` scripts see the same as before.
const EXIT_BROKEN_PIPE: u8 = 128 + 13;

/// mimalloc instead of the system allocator: fewer instructions per allocation and cheap frees
/// of memory allocated on another thread (docs/PERFORMANCE.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = authmilter::cli::Cli::parse();
    match authmilter::commands::run(cli) {
        Ok(code) => code,
        // `authmilter ... | head`: the reader went away; end quietly, like any Unix filter.
        Err(err) if authmilter::commands::is_broken_pipe(&err) => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(err) => {
            eprintln!("authmilter: {err:#}");
            ExitCode::from(2)
        }
    }
}
