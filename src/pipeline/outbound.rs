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
    /// The From domain the keys were picked for.
    author: String,
    /// `domain/selector`, the key's `d=`, the signature being computed.
    sessions: Vec<(String, String, SigningSession)>,
}

/// What signing produced: the headers to prepend (top-down) and a label per attempt.
#[derive(Debug, Default)]
pub struct Signed {
    /// The DKIM-Signature headers, top-down.
    pub headers: Vec<NewHeader>,
    /// `domain/selector` of each signature made.
    pub labels: Vec<String>,
    /// The `d=` of each signature made.
    pub domains: Vec<String>,
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
        let domain = match signing_domain(headers) {
            Ok(d) => d,
            Err(why) => {
                tracing::warn!("not signed: {why}");
                return Signing::default();
            }
        };
        let sessions = app
            .signing
            .for_domain(&domain)
            .into_iter()
            .map(|k| {
                (
                    format!("{}/{}", k.domain, k.selector),
                    k.domain.clone(),
                    k.signer.start_shared(hashes),
                )
            })
            .collect();
        Signing {
            author: domain,
            sessions,
        }
    }

    /// The From domain the keys were picked for (RFC 5322 §3.6.2), empty when none were.
    pub fn author(&self) -> &str {
        &self.author
    }

    /// Drops the signatures whose `d=` aligns with the From domain (relaxed, by the public
    /// suffix list: RFC 7489 §3.1.1) and returns their labels: such a signature would make the
    /// message pass DMARC for its author downstream (RFC 9989 §4.4).
    pub fn withhold_aligned(&mut self) -> Vec<String> {
        let author = std::slice::from_ref(&self.author);
        let mut withheld = Vec::new();
        self.sessions.retain(|(label, d, _)| {
            let aligned = super::inbound::could_align(d, author);
            if aligned {
                withheld.push(label.clone());
            }
            !aligned
        });
        withheld
    }

    /// True when no key signs this message.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// End of message: signs `headers` (the fields as they will be delivered) with every
    /// started key, at Unix time `now`.
    pub fn finish(self, hashes: &FinishedBodyHashes, headers: &[HeaderField], now: u64) -> Signed {
        let mut out = Signed::default();
        for (label, domain, s) in self.sessions {
            match s.finish_shared(hashes, headers, now) {
                Ok(sig) => {
                    out.headers
                        .push(NewHeader::new(sig.name(), sig.value("\n")));
                    out.labels.push(label);
                    out.domains.push(domain);
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

/// End of headers on a forwarding listener with `[arc] seal`: a key `[[dkim.signing]]`
/// picks for the From domain seals, RSA first ([`crate::signing::SigningKeys::sealer_for`]) (RFC 8617 §5.1; one key table for DKIM and ARC); its body
/// hash comes from `hashes`.
pub fn start_sealing(
    app: &App,
    headers: &Headers,
    hashes: &mut BodyHashes,
) -> Option<(String, arc::SealingSession)> {
    // the seal does not vouch for the author (RFC 8617 §5.1): the first From address picks
    // the key, as before, even where the author is too ambiguous for a DKIM signature
    let domain = headers
        .named("From")
        .next()
        .and_then(|(h, _)| dmarc::parse_from(&h.value).ok())
        .and_then(|addrs| addrs.iter().find_map(|a| a.author_domain().ok()))?;
    let key = app.signing.sealer_for(&domain)?;
    Some((
        format!("{}/{}", key.domain, key.selector),
        key.sealer.start(hashes),
    ))
}

/// The author domain that picks our signing keys (RFC 6376 §5.4, RFC 5322 §3.6): the one
/// domain of every address of the one From field. Several From fields, an address without a
/// usable domain, or addresses in several domains make the author ambiguous: our `d=` must
/// not vouch for a message whose displayed author may be someone else, so it is not signed.
pub fn signing_domain(headers: &Headers) -> Result<String, &'static str> {
    let mut fields = headers.named("From");
    let (field, _) = fields.next().ok_or("no From field")?;
    if fields.next().is_some() {
        return Err("several From fields");
    }
    let addrs = dmarc::parse_from(&field.value).map_err(|_| "the From field does not parse")?;
    let mut domain: Option<String> = None;
    for a in &addrs {
        let d = a
            .author_domain()
            .map_err(|_| "a From address without a usable domain")?;
        match &domain {
            Some(first) if *first != d => return Err("From addresses in several domains"),
            Some(_) => {}
            None => domain = Some(d),
        }
    }
    domain.ok_or("no address in the From field")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (name, value) in fields {
            h.push(HeaderField::new(name.as_bytes().to_vec(), value.as_bytes()));
        }
        h
    }

    fn domain(fields: &[(&str, &str)]) -> Option<String> {
        signing_domain(&headers(fields)).ok()
    }

    /// RFC 5322 §3.6, RFC 6376 §8.15: our d= vouches only for an unambiguous author.
    #[test]
    fn signing_domain_only_for_one_unambiguous_author_domain() {
        let ours = Some("ours.example".to_string());
        assert_eq!(domain(&[("From", " a@ours.example")]), ours);
        assert_eq!(domain(&[("from", " \"A\" <a@OURS.example.>")]), ours);
        assert_eq!(domain(&[("From", " a@ours.example, b@ours.example")]), ours);
        assert_eq!(domain(&[("From", " team: a@ours.example;")]), ours);
        // several From fields: readers may show either
        assert_eq!(
            domain(&[("From", " a@ours.example"), ("From", " ceo@victim.example")]),
            None
        );
        // several author domains
        assert_eq!(
            domain(&[("From", " a@ours.example, ceo@victim.example")]),
            None
        );
        // an entry without a usable domain next to ours
        assert_eq!(domain(&[("From", " ceo, a@ours.example")]), None);
        assert_eq!(
            domain(&[("From", " <a@[192.0.2.1]>, a@ours.example")]),
            None
        );
        // nothing to sign for
        assert_eq!(domain(&[("From", " undisclosed:;")]), None);
        assert_eq!(domain(&[("From", " a")]), None);
        assert_eq!(domain(&[("Subject", " x")]), None);
        assert_eq!(
            domain(&[("From", " victim@bank.example <a@ours.example>")]),
            None
        );
    }

    /// RFC 5322 §3.4, §4.4: an address before a group's ':' or a route's ':' is no group name
    /// and no route; readers may show it as the author, so our d= must not vouch for it.
    #[test]
    fn no_signature_when_the_victim_is_the_group_name_or_the_route() {
        assert_eq!(
            domain(&[("From", " ceo@victim.example: a@ours.example;")]),
            None
        );
        assert_eq!(
            domain(&[("From", " <ceo@victim.example:a@ours.example>")]),
            None
        );
    }
}
