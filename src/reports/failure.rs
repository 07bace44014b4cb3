//! Failure reports (RFC 9991): for a failed message whose policy's `fo=` asks for one, verify
//! each `ruf=` destination like an aggregate one (RFC 9991 §5: external verification, deny
//! list, MX), build the AFRF message (header only unless `original = "full"`, redacted with a
//! key), DKIM-sign it and queue it in the store within the per-domain and per-destination
//! rate limits; the schedule sends the queue at once. A destination whose check hits a
//! temporary DNS error is tried again later ([`retry`]).

pub mod retry;
#[cfg(test)]
mod tests;

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use report_store::{FailureLimits, NewFailureReport, Queued, Store};
use reports::{
    Envelope, FailedMessage, FailureKind, FailureOptions, Observation, OriginalContent,
    RedactionKey, ReportKind,
};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use crate::app::App;
use crate::config::OriginalSetting;

use super::destinations::{Destination, DnsTrouble, Resolved, resolve_destination};
use retry::{RetryList, RetryPolicy};

/// The largest header block a failure report is made for, in bytes (fields with their CRLFs).
/// Ordinary header blocks are a few KiB; a failure report must carry the whole block (RFC 6591
/// §3.1), and a failed message waits in the producer's queue and retry list (1,000 each), so
/// hostile 512 KiB blocks would make them hold a gigabyte.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The most octets of header and body an `original = "full"` report carries: a message
/// larger than this gets the header block alone (RFC 6591 §3.1 asks for the header at
/// least), so the queues' bound above holds for the whole original too.
pub const MAX_ORIGINAL_BYTES: usize = MAX_HEADER_BYTES;

/// The size of a header block as a failure report carries it.
pub fn header_bytes(fields: &[message::HeaderField]) -> usize {
    fields
        .iter()
        .map(|f| f.name.len() + f.value.len() + 3)
        .sum()
}

/// A failed message handed over by the recorder.
#[derive(Debug, Clone)]
pub struct FailureCandidate {
    /// What DMARC found for one author domain.
    pub observation: Observation,
    /// The SMTP envelope.
    pub envelope: Envelope,
    /// The header fields as received (absent: no report can be built).
    pub headers: Option<Arc<Vec<message::HeaderField>>>,
    /// The body as received, for `original = "full"` (absent: the header block alone).
    pub body: Option<Arc<Vec<u8>>>,
    /// The SPF records of DMARC's SPF result, `(domain, record)` in the order read (RFC 6591
    /// §3.2.6 `SPF-DNS`, one for every record used).
    pub spf_records: Vec<(String, String)>,
}

/// Builds and queues failure reports until `stop` fires; destinations whose check hit a
/// temporary DNS error are tried again as `retry_policy` says.
pub async fn run(
    mut rx: mpsc::Receiver<FailureCandidate>,
    store: Store,
    shared: Arc<ArcSwap<App>>,
    kick: Arc<Notify>,
    retry_policy: RetryPolicy,
    mut stop: watch::Receiver<bool>,
) {
    let mut key: Option<(PathBuf, Option<RedactionKey>)> = None;
    let mut waiting = RetryList::new(retry_policy);
    let mut total = TotalRate::default();
    loop {
        let due = waiting.next_due();
        let next = tokio::select! {
            _ = stop.changed() => break,
            c = rx.recv() => match c { Some(c) => Next::New(c), None => break },
            _ = retry::until(due) => match waiting.take_due(Instant::now()) {
                Some(w) => Next::Retry(w),
                None => continue,
            },
        };
        let app = shared.load_full();
        let path = app.config.reports.failure.redaction_key.clone();
        if key.as_ref().is_none_or(|(p, _)| *p != path) {
            key = Some((path.clone(), load_key(&path)));
        }
        let redaction = key.as_ref().and_then(|(_, k)| k.clone());
        let (c, only) = match &next {
            Next::New(c) => (c, None),
            Next::Retry(w) => (&w.candidate, Some(w.uris.as_slice())),
        };
        let now = super::unix_now();
        let outcome = queue_reports(&app, &store, c, redaction, now, only, &mut total).await;
        if outcome.queued > 0 {
            kick.notify_one();
        }
        match next {
            Next::New(c) => waiting.schedule(c, outcome.retry, Instant::now()),
            Next::Retry(w) => waiting.reschedule(w, outcome.retry, Instant::now()),
        }
    }
    if !waiting.is_empty() {
        tracing::info!(
            waiting = waiting.len(),
            "reports: failure reports waiting for a DNS retry are dropped at shutdown"
        );
    }
}

/// What the producer works on next.
enum Next {
    /// A failed message from the recorder.
    New(FailureCandidate),
    /// A retry that is due.
    Retry(retry::Waiting),
}

fn load_key(path: &std::path::Path) -> Option<RedactionKey> {
    if path.as_os_str().is_empty() {
        return None;
    }
    match std::fs::read(path) {
        Ok(bytes) if !bytes.trim_ascii().is_empty() => {
            Some(RedactionKey(bytes.trim_ascii().to_vec()))
        }
        Ok(_) => {
            tracing::error!(file = %path.display(), "reports: the redaction key file is empty; failure reports are not sent");
            Some(RedactionKey(Vec::new()))
        }
        Err(e) => {
            tracing::error!(file = %path.display(), "reports: cannot read the redaction key ({e}); failure reports are not sent");
            Some(RedactionKey(Vec::new()))
        }
    }
}

/// The failure reports this node queued within `[reports.failure] total_rate`'s window,
/// the bound over every policy domain and destination (RFC 9991 §8.1 "a maximum number of
/// reports per minute that will be generated (and the remainder discarded)").
#[derive(Debug, Default)]
pub struct TotalRate {
    /// When each report of the window was queued (Unix seconds), oldest first: at most
    /// `total_rate`'s count.
    queued_at: VecDeque<u64>,
}

impl TotalRate {
    /// Whether another report may be queued at `now` under `rate`.
    fn allows(&mut self, rate: &crate::config::Rate, now: u64) -> bool {
        let since = now.saturating_sub(rate.per.get().as_secs());
        while self.queued_at.front().is_some_and(|t| *t <= since) {
            self.queued_at.pop_front();
        }
        // a lowered rate (a reload) leaves more in the window than it allows: keep the newest
        while self.queued_at.len() as u64 > rate.count {
            self.queued_at.pop_front();
        }
        (self.queued_at.len() as u64) < rate.count
    }

    /// Counts a report queued at `now`.
    fn record(&mut self, now: u64) {
        self.queued_at.push_back(now);
    }
}

/// What [`queue_reports`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueOutcome {
    /// Reports queued.
    pub queued: usize,
    /// Report messages built (and signed): queued, or refused by a rate limit when queued.
    pub built: usize,
    /// The `ruf` URIs whose check hit a temporary DNS error: to try again later.
    pub retry: Vec<String>,
}

/// Queues the failure reports due for one failed message, for every `ruf` URI or, with
/// `only`, for those URIs only (a retry).
pub async fn queue_reports(
    app: &App,
    store: &Store,
    c: &FailureCandidate,
    redaction: Option<RedactionKey>,
    now: u64,
    only: Option<&[String]>,
    total: &mut TotalRate,
) -> QueueOutcome {
    let mut outcome = QueueOutcome::default();
    let cfg = &app.config.reports;
    // an unreadable key never means "send unredacted"
    if redaction.as_ref().is_some_and(|k| k.0.is_empty()) {
        return outcome;
    }
    let Some(headers) = &c.headers else {
        return outcome;
    };
    let obs = &c.observation;
    let Some(published) = &obs.published else {
        return outcome;
    };
    let Some(policy_domain) = obs.policy_domain.clone() else {
        return outcome;
    };
    let kinds = reports::failure_reports_requested(obs).kinds();
    if kinds.is_empty() {
        return outcome;
    }
    let mut header = Vec::new();
    for f in headers.iter() {
        header.extend_from_slice(&f.name);
        header.push(b':');
        header.extend_from_slice(&f.value);
        header.extend_from_slice(b"\r\n");
    }
    // a report or a bounce (of our own report to a dead ruf mailbox, say) gets none: each
    // answer would bring another bounce (RFC 9991 §5.1, RFC 3834 §2)
    if let Some(why) = reports::automatic_message(&header, &c.envelope.mail_from) {
        tracing::debug!(%policy_domain, ?why, "reports: no failure report about automatic mail");
        return outcome;
    }
    let spf_records: Vec<(&str, &str)> = c
        .spf_records
        .iter()
        .map(|(domain, record)| (domain.as_str(), record.as_str()))
        .collect();
    let failed = FailedMessage {
        header: &header,
        body: c.body.as_deref().map(Vec::as_slice),
        envelope: &c.envelope,
        spf_records: &spf_records,
    };
    let (_, from, _) = cfg.identity();
    let opts = FailureOptions {
        from: from.clone(),
        authserv_id: app.authserv_id.clone(),
        user_agent: format!("authmilter/{}", env!("CARGO_PKG_VERSION")),
        reporting_mta: cfg.failure.reporting_mta_name(),
        original: match cfg.failure.original {
            OriginalSetting::Headers => OriginalContent::Headers,
            OriginalSetting::Full => OriginalContent::FullMessage,
        },
        redaction,
    };
    let limits = FailureLimits {
        per_domain: (
            cfg.failure.domain_rate.count,
            cfg.failure.domain_rate.per.get().as_secs(),
        ),
        per_destination: (
            cfg.failure.destination_rate.count,
            cfg.failure.destination_rate.per.get().as_secs(),
        ),
    };
    // past the node's total nothing is built, and nothing asked of DNS or the store
    if !total.allows(&cfg.failure.total_rate, now) {
        tracing::debug!(%policy_domain, "reports: failure report rate limited (total_rate)");
        return outcome;
    }
    // a domain over its own limit gets nothing in this window: no DNS for its destinations
    // (ten external URIs with ten override addresses each are over 300 questions)
    match store
        .failure_domain_allowed(&policy_domain, now, limits.per_domain)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(%policy_domain, "reports: failure report rate limited");
            return outcome;
        }
        Err(e) => {
            tracing::error!("reports: cannot queue a failure report: {e}");
            return outcome;
        }
    }
    let mut trouble = DnsTrouble::default();
    // one report per address and kind, as aggregate reports: two URIs may lead to one address
    // (written twice in another case, or a destination's override naming it again)
    let mut addressed: HashSet<String> = HashSet::new();
    for uri in &published.ruf {
        if only.is_some_and(|only| !only.contains(&uri.uri)) {
            continue;
        }
        let destinations = match resolve_destination(
            app,
            &policy_domain,
            uri,
            ReportKind::Failure,
            obs.mode,
            &mut trouble,
        )
        .await
        {
            Resolved::Send(list) => list,
            Resolved::Skip { destination, why } => {
                tracing::info!(%policy_domain, %destination, "reports: failure report not sent: {why}");
                continue;
            }
            Resolved::TempError(why) => {
                tracing::info!(%policy_domain, uri = %uri.uri, "reports: failure report deferred (temporary DNS error): {why}");
                if !outcome.retry.contains(&uri.uri) {
                    outcome.retry.push(uri.uri.clone());
                }
                continue;
            }
        };
        for Destination { address, max_size } in destinations {
            let destination = address.to_ascii_lowercase();
            if addressed.contains(&destination) {
                continue;
            }
            for kind in &kinds {
                if !total.allows(&cfg.failure.total_rate, now) {
                    tracing::debug!(%policy_domain, "reports: failure report rate limited (total_rate)");
                    return outcome;
                }
                // a report the rate limits would refuse is not built (fo=d: one per signature)
                match store
                    .failure_report_allowed(&policy_domain, &destination, now, limits)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!(%policy_domain, %destination, "reports: failure report rate limited");
                        break;
                    }
                    Err(e) => {
                        tracing::error!("reports: cannot queue a failure report: {e}");
                        break;
                    }
                }
                let message = match reports::failure_report_message(
                    obs, *kind, &failed, &address, now, &opts,
                ) {
                    Ok(m) => {
                        outcome.built += 1;
                        super::sign(app, &from, m, now)
                    }
                    Err(e) => {
                        tracing::warn!(%policy_domain, "reports: cannot build a failure report: {e}");
                        continue;
                    }
                };
                // the URI's `!size` bounds the report as submitted (RFC 7489 §6.2); another
                // URI leading to this address may still take it
                if let Some(limit) = max_size.filter(|&l| message.len() as u64 > l) {
                    tracing::info!(%policy_domain, %destination, "reports: failure report not sent: {} bytes, over the URI's limit of {limit}", message.len());
                    continue;
                }
                addressed.insert(destination.clone());
                let report = NewFailureReport {
                    policy_domain: policy_domain.clone(),
                    destination: destination.clone(),
                    uri: uri.uri.clone(),
                    kind: kind_name(*kind).into(),
                    message,
                };
                match store.queue_failure_report(&report, now, limits).await {
                    Ok(Queued::Yes(_)) => {
                        outcome.queued += 1;
                        total.record(now);
                    }
                    Ok(Queued::RateLimited) => {
                        tracing::debug!(%policy_domain, destination = %report.destination, "reports: failure report rate limited");
                    }
                    Err(e) => tracing::error!("reports: cannot queue a failure report: {e}"),
                }
            }
        }
    }
    outcome
}

fn kind_name(k: FailureKind) -> &'static str {
    match k {
        FailureKind::Dmarc => "dmarc",
        FailureKind::Spf => "spf",
        FailureKind::Dkim(_) => "dkim",
    }
}
