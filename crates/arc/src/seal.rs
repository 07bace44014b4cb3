//! Sealing (RFC 8617 §5.1): a [`Sealer`] per key, domain and selector; a [`SealingSession`]
//! per message whose body hash comes from the shared [`BodyHashes`]; and the [`ArcSet`] of
//! three header fields for the next instance.
//!
//! The caller prepends the set so that, from the top, the message reads ARC-Seal,
//! ARC-Message-Signature, ARC-Authentication-Results ([`ArcSet::top_down`]); the order of
//! ARC fields does not affect validation, but this is the order every sealer uses.

use std::sync::Arc;

use authres::{AuthenticationResults, FormatOptions};
use base64::Engine;
use crypto::{KeyType, SigningKey};
use dkim::body_hashes::{BodyHashId, BodyHashKey, BodyHashes, FinishedBodyHashes};
use dkim::canon::{canonicalize_header, select_headers};
use dkim::fold::{Piece, append_base64, fold};
use dkim::sign::{SignedHeaders, header_list};
use dkim::{Algorithm, Canonicalization, FoldedHeader, HeaderField};

use crate::chain::{Structure, structure};
use crate::error::ArcError;
use crate::fields::{ArcField, MAX_INSTANCE};
use crate::hash_input::seal_hash_input;
use crate::outcome::{ArcOutcome, ChainStatus};

/// Which header fields the ARC-Message-Signature covers (RFC 8617 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AmsHeaders {
    /// DKIM's recommended set with its over-signing (RFC 6376 §5.4.1, §8.15), plus every
    /// DKIM-Signature present (RFC 8617 §4.1.2 SHOULD).
    #[default]
    Recommended,
    /// Exactly these names, in this order. Must include From; must not include
    /// Authentication-Results or ARC fields (RFC 8617 §4.1.2 MUST NOT).
    Exact(Vec<String>),
}

/// How the ARC-Message-Signature and ARC-Seal values are laid out. Both are valid; only
/// the bytes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Tags in the usual order (`i=` first, `b=` last), folded at 78 columns.
    #[default]
    Folded,
    /// The ValiMail test suite's "standardized" form: tags sorted by name, names and values
    /// lowercase except `b=`/`bh=`, one line, `; ` between tags (the suite's expected
    /// signatures assume it; dkimpy calls it `standardize`).
    SortedOneLine,
}

/// Sealer settings (RFC 8617 §4.1.2, §4.1.3 tags the sealer chooses). The canonicalization
/// is relaxed/relaxed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealerConfig {
    /// `d=` of both signatures.
    pub domain: String,
    /// `s=` of both signatures.
    pub selector: String,
    /// `h=` of the ARC-Message-Signature.
    pub headers: AmsHeaders,
    /// The layout of the signature fields.
    pub layout: Layout,
}

impl SealerConfig {
    /// Defaults for `domain` and `selector`: recommended headers, folded.
    pub fn new(domain: impl Into<String>, selector: impl Into<String>) -> Self {
        SealerConfig {
            domain: domain.into(),
            selector: selector.into(),
            headers: AmsHeaders::Recommended,
            layout: Layout::Folded,
        }
    }
}

/// An ARC sealer: one key, one domain and selector (RFC 8617 §5.1). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sealer {
    key: Arc<dyn SigningKey>,
    config: Arc<SealerConfig>,
}

/// One message being sealed: its body hash comes from the shared [`BodyHashes`].
#[derive(Debug, Clone)]
pub struct SealingSession {
    sealer: Sealer,
    hash: BodyHashId,
}

/// The three header fields of a new ARC set (RFC 8617 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSet {
    /// The set's `i=`.
    pub instance: u32,
    /// The `cv=` sealed (RFC 8617 §4.4).
    pub cv: ChainStatus,
    /// ARC-Authentication-Results (RFC 8617 §4.1.1).
    pub authentication_results: FoldedHeader,
    /// ARC-Message-Signature (RFC 8617 §4.1.2).
    pub message_signature: FoldedHeader,
    /// ARC-Seal (RFC 8617 §4.1.3).
    pub seal: FoldedHeader,
}

impl ArcSet {
    /// The fields in the order they appear from the top of the message once prepended:
    /// ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results. With milter
    /// `SMFIR_INSHEADER` at index 0, insert them in reverse (AAR first).
    pub fn top_down(&self) -> [&FoldedHeader; 3] {
        [
            &self.seal,
            &self.message_signature,
            &self.authentication_results,
        ]
    }

    /// The three fields with `line_separator` line ends, top-down, ready to prepend.
    pub fn to_fields(&self, line_separator: &str) -> String {
        self.top_down()
            .iter()
            .map(|f| format!("{}: {}{line_separator}", f.name(), f.value(line_separator)))
            .collect()
    }
}

impl Sealer {
    /// A sealer for `key` (RSA ≥ 2048 bits or Ed25519, loaded through
    /// [`crypto::CryptoProvider::signing_key`]).
    pub fn new(key: Box<dyn SigningKey>, config: SealerConfig) -> Result<Self, ArcError> {
        validate(&config)?;
        Ok(Sealer {
            key: Arc::from(key),
            config: Arc::new(config),
        })
    }

    /// A sealer from a PEM or DER private key (PKCS#1 or PKCS#8).
    pub fn from_pem(pem_or_der: &[u8], config: SealerConfig) -> Result<Self, ArcError> {
        let key = crypto::default_provider().signing_key(pem_or_der)?;
        Self::new(key, config)
    }

    /// `rsa-sha256` or `ed25519-sha256`, from the key (RFC 6376 §3.3, RFC 8463).
    pub fn algorithm(&self) -> Algorithm {
        Algorithm::for_signing(self.key.key_type())
    }

    /// The settings.
    pub fn config(&self) -> &SealerConfig {
        &self.config
    }

    /// The key.
    pub fn key(&self) -> &dyn SigningKey {
        &*self.key
    }

    /// The body hash the ARC-Message-Signature needs: relaxed, SHA-256, the whole body
    /// (RFC 6376 §3.7).
    pub fn body_hash_key(&self) -> BodyHashKey {
        BodyHashKey {
            canon: Canonicalization::Relaxed,
            hash: crypto::HashAlg::Sha256,
            limit: None,
        }
    }

    /// Starts a message at end of headers: requests the body hash from the shared `hashes`
    /// (before the first body chunk).
    pub fn start(&self, hashes: &mut BodyHashes) -> SealingSession {
        SealingSession {
            sealer: self.clone(),
            hash: hashes.request(self.body_hash_key()),
        }
    }
}

impl SealingSession {
    /// Builds the ARC set for instance N+1 (RFC 8617 §5.1): `headers` are the message's header
    /// fields as they will be forwarded (after every other change, RFC 8617 §5.1 step 1),
    /// `chain` is this message's validation outcome (it gives `cv=`: a chain that failed is
    /// sealed with `cv=fail`, the seal covering only the new set, §5.1.2), and `payload` is
    /// this hop's authentication results for the AAR (RFC 8617 §4.1.1). Refuses when the
    /// newest seal already says `cv=fail` (§5.1 step 2), the chain is at i=50 (§4.2.1), or it
    /// was cut short unjudged ([`FailReason::left_unvalidated`](crate::FailReason::left_unvalidated)).
    pub fn seal(
        &self,
        hashes: &FinishedBodyHashes,
        headers: &[HeaderField],
        chain: &ArcOutcome,
        payload: &AuthenticationResults,
        now: u64,
    ) -> Result<ArcSet, ArcError> {
        if let Some(reason) = &chain.reason
            && reason.is_terminated()
        {
            return Err(ArcError::ChainTerminated {
                instance: chain.highest_instance,
            });
        }
        if let Some(reason) = &chain.reason
            && chain.result == ChainStatus::Fail
            && reason.left_unvalidated()
        {
            return Err(ArcError::ChainNotValidated {
                reason: reason.to_string(),
            });
        }
        if chain.highest_instance >= MAX_INSTANCE {
            return Err(ArcError::InstanceLimit {
                highest: chain.highest_instance,
            });
        }
        let instance = chain.highest_instance + 1;
        let cv = chain.result;
        let previous = previous_sets(headers, chain)?;
        let body = self
            .sealer
            .hashes_body(hashes, self.hash)
            .ok_or(ArcError::BodyHashUnavailable)?;
        if !headers.iter().any(|h| h.name_is("From")) {
            return Err(ArcError::NoFromHeader);
        }
        let s = &self.sealer;
        let layout = s.config.layout;
        let b64 = base64::engine::general_purpose::STANDARD;

        // A: the AAR (RFC 8617 §4.1.1)
        let aar = FoldedHeader::new(
            ArcField::AuthenticationResults.name(),
            aar_lines(instance, payload, layout),
        );

        // B: the AMS (RFC 8617 §4.1.2), DKIM-style over the selected fields
        let names = s.ams_header_names(headers);
        let mut tags = Tags::new(layout);
        tags.text("i", instance.to_string());
        tags.text("a", s.algorithm().as_str().to_string());
        tags.text("c", "relaxed/relaxed".into());
        tags.text("d", s.config.domain.clone());
        tags.text("s", s.config.selector.clone());
        tags.text("t", now.to_string());
        tags.list("h", names.clone());
        tags.text("bh", b64.encode(&body));
        let name = ArcField::MessageSignature.name();
        let unsigned = tags.lines(name, "");
        let mut data = Vec::with_capacity(1024);
        for h in select_headers(headers, &names, None) {
            canonicalize_header(Canonicalization::Relaxed, &h.name, &h.value, &mut data);
        }
        let own = format!(" {}", unsigned.join("\r\n\t"));
        canonicalize_header(
            Canonicalization::Relaxed,
            name.as_bytes(),
            own.as_bytes(),
            &mut data,
        );
        data.truncate(data.len().saturating_sub(2));
        let ams = FoldedHeader::new(name, tags.lines(name, &b64.encode(s.sign(&data)?)));

        // C: the seal (RFC 8617 §4.1.3, §5.1.1) over the sets in order, this one last
        let mut tags = Tags::new(layout);
        tags.text("i", instance.to_string());
        tags.text("a", s.algorithm().as_str().to_string());
        tags.text("t", now.to_string());
        tags.text("cv", cv.as_str().to_string());
        tags.text("d", s.config.domain.clone());
        tags.text("s", s.config.selector.clone());
        let name = ArcField::Seal.name();
        let unsigned = FoldedHeader::new(name, tags.lines(name, "")).to_header_field();
        let new_fields = [aar.to_header_field(), ams.to_header_field(), unsigned];
        let mut fields: Vec<&HeaderField> = previous;
        fields.extend(new_fields.iter());
        let data = seal_hash_input(&fields);
        let seal = FoldedHeader::new(name, tags.lines(name, &b64.encode(s.sign(&data)?)));
        Ok(ArcSet {
            instance,
            cv,
            authentication_results: aar,
            message_signature: ams,
            seal,
        })
    }
}

impl Sealer {
    fn hashes_body(&self, hashes: &FinishedBodyHashes, id: BodyHashId) -> Option<Vec<u8>> {
        hashes.get(id).map(|h| h.digest.clone())
    }

    /// The AMS `h=` names for `headers` (RFC 8617 §4.1.2).
    fn ams_header_names(&self, headers: &[HeaderField]) -> Vec<String> {
        match &self.config.headers {
            AmsHeaders::Exact(names) => names.clone(),
            AmsHeaders::Recommended => {
                let mut names = header_list(headers, &SignedHeaders::Recommended);
                let dkim = headers
                    .iter()
                    .filter(|h| h.name_is(dkim::signature::HEADER_NAME))
                    .count();
                names.extend(std::iter::repeat_n("dkim-signature".to_string(), dkim));
                names
            }
        }
    }

    /// Signs header hash input (RFC 6376 §3.7): RSA over the data, Ed25519 over its SHA-256
    /// digest (RFC 8463 §3).
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, ArcError> {
        Ok(match self.key.key_type() {
            KeyType::Ed25519 => self.key.sign(&crypto::sha256(data))?,
            KeyType::Rsa => self.key.sign(data)?,
        })
    }
}

/// The existing sets' fields a pass chain's seal covers, from `headers` (RFC 8617 §5.1.1);
/// none for a chain that is none or fail (§5.1.2).
fn previous_sets<'h>(
    headers: &'h [HeaderField],
    chain: &ArcOutcome,
) -> Result<Vec<&'h HeaderField>, ArcError> {
    match (chain.result, structure(headers, MAX_INSTANCE)) {
        (ChainStatus::Fail, _) | (ChainStatus::None, Structure::None) => Ok(Vec::new()),
        (ChainStatus::Pass, Structure::Sound(sets)) if sets.len() == chain.sets.len() => Ok(sets
            .iter()
            .flat_map(|s| s.positions())
            .filter_map(|i| headers.get(i))
            .collect()),
        (ChainStatus::Pass, _) => Err(ArcError::ChainMismatch(format!(
            "the validated chain has {} sets, the header fields do not",
            chain.sets.len()
        ))),
        (ChainStatus::None, _) => Err(ArcError::ChainMismatch(
            "the header fields hold ARC sets, the validation found none".into(),
        )),
    }
}

/// The AAR value lines: `i=N; ` and the payload, folded like Authentication-Results.
fn aar_lines(instance: u32, payload: &AuthenticationResults, layout: Layout) -> Vec<String> {
    let prefix = format!("i={instance}; ");
    let mut options = FormatOptions {
        line_separator: "\n".into(),
        indent: "\t".into(),
        first_line_offset: ArcField::AuthenticationResults.name().len() + 2 + prefix.len(),
        max_width: dkim::fold::FOLD_WIDTH,
        fold: true,
    };
    if layout == Layout::SortedOneLine {
        options.fold = false;
    }
    let text = format!("{prefix}{}", payload.format(&options));
    text.split('\n')
        .map(|l| l.strip_prefix('\t').unwrap_or(l).to_string())
        .collect()
}

/// A signature field's tags in the order added, rendered by [`Layout`].
struct Tags {
    layout: Layout,
    tags: Vec<(&'static str, TagValue)>,
}

enum TagValue {
    Text(String),
    List(Vec<String>),
}

impl Tags {
    fn new(layout: Layout) -> Self {
        Tags {
            layout,
            tags: Vec::new(),
        }
    }

    fn text(&mut self, name: &'static str, value: String) {
        self.tags.push((name, TagValue::Text(value)));
    }

    fn list(&mut self, name: &'static str, names: Vec<String>) {
        self.tags.push((name, TagValue::List(names)));
    }

    /// The value of field `field` with signature `b64` (empty while signing).
    fn lines(&self, field: &str, b64: &str) -> Vec<String> {
        match self.layout {
            Layout::Folded => {
                let first_col = field.len() + 2;
                let mut pieces: Vec<Piece> = self
                    .tags
                    .iter()
                    .map(|(n, v)| match v {
                        TagValue::Text(t) => Piece::whole(format!("{n}={t};")),
                        TagValue::List(l) => Piece::list(&format!("{n}="), l),
                    })
                    .collect();
                pieces.push(Piece::whole("b=".into()));
                let mut lines = fold(&pieces, first_col);
                append_base64(&mut lines, first_col, b64);
                lines
            }
            Layout::SortedOneLine => {
                let mut all: Vec<(&str, String)> = self
                    .tags
                    .iter()
                    .map(|(n, v)| {
                        let value = match v {
                            TagValue::Text(t) if *n == "bh" => t.clone(),
                            TagValue::Text(t) => t.to_ascii_lowercase(),
                            TagValue::List(l) => l.join(":").to_ascii_lowercase(),
                        };
                        (*n, value)
                    })
                    .collect();
                all.push(("b", b64.to_string()));
                all.sort_by(|a, b| a.0.cmp(b.0));
                let line: Vec<String> = all.iter().map(|(n, v)| format!("{n}={v}")).collect();
                vec![line.join("; ")]
            }
        }
    }
}

/// Checks the settings: domain and selector are DNS names, the header list is sane.
fn validate(cfg: &SealerConfig) -> Result<(), ArcError> {
    for (what, v) in [("domain", &cfg.domain), ("selector", &cfg.selector)] {
        let ok = dns::normalize_name(v).is_ok()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(ArcError::Config(format!("bad {what} {v:?}")));
        }
    }
    if let AmsHeaders::Exact(names) = &cfg.headers {
        if let Some(n) = names.iter().find(|n| {
            n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b':' && b != b';')
        }) {
            return Err(ArcError::Config(format!("bad header name {n:?}")));
        }
        if !names.iter().any(|n| n.eq_ignore_ascii_case("from")) {
            return Err(ArcError::Config("the header list must include From".into()));
        }
        let forbidden = |n: &String| {
            n.eq_ignore_ascii_case("authentication-results")
                || ArcField::ALL
                    .iter()
                    .any(|f| n.eq_ignore_ascii_case(f.name()))
        };
        if let Some(n) = names.iter().find(|n| forbidden(n)) {
            return Err(ArcError::Config(format!(
                "{n} must not be signed by an ARC-Message-Signature (RFC 8617 §4.1.2)"
            )));
        }
    }
    Ok(())
}
