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
/// (every author domain of a message shares its disposition). Empty without DMARC.
pub fn observations(d: &Decision, env: &Envelope, time: u64) -> Vec<Observation> {
    let Some(dmarc) = d.results.as_ref().and_then(|r| r.dmarc.as_ref()) else {
        return Vec::new();
    };
    dmarc
        .evaluations
        .iter()
        .map(|eval| {
            let applied = match &d.applied {
                Some(a) => applied_policy(a),
                None => reports::AppliedPolicy::as_evaluated(eval),
            };
            Observation::from_evaluation(eval, env, applied, time)
        })
        .collect()
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
