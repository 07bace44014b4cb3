//! What the negotiation changes on the wire: body chunks split inside a CRLF, and events
//! the milter disabled (not sent, though their macros are).

use bytes::Bytes;
use milter_proto::{Actions, Event, ProtocolFlags, Wants};
use testkit::{BodySplit, Profile, Reply};

use crate::milter::{Behaviour, events, negotiated_client, tcp_milter};

#[tokio::test]
async fn crlf_split_across_chunks_arrives_untouched() {
    let (port, log) = tcp_milter(Behaviour::default()).await;
    let mut mta = negotiated_client(port, Profile::postfix()).await;
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
    let mut mta = negotiated_client(port, Profile::postfix()).await;
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
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Macros {
            stage: milter_proto::MacroStage::Helo,
            pairs: 1
        }
    )));
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
