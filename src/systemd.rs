//! systemd integration: readiness notifications (`Type=notify`, sd_notify(3): READY=1,
//! RELOADING=1, STOPPING=1) and socket activation (sd_listen_fds(3): `LISTEN_FDS`, as
//! `examples/authmilter.socket` passes them). Both are no-ops outside systemd.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use sd_notify::NotifyState;

use crate::config::SocketSpec;

/// Tells the service manager that start-up is finished (all sockets bound, privileges
/// dropped). Ignored when `NOTIFY_SOCKET` is not set.
pub fn notify_ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells the service manager that a reload (SIGHUP) began; [`notify_ready`] ends it. Carries
/// MONOTONIC_USEC, which `Type=notify-reload` (systemd 253+) requires.
pub fn notify_reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Tells the service manager that shutdown began.
pub fn notify_stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// Listening sockets passed by the service manager (socket activation), not yet claimed.
#[derive(Debug, Default)]
pub struct Inherited {
    tcp: Vec<(TcpListener, SocketAddr)>,
    unix: Vec<(UnixListener, PathBuf)>,
}

/// One passed socket, claimed for a configured listener.
#[derive(Debug)]
pub enum InheritedListener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix stream listener (its file belongs to the service manager: never removed).
    Unix(UnixListener),
}

impl Inherited {
    /// No passed sockets.
    pub fn none() -> Self {
        Self::default()
    }

    /// Takes the sockets named by `LISTEN_FDS` (when `LISTEN_PID` is ours or unset), and
    /// clears those variables so children do not see them. Call before any thread starts.
    pub fn from_env() -> anyhow::Result<Self> {
        let mut fds = listenfd::ListenFd::from_env();
        let mut out = Inherited::default();
        for i in 0..fds.len() {
            if let Ok(Some(l)) = fds.take_tcp_listener(i) {
                let addr = l.local_addr()?;
                out.tcp.push((l, addr));
            } else if let Ok(Some(l)) = fds.take_unix_listener(i) {
                let path = l
                    .local_addr()?
                    .as_pathname()
                    .map(PathBuf::from)
                    .unwrap_or_default();
                out.unix.push((l, path));
            } else {
                anyhow::bail!(
                    "socket activation: passed descriptor {} is not a listening TCP or Unix stream socket",
                    i + 3
                );
            }
        }
        Ok(out)
    }

    /// How many passed sockets are not claimed yet.
    pub fn len(&self) -> usize {
        self.tcp.len() + self.unix.len()
    }

    /// True when no passed socket is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when systemd passed a Unix socket at `path` (it is not created, so not chowned).
    pub fn passes_unix(&self, path: &std::path::Path) -> bool {
        self.unix.iter().any(|(_, p)| p == path)
    }

    /// The passed socket bound to `spec`'s address, if there is one.
    pub fn take(&mut self, spec: &SocketSpec) -> Option<InheritedListener> {
        match spec {
            SocketSpec::Unix(path) => {
                let i = self.unix.iter().position(|(_, p)| p == path)?;
                Some(InheritedListener::Unix(self.unix.swap_remove(i).0))
            }
            SocketSpec::Inet { host, port } => {
                let wanted: Vec<SocketAddr> = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map(|a| a.collect())
                    .unwrap_or_default();
                let i = self.tcp.iter().position(|(_, a)| wanted.contains(a))?;
                Some(InheritedListener::Tcp(self.tcp.swap_remove(i).0))
            }
        }
    }

    /// The addresses of passed sockets no listener claimed (for a warning).
    pub fn unclaimed(&self) -> Vec<String> {
        self.tcp
            .iter()
            .map(|(_, a)| a.to_string())
            .chain(self.unix.iter().map(|(_, p)| p.display().to_string()))
            .collect()
    }
}
