//! accept(2) failures of one listener, logged at most once a minute (with how many were not):
//! out of file descriptors (EMFILE), a listener fails every 100 ms, and four listeners wrote
//! ~1,700 lines a minute.

use std::time::{Duration, Instant};

/// How long a listener waits after a failed accept before trying again.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How often a listener's accept failures are logged at most.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The failures of one listener (a milter socket, the metrics, the dashboard, the socketmap).
#[derive(Debug, Default)]
pub struct AcceptErrors {
    /// When a failure was last logged (kept across accepts that work: failures and accepts
    /// alternate when file descriptors run short).
    logged: Option<Instant>,
    unlogged: u64,
    /// A failure line was written whose run has not been said to end.
    run_logged: bool,
}

impl AcceptErrors {
    /// Notes a failure of `listener` (logged when a minute has passed since the last line),
    /// then waits [`ACCEPT_BACKOFF`].
    pub async fn failed(
        &mut self,
        listener: &(dyn std::fmt::Display + Sync),
        error: &std::io::Error,
    ) {
        if self.logged.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            tracing::warn!(
                %listener,
                failures_not_logged = self.unlogged,
                "accept failed: {error} (logged at most once a minute; connections wait in the kernel's backlog meanwhile)"
            );
            self.logged = Some(Instant::now());
            self.unlogged = 0;
            self.run_logged = true;
        } else {
            self.unlogged += 1;
        }
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }

    /// Notes an accept that worked: the end of a run of failures whose first line was
    /// written is logged with the count of those not logged (else it would wait for the next
    /// run's first line). The minute is kept: runs that follow within it are counted, not
    /// logged, so failures and accepts alternating write two lines a minute, not two a run.
    pub fn succeeded(&mut self, listener: &(dyn std::fmt::Display + Sync)) {
        if !self.run_logged {
            return;
        }
        tracing::info!(
            %listener,
            failures_not_logged = self.unlogged,
            "accept works again"
        );
        self.run_logged = false;
        self.unlogged = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_are_logged_once_a_minute() {
        let mut errors = AcceptErrors::default();
        let e = std::io::Error::from_raw_os_error(24);
        errors.failed(&"inet:127.0.0.1:1", &e).await;
        let first = errors.logged;
        assert!(first.is_some());
        for _ in 0..10 {
            errors.failed(&"inet:127.0.0.1:1", &e).await;
        }
        assert_eq!(errors.logged, first);
        assert_eq!(errors.unlogged, 10);
        // the run ends at the next accept that works: said with its count
        errors.succeeded(&"inet:127.0.0.1:1");
        assert_eq!(
            (errors.logged, errors.unlogged, errors.run_logged),
            (first, 0, false)
        );
        // failures and accepts alternating (file descriptors short): counted within the
        // minute, not logged once a run; the minute over, logged again with the count
        for _ in 0..20 {
            errors.failed(&"inet:127.0.0.1:1", &e).await;
            errors.succeeded(&"inet:127.0.0.1:1");
        }
        assert_eq!((errors.logged, errors.unlogged), (first, 20));
        // (the minute is read from the wall clock: moved back by hand)
        errors.logged = first.and_then(|t| t.checked_sub(LOG_EVERY));
        errors.failed(&"inet:127.0.0.1:1", &e).await;
        assert!(errors.logged > first);
        assert_eq!((errors.unlogged, errors.run_logged), (0, true));
    }
}
