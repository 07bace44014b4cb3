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
            separator: SrsSeparator::Equals,
            hash_encoding: SrsHashEncoding::Base64url,
            outbound_addresses: Vec::new(),
            socketmap: OptionalSocket(None),
            allow_remote: false,
        }
    }
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
