//! Shared harness: the milter in-process on loopback with an in-memory resolver, configs from
//! TOML text, the fake MTA, and the real binary as a child process.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authmilter::app::App;
use authmilter::config::{Config, SocketSpec};
use authmilter::server::Server;
use dns::memory::MemoryResolver;
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

/// Runs the binary with `args`, returning (status code, stdout, stderr).
pub fn run_cli(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run authmilter");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("authmilter finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The binary running `serve` as a child process, killed on drop.
pub struct ServeProcess {
    /// The child.
    pub child: Child,
    /// Its stderr log file.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServeProcess {
    /// Starts `authmilter serve -c <toml>` and waits (bounded) until `port` accepts.
    pub fn start(toml: &str, port: u16, extra: &[&str]) -> ServeProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("milter.toml");
        std::fs::write(&cfg, toml).expect("write config");
        let log = dir.path().join("stderr.log");
        let logf = std::fs::File::create(&log).expect("log file");
        let mut args: Vec<String> = vec!["serve".into(), "-c".into(), cfg.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(binary())
            .args(&args)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .expect("start authmilter serve");
        let p = ServeProcess {
            child,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "milter did not start: {}",
                p.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The configuration file it was started with (rewrite it, then SIGHUP).
    pub fn config_path(&self) -> PathBuf {
        self._dir.path().join("milter.toml")
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits (bounded) for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback TCP port (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
