//! A differential over every key of `milter.toml`: for each key (the built-in defaults list
//! them all, plus the `[[server.listen]]`, `[[dkim.key]]` and `[[dkim.signing]]` fields) a
//! hostile value (wrong type, empty, zero, negative, i64::MAX, a huge string, NUL and control
//! characters, missing files, a directory or a device for a file, odd sockets, malformed
//! durations, typos) is written into a working file, with the key's section switched on. The
//! file then goes through `authmilter config check -c F`, `authmilter serve -c F` (stopped by
//! PID once its port accepts) and a SIGHUP reload of a running serve from a good file to F:
//! the three must agree (all accept, or all refuse, check and serve with the same error line,
//! which names the key), and nothing may panic.
//!
//! Each run takes one value per key, picked by a seed printed at the start (set
//! `AUTHMILTER_CONFIG_PARITY_SEED` to repeat a run); `AUTHMILTER_CONFIG_PARITY_ALL=1` runs
//! every value of every key (about 2,700 files, several minutes).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use test_support::free_port;

use super::config_cases::{Case, Fixture};
use crate::support::{ServeProcess, run_cli};

/// The last `authmilter: ...` error, to the end, without the prefix.
fn error_line(stderr: &str) -> String {
    let start = match stderr.rfind("authmilter: ") {
        Some(i) if i == 0 || stderr[..i].ends_with('\n') => i,
        _ => return String::new(),
    };
    stderr[start + "authmilter: ".len()..]
        .trim_end()
        .to_string()
}

/// What serve did with `config`: `Ok(())` once it logged that it is ready (its listener may
/// be a Unix socket or on another address than the fixture's port), then stopped by PID;
/// `Err(error line)` when it exited.
fn serve(config: &Path, log: &Path, what: &str) -> Result<(), (String, String)> {
    let mut p = ServeProcess::spawn(config, &[], log, None).expect("spawn serve");
    let ready = test_support::process::poll(Duration::from_secs(30), || {
        if p.exited() {
            return Some(false);
        }
        let log = p.log_text();
        (log.contains("ready authserv_id") || log.contains("\"message\":\"ready\"")).then_some(true)
    });
    if ready == Some(true) {
        p.stop();
        return Ok(());
    }
    assert_eq!(
        ready,
        Some(false),
        "{what}: serve neither failed nor became ready: {}",
        p.log_text()
    );
    let _ = p.wait_exit(Duration::from_secs(10));
    let log = p.log_text();
    Err((error_line(&log), log))
}

/// A serve that reloads: each file is written over its configuration and announced by
/// SIGHUP; the verdict is the next `configuration reloaded` or `reload refused` line.
struct Reloading {
    serve: ServeProcess,
    /// The fixture's port, and the one this serve listens on instead (the file under test is
    /// started on the fixture's port at the same time).
    ports: (String, String),
    config: PathBuf,
    good: String,
    /// The log bytes already read.
    seen: usize,
}

impl Reloading {
    fn start(f: &Fixture) -> Reloading {
        // the guarded keys set explicitly, so that going back to this file is always allowed
        let port = free_port();
        let ports = (f.port.to_string(), port.to_string());
        let good = format!(
            "{}[dmarc]\nenforce = false\n[spf]\nreject_fail = false\n[dns]\nnameservers = []\n",
            f.base().render()
        )
        .replace(&ports.0, &ports.1);
        let config = f.dir.join("reloading.toml");
        std::fs::write(&config, &good).expect("write");
        let mut serve =
            ServeProcess::spawn(&config, &[], &f.dir.join("reloading.log"), None).expect("spawn");
        assert_eq!(serve.wait_ready(port), Some(true), "{}", serve.log_text());
        Reloading {
            serve,
            ports,
            config,
            good,
            seen: 0,
        }
    }

    /// `Ok(())` when the reload of `text` was applied (then the good file is reloaded
    /// again), `Err(line)` when it was refused.
    fn reload(&mut self, text: &str) -> Result<(), String> {
        let text = text.replace(&self.ports.0, &self.ports.1);
        let verdict = self.hup(&text);
        if verdict.is_ok() {
            let back = self.good.clone();
            assert_eq!(self.hup(&back), Ok(()), "back to the good file");
        }
        verdict
    }

    fn hup(&mut self, text: &str) -> Result<(), String> {
        std::fs::write(&self.config, text).expect("write");
        test_support::process::signal(&self.serve.pid().to_string(), "HUP");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // only what was logged since the last verdict (the log grows with every reload)
            let log = std::fs::read(&self.serve.log).unwrap_or_default();
            let new = String::from_utf8_lossy(log.get(self.seen..).unwrap_or_default());
            // a whole line: one being written ends with its newline later
            let whole = new
                .rfind('\n')
                .and_then(|end| new.get(..end))
                .unwrap_or_default();
            let verdict = whole
                .lines()
                .find(|l| l.contains("configuration reloaded") || l.contains("reload refused"));
            if let Some(line) = verdict {
                let end = whole.find(line).unwrap_or(0) + line.len();
                self.seen += new.get(..end).map_or(0, str::len);
                return if line.contains("reload refused") {
                    Err(line.to_string())
                } else {
                    Ok(())
                };
            }
            assert!(
                !self.serve.exited(),
                "serve died on a reload: {}",
                self.serve.log_tail(20)
            );
            assert!(Instant::now() < deadline, "no reload verdict: {new}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reloads a running serve may accept although a fresh start refuses the same file: the
/// listeners a reload cannot open stay as they were and the rest applies (docs/configuration.md,
/// "Listeners on reload"), and a dashboard it cannot start stays as it was.
fn reload_may_accept(error: &str) -> bool {
    ["server.listen", "dashboard."]
        .iter()
        .any(|n| error.contains(n))
}

#[test]
fn every_key_gets_one_answer_from_config_check_serve_and_reload() {
    let all = std::env::var_os("AUTHMILTER_CONFIG_PARITY_ALL").is_some();
    let seed: u64 = std::env::var("AUTHMILTER_CONFIG_PARITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("AUTHMILTER_CONFIG_PARITY_SEED={seed}");
    let dir = tempfile::tempdir().expect("tempdir");
    let f = Fixture::new(dir.path());
    let mut rng = seed | 1;
    let mut next = move || {
        // xorshift64
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let cases: Vec<Case> = f
        .all_cases()
        .into_iter()
        .flat_map(|mut per_key| {
            if all || per_key.is_empty() {
                return per_key;
            }
            let i = (next() % per_key.len() as u64) as usize;
            vec![per_key.swap_remove(i)]
        })
        .collect();
    let mut reloading = Reloading::start(&f);
    let mut failures = Vec::new();
    let path = f.dir.join("case.toml");
    for c in &cases {
        std::fs::write(&path, &c.text).expect("write");
        let shown = path.display().to_string();
        let (code, _, err) = run_cli(&["config", "check", "-c", &shown], None);
        let check = (code == 0).then_some(()).ok_or_else(|| error_line(&err));
        let served = serve(&path, &f.dir.join("case.log"), &c.what);
        let reloaded = reloading.reload(&c.text);
        let what = &c.what;
        if err.contains("panicked") {
            failures.push(format!("{what}: config check panicked: {err}"));
        }
        match (&check, &served) {
            (Ok(()), Ok(())) => {}
            (Err(e), Err((s, _))) if e == s => {
                if !e.contains(&c.key) && !e.contains("unknown field") {
                    failures.push(format!("{what}: the error does not name {}: {e}", c.key));
                }
                if !e.contains("line ") {
                    failures.push(format!("{what}: the error gives no line: {e}"));
                }
            }
            (Err(e), Err((s, log))) => failures.push(format!(
                "{what}: check said {e:?}, serve said {s:?}{}",
                if log.contains("panicked") { log } else { "" }
            )),
            (Ok(()), Err((s, _))) => {
                failures.push(format!("{what}: check accepted, serve refused: {s}"))
            }
            (Err(e), Ok(())) => {
                failures.push(format!("{what}: check refused ({e}), serve started"))
            }
        }
        if c.typo && check.is_ok() {
            failures.push(format!("{what}: an unknown key was accepted"));
        }
        match (&check, &reloaded) {
            (Ok(()), Ok(())) | (Err(_), Err(_)) => {}
            (Err(e), Ok(())) if reload_may_accept(e) => {}
            (Ok(()), Err(r)) => failures.push(format!("{what}: check accepted, reload: {r}")),
            (Err(e), Ok(())) => {
                failures.push(format!("{what}: check refused ({e}), the reload applied"))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "AUTHMILTER_CONFIG_PARITY_SEED={seed}, {} of {} files:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Files serve refuses for settings a reload applies only at the next restart
/// (`[server] user` and `group`, the SRS socketmap): the reload refused nothing, said "takes
/// effect after a restart", and the next start failed. A reload refuses them as serve does.
#[test]
fn a_reload_refuses_what_the_next_start_would() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = Fixture::new(dir.path());
    let mut reloading = Reloading::start(&f);
    let path = f.dir.join("case.toml");
    let mut failures = Vec::new();
    for (section, key, raw, needle) in [
        (
            "server",
            "user",
            "\"no-such-user-authmilter\"",
            "server.user",
        ),
        ("server", "group", "\"root\"", "server.group"),
        (
            "srs",
            "socketmap",
            "\"unix:/nonexistent/dir/srs.sock\"",
            "srs.socketmap",
        ),
        (
            "srs",
            "socketmap",
            "\"inet:no-such-host.invalid:10003\"",
            "srs.socketmap",
        ),
    ] {
        let mut c = f.case(section, key, raw);
        if raw.contains("no-such-host") {
            // [srs] is the last section: the name, not the loopback rule, is tested
            c.text.push_str("allow_remote = true\n");
        }
        std::fs::write(&path, &c.text).expect("write");
        let Err((served, _)) = serve(&path, &f.dir.join("case.log"), &c.what) else {
            failures.push(format!("{}: serve started", c.what));
            continue;
        };
        assert!(served.contains(needle), "{}: {served}", c.what);
        match reloading.reload(&c.text) {
            Err(r) if r.contains(needle) => {}
            other => failures.push(format!(
                "{}: serve said {served:?}, reload {other:?}",
                c.what
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
