//! Failure reports whose destination check hit a temporary DNS error (RFC 9991 §5 verification
//! or the MX check): kept in memory, bounded, and tried again after growing delays; a
//! temporary DNS failure is never a reason to drop a report at once.

use std::time::Duration;

use tokio::time::Instant;

use super::FailureCandidate;

/// When failure reports that hit a temporary DNS error are tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before each retry, counted from the attempt before it; when the last retry
    /// still hits a temporary error, the report is given up.
    pub delays: Vec<Duration>,
    /// At most this many failed messages wait; when full, the oldest is dropped (logged and
    /// counted).
    pub capacity: usize,
}

impl Default for RetryPolicy {
    /// 1 min, 5 min, 15 min; 1,000 waiting messages.
    fn default() -> Self {
        RetryPolicy {
            delays: vec![
                Duration::from_secs(60),
                Duration::from_secs(5 * 60),
                Duration::from_secs(15 * 60),
            ],
            capacity: 1000,
        }
    }
}

/// A failed message waiting for its next try.
#[derive(Debug)]
pub struct Waiting {
    /// The failed message.
    pub candidate: FailureCandidate,
    /// The `ruf` URIs still to try (the others were queued or skipped already).
    pub uris: Vec<String>,
    /// Retries done before this one.
    pub retries: usize,
    due: Instant,
    seq: u64,
}

/// The bounded list of failed messages waiting for a retry.
#[derive(Debug)]
pub struct RetryList {
    policy: RetryPolicy,
    waiting: Vec<Waiting>,
    next_seq: u64,
    dropped: u64,
    given_up: u64,
    unlogged_drops: u64,
    last_drop_log: Option<Instant>,
}

/// How often at most a full list logs its drops.
const DROP_LOG_EVERY: Duration = Duration::from_secs(60);

impl RetryList {
    /// An empty list.
    pub fn new(policy: RetryPolicy) -> Self {
        RetryList {
            policy,
            waiting: Vec::new(),
            next_seq: 0,
            dropped: 0,
            given_up: 0,
            unlogged_drops: 0,
            last_drop_log: None,
        }
    }

    /// Schedules the first retry of `uris` for `candidate` (their first try hit a temporary
    /// DNS error).
    pub fn schedule(&mut self, candidate: FailureCandidate, uris: Vec<String>, now: Instant) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        self.insert(candidate, uris, 0, seq, now);
    }

    /// Schedules the next try of `uris` (those of `w` whose retry hit a temporary DNS error
    /// again), keeping its age; gives them up when no retry is left.
    pub fn reschedule(&mut self, w: Waiting, uris: Vec<String>, now: Instant) {
        let retries = w.retries.saturating_add(1);
        self.insert(w.candidate, uris, retries, w.seq, now);
    }

    fn insert(
        &mut self,
        candidate: FailureCandidate,
        uris: Vec<String>,
        retries: usize,
        seq: u64,
        now: Instant,
    ) {
        if uris.is_empty() {
            return;
        }
        let Some(&delay) = self.policy.delays.get(retries) else {
            let policy_domain = candidate.observation.policy_domain.as_deref().unwrap_or("");
            for uri in &uris {
                tracing::info!(
                    %policy_domain,
                    %uri,
                    retries,
                    "reports: failure report given up (temporary DNS error on every try)"
                );
            }
            self.given_up = self.given_up.saturating_add(1);
            return;
        };
        if self.policy.capacity == 0 {
            self.drop_one(&candidate, now);
            return;
        }
        while self.waiting.len() >= self.policy.capacity {
            let Some(oldest) = self
                .waiting
                .iter()
                .enumerate()
                .min_by_key(|(_, w)| w.seq)
                .map(|(i, _)| i)
            else {
                break;
            };
            if self.waiting.get(oldest).is_some_and(|w| w.seq > seq) {
                // the one to add is the oldest
                self.drop_one(&candidate, now);
                return;
            }
            let w = self.waiting.swap_remove(oldest);
            self.drop_one(&w.candidate, now);
        }
        self.waiting.push(Waiting {
            candidate,
            uris,
            retries,
            due: now.checked_add(delay).unwrap_or(now),
            seq,
        });
    }

    fn drop_one(&mut self, candidate: &FailureCandidate, now: Instant) {
        self.dropped = self.dropped.saturating_add(1);
        self.unlogged_drops = self.unlogged_drops.saturating_add(1);
        let policy_domain = candidate.observation.policy_domain.as_deref().unwrap_or("");
        tracing::debug!(%policy_domain, "reports: failure report retry list full; the oldest dropped");
        if self
            .last_drop_log
            .is_none_or(|t| now.saturating_duration_since(t) >= DROP_LOG_EVERY)
        {
            tracing::warn!(
                dropped = self.unlogged_drops,
                dropped_total = self.dropped,
                capacity = self.policy.capacity,
                "reports: failure reports waiting for a DNS retry dropped (retry list full; oldest first)"
            );
            self.unlogged_drops = 0;
            self.last_drop_log = Some(now);
        }
    }

    /// When the next waiting message is due; `None` when none waits.
    pub fn next_due(&self) -> Option<Instant> {
        self.waiting.iter().map(|w| w.due).min()
    }

    /// Takes the message due first if it is due at `now`.
    pub fn take_due(&mut self, now: Instant) -> Option<Waiting> {
        let i = self
            .waiting
            .iter()
            .enumerate()
            .filter(|(_, w)| w.due <= now)
            .min_by_key(|(_, w)| (w.due, w.seq))
            .map(|(i, _)| i)?;
        Some(self.waiting.swap_remove(i))
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// True when none waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Messages dropped because the list was full, since it was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Messages given up after the last retry, since the list was made.
    pub fn given_up(&self) -> u64 {
        self.given_up
    }
}

/// Sleeps until `due`; forever when nothing is due.
pub async fn until(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
