//! Our DKIM signatures for one message (RFC 6376 §5): keys picked by the From domain at end
//! of headers, the body hash shared with the inbound checks, signed at end of message over
//! the header fields as they will be delivered.

use ::message::{HeaderField, Headers};
use dkim::{BodyHashes, FinishedBodyHashes, SigningSession};

use crate::app::App;

use super::decision::NewHeader;

/// Our signatures being computed for one message.
#[derive(Default)]
pub struct Signing {
    sessions: Vec<(String, SigningSession)>,
}

/// What signing produced: the headers to prepend (top-down) and a label per attempt.
#[derive(Debug, Default)]
pub struct Signed {
    /// The DKIM-Signature headers, top-down.
    pub headers: Vec<NewHeader>,
    /// `domain/selector` of each signature made.
    pub labels: Vec<String>,
    /// `domain/selector` of each key that failed to sign.
    pub failed: Vec<String>,
}

impl Signing {
    /// End of headers: picks the keys for the (first) From domain and starts a signature with
    /// each; the body hash comes from `hashes`.
    pub fn start(app: &App, headers: &Headers, hashes: &mut BodyHashes) -> Signing {
        if app.signing.is_empty() {
            return Signing::default();
        }
        let Some(domain) = headers
            .named("From")
            .next()
            .and_then(|(h, _)| from_domain(&h.value))
        else {
            return Signing::default();
        };
        let sessions = app
            .signing
            .for_domain(&domain)
            .into_iter()
            .map(|k| {
                (
                    format!("{}/{}", k.domain, k.selector),
                    k.signer.start_shared(hashes),
                )
            })
            .collect();
        Signing { sessions }
    }

    /// True when no key signs this message.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// End of message: signs `headers` (the fields as they will be delivered) with every
    /// started key, at Unix time `now`.
    pub fn finish(self, hashes: &FinishedBodyHashes, headers: &[HeaderField], now: u64) -> Signed {
        let mut out = Signed::default();
        for (label, s) in self.sessions {
            match s.finish_shared(hashes, headers, now) {
                Ok(sig) => {
                    out.headers
                        .push(NewHeader::new(sig.name(), sig.value("\n")));
                    out.labels.push(label);
                }
                Err(e) => {
                    tracing::error!(key = %label, "DKIM signing failed: {e}");
                    out.failed.push(label);
                }
            }
        }
        out
    }
}

/// End of headers on a forwarding listener with `[arc] seal`: the key `[[dkim.signing]]`
/// picks for the From domain seals (RFC 8617 §5.1; one key table for DKIM and ARC); its body
/// hash comes from `hashes`.
pub fn start_sealing(
    app: &App,
    headers: &Headers,
    hashes: &mut BodyHashes,
) -> Option<(String, arc::SealingSession)> {
    let domain = headers
        .named("From")
        .next()
        .and_then(|(h, _)| from_domain(&h.value))?;
    let key = app.signing.for_domain(&domain).into_iter().next()?;
    Some((
        format!("{}/{}", key.domain, key.selector),
        key.sealer.start(hashes),
    ))
}

/// The domain of the first address in a From header value (for choosing signing keys).
pub fn from_domain(value: &[u8]) -> Option<String> {
    let addrs = dmarc::parse_from(value).ok()?;
    addrs.iter().find_map(|a| a.author_domain().ok())
}
