//! The stack every Sendmail test runs against (NSD, authmilter, the milter recorder, Sendmail)
//! and what the tests read from it: the milter's decision from the SMTP reply, the queue and
//! the milter's log; what Sendmail passed to the milter; `authmilter eval` on the same file.

use std::path::Path;
use std::time::Duration;

use test_support::nsd::{Nsd, nsd_binary, zone};
use test_support::{e2e_enabled, process};

use crate::postfix::mta::milter_recorder::{MilterRecorder, Transaction};
use crate::postfix::mta::sendmail::{Queued, Sendmail, SendmailRoot};
use crate::postfix::mta::smtp::{Reply, Submission, submit};
use crate::postfix::mta::{AUTHSERV_ID, Authmilter, Listener, MilterSpec, message_id};
use crate::support::run_cli;

/// DNS (zone `example`): the client's name and SPF for its HELO;
/// - `pass.example`: SPF authorizes 127.0.0.1, DMARC p=reject (passes only by alignment);
/// - `strict.example`: SPF `-all`, DMARC p=reject (the victim: fails, rejected when enforcing).
pub(super) const RECORDS: &str = "\
client          IN A    127.0.0.1
client          IN TXT  \"v=spf1 ip4:127.0.0.1 -all\"
pass            IN TXT  \"v=spf1 ip4:127.0.0.1 -all\"
_dmarc.pass     IN TXT  \"v=DMARC1; p=reject\"
strict          IN TXT  \"v=spf1 -all\"
_dmarc.strict   IN TXT  \"v=DMARC1; p=reject\"
";

/// The milter's settings besides the harness defaults (`[authres] authserv_id`, `[dns]`).
pub(super) const MILTER_EXTRA: &str = "[dmarc]\nenforce = true\n";

/// The envelope sender of the attacker (SPF pass for 127.0.0.1) and the recipient.
pub(super) const ATTACKER: &str = "alice@pass.example";
pub(super) const RCPT: &str = "bob@remote.example";

/// True (with the extracted Sendmail) when the test should run; see `mta::enabled`.
pub(super) fn enabled() -> Option<SendmailRoot> {
    if !e2e_enabled() {
        return None;
    }
    assert!(
        nsd_binary().is_some(),
        "AUTHMILTER_E2E=1 but `nsd` is not installed (apt-get install nsd)"
    );
    Some(SendmailRoot::locate().unwrap_or_else(|e| panic!("AUTHMILTER_E2E=1 but {e}")))
}

/// Everything one test runs against; dropped in field order (Sendmail first).
pub(super) struct Stack {
    pub(super) sendmail: Sendmail,
    pub(super) recorder: MilterRecorder,
    pub(super) milter: Authmilter,
    pub(super) nsd: Nsd,
    pub(super) dir: tempfile::TempDir,
}

/// What the milter decided for one message, as the SMTP client and the queue show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decision {
    /// `accept`, `reject` or `tempfail` (from the end-of-DATA reply code).
    pub(super) action: String,
    /// `550 5.7.1 ...` for refusals.
    pub(super) reply: Option<String>,
    /// The `dmarc=` result.
    pub(super) dmarc: String,
    /// The `header.from` of the dmarc result ("" when none).
    pub(super) header_from: String,
}

impl Stack {
    /// Starts NSD (with [`RECORDS`]), authmilter, the recorder and Sendmail in a fresh
    /// work directory.
    pub(super) fn start(root: &SendmailRoot, name: &'static str) -> Stack {
        Self::start_in(root, crate::postfix::mta::workdir(name), name, "", "")
    }

    /// Like [`Stack::start`] in a work directory the test prepared (keys), with zone lines
    /// added to [`RECORDS`] and milter settings added to [`MILTER_EXTRA`].
    pub(super) fn start_in(
        root: &SendmailRoot,
        dir: tempfile::TempDir,
        name: &'static str,
        records: &str,
        milter_extra: &str,
    ) -> Stack {
        let nsd = start_nsd(records);
        let (milter, recorder) = recorded_milter(dir.path(), name, &nsd, milter_extra);
        // Sendmail's own socket syntax: inet:PORT@HOST
        let socket = format!("inet:{}@127.0.0.1", recorder.addr().port());
        let sendmail = Sendmail::start(root, dir.path(), name, &socket).unwrap_or_else(|e| {
            panic!(
                "Sendmail did not start: {e}\n--- milter log ---\n{}",
                milter.log_tail(20)
            )
        });
        Stack {
            sendmail,
            recorder,
            milter,
            nsd,
            dir,
        }
    }

    pub(super) fn submit(&self, mail_from: &str, msg: &[u8]) -> Submission {
        submit(self.sendmail.smtp(), mail_from, &[RCPT], msg)
            .unwrap_or_else(|e| panic!("SMTP to Sendmail failed: {e}\n{}", self.diagnostics()))
    }

    /// The end-of-DATA reply (panics with the logs when DATA never ended).
    pub(super) fn end(&self, sub: &Submission) -> Reply {
        sub.end.clone().unwrap_or_else(|| {
            panic!(
                "refused before end of DATA: {}\n{}",
                sub.final_reply(),
                self.diagnostics()
            )
        })
    }

    /// The queued message containing `marker` (Sendmail has written it before its 250).
    pub(super) fn queued(&self, marker: &str) -> Queued {
        process::poll(Duration::from_secs(10), || self.sendmail.queued(marker))
            .unwrap_or_else(|| panic!("no queue file with {marker}\n{}", self.diagnostics()))
    }

    /// What Sendmail passed to the milter for the message containing `marker`.
    pub(super) fn seen(&self, marker: &str) -> Transaction {
        self.recorder
            .find(marker)
            .unwrap_or_else(|| panic!("the milter never saw {marker}\n{}", self.diagnostics()))
    }

    /// Submits `msg` and reads the decision from the reply, the queue, and the milter's log.
    pub(super) fn decide(&self, mail_from: &str, msg: &[u8], marker: &str) -> Decision {
        let before = self.message_lines().len();
        let end = self.end(&self.submit(mail_from, msg));
        let action = match end.code {
            250 => "accept",
            550 => "reject",
            451 => "tempfail",
            _ => panic!("unexpected end-of-DATA reply {end}\n{}", self.diagnostics()),
        };
        let logged = process::poll(Duration::from_secs(10), || {
            self.message_lines().get(before).cloned()
        })
        .unwrap_or_else(|| panic!("the milter logged no decision\n{}", self.diagnostics()));
        let (dmarc, header_from) = if action == "accept" {
            let q = self.queued(marker);
            let ours = our_authres(&q);
            assert_eq!(ours.len(), 1, "our A-R once: {:?}", q.h_lines);
            dmarc_of(&ours[0])
        } else {
            assert!(
                self.sendmail.queue_files_with(marker).is_empty(),
                "a refused message was queued\n{}",
                self.diagnostics()
            );
            (
                log_field(&logged, "dmarc"),
                log_field(&logged, "from_domain"),
            )
        };
        Decision {
            action: action.into(),
            reply: (action != "accept").then(|| format!("{} {}", end.code, end.text())),
            dmarc,
            header_from,
        }
    }

    /// `authmilter eval` on `msg` with the envelope Sendmail had and the milter's own
    /// configuration and nameserver.
    pub(super) fn eval(&self, mail_from: &str, msg: &[u8]) -> Decision {
        let file = self.dir.path().join("eval.eml");
        std::fs::write(&file, msg).expect("write the message file");
        let config = self.milter_config();
        let dns = self.nsd.addr().to_string();
        let (code, out, err) = run_cli(
            &[
                "eval",
                path(&file),
                "--ip",
                "127.0.0.1",
                "--helo",
                "client.example",
                "--mail-from",
                mail_from,
                "--rcpt",
                RCPT,
                "--role",
                "verify",
                "-c",
                path(&config),
                "--dns",
                &dns,
                "--json",
            ],
            None,
        );
        assert_eq!(code, 0, "eval failed: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("eval JSON");
        let authres = v["authentication_results"].as_str().unwrap_or_default();
        let (dmarc, header_from) = dmarc_of(&format!("Authentication-Results: {authres}"));
        Decision {
            action: v["action"].as_str().unwrap_or("?").to_string(),
            reply: v["smtp_reply"].as_str().map(str::to_string),
            dmarc,
            header_from,
        }
    }

    fn milter_config(&self) -> std::path::PathBuf {
        std::fs::read_dir(self.dir.path())
            .expect("work directory")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "toml"))
            .expect("the milter's configuration")
    }

    /// The milter's per-message log lines.
    fn message_lines(&self) -> Vec<String> {
        self.milter
            .log_tail(100_000)
            .lines()
            .filter(|l| l.contains(" message ") || l.ends_with(" message"))
            .map(str::to_string)
            .collect()
    }

    pub(super) fn diagnostics(&self) -> String {
        let seen: Vec<String> = self
            .recorder
            .transactions()
            .iter()
            .map(|t| t.headers_escaped().join("\n  "))
            .collect();
        format!(
            "{}\n--- authmilter log (tail) ---\n{}\n--- headers Sendmail passed to the milter ---\n  {}\n--- NSD log ---\n{}",
            self.sendmail.output(),
            self.milter.log_tail(40),
            seen.join("\n  --\n  "),
            self.nsd.log()
        )
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The zone `example` with [`RECORDS`] and `records`.
pub(super) fn start_nsd(records: &str) -> Nsd {
    let records = format!("{RECORDS}{records}");
    Nsd::start(&[("example", &zone("example", &records))])
        .unwrap_or_else(|e| panic!("NSD did not start: {e}"))
}

/// authmilter with one `verify` listener on loopback TCP ([`MILTER_EXTRA`] and `extra` added to
/// its configuration) and the recorder in front of it: the MTA connects to the recorder.
pub(super) fn recorded_milter(
    dir: &Path,
    name: &str,
    nsd: &Nsd,
    extra: &str,
) -> (Authmilter, MilterRecorder) {
    let spec = MilterSpec {
        listeners: vec![Listener::inet("in", "verify")],
        socketmap: false,
        extra: format!("{MILTER_EXTRA}{extra}"),
    };
    let milter = Authmilter::start(dir, name, nsd.addr(), &spec).unwrap_or_else(|e| panic!("{e}"));
    let upstream = milter
        .socket("in")
        .strip_prefix("inet:")
        .and_then(|a| a.parse().ok())
        .expect("an inet listener");
    let recorder = MilterRecorder::start(upstream);
    (milter, recorder)
}

/// Our Authentication-Results fields (authserv-id ours) as `Name: value` lines.
pub(super) fn our_authres(q: &Queued) -> Vec<String> {
    q.message
        .all("Authentication-Results")
        .into_iter()
        .filter(|v| v.starts_with(&format!("{AUTHSERV_ID};")))
        .map(|v| format!("Authentication-Results: {v}"))
        .collect()
}

/// (`dmarc=` result, `header.from`) of an Authentication-Results field.
pub(super) fn dmarc_of(field: &str) -> (String, String) {
    let value = field.split_once(':').map_or("", |(_, v)| v);
    let ar = authres::parse(value.trim().as_bytes()).expect("our A-R parses");
    let Some(m) = ar.by_method("dmarc").next() else {
        return (String::new(), String::new());
    };
    let from = m
        .properties
        .iter()
        .find(|p| p.ptype == "header" && p.name == "from")
        .map(|p| p.value.clone())
        .unwrap_or_default();
    (m.result.clone(), from)
}

/// `key=value` from a log line (the value up to the next space).
fn log_field(line: &str, key: &str) -> String {
    let line = process::strip_ansi(line);
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

/// The decision of a queued (accepted) message.
pub(super) fn stack_decision_of(q: &Queued) -> Decision {
    let ours = our_authres(q);
    let (dmarc, header_from) = dmarc_of(&ours[0]);
    Decision {
        action: "accept".into(),
        reply: None,
        dmarc,
        header_from,
    }
}

/// One hostile message through Sendmail: the milter's decision (reply, queue, log), what
/// Sendmail passed to the milter, and the checks every hostile case shares: the milter decides
/// as `authmilter eval` decides for the same file and envelope, and a DMARC pass is only ever
/// for the domain of the first From field the queued message shows.
pub(super) struct Hostile {
    pub(super) decision: Decision,
    pub(super) seen: Transaction,
    pub(super) queued: Option<Queued>,
}

pub(super) fn hostile(stack: &Stack, tag: &str, head: &str) -> Hostile {
    let id = message_id(tag);
    let msg = format!("{head}Message-ID: {id}\r\n\r\nbody of {tag}\r\n");
    let decision = stack.decide(ATTACKER, msg.as_bytes(), &id);
    let seen = stack.seen(&id);
    println!(
        "{tag}: {decision:?}\n  Sendmail passed to the milter:\n    {}",
        seen.headers_escaped().join("\n    ")
    );
    let queued = (decision.action == "accept").then(|| stack.queued(&id));
    let eval = stack.eval(ATTACKER, msg.as_bytes());
    assert_eq!(
        decision,
        eval,
        "{tag}: the milter behind Sendmail and eval disagree\n{}",
        stack.diagnostics()
    );
    if decision.dmarc == "pass" {
        let q = queued.as_ref().expect("accepted");
        let first = first_from_domain(q);
        assert_eq!(
            Some(decision.header_from.as_str()),
            first.as_deref(),
            "{tag}: DMARC pass for a domain the first From does not show: {:?}",
            q.h_lines
        );
    }
    Hostile {
        decision,
        seen,
        queued,
    }
}

/// The domain of the first From field of a queued message, as a reader would take it.
fn first_from_domain(q: &Queued) -> Option<String> {
    let from = q.message.headers.iter().find(|h| h.is("From"))?;
    let at = from.value.rfind('@')?;
    let domain: String = from.value[at + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    Some(domain.to_ascii_lowercase())
}
