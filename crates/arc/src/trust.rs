//! What a trusted sealer vouched for (RFC 8617 §7.2.1 "DMARC Local Policy Overrides"): the
//! pass result for the message's author domain that a trusted hop recorded in its
//! ARC-Authentication-Results, for a local policy that lets it stand in for a DMARC fail.

use std::fmt;

use crate::outcome::{
    ArcOutcome, ArcSetInfo, ChainStatus, FailReason, SignatureCheck, key_unanswered,
};

/// Which recorded result rescues the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PassKind {
    /// `dmarc=pass header.from=<the From domain>` (RFC 7489 §11.2 / RFC 9989).
    Dmarc,
    /// `dkim=pass header.d=<aligned domain>` (or `header.i` when there is no `header.d`).
    Dkim,
    /// `spf=pass smtp.mailfrom=<address at an aligned domain>`.
    Spf,
}

impl PassKind {
    /// The A-R method name.
    pub fn method(self) -> &'static str {
        match self {
            PassKind::Dmarc => "dmarc",
            PassKind::Dkim => "dkim",
            PassKind::Spf => "spf",
        }
    }
}

/// A pass for the author domain recorded by a trusted sealer (RFC 8617 §7.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedPass {
    /// The set's instance.
    pub instance: u32,
    /// The sealer, ARC-Seal `d=`.
    pub sealer: String,
    /// The authserv-id of the AAR.
    pub authserv_id: String,
    /// What passed.
    pub kind: PassKind,
    /// The property that names the domain: `header.from`, `header.d`, `header.i` or
    /// `smtp.mailfrom`.
    pub property: String,
    /// Its value as recorded.
    pub value: String,
}

impl fmt::Display for TrustedPass {
    /// `trusted ARC sealer google.com (i=1) recorded dmarc=pass header.from=example.com`:
    /// the text for the DMARC entry's `reason=` and for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "trusted ARC sealer {} (i={}) recorded {}=pass {}={}",
            self.sealer,
            self.instance,
            self.kind.method(),
            self.property,
            self.value
        )
    }
}

impl ArcOutcome {
    /// The first pass for `from_domain` that a trusted sealer recorded, looking at the sets
    /// [`ArcOutcome::trusted_sets`] allows, newest first (RFC 8617 §7.2.1). A `dmarc=pass`
    /// counts when its `header.from` is `from_domain` (ASCII case ignored); a `dkim=pass` or
    /// `spf=pass` when `aligned(kind, domain)` says its domain aligns with `from_domain`
    /// (the caller applies the DMARC record's `adkim`/`aspf` and the organizational domain).
    /// `None` unless the chain passes.
    pub fn trusted_pass(
        &self,
        is_trusted: impl Fn(&str) -> bool,
        from_domain: &str,
        aligned: impl Fn(PassKind, &str) -> bool,
    ) -> Option<TrustedPass> {
        recorded_pass(self.trusted_sets(is_trusted), from_domain, aligned)
    }

    /// The pass [`ArcOutcome::trusted_pass`] would find had the chain validated, when it
    /// failed only because DNS did not answer for a key: a rescue DNS kept undecided. RFC
    /// 8617 §5.2.1 makes the chain `fail`; what is done with the message is local policy
    /// (§7.2.1), and a permanent rejection for a temporary DNS failure is not. The key is a
    /// trusted sealer's (its ARC-Seal's or ARC-Message-Signature's `d=`), or an older set's
    /// below a trusted set whose seal verified (that sealer vouched for the chain below it);
    /// a key of an untrusted hop newer than every verified trusted seal decides nothing (its
    /// owner could make it time out at will). As in [`ArcOutcome::trusted_sets`], a trusted
    /// set counts when every later sealer is trusted or the message is not known to have
    /// changed since (its ARC-Message-Signature did not fail for a reason of its own).
    pub fn trusted_pass_undecided(
        &self,
        is_trusted: impl Fn(&str) -> bool,
        from_domain: &str,
        aligned: impl Fn(PassKind, &str) -> bool,
    ) -> Option<TrustedPass> {
        if self.result == ChainStatus::Pass {
            return self.passed_but_unanswered(&is_trusted, from_domain, &aligned);
        }
        if self.result != ChainStatus::Fail {
            return None;
        }
        let reason = self.reason.as_ref().filter(|r| r.is_temporary())?;
        let (failed, key_domain) = match reason {
            FailReason::MessageSignature { instance, .. } => {
                (*instance, &self.set(*instance)?.signature_domain)
            }
            FailReason::Seal { instance, .. } => (*instance, &self.set(*instance)?.seal_domain),
            _ => return None,
        };
        let key_trusted = is_trusted(key_domain);
        // after an untrusted later hop, the message must be what the trusted sealer saw: its
        // ARC-Message-Signature verified, or (when its own key is what DNS did not answer, no
        // attacker's doing) failed only for that. Never when it was not checked: the
        // oldest-pass scan stops at the first newer signature that fails, and one more set
        // from whoever changed the message would hide the change
        let unchanged_since = |s: &ArcSetInfo| match &s.message_signature {
            SignatureCheck::Pass => true,
            SignatureCheck::Fail(r) => key_trusted && key_unanswered(r),
            SignatureCheck::NotChecked => false,
        };
        let sets = self
            .newest_first(&is_trusted)
            .filter(|(set, trusted, all_later_trusted)| {
                let vouches =
                    key_trusted || (set.instance > failed && set.seal == SignatureCheck::Pass);
                *trusted && vouches && (*all_later_trusted || unchanged_since(set))
            })
            .map(|(set, _, _)| set)
            .collect();
        recorded_pass(sets, from_domain, aligned)
    }

    /// In a chain that passed, the pass a trusted set recorded that [`ArcOutcome::trusted_sets`]
    /// leaves out only because the trusted sealer's own key for its ARC-Message-Signature did
    /// not answer (a later hop is untrusted, and whether the message is unchanged since is
    /// what that signature would tell). `None` when a trusted pass is found without it.
    fn passed_but_unanswered(
        &self,
        is_trusted: &impl Fn(&str) -> bool,
        from_domain: &str,
        aligned: &impl Fn(PassKind, &str) -> bool,
    ) -> Option<TrustedPass> {
        if self
            .trusted_pass(is_trusted, from_domain, aligned)
            .is_some()
        {
            return None;
        }
        let sets = self
            .newest_first(is_trusted)
            .filter(|(set, trusted, all_later_trusted)| {
                let unanswered = matches!(
                    &set.message_signature,
                    SignatureCheck::Fail(r) if key_unanswered(r)
                );
                *trusted && !*all_later_trusted && unanswered && is_trusted(&set.signature_domain)
            })
            .map(|(set, _, _)| set)
            .collect();
        recorded_pass(sets, from_domain, aligned)
    }
}

/// The first pass for `from_domain` recorded in the AAR of one of `sets` (newest first).
fn recorded_pass(
    sets: Vec<&ArcSetInfo>,
    from_domain: &str,
    aligned: impl Fn(PassKind, &str) -> bool,
) -> Option<TrustedPass> {
    let from = from_domain.trim_end_matches('.');
    for set in sets {
        let Ok(ar) = &set.authentication_results else {
            continue;
        };
        // the AAR reads as Authentication-Results (RFC 8617 §4.1.1): a field of a version
        // we do not know is not read, a result of a method version we do not know is
        // ignored (RFC 8601 §2.6)
        let known = |version: Option<u32>| version.is_none_or(|v| v == 1);
        if !known(ar.version) {
            continue;
        }
        for r in ar
            .results
            .iter()
            .filter(|r| r.result == "pass" && known(r.method_version))
        {
            let found = match r.method.as_str() {
                "dmarc" => r
                    .property("header", "from")
                    .filter(|d| d.trim_end_matches('.').eq_ignore_ascii_case(from))
                    .map(|d| (PassKind::Dmarc, "header.from", d)),
                "dkim" => {
                    let by_d = r.property("header", "d").map(|d| ("header.d", d, d));
                    let by_i = || {
                        r.property("header", "i")
                            .map(|i| ("header.i", i, i.rsplit('@').next().unwrap_or(i)))
                    };
                    by_d.or_else(by_i)
                        .filter(|(_, _, d)| aligned(PassKind::Dkim, d))
                        .map(|(p, v, _)| (PassKind::Dkim, p, v))
                }
                "spf" => r
                    .property("smtp", "mailfrom")
                    .filter(|m| {
                        let d = m.rsplit('@').next().unwrap_or(m);
                        aligned(PassKind::Spf, d)
                    })
                    .map(|m| (PassKind::Spf, "smtp.mailfrom", m)),
                _ => None,
            };
            if let Some((kind, property, value)) = found {
                return Some(pass(set, &ar.authserv_id, kind, property, value));
            }
        }
    }
    None
}

fn pass(
    set: &ArcSetInfo,
    authserv_id: &str,
    kind: PassKind,
    property: &str,
    value: &str,
) -> TrustedPass {
    TrustedPass {
        instance: set.instance,
        sealer: set.seal_domain.to_ascii_lowercase(),
        authserv_id: authserv_id.to_string(),
        kind,
        property: property.to_string(),
        value: value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dkim::Algorithm;

    fn outcome(aar: &str) -> ArcOutcome {
        let ar = authres::parse(aar.as_bytes()).unwrap();
        ArcOutcome {
            result: ChainStatus::Pass,
            reason: None,
            instances: 1,
            highest_instance: 1,
            oldest_pass: Some(0),
            sets: vec![ArcSetInfo {
                instance: 1,
                cv: ChainStatus::None,
                seal_domain: "Google.com".into(),
                seal_selector: "arc-20240605".into(),
                seal_algorithm: Algorithm::RsaSha256,
                seal: SignatureCheck::Pass,
                signature_domain: "google.com".into(),
                signature_selector: "arc-20240605".into(),
                signature_algorithm: Some(Algorithm::RsaSha256),
                message_signature: SignatureCheck::Pass,
                authentication_results: Ok(ar),
            }],
        }
    }

    fn google(d: &str) -> bool {
        d.eq_ignore_ascii_case("google.com")
    }

    /// Relaxed alignment stand-in: same domain or a subdomain of example.com.
    fn aligned(_: PassKind, d: &str) -> bool {
        d == "example.com" || d.ends_with(".example.com")
    }

    #[test]
    fn dmarc_dkim_spf_passes() {
        let o = outcome(
            "mx.google.com; dkim=pass header.i=@example.com header.s=s1; \
             spf=fail smtp.mailfrom=a@example.com; dmarc=pass (p=REJECT) header.from=example.com",
        );
        let p = o.trusted_pass(google, "Example.com.", aligned).unwrap();
        // the first matching result in the AAR's order
        assert_eq!(p.kind, PassKind::Dkim);
        assert_eq!(
            p.to_string(),
            "trusted ARC sealer google.com (i=1) recorded dkim=pass header.i=@example.com"
        );
        let o = outcome("mx.google.com; dmarc=pass header.from=example.com");
        assert_eq!(
            o.trusted_pass(google, "example.com", aligned)
                .unwrap()
                .to_string(),
            "trusted ARC sealer google.com (i=1) recorded dmarc=pass header.from=example.com"
        );
        let o = outcome("mx.google.com; spf=pass smtp.mailfrom=bounce@mail.example.com");
        assert_eq!(
            o.trusted_pass(google, "example.com", aligned).unwrap().kind,
            PassKind::Spf
        );
    }

    /// RFC 8617 §5.2.1 makes a chain whose key DNS did not answer `fail`; the pass a trusted
    /// sealer recorded is then undecided (never granted), but only when the key that did not
    /// answer is a trusted sealer's: a key of another domain could be made to time out by
    /// its owner, and a permanent failure decides the chain.
    #[test]
    fn a_trusted_sealers_pass_is_undecided_only_when_its_own_key_did_not_answer() {
        let failed = |reason: FailReason| {
            let mut o = outcome("mx.google.com; dmarc=pass header.from=example.com");
            o.result = ChainStatus::Fail;
            o.reason = Some(reason);
            o
        };
        let timed_out = |instance| FailReason::Seal {
            instance,
            reason: dkim::Reason::DnsTimeout,
        };
        let o = failed(timed_out(1));
        assert_eq!(o.trusted_pass(google, "example.com", aligned), None);
        let p = o
            .trusted_pass_undecided(google, "example.com", aligned)
            .unwrap();
        assert_eq!(p.kind, PassKind::Dmarc);
        assert_eq!(
            o.trusted_pass_undecided(|_| false, "example.com", aligned),
            None
        );
        assert_eq!(
            o.trusted_pass_undecided(google, "example.net", aligned),
            None
        );
        // the signature's key of another domain
        let mut o = failed(FailReason::MessageSignature {
            instance: 1,
            reason: dkim::Reason::DnsTimeout,
        });
        o.sets[0].signature_domain = "evil.example".into();
        assert_eq!(
            o.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        // a failure DNS did not cause, or an instance that is not there
        let o = failed(FailReason::Seal {
            instance: 1,
            reason: dkim::Reason::SignatureMismatch,
        });
        assert_eq!(
            o.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        let o = failed(timed_out(2));
        assert_eq!(
            o.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        // a chain that passed is decided
        let o = outcome("mx.google.com; dmarc=pass header.from=example.com");
        assert_eq!(
            o.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
    }

    /// Two sets, `older` (i=1) and `newer` (i=2), each recording a pass for example.com; the
    /// chain failed on DNS at the seal of instance `failed`, the seals above it verified.
    fn two_sets(older: &str, newer: &str, failed: u32) -> ArcOutcome {
        let mut o = outcome("mx.sealer.example; dmarc=pass header.from=example.com");
        let mut second = o.sets[0].clone();
        second.instance = 2;
        second.cv = ChainStatus::Pass;
        o.sets[0].seal_domain = older.into();
        o.sets[0].signature_domain = older.into();
        second.seal_domain = newer.into();
        second.signature_domain = newer.into();
        o.sets.push(second);
        for set in &mut o.sets {
            if set.instance <= failed {
                set.seal = SignatureCheck::NotChecked;
            }
        }
        o.instances = 2;
        o.highest_instance = 2;
        o.oldest_pass = None;
        o.result = ChainStatus::Fail;
        o.reason = Some(FailReason::Seal {
            instance: failed,
            reason: dkim::Reason::DnsTimeout,
        });
        o
    }

    /// A key of an untrusted sealer older than a trusted one timing out: the trusted sealer,
    /// whose seal we verified, vouched for the chain below it (cv=pass) and recorded a pass,
    /// so only DNS stands between the message and its rescue: undecided (a deferral), not a
    /// permanent rejection. An untrusted hop newer than the trusted one decides nothing.
    #[test]
    fn an_older_untrusted_key_timing_out_below_a_verified_trusted_seal_is_undecided() {
        let o = two_sets("b.example", "google.com", 1);
        let p = o
            .trusted_pass_undecided(google, "example.com", aligned)
            .unwrap();
        assert_eq!(p.instance, 2);
        // the trusted seal itself not verified: nothing
        let mut unverified = o.clone();
        unverified.sets[1].seal = SignatureCheck::NotChecked;
        assert_eq!(
            unverified.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        // an untrusted hop after the trusted one: only if the message is known unchanged since
        // (google's ARC-Message-Signature verified), not when its check never ran
        let mut three = o.clone();
        let mut third = three.sets[1].clone();
        third.instance = 3;
        third.seal_domain = "evil.example".into();
        third.signature_domain = "evil.example".into();
        three.sets.push(third);
        three.sets[1].message_signature = SignatureCheck::NotChecked;
        assert_eq!(
            three.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        three.sets[1].message_signature = SignatureCheck::Fail(dkim::Reason::DnsTimeout);
        assert_eq!(
            three.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        three.sets[1].message_signature = SignatureCheck::Pass;
        assert!(
            three
                .trusted_pass_undecided(google, "example.com", aligned)
                .is_some()
        );
        // the untrusted hop is the newer one: decided (rejected) as before
        let o = two_sets("google.com", "evil.example", 2);
        assert_eq!(
            o.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
    }

    /// The trusted sealer's own key timing out leaves its pass undecided, unless a later
    /// untrusted hop is known to have changed the message since (its ARC-Message-Signature
    /// failed for a reason DNS did not cause): then no answer could rescue it.
    #[test]
    fn a_trusted_pass_a_later_untrusted_hop_invalidated_is_not_undecided() {
        let mut o = two_sets("google.com", "a.example", 1);
        o.sets[0].message_signature = SignatureCheck::Fail(dkim::Reason::BodyHashMismatch);
        assert_eq!(
            o.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        // never checked (the oldest-pass scan stopped at a newer signature that failed: one
        // more set from whoever changed the message hides the change)
        o.sets[0].message_signature = SignatureCheck::NotChecked;
        assert_eq!(
            o.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        for unknown in [
            SignatureCheck::Fail(dkim::Reason::DnsTimeout),
            SignatureCheck::Pass,
        ] {
            o.sets[0].message_signature = unknown.clone();
            assert!(
                o.trusted_pass_undecided(google, "example.com", aligned)
                    .is_some(),
                "{unknown:?}"
            );
        }
        // a later trusted hop vouches for the change
        let mut o = two_sets("google.com", "google.com", 1);
        o.sets[0].message_signature = SignatureCheck::Fail(dkim::Reason::BodyHashMismatch);
        assert!(
            o.trusted_pass_undecided(google, "example.com", aligned)
                .is_some()
        );
    }

    /// A chain that passed, the trusted sealer (i=1) followed by an untrusted hop (i=2) that
    /// changed nothing, and the trusted sealer's own ARC-Message-Signature key timed out: the
    /// oldest-pass scan stops there, so the trusted set is left out and the message was
    /// rejected (550) for a temporary failure. Undecided (a deferral), unless that signature
    /// failed for a reason of its own or its key is not the trusted sealer's.
    #[test]
    fn a_passing_chain_whose_trusted_signature_key_did_not_answer_is_undecided() {
        let mut o = two_sets("google.com", "a.example", 0);
        o.result = ChainStatus::Pass;
        o.reason = None;
        o.oldest_pass = Some(2);
        for set in &mut o.sets {
            set.seal = SignatureCheck::Pass;
        }
        o.sets[0].message_signature = SignatureCheck::Fail(dkim::Reason::DnsTimeout);
        assert_eq!(o.trusted_pass(google, "example.com", aligned), None);
        let p = o
            .trusted_pass_undecided(google, "example.com", aligned)
            .unwrap();
        assert_eq!(p.instance, 1);
        let mut changed = o.clone();
        changed.sets[0].message_signature = SignatureCheck::Fail(dkim::Reason::BodyHashMismatch);
        assert_eq!(
            changed.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        let mut not_its_key = o.clone();
        not_its_key.sets[0].signature_domain = "evil.example".into();
        assert_eq!(
            not_its_key.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
        // decided: the trusted pass stands by itself
        let mut decided = o.clone();
        decided.oldest_pass = Some(0);
        assert!(
            decided
                .trusted_pass(google, "example.com", aligned)
                .is_some()
        );
        assert_eq!(
            decided.trusted_pass_undecided(google, "example.com", aligned),
            None
        );
    }

    #[test]
    fn nothing_for_other_domains_untrusted_sealers_or_failed_chains() {
        let o = outcome(
            "mx.google.com; dmarc=pass header.from=example.net; dkim=pass header.d=evil.example; \
             spf=pass smtp.mailfrom=a@evil.example; dkim=fail header.d=example.com",
        );
        assert_eq!(o.trusted_pass(google, "example.com", aligned), None);
        let o = outcome("mx.google.com; dmarc=pass header.from=example.com");
        assert_eq!(o.trusted_pass(|_| false, "example.com", aligned), None);
        let mut failed = o.clone();
        failed.result = ChainStatus::Fail;
        assert_eq!(failed.trusted_pass(google, "example.com", aligned), None);
    }

    /// Versions as in Authentication-Results (RFC 8601 §2.6): an AAR of another version is
    /// not read, a result of another method version is ignored; version 1 is read.
    #[test]
    fn only_version_1_is_read() {
        for aar in [
            "mx.google.com 2; dmarc=pass header.from=example.com",
            "mx.google.com; dmarc/2=pass header.from=example.com",
            "mx.google.com; dkim/2=pass header.d=example.com",
        ] {
            assert_eq!(
                outcome(aar).trusted_pass(google, "example.com", aligned),
                None,
                "{aar}"
            );
        }
        for aar in [
            "mx.google.com 1; dmarc=pass header.from=example.com",
            "mx.google.com; dmarc/1=pass header.from=example.com",
            "mx.google.com; dkim/2=pass header.d=example.com; spf=pass smtp.mailfrom=a@example.com",
        ] {
            assert!(
                outcome(aar)
                    .trusted_pass(google, "example.com", aligned)
                    .is_some(),
                "{aar}"
            );
        }
    }
}
