//! The record of one inbound DMARC evaluation, written to the store by the milter and read back
//! to build aggregate reports (RFC 9990 §3.1.1.7 rows) and failure reports (RFC 9991 §4).
//!
//! An [`Observation`] holds domains, never full addresses: the local parts of the envelope are
//! only needed for a failure report, which is built at once from the [`Envelope`] and the
//! message, not from the store.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::destination::MAX_REPORT_URIS;
use crate::vocabulary::{
    AlignmentMode, DiscoveryMethod, Disposition, DkimResult, DmarcResult, FailureOption, Mode,
    OverrideType, Psd, SpfResult, SpfScope,
};

/// One inbound DMARC evaluation of one author domain (RFC 9990 §3.1.1.7–§3.1.1.14 data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// When the message arrived, Unix seconds (RFC 9990 §3.1.1.4 puts it in a period).
    pub time: u64,
    /// The connecting IP address (`source_ip`, RFC 9990 §3.1.1.8).
    pub source_ip: IpAddr,
    /// The RFC5322.From domain (`header_from`, RFC 9990 §3.1.1.10), A-label, lowercase.
    pub header_from: String,
    /// The RFC5321.MailFrom domain (`envelope_from`); empty for a null reverse-path.
    pub envelope_from: String,
    /// The distinct RFC5321.RcptTo domains, lowercase, in first-seen order (`envelope_to`).
    pub envelope_to: Vec<String>,
    /// The DMARC Policy Domain whose record applied (RFC 9989 §3.2.5); `None` when no record
    /// applied, so no aggregate report is due.
    pub policy_domain: Option<String>,
    /// The DMARC result.
    pub result: DmarcResult,
    /// The disposition actually applied to the message (`policy_evaluated/disposition`).
    pub disposition: Disposition,
    /// The policy the Domain Owner requested for this author domain (`p`, `sp` or `np`).
    pub requested_policy: Option<Disposition>,
    /// Why the applied disposition differs from the requested one (RFC 9990 §3.1.6).
    pub overrides: Vec<OverrideReason>,
    /// The SPF check of the MAIL FROM (or HELO for a null reverse-path) identity.
    pub spf: Option<SpfObservation>,
    /// Every DKIM signature checked, in message order.
    pub dkim: Vec<DkimObservation>,
    /// The policy record as discovered (`policy_published`, RFC 9990 §3.1.1.5).
    pub published: Option<PublishedPolicy>,
    /// The DMARC specification used.
    pub mode: Mode,
}

impl Observation {
    /// True when both describe the same message data apart from the time: what an aggregate
    /// report counts as one row (RFC 9990 §3.1.1.7). Used with [`Observation::hash_timeless`].
    pub fn same_but_time(&self, other: &Observation) -> bool {
        self.timeless() == other.timeless()
    }

    /// Hashes every field but the time (see [`Observation::same_but_time`]).
    pub fn hash_timeless<H: std::hash::Hasher>(&self, state: &mut H) {
        std::hash::Hash::hash(&self.timeless(), state);
    }

    /// Every field but `time`, borrowed (a field added to the struct must be added here).
    #[allow(clippy::type_complexity)]
    fn timeless(
        &self,
    ) -> (
        (
            &IpAddr,
            &str,
            &str,
            &[String],
            Option<&str>,
            DmarcResult,
            Disposition,
        ),
        (
            Option<Disposition>,
            &[OverrideReason],
            Option<&SpfObservation>,
        ),
        (&[DkimObservation], Option<&PublishedPolicy>, Mode),
    ) {
        let Observation {
            time: _,
            source_ip,
            header_from,
            envelope_from,
            envelope_to,
            policy_domain,
            result,
            disposition,
            requested_policy,
            overrides,
            spf,
            dkim,
            published,
            mode,
        } = self;
        (
            (
                source_ip,
                header_from,
                envelope_from,
                envelope_to,
                policy_domain.as_deref(),
                *result,
                *disposition,
            ),
            (*requested_policy, overrides, spf.as_ref()),
            (dkim, published.as_ref(), *mode),
        )
    }
}

/// A policy override reason (RFC 9990 §3.1.1.14 `reason`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OverrideReason {
    /// The override type.
    pub kind: OverrideType,
    /// Free text, if any.
    pub comment: Option<String>,
}

impl OverrideReason {
    /// A reason without a comment.
    pub fn new(kind: OverrideType) -> Self {
        OverrideReason {
            kind,
            comment: None,
        }
    }

    /// A reason with a comment.
    pub fn with_comment(kind: OverrideType, comment: impl Into<String>) -> Self {
        OverrideReason {
            kind,
            comment: Some(comment.into()),
        }
    }
}

/// The SPF result as recorded (RFC 9990 §3.1.1.13, plus alignment for `policy_evaluated`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SpfObservation {
    /// The domain SPF evaluated.
    pub domain: String,
    /// MAIL FROM or HELO.
    pub scope: SpfScope,
    /// The SPF result.
    pub result: SpfResult,
    /// The domain is aligned with the author domain (whatever the result).
    pub aligned: bool,
}

impl SpfObservation {
    /// SPF passed for an aligned domain (RFC 9989 §4.4.2).
    pub fn aligned_pass(&self) -> bool {
        self.aligned && self.result == SpfResult::Pass
    }
}

/// One DKIM signature as recorded (RFC 9990 §3.1.1.12, plus alignment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DkimObservation {
    /// The signing domain, `d=`.
    pub domain: String,
    /// The selector, `s=`.
    pub selector: String,
    /// The verification result.
    pub result: DkimResult,
    /// `d=` is aligned with the author domain (whatever the result).
    pub aligned: bool,
    /// Extra text for the Domain Owner (`human_result`), e.g. why it failed.
    pub human_result: Option<String>,
}

impl DkimObservation {
    /// The signature verified and `d=` is aligned (RFC 9989 §4.4.1).
    pub fn aligned_pass(&self) -> bool {
        self.aligned && self.result == DkimResult::Pass
    }
}

/// A reporting URI from `rua` or `ruf`, with its optional `!size` limit (RFC 7489 §6.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportAddress {
    /// The URI without the size suffix, e.g. `mailto:dmarc@example.com`.
    pub uri: String,
    /// The maximum report size in bytes, when the URI had `!NNN[kmgt]`.
    pub max_size: Option<u64>,
}

impl From<&dmarc::ReportUri> for ReportAddress {
    fn from(u: &dmarc::ReportUri) -> Self {
        ReportAddress {
            uri: u.uri.clone(),
            max_size: u.max_size,
        }
    }
}

/// The policy record as discovered for the message (RFC 9990 §3.1.1.5; RFC 9989 §4.7 tags).
/// Tags that were absent hold their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublishedPolicy {
    /// `p` (`none` when the record had no valid `p` but a valid `rua`, RFC 9989 §4.10.1).
    pub p: Disposition,
    /// `sp`, when present and valid.
    pub sp: Option<Disposition>,
    /// `np`, when present and valid.
    pub np: Option<Disposition>,
    /// `adkim`.
    pub adkim: AlignmentMode,
    /// `aspf`.
    pub aspf: AlignmentMode,
    /// `t=y` (RFC 9989).
    pub testing: bool,
    /// `pct` (RFC 7489), 100 when absent.
    pub pct: u8,
    /// `psd` (RFC 9989).
    pub psd: Psd,
    /// `fo`, `0` when absent.
    pub fo: Vec<FailureOption>,
    /// `rua`: aggregate report destinations.
    pub rua: Vec<ReportAddress>,
    /// `ruf`: failure report destinations.
    pub ruf: Vec<ReportAddress>,
    /// How the record was found.
    pub discovery_method: DiscoveryMethod,
    /// Problems with the record (invalid tags discarded), for the report `error` element
    /// (RFC 9990 §3.1.5).
    pub errors: Vec<String>,
}

impl PublishedPolicy {
    /// Reads a parsed record (RFC 9989 §4.7); `rua` and `ruf` keep their first
    /// [`MAX_REPORT_URIS`] URIs (RFC 9990 §3.5), noting the cut in `errors`.
    pub fn from_record(record: &dmarc::Record, discovery_method: DiscoveryMethod) -> Self {
        let mut errors: Vec<String> = record.problems.iter().map(ToString::to_string).collect();
        let mut capped = |tag: &str, uris: &[dmarc::ReportUri]| -> Vec<ReportAddress> {
            if uris.len() > MAX_REPORT_URIS {
                errors.push(format!(
                    "{tag} has {} URIs; only the first {MAX_REPORT_URIS} are used",
                    uris.len()
                ));
            }
            uris.iter()
                .take(MAX_REPORT_URIS)
                .map(ReportAddress::from)
                .collect()
        };
        let rua = capped("rua", &record.rua);
        let ruf = capped("ruf", &record.ruf);
        PublishedPolicy {
            p: record.policy.map_or(Disposition::None, Disposition::from),
            sp: record.subdomain_policy.map(Disposition::from),
            np: record.nonexistent_policy.map(Disposition::from),
            adkim: record.adkim.into(),
            aspf: record.aspf.into(),
            testing: record.testing,
            pct: record.pct,
            psd: record.psd.into(),
            fo: record.fo.iter().copied().map(FailureOption::from).collect(),
            rua,
            ruf,
            discovery_method,
            errors,
        }
    }
}

/// The SMTP envelope of the message, as the MTA gave it (RFC 5321 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Envelope {
    /// The client IP address, if known (absent for local submission).
    pub source_ip: Option<IpAddr>,
    /// The HELO/EHLO name.
    pub helo: String,
    /// The MAIL FROM address without angle brackets; empty for the null reverse-path.
    pub mail_from: String,
    /// The RCPT TO addresses without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The ENVID parameter (RFC 3461 §4.4) or the MTA queue id, for `Original-Envelope-Id`.
    pub envelope_id: Option<String>,
}

/// What the milter did with the message after DMARC (RFC 9990 §3.1.1.9).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppliedPolicy {
    /// The disposition actually applied.
    pub disposition: Disposition,
    /// Why it differs from what DMARC asked for (local policy, trusted forwarder, ...).
    /// `sampled_out` and `policy_test_mode` are added from the evaluation automatically.
    pub overrides: Vec<OverrideReason>,
}

impl AppliedPolicy {
    /// The disposition DMARC computed, applied as is (after `pct` / `t=y`).
    pub fn as_evaluated(eval: &dmarc::Evaluation) -> Self {
        AppliedPolicy {
            disposition: eval.disposition.into(),
            overrides: Vec::new(),
        }
    }

    /// Local policy applied `disposition` instead, for `reason`.
    pub fn overridden(disposition: Disposition, reason: OverrideReason) -> Self {
        AppliedPolicy {
            disposition,
            overrides: vec![reason],
        }
    }
}

/// The domain of an address (`local@domain`), lowercase; empty when there is none.
pub fn address_domain(address: &str) -> String {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    match address.rsplit_once('@') {
        Some((_, domain)) => domain.trim_end_matches('.').to_ascii_lowercase(),
        None => String::new(),
    }
}

impl Observation {
    /// Builds the observation of one evaluated author domain (RFC 9990 §3.1.1.7 data).
    ///
    /// `now` is the arrival time (Unix seconds). The source IP comes from the envelope
    /// (`0.0.0.0` when the MTA gave none). The mode is that of the evaluation's discovery
    /// method (tree walk: RFC 9989; PSL: RFC 7489). `sampled_out` and `policy_test_mode`
    /// override reasons are added when DMARC itself lowered the disposition and the applied
    /// disposition differs from the requested policy; a failing message handled otherwise than
    /// requested with no reason at all gets `local_policy` (RFC 9990 §3.1.1.9 MUST).
    pub fn from_evaluation(
        eval: &dmarc::Evaluation,
        envelope: &Envelope,
        applied: AppliedPolicy,
        now: u64,
    ) -> Observation {
        let discovery: DiscoveryMethod = eval.discovery.into();
        let mode = match discovery {
            DiscoveryMethod::TreeWalk => Mode::Rfc9989,
            DiscoveryMethod::Psl => Mode::Rfc7489,
        };
        let mut envelope_to: Vec<String> = Vec::new();
        for rcpt in &envelope.rcpt_to {
            let d = address_domain(rcpt);
            if !d.is_empty() && !envelope_to.contains(&d) {
                envelope_to.push(d);
            }
        }
        let requested_policy = eval.policy.map(Disposition::from);
        let mut overrides = applied.overrides;
        let lowered = requested_policy.is_some_and(|p| p != applied.disposition);
        let mut automatic = Vec::new();
        if eval.sampled_out && lowered {
            let pct = eval.record.as_ref().map_or(100, |r| r.pct);
            automatic.push(OverrideReason::with_comment(
                OverrideType::SampledOut,
                format!("pct={pct}"),
            ));
        }
        if eval.testing && lowered {
            automatic.push(OverrideReason::new(OverrideType::PolicyTestMode));
        }
        for reason in automatic {
            if !overrides.iter().any(|o| o.kind == reason.kind) {
                overrides.push(reason);
            }
        }
        // RFC 9990 §3.1.1.9: a failing message handled otherwise than requested MUST carry a
        // reason; without one from the caller, it was the receiver's local policy
        if overrides.is_empty() && lowered && eval.result == dmarc::DmarcResult::Fail {
            overrides.push(OverrideReason::new(OverrideType::LocalPolicy));
        }
        Observation {
            time: now,
            source_ip: envelope
                .source_ip
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            header_from: eval.author_domain.clone(),
            envelope_from: match eval.spf.as_ref() {
                Some(s) if s.auth.scope == dmarc::SpfScope::MailFrom => {
                    s.auth.domain.to_ascii_lowercase()
                }
                _ => address_domain(&envelope.mail_from),
            },
            envelope_to,
            policy_domain: eval.policy_domain.clone(),
            result: eval.result.into(),
            disposition: applied.disposition,
            requested_policy,
            overrides,
            spf: eval.spf.as_ref().map(|s| SpfObservation {
                domain: s.auth.domain.clone(),
                scope: s.auth.scope.into(),
                result: s.auth.result.into(),
                aligned: s.aligned,
            }),
            dkim: eval
                .dkim
                .iter()
                .map(|d| DkimObservation {
                    domain: d.auth.domain.clone(),
                    selector: d.auth.selector.clone(),
                    result: d.auth.result.into(),
                    aligned: d.aligned,
                    human_result: None,
                })
                .collect(),
            published: eval
                .record
                .as_ref()
                .map(|r| PublishedPolicy::from_record(r, discovery)),
            mode,
        }
    }

    /// An aggregate report is due for this observation: a policy record applied and it asks
    /// for aggregate reports (RFC 9990 §3.4).
    pub fn wants_aggregate_report(&self) -> bool {
        self.policy_domain.is_some() && self.published.as_ref().is_some_and(|p| !p.rua.is_empty())
    }

    /// Some DKIM signature produced an aligned pass (`policy_evaluated/dkim`, RFC 9990 §3.1.1.9).
    pub fn dkim_aligned_pass(&self) -> bool {
        self.dkim.iter().any(DkimObservation::aligned_pass)
    }

    /// SPF produced an aligned pass (`policy_evaluated/spf`, RFC 9990 §3.1.1.9).
    pub fn spf_aligned_pass(&self) -> bool {
        self.spf.as_ref().is_some_and(SpfObservation::aligned_pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmarc::{DkimAuth, DkimOutcome, SpfAuth, SpfOutcome};

    fn evaluation() -> dmarc::Evaluation {
        let record = dmarc::parse_record(
            b"v=DMARC1; p=reject; pct=50; rua=mailto:d@example.com!10m; fo=1:d",
        )
        .unwrap();
        dmarc::Evaluation {
            author_domain: "example.com".into(),
            result: dmarc::DmarcResult::Fail,
            org_domain: Some("example.com".into()),
            discovery: dmarc::DiscoveryMethod::Psl,
            policy_domain: Some("example.com".into()),
            record_source: Some(dmarc::RecordSource::AuthorDomain),
            record: Some(record),
            policy: Some(dmarc::Policy::Reject),
            policy_source: Some(dmarc::PolicySource::P),
            author_domain_exists: None,
            disposition: dmarc::Disposition::Quarantine,
            sampled_out: true,
            testing: false,
            spf: Some(dmarc::SpfCheck {
                auth: SpfAuth::new(
                    SpfOutcome::Pass,
                    "bounce.other.example",
                    dmarc::SpfScope::MailFrom,
                ),
                aligned: false,
                pass: false,
            }),
            dkim: vec![dmarc::DkimCheck {
                auth: DkimAuth::new(DkimOutcome::Fail, "example.com", "sel"),
                aligned: true,
                pass: false,
            }],
            reasons: Vec::new(),
        }
    }

    #[test]
    fn from_evaluation_keeps_everything_a_report_needs() {
        let envelope = Envelope {
            source_ip: Some("192.0.2.7".parse().unwrap()),
            helo: "mx.other.example".into(),
            mail_from: "bounce@Bounce.Other.Example".into(),
            rcpt_to: vec![
                "a@rx.example".into(),
                "b@RX.example".into(),
                "c@second.example".into(),
            ],
            envelope_id: None,
        };
        let eval = evaluation();
        let obs = Observation::from_evaluation(
            &eval,
            &envelope,
            AppliedPolicy::as_evaluated(&eval),
            1_700_000_000,
        );
        assert_eq!(obs.time, 1_700_000_000);
        assert_eq!(obs.source_ip.to_string(), "192.0.2.7");
        assert_eq!(obs.header_from, "example.com");
        assert_eq!(obs.envelope_from, "bounce.other.example");
        assert_eq!(obs.envelope_to, vec!["rx.example", "second.example"]);
        assert_eq!(obs.policy_domain.as_deref(), Some("example.com"));
        assert_eq!(obs.result, DmarcResult::Fail);
        assert_eq!(obs.disposition, Disposition::Quarantine);
        assert_eq!(obs.requested_policy, Some(Disposition::Reject));
        assert_eq!(
            obs.overrides,
            vec![OverrideReason::with_comment(
                OverrideType::SampledOut,
                "pct=50"
            )]
        );
        assert_eq!(obs.mode, Mode::Rfc7489);
        let spf = obs.spf.as_ref().unwrap();
        assert_eq!(
            (spf.result, spf.aligned, spf.scope),
            (SpfResult::Pass, false, SpfScope::MailFrom)
        );
        assert_eq!(obs.dkim.len(), 1);
        assert_eq!(obs.dkim[0].selector, "sel");
        assert!(obs.dkim[0].aligned && !obs.dkim_aligned_pass() && !obs.spf_aligned_pass());
        let p = obs.published.as_ref().unwrap();
        assert_eq!(p.p, Disposition::Reject);
        assert_eq!(p.pct, 50);
        assert_eq!(p.fo, vec![FailureOption::Any, FailureOption::Dkim]);
        assert_eq!(p.rua[0].max_size, Some(10 << 20));
        assert_eq!(p.discovery_method, DiscoveryMethod::Psl);
        assert!(obs.wants_aggregate_report());

        // the store keeps it as JSON and gets the same thing back
        let json = serde_json::to_string(&obs).unwrap();
        assert!(json.contains("\"sampled_out\""), "{json}");
        let back: Observation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, obs);
    }

    #[test]
    fn local_override_is_kept_and_null_sender_has_empty_envelope_from() {
        let mut eval = evaluation();
        eval.sampled_out = false;
        eval.spf = None;
        let envelope = Envelope {
            mail_from: String::new(),
            ..Envelope::default()
        };
        let applied = AppliedPolicy::overridden(
            Disposition::None,
            OverrideReason::with_comment(OverrideType::TrustedForwarder, "list.example"),
        );
        let obs = Observation::from_evaluation(&eval, &envelope, applied, 5);
        assert_eq!(obs.envelope_from, "");
        assert_eq!(obs.source_ip.to_string(), "0.0.0.0");
        assert_eq!(obs.overrides.len(), 1);
        assert_eq!(obs.overrides[0].kind, OverrideType::TrustedForwarder);
        assert_eq!(obs.disposition, Disposition::None);
    }

    #[test]
    fn hostile_uri_lists_are_capped() {
        // RFC 9990 §3.5: every URI "up to the Receiver's limits on supported URIs"
        let rua: Vec<String> = (0..500)
            .map(|i| format!("mailto:a{i}@example.com"))
            .collect();
        let ruf: Vec<String> = (0..500)
            .map(|i| format!("mailto:f{i}@example.com"))
            .collect();
        let text = format!(
            "v=DMARC1; p=reject; rua={}; ruf={}",
            rua.join(","),
            ruf.join(",")
        );
        let record = dmarc::parse_record(text.as_bytes()).unwrap();
        let p = PublishedPolicy::from_record(&record, DiscoveryMethod::TreeWalk);
        let cap = crate::destination::MAX_REPORT_URIS;
        assert_eq!((p.rua.len(), p.ruf.len()), (cap, cap));
        assert_eq!(p.rua[0].uri, "mailto:a0@example.com");
        assert_eq!(
            p.ruf[cap - 1].uri,
            format!("mailto:f{}@example.com", cap - 1)
        );
        // the Domain Owner learns why (RFC 9990 §3.1.5 `error`)
        assert!(
            p.errors
                .iter()
                .any(|e| e.contains("rua") && e.contains("500")),
            "{:?}",
            p.errors
        );
    }

    #[test]
    fn address_domains() {
        assert_eq!(address_domain("<A@B.Example.>"), "b.example");
        assert_eq!(address_domain(""), "");
        assert_eq!(address_domain("postmaster"), "");
    }
}
