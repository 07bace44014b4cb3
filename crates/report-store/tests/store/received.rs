//! Received reports in the store (tests/received.rs has the dashboard's queries over them).

use report_store::{CarrierDmarc, Provenance, ReceivedInsert, Span, Store, StoreLocation};

use crate::{DAY, T0};

/// The report of a real report mail from the reports crate's vendored samples.
fn sample_report() -> reports::Feedback {
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../reports/tests/data/samples/mail-auth/100.eml"
    ))
    .unwrap();
    reports::extract_reports(&sample, &reports::Limits::default())
        .into_iter()
        .find_map(|r| r.report.ok())
        .unwrap()
}

/// Unique by (org_name, report_id), records stored with them.
async fn a_received_report_is_stored_once(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let now = T0 + DAY + 3600;
    let report = sample_report();
    assert!(!report.records.is_empty());
    let records = report.records.len() as u64;
    let id = store
        .insert_received_report(report.clone().into(), Some("test"), now)
        .await
        .unwrap()
        .id();
    assert!(id.is_some());
    assert_eq!(
        store
            .insert_received_report(report.clone().into(), None, now)
            .await
            .unwrap()
            .id(),
        None,
        "a report imported twice is stored once"
    );
    assert_eq!(store.received_counts().await.unwrap(), (1, records));
}

/// RFC 9990 §3.5.1/§3.5.4: a Report-ID is unique only among one reporter's reports to one
/// domain, and whoever sends a report first must not hide another: the same (org_name,
/// report_id) with other contents (another domain's report, or a forgery sent first) is
/// stored beside the first; each of them sent again is a duplicate.
async fn a_reused_report_id_does_not_hide_a_report(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let now = T0 + DAY + 3600;
    let real = sample_report();
    // sent first: the same reporter and Report-ID, the count of the first row changed
    let mut forged = real.clone();
    forged.records[0].row.count += 1000;
    // the same reporter and Report-ID for another domain
    let mut other_domain = real.clone();
    other_domain.policy.domain = "other.example".to_string();
    let records = real.records.len() as u64;
    for (report, beside) in [(&forged, false), (&real, true), (&other_domain, true)] {
        let inserted = store
            .insert_received_report(report.clone().into(), None, now)
            .await
            .unwrap();
        let kind_ok = match inserted {
            ReceivedInsert::Stored(_) => !beside,
            ReceivedInsert::StoredBesideConflicting(_) => beside,
            ReceivedInsert::Duplicate => false,
        };
        assert!(kind_ok, "{inserted:?}");
    }
    for again in [&forged, &real, &other_domain] {
        assert_eq!(
            store
                .insert_received_report(again.clone().into(), None, now)
                .await
                .unwrap(),
            ReceivedInsert::Duplicate
        );
    }
    assert_eq!(store.received_counts().await.unwrap(), (3, 3 * records));
}

/// Who sent each report the domain page shows (reporters and the reporters of a source).
async fn senders(store: &Store, domain: &str) -> (Vec<Provenance>, Vec<Provenance>) {
    let all = Span {
        begin: 0,
        end: 4_000_000_000,
    };
    let page = store
        .received_domain_summary(domain, all, 10, 10, 10)
        .await
        .unwrap();
    let mut reporters: Vec<Provenance> = page.reporters.into_iter().map(|r| r.sent).collect();
    reporters.sort();
    let mut of_source: Vec<Provenance> = page
        .sources
        .first()
        .map(|s| s.reporters.iter().map(|r| r.sent.clone()).collect())
        .unwrap_or_default();
    of_source.sort();
    (reporters, of_source)
}

/// RFC 9990 §3.5.2, §8.2: each report keeps who sent it. The same report sent again with a
/// stronger provenance (forged first, then by its reporter with DMARC pass) is shown as
/// the reporter's; a forged copy after the real one changes nothing; a copy with other
/// contents (stored beside) keeps its own.
async fn who_sent_a_report_is_kept_and_only_strengthened(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let now = T0 + DAY + 3600;
    let real = sample_report();
    let domain = real.policy.domain_key();
    let forged = Provenance::Mail {
        from_domain: Some("evil.example".into()),
        dmarc: CarrierDmarc::None,
    };
    let reporter = Provenance::Mail {
        from_domain: Some("stalw.art".into()),
        dmarc: CarrierDmarc::Pass,
    };
    let insert = |report: &reports::Feedback, p: &Provenance| {
        let (store, report, p) = (store.clone(), report.clone(), p.clone());
        async move {
            store
                .insert_received_report_from(report.into(), None, &p, now)
                .await
                .unwrap()
        }
    };
    assert!(insert(&real, &forged).await.id().is_some());
    // a source's reporters are those of the reports counted (an unverified one is not)
    let one = |p: &Provenance| {
        let counted = if p.counted() {
            vec![p.clone()]
        } else {
            Vec::new()
        };
        (vec![p.clone()], counted)
    };
    assert_eq!(senders(&store, &domain).await, one(&forged));
    assert_eq!(insert(&real, &reporter).await, ReceivedInsert::Duplicate);
    assert_eq!(senders(&store, &domain).await, one(&reporter));
    for weaker in [&forged, &Provenance::Imported] {
        assert_eq!(insert(&real, weaker).await, ReceivedInsert::Duplicate);
        assert_eq!(senders(&store, &domain).await, one(&reporter), "{weaker:?}");
    }
    // other contents under the same Report-ID: stored beside, with its own provenance, and
    // strengthened the same way when sent again
    let mut other = real.clone();
    other.records[0].row.count += 1;
    assert!(matches!(
        insert(&other, &forged).await,
        ReceivedInsert::StoredBesideConflicting(_)
    ));
    let mut both = vec![forged.clone(), reporter.clone()];
    both.sort();
    assert_eq!(senders(&store, &domain).await.0, both);
    assert_eq!(insert(&other, &reporter).await, ReceivedInsert::Duplicate);
    assert_eq!(senders(&store, &domain).await.0, vec![reporter.clone()]);
}

/// RFC 9990 §8.2: an operator importing a mailbox vouches only for reports whose sender is
/// not known; a report mailed unverified stays unverified when imported again (the import
/// would otherwise erase the mark), and an unknown one becomes imported.
async fn an_import_does_not_replace_a_mailed_provenance(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let now = T0 + DAY + 3600;
    let real = sample_report();
    let domain = real.policy.domain_key();
    let forged = Provenance::Mail {
        from_domain: Some("evil.example".into()),
        dmarc: CarrierDmarc::None,
    };
    store
        .insert_received_report_from(real.clone().into(), None, &forged, now)
        .await
        .unwrap();
    assert_eq!(
        store
            .insert_received_report(real.clone().into(), None, now)
            .await
            .unwrap(),
        ReceivedInsert::Duplicate
    );
    assert_eq!(
        senders(&store, &domain).await,
        (vec![forged.clone()], Vec::new())
    );
}

/// RFC 9990 §8.2: anyone can mail the rua address a report naming any reporter. The
/// totals, pass rates, days, sources and "policy as last reported" count only reports
/// whose sender is verified (DMARC pass), imported by the operator or unknown; an
/// unverified report is listed among the reporters and counted apart, and it is counted
/// once its reporter sends the same report with DMARC pass.
async fn unverified_reports_are_not_counted(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let now = T0 + DAY + 3600;
    let real = sample_report();
    let domain = real.policy.domain_key();
    let forged_by = Provenance::Mail {
        from_domain: Some("evil.example".into()),
        dmarc: CarrierDmarc::None,
    };
    let reporter = Provenance::Mail {
        from_domain: Some("stalw.art".into()),
        dmarc: CarrierDmarc::Pass,
    };
    let mut forged = real.clone();
    forged.metadata.report_id = "forged".into();
    forged.metadata.date_range.begin += 3600;
    forged.records[0].row.count += 1_000_000;
    forged.records[0].row.policy_evaluated.dkim = reports::vocabulary::AlignedResult::Fail;
    forged.records[0].row.policy_evaluated.spf = reports::vocabulary::AlignedResult::Fail;
    forged.policy.pct = Some(1);
    for (report, p) in [(&real, &reporter), (&forged, &forged_by)] {
        store
            .insert_received_report_from(report.clone().into(), None, p, now)
            .await
            .unwrap();
    }
    let all = Span {
        begin: 0,
        end: 4_000_000_000,
    };
    let (messages, unverified) = (real.message_count(), (1, forged.message_count()));
    let page = store
        .received_domain_summary(&domain, all, 100, 100, 100)
        .await
        .unwrap();
    assert_eq!(page.messages, messages);
    assert_eq!(
        page.sources.iter().map(|s| s.messages).sum::<u64>(),
        messages
    );
    assert!(
        page.sources
            .iter()
            .flat_map(|s| &s.reporters)
            .all(|r| r.sent.verified_domain().is_some())
    );
    assert_eq!(page.policy.as_ref(), Some(&real.policy));
    assert_eq!(
        (page.unverified.reports, page.unverified.messages),
        unverified
    );
    assert_eq!(
        page.reporters.len(),
        2,
        "the forged reporter is still listed"
    );
    // but the page's reporter figure, beside the counted totals, is the domain list's
    assert_eq!((page.reporters_total, page.reporters_counted), (2, 1));
    let (domains, _) = store.received_domains(all, 10).await.unwrap();
    let overview = domains.first().unwrap();
    assert_eq!(
        (overview.messages, overview.reports, overview.reporters),
        (messages, 1, 1)
    );
    assert_eq!(
        (overview.unverified.reports, overview.unverified.messages),
        unverified
    );
    // the same report sent by its reporter: counted from then on
    store
        .insert_received_report_from(forged.clone().into(), None, &reporter, now)
        .await
        .unwrap();
    let page = store
        .received_domain_summary(&domain, all, 100, 100, 100)
        .await
        .unwrap();
    assert_eq!(page.messages, real.message_count() + forged.message_count());
    assert_eq!(
        page.sources.iter().map(|s| s.messages).sum::<u64>(),
        page.messages
    );
    assert_eq!((page.unverified.reports, page.unverified.messages), (0, 0));
    assert_eq!(page.policy.as_ref(), Some(&forged.policy));
}

on_both_backends! {
    unverified_reports_are_not_counted =>
        sqlite_unverified_reports_are_not_counted,
        postgres_unverified_reports_are_not_counted;
    an_import_does_not_replace_a_mailed_provenance =>
        sqlite_an_import_does_not_replace_a_mailed_provenance,
        postgres_an_import_does_not_replace_a_mailed_provenance;
    who_sent_a_report_is_kept_and_only_strengthened =>
        sqlite_who_sent_a_report_is_kept_and_only_strengthened,
        postgres_who_sent_a_report_is_kept_and_only_strengthened;
    a_received_report_is_stored_once =>
        sqlite_a_received_report_is_stored_once,
        postgres_a_received_report_is_stored_once;
    a_reused_report_id_does_not_hide_a_report =>
        sqlite_a_reused_report_id_does_not_hide_a_report,
        postgres_a_reused_report_id_does_not_hide_a_report;
}
