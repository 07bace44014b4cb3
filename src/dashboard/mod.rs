//! The dashboard (`[dashboard] listen`, docs/dashboard.md): server-rendered pages over the
//! report store, served by `authmilter serve` over HTTP/1.1 (hyper's HTTP/1 server).
//!
//! - `/`: the policy domains others sent reports for, with the period's messages and DMARC
//!   pass rate; `/domain/<name>`: messages by result per day (an inline SVG chart), the
//!   sources that sent as the domain, failing first, with their reverse DNS names, reporters
//!   and SPF/DKIM/DMARC pass rates aligned or not, the DKIM selectors seen, the reporters;
//!   `/outbound`: what we recorded and the reports we sent. `?days=N&until=YYYY-MM-DD`
//!   chooses the period (default: the last 30 days).
//! - Access: with `token_file` every request needs the token (`Authorization: Bearer`, or as
//!   the basic-auth password); without it only loopback clients are answered (the
//!   configuration allows no token only on a loopback address), and then only for a `Host`
//!   naming the loopback address (no DNS rebinding, [`Access::allows_host`]). Otherwise `401`
//!   (`403` for another host).
//! - Pages need nothing from elsewhere: no scripts, styles inline, the chart inline SVG; a
//!   Content-Security-Policy of `default-src 'none'` makes the browser refuse anything else.
//! - Bounds: [`MAX_CLIENTS`] connections at once, [`MAX_CLIENTS_PER_NETWORK`] of them from one
//!   client address or IPv6 /64 (more are closed), a request head of at most
//!   8 KiB read within [`REQUEST_TIMEOUT`], the whole exchange within the same limit; request
//!   bodies are never read. The store's queries run on its read connection; pages are made
//!   one at a time, first come first served, and a request cut off at its time limit runs no
//!   query it has not started. Slots bound one address: clients from many addresses can
//!   still hold all of them, so a dashboard reachable from the internet belongs behind a
//!   reverse proxy.
//! - Reload: `serve` keeps the [`Dashboard`] in a watch channel; [`Dashboard::rebind`] opens a
//!   new address (or keeps the socket when only the token changed) and [`serve`] switches to
//!   it for the connections it accepts next.

mod chart;
mod pages;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use report_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::http_listener::ClientSlots;

/// Connections served at once.
pub const MAX_CLIENTS: usize = 64;
/// Connections served at once from one client address (an IPv6 /64): a client that never
/// finishes its requests cannot hold every slot (clients on 16 addresses can).
pub const MAX_CLIENTS_PER_NETWORK: usize = 4;
/// Time for one whole request: reading it, the queries, writing the page.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Who may read the pages.
#[derive(Clone)]
pub struct Access {
    token: Option<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Access {
    /// From `[dashboard] token_file` (read and checked now): `config check` and `serve` both
    /// call this.
    pub fn from_config(config: &Config) -> anyhow::Result<Access> {
        let path = &config.dashboard.token_file;
        if path.as_os_str().is_empty() {
            return Ok(Access { token: None });
        }
        Ok(Access {
            token: Some(read_token(path)?),
        })
    }

    /// Whether a request from `peer` with these headers may read the pages.
    pub fn allows(&self, peer: SocketAddr, authorization: Option<&HeaderValue>) -> bool {
        let Some(token) = &self.token else {
            return peer.ip().to_canonical().is_loopback();
        };
        let Some(value) = authorization.and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        let offered = if scheme.eq_ignore_ascii_case("bearer") {
            rest.trim().as_bytes().to_vec()
        } else if scheme.eq_ignore_ascii_case("basic") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
                return false;
            };
            match decoded.iter().position(|&b| b == b':') {
                Some(i) => decoded.get(i + 1..).unwrap_or_default().to_vec(),
                None => return false,
            }
        } else {
            return false;
        };
        same(&offered, token.as_bytes())
    }

    /// Whether the host a request names (its target's authority, else `Host`, RFC 9112
    /// §3.2) may be answered: with a token any; without one only the loopback address
    /// (`127.0.0.0/8`, `[::1]`, `localhost`, any port) or none (not a browser), so that a page
    /// elsewhere that points its own name at 127.0.0.1 (DNS rebinding) cannot read the
    /// pages through its visitor's browser.
    pub fn allows_host(&self, host: Option<&str>) -> bool {
        if self.token.is_some() {
            return true;
        }
        let Some(host) = host else {
            return true;
        };
        let Ok(authority) = host.trim().parse::<hyper::http::uri::Authority>() else {
            return false;
        };
        let name = authority.host();
        crate::config::is_loopback_host(name.strip_suffix('.').unwrap_or(name))
    }
}

/// Compares without stopping at the first difference (the length is not secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token in `path`: its first line, trimmed; at least 16 characters; the file must not
/// be readable by others.
fn read_token(path: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .with_context(|| format!("dashboard.token_file: cannot read {shown}"))?;
    if meta.permissions().mode() & 0o004 != 0 {
        anyhow::bail!(
            "dashboard.token_file: {shown} is readable by every user; chmod o-r (e.g. 0640, owned by the service user)"
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("dashboard.token_file: cannot read {shown}"))?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    if token.len() < 16 || token.contains(|c: char| c.is_control()) {
        anyhow::bail!(
            "dashboard.token_file: {shown} must hold a token of at least 16 printable characters on its first line (e.g. from `openssl rand -hex 24`)"
        );
    }
    Ok(token)
}

/// The bound dashboard: its socket and who may read the pages.
#[derive(Debug, Clone)]
pub struct Dashboard {
    listener: Arc<TcpListener>,
    addr: SocketAddr,
    access: Access,
}

impl Dashboard {
    /// Whether `other` asks for the same token (a reload that rotated the token file's
    /// contents changes no setting, and says so).
    pub fn same_token(&self, other: &Dashboard) -> bool {
        match (&self.access.token, &other.access.token) {
            (Some(a), Some(b)) => same(a.as_bytes(), b.as_bytes()),
            (None, None) => true,
            _ => false,
        }
    }

    /// Binds `[dashboard] listen` (before privileges are dropped); `None` when it is off.
    pub async fn bind(config: &Config) -> anyhow::Result<Option<Dashboard>> {
        Self::rebind(config, None).await
    }

    /// The dashboard `config` asks for, keeping the socket of `running` when the address is
    /// the same (only the token changed); `None` when it is off. Reads the token file now.
    pub async fn rebind(
        config: &Config,
        running: Option<&Dashboard>,
    ) -> anyhow::Result<Option<Dashboard>> {
        let Some(addr) = config.dashboard.listen.0 else {
            return Ok(None);
        };
        let access = Access::from_config(config)?;
        if let Some(r) = running.filter(|r| r.addr == addr) {
            return Ok(Some(Dashboard {
                listener: Arc::clone(&r.listener),
                addr,
                access,
            }));
        }
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("dashboard.listen: cannot listen on {addr}"))?;
        // port 0 in tests and benchmarks: the port the system chose
        let addr = listener.local_addr().unwrap_or(addr);
        Ok(Some(Dashboard {
            listener: Arc::new(listener),
            addr,
            access,
        }))
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Serves the pages of the dashboard `current` holds (none: nothing listens) until `stop`
/// fires; a new value (a reload) replaces the socket and the token for connections accepted
/// from then on, the old socket closes once its connections are done. Until the store is open
/// every page says so (503).
pub async fn serve(
    mut current: watch::Receiver<Option<Dashboard>>,
    store: watch::Receiver<Option<Store>>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = ClientSlots::new(MAX_CLIENTS, MAX_CLIENTS_PER_NETWORK);
    // pages are made one at a time, first come first served: a page's reads grow with the
    // records of its period, and many made at once would all run out of time together
    let page_turns = Arc::new(tokio::sync::Semaphore::new(1));
    let mut clients = JoinSet::new();
    let mut accept_errors = crate::server::accept_errors::AcceptErrors::default();
    loop {
        while clients.try_join_next().is_some() {}
        let Some(dashboard) = current.borrow_and_update().clone() else {
            tokio::select! {
                c = current.changed() => if c.is_err() { break },
                _ = stop.changed() => break,
            }
            continue;
        };
        let accepted = tokio::select! {
            a = dashboard.listener.accept() => a,
            c = current.changed() => {
                if c.is_err() {
                    break;
                }
                continue;
            }
            _ = stop.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                accept_errors.succeeded(&"dashboard");
                a
            }
            Err(e) => {
                accept_errors.failed(&"dashboard", &e).await;
                continue;
            }
        };
        let Some(slot) = slots.try_take(peer.ip()) else {
            tracing::debug!(%peer, "dashboard: too many clients at once; connection closed");
            continue;
        };
        let (access, store, turns) = (dashboard.access.clone(), store.clone(), page_turns.clone());
        clients.spawn(async move {
            let respond = move |req: Request<Incoming>| {
                let (access, store, turns) =
                    (access.clone(), store.borrow().clone(), turns.clone());
                async move { respond(req, peer, &access, store, &turns).await }
            };
            crate::http_listener::serve_connection(
                stream,
                peer,
                REQUEST_TIMEOUT,
                "dashboard",
                slot,
                respond,
            )
            .await;
        });
    }
}

/// The host a request names: its target's authority, else its `Host` field (RFC 9112 §3.2;
/// a value that is not text stands as U+FFFD, which no check accepts). `None` when it has
/// several `Host` fields, which RFC 9112 §3.2 answers with 400 (a proxy and we could read
/// different ones).
fn requested_host<'r>(
    uri: &'r hyper::Uri,
    headers: &'r hyper::HeaderMap,
) -> Option<Option<&'r str>> {
    let mut fields = headers.get_all(hyper::header::HOST).iter();
    let first = fields.next();
    if fields.next().is_some() {
        return None;
    }
    Some(match uri.authority() {
        Some(a) => Some(a.as_str()),
        None => first.map(|h| h.to_str().unwrap_or("\u{fffd}")),
    })
}

/// The answer to one request.
async fn respond(
    req: Request<Incoming>,
    peer: SocketAddr,
    access: &Access,
    store: Option<Store>,
    page_turns: &tokio::sync::Semaphore,
) -> Response<String> {
    if !access.allows(peer, req.headers().get(AUTHORIZATION)) {
        let mut r = pages::plain(StatusCode::UNAUTHORIZED, "a token is required\n");
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"authmilter dashboard\", charset=\"UTF-8\""),
        );
        return r;
    }
    let Some(host) = requested_host(req.uri(), req.headers()) else {
        return pages::plain(StatusCode::BAD_REQUEST, "more than one Host header field\n");
    };
    if !access.allows_host(host) {
        return pages::plain(
            StatusCode::FORBIDDEN,
            "without a token only requests for 127.0.0.1, [::1] or localhost are answered\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = pages::plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        r.headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let Some(store) = store else {
        return pages::plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the report store is not open yet\n",
        );
    };
    let Ok(_turn) = page_turns.acquire().await else {
        return pages::plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    };
    pages::page(
        &store,
        req.uri().path(),
        req.uri().query(),
        crate::reports::unix_now(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access() {
        let loopback: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.2:5000".parse().unwrap();
        let open = Access { token: None };
        assert!(open.allows(loopback, None));
        assert!(open.allows(mapped, None));
        assert!(!open.allows(remote, None));
        let t = Access {
            token: Some("0123456789abcdef".into()),
        };
        let h = |v: &str| HeaderValue::from_str(v).unwrap();
        let basic = |user_pass: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(user_pass)
            )
        };
        for peer in [loopback, remote] {
            assert!(!t.allows(peer, None));
            assert!(t.allows(peer, Some(&h("Bearer 0123456789abcdef"))));
            assert!(t.allows(peer, Some(&h("bearer  0123456789abcdef "))));
            assert!(t.allows(peer, Some(&h(&basic("admin:0123456789abcdef")))));
            assert!(t.allows(peer, Some(&h(&basic(":0123456789abcdef")))));
            for bad in [
                "Bearer 0123456789abcdeF",
                "Bearer 0123456789abcde",
                "Token 0123456789abcdef",
                "0123456789abcdef",
                "Basic !!!",
            ] {
                assert!(!t.allows(peer, Some(&h(bad))), "{bad}");
            }
            assert!(!t.allows(peer, Some(&h(&basic("0123456789abcdef")))));
            assert!(!t.allows(peer, Some(&h(&basic("admin:wrong")))));
        }
    }

    /// RFC 9112 §3.2: one Host field at most; the target's authority wins over it.
    #[test]
    fn a_request_names_one_host() {
        let uri = |s: &str| s.parse::<hyper::Uri>().unwrap();
        let mut headers = hyper::HeaderMap::new();
        assert_eq!(requested_host(&uri("/"), &headers), Some(None));
        headers.append(hyper::header::HOST, HeaderValue::from_static("localhost"));
        assert_eq!(requested_host(&uri("/"), &headers), Some(Some("localhost")));
        assert_eq!(
            requested_host(&uri("http://127.0.0.1:9852/"), &headers),
            Some(Some("127.0.0.1:9852"))
        );
        headers.append(
            hyper::header::HOST,
            HeaderValue::from_static("evil.example"),
        );
        assert_eq!(requested_host(&uri("/"), &headers), None);
    }

    #[test]
    fn without_a_token_only_loopback_hosts_are_answered() {
        let open = Access { token: None };
        for good in [
            None,
            Some("127.0.0.1:9852"),
            Some("127.0.0.1"),
            Some("[::1]:9852"),
            Some("localhost:9852"),
            Some("LOCALHOST"),
            Some("localhost."),
            Some("127.1.2.3:80"),
            Some("[::ffff:127.0.0.1]:9852"),
        ] {
            assert!(open.allows_host(good), "{good:?}");
        }
        // DNS rebinding: the browser names the attacker's host, the socket is loopback
        for bad in [
            "attacker.example:9852",
            "attacker.example",
            "127.0.0.1.attacker.example:9852",
            "localhost.attacker.example",
            "192.0.2.1:9852",
            "",
            "\u{fffd}",
            "a b",
        ] {
            assert!(!open.allows_host(Some(bad)), "{bad:?}");
        }
        let t = Access {
            token: Some("0123456789abcdef".into()),
        };
        assert!(t.allows_host(Some("dashboard.example.com")));
    }

    #[test]
    fn token_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(read_token(&p).unwrap(), "0123456789abcdef0123");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            read_token(&p)
                .unwrap_err()
                .to_string()
                .contains("readable by every user")
        );
        std::fs::write(&p, "short\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            read_token(&p)
                .unwrap_err()
                .to_string()
                .contains("at least 16")
        );
        assert!(read_token(&dir.path().join("missing")).is_err());
    }
}
