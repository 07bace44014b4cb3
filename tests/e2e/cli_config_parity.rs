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

use crate::support::{ServeProcess, genkey, run_cli};

/// One file to try: what it changes, and the whole text.
struct Case {
    what: String,
    /// The key whose name (its last part) a refusal must contain.
    key: String,
    text: String,
    /// A typo of a key: must be refused, not ignored.
    typo: bool,
}

/// One `[section]` (or one `[[section]]` entry) of a case: its keys and raw TOML values.
#[derive(Clone)]
struct Section {
    name: String,
    keys: Vec<(String, String)>,
    array: bool,
}

/// The sections a case builds, in file order.
#[derive(Clone, Default)]
struct Sections(Vec<Section>);

impl Sections {
    fn set(&mut self, section: &str, key: &str, raw: &str) {
        let array = ["server.listen", "dkim.key", "dkim.signing"].contains(&section);
        let i = match self.0.iter().position(|s| s.name == section) {
            Some(i) => i,
            None => {
                self.0.push(Section {
                    name: section.to_string(),
                    keys: Vec::new(),
                    array,
                });
                self.0.len() - 1
            }
        };
        let keys = &mut self.0[i].keys;
        keys.retain(|(k, _)| k != key);
        keys.push((key.to_string(), raw.to_string()));
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.0 {
            if s.array {
                out.push_str(&format!("[[{}]]\n", s.name));
            } else {
                out.push_str(&format!("[{}]\n", s.name));
            }
            for (k, v) in &s.keys {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        out
    }
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The files and ports every case shares.
struct Fixture {
    dir: PathBuf,
    port: u16,
    key: String,
    secrets: String,
    store: String,
}

impl Fixture {
    fn new(dir: &Path) -> Fixture {
        let mode = |p: &Path, text: &str| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(p, text).expect("write");
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            p.display().to_string()
        };
        Fixture {
            dir: dir.to_path_buf(),
            port: free_port(),
            key: genkey(dir, "example.com", "s1", "ed25519")
                .path
                .display()
                .to_string(),
            secrets: mode(&dir.join("srs.secrets"), "a-secret-for-the-parity-test\n"),
            store: format!("sqlite:{}", dir.join("reports.db").display()),
        }
    }

    /// The working file: one verify listener on the test's port, and our authserv-id.
    fn base(&self) -> Sections {
        let mut s = Sections::default();
        s.set(
            "server.listen",
            "socket",
            &quoted(&format!("inet:127.0.0.1:{}", self.port)),
        );
        s.set("server.listen", "role", &quoted("verify"));
        s.set("authres", "authserv_id", &quoted("mx.test.example"));
        s
    }

    /// What switches `section` on, so that its keys are read (SRS with its secrets, reports
    /// with a store, a key for the signing rules, ...).
    fn context(&self, s: &mut Sections, section: &str) {
        let key_block = |s: &mut Sections| {
            s.set("dkim.key", "domain", &quoted("example.com"));
            s.set("dkim.key", "selector", &quoted("s1"));
            s.set("dkim.key", "path", &quoted(&self.key));
        };
        match section {
            "srs" => {
                s.set("srs", "enabled", "true");
                s.set("srs", "domain", &quoted("fwd.example"));
                s.set("srs", "secrets", &quoted(&self.secrets));
            }
            "reports" | "reports.failure" => {
                s.set("reports", "enabled", "true");
                s.set("reports", "send", "false");
                s.set("reports", "store", &quoted(&self.store));
                if section == "reports.failure" {
                    s.set("reports.failure", "enabled", "true");
                }
            }
            "reports.inbox" => {
                s.set("reports", "store", &quoted(&self.store));
                s.set("reports.inbox", "addresses", "[\"dmarc@example.com\"]");
            }
            "dashboard" => {
                s.set("reports", "store", &quoted(&self.store));
                s.set("dashboard", "listen", &quoted("127.0.0.1:0"));
            }
            "dkim.key" | "arc" => key_block(s),
            "dkim.signing" => {
                key_block(s);
                s.set("dkim.signing", "from", &quoted("example.com"));
                s.set("dkim.signing", "keys", "[\"s1._domainkey.example.com\"]");
            }
            _ => {}
        }
    }

    fn case(&self, section: &str, key: &str, raw: &str) -> Case {
        let mut s = self.base();
        self.context(&mut s, section);
        s.set(section, key, raw);
        let shown: String = raw.chars().take(40).collect();
        Case {
            what: format!("{section}.{key} = {shown}"),
            key: key.to_string(),
            text: s.render(),
            typo: false,
        }
    }

    /// Every key with every hostile value for it.
    fn all_cases(&self) -> Vec<Vec<Case>> {
        let mut per_key = Vec::new();
        let defaults: toml::Table = toml::from_str(
            &authmilter::config::Config::default()
                .to_toml()
                .expect("defaults"),
        )
        .expect("defaults parse");
        let mut keys: Vec<(String, String, toml::Value)> = Vec::new();
        for (section, body) in &defaults {
            let Some(body) = body.as_table() else {
                continue;
            };
            for (key, value) in body {
                match value {
                    toml::Value::Table(sub) => {
                        for (k, v) in sub {
                            keys.push((format!("{section}.{key}"), k.clone(), v.clone()));
                        }
                    }
                    // the arrays of tables get their own fields below
                    toml::Value::Array(a) if a.first().is_some_and(toml::Value::is_table) => {}
                    _ if ["listen", "key", "signing"].contains(&key.as_str())
                        && ["server", "dkim"].contains(&section.as_str())
                        && !value.is_str() => {}
                    _ => keys.push((section.clone(), key.clone(), value.clone())),
                }
            }
        }
        for (section, key, value) in [
            ("server.listen", "role", "auto"),
            ("server.listen", "clients", ""),
            ("dkim.key", "name", "k"),
            ("dkim.key", "domain", "example.com"),
            ("dkim.key", "selector", "s1"),
            ("dkim.key", "path", "k.pem"),
            ("dkim.key", "state", "active"),
            ("dkim.signing", "from", "example.com"),
            ("dkim.signing", "keys", ""),
            ("srs", "hash_minimum", ""),
        ] {
            let value = if value.is_empty() {
                toml::Value::Array(Vec::new())
            } else {
                toml::Value::String(value.into())
            };
            keys.push((section.into(), key.into(), value));
        }
        for (section, key, value) in keys {
            let mut cases: Vec<Case> = self
                .hostile(&value)
                .into_iter()
                .map(|raw| self.case(&section, &key, &raw))
                .collect();
            // a typo of the key is refused, not ignored
            let mut typo = self.case(&section, &format!("{key}x"), "true");
            typo.typo = true;
            cases.push(typo);
            per_key.push(cases);
        }
        per_key.push(self.sockets("server.listen", "socket"));
        per_key.push(self.sockets("srs", "socketmap"));
        per_key
    }

    /// Values of the wrong type or out of range for a key whose default is `default`.
    fn hostile(&self, default: &toml::Value) -> Vec<String> {
        let dir = self.dir.display().to_string();
        let mut v: Vec<String> = [
            "\"\"",
            "[]",
            "{}",
            "0",
            "-1",
            "9223372036854775807",
            "1.5",
            "true",
            "\"a\\u0000b\"",
            "\"a\\u001bb\\n\"",
            "\"/nonexistent/x\"",
            "\"/dev/null\"",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        v.push(quoted(&"x".repeat(100_000)));
        v.push(quoted(&dir));
        match default {
            toml::Value::String(s) => {
                v.push(quoted(&format!("{s} ")));
                v.push(quoted(&s.to_uppercase()));
                let is_duration = s.len() > 1
                    && s.trim_end_matches(|c: char| c.is_ascii_alphabetic())
                        .bytes()
                        .all(|b| b.is_ascii_digit());
                if is_duration {
                    for d in [
                        "0",
                        "1",
                        "1ms",
                        "10 s",
                        "5 parsecs",
                        "-5s",
                        "1.5s",
                        "1h30m",
                        "1w",
                        "18446744073709551615ms",
                        "99999999999999999999d",
                    ] {
                        v.push(quoted(d));
                    }
                }
            }
            toml::Value::Integer(i) => {
                for n in [
                    i.to_string(),
                    "65536".into(),
                    "4294967296".into(),
                    i64::MIN.to_string(),
                ] {
                    v.push(n);
                }
            }
            toml::Value::Array(_) => {
                for a in [
                    "[\"\"]",
                    "[\"*\"]",
                    "[\"0.0.0.0/0\"]",
                    "[\"::/0\"]",
                    "[\"256.1.1.1\"]",
                    "[\"a\", \"a\"]",
                    "[1]",
                ] {
                    v.push(a.into());
                }
            }
            _ => {}
        }
        v
    }

    /// Socket specs in every spelling, good and bad.
    fn sockets(&self, section: &str, key: &str) -> Vec<Case> {
        let p = self.port;
        let d = self.dir.display();
        [
            format!("inet:[::1]:{p}"),
            "unix:relative.sock".into(),
            "local:".into(),
            "unix:".into(),
            "inet:".into(),
            "inet:127.0.0.1".into(),
            "inet:127.0.0.1:70000".into(),
            format!("inet6:{p}@::1"),
            format!("inet:{p}@127.0.0.1"),
            format!("inet:[::ffff:127.0.0.1]:{p}"),
            format!("inet:0.0.0.0:{p}"),
            format!("inet:[::]:{p}"),
            "unix:/dev/null".into(),
            "unix:/nonexistent/x.sock".into(),
            format!("unix:{d}"),
            format!("local:{d}/m.sock"),
            format!("tcp:127.0.0.1:{p}"),
            format!(" inet:127.0.0.1:{p} "),
            "inet:[::1]".into(),
            format!("inet:::1:{p}"),
        ]
        .iter()
        .map(|s| {
            let mut c = self.case(section, key, &quoted(s));
            if section == "srs" {
                // off loopback on purpose: the overlap, not the open relay, is tested
                c.text.push_str("allow_remote = true\n");
            }
            c
        })
        .collect()
    }
}

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

/// What serve did with `config`: `Ok(())` once its port accepted (then stopped by PID),
/// `Err(error line)` when it exited.
fn serve(config: &Path, port: u16, log: &Path) -> Result<(), (String, String)> {
    let mut p = ServeProcess::spawn(config, &[], log, None).expect("spawn serve");
    let ready = p.wait_ready(port);
    if ready == Some(true) {
        p.stop();
        return Ok(());
    }
    assert_eq!(ready, Some(false), "serve neither failed nor became ready");
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
            let log = self.serve.log_text();
            let verdicts: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("configuration reloaded") || l.contains("reload refused"))
                .collect();
            if verdicts.len() > self.seen {
                self.seen = verdicts.len();
                let last = verdicts[verdicts.len() - 1];
                return if last.contains("reload refused") {
                    Err(last.to_string())
                } else {
                    Ok(())
                };
            }
            assert!(
                !self.serve.exited(),
                "serve died on a reload: {}",
                self.serve.log_tail(20)
            );
            assert!(Instant::now() < deadline, "no reload verdict: {log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reloads a running serve may accept although a fresh start refuses the same file: the
/// listeners a reload cannot open stay as they were and the rest applies (docs/configuration.md,
/// "Listeners on reload"), and a dashboard it cannot start stays as it was.
fn reload_may_accept(error: &str) -> bool {
    [
        "server.listen",
        "srs.socketmap",
        "dashboard.",
        "socket ",
        "is not a socket",
    ]
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
        let served = serve(&path, f.port, &f.dir.join("case.log"));
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
/// (`[server] user` and `group`): the reload refused nothing, said "takes effect after a
/// restart", and the next start failed. A reload refuses them as serve does.
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
    ] {
        let c = f.case(section, key, raw);
        std::fs::write(&path, &c.text).expect("write");
        let Err((served, _)) = serve(&path, f.port, &f.dir.join("case.log")) else {
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
