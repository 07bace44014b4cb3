//! SRS through the running milter (rewrite forwarded senders, restore bounce recipients,
//! refuse forged SRS addresses) and through the Postfix socketmap server.

use std::sync::Arc;
use std::time::Duration;

use milter_proto::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{LISTEN_VERIFY, Milter, message};

struct Setup {
    _dir: tempfile::TempDir,
    toml: String,
}

fn setup(extra: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = dir.path().join("srs.secrets");
    std::fs::write(&secrets, "current-secret-of-the-test\nold-secret\n").expect("secrets");
    let toml = format!(
        "{LISTEN_VERIFY}[spf]\nenabled = false\n[iprev]\nenabled = false\n[dmarc]\nenabled = false\n\
         [srs]\nenabled = true\ndomain = \"fwd.test.example\"\nsecrets = \"{}\"\n\
         local_domains = [\"test.example\", \".test.example\"]\n{extra}",
        secrets.display()
    );
    Setup { _dir: dir, toml }
}

fn raw() -> Vec<u8> {
    message(&["From: alice@example.org", "Subject: fwd", "", "forwarded"])
}

async fn send(m: &Milter, from: &str, rcpts: &[&str]) -> testkit::EomOutcome {
    let mut mta = m.postfix().await;
    mta.connect("relay.example", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    mta.send_transaction(from, rcpts, &raw())
        .await
        .expect("transaction")
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_mail_gets_an_srs0_sender_and_bounces_are_restored() {
    let s = setup("");
    let m = Milter::start(&s.toml, "").await;
    // relayed off-site: MAIL FROM rewritten
    let out = send(&m, "<alice@example.org>", &["<bob@elsewhere.example>"]).await;
    assert!(out.is_accept());
    let new_from = out
        .modifications
        .iter()
        .find_map(|r| match r {
            Response::ChgFrom { from, args } => {
                assert!(args.is_none(), "no ESMTP args sent with CHGFROM");
                Some(String::from_utf8_lossy(from).into_owned())
            }
            _ => None,
        })
        .expect("CHGFROM");
    assert!(new_from.starts_with("<SRS0="), "{new_from}");
    assert!(
        new_from.ends_with("=example.org=alice@fwd.test.example>"),
        "{new_from}"
    );

    // delivered locally: not rewritten
    let out = send(&m, "<alice@example.org>", &["<carol@test.example>"]).await;
    assert!(
        !out.modifications
            .iter()
            .any(|r| matches!(r, Response::ChgFrom { .. }))
    );

    // a bounce to the SRS address reaches the original sender
    let srs_addr = new_from.trim_start_matches('<').trim_end_matches('>');
    let out = send(&m, "<>", &[&format!("<{srs_addr}>")]).await;
    assert!(out.is_accept(), "{out:?}");
    let del = out.modifications.iter().find_map(|r| match r {
        Response::DelRcpt(a) => Some(String::from_utf8_lossy(a).into_owned()),
        _ => None,
    });
    let add = out.modifications.iter().find_map(|r| match r {
        Response::AddRcpt(a) => Some(String::from_utf8_lossy(a).into_owned()),
        _ => None,
    });
    assert_eq!(del.as_deref(), Some(format!("<{srs_addr}>").as_str()));
    assert_eq!(add.as_deref(), Some("<alice@example.org>"));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_srs_recipients_are_refused_at_rcpt() {
    let s = setup("");
    let m = Milter::start(&s.toml, "").await;
    let mut mta = m.postfix().await;
    // SRS reverse rewriting may refuse at RCPT: the MTA must wait for that reply (no NR_RCPT)
    let agreed = mta.negotiated().expect("negotiated").protocol.bits();
    assert_eq!(agreed & 0x0000_8000, 0, "NR_RCPT negotiated: {agreed:#x}");
    assert_eq!(agreed & 0x0001_7000, 0x0001_7000, "{agreed:#x}");
    mta.connect("relay.example", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    mta.mail("<>", &[], &[]).await.expect("mail");
    let r = mta
        .rcpt(
            "<SRS0=XXXX=2W=example.org=alice@fwd.test.example>",
            &[],
            &[],
        )
        .await
        .expect("rcpt");
    match r.response() {
        Some(Response::ReplyCode(reply)) => {
            assert_eq!(reply.code(), 550);
            let text = String::from_utf8_lossy(&reply.to_wire()).into_owned();
            assert!(text.contains("SRS"), "{text}");
        }
        other => panic!("expected 550 at RCPT, got {other:?}"),
    }
    mta.quit().await.expect("quit");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn socketmap_forward_and_reverse() {
    let s = setup("");
    let config = authmilter::config::Config::parse(&s.toml).expect("config");
    let state = Arc::new(arc_swap::ArcSwap::from_pointee(
        authmilter::forwarding::SrsState::load(&config.srs).expect("srs"),
    ));
    let spec: authmilter::config::SocketSpec = "inet:127.0.0.1:0".parse().expect("spec");
    let settings = authmilter::server::sockets::UnixSocketSettings::from_config(&config.server)
        .expect("settings");
    let listening = authmilter::server::sockets::listen(
        &spec,
        &settings,
        &mut authmilter::systemd::Inherited::none(),
    )
    .await
    .expect("listen");
    let port = match &listening {
        authmilter::server::sockets::Listening::Tcp(l) => l.local_addr().expect("addr").port(),
        other => panic!("{other:?}"),
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(authmilter::forwarding::run_socketmap(listening, state, rx));
    let mut conn = None;
    for _ in 0..100 {
        if let Ok(c) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            conn = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut conn = conn.expect("socketmap listening");
    async fn ask(conn: &mut tokio::net::TcpStream, req: &str) -> String {
        conn.write_all(format!("{}:{},", req.len(), req).as_bytes())
            .await
            .expect("write");
        let mut buf = vec![0u8; 1024];
        let mut got = Vec::new();
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
                .await
                .expect("reply in time")
                .expect("read");
            assert!(n > 0, "closed");
            got.extend_from_slice(&buf[..n]);
            if got.ends_with(b",") {
                break;
            }
        }
        let text = String::from_utf8(got).expect("utf8");
        let (_, payload) = text.split_once(':').expect("netstring");
        payload.trim_end_matches(',').to_string()
    }
    let fwd = ask(&mut conn, "forward alice@example.org").await;
    assert!(fwd.starts_with("OK SRS0="), "{fwd}");
    let addr = fwd.trim_start_matches("OK ");
    assert_eq!(
        ask(&mut conn, &format!("reverse {addr}")).await,
        "OK alice@example.org"
    );
    assert!(
        ask(&mut conn, "forward carol@test.example")
            .await
            .starts_with("NOTFOUND")
    );
    assert!(
        ask(&mut conn, "reverse carol@test.example")
            .await
            .starts_with("NOTFOUND")
    );
    let _ = tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chgfrom_keeps_the_dsn_parameters() {
    let s = setup("");
    let m = Milter::start(&s.toml, "").await;
    let mut mta = m.postfix().await;
    mta.connect("relay.example", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    mta.mail(
        "<alice@example.org>",
        &["SIZE=100", "RET=HDRS", "ENVID=QQ314159", "BODY=8BITMIME"],
        &[],
    )
    .await
    .expect("mail");
    mta.rcpt("<bob@elsewhere.example>", &[], &[])
        .await
        .expect("rcpt");
    let out = mta.send_message(&raw()).await.expect("message");
    let args = out
        .modifications
        .iter()
        .find_map(|r| match r {
            Response::ChgFrom { args, .. } => Some(args.clone()),
            _ => None,
        })
        .expect("CHGFROM");
    assert_eq!(args.as_deref(), Some(&b"RET=HDRS ENVID=QQ314159"[..]));
    m.stop().await;
}

/// An MTA that lets us delete recipients but not add them (no SMFIF_ADDRCPT): restoring an
/// SRS bounce recipient must not go half-way (the SRS address deleted, the original never
/// added), which would silently lose the recipient. Either both changes or neither.
#[tokio::test(flavor = "multi_thread")]
async fn srs_recipient_restore_is_not_half_applied_without_addrcpt() {
    use milter_proto::{Actions, OptNeg};
    let s = setup("");
    let m = Milter::start(&s.toml, "").await;
    let out = send(&m, "<alice@example.org>", &["<bob@elsewhere.example>"]).await;
    let srs_addr = out
        .modifications
        .iter()
        .find_map(|r| match r {
            Response::ChgFrom { from, .. } => Some(String::from_utf8_lossy(from).into_owned()),
            _ => None,
        })
        .expect("CHGFROM");
    let offer = OptNeg {
        actions: Actions::ALL.difference(Actions::ADDRCPT | Actions::ADDRCPT_PAR),
        ..OptNeg::POSTFIX_V6
    };
    let mut mta = m
        .client(testkit::Profile::postfix().with_offer(offer))
        .await;
    mta.connect("relay.example", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    let out = mta
        .send_transaction("<>", &[&srs_addr], &raw())
        .await
        .expect("transaction");
    assert!(
        !out.modifications
            .iter()
            .any(|r| matches!(r, Response::DelRcpt(_))),
        "recipient deleted without being replaced: {:?}",
        out.modifications
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quoted_sender_gets_a_quoted_srs_address_whose_bounce_is_restored() {
    // RFC 5321 §4.1.2: the milter sees `"john doe"@example.org` as the client wrote it; the
    // SRS address carries the local part unquoted (as a socketmap gets it from Postfix) and
    // goes back quoted, and its bounce is restored to the quoted original
    let s = setup("");
    let m = Milter::start(&s.toml, "").await;
    let out = send(
        &m,
        "<\"john doe\"@example.org>",
        &["<bob@elsewhere.example>"],
    )
    .await;
    let new_from = out
        .modifications
        .iter()
        .find_map(|r| match r {
            Response::ChgFrom { from, .. } => Some(String::from_utf8_lossy(from).into_owned()),
            _ => None,
        })
        .expect("CHGFROM");
    assert!(new_from.starts_with("<\"SRS0="), "{new_from}");
    assert!(
        new_from.ends_with("=example.org=john doe\"@fwd.test.example>"),
        "{new_from}"
    );
    let out = send(&m, "<>", &[&new_from]).await;
    assert!(out.is_accept(), "{out:?}");
    let add = out.modifications.iter().find_map(|r| match r {
        Response::AddRcpt(a) => Some(String::from_utf8_lossy(a).into_owned()),
        _ => None,
    });
    assert_eq!(add.as_deref(), Some("<\"john doe\"@example.org>"));
    m.stop().await;
}

/// A stranger's message whose From domain aligns with our SRS domain (here test.example and
/// fwd.test.example, one organization) and that nothing authenticated keeps its sender: the
/// rewritten sender's SPF pass at the next hop would align with that From domain and make the
/// forgery pass DMARC there (RFC 9989 §4.4). A From domain of another organization is
/// rewritten as always.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_from_of_the_srs_organization_keeps_its_sender() {
    let s = setup("");
    let m = Milter::start(&s.toml, "").await;
    for (from, rewritten) in [("ceo@test.example", false), ("ceo@bank.example", true)] {
        let out = forward_from_a_stranger(&m, &format!("From: {from}")).await;
        assert_eq!(chgfrom(&out), rewritten, "{from}: {out:?}");
    }
}

/// A stranger's message with this From line, relayed off-site by attacker@evil.example.
async fn forward_from_a_stranger(m: &Milter, from_line: &str) -> testkit::EomOutcome {
    let mut mta = m.postfix().await;
    mta.connect("relay.example", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    let raw = message(&[from_line, "Subject: fwd", "", "forwarded"]);
    let out = mta
        .send_transaction(
            "<attacker@evil.example>",
            &["<bob@elsewhere.example>"],
            &raw,
        )
        .await
        .expect("transaction");
    assert!(out.is_accept(), "{from_line}: {out:?}");
    out
}

/// Whether the milter changed the envelope sender (CHGFROM).
fn chgfrom(out: &testkit::EomOutcome) -> bool {
    out.modifications
        .iter()
        .any(|r| matches!(r, Response::ChgFrom { .. }))
}

/// The withholding holds when we sign the message with a key of another domain (a hoster's
/// own `d=`, which authenticates nothing about the author), and when the From field cannot be
/// read or names more domains than DMARC evaluates: no reading of it was authenticated.
#[tokio::test(flavor = "multi_thread")]
async fn an_unaligned_signature_or_an_unreadable_from_does_not_unlock_srs() {
    let s = setup("");
    // the example.org keys sign every From on a forward listener (unaligned with test.example)
    let k = crate::signing::keys("[[dkim.signing]]\nfrom = \"*\"\nkeys = [\"ed2026\"]\n");
    let srs = s
        .toml
        .split("[srs]")
        .nth(1)
        .map(|rest| format!("[srs]{rest}"))
        .unwrap_or_default();
    let toml = k.config(
        "forward",
        &format!(
            "[authres]\nauthserv_id = \"mx.test.example\"\n[spf]\nenabled = false\n[iprev]\nenabled = false\n{srs}"
        ),
    );
    let m = Milter::start(&toml, &k.zone).await;
    for (from, signed) in [
        ("From: ceo@test.example", true),
        ("From: =?utf-8?q?ceo=40test.example?= x@evil.example", false),
        (
            "From: a@d1.example, b@d2.example, c@d3.example, d@d4.example, e@d5.example, ceo@test.example",
            false,
        ),
    ] {
        let out = forward_from_a_stranger(&m, from).await;
        assert!(!chgfrom(&out), "{from}: {out:?}");
        if signed {
            assert!(
                out.added_header("DKIM-Signature").is_some(),
                "{from}: {out:?}"
            );
        }
    }
}
