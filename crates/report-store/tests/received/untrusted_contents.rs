//! Report contents are chosen by whoever sends them: huge counts, the end of a period, floods
//! of reporters, selectors and domains break neither the store's sums nor its bounded reads.

use reports::parse_report;
use reports::vocabulary::DkimResult;

use crate::samples::xml;
use crate::{ALL, sqlite_store};

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
            store
                .insert_received_report(fb.clone().into(), None, 2)
                .await
                .unwrap();
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
            .insert_received_report(fb.clone().into(), None, 3)
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
        store
            .insert_received_report(fb.clone().into(), None, 2)
            .await
            .unwrap();
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
            .insert_received_report(back.clone().into(), None, 3)
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
                .insert_received_report(fb.clone().into(), Some("flood"), 2)
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
    let source_orgs: Vec<&str> = page.sources[0]
        .reporters
        .iter()
        .map(|r| r.org_name.as_str())
        .collect();
    assert_eq!(source_orgs, ["org11", "org10", "org09", "org08"]);
    assert_eq!(page.sources[0].reporters_total, 12);
    let sel: Vec<(&str, u64, u64)> = page
        .selectors
        .iter()
        .map(|s| (s.selector.as_str(), s.messages, s.pass))
        .collect();
    assert_eq!(sel, [("s11", 24, 12), ("s10", 22, 11), ("s09", 20, 10)]);
}

/// A counted report naming hundreds of distinct DKIM selectors per record added a rollup row
/// for each (a 4 MB mail: ~940,000 rows), and the domain page's selector query over them
/// stopped answering after a few such mails. One report adds at most 100 (d=, s=, result)
/// rows: those with the most messages.
#[tokio::test]
async fn one_report_adds_a_bounded_number_of_selector_rows() {
    let (_dir, store) = sqlite_store().await;
    let mut fb = xml("mail-auth/001.xml");
    fb.policy.domain = "selectors.example".into();
    fb.records.truncate(1);
    let template = fb.records[0].clone();
    fb.records = (1..=3u64)
        .map(|n| {
            let mut r = template.clone();
            r.row.count = n;
            let sig = r.auth_results.dkim[0].clone();
            r.auth_results.dkim = (0..100)
                .map(|i| reports::DkimAuthResult {
                    domain: "selectors.example".into(),
                    selector: Some(format!("r{n}s{i:03}")),
                    result: DkimResult::Pass,
                    ..sig.clone()
                })
                .collect();
            r
        })
        .collect();
    store
        .insert_received_report(fb.into(), Some("flood"), 2)
        .await
        .unwrap();
    let page = store
        .received_domain_summary("selectors.example", ALL, 100, 10_000, 10)
        .await
        .unwrap();
    assert_eq!(page.selectors.len(), 100);
    assert!(
        page.selectors
            .iter()
            .all(|s| s.selector.starts_with("r3") && s.messages == 3),
        "{:?}",
        page.selectors.first()
    );
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
            .insert_received_report(fb.clone().into(), Some("flood"), 2)
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

/// An `org_name` is the sender's text, up to 1 KiB: kept in full once with its report, it must
/// not make every record of the report cost as much again, in the record and in the dashboard's
/// index (each entry of ~1 KB took a 4 KiB overflow page: one mailed report of 50,000
/// records filled ~300 MB). The records carry a bounded key of the name.
#[tokio::test]
async fn a_long_org_name_does_not_grow_every_record() {
    let sources: String = (0..3_000u32)
        .map(|n| {
            format!(
                "<record><row><source_ip>10.{}.{}.{}</source_ip><count>1</count>
                 <policy_evaluated><disposition>none</disposition><dkim>fail</dkim>
                 <spf>fail</spf></policy_evaluated></row>
                 <identifiers><header_from>big.example</header_from></identifiers>
                 <auth_results><spf><domain>big.example</domain><result>fail</result></spf>
                 </auth_results></record>",
                n >> 16,
                (n >> 8) & 255,
                n & 255
            )
        })
        .collect();
    let report = |org: &str, id: &str| {
        format!(
            "<feedback><report_metadata><org_name>{org}</org_name><email>h@x.example</email>
             <report_id>{id}</report_id><date_range><begin>1700006400</begin>
             <end>1700092799</end></date_range></report_metadata>
             <policy_published><domain>big.example</domain><p>none</p></policy_published>
             {sources}</feedback>"
        )
    };
    let mut sizes = Vec::new();
    for org in ["short".to_string(), "o".repeat(1024)] {
        let (dir, store) = sqlite_store().await;
        let fb = parse_report(report(&org, "r1").as_bytes()).expect("a report");
        store
            .insert_received_report(fb.into(), None, 2)
            .await
            .unwrap();
        // a source's reporter is the report's own name, whole
        let page = store
            .received_domain_summary("big.example", crate::ALL, 10, 100, 100)
            .await
            .unwrap();
        let shown: Vec<&str> = page.sources[0]
            .reporters
            .iter()
            .map(|r| r.org_name.as_str())
            .collect();
        assert_eq!(shown, [org.as_str()]);
        drop(store);
        let bytes: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        sizes.push(bytes);
    }
    // the long name costs a little per record, not a page
    assert!(sizes[1] < sizes[0] * 2, "{sizes:?}");
}
