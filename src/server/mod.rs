//! The milter server: listeners (TCP and Unix, several at once, each with a role), a connection
//! limit, one task per connection, and graceful shutdown.

mod connection;
pub mod privileges;
mod reply;
pub mod sockets;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::app::App;
use crate::config::{Role, SocketSpec};
use crate::systemd::Inherited;
use sockets::{Listening as Bound, UnixSocketSettings};

pub use connection::serve_connection;
pub use reply::smtp_reply;

/// A listener with its role.
struct Listening {
    bound: Bound,
    role: Role,
    spec: SocketSpec,
}

/// The bound server, ready to run.
pub struct Server {
    app: Arc<ArcSwap<App>>,
    listeners: Vec<Listening>,
}

impl Server {
    /// Binds every configured listener. A stale Unix socket file is removed first.
    pub async fn bind(app: Arc<App>) -> anyhow::Result<Server> {
        Self::bind_shared(Arc::new(ArcSwap::new(app))).await
    }

    /// Like [`Server::bind`], with state that can be replaced while running (SIGHUP reload):
    /// each new connection takes the state current when it is accepted.
    pub async fn bind_shared(shared: Arc<ArcSwap<App>>) -> anyhow::Result<Server> {
        Self::bind_with(shared, &mut Inherited::none()).await
    }

    /// Like [`Server::bind_shared`], using the sockets systemd passed (socket activation) for
    /// the listeners whose address they have.
    pub async fn bind_with(
        shared: Arc<ArcSwap<App>>,
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
                Arc::clone(&limit),
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

/// Accepts connections until told to stop; returns the set of connection tasks.
async fn accept_loop(
    listening: Listening,
    app: Arc<ArcSwap<App>>,
    limit: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut conns = JoinSet::new();
    let role = listening.role;
    loop {
        // reap finished connection tasks so the set stays small
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = Arc::clone(&limit).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let accepted = tokio::select! {
            a = accept(&listening.bound) => a,
            _ = stop.changed() => break,
        };
        match accepted {
            Ok(Accepted::Tcp(stream, peer)) => {
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::warn!(%peer, "cannot set TCP_NODELAY: {e}");
                }
                tracing::debug!(%peer, "milter connection");
                let (app, stop) = (app.load_full(), stop.clone());
                conns.spawn(async move {
                    serve_connection(stream, app, role, stop).await;
                    drop(permit);
                });
            }
            Ok(Accepted::Unix(stream)) => {
                tracing::debug!(socket = %listening.spec, "milter connection");
                let (app, stop) = (app.load_full(), stop.clone());
                conns.spawn(async move {
                    serve_connection(stream, app, role, stop).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // e.g. EMFILE: back off briefly instead of spinning
                tracing::warn!(socket = %listening.spec, "accept failed: {e}");
                drop(permit);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
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
