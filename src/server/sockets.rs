//! Opening listening sockets: TCP, and Unix sockets with their mode, owner and group; or the
//! socket systemd passed for the same address (socket activation).

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::unistd::{Gid, Uid};
use tokio::net::{TcpListener, UnixListener};

use super::privileges::{lookup_group, lookup_user};
use crate::config::{ServerConfig, SocketSpec};
use crate::systemd::{Inherited, InheritedListener};

/// How Unix sockets we create are set up (`[server] socket_mode`, `socket_owner`,
/// `socket_group`).
#[derive(Debug, Clone, Copy)]
pub struct UnixSocketSettings {
    /// Permission bits.
    pub mode: u32,
    /// New owner, if configured.
    pub owner: Option<Uid>,
    /// New group, if configured.
    pub group: Option<Gid>,
}

impl UnixSocketSettings {
    /// Resolves the configured owner and group names; an unknown name is an error.
    pub fn from_config(cfg: &ServerConfig) -> anyhow::Result<Self> {
        let owner = match cfg.socket_owner.trim() {
            "" => None,
            name => Some(lookup_user(name).context("server.socket_owner")?.0),
        };
        let group = match cfg.socket_group.trim() {
            "" => None,
            name => Some(lookup_group(name).context("server.socket_group")?),
        };
        Ok(UnixSocketSettings {
            mode: cfg.socket_mode.0,
            owner,
            group,
        })
    }
}

/// A listening socket.
#[derive(Debug)]
pub enum Listening {
    /// TCP.
    Tcp(TcpListener),
    /// Unix; `owned` when we created the file (and so remove it at shutdown).
    Unix {
        /// The listener.
        listener: UnixListener,
        /// Its path.
        path: PathBuf,
        /// We created the file (not passed by systemd).
        owned: bool,
    },
}

/// Opens `spec`: the passed socket with that address if systemd gave one, else a new one.
pub async fn listen(
    spec: &SocketSpec,
    unix: &UnixSocketSettings,
    inherited: &mut Inherited,
) -> anyhow::Result<Listening> {
    if let Some(passed) = inherited.take(spec) {
        return Ok(match passed {
            InheritedListener::Tcp(l) => {
                l.set_nonblocking(true)?;
                Listening::Tcp(TcpListener::from_std(l)?)
            }
            InheritedListener::Unix(l) => {
                l.set_nonblocking(true)?;
                let path = match spec {
                    SocketSpec::Unix(p) => p.clone(),
                    SocketSpec::Inet { .. } => PathBuf::new(),
                };
                Listening::Unix {
                    listener: UnixListener::from_std(l)?,
                    path,
                    owned: false,
                }
            }
        });
    }
    match spec {
        SocketSpec::Inet { host, port } => Ok(Listening::Tcp(bind_tcp(host, *port).await?)),
        SocketSpec::Unix(path) => {
            let l = bind_unix(path, unix)?;
            l.set_nonblocking(true)?;
            Ok(Listening::Unix {
                listener: UnixListener::from_std(l)?,
                path: path.clone(),
                owned: true,
            })
        }
    }
}

async fn bind_tcp(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("cannot resolve {host}"))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .map(anyhow::Error::from)
        .unwrap_or_else(|| anyhow::anyhow!("{host} has no address")))
}

/// Binds a Unix socket at `path`: its directory must exist; a stale socket there is removed,
/// any other file is an error; then mode, owner and group are set.
pub fn bind_unix(
    path: &Path,
    settings: &UnixSocketSettings,
) -> anyhow::Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        bail!(
            "socket {}: the directory {} does not exist (create it, e.g. install -d -m 0750 -o authmilter -g postfix {})",
            path.display(),
            dir.display(),
            dir.display()
        );
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
        } else {
            bail!("{} exists and is not a socket", path.display());
        }
    }
    let l = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("cannot bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(settings.mode))
        .with_context(|| format!("cannot chmod {}", path.display()))?;
    if settings.owner.is_some() || settings.group.is_some() {
        std::os::unix::fs::chown(
            path,
            settings.owner.map(Uid::as_raw),
            settings.group.map(Gid::as_raw),
        )
        .with_context(|| format!("cannot chown {}", path.display()))?;
    }
    Ok(l)
}
