//! `[srs]`: the Sender Rewriting Scheme for forwarded mail.

use serde::{Deserialize, Serialize};

use super::mail_values::{OptionalSocket, SrsSeparator};

/// `[srs]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SrsConfig {
    /// Rewrite envelope senders of forwarded mail in the milter.
    pub enabled: bool,
    /// Our forwarding domain: the domain of SRS addresses we make.
    pub domain: String,
    /// File with secrets, one per line; the first signs, all verify.
    pub secrets: std::path::PathBuf,
    /// Domains that are ours: their senders are not rewritten, their recipients are local.
    pub local_domains: Vec<String>,
    /// Sender domains never rewritten.
    pub exclude_domains: Vec<String>,
    /// `always`, or `when-spf-fails` (only when the sender's SPF would not pass from us).
    pub rewrite: SrsRewrite,
    /// Undo SRS for bounces to our SRS addresses (replace the recipient).
    pub reverse: bool,
    /// Maximum age of an SRS address, in days.
    pub max_age_days: u32,
    /// Length of the hash in SRS addresses.
    pub hash_length: usize,
    /// Fewest hash characters a reversed address must carry (postsrsd `hash-minimum`); unset:
    /// the smaller of `hash_length` and 4.
    pub hash_minimum: Option<usize>,
    /// Separator after `SRS0`/`SRS1`: `=`, `+` or `-`.
    pub separator: SrsSeparator,
    /// Hash alphabet of new addresses: `base64url` (postsrsd 2.2.6+) or `base64` (postsrsd 1.x).
    pub hash_encoding: SrsHashEncoding,
    /// Our outbound IP addresses, for `rewrite = "when-spf-fails"`.
    pub outbound_addresses: Vec<std::net::IpAddr>,
    /// Postfix socketmap listener (`inet:127.0.0.1:10003`); empty disables it.
    pub socketmap: OptionalSocket,
    /// Allow a socketmap on an address other than loopback: its `forward` map signs any
    /// address for anyone who connects, so that makes us an open relay unless firewalled.
    pub allow_remote: bool,
}

impl Default for SrsConfig {
    fn default() -> Self {
        SrsConfig {
            enabled: false,
            domain: String::new(),
            secrets: "/etc/authmilter/srs.secrets".into(),
            local_domains: Vec::new(),
            exclude_domains: Vec::new(),
            rewrite: SrsRewrite::Always,
            reverse: true,
            max_age_days: 21,
            hash_length: 4,
            hash_minimum: None,
            separator: SrsSeparator::Equals,
            hash_encoding: SrsHashEncoding::Base64url,
            outbound_addresses: Vec::new(),
            socketmap: OptionalSocket(None),
            allow_remote: false,
        }
    }
}

impl SrsConfig {
    /// The hash characters a reversed address needs at least (`hash_minimum`, postsrsd
    /// `hash-minimum`).
    pub fn effective_hash_minimum(&self) -> usize {
        self.hash_minimum
            .unwrap_or(self.hash_length.min(srs::DEFAULT_HASH_LENGTH))
    }

    /// Checks `local_domains` and `exclude_domains`: each entry a domain, or `.domain` for
    /// every subdomain of it (postsrsd `domains`); anything else would never match.
    pub(super) fn validate(&self, line_of: &dyn Fn(&str) -> String) -> anyhow::Result<()> {
        if let Some(min) = self.hash_minimum
            && !(1..=self.hash_length).contains(&min)
        {
            anyhow::bail!(
                "srs.hash_minimum{}: {min} must be between 1 and hash_length ({})",
                line_of("hash_minimum"),
                self.hash_length
            );
        }
        for (name, list) in [
            ("local_domains", &self.local_domains),
            ("exclude_domains", &self.exclude_domains),
        ] {
            if let Some(entry) = list.iter().find(|e| !is_domain_entry(e)) {
                let hint = entry
                    .trim()
                    .strip_prefix("*.")
                    .map(|rest| format!("; write \".{rest}\" for every subdomain of {rest}"))
                    .unwrap_or_default();
                anyhow::bail!(
                    "srs.{name}{}: {entry:?} is not a domain (a domain, or .domain for every subdomain of it){hint}",
                    line_of(name)
                );
            }
        }
        Ok(())
    }
}

/// A domain-list entry: `example.com` or `.example.com` (a trailing dot and surrounding
/// spaces allowed, as [`srs::DomainSet`] ignores them); labels of letters (U-labels too),
/// digits, `-` and `_` (RFC 1035 §2.3.1, RFC 5890 §2.3.2.1).
fn is_domain_entry(entry: &str) -> bool {
    let d = entry.trim();
    let d = d.strip_prefix('.').unwrap_or(d);
    let d = d.strip_suffix('.').unwrap_or(d);
    !d.is_empty()
        && d.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

/// When the SRS milter rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SrsRewrite {
    /// Every forwarded message.
    Always,
    /// Only when the original sender's SPF would not authorize our outbound address.
    WhenSpfFails,
}

/// Hash alphabet of new SRS addresses (reverse accepts both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SrsHashEncoding {
    /// `-` and `_` (postsrsd 2.2.6 and later).
    Base64url,
    /// `+` and `/` (postsrsd 1.x and 2.0–2.2.5): set this while an old postsrsd still has
    /// to reverse our addresses.
    Base64,
}
