//! The milter protocol through the whole server, as Postfix, Sendmail and old MTAs speak it.

use std::time::Duration;

use bytes::Bytes;
use milter_proto::{Response, ResponseCode};
use testkit::{BodySplit, Profile};

use crate::support::{LISTEN_VERIFY, Milter, authres, message, transaction};

const ZONE: &str = "";

fn simple_message() -> Vec<u8> {
    message(&[
        "From: Alice <alice@example.org>",
        "To: bob@example.net",
        "Subject: hello",
        "",
        "Hello Bob,",
        "",
        "-- ",
        "Alice",
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn postfix_two_messages_then_abort_and_quit() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = m.postfix().await;
    let agreed = *mta.negotiated().expect("negotiated");
    assert_eq!(agreed.version, 6);
    // NR_HDR | NR_EOH | NR_BODY | HDR_LEADSPC | NOUNKNOWN, and no reply to CONNECT, HELO,
    // MAIL, RCPT and DATA (nothing is refused there without SRS): exactly these
    assert_eq!(
        agreed.protocol.bits(),
        0x001D_F180,
        "{:#x}",
        agreed.protocol.bits()
    );

    let first = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &simple_message(),
    )
    .await;
    assert!(first.is_accept(), "{first:?}");
    // our header goes to the very top: INSHEADER at index 0
    let inserted: Vec<_> = first.added_headers();
    assert_eq!(inserted.len(), 1, "{inserted:?}");
    assert_eq!(inserted[0].0, Some(0));
    assert!(
        authres(&first).starts_with("mx.test.example;"),
        "{}",
        authres(&first)
    );

    // a second message on the same connection, with a body split at every CRLF
    mta.mail("<carol@example.org>", &["SIZE=100"], &[])
        .await
        .expect("mail");
    mta.rcpt("<dave@example.net>", &[], &[])
        .await
        .expect("rcpt");
    let second = mta
        .send_message_with(&simple_message(), &BodySplit::CrLfAcrossChunks)
        .await
        .expect("second message");
    assert!(second.is_accept());
    assert!(authres(&second).starts_with("mx.test.example;"));

    // RSET mid-transaction: MAIL, RCPT, ABORT, then a third message
    mta.mail("<x@example.org>", &[], &[]).await.expect("mail");
    mta.rcpt("<y@example.net>", &[], &[]).await.expect("rcpt");
    mta.abort().await.expect("abort");
    mta.abort().await.expect("second abort is harmless");
    mta.mail("<z@example.org>", &[], &[]).await.expect("mail");
    mta.rcpt("<y@example.net>", &[], &[]).await.expect("rcpt");
    let third = mta.send_message(&simple_message()).await.expect("third");
    assert!(third.is_accept());
    assert_eq!(mta.messages_finished(), 3);
    mta.quit().await.expect("quit");
    assert!(mta.expect_eof(Duration::from_secs(10)).await.expect("eof"));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sendmail_profile_with_ipv6_tag() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = m.client(Profile::sendmail()).await;
    let out = transaction(
        &mut mta,
        "2001:db8::25",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &simple_message(),
    )
    .await;
    assert!(out.is_accept());
    assert!(authres(&out).contains("mx.test.example"));
    // no ABORT after the message (Sendmail), a second message still works
    let out2 = mta
        .send_transaction("<a@example.org>", &["<b@example.net>"], &simple_message())
        .await
        .expect("second");
    assert!(out2.is_accept());
    mta.quit().await.expect("quit");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_v2_mta_gets_a_reply_to_every_command() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = m.client(Profile::legacy_v2()).await;
    let agreed = *mta.negotiated().expect("negotiated");
    assert_eq!(agreed.version, 2);
    // no NR bits or LEADSPC against a v2 MTA
    assert_eq!(agreed.protocol.bits() & 0x001F_F080, 0);
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &simple_message(),
    )
    .await;
    assert!(out.is_accept());
    assert!(authres(&out).contains("mx.test.example"));
    mta.quit().await.expect("quit");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postfix_non_smtpd_bare_addresses_and_null_sender() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = m.client(Profile::postfix_non_smtpd()).await;
    mta.connect("localhost", "127.0.0.1".parse().unwrap(), 0, &[])
        .await
        .expect("connect");
    mta.helo("localhost", &[]).await.expect("helo");
    let out = mta
        .send_transaction("", &["bob@example.net"], &simple_message())
        .await
        .expect("message");
    assert!(out.is_accept());
    mta.quit().await.expect("quit");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_authentication_results_are_deleted_from_the_last_backwards() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = m.postfix().await;
    let raw = message(&[
        "Authentication-Results: mx.test.example; dmarc=pass header.from=example.org",
        "Authentication-Results: other.example; spf=pass smtp.mailfrom=example.org",
        "Received: from somewhere",
        "Authentication-Results: MX.TEST.EXAMPLE (comment); dkim=pass",
        "Authentication-Results: mx.test.example;",
        "\tspf=pass smtp.mailfrom=example.org",
        "From: alice@example.org",
        "",
        "body",
    ]);
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &raw,
    )
    .await;
    let deleted: Vec<u32> = out.deleted_headers().iter().map(|(i, _)| *i).collect();
    // occurrences 1, 3 and 4 claim our id; 2 is someone else's. Highest index first.
    assert_eq!(deleted, vec![4, 3, 1]);
    for (_, name) in out.deleted_headers() {
        assert!(name.eq_ignore_ascii_case(b"Authentication-Results"));
    }
    // deletions come before our insert
    let first_insert = out
        .modifications
        .iter()
        .position(|r| matches!(r, Response::InsHeader { .. }))
        .expect("insert");
    let last_delete = out
        .modifications
        .iter()
        .rposition(|r| matches!(r, Response::ChgHeader { .. }))
        .expect("delete");
    assert!(last_delete < first_insert);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inserted_header_folds_with_bare_lf() {
    // (That the value starts with ' ' on the wire under HDR_LEADSPC is checked byte for
    // byte by milter-proto's encoder tests; the client strips it again when parsing.)
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = m.postfix().await;
    assert!(mta.leadspc());
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &simple_message(),
    )
    .await;
    let v = out.added_header("Authentication-Results").expect("A-R");
    assert!(v.starts_with(b"mx.test.example;"), "{v:?}");
    assert!(
        !v.windows(2).any(|w| w == b"\r\n"),
        "folding must use bare LF"
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unix_socket_listener_and_several_listeners() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("milter.sock");
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"verify\"\n\
         [[server.listen]]\nsocket = \"unix:{}\"\nrole = \"verify\"\n",
        sock.display()
    );
    let m = Milter::start(&toml, ZONE).await;
    assert_eq!(m.sockets.len(), 2);
    let mut mta = testkit::MtaClient::connect_unix(&sock, Profile::postfix())
        .await
        .expect("unix connect");
    mta.negotiate().await.expect("negotiate");
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &simple_message(),
    )
    .await;
    assert!(out.is_accept());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660);
    m.stop().await;
    assert!(!sock.exists(), "socket file removed at shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn end_of_message_with_data_is_a_last_body_chunk() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mut mta = m.postfix().await;
    mta.connect("c.example", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    mta.mail("<a@example.org>", &[], &[]).await.expect("mail");
    mta.rcpt("<b@example.net>", &[], &[]).await.expect("rcpt");
    mta.header("From", " a@example.org").await.expect("header");
    mta.eoh().await.expect("eoh");
    mta.send_command(&milter_proto::Command::BodyEob(Bytes::from_static(
        b"tail\r\n",
    )))
    .await
    .expect("eob with data");
    // read responses until the final one
    loop {
        let r = mta
            .read_reply(Duration::from_secs(10))
            .await
            .expect("reply");
        if r.code() == ResponseCode::Continue {
            break;
        }
        assert!(r.code().is_modification(), "{r:?}");
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_listener() {
    // skipped where the machine has no IPv6 loopback
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let m = Milter::start(
        "[[server.listen]]\nsocket = \"inet:[::1]:0\"\nrole = \"verify\"\n",
        ZONE,
    )
    .await;
    let port = match m.sockets.first() {
        Some(authmilter::config::SocketSpec::Inet { host, port }) => {
            assert_eq!(host, "::1");
            *port
        }
        other => panic!("{other:?}"),
    };
    let mut mta = testkit::MtaClient::connect_tcp(("::1", port), Profile::postfix())
        .await
        .expect("connect over IPv6");
    mta.negotiate().await.expect("negotiate");
    let out = transaction(
        &mut mta,
        "2001:db8::25",
        "mail.example.org",
        "alice@example.org",
        "bob@example.net",
        &simple_message(),
    )
    .await;
    assert!(out.is_accept());
    // colons are tspecials (RFC 2045): the address is a quoted-string in the header
    assert!(
        authres(&out).contains("policy.iprev=\"2001:db8::25\""),
        "{}",
        authres(&out)
    );
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_macros_we_use_are_requested_where_the_mta_allows() {
    let m = Milter::start(LISTEN_VERIFY, ZONE).await;
    let mta = m.postfix().await;
    let agreed = *mta.negotiated().expect("negotiated");
    assert!(agreed.actions.bits() & 0x100 != 0, "SETSYMLIST agreed");
    let lists: Vec<(u32, String)> = mta
        .symlists()
        .iter()
        .map(|l| (l.stage.0, String::from_utf8_lossy(&l.macros).into_owned()))
        .collect();
    assert!(
        lists.contains(&(0, "{daemon_name} {client_addr}".to_string())),
        "{lists:?}"
    );
    assert!(
        lists.contains(&(2, "i {auth_authen}".to_string())),
        "{lists:?}"
    );
    assert!(
        lists.iter().all(|(_, l)| !l.is_empty()),
        "only non-empty lists"
    );
    drop(mta);
    // a v2 MTA does not offer SETSYMLIST: nothing is requested
    let old = m.client(Profile::legacy_v2()).await;
    assert!(old.symlists().is_empty());
    assert_eq!(
        old.negotiated().expect("negotiated").actions.bits() & 0x100,
        0
    );
    drop(old);
    // and it can be turned off
    let off = Milter::start(
        &format!("{LISTEN_VERIFY}[server]\nrequest_macros = false\n"),
        ZONE,
    )
    .await;
    let mta = off.postfix().await;
    assert!(mta.symlists().is_empty());
    drop(mta);
    m.stop().await;
    off.stop().await;
}

/// An MTA may send the next message's commands before it reads our answer to the last one
/// (they need no reply until RCPT, and a fast client pipelines). The answer to the first end of
/// message must go out at once, not wait in the write buffer while the next message's checks
/// wait for DNS. Only DKIM runs here, so the first (unsigned) message needs no lookup and the
/// second one's key lookup waits 30 s; `progress_interval` is longer than this test waits.
#[tokio::test(flavor = "multi_thread")]
async fn an_end_of_message_answer_does_not_wait_behind_the_next_message() {
    use milter_proto::{Command, Envelope, Header};
    let toml = format!(
        "{LISTEN_VERIFY}[server]\neom_timeout = \"60s\"\nprogress_interval = \"40s\"\nshutdown_timeout = \"1s\"\n\
         [spf]\nenabled = false\n[iprev]\nenabled = false\n[dmarc]\nenabled = false\n\
         [arc]\nverify = false\n"
    );
    let m = Milter::start(&toml, "").await;
    let mut mta = m.postfix().await;
    mta.connect("c.example", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    mta.helo("c.example", &[]).await.expect("helo");
    m.dns.set_latency(Some(Duration::from_secs(30)));
    let header = |name: &'static str, value: &'static str| {
        Command::Header(Header {
            name: Bytes::from_static(name.as_bytes()),
            value: Bytes::from_static(value.as_bytes()),
        })
    };
    let envelope = |a: &'static str| Envelope::new(Bytes::from_static(a.as_bytes()), vec![]);
    let signature = "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; \
                     bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA";
    let mut pipelined = Vec::new();
    for signed in [false, true] {
        pipelined.push(Command::Mail(envelope("<a@example.org>")));
        pipelined.push(Command::Rcpt(envelope("<b@example.net>")));
        pipelined.push(Command::Data);
        pipelined.push(header("From", "a@example.org"));
        if signed {
            pipelined.push(header("DKIM-Signature", signature));
        }
        pipelined.push(Command::Eoh);
        pipelined.push(Command::BodyEob(Bytes::new()));
        pipelined.push(Command::Abort);
    }
    let mut bytes = bytes::BytesMut::new();
    for cmd in &pipelined {
        cmd.encode(&mut bytes).expect("encode");
    }
    mta.send_raw(&bytes).await.expect("pipelined messages");
    // the first message's answer: its A-R header, then the final reply
    let mut modifications = 0;
    loop {
        let r = mta
            .read_reply(Duration::from_secs(10))
            .await
            .expect("the first message is answered while the second waits on DNS");
        if r.code().is_modification() {
            modifications += 1;
        } else if modifications > 0 {
            assert_eq!(r.code(), ResponseCode::Continue, "{r:?}");
            break;
        }
    }
    m.dns.set_latency(None);
    m.stop().await;
}
