//! Hostile and unlucky input: malformed frames, abrupt disconnects, oversize packets, idle
//! clients, too many connections, slow DNS, and shutdown while a message is in flight.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use milter_proto::Response;
use testkit::{MtaClient, Profile};

use crate::support::{LISTEN_VERIFY, Milter, ServeProcess, message, transaction};
use test_support::{block_on, free_port};

/// A clean message on a new connection is accepted: what a misbehaving connection did left
/// the others alone.
async fn a_clean_message_is_accepted(m: &Milter) {
    let mut good = m.postfix().await;
    let out = transaction(
        &mut good,
        "192.0.2.10",
        "mail.example.org",
        "a@example.org",
        "b@example.net",
        &message(&["From: a@example.org", "", "x"]),
    )
    .await;
    assert!(out.is_accept(), "{out:?}");
}

fn frame(code: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    v.push(code);
    v.extend_from_slice(payload);
    v
}

const OPTNEG: &[u8] = b"\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\x1f\xff\xff";

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One malformed or truncated input, different kinds in turn.
fn bad_input(i: u64, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    if !i.is_multiple_of(3) {
        out.extend_from_slice(OPTNEG); // get past negotiation first, sometimes
    }
    match i % 12 {
        0 => out.extend_from_slice(b"\0\0\0\0"),          // len = 0
        1 => out.extend_from_slice(b"\x7f\xff\xff\xffX"), // len over the cap
        2 => out.extend(frame(b'Z', b"unknown")),         // unknown command
        3 => out.extend(&frame(b'C', b"host\0" as &[u8])[..7]), // truncated frame, then EOF
        4 => out.extend(frame(b'C', b"no-nul-here")),     // CONNECT without NUL
        5 => out.extend(frame(b'C', b"host\0Q")),         // bad family
        6 => out.extend(frame(b'O', b"\0\0\0\x06")),      // short OPTNEG
        7 => out.extend(frame(b'L', b"Subject")),         // HEADER without value
        8 => out.extend(frame(b'D', b"M{odd}")),          // macro without NUL
        9 => {
            // random bytes
            let n = rng.below(200) as usize;
            out.extend((0..n).map(|_| rng.next() as u8));
        }
        10 => {
            // a valid start then garbage
            out.extend(frame(b'C', b"h\x004\x00\x19127.0.0.1\0"));
            out.extend(frame(b'M', b"<a@b>\0"));
            out.extend((0..50).map(|_| rng.next() as u8));
        }
        _ => {
            // a whole message start, then the connection drops mid-body
            out.extend(frame(b'C', b"h\x004\x00\x19127.0.0.1\0"));
            out.extend(frame(b'M', b"<a@example.org>\0"));
            out.extend(frame(b'R', b"<b@example.net>\0"));
            out.extend(frame(b'L', b"From\0 a@example.org\0"));
            out.extend(frame(b'N', b""));
            out.extend(&frame(b'B', b"partial body\r\n")[..10]);
        }
    }
    out
}

#[test]
fn a_thousand_malformed_connections_leave_the_server_healthy() {
    let port = free_port();
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n[dns]\nnameservers = [\"127.0.0.1:9\"]\n\
         timeout = \"200ms\"\nattempts = 1\n[spf]\nenabled = false\n[iprev]\nenabled = false\n\
         [dmarc]\nenabled = false\n[dkim]\nverify = false\n"
    );
    let server = ServeProcess::start(&toml, port, &[]);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..1000u64 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            panic!("connection {i} refused: {}", server.log_text());
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let input = bad_input(i, &mut rng);
        // write in one piece, or byte by byte for some
        if i.is_multiple_of(7) {
            for b in &input {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
            }
        } else {
            let _ = s.write_all(&input);
        }
        if i.is_multiple_of(2) {
            // abrupt disconnect
            drop(s);
        } else {
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
    // a well-formed connection is served afterwards
    block_on(async {
        let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), Profile::postfix())
            .await
            .expect("connect");
        mta.negotiate().await.expect("negotiate");
        let out = transaction(
            &mut mta,
            "192.0.2.10",
            "mail.example.org",
            "alice@example.org",
            "bob@example.net",
            &message(&["From: alice@example.org", "", "hi"]),
        )
        .await;
        assert!(out.is_accept());
        assert!(out.added_header("Authentication-Results").is_some());
        mta.quit().await.expect("quit");
    });
    let log = server.log_text();
    assert!(!log.contains("panicked"), "a panic was logged:\n{log}");
    assert!(
        log.contains("closing milter connection"),
        "protocol errors are logged with a reason"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_packet_closes_only_that_connection() {
    let toml = format!("{LISTEN_VERIFY}[server]\nmax_packet_size = 70000\n");
    let m = Milter::start(&toml, "").await;
    let mut bad = m.postfix().await;
    let mut big = frame(b'L', &vec![b'x'; 80_000]);
    big.truncate(20); // the header announces 80001 bytes; the cap refuses before allocating
    bad.send_raw(&big).await.expect("send");
    assert!(bad.expect_eof(Duration::from_secs(10)).await.expect("eof"));
    // another connection is unaffected
    a_clean_message_is_accepted(&m).await;
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_time_out() {
    let toml = format!("{LISTEN_VERIFY}[server]\nidle_timeout = \"1s\"\n");
    let m = Milter::start(&toml, "").await;
    let mut mta = m.postfix().await;
    assert!(mta.expect_eof(Duration::from_secs(15)).await.expect("eof"));
    m.stop().await;
}

/// `authmilter serve` with one verify listener and `max_connections = max`, and its address.
fn limited_serve(max: usize) -> (ServeProcess, std::net::SocketAddr) {
    let port = free_port();
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [server]\nmax_connections = {max}\n[authres]\nauthserv_id = \"mx.test.example\"\n"
    );
    let server = ServeProcess::start(&toml, port, &[]);
    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
    (server, addr)
}

/// Over `max_connections` an extra connection is answered at once (closed, so the MTA applies
/// its milter_default_action) instead of hanging in the kernel's queue, with one warning that
/// names the limit; once a slot frees, new connections are served again.
#[tokio::test(flavor = "multi_thread")]
async fn connection_limit_closes_extra_connections_at_once_with_one_warning() {
    let (server, addr) = limited_serve(2);
    // the port probe of ServeProcess::start may still hold a slot for a moment: retry (bounded)
    let connect = || async {
        for _ in 0..50 {
            let mut m = MtaClient::connect_tcp(addr, Profile::postfix())
                .await
                .expect("tcp connect");
            if m.negotiate().await.is_ok() {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no free slot within 5 s")
    };
    let first = connect().await;
    let _second = connect().await;
    for _ in 0..3 {
        let mut extra = MtaClient::connect_tcp(addr, Profile::postfix())
            .await
            .expect("tcp connect");
        let _ = extra.send_raw(OPTNEG).await;
        assert!(
            extra
                .expect_eof(Duration::from_secs(10))
                .await
                .unwrap_or(true),
            "an extra connection was left hanging instead of closed"
        );
    }
    drop(first);
    // a slot is free again: served (bounded wait for the server to notice the close)
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut m = MtaClient::connect_tcp(addr, Profile::postfix())
            .await
            .expect("tcp connect");
        if m.negotiate().await.is_ok() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never served again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = server.log_text();
    let warnings = log
        .lines()
        .filter(|l| l.contains("connection limit reached (server.max_connections = 2)"))
        .count();
    assert_eq!(
        warnings, 1,
        "one rate-limited warning naming the limit:\n{log}"
    );
}

/// A client that holds at most `max_connections` at once is never refused: a connection that
/// just ended gives its slot back only when its task next runs, and the accept loop, draining
/// the queue, refused the next one meanwhile (12 of 20 one-at-a-time connections at a limit
/// of 8). It now waits a moment for a slot before refusing.
#[tokio::test(flavor = "multi_thread")]
async fn connections_one_at_a_time_are_never_refused_at_the_limit() {
    let (server, addr) = limited_serve(1);
    let mut refused = 0;
    for _ in 0..100 {
        let mut m = MtaClient::connect_tcp(addr, Profile::postfix())
            .await
            .expect("tcp connect");
        match m.negotiate().await {
            Ok(_) => m.quit().await.expect("quit"),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(refused, 0, "{}", server.log_text());
}

/// A burst over the limit is not made to wait in turn: a connection waiting for a slot held
/// the accept loop, 100 ms each, so the hundredth of a burst was closed after ~10 s (and a
/// connection behind it that a freed slot could have served waited as long). A few wait, in
/// tasks of their own; the rest are closed at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_over_the_limit_is_closed_without_waiting_in_turn() {
    let (server, addr) = limited_serve(1);
    let mut holder = MtaClient::connect_tcp(addr, Profile::postfix())
        .await
        .expect("tcp connect");
    holder.negotiate().await.expect("the one slot");
    let started = std::time::Instant::now();
    let burst: Vec<_> = (0..100)
        .map(|_| {
            tokio::spawn(async move {
                let mut extra = MtaClient::connect_tcp(addr, Profile::postfix())
                    .await
                    .expect("tcp connect");
                let _ = extra.send_raw(OPTNEG).await;
                extra
                    .expect_eof(Duration::from_secs(30))
                    .await
                    .unwrap_or(true)
            })
        })
        .collect();
    for extra in burst {
        assert!(
            extra.await.expect("task"),
            "an extra connection was left open"
        );
    }
    // closed as the limit says, not one after another (100 x 100 ms)
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}\n{}",
        started.elapsed(),
        server.log_text()
    );
    holder.quit().await.expect("quit");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_dns_gets_progress_then_the_configured_fallback() {
    let toml = format!(
        "{LISTEN_VERIFY}[server]\neom_timeout = \"2s\"\nprogress_interval = \"500ms\"\n\
         [policy]\non_error = \"tempfail\"\n"
    );
    let m = Milter::start(&toml, "example.org TXT \"v=spf1 -all\"").await;
    m.dns.set_latency(Some(Duration::from_secs(30)));
    let mut mta = m.postfix().await;
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "a@example.org",
        "b@example.net",
        &message(&["From: a@example.org", "", "x"]),
    )
    .await;
    assert!(out.progress >= 1, "PROGRESS while waiting: {out:?}");
    match &out.final_response {
        Response::ReplyCode(r) => assert!(r.is_temporary(), "{r:?}"),
        other => panic!("expected a 4xx reply, got {other:?}"),
    }
    // the connection carries on
    m.dns.set_latency(None);
    let again = mta
        .send_transaction(
            "<a@example.org>",
            &["<b@example.net>"],
            &message(&["From: a@example.org", "", "x"]),
        )
        .await
        .expect("next message");
    assert!(again.is_accept(), "{again:?}");
    m.stop().await;
}

/// SIGTERM while a message's checks wait on DNS: once `shutdown_timeout` has passed the
/// message gets the `policy.on_error` answer (here 4xx) instead of a closed connection (where
/// the MTA would apply its own `milter_default_action`), and the server stops without waiting
/// for the DNS.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_still_checked_at_the_shutdown_timeout_gets_the_fallback_answer() {
    let toml = format!(
        "{LISTEN_VERIFY}[server]\neom_timeout = \"120s\"\nprogress_interval = \"500ms\"\n\
         shutdown_timeout = \"1s\"\n[policy]\non_error = \"tempfail\"\n"
    );
    let m = Milter::start(&toml, "example.org TXT \"v=spf1 -all\"").await;
    m.dns.set_latency(Some(Duration::from_secs(60)));
    let mut mta = m.postfix().await;
    let sending = tokio::spawn(async move {
        transaction(
            &mut mta,
            "192.0.2.10",
            "mail.example.org",
            "a@example.org",
            "b@example.net",
            &message(&["From: a@example.org", "", "x"]),
        )
        .await
    });
    // the message is under way once its first lookup has started (at CONNECT or MAIL)
    let started = test_support::process::poll(Duration::from_secs(20), || {
        (m.dns.query_count() > 0).then_some(())
    });
    assert!(started.is_some(), "no lookup started");
    m.stop().await;
    let out = tokio::time::timeout(Duration::from_secs(20), sending)
        .await
        .expect("answered once the shutdown ran out of time")
        .expect("task");
    match &out.final_response {
        Response::ReplyCode(r) => assert!(r.is_temporary(), "{r:?}"),
        other => panic!("expected a 4xx reply, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_dns_with_accept_fallback_accepts() {
    let toml = format!(
        "{LISTEN_VERIFY}[server]\neom_timeout = \"1s\"\nprogress_interval = \"300ms\"\n\
         [policy]\non_error = \"accept\"\n"
    );
    let m = Milter::start(&toml, "").await;
    m.dns.set_latency(Some(Duration::from_secs(30)));
    let mut mta = m.postfix().await;
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "a@example.org",
        "b@example.net",
        &message(&[
            "Authentication-Results: mx.test.example; dmarc=pass header.from=bank.example",
            "Received: from x",
            "authentication-results : MX.TEST.EXAMPLE; dkim=pass",
            "From: a@example.org",
            "",
            "x",
        ]),
    )
    .await;
    assert!(out.is_accept(), "{out:?}");
    // our header or no delivery: the forged fields that claim our authserv-id are removed
    // even though the checks never finished, and our own says nothing was checked
    let deleted: Vec<u32> = out.deleted_headers().iter().map(|(i, _)| *i).collect();
    assert_eq!(deleted, [2, 1], "{out:?}");
    let ar = crate::support::authres(&out);
    assert!(
        ar.starts_with("mx.test.example; none (not checked: checks did not finish within 1s)"),
        "{ar}"
    );
    m.stop().await;
}

#[test]
fn sigterm_lets_the_message_in_flight_finish_and_refuses_new_connections() {
    let port = free_port();
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n[spf]\nenabled = false\n\
         [iprev]\nenabled = false\n[dmarc]\nenabled = false\n[dkim]\nverify = false\n\
         [server]\nshutdown_timeout = \"20s\"\n"
    );
    let mut server = ServeProcess::start(&toml, port, &[]);
    block_on(async {
        let mut mta = MtaClient::connect_tcp(("127.0.0.1", port), Profile::postfix())
            .await
            .expect("connect");
        mta.negotiate().await.expect("negotiate");
        mta.connect("c.example", "192.0.2.1".parse().unwrap(), 1, &[])
            .await
            .expect("connect");
        mta.mail("<a@example.org>", &[], &[]).await.expect("mail");
        mta.rcpt("<b@example.net>", &[], &[]).await.expect("rcpt");
        mta.data(&[]).await.expect("data");
        mta.header("From", " a@example.org").await.expect("header");
        server.terminate();
        // wait (bounded) until the listener is closed
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_ok() {
            assert!(std::time::Instant::now() < deadline, "listener still open");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        mta.eoh().await.expect("eoh");
        mta.body(b"the body\r\n").await.expect("body");
        let out = mta.eom().await.expect("the message in flight is answered");
        assert!(out.is_accept());
        assert!(out.added_header("Authentication-Results").is_some());
        // then the server closes the idle connection
        assert!(mta.expect_eof(Duration::from_secs(15)).await.expect("eof"));
    });
    assert_eq!(
        server.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        server.log_text()
    );
}

/// A message with 100,000 header fields of one name: handled in linear time with bounded
/// memory (fields past `max_headers` are counted, not kept), answered per `on_oversize`, and
/// a normal message on another connection meanwhile is answered too. (How long it takes is
/// measured in `benches/pipeline.rs`, not here.)
#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_headers_are_answered_and_do_not_block_others() {
    for (setting, expect_accept) in [("tempfail", false), ("accept", true)] {
        let toml = format!("{LISTEN_VERIFY}[server]\non_oversize = \"{setting}\"\n");
        let m = Milter::start(&toml, "").await;
        let mut lines: Vec<String> = Vec::with_capacity(100_003);
        lines.push("From: a@example.org".into());
        for i in 0..100_000 {
            lines.push(format!("X-Junk: {i}"));
        }
        // a forged header past the limit is still found and removed
        lines.push("Authentication-Results: mx.test.example; dmarc=pass".into());
        lines.push(String::new());
        lines.push("body".into());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let big = message(&refs);
        let mut heavy = m.postfix().await;
        let mut light = m.postfix().await;
        let heavy_task = tokio::spawn(async move {
            transaction(
                &mut heavy,
                "192.0.2.10",
                "mail.example.org",
                "a@example.org",
                "b@example.net",
                &big,
            )
            .await
        });
        let normal = transaction(
            &mut light,
            "192.0.2.11",
            "mail.example.org",
            "a@example.org",
            "b@example.net",
            &message(&["From: a@example.org", "", "x"]),
        )
        .await;
        assert!(normal.is_accept(), "{normal:?}");
        let out = heavy_task.await.expect("heavy transaction");
        if expect_accept {
            assert!(out.is_accept(), "{out:?}");
            let ar = crate::support::authres(&out);
            assert!(
                ar.contains("dmarc=permerror") && ar.contains("more than 1000 header fields"),
                "{ar}"
            );
            assert_eq!(out.deleted_headers().len(), 1, "{out:?}");
        } else {
            match &out.final_response {
                Response::ReplyCode(r) => {
                    assert_eq!(r.code(), 451, "{r:?}");
                    assert_eq!(
                        r.enhanced().map(|e| e.to_string()).as_deref(),
                        Some("4.3.4")
                    );
                }
                other => panic!("expected 451 4.3.4, got {other:?}"),
            }
        }
        m.stop().await;
    }
}

/// A signal sent the moment the milter's port accepts (before it has answered anything) stops
/// or reloads it: the handlers are in place from the first bound socket on. Five starts each
/// way, bounded.
#[test]
fn a_signal_sent_as_soon_as_the_port_accepts_is_handled_not_fatal() {
    for signal in [
        "HUP", "TERM", "HUP", "TERM", "HUP", "TERM", "HUP", "TERM", "HUP", "TERM",
    ] {
        let port = free_port();
        let toml = format!(
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
             [authres]\nauthserv_id = \"mx.test.example\"\n"
        );
        let mut server = ServeProcess::start(&toml, port, &["--zone", "/dev/null"]);
        test_support::process::signal(&server.pid().to_string(), signal);
        if signal == "HUP" {
            let reloaded = test_support::process::poll(Duration::from_secs(20), || {
                server
                    .log_text()
                    .contains("configuration reloaded")
                    .then_some(())
            });
            assert!(reloaded.is_some(), "SIGHUP: {}", server.log_text());
            server.terminate();
        }
        assert_eq!(
            server.wait_exit(Duration::from_secs(20)),
            Some(0),
            "SIG{signal}: {}",
            server.log_text()
        );
    }
}

/// An MTA that sends RCPT after RCPT (no reply is owed with NR_RCPT) never makes the
/// connection keep recipients without bound: past the per-message limit the connection is
/// closed (the MTA applies its default action), and other connections are served.
#[tokio::test(flavor = "multi_thread")]
async fn a_recipient_flood_closes_only_that_connection() {
    let m = Milter::start(LISTEN_VERIFY, "").await;
    let mut bad = m.postfix().await;
    bad.connect("c.example", "192.0.2.1".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    bad.mail("<a@example.org>", &[], &[]).await.expect("mail");
    let mut flood = Vec::new();
    for i in 0..60_000u32 {
        flood.extend(frame(b'R', format!("<r{i}@example.net>\0").as_bytes()));
    }
    // the milter may close while this is still being written
    let _ = bad.send_raw(&flood).await;
    assert!(
        bad.expect_eof(Duration::from_secs(10)).await.expect("eof"),
        "the connection kept accepting recipients"
    );
    a_clean_message_is_accepted(&m).await;
    m.stop().await;
}

/// Recipients of 256 KiB each (or one of half a million empty ESMTP parameters) never make the
/// connection hold the envelope without bound: a RCPT with more strings than an SMTP command
/// has, or past 4 MiB of MAIL and RCPT in one message, closes the connection (the MTA applies
/// its default action); other connections are served.
#[tokio::test(flavor = "multi_thread")]
async fn huge_recipients_close_only_that_connection() {
    let m = Milter::start(LISTEN_VERIFY, "").await;
    for payload in [
        // RCPTs of 256 KiB each (within the 1 MiB frame cap)
        [
            b"<".to_vec(),
            vec![b'r'; 256 << 10],
            b"@example.net>\0".to_vec(),
        ]
        .concat(),
        // an address and half a million empty parameters
        [b"<r@example.net>\0".to_vec(), vec![0u8; 512 << 10]].concat(),
    ] {
        let mut bad = m.postfix().await;
        bad.connect("c.example", "192.0.2.1".parse().unwrap(), 1, &[])
            .await
            .expect("connect");
        bad.mail("<a@example.org>", &[], &[]).await.expect("mail");
        let one = frame(b'R', &payload);
        for _ in 0..1000 {
            // the milter may close while this is still being written
            if bad.send_raw(&one).await.is_err() {
                break;
            }
        }
        assert!(
            bad.expect_eof(Duration::from_secs(10)).await.expect("eof"),
            "the connection kept accepting recipients"
        );
    }
    a_clean_message_is_accepted(&m).await;
    m.stop().await;
}

/// More forged Authentication-Results (claiming our id) than `max_headers`: they are not all
/// noted for removal (that would grow without bound), so the message is not delivered with
/// some of them left: it is tempfailed, even with `on_oversize = "accept"`.
#[tokio::test(flavor = "multi_thread")]
async fn more_forged_authentication_results_than_max_headers_are_tempfailed() {
    let toml = format!("{LISTEN_VERIFY}[server]\nmax_headers = 5\non_oversize = \"accept\"\n");
    let m = Milter::start(&toml, "").await;
    let mut lines = vec!["From: a@example.org".to_string()];
    for _ in 0..20 {
        lines.push("Authentication-Results: mx.test.example; dmarc=pass".into());
    }
    lines.extend([String::new(), "body".into()]);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut mta = m.postfix().await;
    let out = transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "a@example.org",
        "b@example.net",
        &message(&refs),
    )
    .await;
    assert!(out.is_tempfail(), "{out:?}");
    m.stop().await;
}
