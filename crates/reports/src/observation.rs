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

/// The longest domain or selector an observation keeps, in octets (RFC 1035 §2.3.4: names
/// are at most 255); a longer one comes from a signature that did not parse, and is cut.
pub const MAX_NAME: usize = 255;

/// `s` cut to at most [`MAX_NAME`] octets, at a character boundary.
fn bounded(s: &str) -> String {
    let mut end = s.len().min(MAX_NAME);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

/// A domain (or a selector) as recorded: lowercase A-labels when it has U-labels (RFC 8616
/// §5), so one domain has one spelling in a report's rows (RFC 9990 §3.1.1); an ASCII
/// selector as written.
fn recorded_name(name: &str, lowercase: bool) -> String {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_ascii() {
        return bounded(&if lowercase {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        });
    }
    bounded(&dns::name::to_ascii(name.as_bytes()).unwrap_or_else(|_| name.to_lowercase()))
}

/// At most [`crate::aggregate::MAX_DKIM_PER_ROW`] signatures, those a report row shows first
/// (RFC 9990 §3.1.3), in message order.
fn bounded_dkim(mut dkim: Vec<DkimObservation>, header_from: &str) -> Vec<DkimObservation> {
    let max = crate::aggregate::MAX_DKIM_PER_ROW;
    if dkim.len() <= max {
        return dkim;
    }
    let mut order: Vec<(u8, usize)> = dkim
        .iter()
        .enumerate()
        .map(|(i, d)| (crate::aggregate::dkim_rank(d, header_from), i))
        .collect();
    order.sort_unstable();
    let mut keep = vec![false; dkim.len()];
    for &(_, i) in order.iter().take(max) {
        if let Some(k) = keep.get_mut(i) {
            *k = true;
        }
    }
    let mut i = 0;
    dkim.retain(|_| {
        let k = keep.get(i).copied().unwrap_or(false);
        i += 1;
        k
    });
    dkim
}

/// How many distinct recipient domains an observation keeps: enough to tell one from several
/// (RFC 9990 §3.1.1.10 `envelope_to` names one domain), and a message of 50,000 recipients
/// (the milter's cap) costs no more to record than one of two.
pub const ENVELOPE_TO_KEPT: usize = 2;

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
    /// The distinct RFC5321.RcptTo domains, lowercase, in first-seen order, at most
    /// [`ENVELOPE_TO_KEPT`] (`envelope_to`: a report names the recipient domain only when
    /// there is exactly one).
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
    /// The DKIM signatures checked, in message order: at most
    /// [`crate::aggregate::MAX_DKIM_PER_ROW`], those RFC 9990 §3.1.3 puts first.
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
    /// Why a failed signature failed, when it is a type of its own in a failure report
    /// (RFC 6591 §3.3 `bodyhash`, `revoked`); `None` for every other outcome (`signature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<DkimFailure>,
}

/// The DKIM failure types of RFC 6591 §3.3 other than `signature`, which is every other failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DkimFailure {
    /// The body hash computed did not match `bh=` (RFC 6591 §3.3 `bodyhash`).
    BodyHash,
    /// The key record's `p=` is empty (RFC 6591 §3.3 `revoked`, RFC 6376 §3.6.1).
    Revoked,
}

impl DkimFailure {
    /// The `Auth-Failure` value (RFC 6591 §3.3).
    pub fn auth_failure(self) -> &'static str {
        match self {
            DkimFailure::BodyHash => "bodyhash",
            DkimFailure::Revoked => "revoked",
        }
    }
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

/// At most this many of a record's problems are kept (RFC 9990 §3.1.5 `error`), each of at
/// most [`MAX_ERROR_CHARS`] characters.
pub const MAX_RECORD_ERRORS: usize = 10;
/// The longest record problem kept, in characters (the rest is cut, with `…`).
pub const MAX_ERROR_CHARS: usize = 100;
/// The longest `rua`/`ruf` URI kept, in bytes (RFC 5321 §4.5.3.1.3: a path of at most 256
/// octets, percent-encoded in a `mailto:` URI).
pub const MAX_URI_LEN: usize = 512;

fn shortened(s: &str) -> String {
    if s.chars().count() <= MAX_ERROR_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_ERROR_CHARS).collect();
    out.push('…');
    out
}

impl PublishedPolicy {
    /// Reads a parsed record (RFC 9989 §4.7); `rua` and `ruf` keep their first
    /// [`MAX_REPORT_URIS`] URIs (RFC 9990 §3.5), noting the cut in `errors`.
    pub fn from_record(record: &dmarc::Record, discovery_method: DiscoveryMethod) -> Self {
        // the record is the domain owner's (up to a 64 KiB DNS answer) and is stored in
        // every distinct row: keep of it what a report carries, in short
        let mut errors: Vec<String> = record
            .problems
            .iter()
            .take(MAX_RECORD_ERRORS)
            .map(|p| shortened(&p.to_string()))
            .collect();
        if record.problems.len() > MAX_RECORD_ERRORS {
            errors.push(format!(
                "and {} more invalid tags",
                record.problems.len() - MAX_RECORD_ERRORS
            ));
        }
        let mut capped = |tag: &str, uris: &[dmarc::ReportUri]| -> Vec<ReportAddress> {
            // malformed URIs are ignored before the limit (RFC 9990 §3.5); none this long
            // names a usable address (RFC 5321 §4.5.3.1.3: a path is at most 256 octets)
            let long = uris.iter().filter(|u| u.uri.len() > MAX_URI_LEN).count();
            if long > 0 {
                errors.push(format!(
                    "{tag} has {long} URIs too long to use (over {MAX_URI_LEN} bytes)"
                ));
            }
            let usable = uris.len() - long;
            if usable > MAX_REPORT_URIS {
                errors.push(format!(
                    "{tag} has {usable} URIs; only the first {MAX_REPORT_URIS} are used"
                ));
            }
            uris.iter()
                .filter(|u| u.uri.len() <= MAX_URI_LEN)
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

/// The domain of an address (`local@domain`) as its lowercase A-label (RFC 9990 §3.1.1.10;
/// an SMTPUTF8 address may write U-labels, RFC 6531), or lowercased as written when it is
/// no domain name; empty when there is none.
pub fn address_domain(address: &str) -> String {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    match address.rsplit_once('@') {
        Some((_, domain)) => {
            let domain = domain.trim_end_matches('.');
            dns::name::to_ascii(domain.as_bytes()).unwrap_or_else(|_| domain.to_ascii_lowercase())
        }
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
    /// `dkim_failures` says, in the order of the signatures given to DMARC (`eval.dkim`), why
    /// each failed signature failed where RFC 6591 §3.3 has a type for it; it may be shorter.
    pub fn from_evaluation(
        eval: &dmarc::Evaluation,
        envelope: &Envelope,
        applied: AppliedPolicy,
        now: u64,
        dkim_failures: &[Option<DkimFailure>],
    ) -> Observation {
        let discovery: DiscoveryMethod = eval.discovery.into();
        let mode = match discovery {
            DiscoveryMethod::TreeWalk => Mode::Rfc9989,
            DiscoveryMethod::Psl => Mode::Rfc7489,
        };
        let mut envelope_to: Vec<String> = Vec::new();
        for rcpt in &envelope.rcpt_to {
            if envelope_to.len() >= ENVELOPE_TO_KEPT {
                break;
            }
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
        // RFC 9990 §3.1.1.9: a message whose alignment failed, handled otherwise than
        // requested, MUST carry a reason; without one from the caller, it was the receiver's
        // local policy (an undecided result delivered: `[policy] temperror = "accept"`)
        if overrides.is_empty() && lowered {
            match eval.result {
                dmarc::DmarcResult::Fail => {
                    overrides.push(OverrideReason::new(OverrideType::LocalPolicy));
                }
                dmarc::DmarcResult::TempError | dmarc::DmarcResult::PermError => {
                    overrides.push(OverrideReason::with_comment(
                        OverrideType::LocalPolicy,
                        format!("DMARC {}", eval.result),
                    ));
                }
                dmarc::DmarcResult::Pass | dmarc::DmarcResult::None => {}
            }
        }
        Observation {
            time: now,
            source_ip: envelope
                .source_ip
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            header_from: eval.author_domain.clone(),
            envelope_from: match eval.spf.as_ref() {
                Some(s) if s.auth.scope == dmarc::SpfScope::MailFrom => {
                    recorded_name(&s.auth.domain, true)
                }
                _ => bounded(&address_domain(&envelope.mail_from)),
            },
            envelope_to,
            policy_domain: eval.policy_domain.clone(),
            result: eval.result.into(),
            disposition: applied.disposition,
            requested_policy,
            overrides,
            spf: eval.spf.as_ref().map(|s| SpfObservation {
                domain: recorded_name(&s.auth.domain, true),
                scope: s.auth.scope.into(),
                result: s.auth.result.into(),
                aligned: s.aligned,
            }),
            dkim: bounded_dkim(
                eval.dkim
                    .iter()
                    .enumerate()
                    .map(|(i, d)| DkimObservation {
                        domain: recorded_name(&d.auth.domain, true),
                        selector: recorded_name(&d.auth.selector, false),
                        result: d.auth.result.into(),
                        aligned: d.aligned,
                        human_result: None,
                        failure: dkim_failures.get(i).copied().flatten(),
                    })
                    .collect(),
                &eval.author_domain,
            ),
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
mod tests;
