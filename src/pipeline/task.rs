//! Background work started early (DNS at MAIL or end of headers) and collected later.
//!
//! Most of it finishes at once: the DNS answers it needs are already in the resolver's cache.
//! [`Task::start`] therefore runs the work on the connection's own task until it first has to
//! wait, and only work still waiting (a query on the wire) becomes a runtime task. Spawning
//! every check would hand each one to the runtime's other worker thread, waking it (and on a
//! virtual machine its sleeping vCPU) several times a message for microseconds of work.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll, Waker};

use tokio::task::JoinHandle;

/// Work whose result is collected later; dropping it aborts what still runs.
#[derive(Debug)]
pub struct Task<T> {
    state: State<T>,
}

#[derive(Debug)]
enum State<T> {
    /// Finished when started (or panicked: `None`).
    Finished(Option<T>),
    /// Waiting for something, on the runtime.
    Running(JoinHandle<T>),
    /// Collected or aborted.
    Gone,
}

impl<T: Send + 'static> Task<T> {
    /// Runs `fut` now until it completes or first waits; in the second case it goes on as a
    /// runtime task.
    pub fn start(fut: impl Future<Output = T> + Send + 'static) -> Self {
        let mut fut = Box::pin(fut);
        // A waker that does nothing: if the future waits, the runtime polls it again at once
        // as a new task with its own waker (a future must accept a new waker on every poll).
        let mut cx = Context::from_waker(Waker::noop());
        let state = match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))) {
            Ok(Poll::Ready(v)) => State::Finished(Some(v)),
            Ok(Poll::Pending) => State::Running(tokio::spawn(fut)),
            Err(_) => {
                tracing::error!("background check failed: it panicked");
                State::Finished(None)
            }
        };
        Task { state }
    }

    /// Waits for the result; `None` if the work panicked or was cancelled.
    pub async fn join(mut self) -> Option<T> {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Finished(v) => v,
            State::Running(handle) => match handle.await {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::error!("background check failed: {e}");
                    None
                }
            },
            State::Gone => None,
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if let State::Running(h) = &self.state {
            h.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work that needs no waiting is done when started; work that waits runs on the runtime
    /// and is collected; a panic becomes `None` without taking the caller down.
    #[tokio::test]
    async fn finished_waiting_and_panicking_work() {
        let ready = Task::start(async { 7 });
        assert!(matches!(ready.state, State::Finished(Some(7))));
        assert_eq!(ready.join().await, Some(7));

        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let waiting = Task::start(async move { rx.await.unwrap_or(0) + 1 });
        assert!(matches!(waiting.state, State::Running(_)));
        tx.send(41).expect("receiver alive");
        assert_eq!(waiting.join().await, Some(42));

        let panicking = Task::start(async {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            1
        });
        assert_eq!(panicking.join().await, None);
    }

    /// Dropping work that still waits aborts it.
    #[tokio::test]
    async fn dropping_aborts_waiting_work() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let task = Task::start(async move {
            let _ = rx.await;
            let _ = done_tx.send(());
        });
        drop(task);
        tokio::task::yield_now().await;
        drop(tx);
        assert!(done_rx.await.is_err(), "aborted work must not finish");
    }
}
