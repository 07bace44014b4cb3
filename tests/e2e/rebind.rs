//! SIGHUP and listeners (docs/configuration.md, "Listeners on reload"): new sockets open,
//! removed ones stop accepting while their connections finish, a changed role applies to new
//! connections, and a socket that cannot be opened keeps the old set while the rest of the
//! reload applies.

use std::time::{Duration, Instant};

use testkit::{MtaClient, Profile};

use test_support::free_port;

use crate::support::{ServeProcess, message, transaction};

const ZONE: &str = "_dmarc.strict.example TXT \"v=DMARC1; p=reject\"\n\
strict.example TXT \"v=spf1 -all\"\n";

fn spoof() -> Vec<u8> {
    message(&["From: ceo@strict.example", "Subject: pay this", "", "now"])
}

/// Listeners on `ports` with `role`, DMARC enforced or not.
fn config(ports: &[u16], role: &str, enforce: bool) -> String {
    let mut c: String = ports
        .iter()
        .map(|p| format!("[[server.listen]]\nsocket = \"inet:127.0.0.1:{p}\"\nrole = \"{role}\"\n"))
        .collect();
    c.push_str(&format!(
        "[authres]\nauthserv_id = \"mx.test.example\"\n[dmarc]\nenforce = {enforce}\n"
    ));
    c
}

async fn mta(port: u16) -> MtaClient {
    let mut m = MtaClient::connect_tcp(
        ("127.0.0.1", port),
        Profile::postfix().with_timeout(Duration::from_secs(20)),
    )
    .await
    .expect("connect");
    m.negotiate().await.expect("negotiate");
    m
}

async fn send_spoof(port: u16) -> testkit::EomOutcome {
    let mut m = mta(port).await;
    transaction(
        &mut m,
        "192.0.2.10",
        "mail.example.org",
        "ceo@strict.example",
        "b@example.net",
        &spoof(),
    )
    .await
}

/// A connection to `port` with a message in flight: its envelope sent, its body not yet.
async fn envelope_sent(port: u16) -> MtaClient {
    let mut m = mta(port).await;
    m.connect(
        "client.example.org",
        "192.0.2.10".parse().expect("ip"),
        40000,
        &[],
    )
    .await
    .expect("connect");
    m.helo("mail.example.org", &[]).await.expect("helo");
    m.mail("<ceo@strict.example>", &[], &[])
        .await
        .expect("mail");
    m.rcpt("<b@example.net>", &[], &[]).await.expect("rcpt");
    m
}

/// SIGHUP, then waits until the log says `configuration reloaded` `n` times.
fn reload(p: &ServeProcess, n: usize) -> String {
    test_support::process::signal(&p.pid().to_string(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = p.log_text();
        if log.matches("configuration reloaded").count() >= n {
            return log;
        }
        assert!(Instant::now() < deadline, "no reload in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn refused(port: u16) -> bool {
    matches!(
        std::net::TcpStream::connect(("127.0.0.1", port)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_opens_new_listeners_and_closes_removed_ones_while_their_messages_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = dir.path().join("zone");
    std::fs::write(&zone, ZONE).expect("zone");
    let (old, new) = (free_port(), free_port());
    let server = ServeProcess::start(
        &config(&[old], "verify", true),
        old,
        &["--zone", zone.to_str().expect("utf-8")],
    );

    // a message in flight on the old listener: envelope sent, body not yet
    let mut in_flight = envelope_sent(old).await;

    // the new file: a second port, the first one gone
    std::fs::write(server.config_path(), config(&[new], "verify", true)).expect("rewrite");
    let log = reload(&server, 1);
    assert!(
        log.lines()
            .any(|l| l.contains("stopped listening") && l.contains(&format!(":{old}"))),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("listening") && l.contains(&format!("127.0.0.1:{new}"))),
        "{log}"
    );
    assert!(!log.contains("take effect after a restart"), "{log}");

    // the new port accepts and checks; the old one refuses
    assert!(
        send_spoof(new).await.is_reject(),
        "verified on the new port"
    );
    assert!(refused(old), "the removed listener is closed");

    // the connection accepted before the reload finishes its message
    let out = in_flight.send_message(&spoof()).await.expect("message");
    assert!(out.is_reject(), "{out:?}");
    in_flight.quit().await.expect("quit");

    // same socket, new role: new connections get it (sign: nothing verified or rejected)
    std::fs::write(server.config_path(), config(&[new], "sign", true)).expect("rewrite");
    let log = reload(&server, 2);
    assert!(log.contains("listener role changed"), "{log}");
    assert!(
        send_spoof(new).await.is_accept(),
        "the sign role for new connections"
    );
    assert!(refused(old));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_that_cannot_be_opened_keeps_the_listeners_and_the_rest_applies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = dir.path().join("zone");
    std::fs::write(&zone, ZONE).expect("zone");
    let running = free_port();
    // someone else holds this port (as a privileged port would refuse us after dropping root)
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = taken.local_addr().expect("addr").port();
    let server = ServeProcess::start(
        &config(&[running], "verify", true),
        running,
        &["--zone", zone.to_str().expect("utf-8")],
    );
    assert!(send_spoof(running).await.is_reject());

    // the new file adds the busy port and turns enforcement off
    std::fs::write(
        server.config_path(),
        config(&[running, busy], "verify", false),
    )
    .expect("rewrite");
    let log = reload(&server, 1);
    let line = log
        .lines()
        .find(|l| l.contains("reload: listeners unchanged"))
        .unwrap_or_else(|| panic!("one error line:\n{log}"));
    assert!(
        line.contains("ERROR") && line.contains(&format!("cannot listen on inet:127.0.0.1:{busy}")),
        "{line}"
    );
    // the running listener still serves, with the rest of the new file applied
    assert!(
        send_spoof(running).await.is_accept(),
        "enforce = false applied"
    );

    // once the port is free, the same file applied again opens it
    drop(taken);
    let log = reload(&server, 2);
    assert!(
        log.lines()
            .any(|l| l.contains("listening") && l.contains(&format!("127.0.0.1:{busy}"))),
        "{log}"
    );
    assert!(send_spoof(busy).await.is_accept());
    assert!(send_spoof(running).await.is_accept());
}

/// A SIGHUP during the shutdown drain (SIGTERM given, a message still in flight) opened the
/// new file's listeners, which then never served: a connection to one hung in the kernel's
/// queue until the MTA's timeout, where docs/operations.md says that after SIGTERM new
/// connections are refused. No socket is opened once the server is shutting down.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_while_shutting_down_opens_no_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = dir.path().join("zone");
    std::fs::write(&zone, ZONE).expect("zone");
    let (old, new) = (free_port(), free_port());
    let mut server = ServeProcess::start(
        &config(&[old], "verify", true),
        old,
        &["--zone", zone.to_str().expect("utf-8")],
    );
    // a message in flight keeps the drain going
    let mut in_flight = envelope_sent(old).await;
    test_support::process::signal(&server.pid().to_string(), "TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server.log_text().contains("shutting down") {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(server.config_path(), config(&[old, new], "verify", true)).expect("rewrite");
    test_support::process::signal(&server.pid().to_string(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server.log_text().contains("the server is shutting down") {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(refused(new), "{}", server.log_text());
    // the message in flight still gets its answer
    let out = in_flight.send_message(&spoof()).await.expect("message");
    assert!(out.is_reject(), "{out:?}");
    let _ = in_flight.quit().await;
    server.wait_exit(Duration::from_secs(20));
}
