//! The dashboard's queries (domains, days, sources, selectors, reporters, the outbound view)
//! equal what a plain computation over the parsed samples gives, and each report is stored once
//! per (org_name, report_id): SQLite always, PostgreSQL with AUTHMILTER_E2E=1.

use std::collections::BTreeMap;

use report_store::{Span, Store, StoreLocation};
use reports::Feedback;
use reports::vocabulary::{AlignedResult, DkimResult, SpfResult};

use crate::samples::samples;
use crate::{ALL, sqlite_location};

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
            .insert_received_report(fb.clone().into(), Some("sample"), 2)
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
                .insert_received_report(fb.clone().into(), None, 3)
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
