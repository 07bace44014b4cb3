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
        let first = store
            .insert_received_report(fb.clone().into(), None, 2)
            .await
            .unwrap();
        assert!(first.id().is_some(), "{org}");
        // and the same report again is the same report
        let again = store
            .insert_received_report(fb.clone().into(), None, 3)
            .await
            .unwrap();
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
    store
        .insert_received_report(fb.clone().into(), None, 2)
        .await
        .unwrap();
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

/// Text nothing compresses, `n` bytes.
fn noise(n: usize, seed: u64) -> String {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(x >> 33) as usize % 36])
        })
        .collect()
}

/// A report whose key values (org_name and report_id: the unique key of a report; DKIM
/// domain and selector: the key of the selector rollup) are `org`, `id`, `d` and `s`.
fn long_report(org: &str, id: &str, d: &str, s: &str) -> Vec<u8> {
    format!(
        "<feedback><report_metadata><org_name>{org}</org_name><email>r@x.example</email>
         <report_id>{id}</report_id><date_range><begin>1700006400</begin>
         <end>1700092799</end></date_range></report_metadata>
         <policy_published><domain>long.example</domain><p>none</p></policy_published>
         <record><row><source_ip>192.0.2.1</source_ip><count>2</count>
         <policy_evaluated><disposition>none</disposition><dkim>pass</dkim>
         <spf>fail</spf></policy_evaluated></row>
         <identifiers><header_from>long.example</header_from></identifiers>
         <auth_results><dkim><domain>{d}</domain><selector>{s}</selector><result>pass</result>
         </dkim></auth_results></record></feedback>"
    )
    .into_bytes()
}

/// PostgreSQL indexes at most 2704 bytes of a row's key (btree): a report whose org_name and
/// report_id, or DKIM domain and selector, fill the 4096 bytes a text value may have made
/// the insert fail ("index row size exceeds maximum"), ending the store of that input. The
/// parser bounds those values; the longest it takes are stored, also twice under one
/// (org_name, report_id) with other contents (the key then grows by the digest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn postgres_stores_the_longest_keys_the_parser_takes() {
    if !test_support::e2e_enabled() {
        return;
    }
    let pg = test_support::postgres::TestPostgres::start().expect("start PostgreSQL");
    let url = pg.create_database("keys").unwrap();
    let store = Store::open(&url.parse().unwrap(), 1).await.unwrap();
    let (k, n) = (
        reports::xml_parse::MAX_KEY_LEN,
        reports::xml_parse::MAX_DKIM_NAME_LEN,
    );
    let (org, id, d, s) = (noise(k, 1), noise(k, 2), noise(n, 3), noise(n, 4));
    let fb = parse_report(&long_report(&org, &id, &d, &s)).expect("the longest keys");
    let stored = store
        .insert_received_report(fb.clone().into(), None, 2)
        .await;
    assert!(
        matches!(stored, Ok(ReceivedInsert::Stored(_))),
        "{stored:?}"
    );
    let other = parse_report(&long_report(&org, &id, &d, &noise(n, 5))).unwrap();
    let beside = store
        .insert_received_report(other.clone().into(), None, 3)
        .await;
    assert!(
        matches!(beside, Ok(ReceivedInsert::StoredBesideConflicting(_))),
        "{beside:?}"
    );
}

/// The parser refuses the key values PostgreSQL could not index (see above), naming the
/// element, and takes the longest allowed.
#[test]
fn key_values_past_their_limit_are_refused() {
    let (k, n) = (
        reports::xml_parse::MAX_KEY_LEN,
        reports::xml_parse::MAX_DKIM_NAME_LEN,
    );
    let ok = |org: &str, id: &str, d: &str, s: &str| parse_report(&long_report(org, id, d, s));
    assert!(ok(&noise(k, 1), &noise(k, 2), &noise(n, 3), &noise(n, 4)).is_ok());
    for (bad, element) in [
        (ok(&noise(k + 1, 1), "id", "d.example", "s"), "org_name"),
        (ok("org", &noise(k + 1, 2), "d.example", "s"), "report_id"),
        (ok("org", "id", &noise(n + 1, 3), "s"), "domain"),
        (ok("org", "id", "d.example", &noise(n + 1, 4)), "selector"),
    ] {
        let err = bad.expect_err(element).to_string();
        assert!(err.contains(&format!("<{element}> longer than")), "{err}");
    }
}
