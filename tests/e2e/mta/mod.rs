//! Harness for end-to-end tests with a real MTA (docs/testing-with-mtas.md).
//!
//! A [`Stack`] is everything one test needs, all on loopback and all started by the test:
//!
//! ```text
//!  test ──SMTP──▶ Postfix (own config/queue/data dirs) ──SMTP──▶ sink (in-process, records)
//!                   │  smtpd_milters          │ canonical maps (socketmap)
//!                   ▼                         ▼
//!                authmilter serve -c <generated> --dns <NSD>
//!                   │
//!                   ▼
//!                NSD serving the zone `example` (every test domain is under it, so that no
//!                lookup, not even the DMARC tree walk, leaves the zone and gets REFUSED)
//! ```
//!
//! Nothing is installed here (`tests/run.sh` installs `postfix` and `nsd`); everything started
//! is stopped by PID when the stack is dropped, also when the test panics. Fields drop in
//! declaration order: Postfix first, then the milter, the sink, NSD, and the work directory.

pub mod dns_fault;
pub mod message;
pub mod milter;
pub mod milter_recorder;
pub mod postfix;
pub mod sendmail;
pub mod sink;
pub mod smtp;

use std::net::SocketAddr;
use std::time::Duration;

use test_support::nsd::{Nsd, nsd_binary, zone};
use test_support::{e2e_enabled, process};

pub use message::{compose, message_id};
pub use milter::{AUTHSERV_ID, Authmilter, Listener, MilterSpec};
pub use postfix::{Postfix, PostfixSpec, SmtpService};
pub use sink::{Delivered, Sink};
pub use smtp::{Submission, submit};

/// How long a test waits for a message to reach the sink.
pub const DELIVERY_LIMIT: Duration = Duration::from_secs(60);

/// Records every stack's zone `example` has: the client's name and address, and SPF for its
/// HELO name. Tests add their own. (iprev of 127.0.0.1 needs no zone: the resolver answers
/// `localhost` for loopback itself, RFC 6761 §6.3, so iprev passes as `localhost`.)
const BASE_RECORDS: &str = "\
client          IN A    127.0.0.1
client          IN TXT  \"v=spf1 ip4:127.0.0.1 -all\"
";

/// True when the real-MTA tests should run (they are also `#[ignore = "needs AUTHMILTER_E2E=1"]`).
/// Without `AUTHMILTER_E2E=1` this prints that the test was skipped; with it, a missing
/// `postfix` or `nsd` is a failure, not a skip.
pub fn enabled() -> bool {
    if !e2e_enabled() {
        return false;
    }
    assert!(
        process::find_program("postfix").is_some(),
        "AUTHMILTER_E2E=1 but `postfix` is not installed (apt-get install postfix)"
    );
    assert!(
        nsd_binary().is_some(),
        "AUTHMILTER_E2E=1 but `nsd` is not installed (apt-get install nsd)"
    );
    true
}

/// What one test's stack looks like.
#[derive(Debug, Clone)]
pub struct StackSpec {
    /// A short name for directories and logs.
    pub name: &'static str,
    /// Zone-file lines added to the zone `example` (names relative to `example.`).
    pub records: String,
    /// The milter's listeners and extra configuration.
    pub milter: MilterSpec,
    /// Postfix's services and settings. In service options and main.cf values,
    /// `{milter:NAME}` becomes the milter listener NAME (`inet:127.0.0.1:PORT` or `unix:PATH`) and
    /// `{socketmap}` the milter's SRS socketmap.
    pub postfix: PostfixSpec,
}

/// Everything one test runs against. Dropped in field order (see the module docs).
pub struct Stack {
    /// The MTA.
    pub postfix: Postfix,
    /// The milter.
    pub milter: Authmilter,
    /// Where Postfix relays every message.
    pub sink: Sink,
    /// A SERVFAIL injector between the milter and NSD, when the test wants DNS faults.
    pub dns_fault: Option<dns_fault::DnsFault>,
    /// The nameserver for the milter.
    pub nsd: Nsd,
    /// Work directory: configs, keys, logs, Postfix's directories.
    pub dir: tempfile::TempDir,
}

impl Stack {
    /// Starts NSD, the sink, the milter and Postfix, in that order.
    pub fn start(spec: StackSpec) -> Stack {
        let dir = workdir(spec.name);
        Self::start_in(dir, spec)
    }

    /// Like [`Stack::start`] in a work directory the test already prepared (e.g. with keys).
    pub fn start_in(dir: tempfile::TempDir, spec: StackSpec) -> Stack {
        Self::start_full(dir, spec, &[])
    }

    /// Like [`Stack::start`], with the milter's DNS answering SERVFAIL for the names in
    /// `servfail` (fully qualified, e.g. `_dmarc.bounce.pass.example`).
    pub fn start_with_servfail(spec: StackSpec, servfail: &[&str]) -> Stack {
        let dir = workdir(spec.name);
        Self::start_full(dir, spec, servfail)
    }

    fn start_full(dir: tempfile::TempDir, spec: StackSpec, servfail: &[&str]) -> Stack {
        let records = format!("{BASE_RECORDS}{}", spec.records);
        let nsd = Nsd::start(&[("example", &zone("example", &records))])
            .unwrap_or_else(|e| panic!("NSD did not start: {e}"));
        let dns_fault =
            (!servfail.is_empty()).then(|| dns_fault::DnsFault::start(nsd.addr(), servfail));
        let resolver = dns_fault.as_ref().map_or(nsd.addr(), |f| f.addr());
        let sink = Sink::start();
        let milter = Authmilter::start(dir.path(), spec.name, resolver, &spec.milter)
            .unwrap_or_else(|e| panic!("{e}"));
        let fill = |v: &str| -> String {
            let mut v = v.replace("{socketmap}", &milter.socketmap().unwrap_or_default());
            for l in &spec.milter.listeners {
                v = v.replace(&format!("{{milter:{}}}", l.name), &milter.socket(&l.name));
            }
            v
        };
        let mut pf = spec.postfix.clone();
        for s in &mut pf.services {
            for (_, v) in &mut s.options {
                *v = fill(v);
            }
        }
        for (_, v) in &mut pf.main {
            *v = fill(v);
        }
        let postfix = Postfix::start(dir.path(), spec.name, sink.addr(), &pf).unwrap_or_else(|e| {
            panic!(
                "Postfix did not start: {e}\n--- milter log ---\n{}",
                milter.log_tail(20)
            )
        });
        Stack {
            postfix,
            milter,
            sink,
            dns_fault,
            nsd,
            dir,
        }
    }

    /// The address of a Postfix SMTP service.
    pub fn smtp(&self, service: &str) -> SocketAddr {
        self.postfix.smtp(service)
    }

    /// Submits one message over SMTP to a Postfix service.
    pub fn submit(&self, service: &str, from: &str, rcpts: &[&str], msg: &[u8]) -> Submission {
        submit(self.smtp(service), from, rcpts, msg)
            .unwrap_or_else(|e| panic!("SMTP submission failed: {e}\n{}", self.diagnostics()))
    }

    /// The message containing `marker` as the sink received it; panics with the logs when it
    /// does not arrive within [`DELIVERY_LIMIT`].
    pub fn delivered(&self, marker: &str) -> Delivered {
        self.sink
            .wait_for_marker(DELIVERY_LIMIT, marker)
            .unwrap_or_else(|| {
                panic!(
                    "no message with {marker} reached the sink within {DELIVERY_LIMIT:?}\n{}",
                    self.diagnostics()
                )
            })
    }

    /// The first sink message for which `pred` holds; panics with the logs when none arrives
    /// within [`DELIVERY_LIMIT`].
    pub fn delivered_where(&self, what: &str, pred: impl Fn(&Delivered) -> bool) -> Delivered {
        self.sink.wait_for(DELIVERY_LIMIT, pred).unwrap_or_else(|| {
            panic!(
                "no {what} reached the sink within {DELIVERY_LIMIT:?}\n{}",
                self.diagnostics()
            )
        })
    }

    /// Fails the test when Postfix logged a warning or error about a milter or a map (our
    /// socketmap), or authmilter logged a warning or an error: such problems can hide behind
    /// a message that still got through (e.g. `milter_default_action`, a retried lookup).
    pub fn assert_quiet_logs(&self) {
        let postfix = self.postfix.log_tail(10_000);
        let bad: Vec<&str> = postfix
            .lines()
            .filter(|l| {
                ["warning:", "error:", "fatal:", "panic:"]
                    .iter()
                    .any(|w| l.contains(w))
                    && ["milter", "socketmap", "table", "map"]
                        .iter()
                        .any(|w| l.contains(w))
            })
            .collect();
        assert!(bad.is_empty(), "Postfix complained:\n{}", bad.join("\n"));
        let milter = self.milter.log_tail(10_000);
        let bad: Vec<&str> = milter
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .collect();
        assert!(bad.is_empty(), "authmilter complained:\n{}", bad.join("\n"));
    }

    /// The tails of every log, for failure messages.
    pub fn diagnostics(&self) -> String {
        let faults = self
            .dns_fault
            .as_ref()
            .map(|f| {
                format!(
                    "(the milter's DNS goes through the SERVFAIL proxy {})\n",
                    f.addr()
                )
            })
            .unwrap_or_default();
        format!(
            "{faults}--- Postfix maillog (tail) ---\n{}\n--- authmilter log (tail) ---\n{}\n\
             --- sink transcript ---\n{}\n--- NSD log ---\n{}",
            self.postfix.log_tail(40),
            self.milter.log_tail(40),
            self.sink.transcript(),
            self.nsd.log()
        )
    }
}

/// A fresh work directory for one test.
pub fn workdir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("authmilter-mta-{name}-"))
        .tempdir()
        .expect("create a temporary directory")
}

/// The harness's own pieces, without Postfix (runs always): the SMTP client against the sink
/// (dot-stuffing both ways, envelope recorded), message parsing, log cleaning.
#[test]
fn harness_sink_client_and_parser_agree() {
    let sink = Sink::start();
    let id = message_id("harness");
    let msg = compose(
        "a@x.example",
        "b@y.example",
        "self-check",
        &id,
        &["X-Folded: one\r\n\ttwo"],
    );
    let sub = submit(
        sink.addr(),
        "a@x.example",
        &["b@y.example", "c@y.example"],
        &msg,
    )
    .expect("SMTP to the sink");
    assert!(sub.accepted(), "{}", sub.final_reply());
    let d = sink
        .wait_for_marker(Duration::from_secs(10), &id)
        .expect("the sink recorded the message");
    assert_eq!(d.mail_from, "a@x.example");
    assert_eq!(d.rcpts, ["b@y.example", "c@y.example"]);
    assert_eq!(d.data, msg, "dot-stuffing must be undone exactly");
    let m = d.message();
    assert_eq!(m.all("X-Folded"), ["one two"]);
    let folded: &[u8] = b"X-Folded: one\r\n\ttwo\r\n";
    assert_eq!(m.headers[0].raw, folded);
    assert_eq!(
        m.without(|h| h.is("X-Folded")),
        msg[folded.len()..].to_vec()
    );
    assert_eq!(
        process::strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m x"),
        "2026  WARN x"
    );
}
