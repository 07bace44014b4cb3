//! The loopback milter: a tiny milter built on `milter_proto::Session` that logs every event
//! it decodes, and the helpers the tests read that log with.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use milter_proto::{Event, FrameDecoder, ReplyOwed, Response, Session, SmtpReply, Wants};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};

/// Every event the milter decoded, in order, over all its connections.
pub(crate) type Log = Arc<Mutex<Vec<Event>>>;

#[derive(Clone, Default)]
pub(crate) struct Behaviour {
    pub(crate) wants: Wants,
    /// Reply CONTINUE even to headers covered by NR_HDR (a buggy milter, §8.4).
    pub(crate) reply_to_no_reply_headers: bool,
    /// Negotiate, then never answer anything.
    pub(crate) silent_after_negotiation: bool,
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
            .map(|v| String::from_utf8_lossy(&v).into_owned())
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

/// The milter on a free loopback TCP port: the port and its log.
pub(crate) async fn tcp_milter(b: Behaviour) -> (u16, Log) {
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

/// The milter on a Unix socket at `path`: its log.
pub(crate) fn unix_milter(path: &Path, b: Behaviour) -> Log {
    let listener = UnixListener::bind(path).unwrap();
    let log: Log = Arc::default();
    let l2 = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_conn(s, b.clone(), l2.clone()));
        }
    });
    log
}

/// The events logged so far.
pub(crate) fn events(log: &Log) -> Vec<Event> {
    log.lock().unwrap().clone()
}

/// How many logged events match `f`.
pub(crate) fn count(log: &Log, f: impl Fn(&Event) -> bool) -> usize {
    events(log).iter().filter(|e| f(e)).count()
}

/// A message with a forged Authentication-Results for the milter's authserv-id.
pub(crate) const MESSAGE: &[u8] = b"Authentication-Results: mx.example.net; spf=pass (forged)\r\n\
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

/// Waits (at most 2 s) until the log satisfies `f`.
pub(crate) async fn wait_for(log: &Log, f: impl Fn(&[Event]) -> bool) {
    for _ in 0..200 {
        if f(&events(log)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached; events: {:#?}", events(log));
}

/// A client with `profile` (5 s timeout) connected to the loopback milter on `port`, options
/// negotiated.
pub(crate) async fn negotiated_client(port: u16, profile: testkit::Profile) -> testkit::MtaClient {
    let mut mta = testkit::MtaClient::connect_tcp(
        ("127.0.0.1", port),
        profile.with_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    mta.negotiate().await.unwrap();
    mta
}
