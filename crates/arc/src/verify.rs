//! Chain validation (RFC 8617 §5.2) in milter stages, like DKIM verification:
//!
//! 1. end of headers: [`Verifier::begin`] collects the sets, checks the structure (steps
//!    1–3), asks the shared [`BodyHashes`] for the message signatures' body hashes and lists
//!    the key records to fetch;
//! 2. [`ChainVerification::key_queries`] gives the DNS names to look up now (or
//!    [`ChainVerification::lookup_keys`] does them all concurrently), answers go back through
//!    [`ChainVerification::set_key_answer`];
//! 3. the caller feeds the body to the shared [`BodyHashes`] once, for every consumer;
//! 4. end of message: [`ChainVerification::finish`] checks the newest ARC-Message-Signature
//!    (step 4), the older ones for oldest-pass (step 5) and every ARC-Seal, newest first
//!    (step 6), stopping at the first failure.

use crypto::CryptoProvider;
use dkim::body_hashes::{BodyHashId, BodyHashKey, BodyHashes, FinishedBodyHashes};
use dkim::check::{KeyCandidates, key_candidates, verify_header_signature};
use dkim::{HeaderField, KeyAnswer, KeyLookups, Reason, Signature};
use dns::Resolver;

use crate::chain::{SetFields, Structure, structure};
use crate::hash_input::seal_hash_input;
use crate::outcome::{ArcOutcome, ArcSetInfo, ChainStatus, FailReason, SignatureCheck};

/// Verifier settings.
#[derive(Clone)]
pub struct VerifyOptions {
    /// The crypto backend.
    pub crypto: &'static dyn CryptoProvider,
    /// How far a `t=` may lie in the future, in seconds (RFC 6376 §3.5 `t=`; default 300).
    pub future_skew: u64,
    /// Compute "oldest-pass" by checking the older message signatures too (RFC 8617 §5.2
    /// step 5, optional; default on). It costs one key lookup per set, and older signatures
    /// with `l=` are not checked (they end the scan), so that the body is hashed at most
    /// three ways.
    pub oldest_pass: bool,
    /// The most ARC sets checked (RFC 8617 §9.2: each costs two key lookups and two signature
    /// checks); a longer chain fails at end of headers, with no DNS query. 1–50; default 50,
    /// the protocol's limit (RFC 8617 §4.2.1).
    pub max_sets: u32,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            crypto: crypto::default_provider(),
            future_skew: 300,
            oldest_pass: true,
            max_sets: crate::fields::MAX_INSTANCE,
        }
    }
}

impl std::fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("future_skew", &self.future_skew)
            .field("oldest_pass", &self.oldest_pass)
            .field("max_sets", &self.max_sets)
            .finish_non_exhaustive()
    }
}

/// An ARC chain validator (RFC 8617 §5.2); cheap to share.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    options: VerifyOptions,
}

/// One message's chain being validated; see the module docs for the flow.
pub struct ChainVerification {
    options: VerifyOptions,
    now: u64,
    state: State,
    keys: KeyLookups,
}

enum State {
    Done(ArcOutcome),
    Pending(Box<Pending>),
}

struct Pending {
    /// A copy of the header fields (the signatures cover any of them).
    headers: Vec<HeaderField>,
    sets: Vec<PendingSet>,
}

struct PendingSet {
    fields: SetFields,
    /// Body hash and key slot of the message signature, when it is to be checked.
    ams: Option<(BodyHashId, usize)>,
    seal_key: usize,
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

    /// Starts validating the chain of a message whose header fields (top to bottom) are
    /// `headers`, at Unix time `now`: collects the sets and checks the structure (RFC 8617
    /// §5.2 steps 1–3), and requests the body hashes the message signatures need from the
    /// shared `hashes` (ask before the first body chunk). Copies the header fields only
    /// when the structure is sound.
    pub fn begin(
        &self,
        headers: &[HeaderField],
        now: u64,
        hashes: &mut BodyHashes,
    ) -> ChainVerification {
        let mut cv = ChainVerification {
            options: self.options.clone(),
            now,
            state: State::Done(ArcOutcome::none()),
            keys: KeyLookups::default(),
        };
        let sets = match structure(headers, self.options.max_sets) {
            Structure::None => return cv,
            Structure::Broken { reason, highest } => {
                cv.state = State::Done(ArcOutcome::fail(reason, highest));
                return cv;
            }
            Structure::Sound(sets) => sets,
        };
        let newest = sets.len();
        let mut pending = Vec::with_capacity(newest);
        let mut scan_older = self.options.oldest_pass;
        for (n, fields) in sets.into_iter().enumerate().rev() {
            let is_newest = n + 1 == newest;
            let mut ams = None;
            if let Ok(sig) = &fields.ams.1 {
                let sig = &sig.signature;
                let checked = is_newest || (scan_older && sig.body_length.is_none());
                if checked {
                    let id = hashes.request(BodyHashKey {
                        canon: sig.body_canon,
                        hash: sig.algorithm.hash(),
                        limit: sig.body_length,
                    });
                    ams = Some((id, cv.keys.slot_for(sig.key_name())));
                }
            }
            if !is_newest && ams.is_none() {
                // oldest-pass stops at the first older signature it cannot check
                scan_older = false;
            }
            let seal_key = cv.keys.slot_for(fields.seal.1.signature.key_name());
            pending.push(PendingSet {
                fields,
                ams,
                seal_key,
            });
        }
        pending.reverse();
        cv.state = State::Pending(Box::new(Pending {
            headers: headers.to_vec(),
            sets: pending,
        }));
        cv
    }
}

impl ChainVerification {
    /// The outcome already decided at end of headers: no chain, or a chain whose structure
    /// fails (RFC 8617 §5.2 steps 1–3). `None` while signatures remain to be checked.
    pub fn early_outcome(&self) -> Option<&ArcOutcome> {
        match &self.state {
            State::Done(o) => Some(o),
            State::Pending(_) => None,
        }
    }

    /// The distinct key record names to look up, `<s>._domainkey.<d>` (RFC 6376 §3.6.2.1,
    /// RFC 8617 §5.2), lowercase. Start these at end of headers. At most two per set.
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

    /// Ends the message and completes the validation with the finished body hashes
    /// (RFC 8617 §5.2 steps 4–7).
    pub fn finish(self, hashes: &FinishedBodyHashes) -> ArcOutcome {
        let pending = match self.state {
            State::Done(o) => return o,
            State::Pending(p) => p,
        };
        let check = Checker {
            crypto: self.options.crypto,
            now: self.now,
            skew: self.options.future_skew,
            keys: &self.keys,
            headers: &pending.headers,
            hashes,
        };
        let sets = &pending.sets;
        let n = u32::try_from(sets.len()).unwrap_or(u32::MAX);
        let mut infos: Vec<ArcSetInfo> = sets.iter().map(info).collect();
        let mut outcome = ArcOutcome {
            result: ChainStatus::Fail,
            reason: None,
            instances: n,
            highest_instance: n,
            oldest_pass: None,
            sets: Vec::new(),
        };
        // step 4: the newest message signature
        let newest = sets.last().map(|s| check.message_signature(s));
        if let Some(info) = infos.last_mut() {
            info.message_signature = check_result(&newest);
        }
        if let Some(Err(reason)) = newest {
            outcome.reason = Some(FailReason::MessageSignature {
                instance: n,
                reason,
            });
            outcome.sets = infos;
            return outcome;
        }
        // step 5: oldest-pass, from N-1 down
        let mut oldest_pass = None;
        if self.options.oldest_pass {
            let mut oldest = 0;
            for (k, set) in sets.iter().enumerate().rev().skip(1) {
                let r = match (&set.fields.ams.1, set.ams) {
                    (Err(e), _) => Some(Err(Reason::SignatureSyntax(e.to_string()))),
                    // not checked (l=, or the scan already stopped): oldest-pass stops here
                    (Ok(_), None) => None,
                    (Ok(_), Some(_)) => Some(check.message_signature(set)),
                };
                if let Some(info) = infos.get_mut(k) {
                    info.message_signature = check_result(&r);
                }
                if !matches!(r, Some(Ok(()))) {
                    oldest = set.fields.instance + 1;
                    break;
                }
            }
            oldest_pass = Some(oldest);
        }
        // step 6: every seal, newest first
        for (k, set) in sets.iter().enumerate().rev() {
            let r = check.seal(sets, k);
            if let Some(info) = infos.get_mut(k) {
                info.seal = check_result(&Some(r.clone()));
            }
            if let Err(reason) = r {
                outcome.reason = Some(FailReason::Seal {
                    instance: set.fields.instance,
                    reason,
                });
                outcome.sets = infos;
                return outcome;
            }
        }
        // step 7
        outcome.result = ChainStatus::Pass;
        outcome.oldest_pass = oldest_pass;
        outcome.sets = infos;
        outcome
    }
}

impl std::fmt::Debug for ChainVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sets = match &self.state {
            State::Done(_) => 0,
            State::Pending(p) => p.sets.len(),
        };
        f.debug_struct("ChainVerification")
            .field("pending_sets", &sets)
            .field("keys", &self.key_queries())
            .finish()
    }
}

fn check_result(r: &Option<Result<(), Reason>>) -> SignatureCheck {
    match r {
        None => SignatureCheck::NotChecked,
        Some(Ok(())) => SignatureCheck::Pass,
        Some(Err(reason)) => SignatureCheck::Fail(reason.clone()),
    }
}

fn info(set: &PendingSet) -> ArcSetInfo {
    let f = &set.fields;
    let seal = &f.seal.1;
    let (signature_domain, signature_selector, signature_algorithm) = match &f.ams.1 {
        Ok(m) => (
            m.signature.domain.clone(),
            m.signature.selector.clone(),
            Some(m.signature.algorithm),
        ),
        Err(_) => (String::new(), String::new(), None),
    };
    ArcSetInfo {
        instance: f.instance,
        cv: seal.cv,
        seal_domain: seal.signature.domain.clone(),
        seal_selector: seal.signature.selector.clone(),
        seal_algorithm: seal.signature.algorithm,
        seal: SignatureCheck::NotChecked,
        signature_domain,
        signature_selector,
        signature_algorithm,
        message_signature: SignatureCheck::NotChecked,
        authentication_results: f.aar.1.payload.clone(),
    }
}

/// What checking one signature needs.
struct Checker<'a> {
    crypto: &'static dyn CryptoProvider,
    now: u64,
    skew: u64,
    keys: &'a KeyLookups,
    headers: &'a [HeaderField],
    hashes: &'a FinishedBodyHashes,
}

impl Checker<'_> {
    /// One ARC-Message-Signature, like a DKIM signature (RFC 8617 §5.2 step 4, RFC 6376
    /// §6.1): time, key, body hash, header signature.
    fn message_signature(&self, set: &PendingSet) -> Result<(), Reason> {
        let (index, sig) = match &set.fields.ams {
            (i, Ok(m)) => (*i, &m.signature),
            (_, Err(e)) => return Err(Reason::SignatureSyntax(e.to_string())),
        };
        let Some((hash, key)) = set.ams else {
            return Err(Reason::BodyHashMismatch);
        };
        sig.check_time(self.now, self.skew)?;
        let body = self.hashes.get(hash).ok_or(Reason::BodyHashNotComputed);
        let body_failure = body.as_ref().ok().and_then(|body| {
            if sig.body_length.is_some_and(|l| body.canonical_length < l) {
                Some(Reason::BodyTooShort)
            } else {
                (body.digest != sig.body_hash).then_some(Reason::BodyHashMismatch)
            }
        });
        let keys = match self.keys(sig, key) {
            Ok(keys) => keys,
            // a body changed since the hop fails the signature whatever DNS answers
            Err(e) if crate::outcome::key_unanswered(&e) => return Err(body_failure.unwrap_or(e)),
            Err(e) => return Err(e),
        };
        body?;
        if let Some(failure) = body_failure {
            return no_key_verified(&keys, failure);
        }
        let data = dkim::verify::header_hash_input(self.headers, index, sig);
        self.verify_with_any(&keys, sig, &data)
    }

    /// The ARC-Seal of `sets[k]` over sets 1..=k (RFC 8617 §5.1.1, §5.2 step 6).
    fn seal(&self, sets: &[PendingSet], k: usize) -> Result<(), Reason> {
        let Some(set) = sets.get(k) else {
            return Err(Reason::KeyNotFetched);
        };
        let sig = &set.fields.seal.1.signature;
        sig.check_time(self.now, self.skew)?;
        let keys = self.keys(sig, set.seal_key)?;
        let fields: Vec<&HeaderField> = sets
            .iter()
            .take(k + 1)
            .flat_map(|s| s.fields.positions())
            .filter_map(|i| self.headers.get(i))
            .collect();
        let data = seal_hash_input(&fields);
        self.verify_with_any(&keys, sig, &data)
    }

    /// The usable keys of `sig` from key slot `slot` (RFC 6376 §6.1.2, RFC 8301): every
    /// usable record at the name is tried (§6.1.2 step 4); none usable is the error.
    fn keys(&self, sig: &Signature, slot: usize) -> Result<KeyCandidates, Reason> {
        let answer = self.keys.answer(slot);
        let candidates = key_candidates(answer, sig.algorithm, None, &sig.domain);
        if candidates.keys.is_empty() {
            return Err(candidates
                .rejection
                .map_or(Reason::NoKeyRecord, |r| r.reason));
        }
        Ok(candidates)
    }

    /// Verifies `sig` over `data` with the first of `keys` that verifies it; when none does,
    /// the first record's answer (RFC 6376 §6.1.2 step 4).
    fn verify_with_any(
        &self,
        keys: &KeyCandidates,
        sig: &Signature,
        data: &[u8],
    ) -> Result<(), Reason> {
        let mut first_failure = None;
        for key in &keys.keys {
            match verify_header_signature(
                self.crypto,
                sig.algorithm,
                &key.record.public_key,
                data,
                &sig.signature,
            ) {
                Ok(()) => return Ok(()),
                Err((_, reason)) => {
                    first_failure.get_or_insert(reason);
                }
            }
        }
        no_key_verified(keys, first_failure.unwrap_or(Reason::SignatureMismatch))
    }
}

/// What a signature's keys answer when none verifies: `failure`, unless the first record at
/// the name was unusable, then why (RFC 6376 §6.1.2 step 4).
fn no_key_verified(keys: &KeyCandidates, failure: Reason) -> Result<(), Reason> {
    Err(keys
        .rejection
        .as_ref()
        .map_or(failure, |r| r.reason.clone()))
}
