//! Aggregate reports other receivers send us (issue "DMARC reports in" adds the import and
//! dashboard queries): stored once per (org_name, report_id).

use reports::Feedback;

use crate::error::StoreError;
use crate::sql::{Stmt, Value};
use crate::{Store, secs};

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("to JSON: {e}")))
}

impl Store {
    /// Stores a received report and its records in one transaction. Returns its id, or
    /// `None` when a report with the same (org_name, report_id) is already stored (RFC 9990
    /// §3.5.4: a re-sent report keeps its identifiers), in which case nothing is written.
    pub async fn insert_received_report(
        &self,
        report: &Feedback,
        source: Option<&str>,
        now: u64,
    ) -> Result<Option<i64>, StoreError> {
        let m = &report.metadata;
        let head = Stmt::new(
            "INSERT INTO received_reports (org_name, report_id, email, extra_contact_info,
                policy_domain, begin_time, end_time, policy_published, errors, generator,
                version, message_count, source, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (org_name, report_id) DO NOTHING
             RETURNING id",
            vec![
                m.org_name.clone().into(),
                m.report_id.clone().into(),
                m.email.clone().into(),
                m.extra_contact_info.clone().into(),
                report.policy.domain.to_ascii_lowercase().into(),
                m.date_range.begin.into(),
                m.date_range.end.into(),
                json(&report.policy)?.into(),
                json(&m.errors)?.into(),
                m.generator.clone().into(),
                report.version.clone().into(),
                report.message_count().into(),
                source.map(str::to_string).into(),
                Value::Int(secs(now)),
            ],
        );
        let mut stmts = vec![head];
        for r in &report.records {
            let pe = &r.row.policy_evaluated;
            stmts.push(Stmt::per_row(
                0,
                "INSERT INTO received_records (source_ip, count, disposition, dkim_aligned,
                    spf_aligned, header_from, envelope_from, envelope_to, reasons,
                    auth_results, report_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                vec![
                    r.row.source_ip.to_string().into(),
                    r.row.count.into(),
                    pe.disposition.to_string().into(),
                    pe.dkim.to_string().into(),
                    pe.spf.to_string().into(),
                    r.identifiers.header_from.clone().into(),
                    r.identifiers.envelope_from.clone().into(),
                    r.identifiers.envelope_to.clone().into(),
                    json(&pe.reasons)?.into(),
                    json(&r.auth_results)?.into(),
                ],
            ));
        }
        let results = self.transaction(stmts).await?;
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
}
