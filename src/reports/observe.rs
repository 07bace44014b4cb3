//! What the recorder stores of a finished message: its DMARC [`Observation`]s (one per
//! evaluated author domain) and its SMTP [`Envelope`].

use reports::vocabulary::OverrideType;
use reports::{Envelope, Observation, OverrideReason};

use crate::pipeline::Decision;
use crate::pipeline::policy::{AppliedPolicy, OverrideKind};

/// The SMTP envelope as the reports crate wants it.
pub fn envelope(
    client_ip: Option<std::net::IpAddr>,
    helo: Option<&[u8]>,
    mail_from: &[u8],
    recipients: &[Vec<u8>],
    queue_id: Option<&str>,
) -> Envelope {
    let text = |b: &[u8]| -> String {
        String::from_utf8_lossy(b)
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    };
    Envelope {
        source_ip: client_ip.map(|ip| ip.to_canonical()),
        helo: helo.map(text).unwrap_or_default(),
        mail_from: text(mail_from),
        rcpt_to: recipients.iter().map(|r| text(r)).collect(),
        envelope_id: queue_id.map(str::to_string),
    }
}

/// The observations of a message: one per evaluated author domain, with what we applied
/// (every author domain of a message shares its disposition). Empty without DMARC, and for a
/// message answered with a tempfail: it was not received (RFC 5321 §4.2.5), its sender tries
/// again, and each try would count as one more message in the aggregate report and could
/// trigger one more failure report.
pub fn observations(d: &Decision, env: &Envelope, time: u64) -> Vec<Observation> {
    if matches!(d.verdict, crate::pipeline::Verdict::TempFail(_)) {
        return Vec::new();
    }
    let Some(dmarc) = d.results.as_ref().and_then(|r| r.dmarc.as_ref()) else {
        return Vec::new();
    };
    let several = dmarc.evaluations.len() > 1;
    // the signatures DMARC was given, in its order (pipeline::inbound)
    let dkim_failures: Vec<Option<reports::DkimFailure>> = d
        .results
        .as_ref()
        .map(|r| {
            r.dkim
                .iter()
                .map(|s| dkim_failure(s.reason.as_ref()))
                .collect()
        })
        .unwrap_or_default();
    dmarc
        .evaluations
        .iter()
        .enumerate()
        .map(|(i, eval)| {
            let mut applied = match &d.applied {
                Some(a) => applied_policy(a),
                None => reports::AppliedPolicy::as_evaluated(eval),
            };
            // RFC 9989 §11.5: the strictest failing policy of the author domains applied (the
            // first evaluation's, dmarc::DmarcOutcome::primary); another domain's row keeps
            // none of that record's own reasons (its t=y, pct=), and says why its
            // disposition is not its own, or nothing when it is
            if several && i > 0 {
                if applied.disposition == eval.disposition.into() {
                    applied.overrides.clear();
                } else {
                    applied.overrides.retain(|o| {
                        !matches!(
                            o.kind,
                            OverrideType::PolicyTestMode | OverrideType::SampledOut
                        )
                    });
                    if applied.overrides.is_empty() {
                        applied.overrides.push(OverrideReason::with_comment(
                            OverrideType::Other,
                            "the message has several author domains; another one's policy applied",
                        ));
                    }
                }
            }
            Observation::from_evaluation(eval, env, applied, time, &dkim_failures)
        })
        .collect()
}

/// The failure report type of a DKIM failure, where RFC 6591 §3.3 has one besides `signature`.
fn dkim_failure(reason: Option<&dkim::Reason>) -> Option<reports::DkimFailure> {
    match reason? {
        dkim::Reason::BodyHashMismatch => Some(reports::DkimFailure::BodyHash),
        dkim::Reason::KeyRevoked => Some(reports::DkimFailure::Revoked),
        _ => None,
    }
}

fn applied_policy(a: &AppliedPolicy) -> reports::AppliedPolicy {
    reports::AppliedPolicy {
        disposition: a.disposition.into(),
        overrides: a
            .overrides
            .iter()
            .map(|o| {
                let kind = match o.kind {
                    OverrideKind::LocalPolicy => OverrideType::LocalPolicy,
                    OverrideKind::PolicyTestMode => OverrideType::PolicyTestMode,
                    OverrideKind::SampledOut => OverrideType::SampledOut,
                    OverrideKind::TrustedForwarder => OverrideType::TrustedForwarder,
                };
                OverrideReason::with_comment(kind, o.comment.clone())
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::pipeline::{Results, Verdict};

    use super::*;

    fn evaluation() -> dmarc::Evaluation {
        let record = dmarc::parse_record(b"v=DMARC1; p=reject; rua=mailto:d@a.example").unwrap();
        dmarc::Evaluation {
            author_domain: "a.example".into(),
            result: dmarc::DmarcResult::TempError,
            org_domain: Some("a.example".into()),
            discovery: dmarc::DiscoveryMethod::TreeWalk,
            policy_domain: Some("a.example".into()),
            record_source: Some(dmarc::RecordSource::AuthorDomain),
            record: Some(record),
            policy: Some(dmarc::Policy::Reject),
            policy_source: Some(dmarc::PolicySource::P),
            author_domain_exists: None,
            disposition: dmarc::Disposition::None,
            sampled_out: false,
            testing: false,
            spf: None,
            dkim: Vec::new(),
            reasons: Vec::new(),
        }
    }

    /// [`evaluation`] for `domain`.
    fn evaluation_of(domain: &str) -> dmarc::Evaluation {
        let mut e = evaluation();
        e.author_domain = domain.into();
        e.policy_domain = Some(domain.into());
        e
    }

    /// A failure of `domain`, whose record says `p=none`.
    fn failing_p_none(domain: &str) -> dmarc::Evaluation {
        let mut e = evaluation_of(domain);
        e.result = dmarc::DmarcResult::Fail;
        e.policy = Some(dmarc::Policy::None);
        e
    }

    /// A message from u@a.example to r@rx.example.
    fn one_recipient() -> Envelope {
        envelope(
            None,
            None,
            b"<u@a.example>",
            &[b"<r@rx.example>".to_vec()],
            None,
        )
    }

    fn decision(verdict: Verdict) -> Decision {
        let mut d = Decision::accept();
        d.verdict = verdict;
        d.results = Some(Arc::new(Results {
            dmarc: Some(dmarc::DmarcOutcome {
                result: dmarc::DmarcResult::TempError,
                disposition: dmarc::Disposition::None,
                from_problem: None,
                evaluations: vec![evaluation()],
                mode: dmarc::Mode::Rfc9989,
                incomplete: None,
            }),
            ..Results::default()
        }));
        d
    }

    /// RFC 9989 §11.5: with several author domains the strictest failing policy applies to
    /// the message. The other domains' rows say so (`other`), instead of showing a passing
    /// message rejected with no reason, or a `local_policy` that was no local policy.
    #[test]
    fn another_author_domains_policy_is_named() {
        let env = one_recipient();
        let mut strict = evaluation();
        strict.result = dmarc::DmarcResult::Fail;
        strict.disposition = dmarc::Disposition::Reject;
        let mut passing = evaluation_of("b.example");
        passing.result = dmarc::DmarcResult::Pass;
        let lenient = failing_p_none("c.example");
        let reject = milter_proto::SmtpReply::new(550, None, "no").unwrap();
        let mut d = decision(Verdict::Reject(reject));
        d.results = Some(Arc::new(Results {
            dmarc: Some(dmarc::DmarcOutcome {
                result: dmarc::DmarcResult::Fail,
                disposition: dmarc::Disposition::Reject,
                from_problem: None,
                evaluations: vec![strict, passing, lenient],
                mode: dmarc::Mode::Rfc9989,
                incomplete: None,
            }),
            ..Results::default()
        }));
        d.applied = Some(crate::pipeline::AppliedPolicy {
            disposition: dmarc::Disposition::Reject,
            overrides: Vec::new(),
        });
        let obs = observations(&d, &env, 5);
        let kinds: Vec<Vec<OverrideType>> = obs
            .iter()
            .map(|o| o.overrides.iter().map(|r| r.kind).collect())
            .collect();
        assert_eq!(
            kinds,
            [vec![], vec![OverrideType::Other], vec![OverrideType::Other]],
            "{obs:#?}"
        );
    }

    /// The reasons of the author domain whose policy applied (its record's `t=y`, `pct=`)
    /// were copied to the other domains' rows: a `p=none` domain's report said
    /// `policy_test_mode "the record says t=y"` of a record it never published. The other
    /// rows keep message-wide reasons only, or say `other` when their disposition is not
    /// their own, and nothing when it is.
    #[test]
    fn one_author_domains_record_reasons_stay_in_its_row() {
        let env = one_recipient();
        let mut testing = evaluation();
        testing.result = dmarc::DmarcResult::Fail;
        testing.testing = true;
        testing.disposition = dmarc::Disposition::Quarantine;
        let lenient = failing_p_none("d.example");
        let mut d = decision(Verdict::Accept);
        d.results = Some(Arc::new(Results {
            dmarc: Some(dmarc::DmarcOutcome {
                result: dmarc::DmarcResult::Fail,
                disposition: dmarc::Disposition::Quarantine,
                from_problem: None,
                evaluations: vec![testing, lenient.clone()],
                mode: dmarc::Mode::Rfc9989,
                incomplete: None,
            }),
            ..Results::default()
        }));
        let test_mode = crate::pipeline::PolicyOverride {
            kind: crate::pipeline::OverrideKind::PolicyTestMode,
            comment: "the record says t=y".into(),
        };
        let enforcement_off = crate::pipeline::PolicyOverride {
            kind: crate::pipeline::OverrideKind::LocalPolicy,
            comment: "enforcement is off".into(),
        };
        d.applied = Some(crate::pipeline::AppliedPolicy {
            disposition: dmarc::Disposition::Quarantine,
            overrides: vec![test_mode.clone()],
        });
        let kinds = |d: &Decision| -> Vec<Vec<OverrideType>> {
            observations(d, &env, 5)
                .iter()
                .map(|o| o.overrides.iter().map(|r| r.kind).collect())
                .collect()
        };
        assert_eq!(
            kinds(&d),
            [
                vec![OverrideType::PolicyTestMode],
                vec![OverrideType::Other]
            ]
        );
        // enforcement off: nothing applied; d.example's p=none gives none of itself
        d.applied = Some(crate::pipeline::AppliedPolicy {
            disposition: dmarc::Disposition::None,
            overrides: vec![test_mode, enforcement_off],
        });
        assert_eq!(
            kinds(&d),
            [
                vec![OverrideType::PolicyTestMode, OverrideType::LocalPolicy],
                vec![]
            ]
        );
    }

    /// A transaction answered with a 4xx was not received (RFC 5321 §4.2.5): its sender tries
    /// again, and every try would be counted in the aggregate report as a message delivered
    /// (and could trigger a failure report each time).
    #[test]
    fn a_tempfailed_message_is_not_recorded() {
        let env = one_recipient();
        let tempfail = milter_proto::SmtpReply::new(451, None, "try again").unwrap();
        assert!(observations(&decision(Verdict::TempFail(tempfail)), &env, 5).is_empty());
        assert_eq!(observations(&decision(Verdict::Accept), &env, 5).len(), 1);
        let reject = milter_proto::SmtpReply::new(550, None, "no").unwrap();
        assert_eq!(
            observations(&decision(Verdict::Reject(reject)), &env, 5).len(),
            1
        );
    }
}
