//! Signing on forward listeners (`role = "forward"`): checked and signed in one pass, and a
//! key aligned with the From domain never vouches for a stranger's forgery (RFC 9989 §4.4).

use crate::signing::{as_delivered, keys, outgoing};
use crate::support::Milter;

/// A forwarder never vouches for a stranger's forgery of a domain it signs for (RFC 9989
/// §4.4): on a `role = "forward"` listener, a message from a client that is not ours whose
/// From domain no SPF or DKIM pass authenticated gets no signature aligned with that domain;
/// its other signatures (a forwarder's own, unaligned `d=`) and our clients' mail are signed.
#[tokio::test(flavor = "multi_thread")]
async fn forward_listener_withholds_aligned_signatures_from_unauthenticated_strangers() {
    let k = keys("[[dkim.signing]]\nfrom = \"*\"\nkeys = [\"rsa2026\"]\n");
    let toml = k.config("forward", "");
    // example.org's SPF allows only 198.51.100.1
    let zone = format!(
        "{}example.org TXT \"v=spf1 ip4:198.51.100.1 -all\"\n",
        k.zone
    );
    let m = Milter::start(&toml, &zone).await;
    let send = |ip: &'static str, from: &'static str| {
        let m = &m;
        async move {
            let mut mta = m.postfix().await;
            mta.connect("x.example", ip.parse().unwrap(), 1, &[])
                .await
                .expect("connect");
            let out = mta
                .send_transaction(
                    &format!("<alice@{from}>"),
                    &["<bob@example.net>"],
                    &outgoing(from),
                )
                .await
                .expect("message");
            assert!(out.is_accept(), "{out:?}");
            out
        }
    };
    // a stranger forging example.org (SPF fails, no DKIM): not signed as example.org
    let out = send("203.0.113.5", "example.org").await;
    assert!(out.added_header("DKIM-Signature").is_none(), "{out:?}");
    // the same message from example.org's own server: SPF aligned pass, signed
    let out = send("198.51.100.1", "example.org").await;
    assert!(out.added_header("DKIM-Signature").is_some(), "{out:?}");
    // a stranger writing from another domain: our d=example.org does not align, signed
    let out = send("203.0.113.5", "author.example").await;
    assert!(out.added_header("DKIM-Signature").is_some(), "{out:?}");
    // our own client (an internal network): signed
    let out = send("127.0.0.1", "example.org").await;
    assert!(out.added_header("DKIM-Signature").is_some(), "{out:?}");
    m.stop().await;
}

/// The same with DMARC evaluation turned off (`[dmarc] enabled = false`): no DMARC result
/// says whether the From domain was authenticated, so the SPF and DKIM results decide. A
/// stranger's forgery of our domain still gets no aligned signature; an SPF pass aligned with
/// it still does.
#[tokio::test(flavor = "multi_thread")]
async fn forward_listener_withholds_aligned_signatures_without_dmarc_evaluation() {
    let k = keys("[[dkim.signing]]\nfrom = \"*\"\nkeys = [\"rsa2026\"]\n");
    let toml = k.config("forward", "[dmarc]\nenabled = false\n");
    let zone = format!(
        "{}example.org TXT \"v=spf1 ip4:198.51.100.1 -all\"\n",
        k.zone
    );
    let m = Milter::start(&toml, &zone).await;
    for (ip, signed) in [("203.0.113.5", false), ("198.51.100.1", true)] {
        let mut mta = m.postfix().await;
        mta.connect("x.example", ip.parse().unwrap(), 1, &[])
            .await
            .expect("connect");
        let out = mta
            .send_transaction(
                "<alice@example.org>",
                &["<bob@example.net>"],
                &outgoing("example.org"),
            )
            .await
            .expect("message");
        assert!(out.is_accept(), "{out:?}");
        assert_eq!(
            out.added_header("DKIM-Signature").is_some(),
            signed,
            "{ip}: {out:?}"
        );
    }
    m.stop().await;
}

/// A forwarder (`role = "forward"`) verifies and signs one message in one pass: the author's
/// signature verifies (dkim=pass in our A-R), ours is added, the headers end up top-down as
/// docs/architecture.md ("Header order") says — our DKIM-Signature above our
/// Authentication-Results — and the body was hashed once for both (relaxed on both sides).
#[tokio::test(flavor = "multi_thread")]
async fn forward_listener_verifies_and_signs_in_one_pass() {
    use std::sync::Arc;

    use arc_swap::ArcSwap;
    use authmilter::app::App;
    use authmilter::config::{Config, SocketSpec};
    use authmilter::pipeline::ResultsSink;
    use authmilter::server::Server;
    use authmilter::services::Services;

    // the list's key (list.example) signs; the author (example.org) signed with its own key
    let list = keys("[[dkim.signing]]\nfrom = \"*\"\nkeys = [\"rsa2026\"]\n");
    let author = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("keygen");
    let zone = format!(
        "{}a1._domainkey.author.example TXT \"{}\"\n",
        list.zone,
        author.record.text()
    );
    let toml = list.config("forward", "[authres]\nauthserv_id = \"list.example\"\n");
    let raw = outgoing("author.example");
    let signer = dkim::Signer::from_pem(
        author.private_key_pem.as_bytes(),
        dkim::SignerConfig::new("author.example", "a1"),
    )
    .expect("author signer");
    let mut signed = dkim::sign_message(&signer, &raw, dkim::unix_now())
        .expect("sign")
        .to_field()
        .into_bytes();
    signed.extend_from_slice(&raw);

    let dns = Arc::new(dns::memory::MemoryResolver::from_zone(&zone).expect("zone"));
    let app = Arc::new(App::new(Config::parse(&toml).expect("config"), dns.clone()).expect("app"));
    let (sink, mut published) = ResultsSink::bounded(4);
    let server = Server::bind_shared(Arc::new(ArcSwap::new(app)), Services::with_sink(sink))
        .await
        .expect("bind");
    let addr = match server.local_addrs().first() {
        Some(SocketSpec::Inet { host, port }) => {
            std::net::SocketAddr::new(host.parse().expect("ip"), *port)
        }
        other => panic!("{other:?}"),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let mut mta = testkit::MtaClient::connect_tcp(addr, testkit::Profile::postfix())
        .await
        .expect("connect");
    mta.negotiate().await.expect("negotiate");
    mta.connect("mx.author.example", "192.0.2.20".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    mta.helo("mx.author.example", &[]).await.expect("helo");
    let out = mta
        .send_transaction(
            "<alice@author.example>",
            &["<members@list.example>"],
            &signed,
        )
        .await
        .expect("message");
    assert!(out.is_accept(), "{out:?}");
    // the order the headers end up in, top-down
    let delivered = as_delivered(&out, &signed);
    let names: Vec<String> = message::parse_message(&delivered)
        .headers
        .iter()
        .map(|h| String::from_utf8_lossy(&h.name).into_owned())
        .take(3)
        .collect();
    assert_eq!(
        names,
        ["DKIM-Signature", "Authentication-Results", "DKIM-Signature"],
        "ours, our A-R, then the author's signature"
    );
    let ar = crate::support::authres(&out);
    assert!(
        ar.contains("dkim=pass") && ar.contains("header.d=author.example"),
        "{ar}"
    );
    // both signatures verify on the delivered message
    let results = dkim::verify_message(
        &dkim::Verifier::default(),
        &*dns,
        &delivered,
        dkim::unix_now(),
    )
    .await;
    let passed: Vec<&str> = results
        .iter()
        .filter(|r| r.result == dkim::DkimResult::Pass)
        .map(|r| r.domain.as_str())
        .collect();
    assert_eq!(passed, ["example.org", "author.example"], "{results:?}");
    // one body hash for the author's relaxed signature and ours
    let record = tokio::time::timeout(std::time::Duration::from_secs(10), published.recv())
        .await
        .expect("published")
        .expect("open");
    assert_eq!(
        record
            .decision
            .as_deref()
            .expect("the sink keeps decisions")
            .body_hashes,
        1
    );
    assert_eq!(
        record
            .decision
            .as_deref()
            .expect("the sink keeps decisions")
            .signed,
        ["example.org/rsa2026"]
    );
    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), task).await;
}

/// `eval` says which keys were withheld, not "no key for the From domain".
#[test]
fn eval_names_the_withheld_keys() {
    let k = keys("[[dkim.signing]]\nfrom = \"*\"\nkeys = [\"rsa2026\"]\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, zone, msg) = (
        dir.path().join("milter.toml"),
        dir.path().join("zone"),
        dir.path().join("m.eml"),
    );
    std::fs::write(&config, k.config("forward", "")).expect("config");
    std::fs::write(
        &zone,
        format!(
            "{}example.org TXT \"v=spf1 ip4:198.51.100.1 -all\"\n",
            k.zone
        ),
    )
    .expect("zone");
    std::fs::write(&msg, outgoing("example.org")).expect("message");
    let args = |json: bool| {
        let mut a = vec![
            "eval".to_string(),
            msg.display().to_string(),
            "-c".into(),
            config.display().to_string(),
            "--zone".into(),
            zone.display().to_string(),
            "--ip".into(),
            "203.0.113.5".into(),
            "--mail-from".into(),
            "alice@example.org".into(),
            "--role".into(),
            "forward".into(),
        ];
        if json {
            a.push("--json".into());
        }
        a
    };
    let run = |json| {
        let a = args(json);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        crate::support::run_cli(&refs, None)
    };
    let (code, out, err) = run(false);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sign:   none: withheld"), "{out}");
    let (_, out, _) = run(true);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        v["signatures_withheld"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );
}

/// `eval` signs with the keys `serve` signs with: a key whose DNS record is missing does not
/// sign until it is published (serve checks each key before it signs), and a refusal at RCPT
/// is reported under the message's direction.
#[test]
fn eval_checks_the_keys_as_serve_does() {
    let k = keys("");
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, msg) = (dir.path().join("milter.toml"), dir.path().join("m.eml"));
    let secrets = dir.path().join("srs.secrets");
    std::fs::write(&secrets, "a-secret-of-the-test\n").expect("secrets");
    let srs = format!(
        "[srs]\nenabled = true\ndomain = \"fwd.example.org\"\nsecrets = \"{}\"\n",
        secrets.display()
    );
    std::fs::write(&config, k.config("auto", &srs)).expect("config");
    std::fs::write(&msg, outgoing("example.org")).expect("message");
    let eval = |zone: &str, extra: &[&str]| {
        let zone_file = dir.path().join("zone");
        std::fs::write(&zone_file, zone).expect("zone");
        let mut a: Vec<String> = [
            "eval",
            msg.to_str().expect("utf-8"),
            "-c",
            config.to_str().expect("utf-8"),
            "--zone",
            zone_file.to_str().expect("utf-8"),
            "--ip",
            "127.0.0.1",
            "--mail-from",
            "alice@example.org",
            "--role",
            "sign",
            "--json",
        ]
        .map(String::from)
        .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let (code, out, err) = crate::support::run_cli(&refs, None);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).expect("json")
    };
    let published = eval(&k.zone, &[]);
    assert_eq!(
        published["signatures"].as_array().map(Vec::len),
        Some(2),
        "{published}"
    );
    let missing = eval("example.org TXT \"v=spf1 -all\"\n", &[]);
    assert_eq!(
        missing["signatures"].as_array().map(Vec::len),
        Some(0),
        "{missing}"
    );
    let refused = eval(
        &k.zone,
        &["--rcpt", "SRS0=ZZZZ=JZ=remote.example=bob@fwd.example.org"],
    );
    assert_eq!(refused["action"], "reject", "{refused}");
    assert_eq!(refused["direction"], "outbound", "{refused}");
}
