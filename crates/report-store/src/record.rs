//! Recording observations: identical observations of one policy domain and period become one
//! row with a count, written in one transaction per batch.

use std::collections::{BTreeMap, HashMap};

use reports::{DateRange, Observation};

use crate::error::StoreError;
use crate::sql::{Stmt, Value};
use crate::{Store, secs};

/// What one [`Store::record`] call wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordStats {
    /// Observations recorded (messages × author domains).
    pub observations: u64,
    /// Distinct rows written or updated.
    pub rows: u64,
}

struct Pending {
    domain: String,
    wants_report: bool,
    header_from: String,
    source_ip: String,
    result: String,
    disposition: String,
    data: String,
    count: u64,
    first_seen: u64,
    last_seen: u64,
}

const UPSERT: &str = "INSERT INTO observations (policy_domain, period_begin, fingerprint,
        wants_report, header_from, source_ip, result, disposition, data, count, first_seen,
        last_seen)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
    ON CONFLICT (policy_domain, period_begin, fingerprint) DO UPDATE SET
        count = observations.count + excluded.count,
        first_seen = CASE WHEN excluded.first_seen < observations.first_seen
            THEN excluded.first_seen ELSE observations.first_seen END,
        last_seen = CASE WHEN excluded.last_seen > observations.last_seen
            THEN excluded.last_seen ELSE observations.last_seen END";

impl Store {
    /// Records a batch of observations in one transaction. Each goes to the UTC day of its
    /// `time` (RFC 9990 §3.1.1.4); identical ones (all fields but the time) share a row and
    /// a count. Rows are written in key order, so concurrent writers on PostgreSQL lock them
    /// in the same order and never deadlock.
    pub async fn record(&self, observations: &[Observation]) -> Result<RecordStats, StoreError> {
        // identical observations (all but the time) of a day are grouped as they are, so that
        // each distinct one is written as JSON once, however many messages it stands for
        let mut same: HashMap<(u64, Timeless<'_>), (u64, u64, u64)> = HashMap::new();
        for obs in observations {
            let period = DateRange::utc_day(obs.time).begin;
            let seen = same
                .entry((period, Timeless(obs)))
                .or_insert((0, obs.time, obs.time));
            seen.0 += 1;
            seen.1 = seen.1.min(obs.time);
            seen.2 = seen.2.max(obs.time);
        }
        // then by the JSON, which decides the stored row
        let mut by_data: HashMap<(u64, String), Pending> = HashMap::new();
        for ((period, Timeless(obs)), (count, first, last)) in same {
            let data = timeless_json(obs)?;
            let entry = by_data
                .entry((period, data))
                .or_insert_with_key(|(_, data)| Pending {
                    wants_report: obs.wants_aggregate_report(),
                    header_from: obs.header_from.clone(),
                    source_ip: obs.source_ip.to_string(),
                    result: obs.result.to_string(),
                    disposition: obs.disposition.to_string(),
                    domain: obs.policy_domain.clone().unwrap_or_default(),
                    data: data.clone(),
                    count: 0,
                    first_seen: first,
                    last_seen: last,
                });
            entry.count += count;
            entry.first_seen = entry.first_seen.min(first);
            entry.last_seen = entry.last_seen.max(last);
        }
        let mut groups: BTreeMap<(String, u64, String), Pending> = BTreeMap::new();
        for ((period, _), p) in by_data {
            let fingerprint = hex(&crypto::sha256(p.data.as_bytes()));
            groups.insert((p.domain.clone(), period, fingerprint), p);
        }
        let stats = RecordStats {
            observations: observations.len() as u64,
            rows: groups.len() as u64,
        };
        if groups.is_empty() {
            return Ok(stats);
        }
        let stmts = groups
            .into_iter()
            .map(|((domain, period, fingerprint), p)| {
                Stmt::new(
                    UPSERT,
                    vec![
                        domain.into(),
                        period.into(),
                        fingerprint.into(),
                        Value::Int(i64::from(p.wants_report)),
                        p.header_from.into(),
                        p.source_ip.into(),
                        p.result.into(),
                        p.disposition.into(),
                        p.data.into(),
                        p.count.into(),
                        Value::Int(secs(p.first_seen)),
                        Value::Int(secs(p.last_seen)),
                    ],
                )
            })
            .collect();
        self.transaction_with(stmts, crate::Durability::Relaxed)
            .await?;
        Ok(stats)
    }

    /// The observations of one policy domain and period with their counts, oldest last seen
    /// first; each observation's `time` is the last time it was seen.
    pub async fn period_observations(
        &self,
        key: &crate::PeriodKey,
    ) -> Result<Vec<(Observation, u64)>, StoreError> {
        let rows = self
            .query(Stmt::new(
                "SELECT data, count, last_seen FROM observations
                 WHERE policy_domain = ?1 AND period_begin = ?2
                 ORDER BY last_seen, id",
                vec![key.policy_domain.clone().into(), key.period_begin.into()],
            ))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut obs: Observation = serde_json::from_str(&r.text(0)?)
                .map_err(|e| StoreError::Corrupt(format!("stored observation: {e}")))?;
            obs.time = r.uint(2)?;
            out.push((obs, r.uint(1)?));
        }
        Ok(out)
    }

    /// Like [`Store::period_observations`], bounded for building a report: at most `max_rows`
    /// rows and about `max_bytes` of stored data (at least one row), those that stand for the
    /// most messages; the rows and messages left out are counted.
    pub async fn period_observations_limited(
        &self,
        key: &crate::PeriodKey,
        max_rows: u64,
        max_bytes: u64,
    ) -> Result<PeriodRows, StoreError> {
        let params = || vec![key.policy_domain.clone().into(), key.period_begin.into()];
        let mut limited = params();
        limited.extend([max_rows.into(), max_bytes.into()]);
        let results = self
            .read(vec![
                Stmt::new(
                    "SELECT data, count, last_seen FROM (
                        SELECT data, count, last_seen, id,
                            CAST(ROW_NUMBER() OVER (ORDER BY count DESC, id) AS BIGINT) AS n,
                            CAST(SUM(LENGTH(data)) OVER (ORDER BY count DESC, id
                                ROWS UNBOUNDED PRECEDING) AS BIGINT) AS bytes
                        FROM observations WHERE policy_domain = ?1 AND period_begin = ?2) t
                     WHERE n <= ?3 AND (n = 1 OR bytes <= ?4)
                     ORDER BY last_seen, id",
                    limited,
                ),
                Stmt::new(
                    "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(count), 0) AS BIGINT)
                     FROM observations WHERE policy_domain = ?1 AND period_begin = ?2",
                    params(),
                ),
            ])
            .await?;
        // up to 64 MiB of JSON: read on a blocking thread, not on the runtime's workers (in
        // `serve` they carry the milter's connections)
        tokio::task::spawn_blocking(move || {
            let mut rows = Vec::new();
            for r in results.first().map(Vec::as_slice).unwrap_or_default() {
                let mut obs: Observation = serde_json::from_str(&r.text(0)?)
                    .map_err(|e| StoreError::Corrupt(format!("stored observation: {e}")))?;
                obs.time = r.uint(2)?;
                rows.push((obs, r.uint(1)?));
            }
            let (total_rows, total_messages) = match results.get(1).and_then(|t| t.first()) {
                Some(t) => (t.uint(0)?, t.uint(1)?),
                None => (0, 0),
            };
            let messages: u64 = rows.iter().map(|(_, n)| *n).sum();
            Ok(PeriodRows {
                omitted_rows: total_rows.saturating_sub(rows.len() as u64),
                omitted_messages: total_messages.saturating_sub(messages),
                rows,
            })
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// The number of messages recorded (sum of counts), over all periods from `since` on.
    pub async fn recorded_messages(&self, since: u64) -> Result<u64, StoreError> {
        let rows = self
            .query(Stmt::new(
                "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM observations
                 WHERE period_begin >= ?1",
                vec![DateRange::utc_day(since).begin.into()],
            ))
            .await?;
        rows.first().map_or(Ok(0), |r| r.uint(0))
    }
}

/// The rows of one report as [`Store::period_observations_limited`] read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodRows {
    /// The observations with their counts, oldest last seen first (RFC 9990 §3.1.1.7 rows).
    pub rows: Vec<(Observation, u64)>,
    /// Rows left out by the limits.
    pub omitted_rows: u64,
    /// The messages those rows stand for.
    pub omitted_messages: u64,
}

/// An observation compared and hashed without its time.
struct Timeless<'a>(&'a Observation);

impl PartialEq for Timeless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_but_time(other.0)
    }
}

impl Eq for Timeless<'_> {}

impl std::hash::Hash for Timeless<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash_timeless(state);
    }
}

/// The observation as JSON with its time set to 0, so that identical observations of a day
/// share one row. `time` is the first field: its value is replaced in the text, which spares
/// a copy of the observation per record (a fallback copies if the layout ever changes).
fn timeless_json(obs: &Observation) -> Result<String, StoreError> {
    let bad = |e: serde_json::Error| StoreError::Corrupt(format!("observation to JSON: {e}"));
    const PREFIX: &str = "{\"time\":";
    let mut data = serde_json::to_string(obs).map_err(bad)?;
    let digits = data.get(PREFIX.len()..).map_or(0, |rest| {
        rest.bytes().take_while(u8::is_ascii_digit).count()
    });
    let end = PREFIX.len() + digits;
    if data.starts_with(PREFIX) && digits > 0 && data.as_bytes().get(end) == Some(&b',') {
        data.replace_range(PREFIX.len()..end, "0");
        return Ok(data);
    }
    let mut timeless = obs.clone();
    timeless.time = 0;
    serde_json::to_string(&timeless).map_err(bad)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
