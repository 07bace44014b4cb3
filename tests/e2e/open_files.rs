//! The open-file limit and `[server] max_connections` (src/server/fd_limit.rs): `serve` raises
//! its soft RLIMIT_NOFILE to what `max_connections` needs when the hard limit allows, and
//! `serve` and `config check` warn when even the hard limit is short (systemd starts services
//! at a soft limit of 1024, where `max_connections = 2000` would fail at accept).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use test_support::{free_port, process};

use crate::support::binary;

/// `authmilter ARGS` run by bash after `ulimit LIMIT` (bounded to a minute): (code, stderr).
fn under_ulimit(limit: &str, args: &[&str]) -> (i32, String) {
    let script = format!("ulimit {limit} && exec \"$0\" \"$@\"");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bash");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        let _ = tx.send(text);
    });
    let text = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            process::signal(&pid.to_string(), "KILL");
            panic!("authmilter {args:?} under ulimit {limit} did not finish")
        });
    let code = child.wait().expect("wait").code().unwrap_or(-1);
    (code, text)
}

fn config(dir: &Path, max_connections: usize, port: u16) -> String {
    let path = dir.join("milter.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nmax_connections = {max_connections}\n[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\n"
        ),
    )
    .expect("write config");
    path.display().to_string()
}

/// The soft "Max open files" of process `pid` (proc(5) limits).
fn soft_open_files(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[test]
fn config_check_warns_when_the_hard_limit_is_below_max_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), 512, free_port());
    // soft and hard 300: 512 connections cannot be served
    let (code, err) = under_ulimit("-n 300", &["config", "check", "-c", &cfg]);
    assert_eq!(code, 0, "a warning, not an error: {err}");
    assert!(
        err.contains("open-file limit is below server.max_connections"),
        "{err}"
    );
    // a soft limit of 300 under a high hard limit is raised, no warning
    let (code, err) = under_ulimit("-Sn 300", &["config", "check", "-c", &cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("open-file limit is below"), "{err}");
    // enough already: nothing said
    let (code, err) = under_ulimit("-Sn 2000", &["config", "check", "-c", &cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("open-file limit"), "{err}");
}

#[test]
fn serve_raises_its_soft_limit_for_max_connections() {
    let hard: u64 = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(4))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    if hard < 2_000 {
        eprintln!("skipped: the hard open-file limit here is {hard}, below what the test needs");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = config(dir.path(), 1_500, port);
    let log = std::fs::File::create(dir.path().join("log")).expect("log");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg("ulimit -Sn 300 && exec \"$0\" serve -c \"$1\"")
        .arg(binary())
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start serve");
    let ready = process::poll(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok()
            .then_some(())
    });
    let soft = soft_open_files(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    assert!(ready.is_some(), "serve did not start: {text}");
    assert_eq!(soft, Some(1_500 + 256), "{text}");
    assert!(text.contains("raised the open-file limit"), "{text}");
}
