//! Faults on either side: a stray reply to a no-reply header, a silent milter (a timeout,
//! not a hang), malformed frames and abrupt disconnects in raw mode.

use std::time::Duration;

use bytes::BytesMut;
use milter_proto::{Event, OptNeg, Response};
use testkit::{MtaClient, Profile, Reply, TestkitError};

use crate::milter::{Behaviour, count, negotiated_client, tcp_milter};

#[tokio::test]
async fn stray_reply_to_a_no_reply_header_is_detected() {
    let (port, _log) = tcp_milter(Behaviour {
        reply_to_no_reply_headers: true,
        ..Behaviour::default()
    })
    .await;
    let mut mta = negotiated_client(port, Profile::postfix()).await;
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
