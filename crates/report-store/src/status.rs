//! What `authmilter report status` shows, and the retention purge.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::StoreError;
use crate::jobs::{PeriodKey, SEND_COLUMNS, SendRow, send_row};
use crate::sql::{Stmt, Value};
use crate::{Store, secs};

/// The job of one report, when a sender has started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    /// `open` or `done`.
    pub state: String,
    /// The Report-ID.
    pub report_id: Option<String>,
    /// Who holds it now.
    pub claimed_by: Option<String>,
    /// Passes that ended unfinished.
    pub attempts: u64,
    /// The last problem.
    pub last_error: Option<String>,
}

/// One recorded period of one policy domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodStatus {
    /// The policy domain.
    pub policy_domain: String,
    /// The period's start, Unix seconds.
    pub period_begin: u64,
    /// Messages recorded.
    pub messages: u64,
    /// Distinct rows stored.
    pub rows: u64,
    /// The report job, if started.
    pub job: Option<JobStatus>,
    /// Its destinations.
    pub sends: Vec<SendRow>,
}

/// The state of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The schema version.
    pub schema_version: i64,
    /// Periods that ask for reports (`rua=`), newest first.
    pub periods: Vec<PeriodStatus>,
    /// Messages recorded without a report due (`record_all`).
    pub unreported_messages: u64,
    /// Failure reports by state.
    pub failure_reports: BTreeMap<String, u64>,
    /// Received reports and their records.
    pub received: (u64, u64),
}

/// What [`Store::purge`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PurgeStats {
    /// Observation rows.
    pub observations: u64,
    /// Report jobs.
    pub jobs: u64,
    /// Failure reports.
    pub failure_reports: u64,
    /// Received reports.
    pub received_reports: u64,
}

impl Store {
    /// Periods from `since` on (Unix seconds) with their jobs and sends; failure report and
    /// received report counts.
    pub async fn status(&self, since: u64) -> Result<Status, StoreError> {
        let begin = Value::Int(secs(since.saturating_sub(since % 86_400)));
        let results = self
            .transaction(vec![
                Stmt::new(
                    "SELECT policy_domain, period_begin, CAST(SUM(count) AS BIGINT), COUNT(*)
                     FROM observations WHERE wants_report = 1 AND period_begin >= ?1
                     GROUP BY policy_domain, period_begin
                     ORDER BY period_begin DESC, policy_domain",
                    vec![begin.clone()],
                ),
                Stmt::new(
                    "SELECT policy_domain, period_begin, state, report_id, claimed_by,
                        attempts, last_error
                     FROM report_jobs WHERE period_begin >= ?1",
                    vec![begin.clone()],
                ),
                Stmt::new(
                    format!(
                        "SELECT policy_domain, period_begin, {SEND_COLUMNS} FROM report_sends
                         WHERE period_begin >= ?1 ORDER BY destination"
                    ),
                    vec![begin.clone()],
                ),
                Stmt::new(
                    "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM observations
                     WHERE wants_report = 0 AND period_begin >= ?1",
                    vec![begin],
                ),
                Stmt::new(
                    "SELECT state, COUNT(*) FROM failure_reports GROUP BY state",
                    vec![],
                ),
                Stmt::new(
                    "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_version",
                    vec![],
                ),
            ])
            .await?;
        let rows = |i: usize| results.get(i).map(Vec::as_slice).unwrap_or_default();
        let mut jobs: BTreeMap<PeriodKey, JobStatus> = BTreeMap::new();
        for r in rows(1) {
            jobs.insert(
                PeriodKey {
                    policy_domain: r.text(0)?,
                    period_begin: r.uint(1)?,
                },
                JobStatus {
                    state: r.text(2)?,
                    report_id: r.opt_text(3)?,
                    claimed_by: r.opt_text(4)?,
                    attempts: r.uint(5)?,
                    last_error: r.opt_text(6)?,
                },
            );
        }
        let mut sends: BTreeMap<PeriodKey, Vec<SendRow>> = BTreeMap::new();
        for r in rows(2) {
            let key = PeriodKey {
                policy_domain: r.text(0)?,
                period_begin: r.uint(1)?,
            };
            sends.entry(key).or_default().push(send_row(r, 2)?);
        }
        let mut periods = Vec::new();
        for r in rows(0) {
            let key = PeriodKey {
                policy_domain: r.text(0)?,
                period_begin: r.uint(1)?,
            };
            periods.push(PeriodStatus {
                job: jobs.remove(&key),
                sends: sends.remove(&key).unwrap_or_default(),
                policy_domain: key.policy_domain,
                period_begin: key.period_begin,
                messages: r.uint(2)?,
                rows: r.uint(3)?,
            });
        }
        let mut failure_reports = BTreeMap::new();
        for r in rows(4) {
            failure_reports.insert(r.text(0)?, r.uint(1)?);
        }
        Ok(Status {
            schema_version: rows(5).first().map_or(Ok(0), |r| r.int(0))?,
            periods,
            unreported_messages: rows(3).first().map_or(Ok(0), |r| r.uint(0))?,
            failure_reports,
            received: self.received_counts().await?,
        })
    }

    /// Deletes everything older than `before` (Unix seconds): observations, report jobs and
    /// sends of periods that began before it, failure reports created before it, received
    /// reports (with their rollups) whose first UTC day ended before it (their `end` is the
    /// reporter's to write). Run daily with `before = now - keep`.
    pub async fn purge(&self, before: u64) -> Result<PurgeStats, StoreError> {
        let b = Value::Int(secs(before));
        let p = || vec![b.clone()];
        // days whose last second is before `before`: `day < before - 86399`, so that no
        // day near the 64-bit limit (a hostile report's begin) overflows in SQL
        let days = || vec![Value::Int(secs(before.saturating_sub(86_399)))];
        let results = self
            .transaction(vec![
                Stmt::new(
                    "SELECT COUNT(*) FROM observations WHERE period_begin < ?1",
                    p(),
                ),
                Stmt::new("DELETE FROM observations WHERE period_begin < ?1", p()),
                Stmt::new("DELETE FROM report_sends WHERE period_begin < ?1", p()),
                Stmt::new(
                    "DELETE FROM report_jobs WHERE period_begin < ?1 RETURNING 1",
                    p(),
                ),
                Stmt::new(
                    "DELETE FROM failure_reports WHERE created_at < ?1 RETURNING 1",
                    p(),
                ),
                // a received report goes with the rollups of the day its records count for
                // (the day it begins; its end is the reporter's to write, and may lie)
                Stmt::new(
                    "DELETE FROM received_records WHERE report_id IN
                        (SELECT id FROM received_reports
                         WHERE begin_time - begin_time % 86400 < ?1)",
                    days(),
                ),
                Stmt::new(
                    "DELETE FROM received_reports
                     WHERE begin_time - begin_time % 86400 < ?1 RETURNING 1",
                    days(),
                ),
                // the rollups of those days, and names not looked up again since
                Stmt::new("DELETE FROM received_daily WHERE day < ?1", days()),
                Stmt::new("DELETE FROM received_selectors WHERE day < ?1", days()),
                Stmt::new("DELETE FROM source_names WHERE looked_up_at < ?1", p()),
            ])
            .await?;
        let count = |i: usize| results.get(i).map_or(0, |r| r.len() as u64);
        Ok(PurgeStats {
            observations: results
                .first()
                .and_then(|r| r.first())
                .map_or(Ok(0), |r| r.uint(0))?,
            jobs: count(3),
            failure_reports: count(4),
            received_reports: count(6),
        })
    }
}
