//! PostgreSQL over TLS against a real throwaway cluster (AUTHMILTER_E2E=1): libpq's
//! `sslmode` and `sslrootcert` with a CA and server certificate made here with rcgen.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use report_store::sql::Stmt;
use report_store::{Store, StoreError, StoreLocation};
use test_support::postgres::{ServerTls, TestPostgres};

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

/// A server certificate for `localhost` signed by `ca`.
fn server_tls(ca: &CertifiedIssuer<'static, KeyPair>, hostssl_only: bool) -> ServerTls {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, ca).unwrap();
    ServerTls {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        hostssl_only,
    }
}

/// Opens the store; `Ok(true)` when the session is encrypted (pg_stat_ssl).
async fn open(url: &str) -> Result<bool, StoreError> {
    let loc: StoreLocation = url.parse()?;
    let store = Store::open(&loc, 0).await?;
    let rows = store
        .transaction(vec![Stmt::new(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            vec![],
        )])
        .await?;
    Ok(rows[0][0].int(0)? == 1)
}

fn refused(result: Result<bool, StoreError>, why: &str) -> String {
    match result {
        Ok(tls) => panic!("connected (tls {tls}) but expected a refusal: {why}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn sslmodes_against_a_tls_only_server() {
    if !test_support::e2e_enabled() {
        return;
    }
    let good = ca("authmilter test CA");
    let other = ca("some other CA");
    let pg = TestPostgres::start_with_tls(&server_tls(&good, true)).expect("start PostgreSQL");
    pg.create_database("tls").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good_pem = dir.path().join("good-ca.pem");
    let other_pem = dir.path().join("other-ca.pem");
    std::fs::write(&good_pem, good.pem()).unwrap();
    std::fs::write(&other_pem, other.pem()).unwrap();
    let port = pg.port();
    // the name in the URL is what the certificate is checked against; hostaddr is where
    // the connection goes
    let at = |host: &str, params: &str| {
        format!("postgres://postgres@{host}:{port}/tls?hostaddr=127.0.0.1&{params}")
    };
    let good_ca = format!("sslrootcert={}", good_pem.display());
    let other_ca = format!("sslrootcert={}", other_pem.display());

    // encryption without verification
    assert!(open(&at("localhost", "sslmode=require")).await.unwrap());
    assert!(open(&at("wrong.invalid", "sslmode=require")).await.unwrap());
    assert!(open(&at("localhost", "sslmode=prefer")).await.unwrap());
    // libpq: require with a root file checks the chain
    let e = refused(
        open(&at("localhost", &format!("sslmode=require&{other_ca}"))).await,
        "require with the wrong CA file",
    );
    assert!(e.contains("UnknownIssuer"), "{e}");

    // verify-full: chain and name
    assert!(
        open(&at("localhost", &format!("sslmode=verify-full&{good_ca}")))
            .await
            .unwrap()
    );
    let e = refused(
        open(&at("localhost", &format!("sslmode=verify-full&{other_ca}"))).await,
        "verify-full with the wrong CA",
    );
    assert!(e.contains("UnknownIssuer"), "{e}");
    let e = refused(
        open(&at(
            "wrong.invalid",
            &format!("sslmode=verify-full&{good_ca}"),
        ))
        .await,
        "verify-full with the wrong host name",
    );
    assert!(e.contains("not valid for name \"wrong.invalid\""), "{e}");
    // no sslrootcert: the system roots, which do not hold our test CA
    let e = refused(
        open(&at("localhost", "sslmode=verify-full")).await,
        "verify-full with the system roots",
    );
    assert!(e.contains("UnknownIssuer"), "{e}");

    // verify-ca: chain only
    assert!(
        open(&at(
            "wrong.invalid",
            &format!("sslmode=verify-ca&{good_ca}")
        ))
        .await
        .unwrap()
    );
    let e = refused(
        open(&at("localhost", &format!("sslmode=verify-ca&{other_ca}"))).await,
        "verify-ca with the wrong CA",
    );
    assert!(e.contains("UnknownIssuer"), "{e}");

    // the key=value form takes the same parameters
    let kv = format!(
        "postgres:host=localhost hostaddr=127.0.0.1 port={port} user=postgres dbname=tls sslmode=verify-full sslrootcert='{}'",
        good_pem.display()
    );
    assert!(open(&kv).await.unwrap());

    // disable against hostssl-only: refused by the server, with a hint
    let e = refused(
        open(&at("localhost", "sslmode=disable")).await,
        "plaintext to a TLS-only server",
    );
    assert!(
        e.contains("no encryption") && e.contains("sslmode=disable"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn no_plaintext_fallback_unless_prefer() {
    if !test_support::e2e_enabled() {
        return;
    }
    let pg = TestPostgres::start().expect("start PostgreSQL");
    let url = pg.create_database("plain").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca("unused CA").pem()).unwrap();
    for mode in ["require", "verify-ca", "verify-full"] {
        let e = refused(
            open(&format!(
                "{url}?sslmode={mode}&sslrootcert={}",
                ca_pem.display()
            ))
            .await,
            mode,
        );
        assert!(e.contains("server does not support TLS"), "{mode}: {e}");
    }
    // prefer falls back to plaintext when the server has no TLS; disable never tries
    assert!(!open(&format!("{url}?sslmode=prefer")).await.unwrap());
    assert!(!open(&format!("{url}?sslmode=disable")).await.unwrap());
}
