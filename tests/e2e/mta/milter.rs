//! The authmilter binary as a separate process, with a generated configuration (built on the
//! one binary runner, `support::ServeProcess`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use test_support::{free_port, process};

use crate::support::{ServeProcess, run_cli};

/// The authserv-id the harness configures (and the Postfix `myhostname`).
pub const AUTHSERV_ID: &str = "mx.test.example";

/// One `[[server.listen]]`: a name (how tests and Postfix services refer to it), a role, and
/// whether it is a loopback TCP port or a Unix socket in the work directory.
#[derive(Debug, Clone)]
pub struct Listener {
    /// The name.
    pub name: String,
    /// `auto`, `verify` or `sign`.
    pub role: String,
    /// A Unix socket (`unix:<dir>/<name>.sock`) instead of `inet:127.0.0.1:<port>`.
    pub unix: bool,
}

impl Listener {
    /// A TCP listener on a free loopback port.
    pub fn inet(name: &str, role: &str) -> Listener {
        Listener {
            name: name.into(),
            role: role.into(),
            unix: false,
        }
    }

    /// A Unix-socket listener.
    pub fn unix(name: &str, role: &str) -> Listener {
        Listener {
            unix: true,
            ..Listener::inet(name, role)
        }
    }
}

/// What to start: named listeners with roles, an optional SRS socketmap, and extra TOML.
#[derive(Debug, Clone)]
pub struct MilterSpec {
    /// The listeners.
    pub listeners: Vec<Listener>,
    /// Serve the SRS socketmap on a loopback port (`{socketmap}` in `extra` is that
    /// `inet:127.0.0.1:PORT`).
    pub socketmap: bool,
    /// More TOML (sections other than `[server]`, `[log]`, `[dns]` and `[authres]`, which the
    /// harness writes). `{dir}` is replaced by the work directory.
    pub extra: String,
}

/// A running authmilter. Stopped by PID (SIGTERM, then SIGKILL after 10 s) on drop.
pub struct Authmilter {
    process: ServeProcess,
    config: PathBuf,
    /// (name, socket as Postfix writes it).
    listeners: Vec<(String, String)>,
    socketmap: Option<u16>,
}

impl Authmilter {
    /// Writes `dir/<name>.toml` and starts `authmilter serve -c ... --dns <nsd>`; waits (bounded)
    /// until every listener accepts connections. Retries with fresh ports if a port was taken.
    pub fn start(
        dir: &Path,
        name: &str,
        nsd: SocketAddr,
        spec: &MilterSpec,
    ) -> Result<Authmilter, String> {
        let mut last = String::new();
        for attempt in 0..3 {
            match Self::try_start(dir, &format!("{name}-{attempt}"), nsd, spec) {
                Ok(m) => return Ok(m),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn try_start(
        dir: &Path,
        name: &str,
        nsd: SocketAddr,
        spec: &MilterSpec,
    ) -> Result<Authmilter, String> {
        let listeners: Vec<(String, String)> = spec
            .listeners
            .iter()
            .map(|l| {
                let socket = if l.unix {
                    format!(
                        "unix:{}",
                        dir.join(format!("{name}-{}.sock", l.name)).display()
                    )
                } else {
                    format!("inet:127.0.0.1:{}", free_port())
                };
                (l.name.clone(), socket)
            })
            .collect();
        let socketmap = spec.socketmap.then(free_port);
        // socket_mode: Postfix's smtpd runs as user `postfix` and must be able to connect.
        let mut toml = String::from(
            "[server]\nshutdown_timeout = \"2s\"\nprogress_interval = \"2s\"\n\
             eom_timeout = \"60s\"\nsocket_mode = \"0666\"\n\n",
        );
        for (l, (_, socket)) in spec.listeners.iter().zip(&listeners) {
            toml.push_str(&format!(
                "[[server.listen]]\nsocket = \"{socket}\"\nrole = \"{}\"\n\n",
                l.role
            ));
        }
        toml.push_str(&format!(
            "[log]\nlevel = \"info,authmilter=debug\"\n\n[dns]\nnameservers = [\"{nsd}\"]\ntimeout = \"2s\"\n\n\
             [authres]\nauthserv_id = \"{AUTHSERV_ID}\"\n\n"
        ));
        let socketmap_spec = socketmap.map_or(String::new(), |p| format!("inet:127.0.0.1:{p}"));
        toml.push_str(
            &spec
                .extra
                .replace("{socketmap}", &socketmap_spec)
                .replace("{dir}", &dir.display().to_string()),
        );
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, &toml).map_err(|e| format!("write {}: {e}", config.display()))?;
        let log = dir.join(format!("{name}.log"));
        let nsd = nsd.to_string();
        let server = ServeProcess::spawn(&config, &["--dns", &nsd], &log, None)?;
        let mut milter = Authmilter {
            process: server,
            config,
            listeners,
            socketmap,
        };
        let mut sockets: Vec<String> = milter.listeners.iter().map(|(_, s)| s.clone()).collect();
        sockets.extend(milter.socketmap());
        let ready = process::poll(Duration::from_secs(20), || {
            if milter.process.exited() {
                return Some(false);
            }
            sockets.iter().all(|s| connects(s)).then_some(true)
        });
        if ready != Some(true) {
            let log = milter.log_tail(40);
            milter.process.stop();
            return Err(format!(
                "authmilter did not start (config {}):\n{toml}\n--- log ---\n{log}",
                milter.config.display()
            ));
        }
        Ok(milter)
    }

    /// The named listener as Postfix's `smtpd_milters` wants it (`inet:127.0.0.1:PORT` or
    /// `unix:/path`).
    pub fn socket(&self, listener: &str) -> String {
        self.listeners
            .iter()
            .find(|(n, _)| n == listener)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no milter listener named {listener}"))
    }

    /// `inet:127.0.0.1:PORT` of the SRS socketmap, when it was asked for.
    pub fn socketmap(&self) -> Option<String> {
        self.socketmap.map(|p| format!("inet:127.0.0.1:{p}"))
    }

    /// The last `n` log lines.
    pub fn log_tail(&self, n: usize) -> String {
        self.process.log_tail(n)
    }
}

/// True when something accepts connections on `inet:127.0.0.1:PORT` or `unix:/path`.
fn connects(socket: &str) -> bool {
    if let Some(path) = socket.strip_prefix("unix:") {
        return std::os::unix::net::UnixStream::connect(path).is_ok();
    }
    socket
        .strip_prefix("inet:")
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .is_some_and(process::accepts)
}

/// Runs an `authmilter` subcommand (bounded to 2 minutes) and returns its stdout; a non-zero
/// exit is an error with stderr.
pub fn cli(args: &[&str]) -> Result<String, String> {
    let (code, out, err) = run_cli(args, None);
    if code != 0 {
        return Err(format!("authmilter {args:?} failed ({code}): {err}"));
    }
    Ok(out)
}
