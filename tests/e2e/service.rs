//! Running as a service: dropping root after binding, Unix socket owner and mode, refusing
//! loose private keys and missing socket directories, systemd readiness notifications and
//! socket activation. The binary runs as a child process; tests that need root skip politely
//! without it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::binary;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|v| v.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The `Uid:` or `Gid:` line of /proc/PID/status: real, effective, saved, filesystem.
fn ids(pid: u32, which: &str) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix(which))
        .expect("line")
        .split_whitespace()
        .map(|n| n.parse().expect("number"))
        .collect()
}

fn user_id(name: &str, group_file: bool) -> u32 {
    let file = if group_file {
        "/etc/group"
    } else {
        "/etc/passwd"
    };
    std::fs::read_to_string(file)
        .expect("read")
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name)).then(|| f.nth(1).and_then(|id| id.parse().ok()))?
        })
        .unwrap_or_else(|| panic!("{name} not in {file}"))
}

/// `authmilter serve -c <dir>/milter.toml` with stderr in `<dir>/serve.log`; killed on drop.
struct Serve {
    child: Child,
    log: std::path::PathBuf,
}

impl Serve {
    fn start(dir: &Path, toml: &str, env: &[(&str, &str)]) -> Serve {
        let cfg = dir.join("milter.toml");
        std::fs::write(&cfg, toml).expect("config");
        let log = dir.join("serve.log");
        let child = Command::new(binary())
            .args(["serve", "-c", cfg.to_str().expect("utf-8")])
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn");
        Serve { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 20 s) until the log contains `text`.
    fn wait_log(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.log().contains(text) {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("exited with {st} before logging {text:?}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "no {text:?} in:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (at most 20 s) for the process to exit; its status code.
    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_key(dir: &Path, mode: u32) -> String {
    let k = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("key");
    let path = dir.join("k.pem");
    std::fs::write(&path, k.private_key_pem.as_bytes()).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path.display().to_string()
}

fn key_toml(path: &str) -> String {
    format!(
        "[dkim]\nkey_check_interval = \"0s\"\nstate_file = \"\"\n\
         [[dkim.key]]\ndomain = \"example.org\"\nselector = \"s\"\npath = \"{path}\"\n"
    )
}

#[test]
fn root_is_dropped_after_binding_and_sockets_get_owner_group_and_mode() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("milter.sock");
    let key = write_key(dir.path(), 0o600); // root-owned: read before the switch
    let toml = format!(
        "[server]\nuser = \"nobody\"\nsocket_owner = \"nobody\"\nsocket_group = \"nogroup\"\n\
         socket_mode = \"0640\"\n[[server.listen]]\nsocket = \"unix:{}\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n{}",
        sock.display(),
        key_toml(&key)
    );
    let mut serve = Serve::start(dir.path(), &toml, &[]);
    serve.wait_log("dropped root privileges");
    let (nobody, nogroup) = (user_id("nobody", false), user_id("nogroup", true));
    let pid = serve.child.id();
    assert_eq!(ids(pid, "Uid:"), vec![nobody; 4], "{}", serve.log());
    assert_eq!(ids(pid, "Gid:"), vec![nogroup; 4], "{}", serve.log());
    let meta = std::fs::metadata(&sock).expect("socket");
    assert_eq!((meta.uid(), meta.gid()), (nobody, nogroup));
    assert_eq!(meta.mode() & 0o7777, 0o640);
    // it still serves after the switch
    std::os::unix::net::UnixStream::connect(&sock).expect("connect as root");
    // and it warned that a reload, as nobody, could not read the root-owned key
    assert!(
        serve.log().contains("SIGHUP reload cannot read"),
        "{}",
        serve.log()
    );
}

#[test]
fn a_private_key_readable_by_others_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_key(dir.path(), 0o640);
    let listen = "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\n";
    let mut serve = Serve::start(dir.path(), &format!("{listen}{}", key_toml(&key)), &[]);
    assert_eq!(serve.wait_exit(), Some(2), "{}", serve.log());
    let log = serve.log();
    assert!(
        log.contains(&key)
            && log.contains("readable by group or others")
            && log.contains("chmod 600"),
        "{log}"
    );
    for mode in [0o604, 0o620, 0o602] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let mut serve = Serve::start(dir.path(), &format!("{listen}{}", key_toml(&key)), &[]);
        assert_eq!(serve.wait_exit(), Some(2), "mode {mode:o}: {}", serve.log());
    }
    let allowed = format!(
        "{listen}{}",
        key_toml(&key).replace("[dkim]\n", "[dkim]\nallow_loose_key_permissions = true\n")
    );
    let mut serve = Serve::start(dir.path(), &allowed, &[]);
    serve.wait_log("ready");
    assert!(
        serve.log().contains("allow_loose_key_permissions"),
        "{}",
        serve.log()
    );
}

#[test]
fn a_unix_socket_in_a_missing_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir");
    let toml = format!(
        "[[server.listen]]\nsocket = \"unix:{}/milter.sock\"\n",
        missing.display()
    );
    let mut serve = Serve::start(dir.path(), &toml, &[]);
    assert_eq!(serve.wait_exit(), Some(2), "{}", serve.log());
    assert!(
        serve
            .log()
            .contains(&format!("{} does not exist", missing.display())),
        "{}",
        serve.log()
    );
    assert!(!missing.exists(), "the directory must not be created");
}

fn unix_toml(sock: &Path) -> String {
    format!(
        "[[server.listen]]\nsocket = \"unix:{}\"\n[authres]\nauthserv_id = \"mx.test.example\"\n{}",
        sock.display(),
        "[dkim]\nkey_check_interval = \"0s\"\nstate_file = \"\"\n"
    )
}

/// A second instance configured with the same Unix socket refuses to start and leaves the
/// running one's socket alone (it used to remove it and bind its own).
#[test]
fn a_second_instance_does_not_take_over_a_live_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("milter.sock");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&a).expect("mkdir");
    std::fs::create_dir(&b).expect("mkdir");
    let mut first = Serve::start(&a, &unix_toml(&sock), &[]);
    first.wait_log("listening");
    let ino = std::fs::symlink_metadata(&sock).expect("socket").ino();
    let mut second = Serve::start(&b, &unix_toml(&sock), &[]);
    assert_eq!(second.wait_exit(), Some(2), "{}", second.log());
    assert!(second.log().contains("is in use"), "{}", second.log());
    assert_eq!(std::fs::symlink_metadata(&sock).expect("socket").ino(), ino);
    std::os::unix::net::UnixStream::connect(&sock).expect("the first still serves");
    first.signal("TERM");
    assert_eq!(first.wait_exit(), Some(0), "{}", first.log());
    assert!(!sock.exists(), "the first removes its socket at exit");
}

/// At exit only the socket file this instance created is removed: one that replaced it
/// meanwhile (another process's) stays.
#[test]
fn at_exit_a_socket_file_that_replaced_ours_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("milter.sock");
    let mut serve = Serve::start(dir.path(), &unix_toml(&sock), &[]);
    serve.wait_log("listening");
    std::fs::remove_file(&sock).expect("remove");
    let other = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    serve.signal("TERM");
    assert_eq!(serve.wait_exit(), Some(0), "{}", serve.log());
    assert!(sock.exists(), "the other process's socket was removed");
    let _c = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    other
        .accept()
        .expect("the other process still gets connections");
}

/// A `NOTIFY_SOCKET` for `serve` to report to, as systemd provides one.
struct NotifySocket {
    path: std::path::PathBuf,
    sock: std::os::unix::net::UnixDatagram,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&path).expect("bind notify socket");
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        NotifySocket { path, sock }
    }

    /// `serve` on an ephemeral port, reporting here.
    fn start(&self, dir: &Path) -> Serve {
        let toml = "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\n";
        let path = self.path.to_str().expect("utf-8");
        Serve::start(dir, toml, &[("NOTIFY_SOCKET", path)])
    }

    /// The next notification, waited for up to 20 s; a missing one names the milter's state
    /// and log, not only the timeout.
    fn next(&self, serve: &mut Serve) -> String {
        let mut buf = [0u8; 512];
        match self.sock.recv(&mut buf) {
            Ok(n) => String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned(),
            Err(e) => panic!(
                "no notification within 20 s ({e}); milter {}; log:\n{}",
                match serve.child.try_wait() {
                    Ok(Some(st)) => format!("exited with {st}"),
                    _ => "still running".to_string(),
                },
                serve.log()
            ),
        }
    }
}

#[test]
fn systemd_hears_ready_reloading_and_stopping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notify = NotifySocket::bind(dir.path());
    let mut serve = notify.start(dir.path());
    let ready = notify.next(&mut serve);
    assert!(ready.contains("READY=1"), "{ready}");
    serve.signal("HUP");
    let reloading = notify.next(&mut serve);
    assert!(
        reloading.contains("RELOADING=1") && reloading.contains("MONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(notify.next(&mut serve).contains("READY=1"));
    serve.signal("TERM");
    assert!(notify.next(&mut serve).contains("STOPPING=1"));
    assert_eq!(serve.wait_exit(), Some(0), "{}", serve.log());
}

#[test]
fn a_signal_sent_the_moment_ready_is_heard_is_handled_not_fatal() {
    // systemd may send SIGHUP (reload) or SIGTERM right after READY=1: the handlers must be
    // installed before the notification, or the default action kills the milter. Five starts
    // each way (bounded) so that a late handler shows up even on an idle machine.
    let dir = tempfile::tempdir().expect("tempdir");
    let notify = NotifySocket::bind(dir.path());
    for signal in [
        "HUP", "HUP", "HUP", "HUP", "HUP", "TERM", "TERM", "TERM", "TERM", "TERM",
    ] {
        let mut serve = notify.start(dir.path());
        let ready = notify.next(&mut serve);
        assert!(ready.contains("READY=1"), "{ready}");
        serve.signal(signal);
        let next = notify.next(&mut serve);
        let wanted = if signal == "HUP" {
            "RELOADING=1"
        } else {
            "STOPPING=1"
        };
        assert!(
            next.contains(wanted),
            "SIG{signal}: {next}\n{}",
            serve.log()
        );
        if signal == "HUP" {
            assert!(
                notify.next(&mut serve).contains("READY=1"),
                "{}",
                serve.log()
            );
            serve.signal("TERM");
            assert!(
                notify.next(&mut serve).contains("STOPPING=1"),
                "{}",
                serve.log()
            );
        }
        assert_eq!(serve.wait_exit(), Some(0), "SIG{signal}: {}", serve.log());
    }
}

#[test]
fn socket_activation_serves_on_the_passed_socket() {
    // The listener is bound here and handed over as descriptor 3 with LISTEN_FDS=1 and
    // LISTEN_PID set to the milter's own PID (bash execs it, keeping its PID), as systemd does.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("milter.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[server.listen]]\nsocket = \"inet:{addr}\"\nrole = \"verify\"\n\
             [authres]\nauthserv_id = \"mx.test.example\"\n"
        ),
    )
    .expect("config");
    let log = dir.path().join("serve.log");
    let mut child = Command::new("bash")
        .args([
            "-c",
            "exec 3<&0 0</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"",
        ])
        .arg(binary())
        .args(["serve", "-c", cfg.to_str().expect("utf-8")])
        .env("RUST_LOG", "info")
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !text().contains("ready") {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "exited (a second bind of {addr} would fail): {}",
            text()
        );
        assert!(Instant::now() < deadline, "{}", text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut mta = testkit::MtaClient::connect_tcp(
            addr,
            testkit::Profile::postfix().with_timeout(Duration::from_secs(20)),
        )
        .await
        .expect("connect");
        mta.negotiate()
            .await
            .expect("negotiate over the passed socket");
    });
    assert!(
        !text().contains("no listener in the configuration uses"),
        "{}",
        text()
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_example_units_pass_systemd_analyze_verify() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = env!("CARGO_MANIFEST_DIR");
    // the units as shipped, pointing at this build's binary
    let service = std::fs::read_to_string(format!("{root}/examples/authmilter.service"))
        .expect("service unit")
        .replace("/usr/bin/authmilter", binary().to_str().expect("utf-8"));
    let socket =
        std::fs::read_to_string(format!("{root}/examples/authmilter.socket")).expect("socket unit");
    assert!(
        service.contains("Type=notify") && service.contains("SystemCallFilter=@system-service")
    );
    std::fs::write(dir.path().join("authmilter.service"), service).expect("write");
    std::fs::write(dir.path().join("authmilter.socket"), socket).expect("write");
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(dir.path().join("authmilter.service"))
        .arg(dir.path().join("authmilter.socket"))
        .current_dir(dir.path())
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // unknown keys and bad values are only warnings for systemd-analyze: none allowed
    assert!(stderr.trim().is_empty(), "{stderr}");
}
