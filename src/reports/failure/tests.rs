//! The failure report producer driven the way `serve` runs it: a failed message through its
//! channel, an in-memory DNS whose destination verification record first fails (SERVFAIL) and
//! then heals, a real SQLite store; and the bounds of the retry list.

use std::sync::Arc;
use std::time::Duration;

use dns::Resolver;
use dns::memory::{MemoryResolver, RecordType};
use report_store::sql::Stmt;
use report_store::{Store, StoreLocation};
use reports::vocabulary::{
    AlignmentMode, DiscoveryMethod, Disposition, DmarcResult, FailureOption, Mode, Psd, SpfResult,
    SpfScope,
};
use reports::{PublishedPolicy, ReportAddress, SpfObservation};

use super::retry::{RetryList, RetryPolicy};
use super::*;
use crate::config::Config;

const INTERNAL: &str = "mailto:ruf@a.example";
const HEALS: &str = "mailto:ruf@reports.other.example";
const NO_RECORD: &str = "mailto:ruf@gone.example";
const STAYS_DOWN: &str = "mailto:ruf@down.example";

/// A message from a.example that failed DMARC, whose record asks for failure reports
/// (`fo=1`) to `ruf`.
fn candidate(ruf: &[&str]) -> FailureCandidate {
    let observation = Observation {
        time: 1_700_000_000,
        source_ip: "192.0.2.2".parse().unwrap(),
        header_from: "a.example".into(),
        envelope_from: "a.example".into(),
        envelope_to: vec!["rx.example".into()],
        policy_domain: Some("a.example".into()),
        result: DmarcResult::Fail,
        disposition: Disposition::Reject,
        requested_policy: Some(Disposition::Reject),
        overrides: Vec::new(),
        spf: Some(SpfObservation {
            domain: "a.example".into(),
            scope: SpfScope::MailFrom,
            result: SpfResult::Fail,
            aligned: true,
        }),
        dkim: Vec::new(),
        published: Some(PublishedPolicy {
            p: Disposition::Reject,
            sp: None,
            np: None,
            adkim: AlignmentMode::Relaxed,
            aspf: AlignmentMode::Relaxed,
            testing: false,
            pct: 100,
            psd: Psd::Unknown,
            fo: vec![FailureOption::Any],
            rua: Vec::new(),
            ruf: ruf
                .iter()
                .map(|u| ReportAddress {
                    uri: (*u).into(),
                    max_size: None,
                })
                .collect(),
            discovery_method: DiscoveryMethod::TreeWalk,
            errors: Vec::new(),
        }),
        mode: Mode::Rfc9989,
    };
    let field = |n: &str, v: &str| message::HeaderField {
        name: n.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    };
    FailureCandidate {
        observation,
        envelope: Envelope {
            source_ip: Some("192.0.2.2".parse().unwrap()),
            helo: "mail.a.example".into(),
            mail_from: "user@a.example".into(),
            rcpt_to: vec!["rcpt@rx.example".into()],
            envelope_id: None,
        },
        headers: Some(Arc::new(vec![
            field("From", " user@a.example"),
            field("To", " rcpt@rx.example"),
            field("Subject", " hello"),
        ])),
        body: None,
        spf_records: vec![("a.example".into(), "v=spf1 -all".into())],
    }
}

/// The external verification record of a.example's reports at `host` (RFC 9991 §5,
/// RFC 9990 §4).
fn verification(host: &str) -> String {
    format!("a.example._report._dmarc.{host}")
}

fn txt_queries(dns: &MemoryResolver, name: &str) -> usize {
    dns.queries()
        .iter()
        .filter(|(t, n)| *t == RecordType::Txt && n == name)
        .count()
}

/// An app with failure reports on, DNS answered from `zone`, and its SQLite store under `dir`.
async fn failure_setup(dir: &std::path::Path, zone: &str) -> (App, Store) {
    let db = dir.join("reports.db");
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nenabled = true\nstore = \"sqlite:{}\"\nemail = \"dmarc-reports@rx.example\"\n\
         [reports.failure]\nenabled = true\n",
        db.display()
    );
    let dns: Arc<dyn Resolver> = Arc::new(MemoryResolver::from_zone(zone).unwrap());
    let app = App::new(Config::parse(&toml).unwrap(), dns).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(db), 1_700_000_000)
        .await
        .unwrap();
    (app, store)
}

async fn queued(store: &Store) -> Vec<(String, String)> {
    let rows = store
        .read(vec![Stmt::new(
            "SELECT destination, uri FROM failure_reports ORDER BY id",
            Vec::new(),
        )])
        .await
        .unwrap();
    rows[0]
        .iter()
        .map(|r| (r.text(0).unwrap(), r.text(1).unwrap()))
        .collect()
}

/// Polls `cond` every 5 ms for at most 10 s.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_dns_error_is_retried_until_healed_and_queued_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reports.db");
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nenabled = true\nstore = \"sqlite:{}\"\nemail = \"dmarc-reports@rx.example\"\n\
         [reports.failure]\nenabled = true\n",
        db.display()
    );
    let dns = Arc::new(
        MemoryResolver::from_zone(
            "a.example MX 10 mx.a.example\n\
             reports.other.example MX 10 mx.other.example\n\
             gone.example MX 10 mx.gone.example\n\
             down.example MX 10 mx.down.example\n\
             a.example._report._dmarc.reports.other.example TXT SERVFAIL\n\
             a.example._report._dmarc.down.example TXT TIMEOUT\n",
        )
        .unwrap(),
    );
    let resolver: Arc<dyn Resolver> = dns.clone();
    let app = App::new(Config::parse(&toml).unwrap(), resolver).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(db.clone()), super::super::unix_now())
        .await
        .unwrap();
    let delays = [50, 800, 400].map(Duration::from_millis).to_vec();
    let policy = RetryPolicy {
        delays,
        capacity: 10,
    };
    let (tx, rx) = mpsc::channel(4);
    let (stop_tx, stop) = watch::channel(false);
    let kick = Arc::new(Notify::new());
    let task = tokio::spawn(run(
        rx,
        store.clone(),
        Arc::new(ArcSwap::from_pointee(app)),
        Arc::clone(&kick),
        policy,
        stop,
    ));

    tx.send(candidate(&[INTERNAL, HEALS, NO_RECORD, STAYS_DOWN]))
        .await
        .unwrap();
    let heals = verification("reports.other.example");
    // the first try and the first retry (50 ms later) both hit SERVFAIL
    wait_for("the first retry", || txt_queries(&dns, &heals) >= 2).await;
    let only_internal = vec![("ruf@a.example".to_string(), INTERNAL.to_string())];
    assert_eq!(queued(&store).await, only_internal);
    // the DNS outage ends before the second retry (800 ms later)
    dns.add_txt(&heals, "v=DMARC1");
    dns.heal(&heals);
    wait_for("the report after the heal", || {
        txt_queries(&dns, &heals) >= 3
    })
    .await;
    let down = verification("down.example");
    // first try + 3 retries, then given up
    wait_for("the last retry", || txt_queries(&dns, &down) >= 4).await;
    // longer than any delay: nothing is tried again
    tokio::time::sleep(Duration::from_millis(900)).await;

    let mut want = only_internal.clone();
    want.push(("ruf@reports.other.example".into(), HEALS.into()));
    assert_eq!(
        queued(&store).await,
        want,
        "each report queued exactly once"
    );
    assert_eq!(
        txt_queries(&dns, &heals),
        3,
        "no retry after the report was queued"
    );
    assert_eq!(txt_queries(&dns, &down), 4, "given up after the last delay");
    // NXDOMAIN for the verification record is a permanent answer: never retried
    assert_eq!(txt_queries(&dns, &verification("gone.example")), 1);

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

/// [`queue_reports`] for `c` at a fixed time, with no redaction key, every URI, and a
/// node total of its own.
async fn queue_once(app: &App, store: &Store, c: &FailureCandidate) -> QueueOutcome {
    queue_reports(
        app,
        store,
        c,
        None,
        1_700_000_000,
        None,
        &mut TotalRate::default(),
    )
    .await
}

#[test]
fn the_retry_list_is_bounded_and_drops_the_oldest() {
    let ms = Duration::from_millis;
    let mut list = RetryList::new(RetryPolicy {
        delays: vec![ms(10), ms(20)],
        capacity: 2,
    });
    let t0 = Instant::now();
    let uris = |u: &str| vec![u.to_string()];
    list.schedule(candidate(&["mailto:a@x.example"]), uris("a"), t0);
    list.schedule(candidate(&["mailto:b@x.example"]), uris("b"), t0 + ms(1));
    assert_eq!(list.next_due(), Some(t0 + ms(10)));
    assert!(list.take_due(t0 + ms(9)).is_none());
    // "a" is due first; retried, it keeps its age
    let a = list.take_due(t0 + ms(10)).unwrap();
    assert_eq!((a.uris.clone(), a.retries), (uris("a"), 0));
    list.reschedule(a, uris("a"), t0 + ms(10));
    assert_eq!(list.len(), 2);
    // full: a new one drops the oldest message ("a", first seen), though it was rescheduled last
    list.schedule(candidate(&["mailto:c@x.example"]), uris("c"), t0 + ms(12));
    assert_eq!((list.len(), list.dropped()), (2, 1));
    let mut left = Vec::new();
    while let Some(w) = list.take_due(t0 + ms(100)) {
        left.push(w.uris[0].clone());
    }
    assert_eq!(left, ["b", "c"]);
    assert!(list.is_empty());

    // the last retry fails too: given up, not kept
    list.schedule(candidate(&["mailto:d@x.example"]), uris("d"), t0);
    let d = list.take_due(t0 + ms(10)).unwrap();
    list.reschedule(d, uris("d"), t0 + ms(10));
    let d = list.take_due(t0 + ms(30)).unwrap();
    assert_eq!(d.retries, 1);
    list.reschedule(d, uris("d"), t0 + ms(30));
    assert_eq!((list.len(), list.given_up(), list.next_due()), (0, 1, None));
    // no retries configured: given up at once
    let mut none = RetryList::new(RetryPolicy {
        delays: Vec::new(),
        capacity: 2,
    });
    none.schedule(candidate(&[]), uris("e"), t0);
    assert_eq!((none.len(), none.given_up()), (0, 1));
}

/// A failed message that is itself an ARF report (RFC 5965 §2), a bounce or other automatic
/// mail gets no failure report: two receivers whose failure reports fail DMARC at each other
/// would otherwise answer each other's reports for as long as both fail, and a dead `ruf`
/// mailbox would bounce each report back to be reported again (RFC 9991 §5.1 warns of such
/// loops).
#[tokio::test]
async fn no_failure_report_about_a_report_or_a_bounce() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = failure_setup(dir.path(), "a.example MX 10 mx.a.example\n").await;
    let field = |n: &str, v: &str| message::HeaderField {
        name: n.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    };
    let mut arf = candidate(&[INTERNAL]);
    let mut headers = (*arf.headers.take().unwrap()).clone();
    headers.push(field(
        "Content-Type",
        " Multipart/Report; boundary=\"b1\";\r\n\tReport-Type=\"Feedback-Report\"",
    ));
    arf.headers = Some(Arc::new(headers));
    let none = queue_once(&app, &store, &arf).await;
    assert_eq!(none.queued, 0);
    assert!(queued(&store).await.is_empty());
    // a bounce (RFC 3464 delivery status notification) of one of our reports to a dead ruf
    // mailbox: a report about it would bounce too, report → DSN → report for ever
    let mut dsn = candidate(&[INTERNAL]);
    let mut headers = (*dsn.headers.take().unwrap()).clone();
    headers.push(field(
        "Content-Type",
        " multipart/report; report-type=delivery-status; boundary=b2",
    ));
    dsn.headers = Some(Arc::new(headers));
    assert_eq!(queue_once(&app, &store, &dsn).await.queued, 0);
    // the null reverse-path: a bounce or an auto-reply (RFC 3834 §3.2) in any form
    let mut null_sender = candidate(&[INTERNAL]);
    null_sender.envelope.mail_from = String::new();
    assert_eq!(queue_once(&app, &store, &null_sender).await.queued, 0);
    assert!(queued(&store).await.is_empty());
    // ordinary mail is reported, and the report says it is automatic (RFC 3834 §5)
    let one = queue_once(&app, &store, &candidate(&[INTERNAL])).await;
    assert_eq!(one.queued, 1);
    let rows = store
        .read(vec![Stmt::new(
            "SELECT message FROM failure_reports",
            Vec::new(),
        )])
        .await
        .unwrap();
    let message = rows[0][0].opt_blob(0).unwrap().unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&message).contains("\r\nAuto-Submitted: auto-generated\r\n"),
        "no Auto-Submitted field"
    );
}

/// `fo=d` asks for one report per failed signature, and a message may carry a hundred: once
/// a rate limit is reached, the reports it would refuse are not built (each costs a copy of
/// the header block and a DKIM signature), so a stream of such messages costs a count query
/// per report, not a report.
#[tokio::test]
async fn reports_over_the_rate_limit_are_not_built() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reports.db");
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nenabled = true\nstore = \"sqlite:{}\"\nemail = \"dmarc-reports@rx.example\"\n\
         [reports.failure]\nenabled = true\ndomain_rate = \"3/1h\"\n",
        db.display()
    );
    let dns: Arc<dyn Resolver> =
        Arc::new(MemoryResolver::from_zone("a.example MX 10 mx.a.example\n").unwrap());
    let app = App::new(Config::parse(&toml).unwrap(), dns).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(db.clone()), 1_700_000_000)
        .await
        .unwrap();
    let mut c = candidate(&[INTERNAL]);
    let p = c.observation.published.as_mut().unwrap();
    p.fo = vec![FailureOption::Dkim];
    c.observation.dkim = (0..50)
        .map(|i| reports::DkimObservation {
            domain: format!("d{i}.example"),
            selector: "s".into(),
            result: reports::vocabulary::DkimResult::Fail,
            aligned: false,
            human_result: None,
            failure: None,
        })
        .collect();
    let outcome = queue_once(&app, &store, &c).await;
    assert_eq!(outcome.queued, 3);
    assert_eq!(outcome.built, 3, "reports built only to be refused");
}

/// A policy domain that has used up its `domain_rate` gets no more failure reports in the
/// window, so its `ruf` destinations are not checked either: each of its ten URIs may be
/// external (a TXT lookup, RFC 9991 §5) with up to ten override addresses (an MX, A and AAAA
/// lookup each under `require_mx`), over 300 questions per message, asked one after the other
/// by the one producer task of the hostile domain owner's DNS. A message of a domain over its
/// limit costs one count query, no DNS.
#[tokio::test]
async fn a_domain_over_its_rate_limit_costs_no_dns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reports.db");
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nenabled = true\nstore = \"sqlite:{}\"\nemail = \"dmarc-reports@rx.example\"\n\
         [reports.failure]\nenabled = true\ndomain_rate = \"2/1h\"\n",
        db.display()
    );
    let mut zone = String::new();
    let mut ruf = Vec::new();
    for i in 0..10 {
        zone.push_str(&format!(
            "h{i}.other.example MX 10 mx.other.example\n\
             {} TXT \"v=DMARC1\"\n",
            verification(&format!("h{i}.other.example"))
        ));
        ruf.push(format!("mailto:ruf@h{i}.other.example"));
    }
    let dns = Arc::new(MemoryResolver::from_zone(&zone).unwrap());
    let resolver: Arc<dyn Resolver> = dns.clone();
    let app = App::new(Config::parse(&toml).unwrap(), resolver).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(db.clone()), 1_700_000_000)
        .await
        .unwrap();
    let ruf: Vec<&str> = ruf.iter().map(String::as_str).collect();
    let c = candidate(&ruf);
    let first = queue_once(&app, &store, &c).await;
    assert_eq!(first.queued, 2, "the domain's budget");
    dns.reset_queries();
    let next = queue_reports(
        &app,
        &store,
        &c,
        None,
        1_700_000_060,
        None,
        &mut TotalRate::default(),
    )
    .await;
    assert_eq!(next, QueueOutcome::default());
    assert_eq!(
        dns.queries(),
        Vec::new(),
        "DNS asked for a domain over its limit"
    );
}

/// Whoever controls a zone with a wildcard `_dmarc` record has as many policy domains as
/// names, each with its own `domain_rate`, and as many internal destinations as local parts:
/// the per-domain and per-destination limits alone put no bound on the failure reports of a
/// node. `total_rate` is that bound, the "maximum number of reports per minute that will be
/// generated (and the remainder discarded)" of RFC 9991 §8.1; past it a message costs no
/// DNS and no store query.
#[tokio::test]
async fn total_rate_bounds_the_reports_of_many_domains() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reports.db");
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nenabled = true\nstore = \"sqlite:{}\"\nemail = \"dmarc-reports@rx.example\"\n\
         [reports.failure]\nenabled = true\ntotal_rate = \"3/1h\"\n",
        db.display()
    );
    let dns = Arc::new(
        MemoryResolver::from_zone(
            "evil.example MX 10 mx.evil.example\na.example MX 10 mx.a.example\n\
             _dmarc.evil.example TXT \"v=DMARC1; p=reject\"\n",
        )
        .unwrap(),
    );
    let resolver: Arc<dyn Resolver> = dns.clone();
    let app = App::new(Config::parse(&toml).unwrap(), resolver).unwrap();
    let store = Store::open(&StoreLocation::Sqlite(db.clone()), 1_700_000_000)
        .await
        .unwrap();
    let mut total = TotalRate::default();
    let mut queued_in_all = 0;
    for i in 0..5u64 {
        let ruf = format!("mailto:r{i}@evil.example");
        let mut c = candidate(&[ruf.as_str()]);
        let domain = format!("x{i}.evil.example");
        c.observation.policy_domain = Some(domain.clone());
        c.observation.header_from = domain;
        if i == 3 {
            dns.reset_queries();
        }
        let now = 1_700_000_000 + i;
        let outcome = queue_reports(&app, &store, &c, None, now, None, &mut total).await;
        queued_in_all += outcome.queued;
    }
    assert_eq!(queued_in_all, 3);
    assert_eq!(dns.queries(), Vec::new(), "DNS asked past total_rate");
    // an hour later the window has room again
    let c = candidate(&[INTERNAL]);
    let later = queue_reports(&app, &store, &c, None, 1_700_003_601, None, &mut total).await;
    assert_eq!(later.queued, 1);
}

/// Two `ruf` URIs that lead to one address — the same mailbox written twice in another case,
/// or an external destination whose override names an address already listed — get one
/// report, as aggregate reports do: the same report twice to one mailbox is a duplicate.
#[tokio::test]
async fn one_failure_report_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = failure_setup(
        dir.path(),
        "a.example MX 10 mx.a.example\n\
             dup.example MX 10 mx.dup.example\n\
             a.example._report._dmarc.dup.example TXT \"v=DMARC1; ruf=mailto:r@dup.example\"\n",
    )
    .await;
    let c = candidate(&[
        "mailto:r@dup.example",
        "mailto:R@Dup.example",
        "mailto:other@dup.example",
        INTERNAL,
    ]);
    let outcome = queue_once(&app, &store, &c).await;
    assert_eq!(outcome.queued, 2);
    let destinations: Vec<String> = queued(&store).await.into_iter().map(|(d, _)| d).collect();
    assert_eq!(destinations, ["r@dup.example", "ruf@a.example"]);
}

/// In RFC 7489 mode a `ruf` URI's `!size` bounds the failure report as submitted (RFC 7489 §6.2): a report over
/// it is not sent to that URI, while another URI naming the same address without a limit still
/// gets it (failure reports ignored the limit).
#[tokio::test]
async fn a_ruf_size_limit_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let (app, store) = failure_setup(dir.path(), "a.example MX 10 mx.a.example\n").await;
    let limited = |uris: &[&str], limits: &[Option<u64>]| {
        let mut c = candidate(uris);
        // `!size` is RFC 7489's; RFC 9989 §4.8 has reporters ignore it
        c.observation.mode = reports::vocabulary::Mode::Rfc7489;
        if let Some(p) = c.observation.published.as_mut() {
            for (r, l) in p.ruf.iter_mut().zip(limits) {
                r.max_size = *l;
            }
        }
        c
    };
    let only_small = limited(&[INTERNAL], &[Some(100)]);
    assert_eq!(queue_once(&app, &store, &only_small).await.queued, 0);
    let also_unlimited = limited(&[INTERNAL, "mailto:RUF@a.example"], &[Some(100), None]);
    assert_eq!(queue_once(&app, &store, &also_unlimited).await.queued, 1);
    let big_enough = limited(&[INTERNAL], &[Some(1 << 20)]);
    assert_eq!(queue_once(&app, &store, &big_enough).await.queued, 1);
}
