//! One timer per connection for its waits that almost never time out: the MTA's next command,
//! a reply being written, the end-of-message checks and their PROGRESS ticks.
//!
//! `tokio::time::timeout` builds a fresh timer entry for every wait: a clone of the runtime
//! handle (an atomic count shared by every worker) and, when it is dropped, a turn on the
//! timer driver's lock even if it never fired or was never registered. A connection waits
//! three to six times a message, and almost every wait ends at once because the bytes are
//! already there. [`ConnectionTimer`] keeps one `Sleep` for the connection's life instead: a
//! wait that ends on its first poll never touches it, and a later deadline is armed only when
//! the earlier one fires (one wake-up per idle period at most, not one timer per wait).

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The longest wait a deadline is computed for (a larger configured timeout waits this long):
/// keeps `now + limit` far from the clock's end.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 86_400);

/// `limit` from now (capped at a year).
pub fn deadline_after(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit.min(LONGEST_WAIT)).unwrap_or(now)
}

/// The connection's one timer (see the module documentation).
#[derive(Debug)]
pub struct ConnectionTimer {
    sleep: Pin<Box<Sleep>>,
    /// When `sleep` fires.
    armed: Instant,
}

impl ConnectionTimer {
    /// A timer armed `limit` from now (not registered with the runtime until first waited on).
    /// Must be called inside a tokio runtime with time enabled.
    pub fn new(limit: Duration) -> Self {
        let armed = deadline_after(limit);
        ConnectionTimer {
            sleep: Box::pin(tokio::time::sleep_until(armed)),
            armed,
        }
    }

    /// Runs `fut` until it completes (`Some`) or `deadline` passes (`None`, `fut` dropped).
    /// `fut` is polled first, so a future that is ready at once never looks at the clock.
    pub async fn within<F: Future>(&mut self, deadline: Instant, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            self.poll_until(deadline, cx).map(|()| None)
        })
        .await
    }

    /// Ready once `deadline` has passed. An armed time later than `deadline` is moved back;
    /// an earlier one is left to fire and then moved on to `deadline`.
    fn poll_until(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if deadline < self.armed {
            self.arm(deadline);
        }
        loop {
            ready!(self.sleep.as_mut().poll(cx));
            if self.armed >= deadline {
                return Poll::Ready(());
            }
            self.arm(deadline);
        }
    }

    fn arm(&mut self, at: Instant) {
        self.sleep.as_mut().reset(at);
        self.armed = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits on a future that never completes, `limit` from now; the time elapsed since `start`
    /// when it gave up.
    async fn give_up_after(timer: &mut ConnectionTimer, limit: u64, start: Instant) -> Duration {
        let deadline = deadline_after(Duration::from_secs(limit));
        let r = timer.within(deadline, std::future::pending::<()>()).await;
        assert_eq!(r, None);
        start.elapsed()
    }

    /// Paused clock: a wait times out at its own deadline whatever the timer was armed for
    /// before (later: moved back; earlier: fires, then moves on), and a ready future wins.
    #[tokio::test(start_paused = true)]
    async fn each_wait_ends_at_its_own_deadline() {
        let mut timer = ConnectionTimer::new(Duration::from_secs(300));
        let start = Instant::now();
        let secs = Duration::from_secs;

        // armed for 300 s, asked for 10 s: times out at 10 s
        assert_eq!(give_up_after(&mut timer, 10, start).await, secs(10));
        // armed for 10 s (passed), asked for 60 s from now: fires, re-arms, times out at 70 s
        assert_eq!(give_up_after(&mut timer, 60, start).await, secs(70));

        // a future that completes before the deadline
        let five_seconds = tokio::time::sleep(secs(5));
        let r = timer.within(deadline_after(secs(60)), five_seconds).await;
        assert_eq!(r, Some(()));
        assert_eq!(start.elapsed(), secs(75));

        // ready at once, deadline already passed: the future still wins
        let r = timer.within(Instant::now(), async { 7 }).await;
        assert_eq!(r, Some(7));

        // a deadline in the past: times out at once
        let r = timer.within(start, std::future::pending::<()>()).await;
        assert_eq!(r, None);
        assert_eq!(start.elapsed(), secs(75));
    }
}
