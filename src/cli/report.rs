//! The arguments of `authmilter report ...` (sending the reports we owe, reading the reports
//! others send us).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ConfigArg, DnsArg};

/// `authmilter report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Send the aggregate reports of every ended period not sent yet (and queued failure
    /// reports), now; each report goes to each destination once, also with `serve` running.
    Send(ReportSendArgs),
    /// Periods recorded, reports sent, pending and failed with the last error.
    Status(ReportStatusArgs),
    /// Store the aggregate reports in files (.xml, .xml.gz, .zip, a mail, an mbox), in the
    /// files of directories, or on stdin (`-`); a report already stored is skipped.
    Import(ReportImportArgs),
    /// Summarize the reports others sent: per domain, the messages and DMARC pass rate; with
    /// --domain, the sources sending as it (failing first), DKIM selectors and reporters.
    Show(ReportShowArgs),
}

/// `authmilter report import`.
#[derive(Debug, Args)]
pub struct ReportImportArgs {
    /// Files or directories (read recursively) with reports, or `-` for stdin.
    #[arg(value_name = "FILE|DIR|-", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Do not look up the reverse DNS names of the sources in new reports.
    #[arg(long)]
    pub no_names: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The nameserver override (for the names of sources).
    #[command(flatten)]
    pub dns: DnsArg,
    /// The configuration file (the store is `[reports] store`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `authmilter report show`.
#[derive(Debug, Args)]
pub struct ReportShowArgs {
    /// One policy domain: its sources, DKIM selectors and reporters.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// The period: `7d`, `4w`, or its first day `YYYY-MM-DD`.
    #[arg(long, value_name = "PERIOD", default_value = "30d")]
    pub since: String,
    /// The last day of the period (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub until: Option<String>,
    /// At most this many sources (failing first).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub sources: usize,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV: the domains, or with --domain its sources.
    #[arg(long)]
    pub csv: bool,
    /// Pretend the time is this (Unix seconds); for tests.
    #[arg(long, value_name = "UNIX", hide = true)]
    pub now: Option<u64>,
    /// The configuration file (the store is `[reports] store`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `authmilter report send`.
#[derive(Debug, Args)]
pub struct ReportSendArgs {
    /// Build the reports and write them as .eml files; send nothing, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where --dry-run writes the files.
    #[arg(long, value_name = "DIR", default_value = ".", requires = "dry_run")]
    pub out: PathBuf,
    /// Only the reports of this UTC day (it must have ended).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub period: Option<String>,
    /// Pretend the time is this (Unix seconds); for tests.
    #[arg(long, value_name = "UNIX", hide = true)]
    pub now: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The nameserver override.
    #[command(flatten)]
    pub dns: DnsArg,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `authmilter report status`.
#[derive(Debug, Args)]
pub struct ReportStatusArgs {
    /// Show the periods of the last N days.
    #[arg(long, value_name = "N", default_value_t = 14)]
    pub days: u64,
    /// Pretend the time is this (Unix seconds); for tests.
    #[arg(long, value_name = "UNIX", hide = true)]
    pub now: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArg,
}
