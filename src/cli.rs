//! Command-line interface (clap derive).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// One milter for SPF, DKIM, DMARC, iprev, Authentication-Results and SRS.
#[derive(Debug, Parser)]
#[command(name = "authmilter", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the milter (listen for Postfix or Sendmail).
    Serve(ServeArgs),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Evaluate SPF (RFC 7208) for a client IP, MAIL FROM and HELO.
    Spf(SpfArgs),
    /// DKIM: verify, sign, generate and test keys.
    #[command(subcommand)]
    Dkim(DkimCommand),
    /// Run the whole inbound pipeline offline on a message file and show what the milter would do.
    Eval(EvalArgs),
    /// Sender Rewriting Scheme: rewrite and restore addresses, make secrets.
    #[command(subcommand)]
    Srs(SrsCommand),
    /// Check a domain's published SPF, DMARC and DKIM records.
    CheckDomain(CheckDomainArgs),
    /// DMARC reports: send the aggregate reports due, show what the store holds.
    #[command(subcommand)]
    Report(ReportCommand),
}

/// `authmilter report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Send the aggregate reports of every ended period not sent yet (and queued failure
    /// reports), now; each report goes to each destination once, also with `serve` running.
    Send(ReportSendArgs),
    /// Periods recorded, reports sent, pending and failed with the last error.
    Status(ReportStatusArgs),
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

/// `authmilter check-domain`.
#[derive(Debug, Args)]
pub struct CheckDomainArgs {
    /// The domain.
    pub domain: String,
    /// DKIM selectors to check (repeat); without it, common selectors are tried.
    #[arg(long = "selector", value_name = "S")]
    pub selector: Vec<String>,
    /// The nameserver override.
    #[command(flatten)]
    pub dns: DnsArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The configuration file (for DNS settings); optional.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Where the configuration file is.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Configuration file [default: ./milter.toml, else /etc/authmilter/milter.toml]
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    pub path: Option<PathBuf>,
}

/// A nameserver override for commands that resolve.
#[derive(Debug, Clone, Args)]
pub struct DnsArg {
    /// Send DNS queries to this nameserver instead of the configured ones.
    #[arg(long = "dns", value_name = "HOST:PORT", conflicts_with = "zone")]
    pub dns: Option<SocketAddr>,
    /// Answer DNS from this zone file instead of the network (offline testing; the format is
    /// in docs/cli.md).
    #[arg(long = "zone", value_name = "FILE")]
    pub zone: Option<PathBuf>,
}

/// `authmilter serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArg,
    /// The nameserver override.
    #[command(flatten)]
    pub dns: DnsArg,
}

/// `authmilter config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration file and print the effective configuration.
    Check(ConfigArg),
}

/// `authmilter spf`.
#[derive(Debug, Args)]
pub struct SpfArgs {
    /// The SMTP client's IP address.
    #[arg(long)]
    pub ip: IpAddr,
    /// The MAIL FROM address ("" or "<>" for the null sender). Without it, the HELO
    /// identity is checked.
    #[arg(long = "mail-from", value_name = "ADDR")]
    pub mail_from: Option<String>,
    /// The HELO/EHLO name.
    #[arg(long, value_name = "NAME", default_value = "")]
    pub helo: String,
    /// The nameserver override.
    #[command(flatten)]
    pub dns: DnsArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The configuration file (for DNS settings and limits); optional.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `authmilter dkim ...`.
#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Verify every DKIM signature on a message.
    Verify(DkimVerifyArgs),
    /// Sign a message and write it, signed, to stdout.
    Sign(DkimSignArgs),
    /// Generate a key pair: write the private key, print the DNS record.
    Genkey(DkimGenkeyArgs),
    /// Check that DNS publishes the public half of a private key (like opendkim-testkey).
    Testkey(DkimTestkeyArgs),
}

/// `authmilter dkim verify`.
#[derive(Debug, Args)]
pub struct DkimVerifyArgs {
    /// The message file ("-" or nothing: stdin).
    pub file: Option<PathBuf>,
    /// The nameserver override.
    #[command(flatten)]
    pub dns: DnsArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The configuration file (for DNS settings and DKIM options); optional.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Signature algorithm choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgorithmArg {
    /// rsa-sha256
    #[value(name = "rsa-sha256", alias = "rsa")]
    RsaSha256,
    /// ed25519-sha256 (RFC 8463)
    #[value(name = "ed25519-sha256", alias = "ed25519")]
    Ed25519Sha256,
}

/// `authmilter dkim sign`.
#[derive(Debug, Args)]
pub struct DkimSignArgs {
    /// The signing domain (d=).
    #[arg(long)]
    pub domain: String,
    /// The selector (s=).
    #[arg(long)]
    pub selector: String,
    /// The private key (PEM).
    #[arg(long)]
    pub key: PathBuf,
    /// The algorithm; by default the key's type decides.
    #[arg(long, value_enum)]
    pub algorithm: Option<AlgorithmArg>,
    /// Canonicalization header/body.
    #[arg(long, default_value = "relaxed/relaxed")]
    pub canonicalization: String,
    /// The message file ("-" or nothing: stdin).
    pub file: Option<PathBuf>,
}

/// Key type for `genkey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    /// RSA (2048 bits unless --bits says otherwise)
    Rsa,
    /// Ed25519 (RFC 8463)
    Ed25519,
}

/// `authmilter dkim genkey`.
#[derive(Debug, Args)]
pub struct DkimGenkeyArgs {
    /// The signing domain.
    #[arg(long)]
    pub domain: String,
    /// The selector.
    #[arg(long)]
    pub selector: String,
    /// Key type.
    #[arg(long, value_enum, default_value = "rsa")]
    pub algorithm: KeyTypeArg,
    /// RSA key size in bits.
    #[arg(long, default_value_t = 2048)]
    pub bits: usize,
    /// Directory for the private key file.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

/// `authmilter dkim testkey`.
#[derive(Debug, Args)]
pub struct DkimTestkeyArgs {
    /// The signing domain.
    #[arg(long)]
    pub domain: String,
    /// The selector.
    #[arg(long)]
    pub selector: String,
    /// The private key (PEM).
    #[arg(long)]
    pub key: PathBuf,
    /// The nameserver override.
    #[command(flatten)]
    pub dns: DnsArg,
}

/// `authmilter eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The message file ("-": stdin).
    pub file: PathBuf,
    /// The SMTP client's IP address.
    #[arg(long)]
    pub ip: IpAddr,
    /// The HELO/EHLO name.
    #[arg(long, default_value = "")]
    pub helo: String,
    /// The MAIL FROM address ("" for the null sender).
    #[arg(long = "mail-from", value_name = "ADDR", default_value = "")]
    pub mail_from: String,
    /// A recipient (repeat for several).
    #[arg(long = "rcpt", value_name = "ADDR")]
    pub rcpt: Vec<String>,
    /// Treat the client as authenticated with this SMTP AUTH login.
    #[arg(long = "auth", value_name = "LOGIN")]
    pub auth: Option<String>,
    /// The `{daemon_name}` macro the MTA would send (e.g. ORIGINATING for submission).
    #[arg(long = "daemon-name", value_name = "NAME")]
    pub daemon_name: Option<String>,
    /// The listener role to evaluate as, like `[[server.listen]] role` (auto: our users'
    /// mail is signed, other mail verified, exactly as the milter decides).
    #[arg(long, value_enum, default_value = "auto")]
    pub role: RoleArg,
    /// The nameserver override.
    #[command(flatten)]
    pub dns: DnsArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The configuration file.
    #[command(flatten)]
    pub config: ConfigArg,
}

/// A listener role for `eval --role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Sign our users' mail, verify the rest (the milter's default).
    Auto,
    /// Verify everything.
    Verify,
    /// Sign everything.
    Sign,
    /// Verify, then sign (a forwarder).
    Forward,
}

impl From<RoleArg> for crate::config::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Auto => crate::config::Role::Auto,
            RoleArg::Verify => crate::config::Role::Verify,
            RoleArg::Sign => crate::config::Role::Sign,
            RoleArg::Forward => crate::config::Role::Forward,
        }
    }
}

/// `authmilter srs ...`.
#[derive(Debug, Subcommand)]
pub enum SrsCommand {
    /// Rewrite a sender address into an SRS address of our domain.
    Forward(SrsAddrArgs),
    /// Restore the original address from an SRS address.
    Reverse(SrsAddrArgs),
    /// Print a new random secret for the secrets file.
    Secret,
}

/// An address argument for `srs forward|reverse`.
#[derive(Debug, Args)]
pub struct SrsAddrArgs {
    /// The address.
    pub address: String,
    /// The configuration file (the [srs] section).
    #[command(flatten)]
    pub config: ConfigArg,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_serve_with_config() {
        let cli = Cli::try_parse_from(["authmilter", "serve", "-c", "/etc/x.toml"]).unwrap();
        match cli.command {
            Command::Serve(a) => assert_eq!(a.config.path, Some(PathBuf::from("/etc/x.toml"))),
            other => panic!("{other:?}"),
        }
    }
}
