//! Connections driven with raw milter frames, as an MTA of its own or an out-of-step one
//! would send them: the MTA side is a plain socket, the milter side [`serve_connection`].

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::super::serve_connection;
use crate::app::App;
use crate::config::Config;
use crate::config::Role;
use crate::pipeline::sink::ResultsSink;
use crate::quiet_socket::{QuietSocket, StreamSocket};
use crate::services::Services;

/// One frame: length, command, payload (milter protocol §2.1).
fn frame(cmd: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = u32::try_from(payload.len() + 1)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    f.push(cmd);
    f.extend_from_slice(payload);
    f
}

/// The OPTNEG (version 6, every step answered) and CONNECT of a session granting `actions`.
fn session(actions: u32) -> Vec<u8> {
    let mut optneg = 6u32.to_be_bytes().to_vec();
    optneg.extend_from_slice(&actions.to_be_bytes());
    optneg.extend_from_slice(&0u32.to_be_bytes());
    let mut out = frame(b'O', &optneg);
    out.extend(frame(b'C', b"c.example\x004\x00\x19192.0.2.1\x00"));
    out
}

/// An app with every check off but the Authentication-Results header (`mx.test.example`).
fn app() -> Arc<App> {
    let resolver: Arc<dyn dns::Resolver> =
        Arc::new(dns::memory::MemoryResolver::from_zone("").unwrap());
    let toml = "[authres]\nauthserv_id = \"mx.test.example\"\n\
                [spf]\nenabled = false\n[iprev]\nenabled = false\n\
                [dmarc]\nenabled = false\n[dkim]\nverify = false\n";
    Arc::new(App::new(Config::parse(toml).unwrap(), resolver).unwrap())
}

/// A one-worker runtime for the milter side (the test's thread is the MTA).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Serves `milter_end` (non-blocking) on `rt` as a verify listener does.
fn serve<S: StreamSocket + Send + 'static>(
    rt: &tokio::runtime::Runtime,
    app: &Arc<App>,
    services: &Arc<Services>,
    milter_end: S,
) -> tokio::task::JoinHandle<()> {
    let (app, services) = (Arc::clone(app), Arc::clone(services));
    rt.spawn(async move {
        serve_connection(
            QuietSocket::new(milter_end).unwrap(),
            app,
            services,
            Role::Verify,
            crate::server::Shutdown {
                stop: watch::channel(false).1,
                out_of_time: watch::channel(false).1,
            },
        )
        .await;
    })
}

/// The bound on MAIL and RCPT bytes is per message: an MTA that sends RCPT without MAIL
/// (out of step, or a client of its own) has the count start again at each end of message
/// and ABORT, as the session's message state does, instead of losing the connection once
/// several messages together pass it.
#[test]
fn the_envelope_bound_starts_again_with_each_message() {
    let rt = runtime();
    let (mut mta_end, milter_end) = std::os::unix::net::UnixStream::pair().unwrap();
    milter_end.set_nonblocking(true).unwrap();
    let services = Services::new(ResultsSink::disabled(), None, Arc::default());
    let milter = serve(&rt, &app(), &services, milter_end);
    let mut reader = mta_end.try_clone().unwrap();
    // the milter's answers: how many Authentication-Results fields it added (one a message)
    let answers = std::thread::spawn(move || {
        let mut added = 0;
        loop {
            let mut len = [0u8; 4];
            if reader.read_exact(&mut len).is_err() {
                return added;
            }
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            if reader.read_exact(&mut body).is_err() {
                return added;
            }
            if matches!(body.first(), Some(b'h' | b'i')) {
                added += 1;
            }
        }
    });
    let mut write = |bytes: &[u8]| mta_end.write_all(bytes);
    write(&session(0x1ff)).unwrap();
    // three messages of about 1.5 MB of RCPT each, none with MAIL: 4.5 MB in all
    for n in 1..=3 {
        let mut m = Vec::new();
        for i in 0..1500 {
            let rcpt = format!("<{}{i}@x.example>\0", "r".repeat(990));
            m.extend(frame(b'R', rcpt.as_bytes()));
        }
        m.extend(frame(b'L', b"From\0a@example.org\0"));
        m.extend(frame(b'N', b""));
        m.extend(frame(b'E', b""));
        m.extend(frame(b'A', b""));
        if let Err(e) = write(&m) {
            panic!("message {n}: the connection closed: {e}");
        }
    }
    write(&frame(b'Q', b"")).unwrap();
    assert_eq!(answers.join().unwrap(), 3, "every message answered");
    rt.block_on(milter).unwrap();
}

/// A message counts as received, and is recorded for reports (RFC 9990 §3.1.1.8), only when
/// the MTA was sent the decision's own answer: not when a tempfail took its place (a forged
/// Authentication-Results the MTA would not let us delete, no SMFIF_CHGHDRS), nor when the
/// answer could not be written (the MTA closed first and applies its own default). The
/// sender's every retry would count again otherwise.
#[test]
fn only_messages_answered_as_decided_are_recorded() {
    /// One message's commands, recipient `rcpt`, with a forged A-R when `forged`.
    fn message(rcpt: &str, forged: bool) -> Vec<u8> {
        let mut m = frame(b'M', b"<a@example.org>\0");
        m.extend(frame(b'R', format!("<{rcpt}>\0").as_bytes()));
        if forged {
            m.extend(frame(
                b'L',
                b"Authentication-Results\0mx.test.example; dmarc=pass\0",
            ));
        }
        m.extend(frame(b'L', b"From\0a@example.org\0"));
        m.extend(frame(b'N', b""));
        m.extend(frame(b'E', b""));
        m
    }
    /// Skips `replies` answers to the commands before end of message, then reads the
    /// modifications up to the end-of-message answer: its code.
    fn final_answer(reader: &mut std::os::unix::net::UnixStream, replies: usize) -> u8 {
        let mut seen = 0;
        loop {
            let mut len = [0u8; 4];
            reader.read_exact(&mut len).expect("an answer");
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            reader.read_exact(&mut body).expect("an answer");
            seen += 1;
            let code = body.first().copied().unwrap_or(0);
            // header changes, recipient changes, progress come before the final answer
            if seen > replies && !matches!(code, b'h' | b'i' | b'm' | b'+' | b'-' | b'p' | b'e') {
                return code;
            }
        }
    }

    let rt = runtime();
    let app = app();
    let (sink, mut records) = ResultsSink::bounded(8);
    let services = Services::new(sink, None, Arc::default());
    let connection = |milter_end: std::os::unix::net::UnixStream| {
        milter_end.set_nonblocking(true).unwrap();
        serve(&rt, &app, &services, milter_end)
    };
    let recipient_of_next_record = |records: &mut crate::pipeline::SinkReceiver| {
        let record = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), records.recv()).await })
            .expect("a record")
            .expect("sink open");
        String::from_utf8_lossy(record.recipients.first().expect("a recipient")).into_owned()
    };

    // no SMFIF_CHGHDRS (0x10): the forged field cannot be deleted, the message is tempfailed
    let (mut mta, milter_end) = std::os::unix::net::UnixStream::pair().unwrap();
    let task = connection(milter_end);
    mta.write_all(&session(0x1ff & !0x10)).unwrap();
    mta.write_all(&message("one@example.net", true)).unwrap();
    // OPTNEG, CONNECT, MAIL, RCPT, two headers, EOH
    assert_eq!(final_answer(&mut mta, 7), b't');
    mta.write_all(&frame(b'A', b"")).unwrap();
    mta.write_all(&message("two@example.net", false)).unwrap();
    // MAIL, RCPT, one header, EOH
    assert_eq!(final_answer(&mut mta, 4), b'c');
    mta.write_all(&frame(b'Q', b"")).unwrap();
    rt.block_on(task).unwrap();
    assert_eq!(recipient_of_next_record(&mut records), "two@example.net");

    // the MTA gone before the answer: not recorded; over TCP too, where the milter's write
    // of the answer still succeeds
    let (mut mta, milter_end) = std::os::unix::net::UnixStream::pair().unwrap();
    let task = connection(milter_end);
    let mut all = session(0x1ff);
    all.extend(message("three@example.net", false));
    mta.write_all(&all).unwrap();
    drop(mta);
    rt.block_on(task).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut mta = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (milter_end, _) = listener.accept().unwrap();
    mta.write_all(&all).unwrap();
    // an ABORT and QUIT sent before closing still leave it gone before the answer
    mta.write_all(&[frame(b'A', b""), frame(b'Q', b"")].concat())
        .unwrap();
    // gone before the milter runs (loopback: the bytes and the close are already there)
    drop(mta);
    milter_end.set_nonblocking(true).unwrap();
    let task = serve(&rt, &app, &services, milter_end);
    rt.block_on(task).unwrap();
    let (mut mta, milter_end) = std::os::unix::net::UnixStream::pair().unwrap();
    let task = connection(milter_end);
    mta.write_all(&session(0x1ff)).unwrap();
    mta.write_all(&message("four@example.net", false)).unwrap();
    assert_eq!(final_answer(&mut mta, 6), b'c');
    mta.write_all(&frame(b'Q', b"")).unwrap();
    rt.block_on(task).unwrap();
    assert_eq!(recipient_of_next_record(&mut records), "four@example.net");
}
