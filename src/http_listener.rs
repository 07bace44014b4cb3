//! One connection of the built-in HTTP listeners (`/metrics`, the dashboard): HTTP/1.1 without
//! keep-alive, a bounded request head, and one deadline for the whole exchange (RFC 9112);
//! and the slots that bound the connections served at once ([`ClientSlots`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

pub use client_slots::{ClientSlot, ClientSlots};

mod client_slots;

/// The largest request head read (request line and header fields, RFC 9112 §2.1; hyper's
/// smallest buffer).
const MAX_REQUEST_HEAD: usize = 8192;

/// Serves the one request on `stream` with `respond`, giving up after `timeout` or when a
/// newcomer takes `slot` over before the request arrived; failures are logged at debug level
/// under `what` (a client's problem, not ours). The slot is given back when this returns.
pub async fn serve_connection<F, Fut>(
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
    what: &'static str,
    slot: ClientSlot,
    respond: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Response<String>> + Send + 'static,
{
    let slot = std::sync::Arc::new(slot);
    let serving = std::sync::Arc::clone(&slot);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        // the request head is in: the slot is no longer given to a newcomer
        serving.serving();
        let answer = respond(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(false)
        .max_buf_size(MAX_REQUEST_HEAD)
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        done = tokio::time::timeout(timeout, conn) => match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(%peer, "{what}: {e}"),
            Err(_) => tracing::debug!(%peer, "{what}: request timed out"),
        },
        () = slot.taken_over() => {
            tracing::debug!(%peer, "{what}: no request yet and every slot taken: closed for a newer connection");
        }
    }
}
