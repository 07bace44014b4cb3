//! DKIM key records (RFC 6376 §3.6.1): key type and size (RFC 8301 §3.2), revocation,
//! testing mode, and `h=`/`s=` restrictions that make every signature we could make fail.

use super::Section;
use crate::app::App;

/// Selectors tried when none are given (common defaults of mail providers and tools).
pub const COMMON_SELECTORS: &[&str] = &[
    "default",
    "dkim",
    "mail",
    "s1",
    "s2",
    "k1",
    "k2",
    "selector1",
    "selector2",
    "google",
];

/// The section a guessed selector gives when DNS did not answer for it (see
/// `check_domain::mod`: shown once, only when no guessed selector has a key).
pub const GUESSES_UNCHECKED: &str = "DKIM (common selectors)";

/// Checks one selector; `None` when it was only guessed and has no record.
pub async fn check(app: &App, domain: &str, selector: &str, explicit: bool) -> Option<Section> {
    let name = dkim::key_name(selector, domain);
    let mut s = Section::new(format!("DKIM {name}"));
    let txts = match app.resolver.txt(&name).await {
        Ok(t) => t,
        Err(e) if e.is_not_found() || matches!(e, dns::DnsError::InvalidName(_)) => {
            if explicit {
                s.error(
                    "no key record published: every signature with this selector gets permerror",
                    format!("publish the record `authmilter dkim genkey` printed at {name}"),
                );
                return Some(s);
            }
            return None;
        }
        Err(e) => {
            if !explicit {
                // a guessed selector: said once, and only when no guessed key was found
                let mut s = Section::new(GUESSES_UNCHECKED);
                s.could_not_check("keys under the common selectors", &e);
                return Some(s);
            }
            s.could_not_check("the key record", &e);
            return Some(s);
        }
    };
    // a guessed name answered by a record that is no DKIM key at all (a wildcard TXT such as
    // `*.example.com TXT "v=spf1 -all"` answers every name): no key there
    if !explicit && !txts.iter().any(|t| meant_as_key(t)) {
        return None;
    }
    let raw = txts.first()?;
    s.record = Some(String::from_utf8_lossy(raw).into_owned());
    if txts.len() > 1 {
        // RFC 6376 §3.6.2.2: the result is undefined; libopendkim refuses them all
        s.error(
            format!(
                "{} TXT records at the key name: verifiers may pick any, and OpenDKIM refuses them all (\"multiple DNS replies\"), so signatures with this selector fail there",
                txts.len()
            ),
            "keep exactly one record per selector",
        );
    }
    let k = match dkim::KeyRecord::parse(raw) {
        Err(e) => {
            s.error(
                format!("key record invalid: {e}"),
                "publish the record exactly as `authmilter dkim genkey` prints it",
            );
            return Some(s);
        }
        Ok(k) => k,
    };
    // our verifier reads these; a major verifier does not, so the record is not published
    if let Some(reason) = dkim::refused_by_major_verifiers(raw, &k) {
        s.error(
            format!("{reason}: every signature with this selector fails there"),
            "publish the record exactly as `authmilter dkim genkey` prints it",
        );
    }
    if k.is_revoked() {
        s.note(
            "key revoked (empty p=): signatures with this selector fail; fine for a retired key",
        );
        return Some(s);
    }
    match k.key_type {
        crypto::KeyType::Ed25519 if k.public_key.len() == 32 => {
            match crypto::ed25519_verify_key_check(&k.public_key) {
                Ok(()) => s.ok("Ed25519 key (RFC 8463)"),
                Err(e) => s.error(
                    format!(
                        "Ed25519 public key is unusable ({e}): every signature with this selector gets permerror (to revoke a key publish an empty p=)"
                    ),
                    "publish the record exactly as `authmilter dkim genkey` prints it",
                ),
            }
        }
        // RFC 8463 §4.2: p= is the raw 32-byte key; verifiers cannot use anything else
        crypto::KeyType::Ed25519 => s.error(
            format!(
                "Ed25519 key of {} bytes: p= must be the raw 32-byte public key (RFC 8463 §4.2){}; every signature with this selector fails",
                k.public_key.len(),
                if k.public_key.len() == 44 {
                    ", not its SubjectPublicKeyInfo"
                } else {
                    ""
                }
            ),
            "publish the record exactly as `authmilter dkim genkey` prints it",
        ),
        crypto::KeyType::Rsa => match crypto::rsa_verify_key_bits(&k.public_key) {
            Err(crypto::CryptoError::KeyTooSmall { bits }) => s.error(
                format!("RSA key of {bits} bits: RFC 8301 forbids verifying it"),
                format!("generate a 2048-bit key: authmilter dkim rotate --domain {domain}"),
            ),
            Err(crypto::CryptoError::KeyTooLarge { bits }) => s.error(
                format!(
                    "RSA key of {bits} bits: verifiers refuse keys over 8192 bits, every signature with this selector gets permerror"
                ),
                format!("generate a 2048-bit key: authmilter dkim rotate --domain {domain}"),
            ),
            Err(e) => s.error(
                format!(
                    "RSA public key is unusable ({e}): every signature with this selector gets permerror (RFC 6376 §6.1.2)"
                ),
                "publish the record exactly as `authmilter dkim genkey` prints it",
            ),
            Ok(b) if b < 2048 => s.warn(
                format!("RSA key of {b} bits"),
                format!("use 2048 bits (RFC 8301 §3.2): authmilter dkim rotate --domain {domain}"),
            ),
            Ok(b) => s.ok(format!("RSA key of {b} bits")),
        },
    }
    let sha256_signature = match k.key_type {
        crypto::KeyType::Rsa => dkim::Algorithm::RsaSha256,
        crypto::KeyType::Ed25519 => dkim::Algorithm::Ed25519Sha256,
    };
    match k.check_usable(sha256_signature, None, domain) {
        Err(dkim::Reason::HashNotAllowed) => s.error(
            format!(
                "h={}: the key refuses {} signatures, so every one gets permerror (key does not allow this hash)",
                k.hashes.as_deref().unwrap_or_default().join(":"),
                sha256_signature.as_str()
            ),
            "remove h= from the record (or make it h=sha256)",
        ),
        Err(dkim::Reason::ServiceNotEmail) => s.error(
            "s= does not include email: verifiers refuse the key for mail",
            "remove s= from the record (or make it s=email)",
        ),
        _ => {}
    }
    if k.testing {
        s.warn(
            "t=y: testing mode, some verifiers treat failures as no signature",
            "remove t=y once signatures verify",
        );
    }
    if k.strict {
        s.note("t=s: signatures must not use an i= subdomain (authmilter never sets i=)");
    }
    Some(s)
}

/// A TXT record written as a DKIM key record (RFC 6376 §3.6.1): it starts with `v=DKIM1` or
/// has a `p=` tag, so it is reported even when it does not parse.
fn meant_as_key(txt: &[u8]) -> bool {
    let text = String::from_utf8_lossy(txt).to_ascii_lowercase();
    let mut tags = text.split(';').map(|t| t.trim_start());
    text.trim_start().starts_with("v=dkim1")
        || tags.any(|t| {
            t.strip_prefix('p')
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
}
