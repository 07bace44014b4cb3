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

/// The largest message the tools read (256 MiB): they hold it whole, and no mail system
/// passes a larger one (Postfix's `message_size_limit` is 10 MB by default).
pub const MAX_INPUT: u64 = 256 * 1024 * 1024;

/// Reads a message from a file, or from stdin for `-` or no file; refuses one over
/// [`MAX_INPUT`] rather than holding it in memory without bound.
pub fn read_input(file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let too_big = |what: &str| {
        anyhow::anyhow!(
            "{what} is larger than {} MiB, more than any mail system passes as one message",
            MAX_INPUT / (1024 * 1024)
        )
    };
    let (what, reader): (String, Box<dyn Read>) = match file {
        Some(p) if p != Path::new("-") => {
            let f =
                std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
            if f.metadata().is_ok_and(|m| m.len() > MAX_INPUT) {
                return Err(too_big(&p.display().to_string()));
            }
            (p.display().to_string(), Box::new(f))
        }
        _ => ("stdin".to_string(), Box::new(std::io::stdin())),
    };
    let mut buf = Vec::new();
    reader
        .take(MAX_INPUT + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {what}"))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(too_big(&what));
    }
    Ok(buf)
}

/// Text from a message, DNS or the command line as a terminal may show it: control characters
/// (ESC, CR…) escaped as in the log (`logging::Escaped`), so a hostile message evaluated by a
/// postmaster cannot drive their terminal.
pub fn shown(s: &str) -> crate::logging::Escaped<'_> {
    crate::logging::Escaped::str(s)
}

/// Longest domain name, in octets of its text form without the final dot (RFC 1035 §2.3.4).
pub const MAX_NAME: usize = 253;

/// A domain name argument as DNS carries it: lowercase A-labels (an internationalized name is
/// converted, RFC 5891 §4), without the final dot; an address, an empty name or a label DNS
/// cannot carry is refused (RFC 1035 §2.3.1).
pub fn domain_arg(text: &str) -> anyhow::Result<String> {
    let t = text.trim().trim_end_matches('.');
    if t.is_empty() {
        anyhow::bail!("the domain must not be empty");
    }
    if t.trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        anyhow::bail!("{text:?} is an IP address, not a domain name");
    }
    if let Some((_, domain)) = t.rsplit_once('@') {
        anyhow::bail!("{text:?} is an address, not a domain name: give its domain ({domain:?})");
    }
    let ascii =
        idna::domain_to_ascii(t).map_err(|_| anyhow::anyhow!("{text:?} is not a domain name"))?;
    check_labels("the domain", &ascii)
        .map_err(|e| anyhow::anyhow!("{text:?} is not a domain name: {e}"))?;
    Ok(ascii)
}

/// Every label 1–63 letters, digits and hyphens, not starting or ending with a hyphen
/// (RFC 1035 §2.3.1, RFC 5321 §4.1.2 `sub-domain`, which RFC 6376 uses for selectors).
pub fn check_labels(what: &str, name: &str) -> anyhow::Result<()> {
    if name.len() > MAX_NAME {
        anyhow::bail!("{what} {name:?} is longer than {MAX_NAME} characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            anyhow::bail!("{what} {name:?} has an empty label (two dots, or a leading dot)");
        }
        if label.len() > 63 {
            anyhow::bail!("{what} {name:?}: the label {label:?} is longer than 63 characters");
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            anyhow::bail!(
                "{what} {name:?}: {c:?} is not allowed in a DNS label (letters, digits and '-' only)"
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            anyhow::bail!("{what} {name:?}: the label {label:?} starts or ends with '-'");
        }
    }
    Ok(())
}

/// Writes `raw` with the header fields `fields` on top, to `out`. A leading mbox `From ` line
/// (no header field: the message parser skips it) stays the first line, with the fields below
/// it, so they are in the header block they sign (RFC 6376 §5.6, RFC 8617 §5.1).
pub fn write_with_fields_on_top(
    out: &mut impl std::io::Write,
    fields: &[u8],
    raw: &[u8],
) -> std::io::Result<()> {
    let from_line = raw
        .starts_with(b"From ")
        .then(|| raw.iter().position(|b| *b == b'\n'))
        .flatten()
        .map_or(0, |lf| lf + 1);
    let (first, rest) = raw.split_at(from_line);
    out.write_all(first)?;
    out.write_all(fields)?;
    out.write_all(rest)?;
    out.flush()
}
