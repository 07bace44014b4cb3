//! Building an aggregate report from the observations of one Policy Domain and one period
//! (RFC 9990 §3.1, §3.1.2–§3.1.4).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::ReportsError;
use crate::feedback::{
    AuthResults, DateRange, DkimAuthResult, Feedback, Identifiers, PolicyEvaluated,
    PolicyPublished, Record, ReportMetadata, Row, SpfAuthResult,
};
use crate::observation::{DkimObservation, Observation, PublishedPolicy};
use crate::vocabulary::{AlignedResult, DkimResult, format_failure_options};

/// At most this many DKIM signatures per row (RFC 9990 §3.1.3 "SHOULD contain no more than
/// 100 signatures for a given row").
pub const MAX_DKIM_PER_ROW: usize = 100;

/// Who we are, for `report_metadata` (RFC 9990 §3.1.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReporterInfo {
    /// `org_name`: the reporting organization, e.g. the receiving domain.
    pub org_name: String,
    /// `email`: the contact address (also a good `From:` for the report mail).
    pub email: String,
    /// `extra_contact_info`, e.g. a web page.
    pub extra_contact_info: Option<String>,
    /// The domain that submits reports (`Submitter:` of the subject, the receiver part of the
    /// file name, the right side of generated Report-IDs), RFC 9990 §3.5.
    pub submitter: String,
    /// `generator` (RFC 9990): software name and version.
    pub generator: Option<String>,
    /// Report `envelope_to` (the recipient domain) for rows whose messages had exactly one
    /// recipient domain. Off by default: a message with several recipient domains cannot be
    /// described by the single `envelope_to` element, and recipients are the receiver's data.
    pub include_envelope_to: bool,
}

/// The Report-ID for a report about `policy_domain` over `range`:
/// `<begin>.<policy-domain>@<submitter>` (RFC 9990 §3.5.1 `ridfmt`, `dot-atom-text`: letters,
/// digits, `.`, `-` and `_` kept). It is the same every time the same report is generated
/// again, as §3.5.2 requires for re-sent reports, and unique per policy domain (§3.5.1
/// MUST): a domain with characters the Report-ID does not keep gets `!` and a hash of its
/// name after it (a kept name never holds a `!`), so `a*b.example` is not `ab.example`.
pub fn report_id(policy_domain: &str, range: DateRange, submitter: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect::<String>()
            .trim_matches('.')
            .to_ascii_lowercase()
    };
    let domain = policy_domain.trim_end_matches('.').to_ascii_lowercase();
    let kept = clean(&domain);
    let kept = if kept == domain {
        kept
    } else {
        format!(
            "{kept}!{}",
            crate::message::short_hash(domain.as_bytes(), 4)
        )
    };
    format!("{}.{}@{}", range.begin, kept, clean(submitter))
}

/// Builds the aggregate report for `policy_domain` over `range` (RFC 9990 §3.1).
///
/// Only observations of that Policy Domain (case-insensitive) whose time lies in `range` are
/// used; the others are ignored. Identical rows (same source IP, identifiers, authentication
/// results and evaluated policy) become one `record` with a count (RFC 9990 §3.1.1.7), in the
/// order first seen. `policy_published` is that of the latest observation ("SHOULD note only
/// the final configuration observed", §3.1). DKIM signatures are ordered and capped as §3.1.3
/// says. Errors with [`ReportsError::NoRecords`] when no observation is left.
pub fn build_feedback(
    policy_domain: &str,
    range: DateRange,
    observations: &[Observation],
    reporter: &ReporterInfo,
) -> Result<Feedback, ReportsError> {
    let counted: Vec<(&Observation, u64)> = observations.iter().map(|o| (o, 1)).collect();
    build_feedback_counted(policy_domain, range, &counted, reporter)
}

/// Like [`build_feedback`], for observations stored once with the number of messages they
/// stand for (a store keeps identical observations as one row with a count). An observation
/// with count `n` weighs as `n` identical ones; a count of 0 is ignored.
pub fn build_feedback_counted(
    policy_domain: &str,
    range: DateRange,
    observations: &[(&Observation, u64)],
    reporter: &ReporterInfo,
) -> Result<Feedback, ReportsError> {
    let policy_domain = policy_domain.trim_end_matches('.').to_ascii_lowercase();
    let mut selected: Vec<(&Observation, u64)> = observations
        .iter()
        .copied()
        .filter(|&(o, n)| {
            n > 0
                && range.contains(o.time)
                && o.policy_domain
                    .as_deref()
                    .is_some_and(|d| d.trim_end_matches('.').eq_ignore_ascii_case(&policy_domain))
        })
        .collect();
    if selected.is_empty() {
        return Err(ReportsError::NoRecords);
    }
    // stable: equal times keep input order, so the last one given wins
    selected.sort_by_key(|(o, _)| o.time);
    let latest = selected
        .iter()
        .rev()
        .find_map(|(o, _)| o.published.as_ref());

    let mut records: Vec<Record> = Vec::new();
    let mut index: HashMap<Record, usize> = HashMap::new();
    // rows in order of arrival
    for (obs, n) in selected {
        let mut record = record_of(obs, reporter.include_envelope_to);
        let mut key = record.clone();
        key.row.count = 0;
        match index.get(&key) {
            Some(&i) => {
                if let Some(r) = records.get_mut(i) {
                    r.row.count = r.row.count.saturating_add(n);
                }
            }
            None => {
                index.insert(key, records.len());
                record.row.count = n;
                records.push(record);
            }
        }
    }

    let (policy, errors) = match latest {
        Some(published) => (
            policy_published(&policy_domain, published),
            published.errors.clone(),
        ),
        None => (
            PolicyPublished {
                domain: policy_domain.clone(),
                discovery_method: None,
                p: crate::vocabulary::Disposition::None,
                sp: None,
                np: None,
                adkim: None,
                aspf: None,
                pct: None,
                fo: None,
                testing: None,
            },
            Vec::new(),
        ),
    };
    Ok(Feedback {
        version: Some("1.0".to_string()),
        metadata: ReportMetadata {
            org_name: reporter.org_name.clone(),
            email: reporter.email.clone(),
            extra_contact_info: reporter.extra_contact_info.clone(),
            report_id: report_id(&policy_domain, range, &reporter.submitter),
            date_range: range,
            errors,
            generator: reporter.generator.clone(),
        },
        policy,
        records,
    })
}

/// `policy_published` with every tag at its discovered or default value (RFC 9990 §3.1.1.5:
/// "Unspecified tags have their default values"; RFC 9989 §4.7: `sp` defaults to `p`, `np` to
/// `sp`).
fn policy_published(domain: &str, p: &PublishedPolicy) -> PolicyPublished {
    let sp = p.sp.unwrap_or(p.p);
    PolicyPublished {
        domain: domain.to_string(),
        discovery_method: Some(p.discovery_method),
        p: p.p,
        sp: Some(sp),
        np: Some(p.np.unwrap_or(sp)),
        adkim: Some(p.adkim),
        aspf: Some(p.aspf),
        pct: Some(p.pct),
        fo: Some(format_failure_options(&p.fo)),
        testing: Some(p.testing),
    }
}

/// One observation as a row with count 1.
fn record_of(obs: &Observation, include_envelope_to: bool) -> Record {
    let envelope_to = match obs.envelope_to.as_slice() {
        [one] if include_envelope_to => Some(one.clone()),
        _ => None,
    };
    Record {
        row: Row {
            source_ip: obs.source_ip,
            count: 1,
            policy_evaluated: PolicyEvaluated {
                disposition: obs.disposition.into(),
                dkim: AlignedResult::from_bool(obs.dkim_aligned_pass()),
                spf: AlignedResult::from_bool(obs.spf_aligned_pass()),
                reasons: obs.overrides.clone(),
            },
        },
        identifiers: Identifiers {
            header_from: obs.header_from.clone(),
            envelope_from: Some(obs.envelope_from.clone()),
            envelope_to,
        },
        auth_results: AuthResults {
            dkim: ordered_dkim(&obs.dkim, &obs.header_from)
                .into_iter()
                .map(|d| DkimAuthResult {
                    domain: d.domain.clone(),
                    selector: Some(d.selector.clone()),
                    result: d.result,
                    human_result: d.human_result.clone(),
                })
                .collect(),
            spf: obs
                .spf
                .iter()
                .map(|s| SpfAuthResult {
                    domain: s.domain.clone(),
                    scope: Some(s.scope),
                    result: s.result,
                    human_result: None,
                })
                .collect(),
        },
    }
}

/// DKIM signatures in RFC 9990 §3.1.3 order: aligned strict passes, aligned relaxed passes,
/// other passes, the rest; at most [`MAX_DKIM_PER_ROW`]. Equal ranks keep message order.
fn ordered_dkim<'a>(dkim: &'a [DkimObservation], header_from: &str) -> Vec<&'a DkimObservation> {
    let mut out: Vec<&DkimObservation> = dkim.iter().collect();
    out.sort_by_key(|d| dkim_rank(d, header_from));
    out.truncate(MAX_DKIM_PER_ROW);
    out
}

/// A signature's place in RFC 9990 §3.1.3's order (lower first): 0 a pass in strict
/// alignment with the From domain, 1 a pass in relaxed alignment, 2 another pass, 3 the rest.
pub(crate) fn dkim_rank(d: &DkimObservation, header_from: &str) -> u8 {
    match (d.result == DkimResult::Pass, d.aligned) {
        (true, true) if d.domain.eq_ignore_ascii_case(header_from) => 0,
        (true, true) => 1,
        (true, false) => 2,
        (false, _) => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{OverrideReason, SpfObservation};
    use crate::vocabulary::{
        ActionDisposition, AlignmentMode, DiscoveryMethod, Disposition, DmarcResult, Mode,
        OverrideType, Psd, SpfResult, SpfScope,
    };

    /// RFC 9990 §3.5.1: the Report-ID MUST be unique. `_m.example` and `m.example` had the
    /// same one (and the same Message-ID to a shared `rua`): `_` was dropped.
    #[test]
    fn report_ids_of_distinct_policy_domains_differ() {
        let day = DateRange::utc_day(1_796_515_200);
        let id = |d: &str| report_id(d, day, "rx.example");
        assert_eq!(id("m.example"), "1796515200.m.example@rx.example");
        assert_eq!(id("_m.example"), "1796515200._m.example@rx.example");
        assert_eq!(id("M.Example."), id("m.example"));
        let odd = id("m*.example");
        assert!(odd.starts_with("1796515200.m.example!"), "{odd}");
        assert_ne!(odd, id("m.example"));
        assert_ne!(odd, id("m+.example"));
    }

    fn reporter() -> ReporterInfo {
        ReporterInfo {
            org_name: "rx.example".into(),
            email: "dmarc-noreply@rx.example".into(),
            extra_contact_info: None,
            submitter: "rx.example".into(),
            generator: Some("authmilter 0.1".into()),
            include_envelope_to: false,
        }
    }

    pub(crate) fn observation(time: u64, ip: &str, dkim_pass: bool) -> Observation {
        Observation {
            time,
            source_ip: ip.parse().unwrap(),
            header_from: "example.com".into(),
            envelope_from: "example.com".into(),
            envelope_to: vec!["rx.example".into()],
            policy_domain: Some("example.com".into()),
            result: if dkim_pass {
                DmarcResult::Pass
            } else {
                DmarcResult::Fail
            },
            disposition: Disposition::None,
            requested_policy: Some(Disposition::None),
            overrides: Vec::new(),
            spf: Some(SpfObservation {
                domain: "example.com".into(),
                scope: SpfScope::MailFrom,
                result: SpfResult::SoftFail,
                aligned: true,
            }),
            dkim: vec![DkimObservation {
                domain: "example.com".into(),
                selector: "s1".into(),
                result: if dkim_pass {
                    DkimResult::Pass
                } else {
                    DkimResult::Fail
                },
                aligned: true,
                human_result: None,
                failure: None,
            }],
            published: Some(PublishedPolicy {
                p: Disposition::None,
                sp: None,
                np: None,
                adkim: AlignmentMode::Relaxed,
                aspf: AlignmentMode::Relaxed,
                testing: false,
                pct: 100,
                psd: Psd::Unknown,
                fo: vec![crate::vocabulary::FailureOption::All],
                rua: Vec::new(),
                ruf: Vec::new(),
                discovery_method: DiscoveryMethod::TreeWalk,
                errors: Vec::new(),
            }),
            mode: Mode::Rfc9989,
        }
    }

    #[test]
    fn identical_rows_are_counted_once() {
        let range = DateRange::utc_day(1_700_000_000);
        let mut obs = vec![
            observation(range.begin + 10, "192.0.2.1", true),
            observation(range.begin + 20, "192.0.2.1", true),
            observation(range.begin + 30, "192.0.2.2", true),
            observation(range.begin + 40, "192.0.2.1", false),
            // outside the period and another policy domain: ignored
            observation(range.end + 1, "192.0.2.1", true),
        ];
        let mut other = observation(range.begin + 50, "192.0.2.1", true);
        other.policy_domain = Some("other.example".into());
        obs.push(other);
        let fb = build_feedback("Example.COM.", range, &obs, &reporter()).unwrap();
        let counts: Vec<(String, u64)> = fb
            .records
            .iter()
            .map(|r| (r.row.source_ip.to_string(), r.row.count))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("192.0.2.1".to_string(), 2),
                ("192.0.2.2".to_string(), 1),
                ("192.0.2.1".to_string(), 1)
            ]
        );
        assert_eq!(fb.message_count(), 4);
        assert_eq!(fb.policy.domain, "example.com");
        assert_eq!(fb.policy.sp, Some(Disposition::None));
        assert_eq!(fb.policy.fo.as_deref(), Some("0"));
        assert_eq!(
            fb.metadata.report_id,
            format!("{}.example.com@rx.example", range.begin)
        );
        assert_eq!(fb.records[0].identifiers.envelope_to, None);
        assert_eq!(fb.records[2].row.policy_evaluated.dkim, AlignedResult::Fail);
        // SPF softfail but aligned: not an aligned pass
        assert_eq!(fb.records[0].row.policy_evaluated.spf, AlignedResult::Fail);
        assert_eq!(
            build_feedback("nobody.example", range, &obs, &reporter()),
            Err(ReportsError::NoRecords)
        );
    }

    #[test]
    fn latest_policy_wins_and_reasons_split_rows() {
        let range = DateRange {
            begin: 1000,
            end: 2000,
        };
        let mut a = observation(1500, "2001:db8::1", false);
        let mut b = observation(1100, "2001:db8::1", false);
        b.published.as_mut().unwrap().p = Disposition::Reject;
        a.published.as_mut().unwrap().p = Disposition::Quarantine;
        a.disposition = Disposition::None;
        a.overrides = vec![OverrideReason::new(OverrideType::MailingList)];
        let mut with_to = reporter();
        with_to.include_envelope_to = true;
        let fb = build_feedback("example.com", range, &[a, b], &with_to).unwrap();
        assert_eq!(fb.policy.p, Disposition::Quarantine);
        assert_eq!(fb.records.len(), 2);
        // arrival order: b (1100) first
        assert!(fb.records[0].row.policy_evaluated.reasons.is_empty());
        assert_eq!(
            fb.records[1].row.policy_evaluated.disposition,
            ActionDisposition::None
        );
        assert_eq!(
            fb.records[0].identifiers.envelope_to.as_deref(),
            Some("rx.example")
        );
    }

    #[test]
    fn dkim_order_and_cap() {
        let mk = |domain: &str, result: DkimResult, aligned: bool| DkimObservation {
            domain: domain.into(),
            selector: "s".into(),
            result,
            aligned,
            human_result: None,
            failure: None,
        };
        let mut sigs = vec![
            mk("fail.example", DkimResult::Fail, false),
            mk("third.example", DkimResult::Pass, false),
            mk("sub.example.com", DkimResult::Pass, true),
            mk("example.com", DkimResult::Pass, true),
        ];
        let order: Vec<&str> = ordered_dkim(&sigs, "example.com")
            .iter()
            .map(|d| d.domain.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "example.com",
                "sub.example.com",
                "third.example",
                "fail.example"
            ]
        );
        for _ in 0..200 {
            sigs.push(mk("x.example", DkimResult::Fail, false));
        }
        assert_eq!(ordered_dkim(&sigs, "example.com").len(), MAX_DKIM_PER_ROW);
    }

    #[test]
    fn counted_observations_weigh_as_their_count() {
        let day = DateRange::utc_day(1_700_000_000);
        let a = observation(day.begin + 10, "192.0.2.1", true);
        let b = observation(day.begin + 20, "192.0.2.2", false);
        let plain: Vec<Observation> = std::iter::repeat_n(a.clone(), 3)
            .chain(std::iter::repeat_n(b.clone(), 2))
            .collect();
        let one = build_feedback("example.com", day, &plain, &reporter()).unwrap();
        let counted = build_feedback_counted(
            "example.com",
            day,
            &[(&a, 3), (&b, 2), (&b, 0)],
            &reporter(),
        )
        .unwrap();
        assert_eq!(one, counted);
        assert_eq!(counted.message_count(), 5);
        assert!(matches!(
            build_feedback_counted("example.com", day, &[(&a, 0)], &reporter()),
            Err(ReportsError::NoRecords)
        ));
    }
}
