//! The upgrade of a version-1 store with received reports.

use report_store::Store;

/// SQLite's spelling of the schema's placeholders.
const SQLITE: report_store::sql::Dialect<'static> = report_store::sql::Dialect {
    id: "INTEGER PRIMARY KEY AUTOINCREMENT",
    blob: "BLOB",
    queue_lock: "1",
    lock_wait: "1",
};

use crate::ALL;
use crate::samples::xml;

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
            let sql = report_store::sql::expand_types(s, &SQLITE);
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
        fresh
            .insert_received_report(fb.clone().into(), None, 0)
            .await
            .unwrap();
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
        // who sent them is not known for rows stored before version 4; `fresh` was
        // imported by the operator
        let unknown = report_store::Provenance::Unknown;
        assert!(a.reporters.iter().all(|r| r.sent == unknown), "{domain}");
        assert!(
            a.sources
                .iter()
                .flat_map(|s| &s.reporters)
                .all(|r| r.sent == unknown),
            "{domain}"
        );
        for r in a.reporters.iter_mut() {
            r.sent = report_store::Provenance::Imported;
        }
        for r in a.sources.iter_mut().flat_map(|s| s.reporters.iter_mut()) {
            r.sent = report_store::Provenance::Imported;
        }
        assert_eq!(a, b, "{domain}");
        assert!(b.sources.iter().any(|s| s.spf_pass > 0 && s.dkim_pass > 0));
    }
}

/// A report stored before version 3 has no digest: a report sent later under its
/// (org_name, report_id) is not known to have the same contents, so it does not lend the
/// stored one its provenance (a forged copy from a domain passing DMARC would otherwise
/// relabel the real report as sent by that domain; RFC 9990 §8.2).
#[tokio::test]
async fn a_report_without_a_digest_keeps_its_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let loc = format!("sqlite:{}", path.display()).parse().unwrap();
    let real = xml("mail-auth/003.xml");
    let domain = real.policy.domain_key();
    let store = Store::open(&loc, 5).await.unwrap();
    store
        .insert_received_report(real.clone().into(), None, 0)
        .await
        .unwrap();
    drop(store);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE received_reports SET digest = NULL, sender_domain = NULL,
                sender_dmarc = NULL",
            [],
        )
        .unwrap();
    }
    let store = Store::open(&loc, 5).await.unwrap();
    let mut forged = real.clone();
    forged.records[0].row.count += 1000;
    let evil = report_store::Provenance::Mail {
        from_domain: Some("evil.example".into()),
        dmarc: report_store::CarrierDmarc::Pass,
    };
    store
        .insert_received_report_from(forged.into(), None, &evil, 0)
        .await
        .unwrap();
    let page = store
        .received_domain_summary(&domain, ALL, 100, 100, 100)
        .await
        .unwrap();
    assert!(!page.reporters.is_empty());
    assert!(
        page.reporters.iter().all(|r| r.sent != evil),
        "{:?}",
        page.reporters
    );
}

/// `report show` only reads: a store of an older schema is not upgraded by opening it to
/// read (the operator upgrades it with `serve` or `report status`, which say so); a new,
/// empty store is created as usual, and a current one opens.
#[tokio::test]
async fn opening_to_read_does_not_upgrade_an_older_store() {
    use report_store::schema::{MIGRATIONS, VERSION_TABLE};
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("v3.db");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute(VERSION_TABLE, []).unwrap();
        for m in MIGRATIONS.iter().take(3) {
            for s in m.statements {
                let sql = report_store::sql::expand_types(s, &SQLITE);
                conn.execute(&sql, []).unwrap();
            }
            conn.execute(
                "INSERT INTO schema_version VALUES (?1, 0, 'old')",
                [m.version],
            )
            .unwrap();
        }
    }
    let loc = format!("sqlite:{}", old.display()).parse().unwrap();
    let refused = Store::open_for_reading(&loc, 5).await;
    assert!(
        matches!(
            refused,
            Err(report_store::StoreError::SchemaTooOld { found: 3, .. })
        ),
        "{refused:?}"
    );
    let version: i64 = rusqlite::Connection::open(&old)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3, "not upgraded");
    // brought up to date by a writer, it opens to read
    Store::open(&loc, 5).await.unwrap();
    assert!(Store::open_for_reading(&loc, 5).await.is_ok());
    let fresh = format!("sqlite:{}", dir.path().join("new.db").display())
        .parse()
        .unwrap();
    assert!(Store::open_for_reading(&fresh, 5).await.is_ok());
}
