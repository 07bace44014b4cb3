//! Aggregate report jobs and their sends: the state machine that makes each report go to each
//! destination at most once, with several senders (processes, nodes) at the same time
//! (docs/reports.md, "Exactly once").
//!
//! - A job is one (policy domain, period). A sender *claims* it for a lease; only one sender
//!   holds an unexpired lease (one conditional upsert). `open` until every destination is
//!   settled, then `done` (never claimed again).
//! - A send is one destination of a job: `pending` → `sending` (a conditional update that one
//!   sender wins, committed before SMTP starts) → `sent` / `pending` (a definite failure to
//!   retry) / `failed`; or `skipped` (not authorized, denied, too large, ...). A `sending` row
//!   whose job lease expired belonged to a sender that died: it becomes `uncertain` and is
//!   never sent again (at most once).

use reports::DateRange;

use crate::error::StoreError;
use crate::sql::{Row, Stmt, Value};
use crate::{Store, secs};

/// One report: a policy domain and the UTC day it covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodKey {
    /// The policy domain.
    pub policy_domain: String,
    /// The start of the period (00:00:00 UTC), Unix seconds.
    pub period_begin: u64,
}

impl PeriodKey {
    /// The report's date range (RFC 9990 §3.1.1.4).
    pub fn range(&self) -> DateRange {
        DateRange::utc_day(self.period_begin)
    }

    fn params(&self) -> Vec<Value> {
        vec![self.policy_domain.clone().into(), self.period_begin.into()]
    }
}

/// The outcome of [`Store::claim_job`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// We hold the job until the lease ends; `attempts` passes ended unfinished before.
    Claimed {
        /// Earlier unfinished passes.
        attempts: u64,
    },
    /// Another sender holds an unexpired lease (or the job waits for its retry time).
    Busy {
        /// Who holds it (empty while it waits for a retry).
        holder: String,
    },
    /// The job is done.
    Finished,
}

/// How a pass over a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// Every destination is settled: the job is never claimed again.
    Done {
        /// The report's Report-ID (none when nothing was built).
        report_id: Option<String>,
        /// Messages in the report.
        messages: u64,
        /// What went wrong, if something did (e.g. attempts exhausted).
        error: Option<String>,
    },
    /// Something is still to do (a temporary DNS error, a send to retry): try again after
    /// `not_before`.
    Retry {
        /// Why.
        error: String,
        /// Unix seconds.
        not_before: u64,
    },
}

/// The state of one destination of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SendState {
    /// To send (at `next_attempt` or later).
    Pending,
    /// Claimed by a sender that is submitting it now.
    Sending,
    /// Accepted by the relay.
    Sent,
    /// Not sent on purpose (not authorized, denied, no MX, too large, not mailto).
    Skipped,
    /// Given up after a permanent error or too many attempts.
    Failed,
    /// The sender died while submitting: it may or may not have gone out; never re-sent.
    Uncertain,
}

impl SendState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SendState::Pending => "pending",
            SendState::Sending => "sending",
            SendState::Sent => "sent",
            SendState::Skipped => "skipped",
            SendState::Failed => "failed",
            SendState::Uncertain => "uncertain",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => SendState::Pending,
            "sending" => SendState::Sending,
            "sent" => SendState::Sent,
            "skipped" => SendState::Skipped,
            "failed" => SendState::Failed,
            "uncertain" => SendState::Uncertain,
            other => return Err(StoreError::Corrupt(format!("send state {other:?}"))),
        })
    }
}

impl std::fmt::Display for SendState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A destination to add to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSend {
    /// The address (lowercase), or the URI itself when it has no usable address.
    pub destination: String,
    /// The `rua` URI it came from.
    pub uri: String,
    /// `Pending` or `Skipped`.
    pub state: SendState,
    /// Why it was skipped.
    pub note: Option<String>,
}

/// One destination of a report as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SendRow {
    /// The address.
    pub destination: String,
    /// The `rua` URI.
    pub uri: String,
    /// Its state.
    #[serde(serialize_with = "ser_state")]
    pub state: SendState,
    /// Submission attempts so far.
    pub attempts: u64,
    /// The next attempt, Unix seconds.
    pub next_attempt: u64,
    /// The last error or the reason it was skipped.
    pub last_error: Option<String>,
    /// The Message-ID it was sent with.
    pub message_id: Option<String>,
    /// The message size in bytes.
    pub size: Option<u64>,
    /// The sender (node/process) that last handled it.
    pub node: Option<String>,
    /// When the relay accepted it.
    pub sent_at: Option<u64>,
}

fn ser_state<S: serde::Serializer>(s: &SendState, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

/// How a send attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendEnd {
    /// The relay accepted it.
    Sent {
        /// Its Message-ID.
        message_id: String,
        /// Its size in bytes.
        size: u64,
    },
    /// It certainly did not go out (refused before the end of DATA, or a 4xx): try again
    /// after `next_attempt`.
    Retry {
        /// Why.
        error: String,
        /// Unix seconds.
        next_attempt: u64,
    },
    /// Permanently refused (5xx), or attempts exhausted.
    Failed {
        /// Why.
        error: String,
    },
    /// Nobody knows whether it went out (the connection broke after the end of DATA).
    Uncertain {
        /// Why.
        error: String,
    },
}

pub(crate) const SEND_COLUMNS: &str = "destination, uri, state, attempts, next_attempt, \
     last_error, message_id, size, node, sent_at";

pub(crate) fn send_row(r: &Row, offset: usize) -> Result<SendRow, StoreError> {
    Ok(SendRow {
        destination: r.text(offset)?,
        uri: r.text(offset + 1)?,
        state: SendState::parse(&r.text(offset + 2)?)?,
        attempts: r.uint(offset + 3)?,
        next_attempt: r.uint(offset + 4)?,
        last_error: r.opt_text(offset + 5)?,
        message_id: r.opt_text(offset + 6)?,
        size: r.opt_int(offset + 7)?.and_then(|v| u64::try_from(v).ok()),
        node: r.opt_text(offset + 8)?,
        sent_at: r.opt_int(offset + 9)?.and_then(|v| u64::try_from(v).ok()),
    })
}

impl Store {
    /// Reports due: (policy domain, period) pairs with observations that ask for aggregate
    /// reports, whose period ended at or before `ended_by`, and whose job is not done nor
    /// waiting for its retry at `now`; those never tried first, then oldest first, at most
    /// `limit` (so open jobs that keep being retried cannot fill every pass).
    pub async fn due_periods(
        &self,
        ended_by: u64,
        now: u64,
        limit: u64,
    ) -> Result<Vec<PeriodKey>, StoreError> {
        let rows = self
            .query(Stmt::new(
                "SELECT o.policy_domain, o.period_begin, MIN(COALESCE(j.attempts, 0)) AS tries
                 FROM observations o
                 LEFT JOIN report_jobs j
                   ON j.policy_domain = o.policy_domain AND j.period_begin = o.period_begin
                 WHERE o.wants_report = 1 AND o.period_begin + 86400 <= ?1
                   AND (j.state IS NULL
                        OR (j.state = 'open'
                            AND NOT (j.claimed_by IS NULL AND j.lease_until > ?3)))
                 GROUP BY o.policy_domain, o.period_begin
                 ORDER BY tries, o.period_begin, o.policy_domain
                 LIMIT ?2",
                vec![ended_by.into(), limit.into(), Value::Int(secs(now))],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PeriodKey {
                    policy_domain: r.text(0)?,
                    period_begin: r.uint(1)?,
                })
            })
            .collect()
    }

    /// Claims the job of `key` for `holder` until `now + lease`: creates it, or takes it over
    /// when its lease expired (the previous holder's `sending` destinations become
    /// `uncertain`). One conditional upsert, so of several concurrent claimers one wins.
    pub async fn claim_job(
        &self,
        key: &PeriodKey,
        holder: &str,
        now: u64,
        lease: u64,
    ) -> Result<Claim, StoreError> {
        let mut p = key.params();
        p.extend([
            Value::Int(secs(key.range().end)),
            holder.into(),
            Value::Int(secs(now.saturating_add(lease))),
            Value::Int(secs(now)),
        ]);
        let results = self
            .transaction(vec![
                Stmt::new(
                    "UPDATE report_sends SET state = 'uncertain', updated_at = ?3,
                        last_error = 'the sender stopped while submitting it (lease expired); it may have been sent, so it is not sent again'
                     WHERE policy_domain = ?1 AND period_begin = ?2 AND state = 'sending'
                       AND EXISTS (SELECT 1 FROM report_jobs j
                           WHERE j.policy_domain = ?1 AND j.period_begin = ?2
                             AND j.state = 'open' AND j.lease_until <= ?3
                             AND j.claimed_by IS NOT NULL)",
                    {
                        let mut q = key.params();
                        q.push(Value::Int(secs(now)));
                        q
                    },
                ),
                Stmt::new(
                    "INSERT INTO report_jobs (policy_domain, period_begin, period_end, state,
                        claimed_by, lease_until, attempts, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'open', ?4, ?5, 0, ?6, ?6)
                     ON CONFLICT (policy_domain, period_begin) DO UPDATE SET
                        claimed_by = excluded.claimed_by, lease_until = excluded.lease_until,
                        updated_at = excluded.updated_at
                     WHERE report_jobs.state = 'open'
                       AND (report_jobs.lease_until <= ?6 OR report_jobs.claimed_by = ?4)
                     RETURNING attempts",
                    p,
                ),
                Stmt::new(
                    "SELECT state, claimed_by FROM report_jobs
                     WHERE policy_domain = ?1 AND period_begin = ?2",
                    key.params(),
                ),
            ])
            .await?;
        if let Some(r) = results.get(1).and_then(|rows| rows.first()) {
            return Ok(Claim::Claimed {
                attempts: r.uint(0)?,
            });
        }
        match results.get(2).and_then(|rows| rows.first()) {
            Some(r) if r.text(0)? != "open" => Ok(Claim::Finished),
            Some(r) => Ok(Claim::Busy {
                holder: r.opt_text(1)?.unwrap_or_default(),
            }),
            None => Err(StoreError::Corrupt("job vanished while claiming".into())),
        }
    }

    /// Ends a pass over a job we hold. `Done` closes it for good; `Retry` releases it until
    /// `not_before` and counts the attempt. Returns false when we no longer held it.
    pub async fn finish_job(
        &self,
        key: &PeriodKey,
        holder: &str,
        now: u64,
        end: JobEnd,
    ) -> Result<bool, StoreError> {
        let mut p = key.params();
        p.push(holder.into());
        p.push(Value::Int(secs(now)));
        let stmt = match end {
            JobEnd::Done {
                report_id,
                messages,
                error,
            } => {
                p.extend([report_id.into(), messages.into(), error.into()]);
                Stmt::new(
                    "UPDATE report_jobs SET state = 'done', report_id = ?5, messages = ?6,
                        last_error = ?7, claimed_by = NULL, lease_until = 0, updated_at = ?4
                     WHERE policy_domain = ?1 AND period_begin = ?2 AND claimed_by = ?3
                     RETURNING 1",
                    p,
                )
            }
            JobEnd::Retry { error, not_before } => {
                p.extend([error.into(), Value::Int(secs(not_before))]);
                Stmt::new(
                    "UPDATE report_jobs SET attempts = attempts + 1, last_error = ?5,
                        claimed_by = NULL, lease_until = ?6, updated_at = ?4
                     WHERE policy_domain = ?1 AND period_begin = ?2 AND claimed_by = ?3
                     RETURNING 1",
                    p,
                )
            }
        };
        Ok(!self.query(stmt).await?.is_empty())
    }

    /// Adds destinations to a job; a destination already there keeps its row and state.
    pub async fn add_sends(
        &self,
        key: &PeriodKey,
        report_id: &str,
        sends: &[NewSend],
        now: u64,
    ) -> Result<(), StoreError> {
        if sends.is_empty() {
            return Ok(());
        }
        let stmts = sends
            .iter()
            .map(|s| {
                let mut p = key.params();
                p.extend([
                    s.destination.clone().into(),
                    s.uri.clone().into(),
                    s.state.as_str().into(),
                    s.note.clone().into(),
                    report_id.into(),
                    Value::Int(secs(now)),
                ]);
                Stmt::new(
                    "INSERT INTO report_sends (policy_domain, period_begin, destination, uri,
                        state, attempts, next_attempt, last_error, report_id, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, ?7, ?8)
                     ON CONFLICT (policy_domain, period_begin, destination) DO NOTHING",
                    p,
                )
            })
            .collect();
        self.transaction(stmts).await?;
        Ok(())
    }

    /// Every destination of a job.
    pub async fn sends(&self, key: &PeriodKey) -> Result<Vec<SendRow>, StoreError> {
        let rows = self
            .query(Stmt::new(
                format!(
                    "SELECT {SEND_COLUMNS} FROM report_sends
                     WHERE policy_domain = ?1 AND period_begin = ?2 ORDER BY destination"
                ),
                key.params(),
            ))
            .await?;
        rows.iter().map(|r| send_row(r, 0)).collect()
    }

    /// Takes a pending destination whose retry time has come: `pending` → `sending`, committed
    /// before the message is submitted. `Some(attempts)` (this one included) when we got it
    /// (one sender at most does).
    pub async fn begin_send(
        &self,
        key: &PeriodKey,
        destination: &str,
        holder: &str,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mut p = key.params();
        p.extend([destination.into(), holder.into(), Value::Int(secs(now))]);
        let rows = self
            .query(Stmt::new(
                "UPDATE report_sends SET state = 'sending', node = ?4,
                    attempts = attempts + 1, updated_at = ?5
                 WHERE policy_domain = ?1 AND period_begin = ?2 AND destination = ?3
                   AND state = 'pending' AND next_attempt <= ?5
                 RETURNING attempts",
                p,
            ))
            .await?;
        rows.first().map(|r| r.uint(0)).transpose()
    }

    /// Records how a send we began ended. A `Sent` also overrides `uncertain` (the lease ran
    /// out while we were still submitting, and we know now).
    pub async fn end_send(
        &self,
        key: &PeriodKey,
        destination: &str,
        holder: &str,
        now: u64,
        end: SendEnd,
    ) -> Result<bool, StoreError> {
        let mut p = key.params();
        p.extend([destination.into(), holder.into(), Value::Int(secs(now))]);
        let failed = matches!(end, SendEnd::Failed { .. });
        let stmt = match end {
            SendEnd::Sent { message_id, size } => {
                p.extend([message_id.into(), size.into()]);
                Stmt::new(
                    "UPDATE report_sends SET state = 'sent', message_id = ?6, size = ?7,
                        sent_at = ?5, last_error = NULL, updated_at = ?5
                     WHERE policy_domain = ?1 AND period_begin = ?2 AND destination = ?3
                       AND node = ?4 AND state IN ('sending', 'uncertain')
                     RETURNING 1",
                    p,
                )
            }
            SendEnd::Retry {
                error,
                next_attempt,
            } => {
                p.extend([error.into(), Value::Int(secs(next_attempt))]);
                Stmt::new(
                    "UPDATE report_sends SET state = 'pending', last_error = ?6,
                        next_attempt = ?7, updated_at = ?5
                     WHERE policy_domain = ?1 AND period_begin = ?2 AND destination = ?3
                       AND node = ?4 AND state = 'sending'
                     RETURNING 1",
                    p,
                )
            }
            SendEnd::Failed { error } | SendEnd::Uncertain { error } => {
                let state = if failed { "failed" } else { "uncertain" };
                p.extend([error.into(), state.into()]);
                Stmt::new(
                    "UPDATE report_sends SET state = ?7, last_error = ?6, updated_at = ?5
                     WHERE policy_domain = ?1 AND period_begin = ?2 AND destination = ?3
                       AND node = ?4 AND state = 'sending'
                     RETURNING 1",
                    p,
                )
            }
        };
        Ok(!self.query(stmt).await?.is_empty())
    }

    /// Settles or postpones a `pending` destination without sending it: `Skipped` (e.g. the
    /// message exceeds its `!size`) or `Failed` with `note`, or `Pending` again after
    /// `not_before` (e.g. rate limited).
    pub async fn settle_pending(
        &self,
        key: &PeriodKey,
        destination: &str,
        state: SendState,
        note: &str,
        not_before: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut p = key.params();
        p.extend([
            destination.into(),
            state.as_str().into(),
            note.into(),
            Value::Int(secs(not_before)),
            Value::Int(secs(now)),
        ]);
        let rows = self
            .query(Stmt::new(
                "UPDATE report_sends SET state = ?4, last_error = ?5, next_attempt = ?6,
                    updated_at = ?7
                 WHERE policy_domain = ?1 AND period_begin = ?2 AND destination = ?3
                   AND state = 'pending'
                 RETURNING 1",
                p,
            ))
            .await?;
        Ok(!rows.is_empty())
    }

    /// Reports sent (or being sent) to `destination` since `since`, by every sender: the
    /// per-destination rate limit.
    pub async fn sends_to_since(&self, destination: &str, since: u64) -> Result<u64, StoreError> {
        let rows = self
            .query(Stmt::new(
                "SELECT COUNT(*) FROM report_sends
                 WHERE destination = ?1 AND (sent_at >= ?2 OR state = 'sending')",
                vec![destination.into(), since.into()],
            ))
            .await?;
        rows.first().map_or(Ok(0), |r| r.uint(0))
    }
}
