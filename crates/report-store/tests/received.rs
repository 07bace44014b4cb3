//! Received reports in the store: stored once per (org_name, report_id), and the dashboard's
//! queries (domains, days, sources, selectors, reporters, the outbound view) equal what a
//! plain computation over the parsed reports gives. SQLite always; PostgreSQL with
//! AUTHMILTER_E2E=1. Also the upgrade of a version-1 store with received reports.

use std::collections::BTreeMap;
use std::path::Path;

use report_store::{Span, Store, StoreLocation};
use reports::vocabulary::{AlignedResult, DkimResult, SpfResult};
use reports::{Feedback, Limits, extract_reports, parse_report};

fn sample(path: &str) -> Vec<u8> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/data/samples");
    std::fs::read(base.join(path)).unwrap()
}

fn xml(path: &str) -> Feedback {
    parse_report(&sample(path)).unwrap()
}

fn eml(path: &str) -> Feedback {
    extract_reports(&sample(path), &Limits::default())
        .into_iter()
        .find_map(|r| r.report.ok())
        .unwrap()
}

/// Every well-formed sample of the reports crate (tests/data/SOURCE.md there).
fn samples() -> Vec<Feedback> {
    let mut out: Vec<Feedback> = [
        "dmarc-reports/163.com!example.com!1337270400!1337356799.20120518163.xml",
        "dmarc-reports/good.com!example.com!1337270400!1337356799.xml",
        "dmarc-reports/yeah.net!example.com!1337270400!1337356799.20120518.xml",
        "dmarc-reports/mail-dmarc-test_dmarc.xml",
        "mail-auth/001.xml",
        "mail-auth/002.xml",
        "mail-auth/003.xml",
        "mail-auth/004.xml",
        "mail-auth/005.xml",
    ]
    .iter()
    .map(|p| xml(p))
    .collect();
    for m in ["100", "101", "102", "103", "104"] {
        out.push(eml(&format!("mail-auth/{m}.eml")));
    }
    out
}

const ALL: Span = Span {
    begin: 0,
    end: 4_000_000_000,
};

#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    messages: u64,
    dmarc: u64,
    spf_aligned: u64,
    dkim_aligned: u64,
    spf: u64,
    dkim: u64,
}

/// Per policy domain and source, computed directly from the parsed reports.
fn expected(reports: &[&Feedback]) -> BTreeMap<(String, String), Expected> {
    let mut out: BTreeMap<(String, String), Expected> = BTreeMap::new();
    for fb in reports {
        for r in &fb.records {
            let e = out
                .entry((
                    fb.policy.domain.to_ascii_lowercase(),
                    r.row.source_ip.to_string(),
                ))
                .or_default();
            let n = r.row.count;
            let pe = &r.row.policy_evaluated;
            e.messages += n;
            let (sa, da) = (
                pe.spf == AlignedResult::Pass,
                pe.dkim == AlignedResult::Pass,
            );
            e.dmarc += if sa || da { n } else { 0 };
            e.spf_aligned += if sa { n } else { 0 };
            e.dkim_aligned += if da { n } else { 0 };
            if r.auth_results
                .spf
                .iter()
                .any(|s| s.result == SpfResult::Pass)
            {
                e.spf += n;
            }
            if r.auth_results
                .dkim
                .iter()
                .any(|d| d.result == DkimResult::Pass)
            {
                e.dkim += n;
            }
        }
    }
    out
}

async fn suite(loc: StoreLocation) {
    let store = Store::open(&loc, 1).await.unwrap();
    let all = samples();
    let mut stored = Vec::new();
    let mut duplicates = 0;
    for fb in &all {
        match store
            .insert_received_report(fb, Some("sample"), 2)
            .await
            .unwrap()
            .id()
        {
            Some(_) => stored.push(fb),
            None => duplicates += 1,
        }
    }
    // 001.xml and 004.xml share (org_name, report_id) with other contents: both are kept
    // (RFC 9990 §3.5.4); each (key, contents) is stored once
    let keys: std::collections::BTreeSet<(&str, &str, String)> = all
        .iter()
        .map(|f| {
            let (org, id) = f.idempotency_key();
            (org, id, serde_json::to_string(f).unwrap())
        })
        .collect();
    assert_eq!(stored.len(), keys.len());
    assert_eq!(stored.len() + duplicates, 14);
    // importing everything again changes nothing
    let before = store.received_domains(ALL, usize::MAX).await.unwrap().0;
    for fb in &all {
        assert_eq!(
            store
                .insert_received_report(fb, None, 3)
                .await
                .unwrap()
                .id(),
            None
        );
    }
    assert_eq!(
        store.received_domains(ALL, usize::MAX).await.unwrap().0,
        before
    );
    let records: usize = stored.iter().map(|f| f.records.len()).sum();
    assert_eq!(
        store.received_counts().await.unwrap(),
        (stored.len() as u64, records as u64)
    );

    // the domain list
    let want = expected(&stored);
    let domains = store.received_domains(ALL, usize::MAX).await.unwrap().0;
    let mut by_domain: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for ((d, _), e) in &want {
        let t = by_domain.entry(d.clone()).or_default();
        t.0 += e.messages;
        t.1 += e.dmarc;
    }
    assert_eq!(domains.len(), by_domain.len(), "{domains:?}");
    for d in &domains {
        assert_eq!(
            (d.messages, d.dmarc_pass),
            by_domain[&d.policy_domain],
            "{}",
            d.policy_domain
        );
        let reports: Vec<&&Feedback> = stored
            .iter()
            .filter(|f| f.policy.domain.eq_ignore_ascii_case(&d.policy_domain))
            .collect();
        assert_eq!(d.reports, reports.len() as u64);
    }
    assert_eq!(
        domains[0].policy_domain, "example.com",
        "most messages first"
    );

    // the domain page: every source with its counts, failing first
    for d in &domains {
        let page = store
            .received_domain_summary(&d.policy_domain, ALL, 10_000, 100, 100)
            .await
            .unwrap();
        assert_eq!((page.messages, page.dmarc_pass), (d.messages, d.dmarc_pass));
        let mine: BTreeMap<&str, &Expected> = want
            .iter()
            .filter(|((dom, _), _)| *dom == d.policy_domain)
            .map(|((_, ip), e)| (ip.as_str(), e))
            .collect();
        assert_eq!(page.sources_total, mine.len());
        assert_eq!(page.sources.len(), mine.len());
        for s in &page.sources {
            let e = mine[s.ip.as_str()];
            let got = Expected {
                messages: s.messages,
                dmarc: s.dmarc_pass,
                spf_aligned: s.spf_aligned,
                dkim_aligned: s.dkim_aligned,
                spf: s.spf_pass,
                dkim: s.dkim_pass,
            };
            assert_eq!(&got, e, "{} {}", d.policy_domain, s.ip);
            assert!(!s.reporters.is_empty());
        }
        for w in page.sources.windows(2) {
            assert!(
                (w[0].failing(), w[0].messages) >= (w[1].failing(), w[1].messages),
                "failing sources first: {:?}",
                w
            );
        }
        let day_total: u64 = page.days.iter().map(|x| x.total()).sum();
        assert_eq!(day_total, d.messages);
        assert!(page.policy.is_some());
    }

    // example.com on 2012-05-17 UTC (the reports begin at 2012-05-18 00:00 UTC+8): three
    // reporters (163.com, 126.com, yeah.net)
    let day = Span {
        begin: 1_337_212_800,
        end: 1_337_299_200,
    };
    let page = store
        .received_domain_summary("Example.COM.", day, 5, 100, 100)
        .await
        .unwrap();
    assert_eq!(page.days.len(), 1);
    let orgs: Vec<&str> = page.reporters.iter().map(|r| r.org_name.as_str()).collect();
    let mut sorted = orgs.clone();
    sorted.sort();
    assert_eq!(sorted, ["126.com", "163.com", "yeah.net"]);
    assert_eq!(page.sources.len(), 5, "at most the number asked for");
    assert!(page.sources_total > 5);

    // DKIM selectors: the messages of each (d=, s=) across records
    let page = store
        .received_domain_summary("stalw.art", ALL, 100, 100, 100)
        .await
        .unwrap();
    let mut sel: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let records = stored
        .iter()
        .filter(|f| f.policy.domain == "stalw.art")
        .flat_map(|f| &f.records);
    for r in records {
        for s in &r.auth_results.dkim {
            let e = sel
                .entry((s.domain.clone(), s.selector.clone().unwrap_or_default()))
                .or_default();
            e.0 += r.row.count;
            if s.result == DkimResult::Pass {
                e.1 += r.row.count;
            }
        }
    }
    assert!(!sel.is_empty());
    let got: BTreeMap<(String, String), (u64, u64)> = page
        .selectors
        .iter()
        .map(|s| ((s.domain.clone(), s.selector.clone()), (s.messages, s.pass)))
        .collect();
    assert_eq!(got, sel);

    // names looked up for the sources show on the page
    let ip = page.sources[0].ip.clone();
    assert_eq!(
        store
            .source_names_missing(std::slice::from_ref(&ip), 0)
            .await
            .unwrap(),
        std::slice::from_ref(&ip)
    );
    store
        .set_source_names(&[(ip.clone(), Some("mail.example.net".into()))], 10)
        .await
        .unwrap();
    assert!(
        store
            .source_names_missing(std::slice::from_ref(&ip), 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .source_names_missing(std::slice::from_ref(&ip), 11)
            .await
            .unwrap(),
        std::slice::from_ref(&ip)
    );
    let page = store
        .received_domain_summary("stalw.art", ALL, 100, 100, 100)
        .await
        .unwrap();
    let s = page.sources.iter().find(|s| s.ip == ip).unwrap();
    assert_eq!(s.name.as_deref(), Some("mail.example.net"));

    // an unknown domain: an empty page, every day of the period present
    let week = Span::last_days(1_337_385_599, 7);
    let empty = store
        .received_domain_summary("nothing.example", week, 10, 10, 10)
        .await
        .unwrap();
    assert_eq!((empty.messages, empty.sources.len()), (0, 0));
    assert_eq!(empty.days.len(), 7);
    assert_eq!(empty.days[6].day, 1_337_299_200);

    // retention drops the reports and their rollups together
    store.purge(4_000_000_000).await.unwrap();
    assert_eq!(store.received_counts().await.unwrap(), (0, 0));
    assert!(
        store
            .received_domains(ALL, usize::MAX)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    let page = store
        .received_domain_summary("stalw.art", ALL, 100, 100, 100)
        .await
        .unwrap();
    assert!(page.selectors.is_empty());
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
}

/// A SQLite store location in `dir`.
fn sqlite_location(dir: &tempfile::TempDir) -> StoreLocation {
    format!("sqlite:{}", dir.path().join("r.db").display())
        .parse()
        .unwrap()
}

/// A fresh SQLite store in a temporary directory (kept while the first value lives).
async fn sqlite_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&sqlite_location(&dir), 1).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn sqlite_received_reports() {
    let dir = tempfile::tempdir().unwrap();
    suite(sqlite_location(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn postgres_received_reports() {
    if !test_support::e2e_enabled() {
        eprintln!("skipped: needs AUTHMILTER_E2E=1 (a throwaway PostgreSQL cluster)");
        return;
    }
    let pg = test_support::postgres::TestPostgres::start().expect("start PostgreSQL");
    let url = pg.create_database("received").unwrap();
    suite(url.parse().unwrap()).await;
}

/// A store written by schema version 1 (received reports without the dashboard columns) is
/// brought to version 2 with its rows filled in: the same summaries as a store that had
/// version 2 from the start (except DKIM selectors, which version 1 kept only as JSON).
#[tokio::test]
async fn version_1_received_reports_are_filled_in_by_the_upgrade() {
    use report_store::schema::{MIGRATIONS, VERSION_TABLE};
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v1.db");
    let reports = [
        xml("mail-auth/003.xml"),
        xml("dmarc-reports/good.com!example.com!1337270400!1337356799.xml"),
    ];
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute(VERSION_TABLE, []).unwrap();
        for s in MIGRATIONS[0].statements {
            let sql =
                report_store::sql::expand_types(s, "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB");
            conn.execute(&sql, []).unwrap();
        }
        conn.execute("INSERT INTO schema_version VALUES (1, 0, 'v1')", [])
            .unwrap();
        // what version 1 wrote for a received report
        for fb in &reports {
            let m = &fb.metadata;
            conn.execute(
                "INSERT INTO received_reports (org_name, report_id, email, policy_domain,
                    begin_time, end_time, policy_published, errors, message_count, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]', ?8, 0)",
                rusqlite::params![
                    m.org_name,
                    m.report_id,
                    m.email,
                    fb.policy.domain.to_ascii_lowercase(),
                    m.date_range.begin as i64,
                    m.date_range.end as i64,
                    serde_json::to_string(&fb.policy).unwrap(),
                    fb.message_count() as i64
                ],
            )
            .unwrap();
            let id = conn.last_insert_rowid();
            for r in &fb.records {
                let pe = &r.row.policy_evaluated;
                conn.execute(
                    "INSERT INTO received_records (report_id, source_ip, count, disposition,
                        dkim_aligned, spf_aligned, header_from, reasons, auth_results)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    rusqlite::params![
                        id,
                        r.row.source_ip.to_string(),
                        r.row.count as i64,
                        pe.disposition.to_string(),
                        pe.dkim.to_string(),
                        pe.spf.to_string(),
                        r.identifiers.header_from,
                        serde_json::to_string(&pe.reasons).unwrap(),
                        serde_json::to_string(&r.auth_results).unwrap()
                    ],
                )
                .unwrap();
            }
        }
    }
    let upgraded = Store::open(&format!("sqlite:{}", old.display()).parse().unwrap(), 5)
        .await
        .unwrap();
    assert_eq!(
        upgraded.schema_version().await.unwrap(),
        report_store::schema::latest_version()
    );
    let fresh = Store::open(
        &format!("sqlite:{}", dir.path().join("v2.db").display())
            .parse()
            .unwrap(),
        5,
    )
    .await
    .unwrap();
    for fb in &reports {
        fresh.insert_received_report(fb, None, 0).await.unwrap();
    }
    assert_eq!(
        upgraded.received_domains(ALL, usize::MAX).await.unwrap().0,
        fresh.received_domains(ALL, usize::MAX).await.unwrap().0
    );
    for domain in ["stalw.art", "example.com"] {
        let mut a = upgraded
            .received_domain_summary(domain, ALL, 1000, 100, 100)
            .await
            .unwrap();
        let b = fresh
            .received_domain_summary(domain, ALL, 1000, 100, 100)
            .await
            .unwrap();
        assert!(a.selectors.is_empty());
        a.selectors = b.selectors.clone();
        assert_eq!(a, b, "{domain}");
        assert!(b.sources.iter().any(|s| s.spf_pass > 0 && s.dkim_pass > 0));
    }
}

/// A report with `count` messages from each of two sources (one passing, one failing), with
/// its own report_id.
fn huge_report(id: &str, count: &str) -> Vec<u8> {
    report_xml(id, count, 1_700_006_400, 1_700_092_799)
}

/// The report of [`huge_report`] for the period `begin`..`end`.
fn report_xml(id: &str, count: &str, begin: u64, end: u64) -> Vec<u8> {
    let record = |ip: &str, dkim: &str| {
        format!(
            "<record><row><source_ip>{ip}</source_ip><count>{count}</count>
             <policy_evaluated><disposition>none</disposition><dkim>{dkim}</dkim>
             <spf>fail</spf></policy_evaluated></row>
             <identifiers><header_from>big.example</header_from></identifiers>
             <auth_results><dkim><domain>big.example</domain><selector>s</selector>
             <result>{dkim}</result></dkim></auth_results></record>"
        )
    };
    format!(
        "<feedback><report_metadata><org_name>Hostile</org_name><email>h@x.example</email>
         <report_id>{id}</report_id><date_range><begin>{begin}</begin>
         <end>{end}</end></date_range></report_metadata>
         <policy_published><domain>big.example</domain><p>none</p></policy_published>
         {}{}</feedback>",
        record("192.0.2.1", "pass"),
        record("192.0.2.2", "fail")
    )
    .into_bytes()
}

/// Counts are anyone's to write (RFC 9990 §8.1): counts near the 64-bit limit, summed over
/// records and reports, neither break the store's sums (the dashboard's pages) nor keep
/// later reports for the same domain and day out of the store.
#[tokio::test]
async fn huge_counts_do_not_break_the_sums() {
    let (_dir, store) = sqlite_store().await;
    for (id, count) in [
        ("a", "18446744073709551615"),
        ("b", "9223372036854775807"),
        ("c", "4294967295"),
    ] {
        // refused at parsing, or stored: either way the store keeps working
        if let Ok(fb) = parse_report(&huge_report(id, count)) {
            store.insert_received_report(&fb, None, 2).await.unwrap();
        }
    }
    let domains = store.received_domains(ALL, usize::MAX).await.unwrap().0;
    let page = store
        .received_domain_summary("big.example", ALL, 10, 10, 10)
        .await
        .unwrap();
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].messages, page.messages);
    assert!(page.dmarc_pass <= page.messages);
    // an ordinary report of the same domain and day is still stored and counted
    let fb = parse_report(&huge_report("d", "1")).unwrap();
    assert!(
        store
            .insert_received_report(&fb, None, 3)
            .await
            .unwrap()
            .id()
            .is_some()
    );
    let after = store.received_domains(ALL, usize::MAX).await.unwrap().0;
    assert!(after[0].messages >= domains[0].messages);
}

/// Retention: a received report and its records go when the rollups of the day they count
/// for go (its begin, RFC 9990 §3.1.1.4), whatever its `end` says (the reporter's to write):
/// an end far in the future does not keep the records forever, an end before the begin does
/// not drop them (and their report_id, letting the same report be counted again) while the
/// rollups still count them.
#[tokio::test]
async fn purge_drops_records_with_the_rollups_of_their_day() {
    let (_dir, store) = sqlite_store().await;
    let day = 1_700_006_400; // 2023-11-15 00:00 UTC
    let far = parse_report(&report_xml("far", "5", day, 4_102_444_800)).unwrap();
    let back = parse_report(&report_xml("back", "7", day + 86_400, day)).unwrap();
    // a begin at the 64-bit limit: its day is no overflow in the purge's SQL (an error
    // there on PostgreSQL would stop all retention)
    let last = u64::MAX.to_string();
    let end = parse_report(&report_xml("end", "1", u64::MAX, u64::MAX)).unwrap();
    assert_eq!(end.metadata.date_range.begin.to_string(), last);
    for fb in [&far, &back, &end] {
        store.insert_received_report(fb, None, 2).await.unwrap();
    }
    // the first day's rollups go, the second day's stay
    store.purge(day + 86_400 + 10).await.unwrap();
    let page = store
        .received_domain_summary("big.example", ALL, 10, 10, 10)
        .await
        .unwrap();
    let from_sources: u64 = page.sources.iter().map(|s| s.messages).sum();
    assert_eq!((page.messages, from_sources), (14, 14), "rollups, sources");
    assert_eq!(store.received_counts().await.unwrap(), (2, 4));
    // the report kept is still known: sent again, it is not counted twice
    assert_eq!(
        store
            .insert_received_report(&back, None, 3)
            .await
            .unwrap()
            .id(),
        None
    );
}

/// Report contents are chosen by whoever sends them: the domain page reads at most the
/// reporters and DKIM selectors it shows (the most messages first, with the number of
/// reporters in all), not every one a flood of reports named.
#[tokio::test]
async fn the_domain_page_reads_a_bounded_number_of_reporters_and_selectors() {
    let (_dir, store) = sqlite_store().await;
    let base = xml("mail-auth/001.xml");
    for i in 0..12u64 {
        let mut fb = base.clone();
        fb.policy.domain = "bounded.example".into();
        fb.metadata.org_name = format!("org{i:02}");
        fb.metadata.report_id = format!("r{i}");
        fb.records.truncate(1);
        let r = &mut fb.records[0];
        r.row.count = i + 1;
        let template = r.auth_results.dkim[0].clone();
        r.auth_results.dkim = [DkimResult::Pass, DkimResult::Fail]
            .into_iter()
            .map(|result| reports::DkimAuthResult {
                domain: "bounded.example".into(),
                selector: Some(format!("s{i:02}")),
                result,
                ..template.clone()
            })
            .collect();
        assert!(
            store
                .insert_received_report(&fb, Some("flood"), 2)
                .await
                .unwrap()
                .id()
                .is_some()
        );
    }
    let page = store
        .received_domain_summary("bounded.example", ALL, 100, 3, 4)
        .await
        .unwrap();
    let orgs: Vec<&str> = page.reporters.iter().map(|r| r.org_name.as_str()).collect();
    assert_eq!(orgs, ["org11", "org10", "org09", "org08"]);
    assert_eq!(page.reporters_total, 12);
    // every report names the same source: its reporters too
    assert_eq!(page.sources.len(), 1);
    assert_eq!(
        page.sources[0].reporters,
        ["org11", "org10", "org09", "org08"]
    );
    assert_eq!(page.sources[0].reporters_total, 12);
    let sel: Vec<(&str, u64, u64)> = page
        .selectors
        .iter()
        .map(|s| (s.selector.as_str(), s.messages, s.pass))
        .collect();
    assert_eq!(sel, [("s11", 24, 12), ("s10", 22, 11), ("s09", 20, 10)]);
}

/// One report names one policy domain, and one input may hold many reports: the list of
/// domains reads at most the domains it shows (most messages first, with the number in all).
#[tokio::test]
async fn the_domain_list_reads_a_bounded_number_of_domains() {
    let (_dir, store) = sqlite_store().await;
    let base = xml("mail-auth/001.xml");
    for i in 0..6u64 {
        let mut fb = base.clone();
        fb.policy.domain = format!("d{i}.example");
        fb.metadata.report_id = format!("r{i}");
        fb.records.truncate(1);
        fb.records[0].row.count = i + 1;
        store
            .insert_received_report(&fb, Some("flood"), 2)
            .await
            .unwrap();
    }
    let (shown, total) = store.received_domains(ALL, 2).await.unwrap();
    assert_eq!(total, 6);
    let got: Vec<(&str, u64, u64)> = shown
        .iter()
        .map(|d| (d.policy_domain.as_str(), d.messages, d.reports))
        .collect();
    assert_eq!(got, [("d5.example", 6, 1), ("d4.example", 5, 1)]);
}
