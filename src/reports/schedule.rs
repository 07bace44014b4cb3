//! The schedule in `serve`: the failure report queue sent at once, the aggregate pass every
//! `interval`, the retention purge once an hour (docs/reports.md, "Sending aggregate reports",
//! "Failure reports in the milter").

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use report_store::{SendEnd, Store};
use tokio::sync::{Notify, watch};

use crate::app::App;

use super::sender::{PassClock, PassOptions, aggregate_pass};
use super::smtp::SubmitError;
use super::submission::send_end;

/// Sends the queued failure reports whose time has come; once `stop` (serve's shutdown) says
/// true, the rest of those claimed are handed back untried, due at once.
pub async fn failure_pass(
    app: &App,
    store: &Store,
    holder: &str,
    clock: PassClock,
    stop: Option<&watch::Receiver<bool>>,
) -> anyhow::Result<u64> {
    let cfg = &app.config.reports;
    let now = clock.start();
    let mut sent = 0;
    let (_, from, _) = cfg.identity();
    let relay = super::relay(cfg);
    // one report claimed at a time, each at the clock's time: a lease covers one submission
    // (100 claimed at once under one lease expired behind a slow relay, and another node
    // then called them `uncertain`); a shutdown or an unreachable relay simply stops
    // claiming, and the rest stay queued, untried and due
    for _ in 0..FAILURE_REPORTS_PER_PASS {
        if stop.is_some_and(|s| *s.borrow()) {
            break;
        }
        let claimed = store
            .claim_failure_reports(holder, clock.now(), cfg.claim_timeout.get().as_secs(), 1)
            .await?;
        let Some(r) = claimed.into_iter().next() else {
            break;
        };
        let result = relay.submit(&from, &r.destination, &r.message).await;
        let unreachable = matches!(result, Err(SubmitError::Unreachable(_)));
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
        if unreachable {
            break;
        }
    }
    Ok(sent)
}

/// At most this many failure reports are sent in one pass (the rest wait for the next:
/// every `interval`, or at once when another is queued).
const FAILURE_REPORTS_PER_PASS: usize = 100;

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
        let clock = PassClock::starting_at(now);
        if let Err(e) = failure_pass(&app, &store, &holder, clock, Some(&stop)).await {
            tracing::error!("reports: sending failure reports: {e:#}");
        }
        let opts = PassOptions {
            stop: Some(stop.clone()),
            ..PassOptions::default()
        };
        if aggregate && cfg.send && !opts.stopping() {
            match aggregate_pass(
                &app,
                &store,
                &holder,
                PassClock::starting_at(super::unix_now()),
                &opts,
            )
            .await
            {
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
