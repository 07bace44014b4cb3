//! The metrics endpoint: `GET /metrics` over HTTP/1.1 (hyper's HTTP/1 server), nothing else.
//!
//! Bounds: at most [`MAX_SCRAPERS`] connections at once, [`MAX_SCRAPERS_PER_NETWORK`] of them
//! from one client address or IPv6 /64 (more are closed at once), one
//! request per connection, a request head of at most 8 KiB read within
//! [`SCRAPE_TIMEOUT`], and the whole exchange within the same limit; a request body is never
//! read. Any other path is 404, any other method 405. The answer is the Prometheus text
//! format, or OpenMetrics when the scraper's `Accept` asks for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Metrics;
use crate::http_listener::ClientSlots;

/// Scrape connections served at once.
pub const MAX_SCRAPERS: usize = 8;
/// Scrape connections served at once from one client address (an IPv6 /64).
pub const MAX_SCRAPERS_PER_NETWORK: usize = 4;
/// Time for one whole scrape: reading the request, encoding, writing the answer.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

const PROMETHEUS_TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds the metrics address (before privileges are dropped).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("metrics.listen: cannot listen on {addr}"))
}

/// Serves scrapes on `listener` until `stop` fires.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let slots = ClientSlots::new(MAX_SCRAPERS, MAX_SCRAPERS_PER_NETWORK);
    let mut scrapes = JoinSet::new();
    loop {
        while scrapes.try_join_next().is_some() {}
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = slots.try_take(peer.ip()) else {
            tracing::debug!(%peer, "metrics: too many scrapes at once; connection closed");
            continue;
        };
        let metrics = Arc::clone(&metrics);
        scrapes.spawn(async move {
            let respond = move |req: Request<Incoming>| {
                let answer = respond(&req, &metrics);
                async move { answer }
            };
            crate::http_listener::serve_connection(
                stream,
                peer,
                SCRAPE_TIMEOUT,
                "metrics",
                respond,
            )
            .await;
            drop(slot);
        });
    }
}

/// The answer to one request.
fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<String> {
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "only /metrics is served here\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let openmetrics = req.headers().get_all(ACCEPT).iter().any(|v| {
        v.as_bytes()
            .windows(20)
            .any(|w| w == b"application/openmetr")
    });
    let (body, content_type) = if openmetrics {
        (metrics.encode_openmetrics(), OPENMETRICS_TEXT)
    } else {
        (metrics.encode_prometheus(), PROMETHEUS_TEXT)
    };
    match body {
        Ok(text) => {
            let mut r = Response::new(text);
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            r
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n"),
    }
}

fn plain(status: StatusCode, text: &str) -> Response<String> {
    let mut r = Response::new(text.to_string());
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
