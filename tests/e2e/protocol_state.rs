//! Per-connection and per-message state through the whole server: several messages on one
//! connection, ABORT at every stage, HELO again, macros per stage, QUIT_NC.

use std::time::Duration;

use testkit::{MtaClient, Profile};

use crate::support::{LISTEN_VERIFY, Milter, authres, message};

/// example.org passes SPF from 192.0.2.0/24; other.example fails everywhere; the HELO names
/// mail.example.org (pass from 192.0.2.10) and forged.example (fail).
const ZONE: &str = r#"
example.org TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.example.org TXT "v=DMARC1; p=none"
other.example TXT "v=spf1 -all"
_dmarc.other.example TXT "v=DMARC1; p=none"
mail.example.org A 192.0.2.10
mail.example.org TXT "v=spf1 a -all"
forged.example TXT "v=spf1 -all"
10.2.0.192.in-addr.arpa PTR mail.example.org
"#;

fn from(addr: &str, extra: &[&str]) -> Vec<u8> {
    let mut lines = vec![format!("From: <{addr}>"), "To: bob@example.net".into()];
    lines.extend(extra.iter().map(|s| s.to_string()));
    lines.extend(["Subject: hi".into(), String::new(), "body".into()]);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    message(&refs)
}

/// The SPF result and domain for `smtp.<kind>` in our Authentication-Results value.
fn spf<'a>(ar: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let key = format!("smtp.{kind}=");
    let line = ar.lines().find(|l| l.contains(&key))?.trim();
    let result = line.strip_prefix("spf=")?.split([' ', ';']).next()?;
    let domain = line.split(&key).nth(1)?.trim_end_matches(';');
    Some((result, domain))
}

async fn connected(m: &Milter, profile: Profile, helo: &str) -> MtaClient {
    let mut mta = m.client(profile).await;
    mta.connect("mail.example.org", "192.0.2.10".parse().unwrap(), 4000, &[])
        .await
        .expect("connect");
    mta.helo(helo, &[]).await.expect("helo");
    mta
}

async fn one(mta: &mut MtaClient, sender: &str, raw: &[u8]) -> testkit::EomOutcome {
    mta.mail(sender, &[], &[]).await.expect("mail");
    mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
    mta.send_message(raw).await.expect("message")
}

/// Three messages on one connection, each with another sender, From and forged header: each
/// result, deletion and DMARC verdict belongs to its own message.
#[tokio::test(flavor = "multi_thread")]
async fn several_messages_on_one_connection_share_nothing() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    for profile in [Profile::postfix(), Profile::sendmail()] {
        let mut mta = connected(&m, profile, "mail.example.org").await;
        let forged = "Authentication-Results: mx.test.example; spf=pass";
        let first = one(
            &mut mta,
            "<alice@example.org>",
            &from("alice@example.org", &[forged]),
        )
        .await;
        let ar = authres(&first);
        assert!(
            spf(&ar, "mailfrom") == Some(("pass", "example.org")),
            "{ar}"
        );
        assert!(ar.contains("dmarc=pass"), "{ar}");
        assert_eq!(first.deleted_headers().len(), 1, "{first:?}");

        let second = one(&mut mta, "<x@other.example>", &from("x@other.example", &[])).await;
        let ar = authres(&second);
        assert!(
            spf(&ar, "mailfrom") == Some(("fail", "other.example")),
            "{ar}"
        );
        assert!(ar.contains("dmarc=fail"), "{ar}");
        assert!(ar.contains("header.from=other.example"), "{ar}");
        assert!(second.deleted_headers().is_empty(), "{second:?}");

        // the null sender: SPF of the HELO identity
        let third = one(&mut mta, "<>", &from("alice@example.org", &[])).await;
        let ar = authres(&third);
        assert!(
            spf(&ar, "mailfrom") == Some(("pass", "mail.example.org")),
            "{ar}"
        );
        mta.quit().await.expect("quit");
    }
    m.stop().await;
}

/// ABORT after MAIL, after RCPT, after DATA, mid-headers, mid-body and after EOM; each time the
/// next message is judged on its own, even while the aborted message's lookups were still
/// running (slow DNS).
#[tokio::test(flavor = "multi_thread")]
async fn abort_at_every_stage_leaves_a_clean_message() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    m.dns.set_latency(Some(Duration::from_millis(150)));
    let mut mta = connected(&m, Profile::postfix(), "mail.example.org").await;
    for stage in 0..6 {
        mta.mail("<x@other.example>", &[], &[]).await.expect("mail");
        if stage >= 1 {
            mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
        }
        if stage >= 2 {
            mta.data(&[]).await.expect("data");
        }
        if stage >= 3 {
            mta.header("From", " <x@other.example>").await.expect("hdr");
            mta.header("Authentication-Results", " mx.test.example; spf=pass")
                .await
                .expect("hdr");
        }
        if stage >= 4 {
            mta.eoh().await.expect("eoh");
            mta.body(b"partial\r\n").await.expect("body");
        }
        if stage == 5 {
            mta.body(b"rest\r\n").await.expect("body");
            let out = mta.eom().await.expect("eom");
            assert!(out.is_accept());
        } else {
            mta.abort().await.expect("abort");
        }
        let out = one(
            &mut mta,
            "<alice@example.org>",
            &from("alice@example.org", &[]),
        )
        .await;
        let ar = authres(&out);
        assert!(
            spf(&ar, "mailfrom") == Some(("pass", "example.org")),
            "stage {stage}: {ar}"
        );
        assert!(ar.contains("dmarc=pass"), "stage {stage}: {ar}");
        assert!(out.deleted_headers().is_empty(), "stage {stage}: {out:?}");
    }
    mta.quit().await.expect("quit");
    m.stop().await;
}

/// HELO again (Postfix after STARTTLS: ABORT, MACRO H, HELO) and HELO inside a transaction:
/// the HELO check and the null sender's SPF use the latest name.
#[tokio::test(flavor = "multi_thread")]
async fn the_latest_helo_is_the_one_checked() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = connected(&m, Profile::postfix(), "forged.example").await;
    let out = one(&mut mta, "<>", &from("alice@example.org", &[])).await;
    let ar = authres(&out);
    assert!(
        spf(&ar, "mailfrom") == Some(("fail", "forged.example")),
        "{ar}"
    );
    assert!(spf(&ar, "helo") == Some(("fail", "forged.example")), "{ar}");

    // STARTTLS: ABORT, then HELO with the new name
    mta.abort().await.expect("abort");
    mta.helo("mail.example.org", &[("{tls_version}", "TLSv1.3")])
        .await
        .expect("helo");
    let out = one(&mut mta, "<>", &from("alice@example.org", &[])).await;
    let ar = authres(&out);
    assert!(
        spf(&ar, "mailfrom") == Some(("pass", "mail.example.org")),
        "{ar}"
    );
    assert!(
        spf(&ar, "helo") == Some(("pass", "mail.example.org")),
        "{ar}"
    );

    // HELO inside a transaction ends it; the next message sees the new name
    mta.mail("<alice@example.org>", &[], &[])
        .await
        .expect("mail");
    mta.helo("forged.example", &[]).await.expect("helo");
    let out = one(&mut mta, "<>", &from("alice@example.org", &[])).await;
    let ar = authres(&out);
    assert!(spf(&ar, "helo") == Some(("fail", "forged.example")), "{ar}");
    mta.quit().await.expect("quit");
    m.stop().await;
}

/// QUIT_NC, then a new SMTP session on the same socket from another client: nothing of the
/// first session (client address, HELO) is used.
#[tokio::test(flavor = "multi_thread")]
async fn quit_nc_starts_a_new_session() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = connected(&m, Profile::sendmail(), "mail.example.org").await;
    let out = one(
        &mut mta,
        "<alice@example.org>",
        &from("alice@example.org", &[]),
    )
    .await;
    assert!(authres(&out).contains("iprev=pass"), "{}", authres(&out));
    mta.quit_nc().await.expect("quit_nc");
    mta.connect("[198.51.100.7]", "198.51.100.7".parse().unwrap(), 4000, &[])
        .await
        .expect("connect");
    let out = one(
        &mut mta,
        "<alice@example.org>",
        &from("alice@example.org", &[]),
    )
    .await;
    let ar = authres(&out);
    assert!(
        spf(&ar, "mailfrom") == Some(("fail", "example.org")),
        "{ar}"
    );
    assert!(!ar.contains("smtp.helo"), "{ar}");
    assert!(!ar.contains("iprev=pass"), "{ar}");
    mta.quit().await.expect("quit");
    m.stop().await;
}

/// A second OPTNEG renegotiates for a new SMTP session (docs/milter-protocol.md): nothing of
/// the first (its client, HELO) carries over when the next session sends no CONNECT (session
/// review F1: the trusted first client stayed, and a stranger's mail was classified as ours).
#[tokio::test(flavor = "multi_thread")]
async fn a_second_negotiation_starts_a_new_session() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = connected(&m, Profile::sendmail(), "mail.example.org").await;
    let out = one(
        &mut mta,
        "<alice@example.org>",
        &from("alice@example.org", &[]),
    )
    .await;
    assert!(authres(&out).contains("iprev=pass"), "{}", authres(&out));
    mta.negotiate().await.expect("second negotiation");
    let out = one(
        &mut mta,
        "<alice@example.org>",
        &from("alice@example.org", &[]),
    )
    .await;
    let ar = authres(&out);
    assert!(!ar.contains("iprev=pass"), "{ar}");
    assert!(!ar.contains("smtp.helo"), "{ar}");
    assert!(!ar.contains("spf=pass"), "{ar}");
    mta.quit().await.expect("quit");
    m.stop().await;
}

/// `{auth_authen}` for one message and not for the next (listener role auto): the first is
/// ours (not verified), the second a stranger's (verified), and the other way round.
#[tokio::test(flavor = "multi_thread")]
async fn direction_follows_each_messages_auth_macro() {
    let toml = "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"auto\"\n";
    let m = Milter::start(toml, ZONE).await;
    for profile in [Profile::postfix(), Profile::sendmail()] {
        let mut mta = connected(&m, profile, "mail.example.org").await;
        let raw = from("alice@example.org", &[]);
        for authenticated in [true, false, true, false] {
            let auth: &[(&str, &str)] = if authenticated {
                &[("{auth_authen}", "alice"), ("{auth_type}", "PLAIN")]
            } else {
                &[]
            };
            mta.mail("<alice@example.org>", &[], auth)
                .await
                .expect("mail");
            mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
            let out = mta.send_message(&raw).await.expect("message");
            assert!(out.is_accept());
            assert_eq!(
                out.added_header("Authentication-Results").is_none(),
                authenticated,
                "{out:?}"
            );
        }
        mta.quit().await.expect("quit");
    }
    m.stop().await;
}

/// An MTA that offers neither CHGHDRS nor HDR_LEADSPC, a body in one-byte BODY chunks: a
/// forged field cannot be deleted, so that message is tempfailed (our header or no delivery,
/// RFC 8601 §5); without one the signature still verifies (one space put back after each
/// colon) and the message is accepted.
#[tokio::test(flavor = "multi_thread")]
async fn fewer_actions_no_leadspc_and_tiny_body_chunks() {
    use milter_proto::{Actions, OptNeg, ProtocolFlags};
    let k = dkim::generate_key(dkim::KeyAlgorithm::Ed25519).expect("key");
    let signer = dkim::Signer::from_pem(
        k.private_key_pem.as_bytes(),
        dkim::SignerConfig::new("example.org", "sel"),
    )
    .expect("signer");
    let zone = format!(
        "{ZONE}\nsel._domainkey.example.org TXT \"{}\"\n",
        k.record.text()
    );
    let m = Milter::start(LISTEN_VERIFY, &zone).await;
    let offer = OptNeg {
        actions: Actions::ALL.difference(Actions::CHGHDRS),
        protocol: ProtocolFlags::ALL.difference(ProtocolFlags::HDR_LEADSPC),
        ..OptNeg::POSTFIX_V6
    };
    let mut mta = connected(&m, Profile::postfix().with_offer(offer), "mail.example.org").await;
    // with a forged A-R, which cannot be removed without SMFIF_CHGHDRS: our header or no
    // delivery; without one the message is accepted, its DKIM signature verified from 1-byte
    // body chunks and values whose leading space was put back
    for forged in [true, false] {
        let extra: &[&str] = if forged {
            &["Authentication-Results: mx.test.example; dmarc=pass"]
        } else {
            &[]
        };
        let raw = from("alice@example.org", extra);
        let sig = dkim::sign_message(&signer, &raw, dkim::unix_now()).expect("sign");
        let mut signed = sig.to_field().into_bytes();
        signed.extend_from_slice(&raw);
        mta.mail("<alice@example.org>", &[], &[])
            .await
            .expect("mail");
        mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
        let out = mta
            .send_message_with(&signed, &testkit::BodySplit::Sizes(vec![1]))
            .await
            .expect("message");
        assert!(out.deleted_headers().is_empty(), "{out:?}");
        if forged {
            assert_eq!(
                out.final_response,
                milter_proto::Response::Tempfail,
                "{out:?}"
            );
        } else {
            assert!(out.is_accept(), "{out:?}");
            let ar = authres(&out);
            assert!(ar.contains("dkim=pass"), "{ar}");
        }
    }
    mta.quit().await.expect("quit");
    m.stop().await;
}

/// One message: MAIL FROM, the MAIL macros, the message.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Vec<u8>);

/// What a message got, for comparing one message's answer alone and among others.
fn answer(out: &testkit::EomOutcome) -> String {
    let mut s = format!("{} deleted={:?}", out.action(), out.deleted_headers());
    for (index, name, value) in out.added_headers() {
        s.push_str(&format!(
            "\n{index:?} {}: {}",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(value)
        ));
    }
    s
}

/// Messages with different senders, authentication, From domains and forged fields: each gets
/// on a connection shared with the others, in any order and after an ABORT mid-message, the
/// very answer it gets alone on a fresh connection (nothing per message leaks into the next).
#[tokio::test(flavor = "multi_thread")]
async fn each_message_gets_the_answer_it_gets_alone() {
    let toml = "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"auto\"\n";
    let m = Milter::start(toml, ZONE).await;
    let forged = [
        "Authentication-Results: other.example; spf=pass",
        "AUTHENTICATION-RESULTS: MX.TEST.EXAMPLE; dmarc=pass",
        "Authentication-Results: other.example; none",
        "authentication-results: mx.test.example;\r\n\tdkim=pass",
    ];
    let auth: &[(&str, &str)] = &[("{auth_authen}", "alice"), ("{auth_type}", "PLAIN")];
    let cases: Vec<Case> = vec![
        (
            "<alice@example.org>",
            &[],
            from("alice@example.org", &forged),
        ),
        ("<x@other.example>", &[], from("x@other.example", &[])),
        (
            "<alice@example.org>",
            auth,
            from("alice@example.org", &forged[1..2]),
        ),
        ("<>", &[], from("alice@example.org", &forged[3..])),
        (
            "<x@other.example>",
            &[],
            from("alice@example.org", &forged[..2]),
        ),
    ];
    async fn send(mta: &mut MtaClient, (sender, macros, raw): &Case<'_>) -> testkit::EomOutcome {
        mta.mail(sender, &[], macros).await.expect("mail");
        mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
        mta.send_message(raw).await.expect("message")
    }
    for profile in [Profile::postfix(), Profile::sendmail()] {
        let mut alone = Vec::new();
        for case in &cases {
            let mut mta = connected(&m, profile.clone(), "mail.example.org").await;
            alone.push(answer(&send(&mut mta, case).await));
            mta.quit().await.expect("quit");
        }
        for order in [[0usize, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]] {
            let mut mta = connected(&m, profile.clone(), "mail.example.org").await;
            for (n, &i) in order.iter().enumerate() {
                if n == 2 {
                    // a message abandoned mid-headers, its forged field seen
                    mta.mail("<x@other.example>", &[], auth)
                        .await
                        .expect("mail");
                    mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
                    mta.data(&[]).await.expect("data");
                    mta.header("Authentication-Results", " mx.test.example; spf=pass")
                        .await
                        .expect("header");
                    mta.abort().await.expect("abort");
                }
                let got = answer(&send(&mut mta, &cases[i]).await);
                assert_eq!(got, alone[i], "case {i} in order {order:?}");
            }
            mta.quit().await.expect("quit");
        }
    }
    m.stop().await;
}

/// A header field the MTA sends after end of headers (no real MTA does; a broken or hostile
/// client can) was stored, and its forged Authentication-Results removed, but the checks had
/// started without it: a second From naming a `p=reject` domain after EOH was delivered with
/// `dmarc=none` for the first. Such a message is not judged in part: it is tempfailed, and
/// the log says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_header_after_end_of_headers_is_not_judged_in_part() {
    let zone = format!(
        "{ZONE}strict.example TXT \"v=spf1 -all\"\n_dmarc.strict.example TXT \"v=DMARC1; p=reject\"\n"
    );
    let m = Milter::start(&format!("{LISTEN_VERIFY}[dmarc]\nenforce = true\n"), &zone).await;
    let mut mta = connected(&m, Profile::postfix(), "mail.example.org").await;
    mta.mail("<a@example.org>", &[], &[]).await.expect("mail");
    mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
    mta.header("From", " a@example.org").await.expect("header");
    mta.eoh().await.expect("eoh");
    mta.header("From", " ceo@strict.example")
        .await
        .expect("late header");
    mta.body(b"pay now\r\n").await.expect("body");
    let out = mta.eom().await.expect("eom");
    assert!(out.is_tempfail(), "{out:?}");
    // the next message on the connection is checked as usual
    let out = one(&mut mta, "<a@example.org>", &from("a@example.org", &[])).await;
    assert!(out.is_accept(), "{out:?}");
    m.stop().await;
}
