//! `[arc]`: the Authenticated Received Chain (RFC 8617): validation, the trusted-sealer DMARC
//! override, and sealing on forwarding listeners (docs/arc.md).

use serde::{Deserialize, Serialize};

/// `[arc]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArcConfig {
    /// Validate ARC chains of inbound mail and write `arc=` in our Authentication-Results
    /// (RFC 8617 §5.2, §6).
    pub verify: bool,
    /// ARC-Seal `d=` domains whose recorded aligned pass may keep a DMARC failure from being
    /// rejected or quarantined (RFC 8617 §7.2.1). Empty: no override.
    pub trusted_sealers: Vec<String>,
    /// Seal what `role = "forward"` listeners pass on, with the key `[[dkim.signing]]` picks
    /// for the message (RFC 8617 §5.1). Off by default.
    pub seal: bool,
    /// The most ARC sets validated in one message, 1–50 (RFC 8617 §9.2: each set costs two
    /// key lookups and two signature checks); a longer chain gets `arc=fail` with no DNS
    /// query. Default 10.
    pub max_sets: u32,
}

impl Default for ArcConfig {
    fn default() -> Self {
        ArcConfig {
            verify: true,
            trusted_sealers: Vec::new(),
            seal: false,
            max_sets: 10,
        }
    }
}

impl ArcConfig {
    /// Whether `domain` is a trusted sealer (exact match, case and one trailing dot ignored).
    pub fn trusts(&self, domain: &str) -> bool {
        let d = domain.trim_end_matches('.');
        self.trusted_sealers
            .iter()
            .any(|t| t.trim().trim_end_matches('.').eq_ignore_ascii_case(d))
    }
}
