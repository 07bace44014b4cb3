//! The schedule in `serve`: the failure report queue sent at once, the aggregate pass every
//! `interval`, the retention purge once an hour (docs/reports.md, "Sending aggregate reports",
//! "Failure reports in the milter").

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use report_store::{SendEnd, Store};
use tokio::sync::{Notify, watch};

use crate::app::App;

use super::sender::{PassOptions, aggregate_pass, backoff, send_end};
use super::smtp::SubmitError;

/// Sends the queued failure reports whose time has come; once `stop` (serve's shutdown) says
/// true, the rest of those claimed are handed back untried, due at once.
pub async fn failure_pass(
    app: &App,
    store: &Store,
    holder: &str,
    now: u64,
    stop: Option<&watch::Receiver<bool>>,
) -> anyhow::Result<u64> {
    let cfg = &app.config.reports;
    let mut sent = 0;
    let claimed = store
        .claim_failure_reports(holder, now, cfg.claim_timeout.get().as_secs(), 100)
        .await?;
    let (_, from, _) = cfg.identity();
    let relay = super::relay(cfg);
    let mut unreachable: Option<String> = None;
    for r in claimed {
        // not tried, back to the queue: a shutdown has begun (due at once), or the relay
        // could not be reached for an earlier one of this pass
        let untried = if stop.is_some_and(|s| *s.borrow()) {
            Some(("not tried: shutting down".to_string(), now))
        } else {
            unreachable.as_ref().map(|why| {
                (
                    format!("not tried, relay unreachable: {why}"),
                    now + backoff(0),
                )
            })
        };
        if let Some((error, next_attempt)) = untried {
            let end = SendEnd::Retry {
                error,
                next_attempt,
            };
            store
                .end_failure_report(r.id, holder, super::unix_now(), end)
                .await?;
            continue;
        }
        let result = relay.submit(&from, &r.destination, &r.message).await;
        if let Err(SubmitError::Unreachable(why)) = &result {
            unreachable = Some(why.clone());
        }
        let end = match result {
            Ok(_) => {
                sent += 1;
                SendEnd::Sent {
                    message_id: super::message_id(&r.message),
                    size: r.message.len() as u64,
                }
            }
            Err(e) => send_end(
                e,
                r.attempts.saturating_sub(1),
                cfg.max_attempts,
                now,
                |m| {
                    tracing::warn!(policy_domain = %r.policy_domain, to = %r.destination, "reports: failure report: {m}");
                },
            ),
        };
        store
            .end_failure_report(r.id, holder, super::unix_now(), end)
            .await?;
    }
    Ok(sent)
}

/// The schedule in `serve`: every `interval` (and at once when a failure report is queued)
/// send what is due, and purge data older than `keep` once an hour.
pub async fn schedule(
    store: Store,
    shared: Arc<ArcSwap<App>>,
    kick: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_purge: Option<Instant> = None;
    let mut first = true;
    loop {
        let app = shared.load_full();
        let cfg = &app.config.reports;
        let holder = super::holder(cfg);
        let mut aggregate = first;
        first = false;
        if !aggregate {
            tokio::select! {
                _ = stop.changed() => return,
                _ = kick.notified() => {}
                _ = tokio::time::sleep(cfg.interval.get()) => aggregate = true,
            }
        }
        let app = shared.load_full();
        let cfg = &app.config.reports;
        let now = super::unix_now();
        if let Err(e) = failure_pass(&app, &store, &holder, now, Some(&stop)).await {
            tracing::error!("reports: sending failure reports: {e:#}");
        }
        let opts = PassOptions {
            stop: Some(stop.clone()),
            ..PassOptions::default()
        };
        if aggregate && cfg.send && !opts.stopping() {
            match aggregate_pass(&app, &store, &holder, now, &opts).await {
                Ok(s) if s.reports > 0 => tracing::info!(
                    reports = s.reports,
                    sent = s.sent,
                    skipped = s.skipped,
                    failed = s.failed,
                    deferred = s.deferred,
                    busy = s.busy,
                    "reports: aggregate pass"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!("reports: aggregate pass: {e:#}"),
            }
        }
        if aggregate
            && !opts.stopping()
            && last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600))
        {
            last_purge = Some(Instant::now());
            let before = now.saturating_sub(cfg.keep.get().as_secs());
            match store.purge(before).await {
                Ok(p) if p.observations + p.jobs + p.failure_reports + p.received_reports > 0 => {
                    tracing::info!(
                        observations = p.observations,
                        reports = p.jobs,
                        failure_reports = p.failure_reports,
                        received_reports = p.received_reports,
                        "reports: purged data older than reports.keep"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!("reports: purge: {e}"),
            }
        }
    }
}
