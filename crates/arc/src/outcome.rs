//! The result of validating a chain (RFC 8617 §4.4, §5.2): none, pass or fail, why it failed,
//! the oldest passing AMS, and what each set recorded, for Authentication-Results
//! (RFC 8617 §6, §10.1), local policy (§7.2.1) and DMARC reports (§7.2.2).

use std::fmt;
use std::net::IpAddr;

use dkim::Algorithm;

use crate::error::ArcError;
use crate::fields::ArcField;

/// A chain validation status (RFC 8617 §4.4): the result of validation, and the `cv=` of a
/// seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainStatus {
    /// No ARC sets (`none`).
    None,
    /// The chain validated (`pass`).
    Pass,
    /// The chain did not validate (`fail`).
    Fail,
}

impl ChainStatus {
    /// The RFC 8617 §4.4 keyword, as in `cv=` and `arc=`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::None => "none",
            ChainStatus::Pass => "pass",
            ChainStatus::Fail => "fail",
        }
    }

    /// Parses a `chain-status` (RFC 8617 §3.9; ABNF strings ignore case).
    pub fn parse(v: &[u8]) -> Option<ChainStatus> {
        match v.to_ascii_lowercase().as_slice() {
            b"none" => Some(ChainStatus::None),
            b"pass" => Some(ChainStatus::Pass),
            b"fail" => Some(ChainStatus::Fail),
            _ => None,
        }
    }
}

impl fmt::Display for ChainStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a chain failed (RFC 8617 §5.2; every failure is permanent, §5.2.1). `Display` gives
/// the text for the Authentication-Results `reason=` and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// More ARC header fields than 50 sets hold (RFC 8617 §5.2 step 1, §4.2.1), or than the
    /// operator's lower limit on sets allows (RFC 8617 §9.2); nothing was parsed.
    TooManySets {
        /// Number of ARC header fields.
        fields: usize,
        /// The most sets checked (50, or the operator's limit).
        limit: u32,
    },
    /// A field's instance or tags cannot be read (RFC 8617 §4.1, §4.2.1).
    Malformed(ArcError),
    /// The newest ARC-Seal reports `cv=fail`: the chain ended there (RFC 8617 §5.2 step 2).
    Terminated {
        /// The highest instance.
        instance: u32,
    },
    /// Two fields of one kind share an instance (RFC 8617 §4.2.1, §5.2 step 3A).
    Duplicate {
        /// Which field.
        field: ArcField,
        /// The instance.
        instance: u32,
    },
    /// An instance from 1 to N lacks a field (RFC 8617 §5.2 steps 3A, 3B).
    Missing {
        /// Which field.
        field: ArcField,
        /// The instance.
        instance: u32,
    },
    /// A seal's `cv=` is wrong for its place: `none` at i=1, `pass` after, never `fail`
    /// (RFC 8617 §5.2 step 3C).
    BadChainStatus {
        /// The seal's instance.
        instance: u32,
        /// Its `cv=`.
        cv: ChainStatus,
    },
    /// The newest ARC-Message-Signature does not verify (RFC 8617 §5.2 step 4).
    MessageSignature {
        /// Its instance (N).
        instance: u32,
        /// Why, in DKIM's terms (RFC 6376 §6.1).
        reason: dkim::Reason,
    },
    /// An ARC-Seal does not verify (RFC 8617 §5.2 step 6).
    Seal {
        /// Its instance.
        instance: u32,
        /// Why, in DKIM's terms (RFC 6376 §6.1).
        reason: dkim::Reason,
    },
}

/// A signature failed because DNS did not answer for its key (timeout, SERVFAIL, no answer
/// supplied): it could verify later.
pub(crate) fn key_unanswered(reason: &dkim::Reason) -> bool {
    matches!(
        reason,
        dkim::Reason::DnsTimeout | dkim::Reason::DnsFailure(_) | dkim::Reason::KeyNotFetched
    )
}

impl FailReason {
    /// The failure came from a DNS lookup that could succeed later (timeout, SERVFAIL, no
    /// answer supplied). RFC 8617 §5.2.1 still makes it a permanent `fail`; callers may
    /// choose to say so in logs or to defer.
    pub fn is_temporary(&self) -> bool {
        match self {
            FailReason::MessageSignature { reason, .. } | FailReason::Seal { reason, .. } => {
                key_unanswered(reason)
            }
            _ => false,
        }
    }

    /// The chain was cut short, not judged: a DNS failure, or a local set limit below the 50
    /// RFC 8617 §5.2 step 1 allows. A seal with `cv=fail` would end for every later hop a
    /// chain that hop may validate (§5.1 step 2), so a sealer adds nothing.
    pub fn left_unvalidated(&self) -> bool {
        self.is_temporary()
            || matches!(self, FailReason::TooManySets { limit, .. } if *limit < crate::fields::MAX_INSTANCE)
    }

    /// The newest seal already said `cv=fail`: a sealer adds nothing (RFC 8617 §5.1 step 2).
    pub fn is_terminated(&self) -> bool {
        matches!(self, FailReason::Terminated { .. })
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::TooManySets { fields, limit } => {
                write!(f, "more than {limit} ARC sets ({fields} ARC header fields)")
            }
            FailReason::Malformed(e) => write!(f, "{e}"),
            FailReason::Terminated { instance } => {
                write!(f, "ARC-Seal i={instance} reports cv=fail")
            }
            FailReason::Duplicate { field, instance } => {
                write!(f, "more than one {field} with i={instance}")
            }
            FailReason::Missing { field, instance } => write!(f, "no {field} with i={instance}"),
            FailReason::BadChainStatus { instance, cv } => {
                let want = if *instance == 1 { "none" } else { "pass" };
                write!(f, "ARC-Seal i={instance} has cv={cv} (must be {want})")
            }
            FailReason::MessageSignature { instance, reason } => {
                write!(
                    f,
                    "ARC-Message-Signature i={instance} did not verify: {reason}"
                )
            }
            FailReason::Seal { instance, reason } => {
                write!(f, "ARC-Seal i={instance} did not verify: {reason}")
            }
        }
    }
}

/// Whether one signature of a set was checked, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SignatureCheck {
    /// Not evaluated (validation stopped before it, or oldest-pass was not computed).
    #[default]
    NotChecked,
    /// It verified.
    Pass,
    /// It did not verify.
    Fail(dkim::Reason),
}

/// What one ARC set says (RFC 8617 §4.2): who sealed and signed it, and the authentication
/// results that hop recorded (its AAR, RFC 8617 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcSetInfo {
    /// `i=`.
    pub instance: u32,
    /// The seal's `cv=` (RFC 8617 §4.1.3).
    pub cv: ChainStatus,
    /// ARC-Seal `d=`: the sealer, the domain a trusted-sealer list names.
    pub seal_domain: String,
    /// ARC-Seal `s=`.
    pub seal_selector: String,
    /// ARC-Seal `a=`.
    pub seal_algorithm: Algorithm,
    /// How the seal checked (RFC 8617 §5.2 step 6).
    pub seal: SignatureCheck,
    /// ARC-Message-Signature `d=`.
    pub signature_domain: String,
    /// ARC-Message-Signature `s=`.
    pub signature_selector: String,
    /// ARC-Message-Signature `a=` (`None` when an older one does not parse).
    pub signature_algorithm: Option<Algorithm>,
    /// How the message signature checked (RFC 8617 §5.2 steps 4–5).
    pub message_signature: SignatureCheck,
    /// The AAR payload: authserv-id and method results (RFC 8601 §2.2), or why it does not
    /// parse.
    pub authentication_results: Result<authres::AuthenticationResults, String>,
}

/// The outcome of validating a message's Authenticated Received Chain (RFC 8617 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcOutcome {
    /// none, pass or fail (RFC 8617 §4.4).
    pub result: ChainStatus,
    /// Why it failed (`None` unless `result` is fail).
    pub reason: Option<FailReason>,
    /// N, the number of sets, when the chain's structure is sound (RFC 8617 §5.2 step 3);
    /// 0 for none or a broken structure.
    pub instances: u32,
    /// The highest instance found on any ARC field, sound or not (RFC 8617 §5.1 step 3
    /// numbers the next set from it).
    pub highest_instance: u32,
    /// The "oldest-pass" instance (RFC 8617 §5.2 step 5): the lowest instance from which
    /// every ARC-Message-Signature up to N verifies, 0 if all do. Set only for `pass`, and
    /// only when the verifier computes it.
    pub oldest_pass: Option<u32>,
    /// Each set, by instance from 1 to N, when the structure is sound (empty otherwise).
    pub sets: Vec<ArcSetInfo>,
}

impl ArcOutcome {
    /// No ARC sets (RFC 8617 §5.2 step 1).
    pub fn none() -> Self {
        ArcOutcome {
            result: ChainStatus::None,
            reason: None,
            instances: 0,
            highest_instance: 0,
            oldest_pass: None,
            sets: Vec::new(),
        }
    }

    pub(crate) fn fail(reason: FailReason, highest_instance: u32) -> Self {
        ArcOutcome {
            result: ChainStatus::Fail,
            reason: Some(reason),
            instances: 0,
            highest_instance,
            oldest_pass: None,
            sets: Vec::new(),
        }
    }

    /// The set with instance `i`.
    pub fn set(&self, i: u32) -> Option<&ArcSetInfo> {
        self.sets.iter().find(|s| s.instance == i)
    }

    /// The sets whose ARC-Authentication-Results a policy may rely on when it trusts the
    /// sealers `is_trusted` accepts (RFC 8617 §7.2.1, §9): nothing unless the chain passes;
    /// then, newest first, each set whose sealer is trusted and either every later sealer is
    /// trusted too or its own ARC-Message-Signature still verifies (the message is still
    /// what that sealer saw: `oldest_pass` ≤ its instance). An untrusted hop after a trusted
    /// one could otherwise replay the trusted hop's results onto other content.
    pub fn trusted_sets(&self, is_trusted: impl Fn(&str) -> bool) -> Vec<&ArcSetInfo> {
        if self.result != ChainStatus::Pass {
            return Vec::new();
        }
        self.newest_first(is_trusted)
            .filter(|(set, trusted, all_later_trusted)| {
                let unchanged_since = match self.oldest_pass {
                    Some(0) => true,
                    Some(p) => set.instance >= p,
                    None => set.instance == self.instances,
                };
                *trusted && (*all_later_trusted || unchanged_since)
            })
            .map(|(set, _, _)| set)
            .collect()
    }

    /// The sets newest first, each with whether its sealer is trusted and whether every
    /// later sealer is (RFC 8617 §7.2.1: a trusted hop's results stand after an untrusted
    /// one only while the message is what the trusted hop saw).
    pub(crate) fn newest_first(
        &self,
        is_trusted: impl Fn(&str) -> bool,
    ) -> impl Iterator<Item = (&ArcSetInfo, bool, bool)> {
        self.sets
            .iter()
            .rev()
            .scan(true, move |all_later_trusted, set| {
                let trusted = is_trusted(&set.seal_domain);
                let later = *all_later_trusted;
                *all_later_trusted &= trusted;
                Some((set, trusted, later))
            })
    }

    /// The `arc=` method result for the Authentication-Results header field (RFC 8617 §6,
    /// §10.1): `arc=pass header.oldest-pass=N smtp.remote-ip=IP`, `arc=fail reason="..."
    /// smtp.remote-ip=IP`, or `arc=none`.
    pub fn method_result(&self, remote_ip: Option<IpAddr>) -> authres::MethodResult {
        let mut m = authres::MethodResult::new("arc", self.result);
        if let Some(reason) = &self.reason {
            m = m.with_reason(reason.to_string());
        }
        if self.result == ChainStatus::None {
            return m;
        }
        if let Some(p) = self.oldest_pass {
            m = m.with_property("header", "oldest-pass", p.to_string());
        }
        if let Some(ip) = remote_ip {
            m = m.with_property("smtp", "remote-ip", ip.to_string());
        }
        m
    }

    /// The DMARC report comment for an override that relied on this chain (RFC 8617
    /// §7.2.2): `arc=pass as[2].d=d2.example as[2].s=s2 as[1].d=d1.example as[1].s=s1
    /// remote-ip[1]=192.0.2.1`; the remote IP is what the first set's AAR recorded, when it
    /// did.
    pub fn report_comment(&self) -> String {
        let mut out = format!("arc={}", self.result);
        for s in self.sets.iter().rev() {
            out.push_str(&format!(
                " as[{i}].d={d} as[{i}].s={s}",
                i = s.instance,
                d = s.seal_domain,
                s = s.seal_selector
            ));
        }
        if let Some(ip) = self.sets.first().and_then(first_remote_ip) {
            out.push_str(&format!(" remote-ip[1]={ip}"));
        }
        out
    }
}

/// The connecting IP a set's AAR recorded: `smtp.remote-ip` (RFC 8617 §10.2) or iprev's
/// `policy.iprev` (RFC 8601 §3).
fn first_remote_ip(set: &ArcSetInfo) -> Option<String> {
    let ar = set.authentication_results.as_ref().ok()?;
    ar.results.iter().find_map(|r| {
        r.property("smtp", "remote-ip")
            .or_else(|| r.property("policy", "iprev"))
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(instance: u32, sealer: &str) -> ArcSetInfo {
        ArcSetInfo {
            instance,
            cv: if instance == 1 {
                ChainStatus::None
            } else {
                ChainStatus::Pass
            },
            seal_domain: sealer.into(),
            seal_selector: "s".into(),
            seal_algorithm: Algorithm::RsaSha256,
            seal: SignatureCheck::Pass,
            signature_domain: sealer.into(),
            signature_selector: "s".into(),
            signature_algorithm: Some(Algorithm::RsaSha256),
            message_signature: SignatureCheck::NotChecked,
            authentication_results: Ok(authres::AuthenticationResults::new(sealer)),
        }
    }

    fn chain(sealers: &[&str], oldest_pass: Option<u32>) -> ArcOutcome {
        ArcOutcome {
            result: ChainStatus::Pass,
            reason: None,
            instances: sealers.len() as u32,
            highest_instance: sealers.len() as u32,
            oldest_pass,
            sets: sealers
                .iter()
                .enumerate()
                .map(|(i, s)| set(i as u32 + 1, s))
                .collect(),
        }
    }

    fn trusted(o: &ArcOutcome) -> Vec<u32> {
        o.trusted_sets(|d| d == "google.com" || d == "lists.example.org")
            .iter()
            .map(|s| s.instance)
            .collect()
    }

    #[test]
    fn trusted_sets_need_trusted_later_hops_or_an_unchanged_message() {
        // google.com (1) -> lists.example.org (2): both trusted
        assert_eq!(
            trusted(&chain(&["google.com", "lists.example.org"], Some(2))),
            [2, 1]
        );
        // google.com (1) -> untrusted (2) that changed the message: nothing from google
        assert!(trusted(&chain(&["google.com", "evil.example"], Some(2))).is_empty());
        assert!(trusted(&chain(&["google.com", "evil.example"], None)).is_empty());
        // ... unless google's AMS still verifies: the message is what google saw
        assert_eq!(
            trusted(&chain(&["google.com", "evil.example"], Some(0))),
            [1]
        );
        assert_eq!(
            trusted(&chain(&["google.com", "evil.example"], Some(1))),
            [1]
        );
        // a failed chain trusts nothing
        let mut failed = chain(&["google.com"], Some(0));
        failed.result = ChainStatus::Fail;
        assert!(trusted(&failed).is_empty());
    }

    #[test]
    fn authentication_results_wording() {
        let o = chain(&["google.com"], Some(0));
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let ar =
            authres::AuthenticationResults::new("mx.example.net").with(o.method_result(Some(ip)));
        assert_eq!(
            ar.to_string(),
            "mx.example.net; arc=pass header.oldest-pass=0 smtp.remote-ip=\"2001:db8::1\""
        );
        let f = ArcOutcome::fail(FailReason::Terminated { instance: 3 }, 3);
        let ar =
            authres::AuthenticationResults::new("mx.example.net").with(f.method_result(Some(ip)));
        assert_eq!(
            ar.to_string(),
            "mx.example.net; arc=fail reason=\"ARC-Seal i=3 reports cv=fail\" smtp.remote-ip=\"2001:db8::1\""
        );
        let n = authres::AuthenticationResults::new("mx.example.net")
            .with(ArcOutcome::none().method_result(Some(ip)));
        assert_eq!(n.to_string(), "mx.example.net; arc=none");
    }
}
