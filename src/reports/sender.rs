//! Sending aggregate reports (RFC 9990 §3.5): per (policy domain, period) a job claimed in the
//! store, per `rua` destination a send row (docs/reports.md, "Exactly once"). The failure
//! report queue, the retention purge and the schedule are in [`super::schedule`].

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use report_store::{Claim, JobEnd, NewSend, PeriodKey, SendEnd, SendState, Store};
use reports::vocabulary::Mode;
use reports::{Delivery, ReportAddress, ReportKind};
use serde::Serialize;
use tokio::sync::watch;

use crate::app::App;

pub use super::clock::PassClock;
use super::destinations::{
    DnsTrouble, Resolved, in_turns, resolve_destination, skipped_destinations,
};
use super::submission::submit;

#[cfg(test)]
mod claims_and_limits;
#[cfg(test)]
mod tests;

/// What a pass did, for the log and `report send`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PassSummary {
    /// Reports (domain, period) looked at.
    pub reports: u64,
    /// Report mails accepted by the relay.
    pub sent: u64,
    /// Destinations skipped.
    pub skipped: u64,
    /// Destinations given up.
    pub failed: u64,
    /// Destinations left for later (retry, rate limit, DNS).
    pub deferred: u64,
    /// Destinations whose outcome is unknown.
    pub uncertain: u64,
    /// Reports held by another sender.
    pub busy: u64,
    /// Failure reports sent.
    pub failure_sent: u64,
    /// Files written by a dry run.
    pub written: Vec<PathBuf>,
    /// The relay could not be reached: the pass submits nothing more.
    #[serde(skip)]
    pub relay_unreachable: bool,
    /// Destination organizations whose DNS failed in this pass: not asked again.
    #[serde(skip)]
    pub dns_trouble: DnsTrouble,
}

/// What to do in one pass.
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Only this period (its start, Unix seconds).
    pub period: Option<u64>,
    /// Write the messages here and send nothing, claim nothing.
    pub dry_run: Option<PathBuf>,
    /// Every ended period is due (by hand), not only from `send_hour` on.
    pub immediate: bool,
    /// `serve`'s shutdown: once it says true the pass claims no report and starts no
    /// submission more (what is left stays due for the next start), so a long pass never
    /// holds up a restart.
    pub stop: Option<watch::Receiver<bool>>,
}

impl PassOptions {
    /// Whether the pass is to stop now (see [`PassOptions::stop`]).
    pub fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| *s.borrow())
    }
}

/// At most this many stored rows go into one report, those that stand for the most messages
/// (a hostile sender can make every message a row of its own; RFC 9990 sets no bound).
pub const MAX_REPORT_ROWS: u64 = 100_000;
/// At most about this much stored data (JSON) is read for one report: its memory bound.
pub const MAX_REPORT_BYTES: u64 = 64 << 20;

pub(super) fn backoff(attempts: u64) -> u64 {
    (300u64 << attempts.min(6)).min(6 * 3600)
}

/// Sends the aggregate reports due at the clock's start (the previous days', from
/// `send_hour` on).
pub async fn aggregate_pass(
    app: &App,
    store: &Store,
    holder: &str,
    clock: PassClock,
    opts: &PassOptions,
) -> anyhow::Result<PassSummary> {
    let now = clock.start();
    let cfg = &app.config.reports;
    let mut summary = PassSummary::default();
    let due_by = if opts.immediate {
        now
    } else {
        now.saturating_sub(u64::from(cfg.send_hour) * 3600)
    };
    let mut keys = store.due_periods(due_by, now, 10_000).await?;
    if let Some(p) = opts.period {
        keys.retain(|k| k.period_begin == p);
    }
    for key in keys {
        if opts.stopping() {
            tracing::info!("reports: shutting down; the other reports wait for the next start");
            break;
        }
        if summary.relay_unreachable {
            tracing::warn!(
                relay = %cfg.relay,
                "reports: the relay cannot be reached; the other reports wait for the next pass"
            );
            break;
        }
        summary.reports += 1;
        if let Err(e) = job(app, store, holder, &key, clock, opts, &mut summary).await {
            tracing::error!(
                policy_domain = %key.policy_domain,
                period = key.period_begin,
                "reports: aggregate report failed: {e:#}"
            );
        }
    }
    Ok(summary)
}

async fn job(
    app: &App,
    store: &Store,
    holder: &str,
    key: &PeriodKey,
    clock: PassClock,
    opts: &PassOptions,
    summary: &mut PassSummary,
) -> anyhow::Result<()> {
    let cfg = &app.config.reports;
    let now = clock.start();
    let lease = cfg.claim_timeout.get().as_secs();
    let attempts = if opts.dry_run.is_some() {
        0
    } else {
        match store.claim_job(key, holder, clock.now(), lease).await? {
            Claim::Claimed { attempts } => attempts,
            Claim::Busy { .. } => {
                summary.busy += 1;
                return Ok(());
            }
            Claim::Finished => return Ok(()),
        }
    };
    let period = store
        .period_observations_limited(key, MAX_REPORT_ROWS, MAX_REPORT_BYTES)
        .await?;
    let rows = period.rows;
    // the destinations of the latest policy seen (RFC 9990 §3.1 "final configuration")
    let (rua, mode): (Vec<ReportAddress>, Mode) = rows
        .iter()
        .rev()
        .find_map(|(o, _)| o.published.as_ref().map(|p| (p.rua.clone(), o.mode)))
        .unwrap_or((Vec::new(), Mode::Rfc9989));
    // a report of up to MAX_REPORT_ROWS rows takes up to a second of CPU to build and as
    // long again to write and compress: off the runtime's workers, which in `serve` carry
    // the milter's connections
    let mail = super::mail_options(cfg);
    let built = {
        let (domain, range) = (key.policy_domain.clone(), key.range());
        let reporter = super::reporter_info(app);
        let mail = mail.clone();
        tokio::task::spawn_blocking(move || {
            let counted: Vec<(&reports::Observation, u64)> =
                rows.iter().map(|(o, n)| (o, *n)).collect();
            let mut f = reports::build_feedback_counted(&domain, range, &counted, &reporter)?;
            let left = reports::fit_report_file(&mut f, &mail, reports::MAX_REPORT_FILE_BYTES)?;
            Ok::<_, reports::ReportsError>((f, left))
        })
        .await
        .context("building the report")?
    };
    let feedback = match built {
        Ok((mut f, left)) => {
            if left.rows > 0 {
                let note = format!(
                    "{} more rows ({} messages), those with the fewest messages, are not in this \
                     report: its file would be larger than {} MiB",
                    left.rows,
                    left.messages,
                    reports::MAX_REPORT_FILE_BYTES >> 20
                );
                tracing::warn!(policy_domain = %key.policy_domain, period = key.period_begin, "reports: {note}");
                f.metadata.errors.push(note);
            }
            if period.omitted_rows > 0 {
                let note = format!(
                    "{} more rows ({} messages) are not in this report: it holds at most \
                         {MAX_REPORT_ROWS} rows and {} MiB of data",
                    period.omitted_rows,
                    period.omitted_messages,
                    MAX_REPORT_BYTES >> 20
                );
                tracing::warn!(policy_domain = %key.policy_domain, period = key.period_begin, "reports: {note}");
                f.metadata.errors.push(note);
            }
            f
        }
        Err(e) => {
            if opts.dry_run.is_none() {
                let end = JobEnd::Done {
                    report_id: None,
                    messages: 0,
                    error: Some(e.to_string()),
                };
                store.finish_job(key, holder, now, end).await?;
            }
            return Ok(());
        }
    };
    let report_id = feedback.metadata.report_id.clone();
    let mut new_sends: Vec<NewSend> = Vec::new();
    let mut addresses = 0usize;
    let mut to_send: Vec<ReportAddress> = Vec::new();
    let mut temp_errors = Vec::new();
    // the destination checks of a claimed report finish even when a shutdown begins (they
    // are bounded: MAX_REPORT_URIS, one DNS timeout per organization a pass); stopping
    // here would count as DNS trouble, which gives a report's destinations up on its last
    // attempt
    let mut lists = Vec::new();
    for uri in &rua {
        match resolve_destination(
            app,
            &key.policy_domain,
            uri,
            ReportKind::Aggregate,
            mode,
            &mut summary.dns_trouble,
        )
        .await
        {
            Resolved::Send(list) => lists.push((uri, list)),
            Resolved::Skip { destination, why } => {
                tracing::info!(policy_domain = %key.policy_domain, %destination, "reports: destination skipped: {why}");
                new_sends.push(NewSend {
                    destination,
                    uri: uri.uri.clone(),
                    state: SendState::Skipped,
                    note: Some(why),
                });
            }
            Resolved::TempError(e) => temp_errors.push(e),
        }
    }
    // every URI's first address before any URI's second: an external host's own list of ten
    // does not crowd out the policy's other URIs (RFC 9990 §3.5)
    for (
        uri,
        super::destinations::Destination {
            address: a,
            max_size,
        },
    ) in in_turns(lists)
    {
        let destination = a.to_ascii_lowercase();
        let known = new_sends
            .iter()
            .any(|s| s.state == SendState::Pending && s.destination == destination);
        if !known && addresses >= reports::destination::MAX_REPORT_URIS {
            // RFC 9990 §3.5: "up to the Receiver's limits on supported URIs"
            new_sends.push(NewSend {
                destination,
                uri: uri.uri.clone(),
                state: SendState::Skipped,
                note: Some(format!(
                    "a report goes to at most {} addresses",
                    reports::destination::MAX_REPORT_URIS
                )),
            });
            continue;
        }
        addresses += usize::from(!known);
        new_sends.push(NewSend {
            destination: destination.clone(),
            uri: uri.uri.clone(),
            state: SendState::Pending,
            note: None,
        });
        // one message per address: reached by two URIs (`r@x!1k` and `r@x`), it
        // gets the report under the more generous limit (RFC 7489 §6.2: the
        // limited URI alone may not take it; the other may)
        match to_send.iter_mut().find(|t| {
            reports::mailto_address(&t.uri).is_some_and(|t| t.eq_ignore_ascii_case(&destination))
        }) {
            Some(t) => t.max_size = t.max_size.zip(max_size).map(|(x, y)| x.max(y)),
            None => to_send.push(ReportAddress {
                uri: format!("mailto:{a}"),
                max_size,
            }),
        }
    }
    let limits: Vec<(String, Option<u64>)> = to_send
        .iter()
        .filter_map(|t| {
            Some((
                reports::mailto_address(&t.uri)?.to_ascii_lowercase(),
                t.max_size,
            ))
        })
        .collect();
    let (feedback, deliveries) = {
        let mail = mail.clone();
        tokio::task::spawn_blocking(move || {
            let date = super::unix_now();
            let deliveries = reports::aggregate_report_deliveries(&feedback, &to_send, date, &mail);
            (feedback, deliveries)
        })
        .await
        .context("writing the report")?
    };
    let deliveries = deliveries?;
    if let Some(dir) = &opts.dry_run {
        // what the real send would mail and skip: the same `!size` checks, on the signed message
        summary.skipped += skipped_destinations(&new_sends);
        for d in deliveries {
            match d {
                Delivery::Send { address, message } => {
                    let message = super::sign(app, &mail.from, message, super::unix_now());
                    let dest = address.to_ascii_lowercase();
                    let limit = limits
                        .iter()
                        .find(|(a, _)| *a == dest)
                        .and_then(|(_, l)| *l);
                    if let Some(limit) = limit.filter(|l| message.len() as u64 > *l) {
                        tracing::info!(policy_domain = %key.policy_domain, destination = %dest, "reports: would skip: the report ({} bytes) exceeds the destination's !size limit ({limit})", message.len());
                        summary.skipped += 1;
                        continue;
                    }
                    summary
                        .written
                        .push(write_eml(dir, key, &address, &message)?);
                }
                Delivery::TooLarge { .. } => summary.skipped += 1,
                Delivery::Unsupported { .. } => {}
            }
        }
        return Ok(());
    }
    store.add_sends(key, &report_id, &new_sends, now).await?;
    // a destination left pending by an earlier pass that this pass skips (no longer
    // authorized, denied, no MX), or that the policy no longer lists
    let listed: Vec<String> = new_sends.iter().map(|s| s.destination.clone()).collect();
    let resolved: Vec<String> = new_sends
        .iter()
        .filter(|s| s.state == SendState::Pending)
        .map(|s| s.destination.clone())
        .collect();
    for s in store.sends(key).await? {
        if s.state != SendState::Pending || resolved.contains(&s.destination) {
            continue;
        }
        let skipped = new_sends
            .iter()
            .find(|n| n.destination == s.destination && n.state == SendState::Skipped);
        let note = match skipped {
            Some(n) => n.note.as_deref().unwrap_or("skipped"),
            None if !listed.contains(&s.destination) && temp_errors.is_empty() => {
                "no longer a destination of the policy"
            }
            None => continue,
        };
        store
            .settle_pending(key, &s.destination, SendState::Skipped, note, 0, now)
            .await?;
    }
    let window = cfg.destination_rate.per.get().as_secs();
    for d in deliveries {
        match d {
            Delivery::TooLarge { uri, size, limit } => {
                let dest = reports::mailto_address(&uri)
                    .unwrap_or(uri)
                    .to_ascii_lowercase();
                let note = format!(
                    "the report ({size} bytes) exceeds the destination's !size limit ({limit})"
                );
                if store
                    .settle_pending(key, &dest, SendState::Skipped, &note, 0, now)
                    .await?
                {
                    summary.skipped += 1;
                }
            }
            Delivery::Unsupported { uri } => {
                let dest = reports::mailto_address(&uri)
                    .unwrap_or(uri)
                    .to_ascii_lowercase();
                store
                    .settle_pending(key, &dest, SendState::Skipped, "unusable address", 0, now)
                    .await?;
            }
            Delivery::Send { address, message } => {
                let dest = address.to_ascii_lowercase();
                // `!size` is about the message submitted (RFC 7489 §7.2.1), signature included
                let message = super::sign(app, &mail.from, message, super::unix_now());
                let limit = limits
                    .iter()
                    .find(|(a, _)| *a == dest)
                    .and_then(|(_, l)| *l);
                if let Some(limit) = limit.filter(|l| message.len() as u64 > *l) {
                    let note = format!(
                        "the report ({} bytes) exceeds the destination's !size limit ({limit})",
                        message.len()
                    );
                    if store
                        .settle_pending(key, &dest, SendState::Skipped, &note, 0, now)
                        .await?
                    {
                        summary.skipped += 1;
                    }
                    continue;
                }
                if store
                    .sends_to_since(&dest, now.saturating_sub(window))
                    .await?
                    >= cfg.destination_rate.count
                {
                    let note = format!(
                        "rate limited (reports.destination_rate = {})",
                        cfg.destination_rate
                    );
                    store
                        .settle_pending(
                            key,
                            &dest,
                            SendState::Pending,
                            &note,
                            now + window / 4 + 1,
                            now,
                        )
                        .await?;
                    continue;
                }
                if summary.relay_unreachable || opts.stopping() {
                    continue; // stays pending: the job is retried
                }
                // each submission may take `smtp_timeout` per step: the lease is renewed
                // before it, and a job another sender took over (ours expired) is left to it
                if !matches!(
                    store.claim_job(key, holder, clock.now(), lease).await?,
                    Claim::Claimed { .. }
                ) {
                    tracing::warn!(policy_domain = %key.policy_domain, "reports: the report's claim was taken over; its other destinations are left to that sender");
                    return Ok(());
                }
                let Some(attempts) = store.begin_send(key, &dest, holder, now).await? else {
                    continue; // settled, not yet due, or taken by another sender
                };
                let end = submit(app, &mail.from, &address, &message, now, key, attempts).await;
                let end = match end {
                    Ok(end) => end,
                    Err(end) => {
                        summary.relay_unreachable = true;
                        end
                    }
                };
                match &end {
                    SendEnd::Sent { .. } => summary.sent += 1,
                    SendEnd::Failed { .. } => summary.failed += 1,
                    SendEnd::Uncertain { .. } => summary.uncertain += 1,
                    SendEnd::Retry { .. } => {}
                }
                store
                    .end_send(key, &dest, holder, super::unix_now(), end)
                    .await?;
            }
        }
    }
    // the job is done when every destination is settled and no verification is pending; a
    // pending destination this pass could not resolve (a temporary DNS error) waits on DNS,
    // and is given up with the rest of the DNS trouble after max_attempts passes
    let sends = store.sends(key).await?;
    let mut pending_at: Option<u64> = None;
    let mut waiting_on_dns: Vec<String> = Vec::new();
    for s in &sends {
        match s.state {
            SendState::Sent => {}
            SendState::Skipped => {}
            SendState::Failed => {}
            SendState::Uncertain => {}
            SendState::Pending if !resolved.contains(&s.destination) => {
                waiting_on_dns.push(s.destination.clone());
            }
            SendState::Pending | SendState::Sending => {
                pending_at = Some(pending_at.map_or(s.next_attempt, |p| p.min(s.next_attempt)));
            }
        }
    }
    summary.skipped += skipped_destinations(&new_sends);
    let unfinished = !temp_errors.is_empty() || pending_at.is_some();
    if !unfinished {
        store
            .finish_job(
                key,
                holder,
                super::unix_now(),
                JobEnd::Done {
                    report_id: Some(report_id),
                    messages: feedback.message_count(),
                    error: None,
                },
            )
            .await?;
        return Ok(());
    }
    summary.deferred += 1;
    let error = if temp_errors.is_empty() {
        "destinations left to retry".to_string()
    } else {
        temp_errors.join("; ")
    };
    if attempts + 1 >= u64::from(cfg.max_attempts) && pending_at.is_none() {
        // only DNS trouble is left, and it lasted too long
        let note = format!("gave up after {} attempts: {error}", attempts + 1);
        for destination in &waiting_on_dns {
            if store
                .settle_pending(key, destination, SendState::Failed, &note, 0, now)
                .await?
            {
                summary.failed += 1;
            }
        }
        store
            .finish_job(
                key,
                holder,
                super::unix_now(),
                JobEnd::Done {
                    report_id: Some(report_id),
                    messages: feedback.message_count(),
                    error: Some(format!("gave up after {} attempts: {error}", attempts + 1)),
                },
            )
            .await?;
        return Ok(());
    }
    let not_before = pending_at.unwrap_or(now + backoff(attempts)).max(now + 60);
    store
        .finish_job(
            key,
            holder,
            super::unix_now(),
            JobEnd::Retry { error, not_before },
        )
        .await?;
    Ok(())
}

fn write_eml(
    dir: &Path,
    key: &PeriodKey,
    address: &str,
    message: &[u8],
) -> anyhow::Result<PathBuf> {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let path = dir.join(format!(
        "{}!{}!{}.eml",
        safe(&key.policy_domain),
        key.period_begin,
        safe(address)
    ));
    std::fs::write(&path, message)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
