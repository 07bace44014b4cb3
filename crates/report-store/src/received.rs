//! Aggregate reports other receivers send us ("DMARC reports in", docs/reports.md): stored
//! once per (org_name, report_id) and contents, each record with the flags the dashboard
//! reads, and the daily and DKIM selector rollups kept up to date in the same transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use reports::Feedback;
use reports::vocabulary::{AlignedResult, DkimResult, SpfResult};

use crate::error::StoreError;
use crate::provenance::Provenance;
use crate::sql::{Stmt, Value};
use crate::{Durability, Store, secs};

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(to_json_failed)
}

fn to_json_failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("to JSON: {e}"))
}

/// The UTC day (its first second) a received report's records count for: the day its
/// period begins (RFC 9990 §3.1.1.4: typically one UTC day).
pub fn report_day(report: &Feedback) -> u64 {
    let begin = report.metadata.date_range.begin;
    begin - begin % 86_400
}

/// The 0/1 flags of one record: DMARC pass (an aligned DKIM or SPF pass, RFC 9989 §4.4),
/// SPF pass and DKIM pass whatever the alignment (RFC 9990 §3.1.1.11).
fn flags(r: &reports::Record) -> (i64, i64, i64) {
    let pe = &r.row.policy_evaluated;
    let dmarc = pe.dkim == AlignedResult::Pass || pe.spf == AlignedResult::Pass;
    let spf = r
        .auth_results
        .spf
        .iter()
        .any(|s| s.result == SpfResult::Pass);
    let dkim = r
        .auth_results
        .dkim
        .iter()
        .any(|d| d.result == DkimResult::Pass);
    (i64::from(dmarc), i64::from(spf), i64::from(dkim))
}

const DAILY_UPSERT: &str = "INSERT INTO received_daily (policy_domain, day, dmarc_pass,
        disposition, messages, records)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (policy_domain, day, dmarc_pass, disposition) DO UPDATE SET
        messages = received_daily.messages + excluded.messages,
        records = received_daily.records + excluded.records";

const SELECTOR_UPSERT: &str = "INSERT INTO received_selectors (policy_domain, day, domain,
        selector, result, messages)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (policy_domain, day, domain, selector, result) DO UPDATE SET
        messages = received_selectors.messages + excluded.messages";

/// What a received report's head row holds beside the report: the key it is stored under,
/// its digest, where it came from and who sent it.
struct ReportHead<'a> {
    key: &'a str,
    digest: &'a str,
    source: Option<&'a str>,
    provenance: &'a Provenance,
}

/// What [`Store::insert_received_report`] did with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedInsert {
    /// Stored under this id.
    Stored(i64),
    /// Stored under this id beside an earlier report from the same reporter with the same
    /// Report-ID but other contents (another domain's, a correction, or a forgery sent
    /// first): RFC 9990 §3.5.1 makes the ID unique only per domain, and keeping both means a
    /// report sent first never hides the other (§3.5.4 leaves duplicates to the receiver).
    StoredBesideConflicting(i64),
    /// The same report (reporter, Report-ID and contents) was already stored: nothing written.
    Duplicate,
}

impl ReceivedInsert {
    /// The stored report's id, `None` for a duplicate.
    pub fn id(self) -> Option<i64> {
        match self {
            ReceivedInsert::Stored(id) | ReceivedInsert::StoredBesideConflicting(id) => Some(id),
            ReceivedInsert::Duplicate => None,
        }
    }
}

/// The digest of a report's parsed contents (hex SHA-256 of its JSON form): equal for the
/// same report re-sent, whatever its XML spelling or compression. The JSON is hashed as it
/// is written, never held (a report of 200,000 records is some 80 MB of it).
fn contents_digest(report: &Feedback) -> Result<String, StoreError> {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let hasher = crypto::default_provider().hasher(crypto::HashAlg::Sha256);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, DigestWriter(hasher));
    serde_json::to_writer(&mut out, report).map_err(to_json_failed)?;
    out.flush().map_err(to_json_failed)?;
    let DigestWriter(hasher) = out.into_inner().map_err(to_json_failed)?;
    Ok(hasher
        .finish()
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        }))
}

/// A writer that only hashes what it is given.
struct DigestWriter(Box<dyn crypto::Hasher>);

impl std::io::Write for DigestWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The statement that stores record `r` of a report of `domain` for `day`, run once per row
/// of statement 0 (the report's head, which returns its id).
fn record_stmt(
    r: &reports::Record,
    domain: &str,
    day: &Value,
    org_name: &str,
    counted: bool,
) -> Result<Stmt, StoreError> {
    let pe = &r.row.policy_evaluated;
    let (dmarc, spf, dkim) = flags(r);
    Ok(Stmt::per_row(
        0,
        "INSERT INTO received_records (source_ip, count, disposition, dkim_aligned,
            spf_aligned, header_from, envelope_from, envelope_to, reasons,
            auth_results, policy_domain, day, org_name, dmarc_pass, spf_pass,
            dkim_pass, counted, report_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
            ?16, ?17, ?18)",
        vec![
            r.row.source().to_string().into(),
            r.row.count.into(),
            pe.disposition.to_string().into(),
            pe.dkim.to_string().into(),
            pe.spf.to_string().into(),
            r.identifiers.header_from.clone().into(),
            r.identifiers.envelope_from.clone().into(),
            r.identifiers.envelope_to.clone().into(),
            json(&pe.reasons)?.into(),
            json(&r.auth_results)?.into(),
            domain.into(),
            day.clone(),
            org_name.into(),
            Value::Int(dmarc),
            Value::Int(spf),
            Value::Int(dkim),
            Value::Int(i64::from(counted)),
        ],
    ))
}

/// The longest reporter name a record carries (RFC 9990 §3.1.1.3 `org_name`, kept whole with
/// its report): a record and its entry in the dashboard's sources index stay small whatever
/// the sender writes (a 1 KiB name made every index entry a 4 KiB overflow page).
const MAX_RECORD_REPORTER: usize = 64;

/// The reporter name as a record carries it: the name when short, else its first characters,
/// `…` and 12 hex digits of the whole name's SHA-256 (two long names sharing a prefix stay
/// two reporters). Shown names are cut at 64 characters anyway.
fn reporter_key(org_name: &str) -> String {
    if org_name.len() <= MAX_RECORD_REPORTER {
        return org_name.to_string();
    }
    let mut cut = MAX_RECORD_REPORTER - 16;
    while !org_name.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = crypto::sha256(org_name.as_bytes());
    let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{}…{hex}", org_name.get(..cut).unwrap_or_default())
}

/// The most (d=, s=, result) rows of `received_selectors` one report adds (RFC 9990 §8.1: a
/// report's cost is bounded; the dashboard lists at most 100 selectors).
const MAX_SELECTORS_PER_REPORT: usize = 100;

/// The rollup upserts (received_daily, received_selectors) of `report`, each run when
/// statement 0 returned a row; in key order, so concurrent writers on PostgreSQL lock rows
/// in the same order. Only a counted report is in the rollups ([`Provenance::counted`]).
fn rollup_stmts(report: &Feedback, domain: &str, day: &Value) -> Vec<Stmt> {
    // (dmarc_pass, disposition) -> (messages, records)
    let mut daily: BTreeMap<(i64, String), (u64, u64)> = BTreeMap::new();
    // (d=, s=, result) -> messages
    let mut selectors: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for r in &report.records {
        let (dmarc, _, _) = flags(r);
        let d = daily
            .entry((dmarc, r.row.policy_evaluated.disposition.to_string()))
            .or_default();
        d.0 = d.0.saturating_add(r.row.count);
        d.1 = d.1.saturating_add(1);
        for sig in &r.auth_results.dkim {
            let key = (
                sig.domain.to_ascii_lowercase(),
                sig.selector.clone().unwrap_or_default(),
                sig.result.to_string(),
            );
            let n = selectors.entry(key).or_default();
            *n = n.saturating_add(r.row.count);
        }
    }
    let daily = daily
        .into_iter()
        .map(|((dmarc, disposition), (messages, records))| {
            Stmt::if_rows(
                0,
                DAILY_UPSERT,
                vec![
                    domain.into(),
                    day.clone(),
                    Value::Int(dmarc),
                    disposition.into(),
                    messages.into(),
                    records.into(),
                ],
            )
        });
    // a report names what its sender likes: only the selectors with the most messages are
    // kept (ties in key order), then written in key order again
    if selectors.len() > MAX_SELECTORS_PER_REPORT {
        let mut by_messages: Vec<_> = selectors.into_iter().collect();
        by_messages.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        by_messages.truncate(MAX_SELECTORS_PER_REPORT);
        selectors = by_messages.into_iter().collect();
    }
    let selectors = selectors.into_iter().map(|((d, s, result), messages)| {
        Stmt::if_rows(
            0,
            SELECTOR_UPSERT,
            vec![
                domain.into(),
                day.clone(),
                d.into(),
                s.into(),
                result.into(),
                messages.into(),
            ],
        )
    });
    daily.chain(selectors).collect()
}

impl Store {
    /// Stores a received report and its records in one transaction (RFC 9990 §3.5.4). A
    /// report whose (org_name, report_id) and contents are already stored is a duplicate
    /// (a re-sent report keeps its identifiers, §3.5.1) and nothing is written; one with the
    /// same identifiers but other contents is stored beside the first, under the key
    /// `<report_id>~<digest>`, so neither hides the other. `source` says where it came from
    /// (a file, a message), for the operator. Stored as given by the operator
    /// ([`Provenance::Imported`], `report import`); the inbox uses
    /// [`Store::insert_received_report_from`].
    pub async fn insert_received_report(
        &self,
        report: Arc<Feedback>,
        source: Option<&str>,
        now: u64,
    ) -> Result<ReceivedInsert, StoreError> {
        self.insert_received_report_from(report, source, &Provenance::Imported, now)
            .await
    }

    /// [`Store::insert_received_report`] of a report that arrived as `provenance` says (RFC
    /// 9990 §3.5.2: who sent it, and whether DMARC vouched for them). A duplicate arriving
    /// with a stronger provenance ([`Provenance::strength`]) replaces the stored one, never
    /// a weaker: the same report forged first and then sent by its reporter is shown as
    /// the reporter's, and a forged copy after the real one changes nothing.
    pub async fn insert_received_report_from(
        &self,
        report: Arc<Feedback>,
        source: Option<&str>,
        provenance: &Provenance,
        now: u64,
    ) -> Result<ReceivedInsert, StoreError> {
        let m = &report.metadata;
        let domain = report.policy.domain_key();
        // the whole report through JSON and SHA-256 (tens of MB for a large one): on a
        // blocking thread, not on the runtime's workers
        let digest = {
            let report = Arc::clone(&report);
            tokio::task::spawn_blocking(move || contents_digest(&report))
                .await
                .map_err(|_| StoreError::Closed)??
        };
        // twice at most: a writer on another node may store the same key between our look
        // and our insert; the second look sees what it stored
        for _ in 0..2 {
            let stored = self
                .query(Stmt::new(
                    "SELECT digest, policy_domain FROM received_reports
                     WHERE org_name = ?1 AND report_id = ?2",
                    vec![m.org_name.clone().into(), m.report_id.clone().into()],
                ))
                .await?;
            let key = match stored.first() {
                None => m.report_id.clone(),
                Some(row) => {
                    match row.opt_text(0)? {
                        Some(d) if d == digest => {
                            self.strengthen_provenance(&report, &m.report_id, provenance)
                                .await?;
                            return Ok(ReceivedInsert::Duplicate);
                        }
                        // rows stored before version 3 have no digest: the same id and
                        // domain count as the same report, as they did then; but its
                        // contents are not known to be the newcomer's, so the newcomer's
                        // provenance does not vouch for it (RFC 9990 §8.2)
                        None if row.text(1)? == domain => return Ok(ReceivedInsert::Duplicate),
                        _ => {}
                    }
                    format!("{}~{}", m.report_id, digest.get(..32).unwrap_or(&digest))
                }
            };
            let beside = key != m.report_id;
            let head = ReportHead {
                key: &key,
                digest: &digest,
                source,
                provenance,
            };
            match self
                .insert_received_as(Arc::clone(&report), head, now)
                .await?
            {
                Some(id) if beside => return Ok(ReceivedInsert::StoredBesideConflicting(id)),
                Some(id) => return Ok(ReceivedInsert::Stored(id)),
                // the conflicting copy is stored already: a duplicate of it
                None if beside => {
                    self.strengthen_provenance(&report, &key, provenance)
                        .await?;
                    return Ok(ReceivedInsert::Duplicate);
                }
                None => {}
            }
        }
        Ok(ReceivedInsert::Duplicate)
    }

    /// Replaces the provenance of the stored copy of `report` (under its org_name and
    /// `key`) with `provenance` when that replaces it ([`Provenance::replaces`]); a report
    /// that counts from then on ([`Provenance::counted`]) has its records marked and its
    /// rollups added in the same transaction (its contents are `report`'s: same digest).
    async fn strengthen_provenance(
        &self,
        report: &Feedback,
        key: &str,
        provenance: &Provenance,
    ) -> Result<(), StoreError> {
        let org_name = &report.metadata.org_name;
        let rows = self
            .query(Stmt::new(
                "SELECT sender_domain, sender_dmarc, counted FROM received_reports
                 WHERE org_name = ?1 AND report_id = ?2",
                vec![org_name.clone().into(), key.to_string().into()],
            ))
            .await?;
        let Some(row) = rows.first() else {
            return Ok(());
        };
        let stored = Provenance::from_columns(row.opt_text(0)?, row.opt_text(1)?, row.int(2)? != 0);
        if !provenance.replaces(&stored) {
            return Ok(());
        }
        let (domain, dmarc) = provenance.columns();
        let counted = provenance.counted();
        // statement 0 returns the id only when the report was not counted and is now: the
        // records' flag and the rollups follow only then (never twice, whoever else writes)
        let mut stmts = vec![
            Stmt::new(
                "UPDATE received_reports SET sender_domain = ?1, sender_dmarc = ?2,
                    counted = ?3
                 WHERE org_name = ?4 AND report_id = ?5 AND counted = 0 AND ?3 = 1
                 RETURNING id",
                vec![
                    domain.clone().into(),
                    dmarc.map(str::to_string).into(),
                    Value::Int(i64::from(counted)),
                    org_name.clone().into(),
                    key.to_string().into(),
                ],
            ),
            Stmt::per_row(
                0,
                "UPDATE received_records SET counted = 1 WHERE report_id = ?1",
                Vec::new(),
            ),
        ];
        stmts.extend(rollup_stmts(
            report,
            &report.policy.domain_key(),
            &Value::Int(secs(report_day(report))),
        ));
        // a report whose counting does not change: its provenance only
        stmts.push(Stmt::new(
            "UPDATE received_reports SET sender_domain = ?1, sender_dmarc = ?2
             WHERE org_name = ?3 AND report_id = ?4",
            vec![
                domain.into(),
                dmarc.map(str::to_string).into(),
                org_name.clone().into(),
                key.to_string().into(),
            ],
        ));
        self.transaction(stmts).await?;
        Ok(())
    }

    /// Inserts `report` under `head.key` with its records and rollups; `None` when the key is
    /// taken.
    async fn insert_received_as(
        &self,
        report: Arc<Feedback>,
        head: ReportHead<'_>,
        now: u64,
    ) -> Result<Option<i64>, StoreError> {
        let ReportHead {
            key,
            digest,
            source,
            provenance,
        } = head;
        let (sender_domain, sender_dmarc) = provenance.columns();
        let counted = provenance.counted();
        let m = &report.metadata;
        let domain = report.policy.domain_key();
        let day = Value::Int(secs(report_day(&report)));
        let head = Stmt::new(
            "INSERT INTO received_reports (org_name, report_id, email, extra_contact_info,
                policy_domain, begin_time, end_time, policy_published, errors, generator,
                version, message_count, source, received_at, digest, sender_domain,
                sender_dmarc, counted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                ?17, ?18)
             ON CONFLICT (org_name, report_id) DO NOTHING
             RETURNING id",
            vec![
                m.org_name.clone().into(),
                key.to_string().into(),
                m.email.clone().into(),
                m.extra_contact_info.clone().into(),
                domain.clone().into(),
                m.date_range.begin.into(),
                m.date_range.end.into(),
                json(&report.policy)?.into(),
                json(&m.errors)?.into(),
                m.generator.clone().into(),
                report.version.clone().into(),
                report.message_count().into(),
                source.map(str::to_string).into(),
                Value::Int(secs(now)),
                digest.to_string().into(),
                sender_domain.into(),
                sender_dmarc.map(str::to_string).into(),
                Value::Int(i64::from(counted)),
            ],
        );
        // the records' statements are made one at a time as the transaction runs, never
        // all at once (each is ~6 times its record's XML)
        let records = {
            let (report, domain, day) = (Arc::clone(&report), domain.clone(), day.clone());
            let reporter = reporter_key(&report.metadata.org_name);
            (0..report.records.len()).map(move |i| match report.records.get(i) {
                Some(r) => record_stmt(r, &domain, &day, &reporter, counted),
                None => Err(StoreError::Corrupt(format!("record {i} is gone"))),
            })
        };
        // the rollups, only when the report was new (the head returned its id) and counts
        let rollups = if counted {
            rollup_stmts(&report, &domain, &day)
        } else {
            Vec::new()
        };
        let stmts = std::iter::once(Ok(head))
            .chain(records)
            .chain(rollups.into_iter().map(Ok));
        let results = self
            .transaction_streamed(Box::new(stmts), Durability::Flushed)
            .await?;
        match results.first().and_then(|rows| rows.first()) {
            Some(r) => Ok(Some(r.int(0)?)),
            None => Ok(None),
        }
    }

    /// How many received reports and records are stored.
    pub async fn received_counts(&self) -> Result<(u64, u64), StoreError> {
        let rows = self
            .query(Stmt::new(
                "SELECT (SELECT COUNT(*) FROM received_reports),
                        (SELECT COUNT(*) FROM received_records)",
                vec![],
            ))
            .await?;
        match rows.first() {
            Some(r) => Ok((r.uint(0)?, r.uint(1)?)),
            None => Ok((0, 0)),
        }
    }

    /// Of `ips` (source addresses of received reports), those without a looked-up name yet
    /// or whose lookup is older than `stale_before` (Unix seconds).
    pub async fn source_names_missing(
        &self,
        ips: &[String],
        stale_before: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut missing = Vec::new();
        // one statement per chunk: bounded parameter lists on both backends
        for chunk in ips.chunks(500) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("?{}", i + 1)).collect();
            let mut params: Vec<Value> = vec![Value::Int(secs(stale_before))];
            params.extend(chunk.iter().map(|ip| Value::Text(ip.clone())));
            let rows = self
                .query(Stmt::new(
                    format!(
                        "SELECT ip FROM source_names WHERE looked_up_at >= ?1 AND ip IN ({})",
                        list.join(", ")
                    ),
                    params,
                ))
                .await?;
            let known: std::collections::HashSet<String> =
                rows.iter().map(|r| r.text(0)).collect::<Result<_, _>>()?;
            missing.extend(chunk.iter().filter(|ip| !known.contains(*ip)).cloned());
        }
        Ok(missing)
    }

    /// Records reverse DNS names (`None`: no name) of source addresses, looked up at `now`.
    pub async fn set_source_names(
        &self,
        names: &[(String, Option<String>)],
        now: u64,
    ) -> Result<(), StoreError> {
        if names.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<&(String, Option<String>)> = names.iter().collect();
        sorted.sort();
        sorted.dedup_by(|a, b| a.0 == b.0);
        let stmts = sorted
            .into_iter()
            .map(|(ip, name)| {
                Stmt::new(
                    "INSERT INTO source_names (ip, name, looked_up_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (ip) DO UPDATE SET name = excluded.name,
                        looked_up_at = excluded.looked_up_at",
                    vec![
                        ip.clone().into(),
                        name.clone().into(),
                        Value::Int(secs(now)),
                    ],
                )
            })
            .collect();
        self.transaction(stmts).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Long reporter names are cut for the records, and two that share a long prefix stay
    /// two reporters; short ones are kept as they are.
    #[test]
    fn records_carry_a_bounded_reporter_key() {
        assert_eq!(reporter_key("google.com"), "google.com");
        let a = reporter_key(&format!("{}a", "ü".repeat(600)));
        let b = reporter_key(&format!("{}b", "ü".repeat(600)));
        assert_ne!(a, b);
        assert!(a.len() <= MAX_RECORD_REPORTER + 16, "{a}");
        assert!(a.starts_with("üü"), "{a}");
    }

    /// The digest is hashed as the JSON is written, and must stay the digest of the whole
    /// JSON text, or reports stored by earlier versions would no longer be seen as the same.
    #[test]
    fn the_streamed_digest_is_the_digest_of_the_whole_json() {
        let xml = include_bytes!("../../reports/tests/data/samples/mail-auth/100.eml");
        let report = reports::extract_reports(xml, &reports::Limits::default())
            .into_iter()
            .find_map(|r| r.report.ok())
            .expect("the sample has a report");
        let whole = crypto::sha256(serde_json::to_string(&report).unwrap().as_bytes());
        let hex: String = whole.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(contents_digest(&report).unwrap(), hex);
    }
}
