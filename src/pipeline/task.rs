//! Background work started early (DNS at MAIL or end of headers) and collected later.

use std::future::Future;

use tokio::task::JoinHandle;

/// A spawned task whose result is collected later; dropping it aborts the work.
#[derive(Debug)]
pub struct Task<T> {
    handle: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> Task<T> {
    /// Starts `fut` on the runtime now.
    pub fn spawn(fut: impl Future<Output = T> + Send + 'static) -> Self {
        Task {
            handle: Some(tokio::spawn(fut)),
        }
    }

    /// Waits for the result; `None` if the task panicked or was cancelled.
    pub async fn join(mut self) -> Option<T> {
        let handle = self.handle.take()?;
        match handle.await {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!("background check failed: {e}");
                None
            }
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}
