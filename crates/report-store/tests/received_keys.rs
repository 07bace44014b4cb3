//! The keys a received report is stored under: reporters spell the same policy domain and
//! source in several ways (RFC 9990 §3.1.1.8, §3.1.1.9); the store keys each by one
//! spelling, so the dashboard shows one domain and one source, while the parsed report (and
//! its digest, which tells a re-sent report from another) keeps what the reporter wrote.

use report_store::{ReceivedInsert, Span, Store, StoreLocation};
use reports::parse_report;

const ALL: Span = Span {
    begin: 0,
    end: 4_000_000_000,
};

fn report(org: &str, domain: &str, ip: &str) -> Vec<u8> {
    format!(
        "<feedback><report_metadata><org_name>{org}</org_name><email>r@x.example</email>
         <report_id>r-1</report_id><date_range><begin>1700006400</begin>
         <end>1700092799</end></date_range></report_metadata>
         <policy_published><domain>{domain}</domain><p>none</p></policy_published>
         <record><row><source_ip>{ip}</source_ip><count>2</count>
         <policy_evaluated><disposition>none</disposition><dkim>pass</dkim>
         <spf>fail</spf></policy_evaluated></row>
         <identifiers><header_from>bücher.example</header_from></identifiers>
         <auth_results/></record></feedback>"
    )
    .into_bytes()
}

#[tokio::test]
async fn spellings_of_one_domain_and_source_are_stored_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let loc: StoreLocation = format!("sqlite:{}", dir.path().join("r.db").display())
        .parse()
        .unwrap();
    let store = Store::open(&loc, 1).await.unwrap();
    let spellings = [
        ("A", "xn--bcher-kva.example", "192.0.2.1"),
        ("B", "Bücher.Example.", "::ffff:192.0.2.1"),
        ("C", "XN--BCHER-KVA.EXAMPLE", "::FFFF:c000:201"),
    ];
    for (org, domain, ip) in spellings {
        let fb = parse_report(&report(org, domain, ip)).unwrap();
        // the parsed report is what the reporter wrote
        assert_eq!(fb.policy.domain, domain);
        assert_eq!(fb.policy.domain_key(), "xn--bcher-kva.example");
        assert_eq!(fb.records[0].row.source().to_string(), "192.0.2.1");
        let first = store.insert_received_report(&fb, None, 2).await.unwrap();
        assert!(first.id().is_some(), "{org}");
        // and the same report again is the same report
        let again = store.insert_received_report(&fb, None, 3).await.unwrap();
        assert_eq!(again, ReceivedInsert::Duplicate, "{org}");
    }
    let (domains, total) = store.received_domains(ALL, 100).await.unwrap();
    assert_eq!(total, 1, "{domains:?}");
    assert_eq!(domains[0].policy_domain, "xn--bcher-kva.example");
    assert_eq!((domains[0].reports, domains[0].messages), (3, 6));
    let page = store
        .received_domain_summary("xn--bcher-kva.example", ALL, 10, 10, 10)
        .await
        .unwrap();
    assert_eq!(page.sources_total, 1, "{:?}", page.sources);
    assert_eq!(page.sources[0].ip, "192.0.2.1");
    assert_eq!(page.sources[0].messages, 6);
}

/// `report show --domain` and the domain page take the name as an operator types it: any
/// spelling of the domain (case, trailing dot, U-label) finds its reports.
#[tokio::test]
async fn any_spelling_of_a_domain_finds_its_page() {
    let dir = tempfile::tempdir().unwrap();
    let loc: StoreLocation = format!("sqlite:{}", dir.path().join("r.db").display())
        .parse()
        .unwrap();
    let store = Store::open(&loc, 1).await.unwrap();
    let fb = parse_report(&report("A", "xn--bcher-kva.example", "192.0.2.1")).unwrap();
    store.insert_received_report(&fb, None, 2).await.unwrap();
    for asked in [
        "xn--bcher-kva.example",
        "Bücher.Example.",
        " XN--BCHER-KVA.example ",
    ] {
        let page = store
            .received_domain_summary(asked, ALL, 10, 10, 10)
            .await
            .unwrap();
        assert_eq!(
            (page.policy_domain.as_str(), page.messages),
            ("xn--bcher-kva.example", 2),
            "{asked}"
        );
    }
}
