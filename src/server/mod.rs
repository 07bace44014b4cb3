//! The milter server: listeners (TCP and Unix, several at once, each with a role), a connection
//! limit, one task per connection, and graceful shutdown.

mod connection;
pub mod privileges;
mod responses;
pub mod sockets;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::app::App;
use crate::config::{Role, SocketSpec};
use crate::services::Services;
use crate::systemd::Inherited;
use sockets::{Listening as Bound, UnixSocketSettings};

pub use connection::serve_connection;
pub use responses::decision_responses;

/// A listener with its role.
struct Listening {
    bound: Bound,
    role: Role,
    spec: SocketSpec,
}

/// The bound server, ready to run.
pub struct Server {
    app: Arc<ArcSwap<App>>,
    services: Arc<Services>,
    listeners: Vec<Listening>,
}

/// Counts connections refused over `max_connections` and warns at most once a minute.
#[derive(Debug, Default)]
struct Overload {
    refused: AtomicU64,
    reported: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

impl Overload {
    fn refused(&self, limit: usize) {
        let total = self
            .refused
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
            return;
        }
        *last = Some(Instant::now());
        let before = self.reported.swap(total, Ordering::Relaxed);
        tracing::warn!(
            limit,
            refused = total - before,
            "connection limit reached (server.max_connections = {limit}): extra milter connections are closed at once; the MTA applies its milter_default_action"
        );
    }
}

impl Server {
    /// Binds every configured listener. A stale Unix socket file is removed first.
    pub async fn bind(app: Arc<App>) -> anyhow::Result<Server> {
        Self::bind_shared(Arc::new(ArcSwap::new(app)), Services::none()).await
    }

    /// Like [`Server::bind`], with state that can be replaced while running (SIGHUP reload):
    /// each new connection takes the state current when it is accepted.
    pub async fn bind_shared(
        shared: Arc<ArcSwap<App>>,
        services: Arc<Services>,
    ) -> anyhow::Result<Server> {
        Self::bind_with(shared, services, &mut Inherited::none()).await
    }

    /// Like [`Server::bind_shared`], using the sockets systemd passed (socket activation) for
    /// the listeners whose address they have.
    pub async fn bind_with(
        shared: Arc<ArcSwap<App>>,
        services: Arc<Services>,
        inherited: &mut Inherited,
    ) -> anyhow::Result<Server> {
        let app = shared.load_full();
        let unix = UnixSocketSettings::from_config(&app.config.server)?;
        let mut listeners = Vec::new();
        for l in &app.config.server.listen {
            let bound = sockets::listen(&l.socket, &unix, inherited)
                .await
                .with_context(|| format!("cannot listen on {}", l.socket))?;
            listeners.push(Listening {
                bound,
                role: l.role,
                spec: l.socket.clone(),
            });
        }
        Ok(Server {
            app: shared,
            services,
            listeners,
        })
    }

    /// The addresses actually bound (with the real port when the config said port 0).
    pub fn local_addrs(&self) -> Vec<SocketSpec> {
        self.listeners
            .iter()
            .map(|l| match &l.bound {
                Bound::Tcp(t) => match t.local_addr() {
                    Ok(a) => SocketSpec::Inet {
                        host: a.ip().to_string(),
                        port: a.port(),
                    },
                    Err(_) => l.spec.clone(),
                },
                Bound::Unix { path, .. } => SocketSpec::Unix(path.clone()),
            })
            .collect()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets open connections finish
    /// their message (up to `server.shutdown_timeout`) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let app = self.app.load_full();
        let cfg = &app.config.server;
        let limit = Arc::new(Semaphore::new(cfg.max_connections));
        let overload = Arc::new(Overload::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut accepts = JoinSet::new();
        let mut unix_paths = Vec::new();
        for l in self.listeners {
            tracing::info!(socket = %l.spec, role = %l.role, "listening");
            if let Bound::Unix {
                path, owned: true, ..
            } = &l.bound
            {
                unix_paths.push(path.clone());
            }
            accepts.spawn(accept_loop(
                l,
                Arc::clone(&self.app),
                Arc::clone(&self.services),
                (
                    Arc::clone(&limit),
                    cfg.max_connections,
                    Arc::clone(&overload),
                ),
                stop_rx.clone(),
            ));
        }
        shutdown.await;
        tracing::info!("shutting down: no new connections; open ones finish their message");
        let _ = stop_tx.send(true);
        let grace = cfg.shutdown_timeout.get();
        let drained = tokio::time::timeout(grace, async {
            let mut conns = JoinSet::new();
            while let Some(joined) = accepts.join_next().await {
                if let Ok(set) = joined {
                    conns.spawn(async move {
                        let mut set = set;
                        while set.join_next().await.is_some() {}
                    });
                }
            }
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "shutdown: connections still open after {}; closing them",
                cfg.shutdown_timeout
            );
        }
        for p in unix_paths {
            let _ = std::fs::remove_file(p);
        }
        Ok(())
    }
}

/// Accepts connections until told to stop; returns the set of connection tasks. Over the
/// connection limit a connection is accepted and closed at once (with a rate-limited warning)
/// rather than left waiting in the kernel's queue, so the MTA gets an answer promptly.
async fn accept_loop(
    listening: Listening,
    app: Arc<ArcSwap<App>>,
    services: Arc<Services>,
    (limit, max, overload): (Arc<Semaphore>, usize, Arc<Overload>),
    mut stop: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut conns = JoinSet::new();
    let role = listening.role;
    loop {
        // reap finished connection tasks so the set stays small
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            a = accept(&listening.bound) => a,
            _ = stop.changed() => break,
        };
        let stream = match accepted {
            Ok(s) => s,
            Err(e) => {
                // e.g. EMFILE: back off briefly instead of spinning
                tracing::warn!(socket = %listening.spec, "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            overload.refused(max);
            drop(stream);
            continue;
        };
        let (app, services, stop) = (app.load_full(), Arc::clone(&services), stop.clone());
        match stream {
            Accepted::Tcp(stream, peer) => {
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::warn!(%peer, "cannot set TCP_NODELAY: {e}");
                }
                tracing::debug!(%peer, "milter connection");
                conns.spawn(async move {
                    serve_connection(stream, app, services, role, stop).await;
                    drop(permit);
                });
            }
            Accepted::Unix(stream) => {
                tracing::debug!(socket = %listening.spec, "milter connection");
                conns.spawn(async move {
                    serve_connection(stream, app, services, role, stop).await;
                    drop(permit);
                });
            }
        }
    }
    conns
}

enum Accepted {
    Tcp(tokio::net::TcpStream, std::net::SocketAddr),
    Unix(tokio::net::UnixStream),
}

async fn accept(bound: &Bound) -> std::io::Result<Accepted> {
    match bound {
        Bound::Tcp(l) => l.accept().await.map(|(s, a)| Accepted::Tcp(s, a)),
        Bound::Unix { listener, .. } => listener.accept().await.map(|(s, _)| Accepted::Unix(s)),
    }
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
