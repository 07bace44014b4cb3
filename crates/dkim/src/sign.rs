//! Signing (RFC 6376 §5, RFC 8463): a [`Signer`] per key, a [`SigningSession`] per message
//! that hashes the body as it streams, and the folded DKIM-Signature it produces.

use std::sync::Arc;

use base64::Engine;
use crypto::{KeyType, SigningKey};

use crate::body_hashes::{BodyHashId, BodyHashKey, BodyHashes, FinishedBodyHashes};
use crate::canon::{BodyHash, BodyHasher, canonicalize_header, select_headers};
use crate::error::DkimError;
use crate::fold::{FoldedHeader, Piece, append_base64, fold};
use crate::message::HeaderField;
use crate::signature::{Algorithm, Canonicalization, HEADER_NAME};

/// Header fields signed by default when present (RFC 6376 §5.4.1 recommended set).
pub const DEFAULT_SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Resent-Date",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    // RFC 8058 §4: one-click unsubscribe needs both List-Unsubscribe fields signed
    "List-Unsubscribe-Post",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
    "Message-ID",
    "Sender",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Header fields listed once more than present by default, so none can be added without
/// breaking the signature (RFC 6376 §8.15 "over-signing").
pub const DEFAULT_OVERSIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Reply-To",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

/// Fields a submission server may add when they are missing (RFC 6409 §8.2 Date, §8.3
/// Message-ID), which Sendmail does on delivery, after its milters signed: over-signed only
/// when present, so adding a missing one does not break the signature.
const ADDED_AFTER_SIGNING: &[&str] = &["Date", "Message-ID"];

fn added_after_signing(name: &str) -> bool {
    ADDED_AFTER_SIGNING
        .iter()
        .any(|a| a.eq_ignore_ascii_case(name))
}

/// Which header fields to sign (RFC 6376 §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SignedHeaders {
    /// [`DEFAULT_SIGNED_HEADERS`] with [`DEFAULT_OVERSIGNED_HEADERS`] over-signed.
    #[default]
    Recommended,
    /// Sign every instance of the `sign` names present; list each `oversign` name once more
    /// than present. From is always signed.
    Custom {
        /// Names signed when present.
        sign: Vec<String>,
        /// Names listed once more than present (also signed when present).
        oversign: Vec<String>,
    },
}

/// Signer settings (RFC 6376 §3.5 tags the signer chooses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerConfig {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `c=` header part (default relaxed).
    pub header_canon: Canonicalization,
    /// `c=` body part (default relaxed).
    pub body_canon: Canonicalization,
    /// `h=` selection.
    pub headers: SignedHeaders,
    /// `x=` = `t=` + this many seconds, if set.
    pub expiry: Option<u64>,
    /// `i=`, if set (must be in `d=` or a subdomain).
    pub identity: Option<String>,
    /// Add `l=` with the canonical body length (not recommended: RFC 6376 §8.2).
    pub body_length: bool,
}

impl SignerConfig {
    /// Defaults for `domain` and `selector`: relaxed/relaxed, recommended headers over-signed,
    /// `t=` only.
    pub fn new(domain: impl Into<String>, selector: impl Into<String>) -> Self {
        SignerConfig {
            domain: domain.into(),
            selector: selector.into(),
            header_canon: Canonicalization::Relaxed,
            body_canon: Canonicalization::Relaxed,
            headers: SignedHeaders::Recommended,
            expiry: None,
            identity: None,
            body_length: false,
        }
    }
}

/// A DKIM signer: one key, one domain and selector (RFC 6376 §5). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Signer {
    key: Arc<dyn SigningKey>,
    config: Arc<SignerConfig>,
    /// `config.headers` worked out once.
    plan: Arc<HeaderPlan>,
    /// [`fixed_tags`], worked out once.
    fixed_tags: Arc<[Piece]>,
}

/// One message being signed: feed the body, then [`SigningSession::finish`].
#[derive(Debug)]
pub struct SigningSession {
    signer: Signer,
    body: SessionBody,
}

/// Where a signing session's body hash comes from.
#[derive(Debug)]
enum SessionBody {
    /// Its own hasher ([`Signer::start`]).
    Own(BodyHasher),
    /// A hash shared with other consumers ([`Signer::start_shared`]).
    Shared(BodyHashId),
}

/// A finished DKIM-Signature header field (RFC 6376 §3.5), kept as folding pieces so that the
/// caller picks the line separator; [`FoldedHeader::name`] is `DKIM-Signature`.
pub type SignatureHeader = FoldedHeader;

impl Signer {
    /// A signer for `key` (loaded through [`crypto::CryptoProvider::signing_key`]).
    pub fn new(key: Box<dyn SigningKey>, config: SignerConfig) -> Result<Self, DkimError> {
        validate(&config)?;
        let algorithm = Algorithm::for_signing(key.key_type());
        Ok(Signer {
            fixed_tags: fixed_tags(algorithm, &config).into(),
            key: Arc::from(key),
            plan: Arc::new(HeaderPlan::new(&config.headers)),
            config: Arc::new(config),
        })
    }

    /// A signer from a PEM or DER private key (PKCS#1 or PKCS#8; RSA ≥ 2048 bits or Ed25519).
    pub fn from_pem(pem_or_der: &[u8], config: SignerConfig) -> Result<Self, DkimError> {
        let key = crypto::default_provider().signing_key(pem_or_der)?;
        Self::new(key, config)
    }

    /// `rsa-sha256` or `ed25519-sha256`, from the key.
    pub fn algorithm(&self) -> Algorithm {
        Algorithm::for_signing(self.key.key_type())
    }

    /// The settings.
    pub fn config(&self) -> &SignerConfig {
        &self.config
    }

    /// The key.
    pub fn key(&self) -> &dyn SigningKey {
        &*self.key
    }

    /// Starts a message: the body hasher begins (RFC 6376 §5.3–§5.4).
    pub fn start(&self) -> SigningSession {
        SigningSession {
            signer: self.clone(),
            body: SessionBody::Own(BodyHasher::new(
                self.config.body_canon,
                crypto::HashAlg::Sha256,
                None,
            )),
        }
    }

    /// Starts a message whose body hash comes from `hashes`, shared with verification and
    /// ARC (RFC 6376 §3.7): the caller feeds `hashes` and finishes with
    /// [`SigningSession::finish_shared`].
    pub fn start_shared(&self, hashes: &mut BodyHashes) -> SigningSession {
        SigningSession {
            signer: self.clone(),
            body: SessionBody::Shared(hashes.request(self.body_hash_key())),
        }
    }

    /// The body hash this signer needs (RFC 6376 §3.7): its body canonicalization, SHA-256,
    /// the whole body.
    pub fn body_hash_key(&self) -> BodyHashKey {
        BodyHashKey {
            canon: self.config.body_canon,
            hash: crypto::HashAlg::Sha256,
            limit: None,
        }
    }
}

impl SigningSession {
    /// Feeds a chunk of the body (CRLF line endings), split anywhere; with a shared body hash
    /// ([`Signer::start_shared`]) the caller feeds the shared hashes instead.
    pub fn body(&mut self, chunk: &[u8]) {
        if let SessionBody::Own(h) = &mut self.body {
            h.update(chunk);
        }
    }

    /// Finishes: hashes the header fields `headers` (top to bottom) and signs at Unix time
    /// `now` (RFC 6376 §5.4–§5.6). Fails if there is no From field.
    pub fn finish(self, headers: &[HeaderField], now: u64) -> Result<SignatureHeader, DkimError> {
        match self.body {
            SessionBody::Own(h) => sign_with(&self.signer, &h.finish(), headers, now),
            SessionBody::Shared(_) => Err(DkimError::Config(
                "a shared-hash signing session finishes with finish_shared".into(),
            )),
        }
    }

    /// Finishes a session started with [`Signer::start_shared`] (RFC 6376 §5.4–§5.6).
    pub fn finish_shared(
        self,
        hashes: &FinishedBodyHashes,
        headers: &[HeaderField],
        now: u64,
    ) -> Result<SignatureHeader, DkimError> {
        let body = match &self.body {
            SessionBody::Own(_) => None,
            SessionBody::Shared(id) => hashes.get(*id),
        }
        .ok_or_else(|| DkimError::Config("the body hash was not computed".into()))?;
        sign_with(&self.signer, body, headers, now)
    }
}

/// Builds and signs the DKIM-Signature for `body` and `headers` (RFC 6376 §5.4–§5.6).
fn sign_with(
    signer: &Signer,
    body: &BodyHash,
    headers: &[HeaderField],
    now: u64,
) -> Result<SignatureHeader, DkimError> {
    let cfg = &*signer.config;
    if !headers.iter().any(|h| h.name_is("From")) {
        return Err(DkimError::NoFromHeader);
    }
    let names = signer.plan.list(headers);
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut tags: Vec<Piece> = Vec::with_capacity(6);
    tags.push(Piece::whole(format!("t={now};")));
    if let Some(x) = cfg.expiry {
        tags.push(Piece::whole(format!("x={};", now.saturating_add(x))));
    }
    if cfg.body_length {
        tags.push(Piece::whole(format!("l={};", body.canonical_length)));
    }
    tags.push(Piece::list("h=", &names));
    tags.push(Piece::whole(format!("bh={};", b64.encode(&body.digest))));
    tags.push(Piece::whole("b=".into()));
    let mut lines = fold(signer.fixed_tags.iter().chain(&tags), HEADER_NAME.len() + 2);

    // RFC 6376 §3.7: hash the selected fields, then this field with b= empty, no CRLF.
    let mut data = Vec::with_capacity(2048);
    for h in select_headers(headers, &names, None) {
        canonicalize_header(cfg.header_canon, &h.name, &h.value, &mut data);
    }
    let unsigned = format!(" {}", lines.join("\r\n\t"));
    canonicalize_header(
        cfg.header_canon,
        HEADER_NAME.as_bytes(),
        unsigned.as_bytes(),
        &mut data,
    );
    data.truncate(data.len().saturating_sub(2));
    let sig = match signer.key.key_type() {
        KeyType::Ed25519 => signer.key.sign(&crypto::sha256(&data))?,
        KeyType::Rsa => signer.key.sign(&data)?,
    };
    append_base64(&mut lines, HEADER_NAME.len() + 2, &b64.encode(sig));
    Ok(FoldedHeader::new(HEADER_NAME, lines))
}

/// The tags that are the same in every signature of `signer` (`v=`, `a=`, `c=`, `d=`, `s=`,
/// `i=`; RFC 6376 §3.5), in the order they are written.
fn fixed_tags(algorithm: Algorithm, cfg: &SignerConfig) -> Vec<Piece> {
    let mut tags = vec![
        Piece::whole("v=1;".into()),
        Piece::whole(format!("a={};", algorithm.as_str())),
        Piece::whole(format!(
            "c={}/{};",
            cfg.header_canon.as_str(),
            cfg.body_canon.as_str()
        )),
        Piece::whole(format!("d={};", cfg.domain)),
        Piece::whole(format!("s={};", cfg.selector)),
    ];
    if let Some(i) = &cfg.identity {
        tags.push(Piece::whole(format!("i={i};")));
    }
    tags
}

/// The `h=` list for `headers` under `policy` (RFC 6376 §5.4): each wanted name once per
/// instance present; over-signed names once more; From always.
pub fn header_list(headers: &[HeaderField], policy: &SignedHeaders) -> Vec<String> {
    let plan = HeaderPlan::new(policy);
    plan.list(headers).into_iter().map(str::to_string).collect()
}

/// The candidate names of a [`SignedHeaders`] policy, worked out once per signer: each name
/// once (lower case, From first) and whether it is over-signed (RFC 6376 §5.4, §8.15).
#[derive(Debug, Clone)]
struct HeaderPlan {
    names: Vec<(String, bool)>,
}

impl HeaderPlan {
    fn new(policy: &SignedHeaders) -> Self {
        let (sign, over): (Vec<&str>, Vec<&str>) = match policy {
            SignedHeaders::Recommended => (
                DEFAULT_SIGNED_HEADERS.to_vec(),
                DEFAULT_OVERSIGNED_HEADERS.to_vec(),
            ),
            SignedHeaders::Custom { sign, oversign } => (
                sign.iter().map(String::as_str).collect(),
                oversign.iter().map(String::as_str).collect(),
            ),
        };
        let mut names: Vec<(String, bool)> = Vec::new();
        for name in std::iter::once("From")
            .chain(sign.iter().copied())
            .chain(over.iter().copied())
        {
            if names.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                continue;
            }
            let oversigned = over.iter().any(|o| o.eq_ignore_ascii_case(name));
            names.push((name.to_ascii_lowercase(), oversigned));
        }
        HeaderPlan { names }
    }

    /// The `h=` list for `headers`, in the plan's order.
    fn list(&self, headers: &[HeaderField]) -> Vec<&str> {
        let mut present = vec![0usize; self.names.len()];
        for h in headers {
            // the field's name without obsolete WSP (RFC 5322 §4.5.2) worked out once, not
            // once per candidate: ~25 candidates a field, most told apart by length alone
            let name = h.canonical_name();
            if let Some(i) = self
                .names
                .iter()
                .position(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
                && let Some(count) = present.get_mut(i)
            {
                *count += 1;
            }
        }
        let mut list = Vec::with_capacity(present.iter().sum::<usize>() + self.names.len());
        for ((name, oversigned), n) in self.names.iter().zip(present) {
            let extra = *oversigned && (n > 0 || !added_after_signing(name));
            list.extend(std::iter::repeat_n(name.as_str(), n + usize::from(extra)));
        }
        list
    }
}

fn validate(cfg: &SignerConfig) -> Result<(), DkimError> {
    let label_ok = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
    };
    if !label_ok(&cfg.domain) {
        return Err(DkimError::Config(format!("bad domain {:?}", cfg.domain)));
    }
    if !label_ok(&cfg.selector) {
        return Err(DkimError::Config(format!(
            "bad selector {:?}",
            cfg.selector
        )));
    }
    if let Some(i) = &cfg.identity {
        let dom = i.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        let d = cfg.domain.to_ascii_lowercase();
        let ok = dom.is_some_and(|x| x == d || x.ends_with(&format!(".{d}")));
        if !ok || i.contains(|c: char| c.is_whitespace() || c == ';') {
            return Err(DkimError::Config(format!("i= {i:?} is not within d=")));
        }
    }
    if cfg.expiry == Some(0) {
        // x= would equal t=; RFC 6376 §3.5: x= "MUST be greater than" t=
        return Err(DkimError::Config("expiry must be at least 1 second".into()));
    }
    if let SignedHeaders::Custom { sign, oversign } = &cfg.headers {
        let bad = sign.iter().chain(oversign).find(|n| {
            n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b':' && b != b';')
        });
        if let Some(n) = bad {
            return Err(DkimError::Config(format!("bad header name {n:?}")));
        }
    }
    Ok(())
}
