//! Streaming verification (RFC 6376 §6, RFC 8301, RFC 8463).
//!
//! The flow follows the milter stages, so DNS overlaps the body transfer:
//!
//! 1. end of headers: [`Verifier::begin`] parses and checks every DKIM-Signature;
//! 2. [`MessageVerification::key_queries`] lists the DNS names to look up now (or let
//!    [`MessageVerification::lookup_keys`] do them all concurrently);
//! 3. each body chunk goes to [`MessageVerification::body`] (one hasher per distinct
//!    canonicalization, hash and `l=`);
//! 4. at end of message, hand over the DNS answers ([`MessageVerification::set_key_answer`]) and
//!    call [`MessageVerification::finish`] with the same header fields for one
//!    [`SignatureResult`] per signature. The header data each signature signs (RFC 6376 §3.7)
//!    is computed then, so that no copy of it is held while the body streams.

use crypto::CryptoProvider;
use dns::Resolver;

use crate::body_hashes::{BodyHashId, BodyHashKey, BodyHashes, FinishedBodyHashes};
use crate::canon::{BodyHash, canonicalize_header, select_headers};
use crate::check::{key_candidates, verify_header_signature};
use crate::key_lookups::{KeyAnswer, KeyLookups};
use crate::message::HeaderField;
use crate::result::{DkimResult, Reason, SignatureResult};
use crate::signature::{Algorithm, HEADER_NAME, PartialSignature, Signature, strip_b_value};

/// What to do with rsa-sha1 signatures (RFC 8301 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaSha1Policy {
    /// Result `policy`, reason "rsa-sha1 is not acceptable (RFC 8301)", no DNS, no crypto.
    #[default]
    Policy,
    /// Result `fail` with the same reason.
    Fail,
    /// Legacy: verify rsa-sha1 like RFC 6376 did. Only for old corpora and explicit opt-in.
    Verify,
}

/// Verifier settings.
#[derive(Clone)]
pub struct VerifyOptions {
    /// rsa-sha1 handling (RFC 8301 §3.1); default [`RsaSha1Policy::Policy`].
    pub rsa_sha1: RsaSha1Policy,
    /// Most signatures evaluated per message (default 8); further ones get `permerror`
    /// "too many signatures". Signatures that fail to parse do not count.
    pub max_signatures: usize,
    /// How far `t=` may lie in the future, in seconds (default 300; RFC 6376 §3.5 `t=`).
    pub future_skew: u64,
    /// A verifying signature whose `l=` leaves part of the body unsigned passes (RFC 6376
    /// as written, the default here); when false it gets `policy` (RFC 6376 §8.2: appended
    /// content is unauthenticated).
    pub allow_partial_body: bool,
    /// The crypto backend.
    pub crypto: &'static dyn CryptoProvider,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            rsa_sha1: RsaSha1Policy::Policy,
            max_signatures: 8,
            future_skew: 300,
            allow_partial_body: true,
            crypto: crypto::default_provider(),
        }
    }
}

impl std::fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("rsa_sha1", &self.rsa_sha1)
            .field("max_signatures", &self.max_signatures)
            .field("future_skew", &self.future_skew)
            .field("allow_partial_body", &self.allow_partial_body)
            .finish_non_exhaustive()
    }
}

/// A DKIM verifier (RFC 6376 §6); cheap to share.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    options: VerifyOptions,
}

/// One message being verified; see the module docs for the flow.
pub struct MessageVerification {
    options: VerifyOptions,
    entries: Vec<Entry>,
    /// The body hashes, when this verification owns them ([`Verifier::begin`]); `None` when
    /// they are shared with other consumers ([`Verifier::begin_shared`]).
    own_hashes: Option<BodyHashes>,
    keys: KeyLookups,
    /// How many header fields [`Verifier::begin_shared`] saw: a field appended later is no
    /// part of the header block the signatures were checked against.
    header_count: usize,
}

struct Entry {
    partial: PartialSignature,
    body_length: Option<u64>,
    state: EntryState,
}

enum EntryState {
    Done(DkimResult, Reason),
    Pending {
        sig: Box<Signature>,
        /// The signature's position among the header fields.
        position: usize,
        hash: BodyHashId,
        key: usize,
    },
}

impl Verifier {
    /// A verifier with `options`.
    pub fn new(options: VerifyOptions) -> Self {
        Verifier { options }
    }

    /// The settings.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// Starts verifying a message whose header fields (top to bottom) are `headers`, at Unix
    /// time `now` (injectable clock for `x=`/`t=`, RFC 6376 §3.5). Parses and checks every
    /// DKIM-Signature (RFC 6376 §6.1.1); [`MessageVerification::finish`] takes the same header
    /// fields again for the header hash input (§3.7). The verification hashes the body itself:
    /// feed it with [`MessageVerification::body`].
    pub fn begin(&self, headers: &[HeaderField], now: u64) -> MessageVerification {
        self.begin_preferring(headers, now, |_| false)
    }

    /// Like [`Verifier::begin`], the budget spent as [`Verifier::begin_shared`] spends it
    /// (signatures whose `d=` `could_align` with the author domain first; RFC 6376 §6.1).
    pub fn begin_preferring(
        &self,
        headers: &[HeaderField],
        now: u64,
        could_align: impl Fn(&str) -> bool,
    ) -> MessageVerification {
        let mut hashes = BodyHashes::new(self.options.crypto);
        let mut mv = self.begin_shared(headers, now, &mut hashes, could_align);
        mv.own_hashes = Some(hashes);
        mv
    }

    /// Like [`Verifier::begin`], with body hashes shared with other consumers (our own
    /// signatures, ARC): the caller feeds `hashes` and hands the finished hashes to
    /// [`MessageVerification::finish_shared`]. Signatures whose `d=` `could_align` with the
    /// author domain are evaluated first, so that junk signatures cannot use up the budget
    /// of `max_signatures` before one that matters for DMARC (RFC 6376 §6.1 lets verifiers
    /// limit the work); results keep header order.
    pub fn begin_shared(
        &self,
        headers: &[HeaderField],
        now: u64,
        hashes: &mut BodyHashes,
        could_align: impl Fn(&str) -> bool,
    ) -> MessageVerification {
        let mut mv = MessageVerification {
            options: self.options.clone(),
            entries: Vec::new(),
            own_hashes: None,
            keys: KeyLookups::default(),
            header_count: headers.len(),
        };
        // parse every signature first (parse failures never count against the budget)
        let mut parsed: Vec<(usize, Result<Signature, crate::signature::SignatureError>)> =
            Vec::new();
        for (index, field) in headers.iter().enumerate() {
            if field.name_is(HEADER_NAME) {
                parsed.push((index, Signature::parse(&field.value)));
            }
        }
        // the budget goes to signatures that could align first, then the rest, in order
        // (when every signature fits, all are budgeted and `could_align` is never asked)
        let fits = parsed.len() <= self.options.max_signatures;
        let mut budgeted = vec![fits; parsed.len()];
        let mut remaining = self.options.max_signatures;
        for pass in [true, false] {
            if fits {
                break;
            }
            for (slot, (_, sig)) in parsed.iter().enumerate() {
                if remaining == 0 {
                    break;
                }
                if let Ok(sig) = sig
                    && could_align(&sig.domain) == pass
                    && budgeted.get(slot) == Some(&false)
                {
                    if let Some(b) = budgeted.get_mut(slot) {
                        *b = true;
                    }
                    remaining -= 1;
                }
            }
        }
        for (slot, (index, sig)) in parsed.into_iter().enumerate() {
            let sig = match sig {
                Ok(s) => s,
                Err(e) => {
                    mv.entries.push(Entry {
                        partial: *e.partial,
                        body_length: None,
                        state: EntryState::Done(DkimResult::PermError, e.reason),
                    });
                    continue;
                }
            };
            let partial = PartialSignature {
                domain: sig.domain.clone(),
                selector: sig.selector.clone(),
                algorithm: Some(sig.algorithm),
                identity: sig.identity.clone(),
                signature_b64: sig.signature_b64.clone(),
            };
            let body_length = sig.body_length;
            let done = |result, reason| Entry {
                partial: partial.clone(),
                body_length,
                state: EntryState::Done(result, reason),
            };
            if budgeted.get(slot) != Some(&true) {
                mv.entries
                    .push(done(DkimResult::PermError, Reason::TooManySignatures));
                continue;
            }
            if let Err(reason) = sig.check_time(now, self.options.future_skew) {
                mv.entries.push(done(DkimResult::PermError, reason));
                continue;
            }
            if sig.algorithm == Algorithm::RsaSha1 {
                match self.options.rsa_sha1 {
                    RsaSha1Policy::Policy => {
                        mv.entries
                            .push(done(DkimResult::Policy, Reason::RsaSha1NotAcceptable));
                        continue;
                    }
                    RsaSha1Policy::Fail => {
                        mv.entries
                            .push(done(DkimResult::Fail, Reason::RsaSha1NotAcceptable));
                        continue;
                    }
                    RsaSha1Policy::Verify => {}
                }
            }
            let hash = hashes.request(BodyHashKey {
                canon: sig.body_canon,
                hash: sig.algorithm.hash(),
                limit: sig.body_length,
            });
            let key = mv.keys.slot_for(sig.key_name());
            mv.entries.push(Entry {
                partial,
                body_length,
                state: EntryState::Pending {
                    sig: Box::new(sig),
                    position: index,
                    hash,
                    key,
                },
            });
        }
        mv
    }
}

impl MessageVerification {
    /// Number of DKIM-Signature header fields found.
    pub fn signature_count(&self) -> usize {
        self.entries.len()
    }

    /// The distinct key record names to look up, `<s>._domainkey.<d>` (RFC 6376 §3.6.2.1),
    /// lowercase, in signature order. Start these at end of headers.
    pub fn key_queries(&self) -> Vec<String> {
        self.keys.names()
    }

    /// Hands over the answer of the TXT lookup for `name` (one of [`Self::key_queries`]).
    pub fn set_key_answer(&mut self, name: &str, answer: KeyAnswer) {
        self.keys.set_answer(name, answer);
    }

    /// Looks up every key through `resolver`, concurrently, and stores the answers.
    pub async fn lookup_keys<R: Resolver + ?Sized>(&mut self, resolver: &R) {
        self.keys.lookup_all(resolver).await;
    }

    /// Feeds a chunk of the body (CRLF line endings), split anywhere (RFC 6376 §3.4.3–§3.4.4),
    /// when this verification owns its body hashes ([`Verifier::begin`]); with shared hashes
    /// the caller feeds [`BodyHashes`] instead and this does nothing.
    pub fn body(&mut self, chunk: &[u8]) {
        if let Some(h) = self.own_hashes.as_mut() {
            h.update(chunk);
        }
    }

    /// Ends the message and evaluates every signature (RFC 6376 §6.1.2–§6.1.3), in header
    /// order, with the body hashes this verification computed itself. `headers` are the
    /// header fields given to [`Verifier::begin`].
    pub fn finish(mut self, headers: &[HeaderField]) -> Vec<SignatureResult> {
        let hashes = self
            .own_hashes
            .take()
            .map(BodyHashes::finish)
            .unwrap_or_default();
        self.finish_shared(&hashes, headers)
    }

    /// Ends the message and evaluates every signature (RFC 6376 §6.1.2–§6.1.3), in header
    /// order, with shared body hashes ([`Verifier::begin_shared`]). `headers` are the header
    /// fields given to [`Verifier::begin_shared`]; each signature's header data (§3.7) is
    /// computed from them now.
    pub fn finish_shared(
        self,
        hashes: &FinishedBodyHashes,
        headers: &[HeaderField],
    ) -> Vec<SignatureResult> {
        let crypto = self.options.crypto;
        let headers = headers.get(..self.header_count).unwrap_or(headers);
        let mut results: Vec<SignatureResult> = Vec::with_capacity(self.entries.len());
        for (index, entry) in self.entries.into_iter().enumerate() {
            let mut key_bits = None;
            let mut testing = false;
            let (result, reason) = match entry.state {
                EntryState::Done(r, reason) => (r, Some(reason)),
                EntryState::Pending {
                    sig,
                    position,
                    hash,
                    key,
                } => {
                    let answer = self.keys.answer(key);
                    let body = hashes.get(hash);
                    let header_data = header_hash_input(headers, position, &sig);
                    let mut outcome = evaluate(crypto, &sig, &header_data, body, answer);
                    if outcome.result == DkimResult::Pass
                        && !self.options.allow_partial_body
                        && let (Some(signed), Some(b)) = (sig.body_length, body)
                        && b.canonical_length > signed
                    {
                        outcome.result = DkimResult::Policy;
                        outcome.reason = Some(Reason::PartialBody {
                            signed,
                            total: b.canonical_length,
                        });
                    }
                    key_bits = outcome.key_bits;
                    testing = outcome.testing;
                    (outcome.result, outcome.reason)
                }
            };
            let p = entry.partial;
            results.push(SignatureResult {
                result,
                reason,
                domain: p.domain,
                selector: p.selector,
                algorithm: p.algorithm,
                identity: p.identity,
                header_b: p.signature_b64,
                testing,
                key_bits,
                body_length: entry.body_length,
                index,
            });
        }
        shorten_header_b(&mut results);
        results
    }
}

impl std::fmt::Debug for MessageVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageVerification")
            .field("signatures", &self.entries.len())
            .field("own_hashes", &self.own_hashes)
            .field("keys", &self.key_queries())
            .finish()
    }
}

/// The key record DNS name for a selector and domain (RFC 6376 §3.6.2.1), lowercase, with
/// U-labels as A-labels (RFC 8616 §5: an internationalized message may carry U-labels in `d=`
/// and `s=`; the DNS holds A-labels), each converted on its own as IDNA's bidi rule applies
/// per domain. A part IDNA refuses stays as written, lowercased (a parsed signature has none):
/// the DNS crate refuses to query a name that is not ASCII, so its lookup is a permerror.
pub fn key_name(selector: &str, domain: &str) -> String {
    let ascii = |part: &str| {
        if part.is_ascii() {
            return part.to_ascii_lowercase();
        }
        dns::name::to_ascii(part.as_bytes()).unwrap_or_else(|_| part.to_lowercase())
    };
    format!("{}._domainkey.{}", ascii(selector), ascii(domain))
}

/// The data the header signature covers (RFC 6376 §3.7): the selected header fields
/// canonicalized, then the signature field itself with `b=` emptied and no final CRLF.
pub fn header_hash_input(headers: &[HeaderField], own: usize, sig: &Signature) -> Vec<u8> {
    let mut data = Vec::with_capacity(1024);
    for h in select_headers(headers, sig.signed_headers.iter(), Some(own)) {
        canonicalize_header(sig.header_canon, &h.name, &h.value, &mut data);
    }
    if let Some(field) = headers.get(own) {
        canonicalize_header(
            sig.header_canon,
            &field.name,
            &strip_b_value(&field.value),
            &mut data,
        );
        data.truncate(data.len().saturating_sub(2));
    }
    data
}

struct Outcome {
    result: DkimResult,
    reason: Option<Reason>,
    key_bits: Option<u32>,
    testing: bool,
}

fn evaluate(
    crypto: &dyn CryptoProvider,
    sig: &Signature,
    header_data: &[u8],
    body: Option<&BodyHash>,
    answer: Option<&KeyAnswer>,
) -> Outcome {
    let mut out = Outcome {
        result: DkimResult::PermError,
        reason: None,
        key_bits: None,
        testing: false,
    };
    let fail = |mut o: Outcome, r: DkimResult, reason: Reason| {
        o.result = r;
        o.reason = Some(reason);
        o
    };
    // RFC 6376 §6.1.2: the key.
    let i_domain = sig
        .identity
        .as_deref()
        .and_then(|i| i.rfind('@').and_then(|at| i.get(at + 1..)));
    let candidates = key_candidates(answer, sig.algorithm, i_domain, &sig.domain);
    // when no key verifies, the first record's answer stands (§6.1.2 step 4)
    let give_up = |mut o: Outcome, failure: Option<(DkimResult, Reason)>| match (
        &candidates.rejection,
        failure,
    ) {
        (Some(rejection), _) => {
            o.testing = rejection.testing;
            o.key_bits = rejection.bits;
            fail(o, rejection.result, rejection.reason.clone())
        }
        (None, Some((result, reason))) => fail(o, result, reason),
        (None, None) => fail(o, DkimResult::PermError, Reason::NoKeyRecord),
    };
    let Some(first) = candidates.keys.first() else {
        return give_up(out, None);
    };
    out.testing = first.record.testing;
    out.key_bits = Some(first.bits);
    // RFC 6376 §6.1.3: the body hash, then the header signature.
    let Some(body) = body else {
        return give_up(
            out,
            Some((DkimResult::TempError, Reason::BodyHashNotComputed)),
        );
    };
    if let Some(l) = sig.body_length
        && body.canonical_length < l
    {
        return give_up(out, Some((DkimResult::Fail, Reason::BodyTooShort)));
    }
    if body.digest != sig.body_hash {
        return give_up(out, Some((DkimResult::Fail, Reason::BodyHashMismatch)));
    }
    let mut first_failure = None;
    for key in &candidates.keys {
        match verify_header_signature(
            crypto,
            sig.algorithm,
            &key.record.public_key,
            header_data,
            &sig.signature,
        ) {
            Ok(()) => {
                out.result = DkimResult::Pass;
                out.testing = key.record.testing;
                out.key_bits = Some(key.bits);
                return out;
            }
            Err(failure) => {
                first_failure.get_or_insert(failure);
            }
        }
    }
    give_up(out, first_failure)
}

/// The longest `header.b` we write (RFC 6008 §4): the base64 length of the largest signature
/// a key we accept can make (RSA-8192, [`crypto::MAX_RSA_VERIFY_BITS`]). A longer `b=` cannot
/// verify.
pub const MAX_HEADER_B: usize = (crypto::MAX_RSA_VERIFY_BITS as usize / 8).div_ceil(3) * 4;

/// Cuts each `header.b` to the shortest prefix of at least 8 characters that no other
/// signature of the message shares (RFC 6008 §4), and to at most [`MAX_HEADER_B`] characters,
/// so that a hostile `b=` cannot blow up our Authentication-Results. The longest prefix a
/// value shares with any other is the one it shares with a neighbour in sorted order: one
/// sort and one comparison per neighbour pair, not every prefix against every value.
fn shorten_header_b(results: &mut [SignatureResult]) {
    let mut order: Vec<usize> = (0..results.len()).collect();
    let b = |i: usize| results.get(i).map_or("", |r| r.header_b.as_str());
    order.sort_by(|&x, &y| b(x).cmp(b(y)));
    let mut need = vec![8usize; results.len()];
    for pair in order.windows(2) {
        if let [x, y] = *pair {
            let shared = common_prefix_len(b(x).as_bytes(), b(y).as_bytes());
            for i in [x, y] {
                if let Some(n) = need.get_mut(i) {
                    *n = (*n).max(shared + 1);
                }
            }
        }
    }
    for (r, n) in results.iter_mut().zip(need) {
        let mut len = n.min(MAX_HEADER_B).min(r.header_b.len());
        // a `b=` that did not parse may hold non-ASCII: cut on a character boundary
        while !r.header_b.is_char_boundary(len) {
            len -= 1;
        }
        r.header_b.truncate(len);
    }
}

/// How many leading bytes `a` and `b` share.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
