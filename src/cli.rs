//! Command-line interface (clap derive).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod report;

pub use report::{
    ReportCommand, ReportImportArgs, ReportSendArgs, ReportShowArgs, ReportStatusArgs,
};

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
    /// ARC (RFC 8617): validate a message's chain, or seal a message.
    #[command(subcommand)]
    Arc(ArcCommand),
    /// Run the whole inbound pipeline offline on a message file and show what the milter would do.
    Eval(EvalArgs),
    /// Sender Rewriting Scheme: rewrite and restore addresses, make secrets.
    #[command(subcommand)]
    Srs(SrsCommand),
    /// Check a domain's published MX, SPF, DMARC, DKIM, MTA-STS and TLS-RPT records.
    CheckDomain(CheckDomainArgs),
    /// Print the milter.toml equivalent to an opendkim.conf or opendmarc.conf.
    Migrate(MigrateArgs),
    /// Write man pages and shell completions into DIR (for packaging).
    #[command(hide = true)]
    GenerateAssets {
        /// Output directory (man/ and completions/ are created in it).
        dir: PathBuf,
    },
    /// Load-test any milter as Postfix drives it: rate, latency, errors and the answers.
    Bench(BenchArgs),
    /// DMARC reports: send the aggregate reports due, import and show the reports others
    /// sent, show what the store holds.
    #[command(subcommand)]
    Report(ReportCommand),
}

/// Which program's configuration `migrate` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateFrom {
    /// opendkim.conf (with its KeyTable, SigningTable, InternalHosts files)
    Opendkim,
    /// opendmarc.conf
    Opendmarc,
}

/// `authmilter migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The program whose configuration FILE is.
    #[arg(value_enum)]
    pub from: MigrateFrom,
    /// The configuration file (e.g. /etc/opendkim.conf).
    pub file: PathBuf,
    /// Read the files the configuration names (KeyTable, SigningTable, host lists) under this
    /// directory, e.g. a copy of another machine's configuration.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// `authmilter bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The milter to drive, in Postfix notation: inet:HOST:PORT or unix:PATH.
    #[arg(long, value_name = "inet:HOST:PORT|unix:PATH")]
    pub target: String,
    /// The messages: a directory (one message per file) or an mbox file; used in turn.
    #[arg(long, value_name = "DIR|FILE.mbox")]
    pub corpus: PathBuf,
    /// Connections driven at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Stop after this many messages (or at --duration, whichever comes first).
    #[arg(long, default_value_t = 10_000)]
    pub count: u64,
    /// Stop starting messages after this many seconds (or at --count).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub duration: f64,
    /// Messages per milter connection before QUIT and a new connection.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub per_connection: u64,
    /// The SMTP client address the MTA reports at CONNECT.
    #[arg(long, default_value = "192.0.2.10")]
    pub client_ip: IpAddr,
    /// The SMTP client's HELO/EHLO name (also its host name at CONNECT).
    #[arg(long, default_value = "mail.example.org")]
    pub helo: String,
    /// MAIL FROM for every message [default: each message's Return-Path, else its From
    /// address].
    #[arg(long, value_name = "ADDR")]
    pub mail_from: Option<String>,
    /// RCPT TO (repeat for several recipients).
    #[arg(long = "rcpt", value_name = "ADDR", default_values_t = ["postmaster@example.net".to_string()])]
    pub rcpt: Vec<String>,
    /// Send the messages as authenticated by this SMTP AUTH user ({auth_authen}), as a
    /// submission service does: signing milters sign them.
    #[arg(long, value_name = "USER")]
    pub auth: Option<String>,
    /// The milter's process id: report its CPU time per message and peak RSS from /proc.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Deadline for each reply, in seconds (a stalled milter counts as a timeout error).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// First send every corpus message alone (concurrency 1), then check that each answer
    /// under load is the same (DKIM-Signature values aside); differences are counted as
    /// `mismatched` and fail the run.
    #[arg(long)]
    pub verify_answers: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
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
    /// Give up on DNS answers still missing after this many seconds, 1 to 3600 (they are
    /// reported as "could not check").
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
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
    /// Send DNS queries to this nameserver instead of the configured ones (`IP:PORT`,
    /// `[V6]:PORT`, `HOST:PORT`, or an address or host alone for port 53).
    #[arg(long = "dns", value_name = "HOST:PORT", conflicts_with = "zone", value_parser = parse_nameserver)]
    pub dns: Option<SocketAddr>,
    /// Answer DNS from this zone file instead of the network (offline testing; the format is
    /// in docs/cli.md).
    #[arg(long = "zone", value_name = "FILE")]
    pub zone: Option<PathBuf>,
}

/// Parses `--dns`: an address with or without a port, or a host name (resolved now) with or
/// without a port. The port defaults to 53.
pub fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let t = text.trim();
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = t
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 53));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port {p:?} in {text:?}: expected HOST:PORT"))?,
        ),
        Some(_) => {
            return Err(format!(
                "bad nameserver {text:?}: write IPv6 as [ADDR]:PORT"
            ));
        }
        None => (t, 53),
    };
    if host.is_empty() {
        return Err(format!("bad nameserver {text:?}: expected HOST:PORT"));
    }
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve nameserver host {host:?}: {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("nameserver host {host:?} has no address"))
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
    /// Make a domain's next key (dated selector) for a safe switch: prints the record and the
    /// [[dkim.key]] block with state = "next".
    Rotate(DkimRotateArgs),
}

/// `authmilter dkim rotate`.
#[derive(Debug, Args)]
pub struct DkimRotateArgs {
    /// The signing domain.
    #[arg(long)]
    pub domain: String,
    /// Key type of the new key.
    #[arg(long, value_enum, default_value = "rsa")]
    pub algorithm: KeyTypeArg,
    /// RSA key size in bits.
    #[arg(long, default_value_t = 2048)]
    pub bits: usize,
    /// Directory for the private key [default: that of the domain's configured keys, else
    /// /etc/authmilter/keys].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The selector [default: the current year and month, YYYYMM, plus b, c, ... if taken by
    /// a configured key, a key file or a record in DNS].
    #[arg(long)]
    pub selector: Option<String>,
    /// The nameserver override (DNS is asked whether the selector is free).
    #[command(flatten)]
    pub dns: DnsArg,
    /// The configuration file (the domain's current keys, key_check_interval, publish_wait).
    #[command(flatten)]
    pub config: ConfigArg,
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
    /// RSA key size in bits: 2048, 3072 or 4096.
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

/// `authmilter arc ...`.
#[derive(Debug, Subcommand)]
pub enum ArcCommand {
    /// Validate the Authenticated Received Chain of a message (RFC 8617 §5.2).
    Verify(ArcVerifyArgs),
    /// Validate, add an ARC set (RFC 8617 §5.1) and write the message to stdout.
    Seal(ArcSealArgs),
}

/// `authmilter arc verify`.
#[derive(Debug, Args)]
pub struct ArcVerifyArgs {
    /// The message file ("-" or nothing: stdin).
    pub file: Option<PathBuf>,
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

/// `authmilter arc seal`.
#[derive(Debug, Args)]
pub struct ArcSealArgs {
    /// The message file ("-" or nothing: stdin).
    pub file: Option<PathBuf>,
    /// The private key (PEM; RSA of at least 2048 bits, or Ed25519).
    #[arg(long)]
    pub key: PathBuf,
    /// The sealing domain (d=).
    #[arg(long)]
    pub domain: String,
    /// The selector (s=).
    #[arg(long)]
    pub selector: String,
    /// This hop's results for the ARC-Authentication-Results, as an Authentication-Results
    /// value (`mx.example.org; spf=pass smtp.mailfrom=a@example.com; arc=pass`). Default:
    /// the authserv-id and the arc= result of the validation.
    #[arg(long, value_name = "TEXT")]
    pub authres: Option<String>,
    /// The authserv-id for the default --authres [default: [authres] authserv_id, else the
    /// host name].
    #[arg(long = "authserv-id", value_name = "ID")]
    pub authserv_id: Option<String>,
    /// The nameserver override (for validating the incoming chain).
    #[command(flatten)]
    pub dns: DnsArg,
    /// The configuration file (for DNS settings and the authserv-id); optional.
    #[command(flatten)]
    pub config: ConfigArg,
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
    fn nameserver_forms() {
        let v4: SocketAddr = "127.0.0.1:5353".parse().unwrap();
        assert_eq!(parse_nameserver("127.0.0.1:5353"), Ok(v4));
        assert_eq!(
            parse_nameserver("localhost:5353").map(|a| a.port()),
            Ok(5353)
        );
        assert!(
            parse_nameserver("localhost:5353")
                .unwrap()
                .ip()
                .is_loopback()
        );
        assert_eq!(parse_nameserver("192.0.2.1").unwrap().port(), 53);
        assert_eq!(parse_nameserver("[::1]:54").unwrap().port(), 54);
        assert_eq!(parse_nameserver("::1").unwrap().port(), 53);
        assert!(parse_nameserver("localhost:port").is_err());
        assert!(parse_nameserver(":53").is_err());
        assert!(parse_nameserver("no-such-host.invalid:53").is_err());
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
