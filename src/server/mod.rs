//! The milter server: listeners (TCP and Unix, several at once, each with a role), a connection
//! limit, one task per connection, and graceful shutdown.

pub mod accept_errors;
mod connection;
pub mod fd_limit;
mod listeners;
pub mod privileges;
mod responses;
pub mod sockets;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::app::App;
use crate::config::{Role, SocketSpec};
use crate::quiet_socket::QuietSocket;
use crate::services::Services;
use crate::systemd::Inherited;
use listeners::{AcceptShared, Rebind, RunningSet};
use sockets::{Listening as Bound, UnixSocketSettings};

pub use connection::{Shutdown, serve_connection};
pub use listeners::{ListenerChanges, ListenerControl};
pub use responses::{Hold, decision_responses};

/// A listener with its role.
struct Listening {
    bound: Bound,
    role: Role,
    spec: SocketSpec,
    /// Passed by systemd (socket activation): a reload cannot close or rebind it.
    passed: bool,
}

/// The bound server, ready to run.
pub struct Server {
    app: Arc<ArcSwap<App>>,
    services: Arc<Services>,
    listeners: Vec<Listening>,
    control: ListenerControl,
    rebinds: mpsc::Receiver<Rebind>,
}

/// After `shutdown_timeout`, how long connections get to send the answers of the messages
/// still being checked before the server returns.
const FINAL_ANSWERS: Duration = Duration::from_secs(2);

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
            "connection limit reached (server.max_connections = {limit}): extra milter connections are closed (a few after waiting up to 100 ms for a slot); the MTA applies its milter_default_action"
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
            // `listen` takes the passed socket for this address, if systemd gave one
            let unclaimed = inherited.len();
            let bound = sockets::listen(&l.socket, &unix, inherited)
                .await
                .with_context(|| format!("cannot listen on {}", l.socket))?;
            listeners.push(Listening {
                bound,
                role: l.role,
                spec: l.socket.clone(),
                passed: inherited.len() < unclaimed,
            });
        }
        let (control, rebinds) = ListenerControl::new(&listeners);
        Ok(Server {
            app: shared,
            services,
            listeners,
            control,
            rebinds,
        })
    }

    /// The addresses actually bound (with the real port when the config said port 0).
    pub fn local_addrs(&self) -> Vec<SocketSpec> {
        self.listeners.iter().map(Listening::local_spec).collect()
    }

    /// A handle that opens, closes and re-roles listeners while the server runs (SIGHUP).
    pub fn control(&self) -> ListenerControl {
        self.control.clone()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets open connections finish
    /// their message (up to `server.shutdown_timeout`) and returns. Meanwhile applies the
    /// listener changes sent through [`Server::control`].
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let app = self.app.load_full();
        let cfg = &app.config.server;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (out_of_time_tx, out_of_time_rx) = watch::channel(false);
        let mut set = RunningSet::new(AcceptShared {
            app: Arc::clone(&self.app),
            services: Arc::clone(&self.services),
            limit: Arc::new(Semaphore::new(cfg.max_connections)),
            waiting: Arc::new(Semaphore::new(MAX_WAITING)),
            max: cfg.max_connections,
            overload: Arc::new(Overload::default()),
            conn_stop: stop_rx,
            out_of_time: out_of_time_rx,
        });
        for l in self.listeners {
            set.start(l);
        }
        let mut rebinds = self.rebinds;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(rebind) = rebinds.recv() => {
                    set.apply(rebind).await;
                    self.control.publish(set.describe());
                }
            }
        }
        tracing::info!("shutting down: no new connections; open ones finish their message");
        // a reload from now on opens no socket (ListenerControl::apply sees the channel closed)
        rebinds.close();
        let _ = stop_tx.send(true);
        let unix_paths = set.stop_all().await;
        let grace = cfg.shutdown_timeout.get();
        let mut draining = set.draining;
        let drained = tokio::time::timeout(grace, async {
            while draining.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "shutdown: connections still open after {}; a message still being checked is answered per policy.on_error, then they are closed",
                cfg.shutdown_timeout
            );
            // the MTA gets an answer for a message whose checks are still waiting (on DNS),
            // not a closed connection: each such connection answers at once and ends
            let _ = out_of_time_tx.send(true);
            let _ = tokio::time::timeout(FINAL_ANSWERS, async {
                while draining.join_next().await.is_some() {}
            })
            .await;
        }
        for created in unix_paths {
            created.remove();
        }
        Ok(())
    }
}

impl Listening {
    /// The address bound, with the real port when the config said port 0.
    fn local_spec(&self) -> SocketSpec {
        match &self.bound {
            Bound::Tcp(t) => match t.local_addr() {
                Ok(a) => SocketSpec::Inet {
                    host: a.ip().to_string(),
                    port: a.port(),
                },
                Err(_) => self.spec.clone(),
            },
            Bound::Unix { path, .. } => SocketSpec::Unix(path.clone()),
        }
    }
}

/// Accepts connections on one listener until told to stop; returns the set of its
/// connection tasks (which go on: closing a listener only stops accepting). Over the
/// connection limit a connection is accepted and closed at once (with a rate-limited warning)
/// rather than left waiting in the kernel's queue, so the MTA gets an answer promptly. Each
/// connection takes the listener's role current when it is accepted.
/// How long a connection over `max_connections` waits for a slot before it is closed.
const SLOT_WAIT: Duration = Duration::from_millis(100);

/// How many connections over `max_connections` wait for a slot at once; more are closed at
/// once (a burst is not made to wait in turn).
pub(super) const MAX_WAITING: usize = 16;

async fn accept_loop(
    listening: Listening,
    shared: AcceptShared,
    role: watch::Receiver<Role>,
    mut stop: watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut conns = JoinSet::new();
    let mut stranger_warned: Option<Instant> = None;
    let mut accept_errors = accept_errors::AcceptErrors::default();
    loop {
        // reap finished connection tasks so the set stays small
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            a = accept(&listening.bound) => a,
            _ = stop.changed() => break,
        };
        let stream = match accepted {
            Ok(s) => {
                accept_errors.succeeded(&listening.spec);
                s
            }
            Err(e) => {
                // e.g. EMFILE: back off briefly instead of spinning
                accept_errors.failed(&listening.spec.to_string(), &e).await;
                continue;
            }
        };
        if let Accepted::Tcp(_, peer) = &stream
            && !serves(&shared.app.load(), &listening.spec, peer.ip())
        {
            // warned at most once a minute: strangers choose how often they knock
            if stranger_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                stranger_warned = Some(Instant::now());
                tracing::warn!(
                    socket = %listening.spec,
                    %peer,
                    "milter connection from an address the listener's clients do not list: closed"
                );
            }
            drop(stream);
            continue;
        }
        let role = *role.borrow();
        match Arc::clone(&shared.limit).try_acquire_owned() {
            Ok(permit) => {
                conns.spawn(serve_accepted(
                    stream,
                    permit,
                    &shared,
                    role,
                    &listening.spec,
                ));
            }
            // a connection that just ended gives its slot back when its task next runs, and
            // this loop may be draining the queue before that: the connection waits a moment
            // for a slot in a task of its own (a few at a time), the loop goes on accepting
            Err(_) => match Arc::clone(&shared.waiting).try_acquire_owned() {
                Ok(waiter) => {
                    let (shared, spec) = (shared.clone(), listening.spec.clone());
                    conns.spawn(async move {
                        let mut stop = shared.conn_stop.clone();
                        let limit = Arc::clone(&shared.limit);
                        let wait = tokio::time::timeout(SLOT_WAIT, limit.acquire_owned());
                        let slot = tokio::select! {
                            p = wait => p.ok().and_then(Result::ok),
                            _ = stop.changed() => None,
                        };
                        drop(waiter);
                        match slot {
                            Some(permit) => {
                                serve_accepted(stream, permit, &shared, role, &spec).await;
                            }
                            None => shared.refuse(),
                        }
                    });
                }
                Err(_) => shared.refuse(),
            },
        }
    }
    conns
}

/// Serves an accepted connection holding `permit` (a slot of `max_connections`), which it
/// gives back when the connection ends.
fn serve_accepted(
    stream: Accepted,
    permit: tokio::sync::OwnedSemaphorePermit,
    shared: &AcceptShared,
    role: Role,
    spec: &SocketSpec,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let (app, services, stop) = (
        shared.app.load_full(),
        Arc::clone(&shared.services),
        Shutdown {
            stop: shared.conn_stop.clone(),
            out_of_time: shared.out_of_time.clone(),
        },
    );
    let spec = spec.clone();
    async move { serve_owned(stream, permit, app, services, role, stop, &spec).await }
}

/// [`serve_accepted`] with its parts taken.
async fn serve_owned(
    stream: Accepted,
    permit: tokio::sync::OwnedSemaphorePermit,
    app: Arc<App>,
    services: Arc<Services>,
    role: Role,
    stop: Shutdown,
    spec: &SocketSpec,
) {
    let open = services.metrics.connection_opened();
    match stream {
        Accepted::Tcp(stream, peer) => {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::warn!(%peer, "cannot set TCP_NODELAY: {e}");
            }
            tracing::debug!(%peer, "milter connection");
            match QuietSocket::from_tokio_tcp(stream) {
                Ok(stream) => serve_connection(stream, app, services, role, stop).await,
                Err(e) => tracing::warn!(%peer, "cannot register the connection: {e}"),
            }
        }
        Accepted::Unix(stream) => {
            tracing::debug!(socket = %spec, "milter connection");
            match QuietSocket::from_tokio_unix(stream) {
                Ok(stream) => serve_connection(stream, app, services, role, stop).await,
                Err(e) => tracing::warn!(socket = %spec, "cannot register the connection: {e}"),
            }
        }
    }
    drop((permit, open));
}

/// Whether the listener at `spec`, as the current configuration has it, serves `peer`
/// (`[[server.listen]] clients`; a listener the configuration no longer names, kept because
/// systemd passed it, serves any).
fn serves(app: &App, spec: &SocketSpec, peer: std::net::IpAddr) -> bool {
    app.config
        .server
        .listen
        .iter()
        .find(|l| &l.socket == spec)
        .is_none_or(|l| l.serves(peer))
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

/// SIGTERM and SIGINT handlers, installed before the first listener is bound so that a
/// signal sent as soon as a port accepts or READY=1 is heard stops the milter cleanly instead
/// of killing it.
pub struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Installs both handlers (call inside the runtime, before binding the listeners).
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves when SIGTERM or SIGINT arrives.
    pub async fn recv(mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM received"),
            _ = self.int.recv() => tracing::info!("SIGINT received"),
        }
    }
}
