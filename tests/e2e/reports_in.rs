//! Reports in, through the milter: `authmilter serve` with `[reports.inbox]`, driven by the
//! fake MTA over loopback. A message to the report address is read and stored (gzip, zip,
//! text/xml attachments, nested multiparts), then delivered or discarded as configured;
//! discard happens only once the reports are stored; what cannot be read is delivered and
//! logged; other mail is never captured. Also the helpers the other reports-in tests share
//! (report XML, report mails, the vendored samples).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use reports::vocabulary::{
    ActionDisposition, AlignedResult, Disposition, DkimResult, SpfResult, SpfScope,
};
use reports::{
    AuthResults, DateRange, DkimAuthResult, Feedback, Identifiers, PolicyEvaluated,
    PolicyPublished, Record, ReportMetadata, Row, SpfAuthResult,
};
use testkit::{EomOutcome, MtaClient, Profile};

use crate::support::{ServeProcess, run_cli};
use test_support::free_port;

pub(crate) const DAY: u64 = 86_400;

/// The vendored report samples (crates/reports/tests/data/samples, see SOURCE.md there).
pub(crate) fn sample(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/reports/tests/data/samples")
        .join(path)
}

pub(crate) fn read_sample(path: &str) -> Vec<u8> {
    std::fs::read(sample(path)).expect("sample")
}

/// One row of a synthetic report: a source, its messages and results.
#[derive(Debug, Clone)]
pub(crate) struct Src {
    pub ip: &'static str,
    pub count: u64,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    pub spf: SpfResult,
    /// (d=, s=, result) of the one signature, if any.
    pub dkim: Option<(&'static str, &'static str, DkimResult)>,
    pub disposition: ActionDisposition,
}

impl Src {
    /// A source passing everything with a signature of `domain`, selector `s1`.
    pub fn good(ip: &'static str, count: u64, domain: &'static str) -> Src {
        Src {
            ip,
            count,
            spf_aligned: true,
            dkim_aligned: true,
            spf: SpfResult::Pass,
            dkim: Some((domain, "s1", DkimResult::Pass)),
            disposition: ActionDisposition::None,
        }
    }

    /// A source failing everything, rejected.
    pub fn spoofer(ip: &'static str, count: u64) -> Src {
        Src {
            ip,
            count,
            spf_aligned: false,
            dkim_aligned: false,
            spf: SpfResult::Fail,
            dkim: None,
            disposition: ActionDisposition::Reject,
        }
    }
}

/// An RFC 9990 report of `org` about `domain` for the UTC day starting at `day`.
pub(crate) fn report(org: &str, id: &str, domain: &str, day: u64, rows: &[Src]) -> Feedback {
    Feedback {
        version: Some("1.0".into()),
        metadata: ReportMetadata {
            org_name: org.into(),
            email: format!("noreply-dmarc@{org}"),
            extra_contact_info: None,
            report_id: id.into(),
            date_range: DateRange {
                begin: day,
                end: day + DAY - 1,
            },
            errors: Vec::new(),
            generator: None,
        },
        policy: PolicyPublished {
            domain: domain.into(),
            discovery_method: None,
            p: Disposition::Reject,
            sp: None,
            np: None,
            adkim: None,
            aspf: None,
            pct: None,
            fo: None,
            testing: None,
        },
        records: rows
            .iter()
            .map(|s| Record {
                row: Row {
                    source_ip: s.ip.parse().expect("ip"),
                    count: s.count,
                    policy_evaluated: PolicyEvaluated {
                        disposition: s.disposition,
                        dkim: AlignedResult::from_bool(s.dkim_aligned),
                        spf: AlignedResult::from_bool(s.spf_aligned),
                        reasons: Vec::new(),
                    },
                },
                identifiers: Identifiers {
                    header_from: domain.into(),
                    envelope_from: Some(domain.into()),
                    envelope_to: None,
                },
                auth_results: AuthResults {
                    dkim: s
                        .dkim
                        .iter()
                        .map(|(d, sel, result)| DkimAuthResult {
                            domain: (*d).into(),
                            selector: Some((*sel).into()),
                            result: *result,
                            human_result: None,
                        })
                        .collect(),
                    spf: vec![SpfAuthResult {
                        domain: domain.into(),
                        scope: Some(SpfScope::MailFrom),
                        result: s.spf,
                        human_result: None,
                    }],
                },
            })
            .collect(),
    }
}

pub(crate) fn xml(fb: &Feedback) -> Vec<u8> {
    reports::write_feedback(fb, reports::ReportFormat::Rfc9990).expect("write report")
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

pub(crate) fn zip(name: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .expect("zip entry");
    w.write_all(data).expect("zip");
    w.finish().expect("zip").into_inner()
}

/// A report mail (RFC 9990 §3.5.2): a text part and the attachments
/// `(content type, file name, bytes)`, base64, in one multipart/mixed; `marker` goes into the
/// Message-ID and the subject.
pub(crate) fn report_mail(to: &str, marker: &str, parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let b = "==report-boundary==";
    let mut m = format!(
        "From: noreply-dmarc@reporter.example\r\nTo: {to}\r\n\
         Subject: Report Domain: example.com Submitter: reporter.example {marker}\r\n\
         Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <{marker}@reporter.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n\
         --{b}\r\nContent-Type: text/plain\r\n\r\nThis is an aggregate report.\r\n"
    );
    for (ctype, name, data) in parts {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        m.push_str(&format!(
            "--{b}\r\nContent-Type: {ctype}; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        for line in encoded.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            m.push_str("\r\n");
        }
    }
    m.push_str(&format!("--{b}--\r\n"));
    m.into_bytes()
}

/// A `serve` with `[reports.inbox]` for `dmarc@rx.example` and its store.
pub(crate) struct Inbox {
    /// Holds the store and the zone.
    pub _dir: tempfile::TempDir,
    pub serve: ServeProcess,
    pub port: u16,
    pub config: PathBuf,
}

impl Inbox {
    pub fn start(inbox: &str) -> Inbox {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("zone"), "rx.example A 192.0.2.25\n").expect("zone");
        let port = free_port();
        let toml = format!(
            "[server]\neom_timeout = \"60s\"\n\
             [[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
             [authres]\nauthserv_id = \"mx.rx.example\"\n\
             [reports]\nstore = \"sqlite:{}\"\n\
             [reports.inbox]\naddresses = [\"dmarc@rx.example\"]\nresolve_names = false\n{inbox}",
            dir.path().join("reports.db").display()
        );
        let zone = dir.path().join("zone");
        let serve = ServeProcess::start(&toml, port, &["--zone", zone.to_str().expect("path")]);
        let config = serve.config_path();
        Inbox {
            _dir: dir,
            serve,
            port,
            config,
        }
    }

    /// Sends `raw` from 192.0.2.10 to `rcpts`; the end-of-message outcome.
    pub async fn send(&self, rcpts: &[&str], raw: &[u8]) -> EomOutcome {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", self.port).parse().expect("addr");
        let mut mta = MtaClient::connect_tcp(
            addr,
            Profile::postfix().with_timeout(Duration::from_secs(60)),
        )
        .await
        .expect("connect");
        mta.negotiate().await.expect("negotiate");
        let ip = "192.0.2.10".parse().expect("ip");
        mta.connect("mail.reporter.example", ip, 40000, &[])
            .await
            .expect("connect");
        mta.helo("mail.reporter.example", &[]).await.expect("helo");
        mta.mail("<noreply-dmarc@reporter.example>", &[], &[])
            .await
            .expect("mail");
        for r in rcpts {
            mta.rcpt(&format!("<{r}>"), &[], &[]).await.expect("rcpt");
        }
        let outcome = mta.send_message(raw).await.expect("message");
        let _ = mta.quit().await;
        outcome
    }

    /// The store's report ids (org_name, report_id) via `report show --json` for the days
    /// around now and the samples' 2012 and 2022 days.
    pub fn show(&self, args: &[&str]) -> serde_json::Value {
        let cfg = self.config.to_str().expect("path");
        let mut all = vec!["report", "show", "--json", "-c", cfg];
        all.extend_from_slice(args);
        let (code, out, err) = run_cli(&all, None);
        assert_eq!(code, 0, "report show: {err}");
        serde_json::from_str(&out).expect("JSON")
    }

    /// Messages stored for `domain` on the day starting `day` (0 when none).
    pub fn messages(&self, domain: &str, day: u64) -> u64 {
        stored_messages(&self.config, domain, day)
    }

    /// Waits (bounded) until `domain` has `n` messages on `day`.
    pub fn wait_messages(&self, domain: &str, day: u64, n: u64) {
        wait_stored_messages(
            &self.config,
            domain,
            day,
            n,
            Duration::from_secs(20),
            || self.serve.log_tail(30),
        );
    }
}

/// Messages stored for `domain` on the day starting `day` (0 when none), as
/// `report show --json -c config` says.
pub(crate) fn stored_messages(config: &Path, domain: &str, day: u64) -> u64 {
    let d = ymd(day);
    let cfg = config.to_str().expect("path");
    let (code, out, err) = run_cli(
        &[
            "report", "show", "--json", "-c", cfg, "--domain", domain, "--since", &d, "--until", &d,
        ],
        None,
    );
    assert_eq!(code, 0, "report show: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    v["messages"].as_u64().expect("messages")
}

/// Waits (at most `limit`) until the store of `config` holds `n` messages for `domain` on
/// `day`; fails the test with `diagnostics()` otherwise.
pub(crate) fn wait_stored_messages(
    config: &Path,
    domain: &str,
    day: u64,
    n: u64,
    limit: Duration,
    diagnostics: impl Fn() -> String,
) {
    let got = test_support::process::poll(limit, || {
        (stored_messages(config, domain, day) == n).then_some(())
    });
    assert!(
        got.is_some(),
        "{domain}: not {n} messages stored (now {})\n{}",
        stored_messages(config, domain, day),
        diagnostics()
    );
}

/// `YYYY-MM-DD` of a day.
pub(crate) fn ymd(t: u64) -> String {
    authmilter::reports::period::format_day(t)
}

/// Today's first second, and some days back.
pub(crate) fn days_ago(n: u64) -> u64 {
    let now = dkim::unix_now();
    now - now % DAY - n * DAY
}

#[tokio::test(flavor = "multi_thread")]
async fn deliver_reads_reports_in_the_background_and_never_captures_other_mail() {
    let inbox = Inbox::start("action = \"deliver\"\nmax_size = 262144\n");
    let day = days_ago(1);
    let fb = report(
        "reporter.example",
        "deliver-1",
        "example.com",
        day,
        &[
            Src::good("192.0.2.1", 40, "example.com"),
            Src::spoofer("198.51.100.7", 2),
        ],
    );
    let gz = gzip(&xml(&fb));
    let msg = report_mail(
        "dmarc@rx.example",
        "deliver-1",
        &[(
            "application/gzip",
            "reporter.example!example.com!1!2.xml.gz",
            &gz,
        )],
    );
    let out = inbox.send(&["DMARC@rx.example"], &msg).await;
    assert_eq!(out.action(), "accept", "delivered: {out:?}");
    inbox.wait_messages("example.com", day, 42);

    // a vendored real report mail: zip attachment (mail-auth 100.eml, stalw.art)
    let out = inbox
        .send(&["dmarc@rx.example"], &read_sample("mail-auth/100.eml"))
        .await;
    assert_eq!(out.action(), "accept");
    let d100 = 1_669_507_200; // 2022-11-27, the report's day
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.messages("stalw.art", d100) == 0 {
        assert!(Instant::now() < deadline, "{}", inbox.serve.log_tail(30));
        std::thread::sleep(Duration::from_millis(100));
    }

    // over max_size: delivered untouched, unread, logged
    let big = report_mail(
        "dmarc@rx.example",
        "too-big",
        &[(
            "text/xml",
            "big.xml",
            &read_sample("dmarc-reports/good.com!example.com!1337270400!1337356799.xml"),
        )],
    );
    let out = inbox.send(&["dmarc@rx.example"], &big).await;
    assert_eq!(out.action(), "accept");
    assert!(
        inbox.serve.log_text().contains(
            "message not read (larger than reports.inbox.max_size (262144 bytes)); delivered untouched"
        ),
        "{}",
        inbox.serve.log_tail(20)
    );
    assert_eq!(inbox.messages("example.com", 1_337_212_800), 0);

    // mail to anyone else is not captured, even with a report attached
    let other = report_mail(
        "bob@rx.example",
        "not-for-inbox",
        &[("text/xml", "r.xml", &read_sample("mail-auth/003.xml"))],
    );
    let before = inbox.serve.log_text().matches("reports inbox").count();
    let out = inbox.send(&["bob@rx.example"], &other).await;
    assert_eq!(out.action(), "accept");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        inbox.serve.log_text().matches("reports inbox").count(),
        before
    );
    assert_eq!(inbox.messages("stalw.art", 1_667_347_200), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn discard_only_once_stored_and_unreadable_reports_are_delivered() {
    let inbox = Inbox::start("action = \"discard\"\ndiscard_timeout = \"20s\"\n");
    let day = days_ago(2);

    // each kind of attachment: discarded, and in the store the moment the milter answered
    let plain = xml(&report(
        "reporter.example",
        "xml-1",
        "example.com",
        day,
        &[Src::good("192.0.2.1", 5, "example.com")],
    ));
    let zipped = zip(
        "reporter.example!example.com!1!2.xml",
        &xml(&report(
            "reporter.example",
            "zip-1",
            "example.com",
            day,
            &[Src::good("192.0.2.2", 7, "example.com")],
        )),
    );
    for (marker, parts, total) in [
        (
            "text-xml",
            vec![("text/xml", "r.xml", plain.as_slice())],
            5u64,
        ),
        (
            "zip",
            vec![("application/zip", "r.zip", zipped.as_slice())],
            12,
        ),
    ] {
        let out = inbox
            .send(
                &["dmarc@rx.example"],
                &report_mail("dmarc@rx.example", marker, &parts),
            )
            .await;
        assert_eq!(out.action(), "discard", "{marker}: {out:?}");
        assert_eq!(inbox.messages("example.com", day), total, "{marker}");
    }
    // vendored report mails: gzip in multipart/mixed (101), nested multiparts (102), gzip as
    // application/octet-stream named .xml.gz (104)
    for eml in ["101", "102", "104"] {
        let out = inbox
            .send(
                &["dmarc@rx.example"],
                &read_sample(&format!("mail-auth/{eml}.eml")),
            )
            .await;
        assert_eq!(out.action(), "discard", "{eml}.eml");
    }
    let stalwart = inbox.show(&["--since", "2022-09-01", "--until", "2022-11-30"]);
    let reports: u64 = stalwart["domains"]
        .as_array()
        .expect("domains")
        .iter()
        .map(|d| d["reports"].as_u64().expect("reports"))
        .sum();
    assert_eq!(reports, 3, "{stalwart:#}");
    // the same report again: already stored, so discarding loses nothing
    let out = inbox
        .send(&["dmarc@rx.example"], &read_sample("mail-auth/101.eml"))
        .await;
    assert_eq!(out.action(), "discard");

    // a broken attachment: delivered untouched, the reason in the log
    let mut broken = gzip(&plain);
    broken.truncate(broken.len() / 2);
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &report_mail(
                "dmarc@rx.example",
                "broken",
                &[("application/gzip", "broken.xml.gz", &broken)],
            ),
        )
        .await;
    assert_eq!(out.action(), "accept", "{out:?}");
    let log = inbox.serve.log_text();
    assert!(
        log.contains("cannot read a report") && log.contains("gzip"),
        "{log}"
    );
    assert!(
        log.contains("message delivered, not discarded: no report could be read"),
        "{log}"
    );

    // one good and one broken report: the good one is stored, the message delivered
    let good = xml(&report(
        "reporter.example",
        "mixed-1",
        "example.com",
        day,
        &[Src::spoofer("198.51.100.9", 3)],
    ));
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &report_mail(
                "dmarc@rx.example",
                "mixed",
                &[
                    ("text/xml", "good.xml", &good),
                    ("text/xml", "bad.xml", b"<feedback><report_metadata>"),
                ],
            ),
        )
        .await;
    assert_eq!(out.action(), "accept");
    assert_eq!(inbox.messages("example.com", day), 15);
    assert!(
        inbox
            .serve
            .log_text()
            .contains("a part could not be read (1 stored, 0 already stored, 1 unreadable)")
    );

    // another recipient besides the report address: delivered to all, the report stored
    let other = xml(&report(
        "reporter.example",
        "two-rcpts",
        "example.com",
        day,
        &[Src::good("192.0.2.3", 1, "example.com")],
    ));
    let out = inbox
        .send(
            &["dmarc@rx.example", "bob@rx.example"],
            &report_mail("dmarc@rx.example", "two", &[("text/xml", "r.xml", &other)]),
        )
        .await;
    assert_eq!(out.action(), "accept");
    inbox.wait_messages("example.com", day, 16);

    // no report at all: delivered
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &crate::support::message(&[
                "From: someone@elsewhere.example",
                "To: dmarc@rx.example",
                "Subject: question about your DMARC policy",
                "",
                "Hello, why do you reject my mail?",
            ]),
        )
        .await;
    assert_eq!(out.action(), "accept");
    assert!(
        inbox
            .serve
            .log_text()
            .contains("no report attachment found")
    );
}

/// Hostile report mail (anyone can write to the `rua` address): with `domains` set, a report
/// about a domain that is not ours is not stored and its message is delivered, not
/// discarded; a forged report sent first with a real report's Report-ID does not hide the
/// real one (RFC 9990 §3.5.1, §3.5.4), both are kept and a warning names the reused ID.
#[tokio::test(flavor = "multi_thread")]
async fn reports_about_other_domains_and_reused_report_ids() {
    let inbox = Inbox::start(
        "action = \"discard\"\ndiscard_timeout = \"20s\"\ndomains = [\"example.com\"]\n",
    );
    let day = days_ago(3);
    let send = |id: &str, domain: &str, rows: &[Src]| {
        let body = xml(&report("reporter.example", id, domain, day, rows));
        report_mail(
            "dmarc@rx.example",
            id,
            &[("text/xml", "r.xml", body.as_slice())],
        )
    };
    // about someone else's domain: delivered, not stored, logged
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &send(
                "foreign-1",
                "paypal.example",
                &[Src::spoofer("198.51.100.1", 9)],
            ),
        )
        .await;
    assert_eq!(out.action(), "accept", "{out:?}");
    assert_eq!(inbox.messages("paypal.example", day), 0);
    let log = inbox.serve.log_text();
    assert!(
        log.contains("report about a domain reports.inbox.domains does not list; not stored")
            && log.contains("message delivered, not discarded: a report is about a domain reports.inbox.domains does not list"),
        "{}",
        inbox.serve.log_tail(20)
    );
    // a subdomain of ours is ours
    let out = inbox
        .send(
            &["dmarc@rx.example"],
            &send(
                "sub-1",
                "mail.example.com",
                &[Src::good("192.0.2.4", 2, "mail.example.com")],
            ),
        )
        .await;
    assert_eq!(out.action(), "discard", "{out:?}");
    assert_eq!(inbox.messages("mail.example.com", day), 2);

    // a forgery with the real report's Report-ID arrives first; then the real report
    let forged = send(
        "rid-7",
        "example.com",
        &[Src::good("203.0.113.66", 1000, "example.com")],
    );
    let real = send("rid-7", "example.com", &[Src::spoofer("198.51.100.7", 5)]);
    assert_eq!(
        inbox.send(&["dmarc@rx.example"], &forged).await.action(),
        "discard"
    );
    assert_eq!(
        inbox.send(&["dmarc@rx.example"], &real).await.action(),
        "discard"
    );
    assert_eq!(inbox.messages("example.com", day), 1005, "both kept");
    assert!(
        inbox.serve.log_text().contains(
            "a report with this Report-ID but other contents was stored before; both are kept"
        ),
        "{}",
        inbox.serve.log_tail(20)
    );
    // each of them again: a duplicate, nothing counted twice
    for again in [&forged, &real] {
        assert_eq!(
            inbox.send(&["dmarc@rx.example"], again).await.action(),
            "discard"
        );
    }
    assert_eq!(inbox.messages("example.com", day), 1005);
}
