//! The metrics endpoint: `GET /metrics` over HTTP/1.1 (hyper's HTTP/1 server), nothing else.
//!
//! Bounds: at most [`MAX_SCRAPERS`] connections at once, [`MAX_SCRAPERS_PER_NETWORK`] of them
//! from one client address or IPv6 /64 (a newer one takes over the oldest whose request has
//! not arrived, else it is closed at once: [`ClientSlots`]), one
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
pub const MAX_SCRAPERS: usize = 32;
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
    // on a loopback address only requests naming a loopback host are answered: a page
    // elsewhere that points its own name at 127.0.0.1 (DNS rebinding) cannot read the
    // counters through a browser on this host; a remote scraper names this host's address
    let loopback_only = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    let mut scrapes = JoinSet::new();
    let mut accept_errors = crate::server::accept_errors::AcceptErrors::default();
    loop {
        while scrapes.try_join_next().is_some() {}
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                accept_errors.succeeded(&"metrics");
                a
            }
            Err(e) => {
                accept_errors.failed(&"metrics", &e).await;
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
                let answer = respond(&req, &metrics, loopback_only);
                async move { answer }
            };
            crate::http_listener::serve_connection(
                stream,
                peer,
                SCRAPE_TIMEOUT,
                "metrics",
                slot,
                respond,
            )
            .await;
        });
    }
}

/// The answer to one request.
fn respond(req: &Request<Incoming>, metrics: &Metrics, loopback_only: bool) -> Response<String> {
    if loopback_only && !names_a_loopback_host(req) {
        return plain(
            StatusCode::FORBIDDEN,
            "this endpoint answers requests for 127.0.0.1, [::1] or localhost only\n",
        );
    }
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

/// Whether the request names a loopback host (its target's authority, else its one `Host`
/// field, RFC 9112 §3.2), or none (not a browser).
fn names_a_loopback_host(req: &Request<Incoming>) -> bool {
    let mut fields = req.headers().get_all(hyper::header::HOST).iter();
    let first = fields.next();
    if fields.next().is_some() {
        return false;
    }
    let host = match req.uri().authority() {
        Some(a) => a.as_str().to_string(),
        None => match first {
            None => return true,
            Some(h) => match h.to_str() {
                Ok(h) => h.to_string(),
                Err(_) => return false,
            },
        },
    };
    host.trim()
        .parse::<hyper::http::uri::Authority>()
        .is_ok_and(|a| {
            let name = a.host();
            crate::config::is_loopback_host(name.strip_suffix('.').unwrap_or(name))
        })
}
