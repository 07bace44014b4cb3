//! Our DKIM signing keys (`[[dkim.key]]`), the signing table (`[[dkim.signing]]`), and the
//! periodic check that DNS publishes each key's public half.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use dkim::{SignedHeaders, Signer, SignerConfig, TestKeyOutcome};
use dns::Resolver;

use crate::config::DkimConfig;

/// One loaded signing key.
#[derive(Debug, Clone)]
pub struct LoadedKey {
    /// The name signing rules use.
    pub id: String,
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The signer (key plus signature settings).
    pub signer: Arc<Signer>,
}

/// All signing keys and the rules that pick them.
#[derive(Debug, Clone, Default)]
pub struct SigningKeys {
    keys: Vec<LoadedKey>,
    rules: Vec<(String, Vec<String>)>,
}

impl SigningKeys {
    /// Reads every configured key file. A key file readable by group or others is a warning;
    /// an unreadable or unusable key is an error naming the file.
    pub fn load(cfg: &DkimConfig) -> anyhow::Result<SigningKeys> {
        let (header_canon, body_canon) = (cfg.canonicalization.header, cfg.canonicalization.body);
        let headers = signed_headers(cfg);
        let expiry = (!cfg.expiration.is_zero()).then(|| cfg.expiration.get().as_secs());
        let mut keys = Vec::new();
        for k in &cfg.keys {
            let pem = read_key_file(&k.path)?;
            let mut sc = SignerConfig::new(k.domain.trim().to_ascii_lowercase(), k.selector.trim());
            sc.header_canon = header_canon;
            sc.body_canon = body_canon;
            sc.headers = headers.clone();
            sc.expiry = expiry;
            let signer = Signer::from_pem(&pem, sc)
                .map_err(|e| anyhow::anyhow!("{}: unusable signing key: {e}", k.path.display()))?;
            keys.push(LoadedKey {
                id: k.id(),
                domain: k.domain.trim().to_ascii_lowercase(),
                selector: k.selector.trim().to_string(),
                signer: Arc::new(signer),
            });
        }
        let rules = cfg
            .signing
            .iter()
            .map(|r| (r.from.trim().to_ascii_lowercase(), r.keys.clone()))
            .collect();
        Ok(SigningKeys { keys, rules })
    }

    /// Every loaded key.
    pub fn keys(&self) -> &[LoadedKey] {
        &self.keys
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that sign mail whose From domain is `domain`: the first matching
    /// `[[dkim.signing]]` rule, or without rules every key whose domain is exactly `domain`.
    pub fn for_domain(&self, domain: &str) -> Vec<&LoadedKey> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if self.rules.is_empty() {
            return self.keys.iter().filter(|k| k.domain == domain).collect();
        }
        for (pattern, names) in &self.rules {
            if pattern_matches(pattern, &domain) {
                return names
                    .iter()
                    .filter_map(|n| self.keys.iter().find(|k| &k.id == n))
                    .collect();
            }
        }
        Vec::new()
    }
}

/// `example.com` matches exactly; `*.example.com` matches subdomains only; `*` matches all.
fn pattern_matches(pattern: &str, domain: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(parent) => domain
            .strip_suffix(parent)
            .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
        None => pattern == domain,
    }
}

fn signed_headers(cfg: &DkimConfig) -> SignedHeaders {
    if cfg.sign_headers.is_empty() && cfg.oversign {
        return SignedHeaders::Recommended;
    }
    let sign: Vec<String> = if cfg.sign_headers.is_empty() {
        dkim::sign::DEFAULT_SIGNED_HEADERS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        cfg.sign_headers.clone()
    };
    let oversign = if cfg.oversign {
        sign.iter()
            .filter(|h| {
                dkim::sign::DEFAULT_OVERSIGNED_HEADERS
                    .iter()
                    .any(|o| o.eq_ignore_ascii_case(h))
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    SignedHeaders::Custom { sign, oversign }
}

fn read_key_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read DKIM key {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            key = %path.display(),
            mode = format!("{:04o}", meta.permissions().mode() & 0o7777),
            "DKIM private key is readable by group or others; chmod 600 it"
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read DKIM key {}", path.display()))
}

/// Checks that DNS publishes the public half of every key; logs an error for each that does
/// not. Returns the number of keys with problems.
pub async fn check_published(keys: &SigningKeys, resolver: &dyn Resolver) -> usize {
    let mut bad = 0;
    for k in keys.keys() {
        let outcome = dkim::test_key(resolver, &k.selector, &k.domain, k.signer.key()).await;
        let name = dkim::key_name(&k.selector, &k.domain);
        match outcome {
            TestKeyOutcome::Match { testing } => {
                tracing::info!(key = %name, testing, "DKIM key is published in DNS")
            }
            TestKeyOutcome::DnsError(e) => {
                tracing::warn!(key = %name, "could not check the DKIM key in DNS: {e}");
            }
            other => {
                bad += 1;
                tracing::error!(
                    key = %name,
                    problem = %describe(&other),
                    "DKIM key in DNS does not match the private key: signatures will fail"
                );
            }
        }
    }
    bad
}

/// A short description of a key-check outcome.
pub fn describe(outcome: &TestKeyOutcome) -> String {
    match outcome {
        TestKeyOutcome::Match { testing: false } => "key OK".into(),
        TestKeyOutcome::Match { testing: true } => "key OK (record is in testing mode, t=y)".into(),
        TestKeyOutcome::Mismatch => {
            "the published public key does not match the private key".into()
        }
        TestKeyOutcome::NoRecord => "no key record published".into(),
        TestKeyOutcome::Revoked => "the published key is revoked (empty p=)".into(),
        TestKeyOutcome::Invalid(why) => format!("the published record is invalid: {why}"),
        TestKeyOutcome::DnsError(e) => format!("DNS error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(pattern_matches("example.com", "example.com"));
        assert!(!pattern_matches("example.com", "a.example.com"));
        assert!(pattern_matches("*.example.com", "a.example.com"));
        assert!(pattern_matches("*.example.com", "a.b.example.com"));
        assert!(!pattern_matches("*.example.com", "example.com"));
        assert!(!pattern_matches("*.example.com", "badexample.com"));
        assert!(pattern_matches("*", "anything.test"));
    }
}
