//! Inbound checks through the running milter, with DNS from an in-memory zone: SPF, DKIM,
//! DMARC, iprev, the one Authentication-Results header, and the configured actions.

use milter_proto::Response;
use testkit::MtaClient;

use crate::support::{LISTEN_VERIFY, Milter, authres, message, transaction};

/// A zone for example.org (SPF allows 192.0.2.0/24, DMARC p=reject) and the client's FCrDNS.
pub(crate) fn zone(dkim_record: &str, dmarc: &str) -> String {
    format!(
        r#"
example.org TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.example.org TXT "{dmarc}"
sel._domainkey.example.org TXT "{dkim_record}"
mail.example.org A 192.0.2.10
mail.example.org TXT "v=spf1 a -all"
10.2.0.192.in-addr.arpa PTR mail.example.org
forged.example A 198.51.100.99
99.100.51.198.in-addr.arpa PTR forged.example
"#
    )
}

/// A fresh Ed25519 key for sel._domainkey.example.org: (signer, DNS record text).
pub(crate) fn key() -> (dkim::Signer, String) {
    let k = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("key");
    let signer = dkim::Signer::from_pem(
        k.private_key_pem.as_bytes(),
        dkim::SignerConfig::new("example.org", "sel"),
    )
    .expect("signer");
    (signer, k.record.text())
}

fn plain() -> Vec<u8> {
    message(&[
        "From: Alice <alice@example.org>",
        "To: bob@example.net",
        "Subject: quarterly report",
        "Date: Sun, 22 Nov 2026 10:00:00 +0000",
        "Message-ID: <1@example.org>",
        "",
        "Numbers attached.",
    ])
}

/// `raw` from a client the zone gives no SPF pass: 198.51.100.99, HELO forged.example, mail
/// from a@example.org to b@example.net.
async fn from_forged_client(mta: &mut MtaClient, raw: &[u8]) -> testkit::EomOutcome {
    transaction(
        mta,
        "198.51.100.99",
        "forged.example",
        "a@example.org",
        "b@example.net",
        raw,
    )
    .await
}

fn signed(signer: &dkim::Signer, raw: &[u8]) -> Vec<u8> {
    let sig = dkim::sign_message(signer, raw, dkim::unix_now()).expect("sign");
    let mut out = sig.to_field().into_bytes();
    out.extend_from_slice(raw);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn everything_passes_and_one_header_says_so() {
    let (signer, record) = key();
    let m = Milter::start(LISTEN_VERIFY, &zone(&record, "v=DMARC1; p=reject")).await;
    let mut mta = m.postfix().await;
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &signed(&signer, &plain()),
    )
    .await;
    assert!(out.is_accept(), "{out:?}");
    let ar = authres(&out);
    for want in [
        "mx.test.example;",
        "iprev=pass policy.iprev=192.0.2.10 (mail.example.org)",
        "spf=pass smtp.mailfrom=example.org",
        "spf=pass smtp.helo=mail.example.org",
        "dkim=pass",
        "header.d=example.org",
        "header.s=sel",
        "header.a=ed25519-sha256",
        "header.b=",
        "dmarc=pass",
        "header.from=example.org",
        "policy.dmarc=reject",
    ] {
        assert!(ar.contains(want), "missing {want:?} in {ar}");
    }
    // exactly one A-R header was added, and lines stay under 78 columns where possible
    let count = out
        .added_headers()
        .iter()
        .filter(|(_, n, _)| n.eq_ignore_ascii_case(b"Authentication-Results"))
        .count();
    assert_eq!(count, 1);
    for line in ar.split('\n') {
        assert!(line.len() + 2 <= 78, "long line {line:?}");
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_body_fails_dkim_with_a_reason() {
    let (signer, record) = key();
    let m = Milter::start(LISTEN_VERIFY, &zone(&record, "v=DMARC1; p=none")).await;
    let mut mta = m.postfix().await;
    let mut raw = signed(&signer, &plain());
    let last = raw.len() - 3;
    raw[last] ^= 0x01;
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &raw,
    )
    .await;
    let ar = authres(&out);
    assert!(ar.contains("dkim=fail"), "{ar}");
    assert!(ar.contains("body hash did not verify"), "{ar}");
    // SPF still aligns, so DMARC passes
    assert!(ar.contains("dmarc=pass"), "{ar}");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dmarc_reject_is_enforced_with_our_reply() {
    let (_, record) = key();
    let toml = format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n");
    let m = Milter::start(&toml, &zone(&record, "v=DMARC1; p=reject")).await;
    let mut mta = m.postfix().await;
    // SPF fails from this address and there is no signature
    let out = transaction(
        &mut mta,
        "198.51.100.99",
        "forged.example",
        "alice@example.org",
        "bob@example.net",
        &plain(),
    )
    .await;
    match &out.final_response {
        Response::ReplyCode(r) => {
            assert_eq!(r.code(), 550);
            let text = String::from_utf8_lossy(&r.to_wire()).into_owned();
            assert!(text.contains("5.7.1"), "{text}");
            assert!(text.contains("example.org"), "{text}");
        }
        other => panic!("expected a 550, got {other:?}"),
    }
    // the same with enforce off: accepted, and the header records the failure
    let m2 = Milter::start(LISTEN_VERIFY, &zone(&record, "v=DMARC1; p=reject")).await;
    let mut mta2 = m2.postfix().await;
    let out2 = transaction(
        &mut mta2,
        "198.51.100.99",
        "forged.example",
        "alice@example.org",
        "bob@example.net",
        &plain(),
    )
    .await;
    assert!(out2.is_accept());
    let ar = authres(&out2);
    assert!(ar.contains("dmarc=fail"), "{ar}");
    assert!(ar.contains("spf=fail"), "{ar}");
    m.stop().await;
    m2.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dmarc_quarantine_holds_or_marks() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=quarantine");
    let hold = Milter::start(&format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n"), &z).await;
    let mut mta = hold.postfix().await;
    let out = from_forged_client(&mut mta, &plain()).await;
    assert!(out.is_accept());
    assert!(
        out.modifications
            .iter()
            .any(|r| matches!(r, Response::Quarantine(reason) if !reason.is_empty())),
        "{out:?}"
    );
    let header = Milter::start(
        &format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\nquarantine = \"header\"\n"),
        &z,
    )
    .await;
    let mut mta = header.postfix().await;
    let out = from_forged_client(&mut mta, &plain()).await;
    assert!(out.is_accept());
    let flag = out.added_header("X-Spam-Flag").expect("junk header");
    assert_eq!(&flag[..], b"YES");
    // the mark is ours alone: a sender's own `X-Spam-Flag: NO` (which Sieve's spamtest would
    // read first, above ours) is removed, every copy of it
    let with_flag = [&b"X-Spam-Flag: NO\r\nx-spam-flag: no\r\n"[..], &plain()].concat();
    let out = from_forged_client(&mut mta, &with_flag).await;
    let mut removed: Vec<u32> = out
        .modifications
        .iter()
        .filter_map(|r| match r {
            Response::ChgHeader { index, name, value }
                if name.eq_ignore_ascii_case(b"X-Spam-Flag") && value.is_empty() =>
            {
                Some(*index)
            }
            _ => None,
        })
        .collect();
    removed.sort_unstable();
    assert_eq!(removed, [1, 2], "{out:?}");
    // an MTA that does not allow SMFIF_QUARANTINE: the hold becomes the quarantine header,
    // not a delivery as if nothing had failed
    let offer = milter_proto::OptNeg {
        actions: milter_proto::Actions::ALL.difference(milter_proto::Actions::QUARANTINE),
        ..milter_proto::OptNeg::POSTFIX_V6
    };
    let mut mta = hold
        .client(testkit::Profile::postfix().with_offer(offer))
        .await;
    let out = from_forged_client(&mut mta, &plain()).await;
    assert!(out.is_accept(), "{out:?}");
    assert!(
        !out.modifications
            .iter()
            .any(|r| matches!(r, Response::Quarantine(_))),
        "{out:?}"
    );
    let flag = out.added_header("X-Spam-Flag").expect("junk header");
    assert_eq!(&flag[..], b"YES");
    assert!(authres(&out).contains("dmarc=fail"), "{out:?}");
    // an MTA that allows neither SMFIF_QUARANTINE nor SMFIF_ADDHDRS: neither held nor
    // marked, so not delivered: tempfailed
    let offer = milter_proto::OptNeg {
        actions: milter_proto::Actions::ALL
            .difference(milter_proto::Actions::QUARANTINE | milter_proto::Actions::ADDHDRS),
        ..milter_proto::OptNeg::POSTFIX_V6
    };
    let mut mta = hold
        .client(testkit::Profile::postfix().with_offer(offer))
        .await;
    let out = from_forged_client(&mut mta, &plain()).await;
    assert!(out.is_tempfail(), "{out:?}");
    hold.stop().await;
    header.stop().await;
}

/// RFC 9989 §9.1: `policy.dmarc` is the policy applied after the record's options; a domain
/// testing `p=quarantine` (`t=y`, §4.7) expects `none` for failing mail, and a local rule
/// keyed on `policy.dmarc=quarantine` must not junk it. The comment keeps what was asked.
#[tokio::test(flavor = "multi_thread")]
async fn policy_dmarc_says_the_policy_applied_under_testing() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=quarantine; t=y");
    let m = Milter::start(&format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n"), &z).await;
    let mut mta = m.postfix().await;
    let out = from_forged_client(&mut mta, &plain()).await;
    assert!(out.is_accept(), "{out:?}");
    assert!(
        !out.modifications
            .iter()
            .any(|r| matches!(r, Response::Quarantine(_))),
        "{out:?}"
    );
    let ar = authres(&out);
    assert!(ar.contains("dmarc=fail (p=quarantine dis=none)"), "{ar}");
    assert!(ar.contains("policy.dmarc=none"), "{ar}");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_temporary_failure_tempfails_or_accepts_as_configured() {
    let (_, record) = key();
    let z = format!("{}\n_dmarc.example.org SERVFAIL\n", zone(&record, "unused"))
        .replace("_dmarc.example.org TXT \"unused\"", "");
    let m = Milter::start(&format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n"), &z).await;
    let mut mta = m.postfix().await;
    let out = from_forged_client(&mut mta, &plain()).await;
    match &out.final_response {
        Response::ReplyCode(r) => assert_eq!(r.code(), 451, "{r:?}"),
        other => panic!("expected 451, got {other:?}"),
    }
    let m2 = Milter::start(
        &format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n[policy]\ntemperror = \"accept\"\n"),
        &z,
    )
    .await;
    let mut mta2 = m2.postfix().await;
    let out2 = from_forged_client(&mut mta2, &plain()).await;
    assert!(out2.is_accept());
    assert!(
        authres(&out2).contains("dmarc=temperror"),
        "never a silent pass"
    );
    m.stop().await;
    m2.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_lists_and_our_own_users_are_never_rejected() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=reject");
    let allowed = Milter::start(
        &format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n[policy]\nallow_networks = [\"198.51.100.0/24\"]\n"),
        &z,
    )
    .await;
    let mut mta = allowed.postfix().await;
    let out = from_forged_client(&mut mta, &plain()).await;
    assert!(out.is_accept(), "allow-listed network");
    assert!(
        authres(&out).contains("dmarc=fail"),
        "results still recorded"
    );

    // role auto: an authenticated client is ours: no checks, no header, no rejection
    let auto = Milter::start(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"auto\"\n[dmarc]\nenforce = true\n",
        &z,
    )
    .await;
    let mut mta = auto.postfix().await;
    mta.connect(
        "client.example.org",
        "198.51.100.99".parse().unwrap(),
        4000,
        &[],
    )
    .await
    .expect("connect");
    mta.helo("forged.example", &[]).await.expect("helo");
    mta.mail(
        "<a@example.org>",
        &[],
        &[("{auth_authen}", "alice"), ("{auth_type}", "PLAIN")],
    )
    .await
    .expect("mail");
    mta.rcpt("<b@example.net>", &[], &[]).await.expect("rcpt");
    let out = mta.send_message(&plain()).await.expect("message");
    assert!(out.is_accept());
    assert!(out.added_header("Authentication-Results").is_none());
    // the same client without AUTH is inbound and gets checked
    let out = mta
        .send_transaction("<a@example.org>", &["<b@example.net>"], &plain())
        .await
        .expect("message");
    assert!(
        matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
        "{out:?}"
    );
    allowed.stop().await;
    auto.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn spf_fail_rejection_and_received_spf_header_when_configured() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=none");
    let m = Milter::start(
        &format!("{LISTEN_VERIFY}[spf]\nreject_fail = true\nreceived_spf_header = true\n"),
        &z,
    )
    .await;
    let mut mta = m.postfix().await;
    let out = from_forged_client(&mut mta, &plain()).await;
    match &out.final_response {
        Response::ReplyCode(r) => {
            let text = String::from_utf8_lossy(&r.to_wire()).into_owned();
            assert!(text.starts_with("550 5.7.23"), "{text}");
            assert!(text.contains("example.org"), "{text}");
        }
        other => panic!("expected 550, got {other:?}"),
    }
    let out = mta
        .send_transaction("<a@example.org>", &["<b@example.net>"], &plain())
        .await
        .expect("message");
    // same connection, same forged client: still rejected
    assert!(!out.is_accept());
    mta.quit().await.expect("quit");

    let mut ok = m.postfix().await;
    let out = transaction(
        &mut ok,
        "192.0.2.10",
        "mail.example.org",
        "a@example.org",
        "b@example.net",
        &plain(),
    )
    .await;
    assert!(out.is_accept());
    let rs = out.added_header("Received-SPF").expect("Received-SPF");
    let rs = String::from_utf8_lossy(rs);
    assert!(rs.starts_with("pass ("), "{rs}");
    assert!(rs.contains("client-ip=192.0.2.10"), "{rs}");
    // A-R sits above Received-SPF: inserted later at index 0
    let names: Vec<String> = out
        .added_headers()
        .iter()
        .map(|(_, n, _)| String::from_utf8_lossy(n).into_owned())
        .collect();
    assert_eq!(names, ["Received-SPF", "Authentication-Results"]);
    m.stop().await;
}

/// An SPF temperror under `reject_fail` is answered `451 4.7.24` (RFC 7208 §8.6, RFC 7372
/// §3.2 "SPF validation error"), not with the DMARC tempfail reply's 4.7.5 ("cryptographic
/// failure", RFC 3463).
#[tokio::test(flavor = "multi_thread")]
async fn spf_temperror_is_tempfailed_with_the_spf_status_code() {
    let (_, record) = key();
    let z = format!(
        "{}broken.example TXT SERVFAIL\n",
        zone(&record, "v=DMARC1; p=none")
    );
    let m = Milter::start(&format!("{LISTEN_VERIFY}[spf]\nreject_fail = true\n"), &z).await;
    let mut mta = m.postfix().await;
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "a@broken.example",
        "b@example.net",
        &plain(),
    )
    .await;
    match &out.final_response {
        Response::ReplyCode(r) => {
            let text = String::from_utf8_lossy(&r.to_wire()).into_owned();
            assert!(text.starts_with("451 4.7.24 "), "{text}");
            assert!(text.contains("broken.example"), "{text}");
        }
        other => panic!("expected 451, got {other:?}"),
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn several_from_domains_are_rejected_when_configured() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=reject");
    let raw = message(&[
        "From: alice@example.org, mallory@example.net",
        "Subject: two authors",
        "",
        "x",
    ]);
    let m = Milter::start(
        &format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\nmultiple_from = \"reject\"\n"),
        &z,
    )
    .await;
    let mut mta = m.postfix().await;
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "a@example.org",
        "b@example.net",
        &raw,
    )
    .await;
    assert!(
        matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
        "{out:?}"
    );
    let m2 = Milter::start(&format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n"), &z).await;
    let mut mta2 = m2.postfix().await;
    let out2 = transaction(
        &mut mta2,
        "192.0.2.10",
        "mail.example.org",
        "a@example.org",
        "b@example.net",
        &raw,
    )
    .await;
    // strictest: example.org passes via SPF, example.net has no record -> overall pass/none
    assert!(out2.is_accept(), "{out2:?}");
    m.stop().await;
    m2.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dmarc_header_from_is_evaluated_not_the_envelope() {
    // MAIL FROM at an unrelated domain with passing SPF does not make DMARC pass
    let (_, record) = key();
    let z = format!(
        "{}\nbounces.example.com TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n",
        zone(&record, "v=DMARC1; p=reject")
    );
    let m = Milter::start(&format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n"), &z).await;
    let mut mta = m.postfix().await;
    let out = transaction(
        &mut mta,
        "198.51.100.99",
        "forged.example",
        "x@bounces.example.com",
        "b@example.net",
        &plain(),
    )
    .await;
    assert!(
        matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
        "{out:?}"
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_domains_need_the_domain_to_authenticate() {
    let (_, record) = key();
    let esp = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("key");
    let esp_signer = dkim::Signer::from_pem(
        esp.private_key_pem.as_bytes(),
        dkim::SignerConfig::new("esp.example", "k1"),
    )
    .expect("signer");
    let z = format!(
        "{}\nk1._domainkey.esp.example TXT \"{}\"\n",
        zone(&record, "v=DMARC1; p=reject"),
        esp.record.text()
    );
    let toml = format!(
        "{LISTEN_VERIFY}[dmarc]\nenforce = true\n[policy]\nallow_domains = [\"esp.example\", \"example.org\"]\n"
    );
    let m = Milter::start(&toml, &z).await;
    // a forged From of a listed domain gets no exemption
    let mut mta = m.postfix().await;
    let out = from_forged_client(&mut mta, &plain()).await;
    assert!(
        matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
        "{out:?}"
    );
    // mail the listed ESP signed (DMARC fails on alignment) is not refused
    let mut mta = m.postfix().await;
    let out = from_forged_client(&mut mta, &signed(&esp_signer, &plain())).await;
    assert!(out.is_accept(), "{out:?}");
    let ar = authres(&out);
    assert!(
        ar.contains("dkim=pass") && ar.contains("header.d=esp.example"),
        "{ar}"
    );
    assert!(
        ar.contains("dmarc=fail"),
        "the result is still recorded: {ar}"
    );
    m.stop().await;
}
