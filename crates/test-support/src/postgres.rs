//! A throwaway PostgreSQL cluster on loopback for tests: its own data directory (from
//! `initdb`), its own port, started as a child process and stopped by its PID. The machine's
//! own clusters are never touched. Binaries come from the Debian `postgresql` package
//! (`/usr/lib/postgresql/<version>/bin`), which `tests/install-deps.sh` installs without
//! starting it.
//!
//! PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user the
//! package creates. Settings favour speed over durability (`fsync = off`): the cluster dies
//! with the test.
//!
//! ```no_run
//! let pg = test_support::postgres::TestPostgres::start().unwrap();
//! let url = pg.create_database("store_test").unwrap();
//! println!("{url}");
//! ```

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The directory with `initdb`, `postgres` and `createdb` of the newest installed version.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

/// TLS for a test cluster (`ssl = on`): the server's certificate (chain) and private key in
/// PEM, made by the test.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server certificate, followed by any intermediates.
    pub cert_pem: String,
    /// Its private key (PKCS#8 or PKCS#1).
    pub key_pem: String,
    /// Refuse plaintext TCP connections (`hostssl` lines only in pg_hba.conf); the Unix
    /// socket stays open for `createdb`.
    pub hostssl_only: bool,
}

/// A running throwaway cluster; stopped (fast shutdown, then SIGKILL) and removed on drop.
#[derive(Debug)]
pub struct TestPostgres {
    child: Option<Child>,
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
}

/// uid and gid of `name` from /etc/passwd.
fn passwd_ids(name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        if f.next()? != name {
            return None;
        }
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

impl TestPostgres {
    /// Creates a cluster in a fresh directory under the system temp dir and starts it on a
    /// free loopback port (at most 60 s).
    pub fn start() -> Result<TestPostgres, String> {
        Self::start_with(None)
    }

    /// Like [`TestPostgres::start`], with TLS on (`ssl = on`, the given certificate and key).
    pub fn start_with_tls(tls: &ServerTls) -> Result<TestPostgres, String> {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<&ServerTls>) -> Result<TestPostgres, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL not found under /usr/lib/postgresql (install the Debian package `postgresql`)",
        )?;
        let user = if is_root() {
            Some(passwd_ids("postgres").ok_or("running as root but there is no postgres user")?)
        } else {
            None
        };
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "authmilter-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
        let port = free_port()?;
        let mut pg = TestPostgres {
            child: None,
            dir,
            bin,
            port,
            user,
        };
        let data = pg.dir.join("data");
        let out = pg
            .command("initdb")
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .arg("-D")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut settings = vec![
            "listen_addresses=127.0.0.1".to_string(),
            "fsync=off".into(),
            "max_connections=50".into(),
        ];
        if let Some(tls) = tls {
            pg.write_owned(&data.join("server.crt"), &tls.cert_pem)?;
            pg.write_owned(&data.join("server.key"), &tls.key_pem)?;
            if tls.hostssl_only {
                pg.write_owned(
                    &data.join("pg_hba.conf"),
                    "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
                )?;
            }
            // relative to the data directory
            settings.extend([
                "ssl=on".into(),
                "ssl_cert_file=server.crt".into(),
                "ssl_key_file=server.key".into(),
            ]);
        }
        let log = std::fs::File::create(pg.dir.join("postgres.log"))
            .map_err(|e| format!("log file: {e}"))?;
        if let Some((uid, gid)) = pg.user {
            let _ = std::os::unix::fs::chown(pg.dir.join("postgres.log"), Some(uid), Some(gid));
        }
        let child = pg
            .command("postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&pg.dir)
            .args(settings.iter().flat_map(|s| ["-c", s.as_str()]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("start postgres: {e}"))?;
        pg.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if pg.log().contains("ready to accept connections")
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                return Ok(pg);
            }
            let exited = pg
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
                .is_some();
            if exited || Instant::now() > deadline {
                let log = pg.log();
                pg.stop();
                return Err(format!("postgres did not start:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Writes `text` to `path`, mode 0600, owned by the cluster's user.
    fn write_owned(&self, path: &Path, text: &str) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt as _;
        let fail = |e: std::io::Error| format!("write {}: {e}", path.display());
        std::fs::write(path, text).map_err(fail)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(fail)?;
        }
        Ok(())
    }

    /// A command for one of the cluster's binaries, as the cluster's user.
    fn command(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin.join(name));
        if let Some((uid, gid)) = self.user {
            c.uid(uid).gid(gid);
        }
        c.current_dir(&self.dir);
        c
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection URL of database `db` (superuser `postgres`, no password).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` (over the Unix socket) and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let mut cmd = self.command("createdb");
        cmd.arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", "postgres", name]);
        let out = cmd.output().map_err(|e| format!("createdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "createdb {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(self.url(name))
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("postgres.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the cluster: SIGINT (fast shutdown) to the postmaster's process group, SIGKILL
    /// after 15 s; removes the directory. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-INT", "--", &group]).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !matches!(child.try_wait(), Ok(Some(_))) {
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}
