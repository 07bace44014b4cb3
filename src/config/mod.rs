//! `milter.toml`: the configuration model, its defaults, loading and validation.
//!
//! Every key has a default, so an empty file is a valid configuration. Unknown keys and bad
//! values are errors that name the key and the line (`deny_unknown_fields` plus typed values
//! that parse during deserialization). The documented reference file is `milter.toml` at the
//! repository root; a test keeps it in sync with these defaults.

mod arc;
mod authentication;
mod dashboard;
mod inbox;
mod locate;
pub mod mail_values;
mod metrics;
mod policy;
pub mod reply;
mod reports;
mod server;
mod srs;
mod validate;
pub mod values;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use arc::ArcConfig;
pub use authentication::*;
pub use dashboard::{DashboardAddress, DashboardConfig};
pub use inbox::{InboxAction, InboxConfig};
pub use locate::with_line;
pub use mail_values::{CanonPair, HeaderLine, OptionalSocket, SrsSeparator};
pub use metrics::MetricsConfig;
pub use policy::*;
pub use reply::{RejectReply, ReplyTemplate, ReplyValues, TempfailReply};
pub use reports::*;
pub use server::*;
pub use srs::*;
pub(crate) use validate::addresses_overlap;
pub use values::{FileMode, LogLevel, Nameserver, Network, OptionalAddress, SocketSpec, Span};

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listeners, connection limits, timeouts.
    pub server: ServerConfig,
    /// Log level and format.
    pub log: LogConfig,
    /// DNS resolver settings.
    pub dns: DnsConfig,
    /// Which mail counts as our own (signed, not verified).
    pub outbound: OutboundConfig,
    /// The Authentication-Results header we write and the forged ones we remove.
    pub authres: AuthresConfig,
    /// SPF (RFC 7208).
    pub spf: SpfConfig,
    /// DKIM verification and signing (RFC 6376).
    pub dkim: DkimConfig,
    /// DMARC (RFC 9989 / RFC 7489).
    pub dmarc: DmarcConfig,
    /// ARC (RFC 8617): validation, trusted sealers, sealing.
    pub arc: ArcConfig,
    /// iprev (RFC 8601 §3).
    pub iprev: IprevConfig,
    /// Actions on results and exceptions.
    pub policy: PolicyConfig,
    /// Sender Rewriting Scheme for forwarded mail.
    pub srs: SrsConfig,
    /// DMARC reports: recording, the store, sending, reading those sent to us
    /// (docs/reports.md).
    pub reports: ReportsConfig,
    /// The web pages over the report store (docs/dashboard.md).
    pub dashboard: DashboardConfig,
    /// The Prometheus metrics endpoint.
    pub metrics: MetricsConfig,
}

/// Where the configuration was read from, with the parsed value.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file that was read.
    pub path: PathBuf,
    /// The parsed and validated configuration.
    pub config: Config,
}

/// The default search order: `./milter.toml`, then `/etc/authmilter/milter.toml`.
pub const DEFAULT_PATHS: [&str; 2] = ["milter.toml", "/etc/authmilter/milter.toml"];

impl Config {
    /// Parses TOML text. Errors name the key and line.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        config.validate(text).map_err(|e| with_line(e, text))?;
        Ok(config)
    }

    /// Loads `path`, or the first of [`DEFAULT_PATHS`] that exists when `path` is `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Loaded> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => DEFAULT_PATHS
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .with_context(|| {
                    format!(
                        "no configuration file: looked for {} (pass -c PATH)",
                        DEFAULT_PATHS.join(" and ")
                    )
                })?,
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config = Config::parse(&text).with_context(|| format!("in {}", path.display()))?;
        Ok(Loaded { path, config })
    }

    /// The effective configuration as TOML (what `authmilter config check` prints). A key
    /// whose default is worked out from others (`[srs] hash_minimum`) is shown, when unset, as
    /// a comment with the value it takes.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let mut text = toml::to_string_pretty(self)?;
        if self.srs.hash_minimum.is_none()
            && let Some(at) = text.find("\n[srs]\n")
        {
            let note = format!(
                "# hash_minimum unset: {} (the smaller of hash_length and 4)\n",
                self.srs.effective_hash_minimum()
            );
            text.insert_str(at + "\n[srs]\n".len(), &note);
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod validate_tests;

/// A host only this machine reaches: a loopback IP literal (IPv6 with or without brackets)
/// or `localhost`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}
