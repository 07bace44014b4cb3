//! Each MTA profile end to end against the loopback milter: Postfix (several messages,
//! abort, quit, non-smtpd submissions, rejected mail), Sendmail over a Unix socket and the
//! legacy version 2 protocol.

use std::time::Duration;

use bytes::Bytes;
use milter_proto::{CommandCode, Event, Response};
use testkit::{MtaClient, Profile, Reply};

use crate::milter::{
    Behaviour, MESSAGE, count, events, negotiated_client, tcp_milter, unix_milter, wait_for,
};

#[tokio::test]
async fn postfix_two_messages_then_abort_and_quit() {
    let (port, log) = tcp_milter(Behaviour::default()).await;
    let profile = Profile::postfix().with_timeout(Duration::from_secs(5));
    let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), profile)
        .await
        .unwrap();
    let agreed = mta.negotiate().await.unwrap();
    assert_eq!(agreed.version, 6);
    assert_eq!(agreed.protocol.bits(), 0x001C_0180);
    assert!(mta.leadspc());
    let ip = "192.0.2.10".parse().unwrap();
    assert_eq!(
        mta.connect("mail.example.org", ip, 50000, &[])
            .await
            .unwrap(),
        Reply::Response(Response::Continue)
    );
    assert!(
        mta.helo("mail.example.org", &[])
            .await
            .unwrap()
            .is_continue()
    );

    for n in 0..2 {
        let auth = [("{auth_authen}", "alice"), ("{auth_type}", "PLAIN")];
        let r = mta
            .mail("<alice@example.org>", &["SIZE=1234"], &auth)
            .await
            .unwrap();
        assert!(r.is_continue());
        assert!(
            mta.rcpt("<bob@example.net>", &[], &[])
                .await
                .unwrap()
                .is_continue()
        );
        assert!(
            mta.rcpt("carol@example.net", &["NOTIFY=NEVER"], &[])
                .await
                .unwrap()
                .is_continue()
        );
        let out = mta.send_message(MESSAGE).await.unwrap();
        assert!(out.is_accept(), "{out:?}");
        assert_eq!(out.decided_at, CommandCode::BodyEob);
        assert_eq!(out.progress, 1);
        assert_eq!(out.deleted_headers().len(), 1);
        assert_eq!(out.deleted_headers()[0].0, 1);
        let ar = out.added_header("Authentication-Results").unwrap();
        assert_eq!(
            ar, "mx.example.net; auth=alice; client=192.0.2.10; headers=5; body=25",
            "message {n}"
        );
        assert_eq!(mta.messages_finished(), n + 1);
    }
    // RSET-style abort mid transaction, then quit
    mta.mail("<alice@example.org>", &[], &[]).await.unwrap();
    mta.abort().await.unwrap();
    mta.quit().await.unwrap();
    assert!(mta.expect_eof(Duration::from_secs(5)).await.unwrap());

    wait_for(&log, |e| e.last() == Some(&Event::Quit)).await;
    let ev = events(&log);
    // Postfix profile: one ABORT after the first message, two after the second.
    let aborts: Vec<bool> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Abort { had_message } => Some(*had_message),
            _ => None,
        })
        .collect();
    assert_eq!(aborts, vec![false, false, false, true, false]);
    // empty MACRO packets (e.g. HELO) and per-header L letters were sent
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Macros {
            stage: milter_proto::MacroStage::Helo,
            pairs: 0
        }
    )));
    assert_eq!(
        count(&log, |e| matches!(
            e,
            Event::Macros {
                stage: milter_proto::MacroStage::Header,
                ..
            }
        )),
        10
    );
    // the header value is exactly what followed the colon (LEADSPC), folding with bare LF
    assert!(ev.iter().any(|e| matches!(e, Event::Header(h) if h.name == "Subject" && h.value == " folded\n subject line")));
    // ESMTP args and bracketed addresses
    assert!(ev.iter().any(|e| matches!(e, Event::Rcpt(env) if env.address == "<carol@example.net>" && env.args == vec![Bytes::from_static(b"NOTIFY=NEVER")])));
}

#[tokio::test]
async fn sendmail_over_unix_socket_ipv6_tag_and_no_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("milter.sock");
    let log = unix_milter(&path, Behaviour::default());
    let mut mta = MtaClient::connect_unix(&path, Profile::sendmail())
        .await
        .unwrap();
    assert_eq!(mta.profile().command_timeout, Duration::from_secs(10));
    mta.negotiate().await.unwrap();
    let ip = "2001:db8::1".parse().unwrap();
    mta.connect("[2001:db8::1]", ip, 25, &[]).await.unwrap();
    mta.helo("client.example", &[]).await.unwrap();
    mta.mail("alice@example.org", &[], &[]).await.unwrap();
    mta.rcpt("<bob@example.net>", &[], &[]).await.unwrap();
    let out = mta
        .send_message(b"From: a@example.org\r\n\r\nbody\r\n")
        .await
        .unwrap();
    assert_eq!(
        out.added_header("authentication-results").unwrap(),
        "mx.example.net; auth=none; client=2001:db8::1; headers=1; body=6"
    );
    mta.quit().await.unwrap();
    assert!(mta.expect_eof(Duration::from_secs(5)).await.unwrap());
    wait_for(&log, |e| e.last() == Some(&Event::Quit)).await;
    let ev = events(&log);
    assert_eq!(
        count(&log, |e| matches!(e, Event::Abort { .. })),
        0,
        "Sendmail: no ABORT after a finished message"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Connect(c) if c.address == "IPv6:2001:db8::1"))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Mail(env) if env.address == "<alice@example.org>"))
    );
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Macros { pairs: 0, .. })),
        "no empty MACRO packets"
    );
}

#[tokio::test]
async fn legacy_v2_waits_for_a_reply_to_every_header_and_chunk() {
    let (port, log) = tcp_milter(Behaviour::default()).await;
    let mut mta = MtaClient::connect_tcp(
        ("127.0.0.1", port),
        Profile::legacy_v2().with_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let agreed = mta.negotiate().await.unwrap();
    assert_eq!(agreed.version, 2);
    assert!(agreed.protocol.is_empty());
    mta.connect("h", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .unwrap();
    mta.mail("<a@example.org>", &[], &[]).await.unwrap();
    mta.rcpt("<b@example.org>", &[], &[]).await.unwrap();
    assert_eq!(
        mta.data(&[]).await.unwrap(),
        Reply::NotSent,
        "no DATA before v4"
    );
    assert_eq!(
        mta.unknown("XYZZY").await.unwrap(),
        Reply::NotSent,
        "no UNKNOWN before v3"
    );
    assert_eq!(
        mta.header("From", " a@example.org").await.unwrap(),
        Reply::Response(Response::Continue)
    );
    assert_eq!(
        mta.eoh().await.unwrap(),
        Reply::Response(Response::Continue)
    );
    let body = vec![b'x'; 70_000];
    assert_eq!(
        mta.body(&body).await.unwrap(),
        Reply::Response(Response::Continue)
    );
    let out = mta.eom().await.unwrap();
    assert!(out.is_accept());
    let ev = events(&log);
    // without LEADSPC the client removed the space, like the MTAs
    assert!(ev.iter().any(|e| matches!(e, Event::Header(h) if h.value == "a@example.org" && h.raw_line() == b"From: a@example.org")));
    let chunks: Vec<usize> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Body(c) => Some(c.len()),
            _ => None,
        })
        .collect();
    assert_eq!(chunks, vec![65535, 70_000 - 65535]);
}

#[tokio::test]
async fn postfix_non_smtpd_sends_bare_addresses_and_empty_null_sender() {
    let (port, log) = tcp_milter(Behaviour::default()).await;
    let mut mta = negotiated_client(port, Profile::postfix_non_smtpd()).await;
    mta.connect("localhost", "127.0.0.1".parse().unwrap(), 0, &[])
        .await
        .unwrap();
    mta.helo("localhost", &[]).await.unwrap();
    mta.mail("<>", &["SIZE=1"], &[]).await.unwrap();
    mta.rcpt("<bob@example.net>", &[], &[]).await.unwrap();
    let out = mta.send_message(b"Subject: x\r\n\r\n").await.unwrap();
    assert!(out.is_accept());
    mta.quit().await.unwrap();
    wait_for(&log, |e| e.last() == Some(&Event::Quit)).await;
    let ev = events(&log);
    assert!(ev.iter().any(|e| matches!(e, Event::Mail(env) if env.address.is_empty() && env.args.is_empty() && env.is_null())));
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Rcpt(env) if env.address == "bob@example.net"))
    );
    assert_eq!(
        count(&log, |e| matches!(e, Event::Body(_))),
        0,
        "empty body: no BODY at all"
    );
}

#[tokio::test]
async fn rejected_mail_gets_an_abort_from_postfix() {
    let (port, log) = tcp_milter(Behaviour::default()).await;
    let mut mta = negotiated_client(port, Profile::postfix()).await;
    let out = mta
        .send_transaction("<reject@example.org>", &["<bob@example.net>"], MESSAGE)
        .await
        .unwrap();
    assert_eq!(out.decided_at, CommandCode::Mail);
    let Response::ReplyCode(r) = &out.final_response else {
        panic!("{out:?}")
    };
    assert_eq!(r.code(), 550);
    assert_eq!(r.lines()[0], b"rejected (100% sure)");
    // the next transaction on the same connection works
    let out = mta
        .send_transaction("<alice@example.org>", &["<bob@example.net>"], MESSAGE)
        .await
        .unwrap();
    assert!(out.is_accept());
    wait_for(&log, |e| {
        e.iter().any(|x| matches!(x, Event::EndOfMessage { .. }))
    })
    .await;
    let ev = events(&log);
    let first_abort = ev
        .iter()
        .position(|e| matches!(e, Event::Abort { had_message: true }))
        .unwrap();
    assert!(matches!(ev[first_abort - 1], Event::Mail(_)));
}
