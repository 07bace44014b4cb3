//! Shared harness: the milter in-process on loopback with an in-memory resolver, configs from
//! TOML text, the fake MTA, and the real binary as a child process.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use authmilter::app::App;
use authmilter::config::{Config, SocketSpec};
use authmilter::server::Server;
use dns::memory::MemoryResolver;
use test_support::process;
use testkit::{MtaClient, Profile};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A milter server running in this process.
pub struct Milter {
    /// Where it listens (the first listener).
    pub addr: SocketAddr,
    /// Every listener's address.
    pub sockets: Vec<SocketSpec>,
    /// The resolver behind it (add records at any time).
    pub dns: Arc<MemoryResolver>,
    /// The shared state.
    pub app: Arc<App>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The default test listener section: one TCP listener on a free loopback port.
pub const LISTEN_VERIFY: &str =
    "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"verify\"\n";

impl Milter {
    /// Starts a milter with `toml` (which must contain at least one `[[server.listen]]`, e.g.
    /// [`LISTEN_VERIFY`]) and DNS from `zone` (MemoryResolver zone text).
    pub async fn start(toml: &str, zone: &str) -> Milter {
        let mut toml = toml.to_string();
        if !toml.contains("authserv_id") {
            toml = format!("{toml}\n[authres]\nauthserv_id = \"mx.test.example\"\n");
        }
        let config = Config::parse(&toml).expect("test config parses");
        let dns = Arc::new(MemoryResolver::from_zone(zone).expect("test zone parses"));
        let app = Arc::new(App::new(config, dns.clone()).expect("app builds"));
        let server = Server::bind(Arc::clone(&app)).await.expect("server binds");
        let sockets = server.local_addrs();
        let addr = match sockets.first() {
            Some(SocketSpec::Inet { host, port }) => {
                SocketAddr::new(host.parse().expect("listener address"), *port)
            }
            _ => "127.0.0.1:1".parse().expect("placeholder"),
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Milter {
            addr,
            sockets,
            dns,
            app,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// A fake Postfix connected to the first listener, negotiated.
    pub async fn postfix(&self) -> MtaClient {
        self.client(Profile::postfix()).await
    }

    /// A fake MTA with `profile`, connected and negotiated.
    pub async fn client(&self, profile: Profile) -> MtaClient {
        let mut mta =
            MtaClient::connect_tcp(self.addr, profile.with_timeout(Duration::from_secs(20)))
                .await
                .expect("connect to milter");
        mta.negotiate().await.expect("negotiate");
        mta
    }

    /// Stops the server and waits for it (bounded).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let joined = tokio::time::timeout(Duration::from_secs(40), task).await;
            let result = joined.expect("server stops in time").expect("server task");
            result.expect("server ran cleanly");
        }
    }
}

impl Drop for Milter {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Sends one whole message through `mta` from `client_ip` with the given envelope.
pub async fn transaction(
    mta: &mut MtaClient,
    client_ip: &str,
    helo: &str,
    mail_from: &str,
    rcpt: &str,
    raw: &[u8],
) -> testkit::EomOutcome {
    mta.connect(
        "client.example.org",
        client_ip.parse().expect("ip"),
        40000,
        &[],
    )
    .await
    .expect("connect");
    mta.helo(helo, &[]).await.expect("helo");
    mta.mail(&format!("<{mail_from}>"), &[], &[])
        .await
        .expect("mail");
    mta.rcpt(&format!("<{rcpt}>"), &[], &[])
        .await
        .expect("rcpt");
    mta.send_message(raw).await.expect("message")
}

/// The value of the Authentication-Results header the milter inserted, as a string.
pub fn authres(outcome: &testkit::EomOutcome) -> String {
    let v = outcome
        .added_header("Authentication-Results")
        .expect("an Authentication-Results header");
    String::from_utf8_lossy(v).into_owned()
}

/// A message with CRLF line ends from lines.
pub fn message(lines: &[&str]) -> Vec<u8> {
    let mut m = lines.join("\r\n");
    m.push_str("\r\n");
    m.into_bytes()
}

/// The authmilter binary built for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_authmilter"))
}

/// How long one command-line run may take before it is killed and the test fails.
const CLI_LIMIT: Duration = Duration::from_secs(120);

/// Runs the binary with `args` (and `stdin`, if given), bounded to two minutes; returns
/// (status code, stdout, stderr). The code is -1 when a signal ended the process.
pub fn run_cli(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run authmilter");
    let input = child.stdin.take().expect("stdin");
    let stdin = stdin.map(<[u8]>::to_vec);
    // Feed stdin from a thread so a child that does not read cannot block the test.
    let feeder = std::thread::spawn(move || {
        let mut input = input;
        if let Some(data) = stdin {
            let _ = input.write_all(&data);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx.recv_timeout(CLI_LIMIT).unwrap_or_else(|_| {
        process::signal(&pid.to_string(), "KILL");
        panic!("authmilter {args:?} did not finish within {CLI_LIMIT:?}")
    });
    let out = out.expect("authmilter finishes");
    let _ = feeder.join();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A key `authmilter dkim genkey` wrote, and what it printed.
pub struct GeneratedKey {
    /// The private key file, `OUT/DOMAIN.SELECTOR.pem`.
    pub path: PathBuf,
    /// What genkey printed (the BIND zone entry, then the value for web forms).
    pub printed: String,
}

impl GeneratedKey {
    /// The DNS record value genkey printed for web forms (its `Value: ` line).
    pub fn value(&self) -> String {
        self.printed
            .lines()
            .find_map(|l| l.trim().strip_prefix("Value: "))
            .expect("genkey prints the record value")
            .to_string()
    }
}

/// Runs `authmilter dkim genkey` for `domain`, `selector` and `algorithm` with `--out out`;
/// fails the test unless it succeeds.
pub fn genkey(out: &Path, domain: &str, selector: &str, algorithm: &str) -> GeneratedKey {
    let (code, printed, err) = run_cli(
        &[
            "dkim",
            "genkey",
            "--domain",
            domain,
            "--selector",
            selector,
            "--algorithm",
            algorithm,
            "--out",
            out.to_str().expect("UTF-8 path"),
        ],
        None,
    );
    assert_eq!(code, 0, "dkim genkey: {err}");
    GeneratedKey {
        path: out.join(format!("{domain}.{selector}.pem")),
        printed,
    }
}

/// The binary running `serve` as a child process, its stdout and stderr in a log file.
/// Stopped by PID (SIGTERM, then SIGKILL after 10 s) on drop. The one runner of the binary as
/// a server: [`ServeProcess::start`] for the in-tree tests, and the real-MTA harness
/// (`mta::Authmilter`) builds on [`ServeProcess::spawn`].
pub struct ServeProcess {
    child: Option<Child>,
    /// The log file (stdout and stderr).
    pub log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl ServeProcess {
    /// Starts `authmilter serve -c <toml in a temporary directory> <extra>` with
    /// `RUST_LOG=debug` and waits (bounded) until `port` accepts.
    pub fn start(toml: &str, port: u16, extra: &[&str]) -> ServeProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("milter.toml");
        std::fs::write(&cfg, toml).expect("write config");
        let log = dir.path().join("stderr.log");
        let mut p = ServeProcess::spawn(&cfg, extra, &log, Some("debug")).expect("start serve");
        p._dir = Some(dir);
        let ready = p.wait_ready(port);
        assert_eq!(ready, Some(true), "milter did not start: {}", p.log_text());
        p
    }

    /// Waits (at most 20 s) until `port` on 127.0.0.1 accepts (`Some(true)`) or the process
    /// exits (`Some(false)`); `None` when neither happened in time.
    pub fn wait_ready(&mut self, port: u16) -> Option<bool> {
        process::poll(Duration::from_secs(20), || {
            if self.exited() {
                return Some(false);
            }
            std::net::TcpStream::connect(("127.0.0.1", port))
                .is_ok()
                .then_some(true)
        })
    }

    /// Spawns `authmilter serve -c <config> <extra>` with stdout and stderr to `log` and
    /// `RUST_LOG` set to `rust_log` (or removed). Does not wait for anything.
    pub fn spawn(
        config: &Path,
        extra: &[&str],
        log: &Path,
        rust_log: Option<&str>,
    ) -> Result<ServeProcess, String> {
        let log_file =
            std::fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let mut cmd = Command::new(binary());
        cmd.arg("serve").arg("-c").arg(config).args(extra);
        match rust_log {
            Some(level) => cmd.env("RUST_LOG", level),
            None => cmd.env_remove("RUST_LOG"),
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("spawn authmilter serve: {e}"))?;
        Ok(ServeProcess {
            child: Some(child),
            log: log.to_path_buf(),
            _dir: None,
        })
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The configuration file [`ServeProcess::start`] wrote (rewrite it, then SIGHUP).
    pub fn config_path(&self) -> PathBuf {
        self._dir
            .as_ref()
            .map(|d| d.path().join("milter.toml"))
            .expect("started by ServeProcess::start")
    }

    /// SIGKILL now (a crash, as far as the process can tell); [`ServeProcess::wait_exit`] reaps it.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
        }
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("still running")
    }

    /// The last `n` log lines, without colour codes.
    pub fn log_tail(&self, n: usize) -> String {
        process::tail(&self.log, n)
    }

    /// True once the process has exited (or was stopped).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_)) | Err(_)))
    }

    /// Sends SIGTERM by PID.
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            process::signal(&child.id().to_string(), "TERM");
        }
    }

    /// Waits (bounded) for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        process::poll(limit, || child.try_wait().ok().flatten()).and_then(|s| s.code())
    }

    /// SIGTERM by PID, then SIGKILL after 10 s. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::stop_child(&mut child, Duration::from_secs(10));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
