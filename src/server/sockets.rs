//! Opening listening sockets: TCP, and Unix sockets with their mode, owner and group; or the
//! socket systemd passed for the same address (socket activation).

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
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

    /// Whether this process may give its Unix sockets the configured owner and group (chown,
    /// POSIX: root may; another user only keeps itself as owner and picks one of its own
    /// groups). Run by the preflight, so `config check` and `serve` refuse before binding.
    pub fn check_chown(&self, cfg: &ServerConfig) -> anyhow::Result<()> {
        let euid = nix::unistd::geteuid();
        if euid.is_root() {
            return Ok(());
        }
        if let Some(owner) = self.owner.filter(|o| *o != euid) {
            bail!(
                "server.socket_owner = {:?}: only root can give a socket to another user (running as uid {euid}, not {owner})",
                cfg.socket_owner.trim()
            );
        }
        if let Some(group) = self.group {
            let mine = nix::unistd::getegid() == group
                || nix::unistd::getgroups().is_ok_and(|g| g.contains(&group));
            if !mine {
                bail!(
                    "server.socket_group = {:?}: running as uid {euid}, not root, and not in group {group}",
                    cfg.socket_group.trim()
                );
            }
        }
        Ok(())
    }
}

/// A listening socket.
#[derive(Debug)]
pub enum Listening {
    /// TCP.
    Tcp(TcpListener),
    /// Unix; `created` when we created the file (and so remove it at shutdown).
    Unix {
        /// The listener.
        listener: UnixListener,
        /// Its path.
        path: PathBuf,
        /// The file we created (`None`: passed by systemd).
        created: Option<CreatedSocket>,
    },
}

/// A Unix socket file we created: its path and identity, so that only that file is removed.
#[derive(Debug, Clone)]
pub struct CreatedSocket {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl CreatedSocket {
    /// Removes the file, unless what is at the path now is another file (say, the socket of
    /// a process started after ours was deleted).
    pub fn remove(&self) {
        let Ok(now) = std::fs::symlink_metadata(&self.path) else {
            return;
        };
        if now.dev() == self.dev && now.ino() == self.ino {
            if let Err(e) = std::fs::remove_file(&self.path) {
                // after dropping root the directory may no longer be ours to change: the next
                // start removes the stale file; say so rather than leave it unexplained
                tracing::warn!(
                    socket = %self.path.display(),
                    error = %e,
                    "could not remove the socket file (the next start removes it); let authmilter's user write its directory"
                );
            }
        } else {
            tracing::info!(socket = %self.path.display(), "the socket file was replaced by another; left in place");
        }
    }
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
                    created: None,
                }
            }
        });
    }
    match spec {
        SocketSpec::Inet { host, port } => Ok(Listening::Tcp(bind_tcp(host, *port).await?)),
        SocketSpec::Unix(path) => {
            let (l, created) = bind_unix(path, unix).await?;
            l.set_nonblocking(true)?;
            Ok(Listening::Unix {
                listener: UnixListener::from_std(l)?,
                path: path.clone(),
                created: Some(created),
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

/// The directory of a Unix socket must exist (we never create it: its owner and mode are the
/// administrator's decision, e.g. Postfix's chroot), and what is at the path already, if
/// anything, must be a socket (we never remove anything else).
pub fn check_unix_dir(path: &Path) -> anyhow::Result<()> {
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
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_socket()) {
        bail!("{} exists and is not a socket", path.display());
    }
    // binding creates the socket file: this user must be able to write the directory
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && nix::unistd::access(
            dir,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .is_err()
    {
        bail!(
            "socket {}: this user (uid {}) cannot create files in {}; give the directory to authmilter's user (e.g. install -d -m 0750 -o authmilter -g postfix {})",
            path.display(),
            nix::unistd::getuid(),
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Binds a Unix socket at `path`: its directory must exist; a stale socket there (one nothing
/// listens on) is removed, a live one or any other file is an error; the new file is created
/// open to its owner only, then given its owner, group and mode.
pub async fn bind_unix(
    path: &Path,
    settings: &UnixSocketSettings,
) -> anyhow::Result<(std::os::unix::net::UnixListener, CreatedSocket)> {
    check_unix_dir(path)?;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        // checked again: the file may have changed since
        if !meta.file_type().is_socket() {
            bail!("{} exists and is not a socket", path.display());
        }
        if let Some(why) = in_use(path).await {
            bail!(
                "{} is in use: {why} (another authmilter running?)",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove stale socket {}", path.display()))?;
    }
    let l = create_socket(path).with_context(|| format!("cannot bind {}", path.display()))?;
    let created = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot stat {}", path.display()))
        .map(|m| CreatedSocket {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
        })
        .and_then(|created| set_access(path, settings).map(|()| created));
    match created {
        Ok(created) => Ok((l, created)),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(e)
        }
    }
}

/// Why the socket file at `path` must be left alone, or `None` when nothing listens on it
/// (the connection is refused).
async fn in_use(path: &Path) -> Option<String> {
    let probe = tokio::net::UnixStream::connect(path);
    match tokio::time::timeout(std::time::Duration::from_secs(5), probe).await {
        Ok(Ok(_)) => Some("a process listens on it".into()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => None,
        // EAGAIN: a listener whose queue is full
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
            Some("a process listens on it (its queue is full)".into())
        }
        Ok(Err(e)) => Some(format!("cannot tell whether a process listens on it ({e})")),
        Err(_) => Some("a process listens on it (no answer within 5 s)".into()),
    }
}

/// Gives the new socket file at `path` its owner and group, then its mode.
fn set_access(path: &Path, settings: &UnixSocketSettings) -> anyhow::Result<()> {
    if settings.owner.is_some() || settings.group.is_some() {
        std::os::unix::fs::chown(
            path,
            settings.owner.map(Uid::as_raw),
            settings.group.map(Gid::as_raw),
        )
        .with_context(|| format!("cannot chown {}", path.display()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(settings.mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

/// Creates the socket file at `path` and listens on it. The umask is tightened around the
/// bind so the file starts open to its owner only (never 0777 before the chmod); the umask is
/// process-wide, so a file another thread creates meanwhile can only come out stricter.
fn create_socket(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    use nix::sys::stat::{Mode, umask};
    let private = Mode::from_bits_truncate(0o177);
    let before = umask(private);
    umask(before | private);
    let bound = std::os::unix::net::UnixListener::bind(path);
    umask(before);
    bound
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn settings() -> UnixSocketSettings {
        UnixSocketSettings {
            mode: 0o660,
            owner: None,
            group: None,
        }
    }

    /// Before its mode is set, a new socket file is open to its owner only, whatever the
    /// process umask: no moment where others could connect.
    #[test]
    fn a_new_socket_is_private_until_its_mode_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sock");
        let _l = create_socket(&path).unwrap();
        let mode = std::fs::symlink_metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "created with mode {mode:o}");
    }

    /// A socket another process still listens on is not removed or taken over.
    #[tokio::test]
    async fn a_live_socket_is_left_to_its_listener() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sock");
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let ino = std::fs::symlink_metadata(&path).unwrap().ino();
        let err = bind_unix(&path, &settings()).await.unwrap_err();
        assert!(format!("{err:#}").contains("listens on it"), "{err:#}");
        assert_eq!(std::fs::symlink_metadata(&path).unwrap().ino(), ino);
        // the first listener still gets the connections
        live.set_nonblocking(false).unwrap();
        let _c = std::os::unix::net::UnixStream::connect(&path).unwrap();
        live.accept().unwrap();
    }

    /// A socket file nobody listens on is replaced; a symlink or a regular file is never
    /// touched.
    #[tokio::test]
    async fn a_stale_socket_is_replaced_other_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let (l, _) = bind_unix(&path, &settings()).await.unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o660);
        drop(l);
        std::fs::remove_file(&path).unwrap();

        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(bind_unix(&path, &settings()).await.is_err());
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "keep").unwrap();
        assert!(bind_unix(&path, &settings()).await.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep");
    }
}
