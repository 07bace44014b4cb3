//! The runtime helper for tests of async code.

use std::future::Future;

/// Runs `future` to completion on a fresh current-thread tokio runtime with timers and I/O
/// enabled (so `MemoryResolver` latency, timeouts and sockets all work).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime")
        .block_on(future)
}
