//! Helpers shared by the one-shot commands: optional configuration, resolver, input files.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use dns::Resolver;

use crate::cli::{ConfigArg, DnsArg};
use crate::config::{Config, DEFAULT_PATHS};

/// The configuration for a tool command: the `-c` file (which must exist), else the first
/// default file that exists, else the built-in defaults.
pub fn tool_config(arg: &ConfigArg) -> anyhow::Result<Config> {
    if arg.path.is_some() || DEFAULT_PATHS.iter().any(|p| Path::new(p).exists()) {
        Ok(Config::load(arg.path.as_deref())?.config)
    } else {
        Ok(Config::default())
    }
}

/// The resolver for a tool command: `--zone` answers from a file, `--dns` overrides
/// `[dns] nameservers`.
pub fn tool_resolver(config: &Config, dns: &DnsArg) -> anyhow::Result<Arc<dyn Resolver>> {
    counted_resolver(config, dns, Arc::default())
}

/// Like [`tool_resolver`], counting the network resolver's work in `stats` (`serve`'s
/// metrics; a zone file is not counted).
pub fn counted_resolver(
    config: &Config,
    dns: &DnsArg,
    stats: Arc<dns::stats::QueryStats>,
) -> anyhow::Result<Arc<dyn Resolver>> {
    if let Some(zone) = &dns.zone {
        let text = std::fs::read_to_string(zone)
            .with_context(|| format!("cannot read {}", zone.display()))?;
        let r = dns::memory::MemoryResolver::from_zone(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", zone.display()))?;
        return Ok(Arc::new(r));
    }
    let mut cfg = config.dns.clone();
    if let Some(ns) = dns.dns {
        cfg.nameservers = vec![crate::config::Nameserver(ns)];
    }
    crate::resolver::build_counted(&cfg, stats)
}

/// A single-threaded runtime for a one-shot command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Reads a message from a file, or from stdin for `-` or no file.
pub fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(p) if p != Path::new("-") => {
            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read stdin")?;
            Ok(buf)
        }
    }
}

/// Text from a message, DNS or the command line as a terminal may show it: control characters
/// (ESC, CR…) escaped as in the log (`logging::Escaped`), so a hostile message evaluated by a
/// postmaster cannot drive their terminal.
pub fn shown(s: &str) -> crate::logging::Escaped<'_> {
    crate::logging::Escaped::str(s)
}
