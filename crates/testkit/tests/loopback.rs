//! The fake MTA against a tiny in-test milter built on `milter_proto::Session` (a loopback of
//! the protocol): profiles, NR handling, multiple messages, abort/quit, timeouts, raw mode.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use milter_proto::{
    Actions, CommandCode, Event, FrameDecoder, OptNeg, ProtocolFlags, ReplyOwed, Response, Session,
    SmtpReply, Wants,
};
use testkit::{BodySplit, MtaClient, Profile, Reply, TestkitError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

type Log = Arc<Mutex<Vec<Event>>>;

#[derive(Clone, Default)]
struct Behaviour {
    wants: Wants,
    /// Reply CONTINUE even to headers covered by NR_HDR (a buggy milter, §8.4).
    reply_to_no_reply_headers: bool,
    /// Negotiate, then never answer anything.
    silent_after_negotiation: bool,
}

/// One connection of the loopback milter.
async fn serve_conn<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, b: Behaviour, log: Log) {
    let mut session = Session::new(b.wants.clone());
    // the application keeps the header fields (the session only passes them on)
    let mut headers = message::Headers::new();
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::new();
    loop {
        match io.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return, // EOF (possibly mid-frame): drop everything
            Ok(_) => {}
        }
        let mut out = BytesMut::new();
        loop {
            let cmd = match dec.decode(&mut buf) {
                Ok(Some(cmd)) => cmd,
                Ok(None) => break,
                Err(_) => return, // framing error: close
            };
            let Ok(step) = session.handle(cmd) else {
                return;
            };
            log.lock().unwrap().push(step.event.clone());
            match &step.event {
                Event::Mail(_) => headers = message::Headers::new(),
                Event::Header(h) => {
                    headers.push(message::HeaderField::new(h.name.to_vec(), &h.value));
                }
                _ => {}
            }
            if b.silent_after_negotiation && !matches!(step.event, Event::Negotiate { .. }) {
                continue;
            }
            match (&step.event, step.reply) {
                (Event::Negotiate { negotiated, .. }, _) => {
                    session.send(&negotiated.reply(), &mut out).unwrap();
                }
                (Event::Header(_), ReplyOwed::None) if b.reply_to_no_reply_headers => {
                    Response::Continue.encode(false, &mut out).unwrap();
                }
                (Event::Mail(env), ReplyOwed::Final) if env.mailbox() == b"reject@example.org" => {
                    let r = SmtpReply::new(550, Some("5.7.23"), "rejected (100% sure)").unwrap();
                    session.send(&Response::ReplyCode(r), &mut out).unwrap();
                }
                (Event::EndOfMessage { .. }, _) => end_of_message(&mut session, &headers, &mut out),
                (_, ReplyOwed::Final) => session.send(&Response::Continue, &mut out).unwrap(),
                _ => {}
            }
        }
        if !out.is_empty() && io.write_all(&out).await.is_err() {
            return;
        }
        if session.is_closed() {
            return;
        }
    }
}

/// EOM policy: delete "forged" A-R for our authserv-id (highest index first), insert ours at 0.
fn end_of_message(session: &mut Session, headers: &message::Headers, out: &mut BytesMut) {
    let msg = session.message().unwrap();
    let forged: Vec<u32> = headers
        .named("Authentication-Results")
        .filter(|(h, _)| h.value.trim_ascii_start().starts_with(b"mx.example.net"))
        .map(|(_, index)| index)
        .collect();
    let summary = format!(
        "mx.example.net; auth={}; client={}; headers={}; body={}",
        session
            .macro_value(b"auth_authen")
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| "none".into()),
        session
            .connect_info()
            .and_then(|c| c.ip())
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into()),
        headers.len(),
        msg.body_bytes,
    );
    let mut replies = Response::delete_headers(b"Authentication-Results", forged);
    replies.push(Response::Progress);
    replies.push(Response::InsHeader {
        index: 0,
        name: Bytes::from_static(b"Authentication-Results"),
        value: Bytes::from(summary),
    });
    replies.push(Response::Continue);
    for r in replies {
        session.send(&r, out).unwrap();
    }
}

async fn tcp_milter(b: Behaviour) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let l2 = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_conn(s, b.clone(), l2.clone()));
        }
    });
    (port, log)
}

fn events(log: &Log) -> Vec<Event> {
    log.lock().unwrap().clone()
}

fn count(log: &Log, f: impl Fn(&Event) -> bool) -> usize {
    events(log).iter().filter(|e| f(e)).count()
}

const MESSAGE: &[u8] = b"Authentication-Results: mx.example.net; spf=pass (forged)\r\n\
From: Alice <alice@example.org>\r\n\
To: bob@example.net\r\n\
Authentication-Results: other.example; dkim=pass\r\n\
Subject: folded\r\n\
\x20subject line\r\n\
\r\n\
Hello Bob\r\n\
\r\n\
-- \r\n\
Alice\r\n";

async fn wait_for(log: &Log, f: impl Fn(&[Event]) -> bool) {
    for _ in 0..200 {
        if f(&events(log)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached; events: {:#?}", events(log));
}

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
    assert!(ev.iter().any(|e| matches!(e, Event::Macros { stage: milter_proto::MacroStage::Helo, pairs } if pairs.is_empty())));
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
    let listener = UnixListener::bind(&path).unwrap();
    let log: Log = Arc::default();
    let l2 = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_conn(s, Behaviour::default(), l2.clone()));
        }
    });
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
            .any(|e| matches!(e, Event::Macros { pairs, .. } if pairs.is_empty())),
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
    let mut mta = MtaClient::connect_tcp(
        ("127.0.0.1", port),
        Profile::postfix_non_smtpd().with_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    mta.negotiate().await.unwrap();
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
    let mut mta = MtaClient::connect_tcp(
        ("127.0.0.1", port),
        Profile::postfix().with_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    mta.negotiate().await.unwrap();
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

#[tokio::test]
async fn crlf_split_across_chunks_arrives_untouched() {
    let (port, log) = tcp_milter(Behaviour::default()).await;
    let mut mta = MtaClient::connect_tcp(
        ("127.0.0.1", port),
        Profile::postfix().with_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    mta.negotiate().await.unwrap();
    mta.mail("<a@example.org>", &[], &[]).await.unwrap();
    mta.rcpt("<b@example.org>", &[], &[]).await.unwrap();
    let raw = b"Subject: s\r\n\r\nline one\r\nline two\r\n\r\n";
    let out = mta
        .send_message_with(raw, &BodySplit::CrLfAcrossChunks)
        .await
        .unwrap();
    assert!(out.is_accept());
    let chunks: Vec<Bytes> = events(&log)
        .into_iter()
        .filter_map(|e| match e {
            Event::Body(c) => Some(c),
            _ => None,
        })
        .collect();
    assert!(chunks.len() >= 4, "{chunks:?}");
    assert!(chunks.iter().take(3).all(|c| c.ends_with(b"\r")));
    assert_eq!(chunks.concat(), b"line one\r\nline two\r\n\r\n");
}

#[tokio::test]
async fn stray_reply_to_a_no_reply_header_is_detected() {
    let (port, _log) = tcp_milter(Behaviour {
        reply_to_no_reply_headers: true,
        ..Behaviour::default()
    })
    .await;
    let mut mta = MtaClient::connect_tcp(
        ("127.0.0.1", port),
        Profile::postfix().with_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    mta.negotiate().await.unwrap();
    mta.mail("<a@example.org>", &[], &[]).await.unwrap();
    assert_eq!(mta.header("From", " a@b").await.unwrap(), Reply::NoReply);
    // give the buggy milter time to write its stray CONTINUE
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = mta.header("To", " c@d").await.unwrap_err();
    assert!(
        matches!(err, TestkitError::StrayReply { bytes: 5, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn times_out_instead_of_hanging() {
    let (port, _log) = tcp_milter(Behaviour {
        silent_after_negotiation: true,
        ..Behaviour::default()
    })
    .await;
    let profile = Profile::sendmail().with_timeout(Duration::from_millis(200));
    let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), profile)
        .await
        .unwrap();
    mta.negotiate().await.unwrap();
    let started = std::time::Instant::now();
    let err = mta.helo("x", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            TestkitError::Timeout {
                waiting_for: "SMFIC_HELO",
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn raw_mode_malformed_frames_and_abrupt_disconnects() {
    let (port, log) = tcp_milter(Behaviour::default()).await;
    let quick = Profile::postfix().with_timeout(Duration::from_secs(5));

    // len = 0: the milter closes the connection
    let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), quick.clone())
        .await
        .unwrap();
    mta.negotiate().await.unwrap();
    mta.send_raw(&[0, 0, 0, 0, b'A']).await.unwrap();
    assert!(mta.expect_eof(Duration::from_secs(5)).await.unwrap());

    // unknown command code
    let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), quick.clone())
        .await
        .unwrap();
    mta.send_raw(&[0, 0, 0, 1, b'Z']).await.unwrap();
    assert!(mta.expect_eof(Duration::from_secs(5)).await.unwrap());

    // a truncated frame followed by EOF: the milter just drops the connection
    let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), quick.clone())
        .await
        .unwrap();
    mta.negotiate().await.unwrap();
    mta.send_raw(&[0, 0, 0, 20, b'M', b'<']).await.unwrap();
    mta.shutdown_write().await.unwrap();
    assert!(mta.expect_eof(Duration::from_secs(5)).await.unwrap());

    // raw commands and replies, split into 1-byte writes
    let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), quick.clone())
        .await
        .unwrap();
    let mut wire = BytesMut::new();
    milter_proto::Command::OptNeg(OptNeg::POSTFIX_V6)
        .encode(&mut wire)
        .unwrap();
    for b in wire.iter() {
        mta.send_raw(&[*b]).await.unwrap();
    }
    let reply = mta.read_reply(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(reply, Response::OptNeg { .. }));

    // abrupt disconnect mid message: the milter survives and serves the next connection
    let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), quick.clone())
        .await
        .unwrap();
    mta.negotiate().await.unwrap();
    mta.mail("<a@example.org>", &[], &[]).await.unwrap();
    drop(mta);
    let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), quick)
        .await
        .unwrap();
    mta.negotiate().await.unwrap();
    assert!(mta.helo("again", &[]).await.unwrap().is_continue());
    assert!(count(&log, |e| matches!(e, Event::Negotiate { .. })) >= 5);
}

#[tokio::test]
async fn milter_disabled_events_are_not_sent_but_their_macros_are() {
    let wants = Wants {
        actions: Actions::ADDHDRS,
        protocol: ProtocolFlags::NOHELO | ProtocolFlags::NOHDRS | ProtocolFlags::NR_EOH,
        symlists: Vec::new(),
    };
    let (port, log) = tcp_milter(Behaviour {
        wants,
        ..Behaviour::default()
    })
    .await;
    let mut mta = MtaClient::connect_tcp(
        ("127.0.0.1", port),
        Profile::postfix().with_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    mta.negotiate().await.unwrap();
    assert_eq!(
        mta.helo("x", &[("{tls_version}", "TLSv1.3")])
            .await
            .unwrap(),
        Reply::NotSent
    );
    mta.mail("<a@example.org>", &[], &[]).await.unwrap();
    assert_eq!(mta.header("From", " a@b").await.unwrap(), Reply::NotSent);
    assert_eq!(mta.eoh().await.unwrap(), Reply::NoReply);
    let ev = events(&log);
    assert!(ev.iter().any(|e| matches!(e, Event::Macros { stage: milter_proto::MacroStage::Helo, pairs } if pairs.len() == 1)));
    assert!(!ev.iter().any(|e| matches!(
        e,
        Event::Macros {
            stage: milter_proto::MacroStage::Header,
            ..
        }
    )));
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Helo(_) | Event::Header(_)))
    );
}
