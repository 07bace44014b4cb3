//! Storing the aggregate reports found in one input (docs/reports.md, "Reports in"): the one
//! path both `authmilter report import` and the milter's report inbox take. The reports
//! crate finds and parses them within its limits (RFC 9990 §8.1); each is stored once per
//! (org_name, report_id) and contents; the reverse DNS names of new sources are looked up for the
//! dashboard.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use report_store::{Provenance, ReceivedInsert, Store, StoreError};
use reports::{ExtractedReport, Feedback, Limits};
use serde::Serialize;
use tokio::sync::mpsc;

/// How long a looked-up source name is kept before it is looked up again.
const NAME_TTL: u64 = 30 * 86_400;
/// Most source names looked up for one input (a report of a big receiver can list
/// thousands of sources; the rest are looked up with the next report that names them).
const MAX_NAMES_PER_INPUT: usize = 500;
/// Lookups in flight at once.
const NAME_LOOKUPS_AT_ONCE: usize = 16;
/// The longest one batch of name lookups may take.
const NAME_BATCH_LIMIT: Duration = Duration::from_secs(20);
/// A source's name is its first PTR name that maps back to it, of at most three tried.
const NAME_CHECK: iprev::Config = iprev::Config { max_names: 3 };

/// One report stored, or already there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredReport {
    /// Where in the input it was (`message / part 2 "x.xml.gz"`).
    pub part: String,
    /// `org_name` (RFC 9990 §3.1.1.3).
    pub org_name: String,
    /// `report_id`.
    pub report_id: String,
    /// The policy domain.
    pub policy_domain: String,
    /// Its records.
    pub records: usize,
    /// The messages they cover.
    pub messages: u64,
    /// Stored beside an earlier report from the same reporter with the same Report-ID but
    /// other contents (RFC 9990 §3.5.4): one of the two may be forged.
    pub id_reused: bool,
    /// Who sent it, as it vouches for this report (RFC 9990 §8.2,
    /// [`Provenance::for_report`]); not in the JSON of `report import`.
    #[serde(skip)]
    pub sent: Provenance,
}

/// A part that should have held a report and could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// Where in the input it was.
    pub part: String,
    /// Why (the reports crate's error, e.g. a limit or malformed XML).
    pub error: String,
}

/// What became of one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The input: a file name, `-`, or the message (`queue id 4Xk…`).
    pub input: String,
    /// Reports stored now.
    pub stored: Vec<StoredReport>,
    /// Reports already in the store (same org_name, report_id and contents).
    pub duplicates: Vec<StoredReport>,
    /// Reports about a domain `[reports.inbox] domains` does not list: not stored.
    pub not_ours: Vec<StoredReport>,
    /// Parts that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// The first part of the message that is neither a report nor text (a failure report,
    /// a PDF, an attached message): the message is more than reports and is never discarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_part: Option<String>,
}

impl Outcome {
    /// Every report in the input is in the store now, nothing was unreadable or skipped,
    /// the input holds nothing but reports and text, and each report's sender vouches for it
    /// (a DMARC pass for another domain than the reporter's is kept as evidence, RFC 9990
    /// §8.2; docs/reports.md, "Reports in").
    pub fn complete(&self) -> bool {
        self.other_part.is_none()
            && self
                .stored
                .iter()
                .chain(&self.duplicates)
                .all(|s| s.sent.counted())
            && self.unreadable.is_empty()
            && self.not_ours.is_empty()
            && !(self.stored.is_empty() && self.duplicates.is_empty())
    }

    /// One line for the log: `2 stored, 1 already stored, 1 unreadable` (and how many were
    /// about other domains, when any were).
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} stored, {} already stored, {} unreadable",
            self.stored.len(),
            self.duplicates.len(),
            self.unreadable.len()
        );
        if !self.not_ours.is_empty() {
            line.push_str(&format!(", {} about other domains", self.not_ours.len()));
        }
        line
    }
}

/// How far after now a report's period may begin (a reporter's clock or time zone off) before
/// it is refused: RFC 9990 §3.1.1.4 periods are past ones, and retention goes by the day a
/// report begins, so a report dated centuries ahead (milliseconds for seconds) would be kept
/// forever.
const MAX_BEGIN_AHEAD: u64 = 86_400;

/// Why `fb` is not stored though it parsed, if it is not.
fn implausible(fb: &Feedback, now: u64) -> Option<String> {
    let begin = fb.metadata.date_range.begin;
    (begin > now.saturating_add(MAX_BEGIN_AHEAD)).then(|| {
        format!(
            "the report period begins in the future ({}, begin {begin}; RFC 9990 §3.1.1.4: seconds since the epoch)",
            crate::reports::period::format_day(begin)
        )
    })
}

/// Reads the reports in `raw` on a blocking thread ([`reports::extract_reports_each`]),
/// handing each over as soon as it is parsed: with [`store_found`] at most one parsed
/// report waits at a time (RFC 9990 §8.1), whatever the input holds. The handle ends when
/// the reading does, with the first part that is neither a report nor text (an error: it
/// panicked).
pub fn extract_in_background(
    raw: Vec<u8>,
    limits: Limits,
) -> (
    mpsc::Receiver<ExtractedReport>,
    tokio::task::JoinHandle<Option<reports::OtherPart>>,
) {
    let (tx, rx) = mpsc::channel(1);
    let reading = tokio::task::spawn_blocking(move || {
        reports::extract_reports_each(&raw, &limits, &mut |found| {
            // the receiver is gone when storing failed: the rest is read and dropped
            let _ = tx.blocking_send(found);
        })
    });
    (rx, reading)
}

/// Stores the reports `found` in `input` (from [`extract_in_background`]) whose policy
/// domain `wanted` accepts, each as it arrives, as sent by `sent` (RFC 9990 §3.5.2); the
/// others are listed as not ours. Store errors end it (nothing more is stored; the caller
/// decides what the input becomes), unreadable parts are listed. Returns the outcome and
/// the new reports' distinct sources.
pub async fn store_found(
    store: &Store,
    input: &str,
    sent: &Provenance,
    mut found: mpsc::Receiver<ExtractedReport>,
    wanted: &(dyn Fn(&str) -> bool + Sync),
    now: u64,
) -> Result<(Outcome, Vec<IpAddr>), StoreError> {
    let mut outcome = Outcome {
        input: input.to_string(),
        ..Outcome::default()
    };
    let mut sources = BTreeSet::new();
    while let Some(f) = found.recv().await {
        let part = f.source;
        let fb = match f.report {
            Ok(fb) => Arc::new(fb),
            Err(e) => {
                outcome.unreadable.push(Unreadable {
                    part,
                    error: e.to_string(),
                });
                continue;
            }
        };
        if let Some(error) = implausible(&fb, now) {
            outcome.unreadable.push(Unreadable { part, error });
            continue;
        }
        if !wanted(&fb.policy.domain_key()) {
            outcome
                .not_ours
                .push(stored_report(part, &fb, sent.clone()));
            continue;
        }
        let label = format!("{input}: {part}");
        // a DMARC pass vouches for this report only if its sender is the reporter's domain
        let sent = sent
            .clone()
            .for_report(&fb, dmarc::psl_organizational_domain);
        let inserted = store
            .insert_received_report_from(Arc::clone(&fb), Some(&label), &sent, now)
            .await?;
        let mut summary = stored_report(part, &fb, sent);
        summary.id_reused = matches!(inserted, ReceivedInsert::StoredBesideConflicting(_));
        if inserted.id().is_some() {
            sources.extend(fb.records.iter().map(|r| r.row.source()));
            outcome.stored.push(summary);
        } else {
            outcome.duplicates.push(summary);
        }
    }
    Ok((outcome, sources.into_iter().collect()))
}

fn stored_report(part: String, fb: &Feedback, sent: Provenance) -> StoredReport {
    StoredReport {
        part,
        org_name: fb.metadata.org_name.clone(),
        report_id: fb.metadata.report_id.clone(),
        policy_domain: fb.policy.domain_key(),
        records: fb.records.len(),
        messages: fb.message_count(),
        id_reused: false,
        sent,
    }
}

/// Finds, parses and stores the reports of one input (bounded by `limits`), then looks up
/// the names of new sources when a resolver is given.
pub async fn ingest(
    store: &Store,
    input: &str,
    data: Vec<u8>,
    limits: &Limits,
    resolver: Option<&dyn dns::Resolver>,
    now: u64,
) -> Result<Outcome, StoreError> {
    let (found, reading) = extract_in_background(data, limits.clone());
    let imported = Provenance::Imported;
    let stored = store_found(store, input, &imported, found, &|_| true, now).await;
    if reading.await.is_err() {
        return Err(StoreError::Corrupt(format!(
            "{input}: reading the reports failed"
        )));
    }
    let (outcome, sources) = stored?;
    if let Some(r) = resolver {
        resolve_names(store, r, &sources, now).await;
    }
    Ok(outcome)
}

/// Looks up the names of `ips` not looked up within `NAME_TTL` (30 days) and stores them, at
/// most `MAX_NAMES_PER_INPUT` (500) at a time, bounded in time. A name is a PTR name whose
/// addresses include the source (forward-confirmed, RFC 8601 §3 iprev: whoever controls an
/// address's PTR can claim any name, so an unconfirmed one is not shown). A temporary
/// failure stores nothing (the next report retries); no confirmed name is stored as none.
/// Failures are logged, never returned: the names are a convenience of the dashboard.
pub async fn resolve_names(store: &Store, resolver: &dyn dns::Resolver, ips: &[IpAddr], now: u64) {
    let texts: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
    let missing = match store
        .source_names_missing(&texts, now.saturating_sub(NAME_TTL))
        .await
    {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("reports: cannot read source names: {e}");
            return;
        }
    };
    let wanted: Vec<IpAddr> = missing
        .iter()
        .filter_map(|t| t.parse().ok())
        .take(MAX_NAMES_PER_INPUT)
        .collect();
    let deadline = tokio::time::Instant::now() + NAME_BATCH_LIMIT;
    for chunk in wanted.chunks(NAME_LOOKUPS_AT_ONCE) {
        type Lookup<'a> =
            std::pin::Pin<Box<dyn std::future::Future<Output = iprev::IprevOutcome> + Send + 'a>>;
        let futures: Vec<Lookup<'_>> = chunk
            .iter()
            .map(|ip| Box::pin(iprev::check(resolver, *ip, &NAME_CHECK)) as Lookup<'_>)
            .collect();
        let Ok(answers) = tokio::time::timeout_at(deadline, dns::join_all(futures)).await else {
            tracing::debug!("reports: source name lookups did not finish in time");
            return;
        };
        let mut names = Vec::new();
        for (ip, answer) in chunk.iter().zip(answers) {
            match answer.result {
                iprev::IprevResult::Pass => names.push((ip.to_string(), answer.name)),
                iprev::IprevResult::Fail | iprev::IprevResult::PermError => {
                    names.push((ip.to_string(), None));
                }
                iprev::IprevResult::TempError => {}
            }
        }
        if let Err(e) = store.set_source_names(&names, now).await {
            tracing::warn!("reports: cannot store source names: {e}");
            return;
        }
    }
}
