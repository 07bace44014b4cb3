//! The failure report queue (RFC 9991): built messages waiting for the sender, rate limited
//! per policy domain and per destination when queued (RFC 9991 §2 MUST). A message is kept
//! only until it is settled; the row stays as the record for the rate limits and status.

use crate::error::StoreError;
use crate::sql::{Row, Stmt, Value};
use crate::{Store, secs};

/// A failure report to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFailureReport {
    /// The policy domain whose `ruf` asked for it.
    pub policy_domain: String,
    /// The destination address (lowercase).
    pub destination: String,
    /// The `ruf` URI.
    pub uri: String,
    /// `dmarc`, `spf` or `dkim`.
    pub kind: String,
    /// The whole message.
    pub message: Vec<u8>,
}

/// Rate limits for queueing failure reports: at most `count` per `window` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    /// Per policy domain: (count, window seconds).
    pub per_domain: (u64, u64),
    /// Per destination address: (count, window seconds).
    pub per_destination: (u64, u64),
}

/// The outcome of [`Store::queue_failure_report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Queued with this id.
    Yes(i64),
    /// A rate limit was reached: not queued.
    RateLimited,
}

/// A queued failure report claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureReport {
    /// Its id.
    pub id: i64,
    /// The policy domain.
    pub policy_domain: String,
    /// The destination address.
    pub destination: String,
    /// The `ruf` URI.
    pub uri: String,
    /// `dmarc`, `spf` or `dkim`.
    pub kind: String,
    /// The message.
    pub message: Vec<u8>,
    /// Attempts including this one.
    pub attempts: u64,
}

impl Store {
    /// Queues a failure report unless a rate limit is reached (counted over the reports
    /// queued by every node: the writers of the queue take turns, so each counts the rows
    /// the others committed; a turn not had within 5 s is an error, the report not queued).
    pub async fn queue_failure_report(
        &self,
        report: &NewFailureReport,
        now: u64,
        limits: FailureLimits,
    ) -> Result<Queued, StoreError> {
        let since = |window: u64| Value::Int(secs(now.saturating_sub(window)));
        let p = vec![
            Value::Int(secs(now)),
            report.policy_domain.clone().into(),
            report.destination.clone().into(),
            report.uri.clone().into(),
            report.kind.clone().into(),
            report.message.clone().into(),
            since(limits.per_domain.1),
            limits.per_domain.0.into(),
            since(limits.per_destination.1),
            limits.per_destination.0.into(),
        ];
        let rows = self
            .transaction(vec![
                Stmt::new("SELECT CAST(1 AS BIGINT) FROM (SELECT {lock_wait}) AS bounded", vec![]),
                Stmt::new("SELECT CAST(1 AS BIGINT) FROM (SELECT {queue_lock}) AS locked", vec![]),
                Stmt::new(
                "INSERT INTO failure_reports (created_at, policy_domain, destination, uri, kind,
                    message, state, attempts, next_attempt, claimed_until, updated_at)
                 SELECT CAST(?1 AS BIGINT), CAST(?2 AS TEXT), CAST(?3 AS TEXT),
                    CAST(?4 AS TEXT), CAST(?5 AS TEXT), CAST(?6 AS {blob}), 'pending', 0, 0, 0,
                    CAST(?1 AS BIGINT)
                 WHERE (SELECT COUNT(*) FROM failure_reports
                        WHERE policy_domain = CAST(?2 AS TEXT)
                          AND created_at >= CAST(?7 AS BIGINT)) < CAST(?8 AS BIGINT)
                   AND (SELECT COUNT(*) FROM failure_reports
                        WHERE destination = CAST(?3 AS TEXT)
                          AND created_at >= CAST(?9 AS BIGINT)) < CAST(?10 AS BIGINT)
                 RETURNING id",
                p,
            )])
            .await?
            .pop()
            .unwrap_or_default();
        match rows.first() {
            Some(r) => Ok(Queued::Yes(r.int(0)?)),
            None => Ok(Queued::RateLimited),
        }
    }

    /// Whether `policy_domain` may have another failure report now under its own limit (the
    /// first half of [`Store::failure_report_allowed`], RFC 9991 §2), so the destinations of a
    /// domain over its limit are not even checked in DNS.
    pub async fn failure_domain_allowed(
        &self,
        policy_domain: &str,
        now: u64,
        (count, window): (u64, u64),
    ) -> Result<bool, StoreError> {
        let rows = self
            .query(Stmt::new(
                "SELECT CAST(CASE WHEN
                    (SELECT COUNT(*) FROM failure_reports
                     WHERE policy_domain = CAST(?1 AS TEXT)
                       AND created_at >= CAST(?2 AS BIGINT)) < CAST(?3 AS BIGINT)
                 THEN 1 ELSE 0 END AS BIGINT)",
                vec![
                    policy_domain.into(),
                    Value::Int(secs(now.saturating_sub(window))),
                    count.into(),
                ],
            ))
            .await?;
        Ok(rows.first().map(|r| r.uint(0)).transpose()? == Some(1))
    }

    /// Whether a failure report for `policy_domain` to `destination` would be within the rate
    /// limits now (the check [`Store::queue_failure_report`] makes), so a report that would be
    /// refused need not be built.
    pub async fn failure_report_allowed(
        &self,
        policy_domain: &str,
        destination: &str,
        now: u64,
        limits: FailureLimits,
    ) -> Result<bool, StoreError> {
        let since = |window: u64| Value::Int(secs(now.saturating_sub(window)));
        let rows = self
            .query(Stmt::new(
                "SELECT CAST(CASE WHEN
                    (SELECT COUNT(*) FROM failure_reports
                     WHERE policy_domain = CAST(?1 AS TEXT)
                       AND created_at >= CAST(?3 AS BIGINT)) < CAST(?4 AS BIGINT)
                    AND (SELECT COUNT(*) FROM failure_reports
                     WHERE destination = CAST(?2 AS TEXT)
                       AND created_at >= CAST(?5 AS BIGINT)) < CAST(?6 AS BIGINT)
                 THEN 1 ELSE 0 END AS BIGINT)",
                vec![
                    policy_domain.into(),
                    destination.into(),
                    since(limits.per_domain.1),
                    limits.per_domain.0.into(),
                    since(limits.per_destination.1),
                    limits.per_destination.0.into(),
                ],
            ))
            .await?;
        Ok(rows.first().map(|r| r.uint(0)).transpose()? == Some(1))
    }

    /// Claims up to `limit` queued failure reports whose time has come, for `holder` until
    /// `now + lease`. Reports claimed by a sender whose lease expired become `uncertain`
    /// first (never sent again).
    pub async fn claim_failure_reports(
        &self,
        holder: &str,
        now: u64,
        lease: u64,
        limit: u64,
    ) -> Result<Vec<FailureReport>, StoreError> {
        let p = vec![
            holder.into(),
            Value::Int(secs(now)),
            Value::Int(secs(now.saturating_add(lease))),
            limit.into(),
        ];
        let results = self
            .transaction(vec![
                Stmt::new(
                    "UPDATE failure_reports SET state = 'uncertain', message = NULL,
                        last_error = 'the sender stopped while submitting it; not sent again',
                        updated_at = ?1
                     WHERE state = 'sending' AND claimed_until < ?1",
                    vec![Value::Int(secs(now))],
                ),
                Stmt::new(
                    "UPDATE failure_reports SET state = 'sending', node = ?1,
                        claimed_until = ?3, attempts = attempts + 1, updated_at = ?2
                     WHERE state = 'pending' AND next_attempt <= ?2
                       AND id IN (SELECT id FROM failure_reports
                           WHERE state = 'pending' AND next_attempt <= ?2
                           ORDER BY id LIMIT ?4)
                     RETURNING id, policy_domain, destination, uri, kind, message, attempts",
                    p,
                ),
            ])
            .await?;
        let mut out: Vec<FailureReport> = results
            .get(1)
            .map(|rows| rows.iter().map(failure_row).collect())
            .unwrap_or_else(|| Ok(Vec::new()))?;
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// Records how sending a claimed failure report ended (see [`crate::SendEnd`]); the
    /// message is dropped unless it is to be retried. A report whose claim expired while it
    /// was being submitted is `uncertain` and has lost its message: `Sent` still records it,
    /// `Failed` too, and a `Retry` makes it `failed` (it cannot go back to `pending` without
    /// its message).
    pub async fn end_failure_report(
        &self,
        id: i64,
        holder: &str,
        now: u64,
        end: crate::SendEnd,
    ) -> Result<bool, StoreError> {
        use crate::SendEnd;
        let (state, error, message_id, next) = match end {
            SendEnd::Sent { message_id, .. } => ("sent", None, Some(message_id), 0),
            SendEnd::Retry {
                error,
                next_attempt,
            } => ("pending", Some(error), None, next_attempt),
            SendEnd::Failed { error } => ("failed", Some(error), None, 0),
            SendEnd::Uncertain { error } => ("uncertain", Some(error), None, 0),
        };
        let rows = self
            .query(Stmt::new(
                "UPDATE failure_reports SET
                    state = CASE WHEN ?3 = 'pending' AND state = 'uncertain' THEN 'failed'
                        ELSE CAST(?3 AS TEXT) END,
                    last_error = CASE WHEN ?3 = 'pending' AND state = 'uncertain'
                        THEN 'its claim expired while it was submitted, and it was not sent: '
                            || CAST(?4 AS TEXT)
                        ELSE CAST(?4 AS TEXT) END,
                    message_id = ?5,
                    next_attempt = ?6, updated_at = ?7, claimed_until = 0,
                    sent_at = CASE WHEN ?3 = 'sent' THEN CAST(?7 AS BIGINT) ELSE NULL END,
                    message = CASE WHEN ?3 = 'pending' AND state = 'sending' THEN message
                        ELSE NULL END
                 WHERE id = ?1 AND node = ?2 AND state IN ('sending', 'uncertain')
                 RETURNING 1",
                vec![
                    Value::Int(id),
                    holder.into(),
                    state.into(),
                    error.into(),
                    message_id.into(),
                    Value::Int(secs(next)),
                    Value::Int(secs(now)),
                ],
            ))
            .await?;
        Ok(!rows.is_empty())
    }
}

fn failure_row(r: &Row) -> Result<FailureReport, StoreError> {
    Ok(FailureReport {
        id: r.int(0)?,
        policy_domain: r.text(1)?,
        destination: r.text(2)?,
        uri: r.text(3)?,
        kind: r.text(4)?,
        message: r.opt_blob(5)?.unwrap_or_default(),
        attempts: r.uint(6)?,
    })
}
