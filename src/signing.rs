//! Our DKIM signing keys (`[[dkim.key]]`), the signing table (`[[dkim.signing]]`), the check
//! that DNS publishes each key's public half, and safe key rotation (`rotation`).

mod rotation;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use dkim::{SignedHeaders, Signer, SignerConfig, TestKeyOutcome};

use crate::config::{DkimConfig, KeyState};

pub use rotation::{Board, DnsStatus, KeyReport, check_published, unix_now};

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
    /// The same key as an ARC sealer (RFC 8617 §5.1): one key table for DKIM and ARC.
    pub sealer: Arc<arc::Sealer>,
    /// `state` from the configuration.
    pub state: KeyState,
    /// `replaces` from the configuration: the ids of the keys a promotion of this one retires
    /// (empty: every active key of its domain and key type).
    pub replaces: Vec<String>,
    /// Identifies this key across reloads and restarts: name, DNS name and public key.
    pub fingerprint: String,
}

/// All signing keys, the rules that pick them, and what DNS says about each.
#[derive(Debug, Clone, Default)]
pub struct SigningKeys {
    keys: Vec<LoadedKey>,
    rules: Vec<(String, Vec<String>)>,
    board: Arc<Board>,
    publish_wait: std::time::Duration,
}

impl SigningKeys {
    /// Reads every configured key file. A key file readable or writable by group or others is
    /// an error (a warning with `allow_loose_key_permissions`); so is an unreadable or unusable
    /// key, naming the file. Remembered promotions are read from `dkim.state_file`.
    pub fn load(cfg: &DkimConfig) -> anyhow::Result<SigningKeys> {
        let (header_canon, body_canon) = (cfg.canonicalization.header, cfg.canonicalization.body);
        let headers = signed_headers(cfg);
        let expiry = (!cfg.expiration.is_zero()).then(|| cfg.expiration.get().as_secs());
        let mut keys = Vec::new();
        for (i, k) in cfg.keys.iter().enumerate() {
            // the error names the key of the file (config check, serve and reload)
            let pem = read_key_file(&k.path, cfg.allow_loose_key_permissions)
                .with_context(|| format!("dkim.key[{i}].path"))?;
            let domain = key_domain(&k.domain);
            let mut sc = SignerConfig::new(domain.clone(), k.selector.trim());
            sc.header_canon = header_canon;
            sc.body_canon = body_canon;
            sc.headers = headers.clone();
            sc.expiry = expiry;
            let signer = Signer::from_pem(&pem, sc).map_err(|e| {
                anyhow::anyhow!(
                    "dkim.key[{i}]: {}: unusable signing key: {e}",
                    k.path.display()
                )
            })?;
            let selector = k.selector.trim().to_string();
            let sealer = arc::Sealer::from_pem(&pem, arc::SealerConfig::new(&*domain, &*selector))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "dkim.key[{i}]: {}: unusable sealing key: {e}",
                        k.path.display()
                    )
                })?;
            let fingerprint = rotation::fingerprint(&k.id(), &selector, &domain, signer.key());
            keys.push(LoadedKey {
                id: k.id(),
                domain,
                selector,
                signer: Arc::new(signer),
                sealer: Arc::new(sealer),
                state: k.state,
                replaces: k.replaces.clone(),
                fingerprint,
            });
        }
        let rules = cfg
            .signing
            .iter()
            .map(|r| (rule_pattern(&r.from), r.keys.clone()))
            .collect();
        // `replaces` names keys of the same domain and key type (what a promotion retires)
        for k in &keys {
            for name in &k.replaces {
                let replaced = keys.iter().find(|o| &o.id == name && o.id != k.id);
                let same = replaced.is_some_and(|o| {
                    o.domain == k.domain && o.signer.key().key_type() == k.signer.key().key_type()
                });
                if !same {
                    anyhow::bail!(
                        "dkim.key {:?}: replaces {name:?}, which is not another key of {} of the same key type",
                        k.id,
                        k.domain
                    );
                }
            }
        }
        if cfg.key_check_interval.is_zero() && keys.iter().any(|k| k.state == KeyState::Next) {
            tracing::warn!(
                "dkim.key_check_interval is 0s: keys with state = \"next\" are never checked and never sign"
            );
        }
        let state_file = (!cfg.state_file.as_os_str().is_empty()).then(|| cfg.state_file.clone());
        let board = Arc::new(Board::new(state_file));
        board.restore(&keys);
        Ok(SigningKeys {
            keys,
            rules,
            board,
            publish_wait: cfg.publish_wait.get(),
        })
    }

    /// After a reload: keep what the running configuration learned about keys that are still
    /// configured (DNS status, how long a `next` key has been published, promotions), so a
    /// reload neither restarts a rotation's wait nor forgets a problem. New keys start
    /// unchecked; the key checker is woken to check them at once.
    pub fn continue_from(&mut self, old: &SigningKeys) {
        let fingerprints: Vec<&str> = self.keys.iter().map(|k| k.fingerprint.as_str()).collect();
        self.board.adopt(&old.board, &fingerprints);
    }

    /// Reads `dkim.state_file` but never writes it (`authmilter eval`: serve owns the file).
    pub fn never_save_state(&self) {
        self.board.never_save();
    }

    /// What is known about each key (for logs, `config check` and metrics).
    pub fn report(&self) -> Vec<KeyReport> {
        self.board.report(self)
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
    /// `[[dkim.signing]]` rule (the keys it names, as named), or without rules every key whose
    /// domain is exactly
    /// `domain`; then only those that may sign now. A key DNS shows a problem for, a `next` key
    /// not yet promoted and a `retired` key never sign; a key retired by rotation gives way to
    /// the newest of its successors that may sign.
    pub fn for_domain(&self, domain: &str) -> Vec<&LoadedKey> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let candidates: Vec<&LoadedKey> = if self.rules.is_empty() {
            self.keys.iter().filter(|k| k.domain == domain).collect()
        } else {
            self.rules
                .iter()
                .find(|(pattern, _)| pattern_matches(pattern, &domain))
                .map(|(_, names)| self.rule_keys(names))
                .unwrap_or_default()
        };
        self.board.select(self, candidates)
    }

    /// The key that ARC-seals mail whose From domain is `domain` (RFC 8617 §5.1, one key table
    /// for DKIM and ARC): the first RSA key of those that sign it, an Ed25519 key only when no
    /// RSA key does (docs/arc.md: dkimpy and other validators refuse ed25519-sha256 seals).
    pub fn sealer_for(&self, domain: &str) -> Option<&LoadedKey> {
        let keys = self.for_domain(domain);
        keys.iter()
            .find(|k| k.signer.key().key_type() == crypto::KeyType::Rsa)
            .or(keys.first())
            .copied()
    }

    /// What seals with Ed25519 only when `[arc] seal` is on (RFC 8617 §5.1; docs/arc.md): each
    /// signing rule, or without rules each key domain, whose keys that may sign hold no RSA key.
    pub fn ed25519_only_sealing(&self) -> Vec<String> {
        let may_sign = |k: &&LoadedKey| k.state != KeyState::Retired;
        let is_rsa = |k: &&LoadedKey| k.signer.key().key_type() == crypto::KeyType::Rsa;
        let mut found = Vec::new();
        if self.rules.is_empty() {
            let mut domains: Vec<&str> = self.keys.iter().map(|k| k.domain.as_str()).collect();
            domains.sort_unstable();
            domains.dedup();
            for domain in domains {
                let keys: Vec<&LoadedKey> = self
                    .keys
                    .iter()
                    .filter(|k| k.domain == domain)
                    .filter(may_sign)
                    .collect();
                if !keys.is_empty() && !keys.iter().any(is_rsa) {
                    found.push(format!("the keys of {domain}"));
                }
            }
        } else {
            for (i, (pattern, names)) in self.rules.iter().enumerate() {
                let keys: Vec<&LoadedKey> = self
                    .rule_keys(names)
                    .into_iter()
                    .filter(|k| may_sign(k))
                    .collect();
                if !keys.is_empty() && !keys.iter().any(is_rsa) {
                    found.push(format!("dkim.signing[{i}] (from = {pattern:?})"));
                }
            }
        }
        found
    }

    /// The keys a rule names, as named: a rule signs with exactly the keys it lists (a retired
    /// one only through the key a rotation promoted in its place, which the rotation board
    /// follows), never with other keys of the domain (two active keys may serve two purposes).
    fn rule_keys(&self, names: &[String]) -> Vec<&LoadedKey> {
        names
            .iter()
            .filter_map(|n| self.keys.iter().find(|k| &k.id == n))
            .collect()
    }

    /// What `config check`, a start and a reload warn of in rotations: a `next` key without
    /// `replaces` retires every active key of its domain and key type, and an earlier promoted
    /// `next` one; with two of them (two purposes, a bulk and a corporate stream) or two next
    /// keys, say which it replaces.
    pub fn rotation_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for k in self
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Next && k.replaces.is_empty())
        {
            let kind = k.signer.key().key_type();
            let others: Vec<&str> = self
                .keys
                .iter()
                .filter(|o| {
                    o.id != k.id
                        && o.domain == k.domain
                        && o.signer.key().key_type() == kind
                        && o.state != KeyState::Retired
                })
                .map(|o| o.id.as_str())
                .collect();
            if others.len() > 1 {
                warnings.push(format!(
                    "dkim.key {:?} (next) has no replaces: once promoted it retires {} (every active or next key of {} of its type); name the one it replaces with replaces = [...]",
                    k.id,
                    others.join(", "),
                    k.domain
                ));
            }
        }
        warnings
    }

    /// What `config check`, a start and a reload warn of in `[[dkim.signing]]` rules: a
    /// retired key named in a rule (it signs only through the key a rotation promoted in its
    /// place, while `dkim.state_file` remembers it: name that key in the rule), and above all a
    /// rule that names an RSA key but has no other RSA key (RFC 8463 §1: many verifiers, Gmail
    /// and Microsoft among them, do not verify Ed25519 signatures).
    pub fn rule_warnings(&self) -> Vec<String> {
        let is_rsa = |k: &LoadedKey| k.signer.key().key_type() == crypto::KeyType::Rsa;
        let mut warnings = Vec::new();
        // without rules a domain's own keys sign its mail: the same holds for each domain
        if self.rules.is_empty() {
            let mut domains: Vec<&str> = self.keys.iter().map(|k| k.domain.as_str()).collect();
            domains.sort_unstable();
            domains.dedup();
            for domain in domains {
                let rsa: Vec<&LoadedKey> = self
                    .keys
                    .iter()
                    .filter(|k| k.domain == domain && is_rsa(k))
                    .collect();
                let signs = |k: &LoadedKey| k.state == KeyState::Active;
                let state_list = |keys: &[&LoadedKey]| -> String {
                    keys.iter()
                        .map(|k| {
                            let state = match k.state {
                                KeyState::Active => "active",
                                KeyState::Next => "next",
                                KeyState::Retired => "retired",
                            };
                            format!("{} {state}", k.id)
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let all: Vec<&LoadedKey> =
                    self.keys.iter().filter(|k| k.domain == domain).collect();
                if !all.iter().any(|k| signs(k)) {
                    // worse than Ed25519 alone: nothing signs
                    warnings.push(format!(
                        "dkim.key of {domain}: no key is active ({}): {domain}'s mail goes out unsigned until a next key is promoted (publish_wait after its record is seen), or for good with retired keys only, unless dkim.state_file remembers a rotation; keep the old key active until the new one is promoted",
                        state_list(&all)
                    ));
                    continue;
                }
                // (a first RSA key staged beside Ed25519 changes nothing: no RSA key signed)
                if rsa.iter().any(|k| k.state == KeyState::Retired) && !rsa.iter().any(|k| signs(k))
                {
                    warnings.push(format!(
                        "dkim.key of {domain}: no RSA key that signs by itself ({}); only a rotation recorded in dkim.state_file stands in for a retired one, else {domain}'s mail is signed with Ed25519 alone, which Gmail and Microsoft do not verify: keep the old RSA key active until the new one is promoted",
                        state_list(&rsa)
                    ));
                }
            }
        }
        for (i, (pattern, names)) in self.rules.iter().enumerate() {
            let named = self.rule_keys(names);
            if !named.is_empty() && named.iter().all(|k| k.state == KeyState::Next) {
                // nothing a rotation stands in for: the rule's mail is not signed at all
                let ids: Vec<&str> = named.iter().map(|k| k.id.as_str()).collect();
                warnings.push(format!(
                    "dkim.signing[{i}] (from = {pattern:?}) names only keys not yet promoted ({}): its mail goes out unsigned until one is (publish_wait after its record is seen); name the active key beside it",
                    ids.join(", ")
                ));
                continue;
            }
            let retired: Vec<&str> = named
                .iter()
                .filter(|k| k.state == KeyState::Retired)
                .map(|k| k.id.as_str())
                .collect();
            if retired.is_empty() {
                continue;
            }
            let rsa_left = named
                .iter()
                .any(|k| k.state != KeyState::Retired && is_rsa(k));
            if named.iter().any(|k| is_rsa(k)) && !rsa_left {
                warnings.push(format!(
                    "dkim.signing[{i}] (from = {pattern:?}) names RSA keys but none of them signs by itself: {} retired; only a rotation recorded in dkim.state_file stands in for it, else the rule signs with Ed25519 alone, which Gmail and Microsoft do not verify: name the new RSA key in the rule",
                    retired.join(", ")
                ));
            } else {
                warnings.push(format!(
                    "dkim.signing[{i}] (from = {pattern:?}): {} retired; it signs only through a rotation recorded in dkim.state_file: name the key that replaced it in the rule",
                    retired.join(", ")
                ));
            }
        }
        warnings
    }

    /// The key with this fingerprint.
    fn by_fingerprint(&self, fingerprint: &str) -> Option<&LoadedKey> {
        self.keys.iter().find(|k| k.fingerprint == fingerprint)
    }
}

/// A `[[dkim.key]] domain` as the signature's `d=` and the key's DNS name take it: lower case,
/// and a domain written in U-labels as its A-labels (RFC 6376 §3.5, RFC 5890 §2.3.2.1; the
/// tools take U-labels too). An ASCII domain is kept as written, so its rotation state stays.
pub(crate) fn key_domain(domain: &str) -> String {
    let domain = domain.trim();
    if domain.is_ascii() {
        return domain.to_ascii_lowercase();
    }
    crate::config::allowed_domain(domain).unwrap_or_else(|| domain.to_lowercase())
}

/// A `[[dkim.signing]] from` pattern as it is compared with the From domain: `*`, or a domain
/// (`*.` before it for its subdomains) in lower case without a final dot, as A-labels
/// (RFC 5890 §2.3.2.1). `config check` refuses a pattern that is none of these.
fn rule_pattern(from: &str) -> String {
    let from = from.trim();
    if from == "*" {
        return from.to_string();
    }
    let (prefix, domain) = match from.strip_prefix("*.") {
        Some(parent) => ("*.", parent),
        None => ("", from),
    };
    match crate::config::allowed_domain(domain) {
        Some(d) => format!("{prefix}{d}"),
        None => from.to_ascii_lowercase(),
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
    // From is always signed (RFC 6376 §5.4), so with over-signing on it is always
    // over-signed (§8.15), whether or not `sign_headers` names it
    let mut oversign: Vec<String> = Vec::new();
    if cfg.oversign {
        oversign.push("From".into());
        oversign.extend(
            sign.iter()
                .filter(|h| {
                    !h.eq_ignore_ascii_case("From")
                        && dkim::sign::DEFAULT_OVERSIGNED_HEADERS
                            .iter()
                            .any(|o| o.eq_ignore_ascii_case(h))
                })
                .cloned(),
        );
    }
    SignedHeaders::Custom { sign, oversign }
}

/// Whether group or others may read or write the key file at `path`: its mode and which of
/// the two, or `None` when only its owner may.
pub fn loose_key_permissions(path: &Path) -> anyhow::Result<Option<(u32, &'static str)>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read DKIM key {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o066 == 0 {
        return Ok(None);
    }
    let who = match (mode & 0o022 != 0, mode & 0o044 != 0) {
        (true, true) => "readable and writable",
        (true, false) => "writable",
        _ => "readable",
    };
    Ok(Some((mode, who)))
}

/// Reads a private key file, refusing one that group or others may read or write (unless
/// `allow_loose`, which turns that into a warning).
fn read_key_file(path: &Path, allow_loose: bool) -> anyhow::Result<Vec<u8>> {
    if let Some((mode, who)) = loose_key_permissions(path)? {
        if !allow_loose {
            bail!(
                "DKIM private key {} is {who} by group or others (mode {mode:04o}): chmod 600 {} (and chown it to the milter's user), or set [dkim] allow_loose_key_permissions = true",
                path.display(),
                path.display()
            );
        }
        tracing::warn!(
            key = %path.display(),
            mode = format!("{mode:04o}"),
            "DKIM private key is {who} by group or others (allowed by dkim.allow_loose_key_permissions); chmod 600 it"
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read DKIM key {}", path.display()))
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
        TestKeyOutcome::Unusable { reason, .. } => format!(
            "the published record holds this key but verifiers will refuse our signatures: {reason}{}",
            restriction_hint(reason)
        ),
        TestKeyOutcome::SeveralRecords { count, holds_key } => format!(
            "{count} TXT records are published at this name ({}); verifiers may use any one, and OpenDKIM refuses them all (RFC 6376 §3.6.2.2): keep exactly one",
            if *holds_key {
                "one holds this key"
            } else {
                "none holds this key, usable for our signatures"
            }
        ),
        TestKeyOutcome::Invalid(why) => format!("the published record is invalid: {why}"),
        TestKeyOutcome::DnsError(e) => format!("DNS error: {e}"),
    }
}

/// What to change in the record for an `Unusable` key.
fn restriction_hint(reason: &dkim::Reason) -> &'static str {
    match reason {
        dkim::Reason::HashNotAllowed => {
            " (h= must include sha256, or be removed: we sign rsa-sha256 / ed25519-sha256)"
        }
        dkim::Reason::ServiceNotEmail => " (s= must include email or *, or be removed)",
        dkim::Reason::RsaKeyNotSpki => {
            " (publish the record as `authmilter dkim genkey` prints it: p= is the SubjectPublicKeyInfo)"
        }
        _ => "",
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

    /// RFC 5890 §2.3.2.1: a `[[dkim.key]] domain` written in U-labels (as `dkim genkey` and
    /// `dkim sign` take it) was refused ("bad domain"); it is the A-label domain the From
    /// domain is compared with and the signature's `d=`.
    #[test]
    fn a_u_label_key_domain_signs_as_its_a_label() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, key.private_key_pem.as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = crate::config::Config::parse(&format!(
            "[[dkim.key]]\nname = \"k\"\ndomain = \"B\u{fc}cher.example\"\nselector = \"s1\"\npath = {:?}\n",
            path.display().to_string()
        ))
        .unwrap();
        let keys = SigningKeys::load(&config.dkim).unwrap();
        let signers = keys.for_domain("xn--bcher-kva.example");
        assert_eq!(signers.len(), 1);
        assert_eq!(signers[0].domain, "xn--bcher-kva.example");
    }

    /// A `[[dkim.signing]] from` pattern is matched against the From domain as DNS writes it
    /// (lower case, no final dot, A-labels): `EXAMPLE.COM.` and `bücher.example` match, and a
    /// pattern that could never match (OpenDKIM's `*@example.com`, an address, `*example.com`,
    /// `example.*`) is refused instead of leaving the mail it was meant for unsigned.
    #[test]
    fn signing_rule_patterns_are_domains() {
        assert_eq!(rule_pattern(" EXAMPLE.COM. "), "example.com");
        assert_eq!(rule_pattern("*.Sub.Example.com"), "*.sub.example.com");
        assert_eq!(rule_pattern("b\u{fc}cher.example"), "xn--bcher-kva.example");
        assert_eq!(rule_pattern("*"), "*");
        let parse = |from: &str| {
            crate::config::Config::parse(&format!(
                "[[dkim.key]]\nname = \"k\"\ndomain = \"example.com\"\nselector = \"s\"\n\
                 path = \"/nonexistent.pem\"\n[[dkim.signing]]\nfrom = {from:?}\nkeys = [\"k\"]\n"
            ))
        };
        for good in [
            "example.com",
            "*.example.com",
            "*",
            "EXAMPLE.COM.",
            "b\u{fc}cher.example",
        ] {
            assert!(parse(good).is_ok(), "{good}: {:?}", parse(good).err());
        }
        for bad in [
            "*@example.com",
            "user@example.com",
            "*example.com",
            "example.*",
            "*.*.example.com",
        ] {
            let Err(e) = parse(bad) else {
                panic!("{bad} accepted")
            };
            assert!(
                format!("{e:#}").contains("dkim.signing[0].from"),
                "{bad}: {e:#}"
            );
        }
    }

    /// RFC 6376 §8.15: with `oversign` on, From is over-signed even when `sign_headers`
    /// (e.g. migrated from OpenDKIM's SignHeaders) does not name it, so no second From can be
    /// added after signing.
    #[test]
    fn from_oversigned_with_custom_sign_headers() {
        let cfg = DkimConfig {
            sign_headers: vec!["To".into(), "Subject".into()],
            ..DkimConfig::default()
        };
        let headers = [
            ::message::HeaderField::new(b"From".to_vec(), b" a@example.com"),
            ::message::HeaderField::new(b"To".to_vec(), b" b@example.net"),
        ];
        let list = dkim::sign::header_list(&headers, &signed_headers(&cfg));
        assert_eq!(list.iter().filter(|n| *n == "from").count(), 2, "{list:?}");
    }
}
