//! Submitting one aggregate report to the relay, and what the SMTP outcome means for the
//! store (docs/reports.md, "Sending aggregate reports": not sent, refused, unknown).

use report_store::{PeriodKey, SendEnd};

use crate::app::App;

use super::sender::backoff;
use super::smtp::SubmitError;

/// Submits one report; maps the outcome to the store's terms (`Err` when the relay could not
/// be reached).
pub(super) async fn submit(
    app: &App,
    from: &str,
    to: &str,
    message: &[u8],
    now: u64,
    key: &PeriodKey,
    attempts: u64,
) -> Result<SendEnd, SendEnd> {
    let cfg = &app.config.reports;
    let relay = super::relay(cfg);
    match relay.submit(from, to, message).await {
        Ok(reply) => {
            tracing::info!(policy_domain = %key.policy_domain, period = key.period_begin, to, %reply, "reports: aggregate report sent");
            Ok(SendEnd::Sent {
                message_id: super::message_id(message),
                size: message.len() as u64,
            })
        }
        Err(e) => {
            let unreachable = matches!(e, SubmitError::Unreachable(_));
            let end = send_end(
                e,
                attempts.saturating_sub(1),
                cfg.max_attempts,
                now,
                |msg| {
                    tracing::warn!(policy_domain = %key.policy_domain, to, "reports: {msg}");
                },
            );
            if unreachable { Err(end) } else { Ok(end) }
        }
    }
}

/// What a failed submission means for the store: retry (not sent, RFC 5321 §4.2.1 4xx or no
/// connection) until `max_attempts`, failed (5xx), or uncertain (no answer after DATA).
pub fn send_end(
    e: SubmitError,
    attempts: u64,
    max_attempts: u32,
    now: u64,
    log: impl Fn(&str),
) -> SendEnd {
    log(&e.to_string());
    match e {
        SubmitError::NotSent(error) | SubmitError::Unreachable(error)
            if attempts + 1 < u64::from(max_attempts) =>
        {
            SendEnd::Retry {
                error,
                next_attempt: now + backoff(attempts),
            }
        }
        SubmitError::NotSent(error) | SubmitError::Unreachable(error) => SendEnd::Failed {
            error: format!("gave up after {max_attempts} attempts: {error}"),
        },
        SubmitError::Refused(error) => SendEnd::Failed { error },
        SubmitError::Uncertain(error) => SendEnd::Uncertain { error },
    }
}
