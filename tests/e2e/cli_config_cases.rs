//! The files of the configuration parity test (cli_config_parity.rs): every key of
//! `milter.toml` with hostile values, in a working file with the key's section switched on.

use std::path::{Path, PathBuf};

use test_support::free_port;

use crate::support::genkey;

/// One file to try: what it changes, and the whole text.
pub(super) struct Case {
    pub(super) what: String,
    /// The key whose name (its last part) a refusal must contain.
    pub(super) key: String,
    pub(super) text: String,
    /// A typo of a key: must be refused, not ignored.
    pub(super) typo: bool,
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
pub(super) struct Sections(Vec<Section>);

impl Sections {
    pub(super) fn set(&mut self, section: &str, key: &str, raw: &str) {
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

    pub(super) fn render(&self) -> String {
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
pub(super) struct Fixture {
    pub(super) dir: PathBuf,
    pub(super) port: u16,
    key: String,
    secrets: String,
    store: String,
}

impl Fixture {
    pub(super) fn new(dir: &Path) -> Fixture {
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
    pub(super) fn base(&self) -> Sections {
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

    pub(super) fn case(&self, section: &str, key: &str, raw: &str) -> Case {
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
    pub(super) fn all_cases(&self) -> Vec<Vec<Case>> {
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
            format!("inet:localhost:{p}"),
            format!("inet:no-such-host.invalid:{p}"),
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
