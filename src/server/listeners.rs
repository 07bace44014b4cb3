//! The running listeners and their changes on SIGHUP (docs/configuration.md, "Listeners on
//! reload"): unchanged ones keep their socket, a changed role applies to connections accepted
//! from then on, new sockets are opened (all or none, by the reloader, before anything
//! changes), removed ones stop accepting while their connections finish. Sockets systemd
//! passed are never closed by a reload.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::sockets::{self, CreatedSocket, Listening as Bound, UnixSocketSettings};
use super::{Listening, Overload, accept_loop};
use crate::app::App;
use crate::config::{Listener, Role, SocketSpec};
use crate::services::Services;
use crate::systemd::Inherited;

/// What every accept loop shares.
#[derive(Clone)]
pub(super) struct AcceptShared {
    pub(super) app: Arc<ArcSwap<App>>,
    pub(super) services: Arc<Services>,
    pub(super) limit: Arc<Semaphore>,
    /// Connections over the limit waiting a moment for a slot ([`super::MAX_WAITING`]).
    pub(super) waiting: Arc<Semaphore>,
    pub(super) max: usize,
    pub(super) overload: Arc<Overload>,
    /// Tells connections to finish at shutdown (never when only their listener closes).
    pub(super) conn_stop: watch::Receiver<bool>,
    /// Tells them `shutdown_timeout` has passed: answer the message being checked now.
    pub(super) out_of_time: watch::Receiver<bool>,
}

impl AcceptShared {
    /// A connection over `max_connections` is closed: counted, and warned of at most once
    /// a minute.
    pub(super) fn refuse(&self) {
        self.overload.refused(self.max);
        self.services.metrics.connection_refused();
    }
}

/// One listener being served.
struct Running {
    spec: SocketSpec,
    passed: bool,
    role: watch::Sender<Role>,
    stop: watch::Sender<bool>,
    /// The accept loop; it hands back its connection tasks when stopped.
    task: JoinHandle<JoinSet<()>>,
    /// A Unix socket file we created (removed when the listener closes).
    created: Option<CreatedSocket>,
}

/// Every listener being served, and the connections of closed ones still finishing.
pub(super) struct RunningSet {
    pub(super) accept: AcceptShared,
    running: Vec<Running>,
    pub(super) draining: JoinSet<()>,
}

/// A change sent to the running server: the listeners to serve (socket and role) and the
/// newly opened sockets among them.
pub(super) struct Rebind {
    set: Vec<(SocketSpec, Role)>,
    opened: Vec<Listening>,
    done: oneshot::Sender<()>,
}

/// What a listener is, as the reloader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Described {
    spec: SocketSpec,
    role: Role,
    passed: bool,
}

impl RunningSet {
    /// An empty set serving with `accept`.
    pub(super) fn new(accept: AcceptShared) -> Self {
        RunningSet {
            accept,
            running: Vec::new(),
            draining: JoinSet::new(),
        }
    }

    /// Starts accepting on `l`.
    pub(super) fn start(&mut self, l: Listening) {
        tracing::info!(socket = %l.spec, role = %l.role, "listening");
        let (role_tx, role_rx) = watch::channel(l.role);
        let (stop_tx, stop_rx) = watch::channel(false);
        let created = match &l.bound {
            Bound::Unix { created, .. } => created.clone(),
            Bound::Tcp(_) => None,
        };
        let (spec, passed) = (l.spec.clone(), l.passed);
        let task = tokio::spawn(accept_loop(l, self.accept.clone(), role_rx, stop_rx));
        self.running.push(Running {
            spec,
            passed,
            role: role_tx,
            stop: stop_tx,
            task,
            created,
        });
    }

    /// Switches to `rebind.set`: new roles, removed listeners closed, opened ones started.
    pub(super) async fn apply(&mut self, rebind: Rebind) {
        let Rebind { set, opened, done } = rebind;
        let mut kept = Vec::new();
        for r in std::mem::take(&mut self.running) {
            match set.iter().find(|(spec, _)| *spec == r.spec) {
                Some((_, role)) => {
                    if *r.role.borrow() != *role {
                        tracing::info!(socket = %r.spec, role = %role, "listener role changed (for new connections)");
                        r.role.send_replace(*role);
                    }
                    kept.push(r);
                }
                None => {
                    let spec = r.spec.clone();
                    self.close(r).await;
                    tracing::info!(socket = %spec, "stopped listening (open connections finish)");
                }
            }
        }
        self.running = kept;
        for l in opened {
            self.start(l);
        }
        let _ = done.send(());
    }

    /// Stops one accept loop and keeps its connections running until they end.
    async fn close(&mut self, r: Running) {
        let _ = r.stop.send(true);
        if let Ok(conns) = r.task.await {
            self.draining.spawn(drain(conns));
        }
        if let Some(c) = r.created {
            c.remove();
        }
    }

    /// Stops every accept loop (shutdown); returns the Unix socket files to remove once the
    /// connections are done.
    pub(super) async fn stop_all(&mut self) -> Vec<CreatedSocket> {
        let mut paths = Vec::new();
        for r in std::mem::take(&mut self.running) {
            let _ = r.stop.send(true);
            if let Ok(conns) = r.task.await {
                self.draining.spawn(drain(conns));
            }
            paths.extend(r.created);
        }
        paths
    }

    /// What is served now.
    pub(super) fn describe(&self) -> Vec<Described> {
        self.running
            .iter()
            .map(|r| Described {
                spec: r.spec.clone(),
                role: *r.role.borrow(),
                passed: r.passed,
            })
            .collect()
    }
}

async fn drain(mut conns: JoinSet<()>) {
    while conns.join_next().await.is_some() {}
}

/// Changes the running server's listeners (see the module docs); cheap to clone.
#[derive(Debug, Clone)]
pub struct ListenerControl {
    tx: mpsc::Sender<Rebind>,
    running: Arc<Mutex<Vec<Described>>>,
}

/// What [`ListenerControl::apply`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenerChanges {
    /// Sockets opened.
    pub opened: Vec<SocketSpec>,
    /// Sockets closed (their connections finish).
    pub closed: Vec<SocketSpec>,
    /// Listeners kept with a new role.
    pub new_roles: Vec<(SocketSpec, Role)>,
    /// Sockets systemd passed that the new file no longer lists: kept open.
    pub kept_passed: Vec<SocketSpec>,
    /// The listeners now served, as configuration.
    pub now: Vec<Listener>,
}

impl ListenerChanges {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty()
            && self.closed.is_empty()
            && self.new_roles.is_empty()
            && self.kept_passed.is_empty()
    }
}

impl ListenerControl {
    /// A control for `listeners`, and the receiving end the server reads.
    pub(super) fn new(listeners: &[Listening]) -> (Self, mpsc::Receiver<Rebind>) {
        let (tx, rx) = mpsc::channel(1);
        let described = listeners
            .iter()
            .map(|l| Described {
                spec: l.spec.clone(),
                role: l.role,
                passed: l.passed,
            })
            .collect();
        (
            ListenerControl {
                tx,
                running: Arc::new(Mutex::new(described)),
            },
            rx,
        )
    }

    /// Records what the server serves now.
    pub(super) fn publish(&self, now: Vec<Described>) {
        if let Ok(mut r) = self.running.lock() {
            *r = now;
        }
    }

    /// Makes the server serve `wanted`: opens the new sockets first (all, or none and an
    /// error naming the one that failed, the running set untouched), then has the server
    /// close the removed ones and set new roles, and returns once it has. A socket systemd
    /// passed is kept even when `wanted` drops it.
    pub async fn apply(
        &self,
        wanted: &[Listener],
        unix: &UnixSocketSettings,
    ) -> anyhow::Result<ListenerChanges> {
        // shutting down: no new socket, which nothing would ever serve
        if self.tx.is_closed() {
            anyhow::bail!("the server is shutting down");
        }
        let running = self.running.lock().map(|r| r.clone()).unwrap_or_default();
        let mut changes = ListenerChanges::default();
        let mut set: Vec<(SocketSpec, Role)> =
            wanted.iter().map(|l| (l.socket.clone(), l.role)).collect();
        for r in &running {
            match wanted.iter().find(|w| w.socket == r.spec) {
                Some(w) if w.role != r.role => changes.new_roles.push((r.spec.clone(), w.role)),
                Some(_) => {}
                None if r.passed => {
                    changes.kept_passed.push(r.spec.clone());
                    set.push((r.spec.clone(), r.role));
                }
                None => changes.closed.push(r.spec.clone()),
            }
        }
        let mut opened = Vec::new();
        for w in wanted
            .iter()
            .filter(|w| running.iter().all(|r| r.spec != w.socket))
        {
            match sockets::listen(&w.socket, unix, &mut Inherited::none()).await {
                Ok(bound) => opened.push(Listening {
                    bound,
                    role: w.role,
                    spec: w.socket.clone(),
                    passed: false,
                }),
                Err(e) => {
                    discard(opened);
                    return Err(e.context(format!("cannot listen on {}", w.socket)));
                }
            }
        }
        changes.opened = opened.iter().map(|l| l.spec.clone()).collect();
        changes.now = set
            .iter()
            .map(|(socket, role)| Listener {
                socket: socket.clone(),
                role: *role,
                clients: wanted
                    .iter()
                    .find(|w| &w.socket == socket)
                    .map(|w| w.clients.clone())
                    .unwrap_or_default(),
            })
            .collect();
        if opened.is_empty() && changes.closed.is_empty() && changes.new_roles.is_empty() {
            return Ok(changes);
        }
        let (done, finished) = oneshot::channel();
        let rebind = Rebind { set, opened, done };
        if let Err(refused) = self.tx.send(rebind).await {
            discard(refused.0.opened);
            anyhow::bail!("the server is shutting down");
        }
        finished
            .await
            .map_err(|_| anyhow::anyhow!("the server is shutting down"))?;
        Ok(changes)
    }
}

/// Closes sockets opened for a change that does not happen (removing Unix socket files).
fn discard(opened: Vec<Listening>) {
    for l in opened {
        if let Bound::Unix {
            created: Some(c), ..
        } = &l.bound
        {
            c.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(socket: &str, role: Role) -> Listener {
        Listener {
            socket: socket.parse().unwrap(),
            role,
            clients: Vec::new(),
        }
    }

    /// A socket systemd passed is kept when the new file drops it; a role change and a new
    /// socket go to the server in one change.
    #[tokio::test]
    async fn a_passed_socket_is_kept_and_new_ones_are_opened() {
        let passed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        passed.set_nonblocking(true).unwrap();
        let port = passed.local_addr().unwrap().port();
        let passed_spec: SocketSpec = format!("inet:127.0.0.1:{port}").parse().unwrap();
        let running = [Listening {
            bound: Bound::Tcp(tokio::net::TcpListener::from_std(passed).unwrap()),
            role: Role::Verify,
            spec: passed_spec.clone(),
            passed: true,
        }];
        let (control, mut rx) = ListenerControl::new(&running);
        let unix = UnixSocketSettings {
            mode: 0o660,
            owner: None,
            group: None,
        };
        let wanted = [listener("inet:127.0.0.1:0", Role::Sign)];
        let server = tokio::spawn(async move {
            let rebind = rx.recv().await.unwrap();
            let got = (rebind.set.clone(), rebind.opened.len());
            let _ = rebind.done.send(());
            got
        });
        let changes = control.apply(&wanted, &unix).await.unwrap();
        assert_eq!(changes.kept_passed, std::slice::from_ref(&passed_spec));
        assert!(changes.closed.is_empty());
        assert_eq!(changes.opened.len(), 1);
        assert_eq!(changes.now.len(), 2);
        let (set, opened) = server.await.unwrap();
        assert_eq!(opened, 1);
        assert!(set.contains(&(passed_spec, Role::Verify)), "{set:?}");

        // nothing to change: the server is not asked
        let (control, _rx) = ListenerControl::new(&[]);
        let changes = control.apply(&[], &unix).await.unwrap();
        assert!(changes.is_empty());
    }
}
