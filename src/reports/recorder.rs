//! The recorder: takes finished messages from the results sink, turns each DMARC evaluation
//! into an [`Observation`] and writes them to the store in batches, off the milter's path.
//!
//! What a crash can lose: the records in the sink's queue (at most `[reports] queue`) and the
//! batch in memory (a write starts at `batch_size` records or when the oldest is
//! `flush_interval` old, and takes every record queued by then: at most `queue`). When the
//! store cannot be written, the batch is kept and retried every second, up to 10 × batch_size
//! records (at least `queue`); beyond that the oldest are dropped and counted. Counts are
//! logged once a minute. A write the store has not answered for 10 s is logged
//! while it waits; at a stop the store gets [`LAST_WRITE`] to take what is held, and what it
//! does not take is counted lost and logged, so a hung store cannot hold the stop up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use report_store::Store;
use reports::Observation;
use tokio::sync::{mpsc, watch};

use crate::app::App;
use crate::pipeline::{FinishedMessage, SinkReceiver};

use super::failure::FailureCandidate;

/// How often the recorder looks at the queue (at most; `flush_interval` when shorter).
const TICK: Duration = Duration::from_millis(100);

/// A write unanswered this long is logged (a hung PostgreSQL, a frozen file system): the
/// records wait in memory meanwhile, and the counters' line would not come.
const SLOW_WRITE: Duration = Duration::from_secs(10);

/// At a stop, how long the store gets to take the records held; the rest are lost (counted).
pub const LAST_WRITE: Duration = Duration::from_secs(5);

/// Counters the recorder logs once a minute.
#[derive(Debug, Default)]
struct Counters {
    messages: u64,
    observations: u64,
    written: u64,
    lost: u64,
    failure_dropped: u64,
    errors: u64,
    last_error: Option<String>,
    /// Transactions written, and the longest one.
    writes: u64,
    slowest_write: Duration,
    /// The latest arrival time recorded (kept across the minute's counters): a record much
    /// older says the clock was stepped back.
    latest_time: u64,
}

/// How far behind the latest recorded arrival a new one may be before it is taken for a
/// clock stepped back (messages are recorded in arrival order, within seconds).
const CLOCK_STEP: u64 = 3600;

impl Counters {
    /// Notes an observation's arrival time; a step back of the clock is logged: a host that
    /// ran ahead (booted with a wrong clock, then corrected) may have sent a period's
    /// aggregate report early, and this period's later records are then in no report
    /// (RFC 9990 §3.1.1.4: a report covers its whole period).
    fn saw(&mut self, time: u64) {
        if self.latest_time > time.saturating_add(CLOCK_STEP) {
            tracing::warn!(
                behind_s = self.latest_time - time,
                "reports: the clock went back (a record arrived at {time}, after one at {}): an aggregate report sent while it ran ahead may miss records of its period (authmilter report status shows what was sent)",
                self.latest_time
            );
            self.latest_time = time;
        } else {
            self.latest_time = self.latest_time.max(time);
        }
    }
}

/// Runs until `stop` fires, then writes what it holds and returns.
pub async fn run(
    mut rx: SinkReceiver,
    store: Store,
    shared: Arc<ArcSwap<App>>,
    failures: Option<mpsc::Sender<FailureCandidate>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut batch: Vec<Observation> = Vec::new();
    let mut oldest: Option<Instant> = None;
    let mut counters = Counters::default();
    let mut last_log = Instant::now();
    let mut more = false;
    loop {
        let app = shared.load_full();
        let cfg = &app.config.reports;
        let flush_after = cfg.flush_interval.get();
        // the recorder wakes on a timer, not per message: publishing a record never wakes a
        // task (a wake-up per message cost more CPU than recording it)
        // (a write cut short by the stop has seen its change already: read the value)
        let mut stopping = *stop.borrow();
        if !stopping && !more {
            tokio::select! {
                _ = stop.changed() => stopping = true,
                _ = tokio::time::sleep(flush_after.min(TICK)) => {}
            }
        }
        more = false;
        // group commit: a write takes every record queued meanwhile (up to `queue` at a
        // time), so the recorder keeps up however long one write takes (an fsync behind
        // other disk traffic, a busy CPU); batch_size is when a write starts, not its size
        let drain_cap = cfg.queue.max(cfg.batch_size);
        loop {
            match rx.try_recv() {
                Ok(m) => take(
                    m,
                    &app,
                    &mut batch,
                    &mut oldest,
                    failures.as_ref(),
                    &mut counters,
                ),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    stopping = true;
                    break;
                }
            }
            if batch.len() >= drain_cap {
                more = true; // write it and come back at once
                break;
            }
        }
        if stopping {
            // what is queued now is written before we go (bounded: the queue's capacity)
            while let Ok(m) = rx.try_recv() {
                take(
                    m,
                    &app,
                    &mut batch,
                    &mut oldest,
                    failures.as_ref(),
                    &mut counters,
                );
            }
            last_write(&store, &mut batch, &mut counters).await;
            log_counters(&mut counters);
            return;
        }
        let due = oldest.is_some_and(|t| t.elapsed() >= flush_after);
        if batch.len() >= cfg.batch_size || due {
            let kept = match flush(
                &store,
                &mut batch,
                &mut counters,
                cfg.batch_size.saturating_mul(10).max(drain_cap),
                &mut stop,
            )
            .await
            {
                Some(kept) => kept,
                None => {
                    // stopped while the store held a write: the queue too goes unwritten
                    while let Ok(m) = rx.try_recv() {
                        take(m, &app, &mut batch, &mut oldest, None, &mut counters);
                    }
                    lose_at_stop(&mut batch, &mut counters, "the store did not answer");
                    log_counters(&mut counters);
                    return;
                }
            };
            oldest = if kept { Some(Instant::now()) } else { None };
            if kept {
                // the store failed: do not spin
                tokio::time::sleep(Duration::from_secs(1)).await;
            } else {
                // look at the queue again at once: records may have piled up meanwhile
                more = true;
            }
        }
        if last_log.elapsed() >= Duration::from_secs(60) {
            log_counters(&mut counters);
            last_log = Instant::now();
        }
    }
}

fn take(
    m: Arc<FinishedMessage>,
    app: &App,
    batch: &mut Vec<Observation>,
    oldest: &mut Option<Instant>,
    failures: Option<&mpsc::Sender<FailureCandidate>>,
    counters: &mut Counters,
) {
    let cfg = &app.config.reports;
    if m.observations.is_empty() {
        return;
    }
    // the recorder holds the only reference: the observations move into the batch
    let mut m = Arc::try_unwrap(m).unwrap_or_else(|shared| (*shared).clone());
    let all = std::mem::take(&mut m.observations);
    // converted by the pipeline with the observations (always there when they are)
    let envelope = m.envelope.take();
    counters.messages += 1;
    let headers = m
        .headers
        .clone()
        .filter(|h| super::failure::header_bytes(h) <= super::failure::MAX_HEADER_BYTES);
    if let (Some(tx), true, Some(envelope), Some(headers)) =
        (failures, cfg.failure.enabled, &envelope, headers)
    {
        for obs in &all {
            if reports::failure_reports_requested(obs).any() {
                let c = FailureCandidate {
                    observation: obs.clone(),
                    envelope: envelope.clone(),
                    headers: Some(Arc::clone(&headers)),
                    body: m.body.clone(),
                    spf_records: m.spf_records.clone(),
                };
                if tx.try_send(c).is_err() {
                    counters.failure_dropped += 1;
                }
            }
        }
    }
    for obs in all {
        counters.saw(obs.time);
        if cfg.record_all || obs.wants_aggregate_report() {
            counters.observations += 1;
            batch.push(obs);
            oldest.get_or_insert_with(Instant::now);
        }
    }
}

/// Writes the batch. On failure keeps it (at most `cap` records, the oldest dropped and
/// counted) and returns true.
async fn flush(
    store: &Store,
    batch: &mut Vec<Observation>,
    counters: &mut Counters,
    cap: usize,
    stop: &mut watch::Receiver<bool>,
) -> Option<bool> {
    if batch.is_empty() {
        return Some(false);
    }
    let started = Instant::now();
    let written = {
        let write = store.record(batch);
        tokio::pin!(write);
        let mut slow = std::pin::pin!(tokio::time::sleep(SLOW_WRITE));
        let mut warned = false;
        loop {
            tokio::select! {
                r = &mut write => break r,
                () = &mut slow, if !warned => {
                    warned = true;
                    tracing::warn!(
                        records = batch.len(),
                        "reports: the store has not answered a write for {}s; records wait in memory (past reports.queue they are dropped and counted)",
                        SLOW_WRITE.as_secs()
                    );
                }
                () = async {
                    let _ = stop.wait_for(|s| *s).await;
                } => {
                    // the write under way gets the time a last write gets, then is left
                    if let Ok(r) = tokio::time::timeout(LAST_WRITE, &mut write).await {
                        break r;
                    }
                    return None;
                }
            }
        }
    };
    Some(match written {
        Ok(stats) => {
            counters.writes += 1;
            counters.slowest_write = counters.slowest_write.max(started.elapsed());
            counters.written += stats.observations;
            batch.clear();
            false
        }
        Err(e) => {
            counters.errors += 1;
            if counters.last_error.is_none() {
                tracing::error!("reports: cannot write to the store (will retry): {e}");
            }
            counters.last_error = Some(e.to_string());
            if batch.len() > cap {
                let extra = batch.len() - cap;
                batch.drain(..extra);
                counters.lost += extra as u64;
            }
            true
        }
    })
}

/// At a stop: what is held gets one write, within [`LAST_WRITE`]; what it does not take is
/// lost, counted and logged.
async fn last_write(store: &Store, batch: &mut Vec<Observation>, counters: &mut Counters) {
    if batch.is_empty() {
        return;
    }
    match tokio::time::timeout(LAST_WRITE, store.record(batch)).await {
        Ok(Ok(stats)) => {
            counters.writes += 1;
            counters.written += stats.observations;
            batch.clear();
        }
        Ok(Err(e)) => {
            counters.errors += 1;
            counters.last_error = Some(e.to_string());
            lose_at_stop(batch, counters, &format!("the store failed: {e}"));
        }
        Err(_) => lose_at_stop(
            batch,
            counters,
            &format!("the store did not answer within {}s", LAST_WRITE.as_secs()),
        ),
    }
}

fn lose_at_stop(batch: &mut Vec<Observation>, counters: &mut Counters, why: &str) {
    if batch.is_empty() {
        return;
    }
    tracing::error!(
        records = batch.len(),
        "reports: records not confirmed written at the stop ({why}); counted lost (a write the store was still doing may yet land)"
    );
    counters.lost += batch.len() as u64;
    batch.clear();
}

fn log_counters(c: &mut Counters) {
    if c.messages == 0 && c.errors == 0 && c.lost == 0 && c.failure_dropped == 0 {
        return;
    }
    if c.errors > 0 || c.lost > 0 || c.failure_dropped > 0 {
        tracing::warn!(
            messages = c.messages,
            recorded = c.written,
            store_errors = c.errors,
            lost = c.lost,
            failure_reports_dropped = c.failure_dropped,
            last_error = c.last_error.as_deref().unwrap_or(""),
            "reports: recording had problems"
        );
    } else {
        tracing::info!(
            messages = c.messages,
            recorded = c.written,
            writes = c.writes,
            slowest_write_ms = c.slowest_write.as_millis(),
            "reports: DMARC evaluations recorded"
        );
    }
    *c = Counters {
        latest_time: c.latest_time,
        ..Counters::default()
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dns::Resolver;
    use dns::memory::MemoryResolver;
    use reports::vocabulary::{
        AlignmentMode, DiscoveryMethod, Disposition, DmarcResult, FailureOption, Mode, Psd,
    };
    use reports::{PublishedPolicy, ReportAddress};

    use super::*;
    use crate::config::Config;
    use crate::pipeline::Direction;

    fn message(header_bytes: usize) -> Arc<FinishedMessage> {
        let observation = Observation {
            time: 1_700_000_000,
            source_ip: "192.0.2.2".parse().unwrap(),
            header_from: "a.example".into(),
            envelope_from: "a.example".into(),
            envelope_to: vec!["rx.example".into()],
            policy_domain: Some("a.example".into()),
            result: DmarcResult::Fail,
            disposition: Disposition::Reject,
            requested_policy: Some(Disposition::Reject),
            overrides: Vec::new(),
            spf: None,
            dkim: Vec::new(),
            published: Some(PublishedPolicy {
                p: Disposition::Reject,
                sp: None,
                np: None,
                adkim: AlignmentMode::Relaxed,
                aspf: AlignmentMode::Relaxed,
                testing: false,
                pct: 100,
                psd: Psd::Unknown,
                fo: vec![FailureOption::All],
                rua: Vec::new(),
                ruf: vec![ReportAddress {
                    uri: "mailto:ruf@a.example".into(),
                    max_size: None,
                }],
                discovery_method: DiscoveryMethod::TreeWalk,
                errors: Vec::new(),
            }),
            mode: Mode::Rfc9989,
        };
        let field = message::HeaderField {
            name: b"X-Filler".to_vec(),
            value: vec![b'x'; header_bytes],
        };
        Arc::new(FinishedMessage {
            time: 1_700_000_000,
            queue_id: None,
            direction: Direction::Inbound,
            client_ip: None,
            helo: None,
            mail_from: Vec::new(),
            recipients: Vec::new(),
            observations: vec![observation],
            envelope: Some(reports::Envelope::default()),
            decision: None,
            headers: Some(Arc::new(vec![field])),
            body: None,
            spf_records: Vec::new(),
        })
    }

    /// A failed message waits for its failure report in the producer's queue and, after a
    /// temporary DNS error, in its retry list (1,000 each): one whose header block is larger
    /// than a failure report carries is not handed over, so hostile 512 KiB header blocks
    /// cannot make those queues hold a gigabyte.
    #[test]
    fn an_oversized_header_block_gets_no_failure_report() {
        let dns: Arc<dyn Resolver> = Arc::new(MemoryResolver::from_zone("").unwrap());
        let toml = "[reports]\nenabled = true\nstore = \"sqlite:/nonexistent/r.db\"\n\
                    email = \"dmarc@rx.example\"\n[reports.failure]\nenabled = true\n";
        let app = App::new(Config::parse(toml).unwrap(), dns).unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let mut batch = Vec::new();
        let mut oldest = None;
        let mut counters = Counters::default();
        for bytes in [1000, 500 * 1024] {
            take(
                message(bytes),
                &app,
                &mut batch,
                &mut oldest,
                Some(&tx),
                &mut counters,
            );
        }
        let first = rx.try_recv().expect("the normal message");
        assert!(first.headers.is_some());
        assert!(rx.try_recv().is_err(), "the oversized one was handed over");
    }

    /// A record arriving an hour or more before the latest one is a clock stepped back: noted
    /// (and logged), the latest time following the clock; ordinary jitter is not.
    #[test]
    fn a_clock_stepped_back_is_noticed() {
        let mut c = Counters::default();
        c.saw(1_000_000);
        c.saw(999_990);
        assert_eq!(c.latest_time, 1_000_000, "seconds of jitter");
        c.saw(1_000_000 - 86_400);
        assert_eq!(c.latest_time, 1_000_000 - 86_400, "a day back: followed");
        log_counters(&mut c);
        assert_eq!(
            c.latest_time,
            1_000_000 - 86_400,
            "kept across the minute's counters"
        );
    }
}
