//! SIGHUP reloads: a truncated or empty file never turns enforcement off, changes are logged,
//! and the results sink (owned outside the reloaded state) keeps every record across a reload.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use authmilter::app::App;
use authmilter::config::{Config, SocketSpec};
use authmilter::pipeline::ResultsSink;
use authmilter::server::Server;
use authmilter::services::Services;
use dns::memory::MemoryResolver;
use testkit::{MtaClient, Profile};

use crate::support::{ServeProcess, message, transaction};
use test_support::free_port;

const ZONE: &str = "_dmarc.strict.example TXT \"v=DMARC1; p=reject\"\n\
strict.example TXT \"v=spf1 -all\"\n";

fn spoof() -> Vec<u8> {
    message(&["From: ceo@strict.example", "Subject: pay this", "", "now"])
}

fn config(port: u16, zone: &std::path::Path, dmarc: &str) -> String {
    let _ = zone;
    format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n{dmarc}"
    )
}

async fn send(port: u16) -> testkit::EomOutcome {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut mta = MtaClient::connect_tcp(
        addr,
        Profile::postfix().with_timeout(Duration::from_secs(20)),
    )
    .await
    .expect("connect");
    mta.negotiate().await.expect("negotiate");
    transaction(
        &mut mta,
        "192.0.2.10",
        "mail.example.org",
        "ceo@strict.example",
        "b@example.net",
        &spoof(),
    )
    .await
}

fn hup(p: &ServeProcess) {
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &p.pid().to_string()])
        .status();
}

fn wait_for_log(p: &ServeProcess, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let log = p.log_text();
        if log.contains(needle) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_or_empty_file_never_turns_enforcement_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = dir.path().join("zone");
    std::fs::write(&zone, ZONE).expect("zone");
    let port = free_port();
    let full = config(port, &zone, "[dmarc]\nenforce = true\n");
    let server = ServeProcess::start(&full, port, &["--zone", zone.to_str().expect("path")]);
    let cfg_path = server.config_path();
    assert!(send(port).await.is_reject(), "p=reject spoof is rejected");

    // a refused reload changes nothing, so it warns of nothing it would have changed: a new
    // [metrics] address "takes effect after a restart" was said before the refusal
    let metrics = free_port();
    let refused = format!(
        "{}[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n[server]\nuser = \"no-such-user-authmilter\"\n",
        config(port, &zone, "[dmarc]\nenforce = true\n")
    );
    std::fs::write(&cfg_path, refused).expect("rewrite");
    hup(&server);
    let log = wait_for_log(&server, "reload refused");
    assert!(log.contains("server.user"), "{log}");
    assert!(!log.contains("after a restart"), "{log}");

    // the file loses its [dmarc] section (enforce would fall back to false)
    std::fs::write(&cfg_path, config(port, &zone, "")).expect("truncate");
    hup(&server);
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.log_text().matches("reload refused").count() < 2 {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = server.log_text();
    assert!(log.contains("dmarc.enforce"), "{log}");
    assert!(
        send(port).await.is_reject(),
        "still enforced after the refused reload"
    );

    // an empty file
    std::fs::write(&cfg_path, "# nothing here\n").expect("empty");
    hup(&server);
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.log_text().matches("reload refused").count() < 3 {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.log_text().contains("empty or only comments"));
    assert!(send(port).await.is_reject());

    // a deliberate change is applied and logged at warning level
    std::fs::write(&cfg_path, config(port, &zone, "[dmarc]\nenforce = false\n")).expect("rewrite");
    hup(&server);
    let log = wait_for_log(&server, "configuration reloaded");
    let line = log
        .lines()
        .find(|l| l.contains("reload: setting changed") && l.contains("dmarc.enforce"))
        .unwrap_or_else(|| panic!("the change is logged:\n{log}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(send(port).await.is_accept(), "enforcement off by decision");
    // every reload error was one line
    for l in log.lines().filter(|l| l.contains("reload refused")) {
        assert!(l.contains("keeping the running configuration"), "{l}");
    }
}

/// Records published before and after a reload (the state swap SIGHUP does) all reach the
/// results sink: it lives outside `App`.
#[tokio::test(flavor = "multi_thread")]
async fn results_published_across_a_reload_all_reach_the_sink() {
    let text = "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"verify\"\n\
                [authres]\nauthserv_id = \"mx.test.example\"\n";
    let dns = Arc::new(MemoryResolver::from_zone(ZONE).expect("zone"));
    let app = Arc::new(App::new(Config::parse(text).expect("config"), dns.clone()).expect("app"));
    let shared = Arc::new(ArcSwap::new(app));
    let (sink, mut rx) = ResultsSink::bounded(64);
    let services = Services::with_sink(sink);
    let server = Server::bind_shared(Arc::clone(&shared), Arc::clone(&services))
        .await
        .expect("bind");
    let port = match server.local_addrs().first() {
        Some(SocketSpec::Inet { port, .. }) => *port,
        other => panic!("{other:?}"),
    };
    let (tx, stop) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stop.await;
    }));
    for _ in 0..3 {
        send(port).await;
    }
    // what the SIGHUP handler does: a new App from the new file, swapped in
    let reloaded = format!("{text}[dmarc]\nenforce = true\n");
    let app2 = App::new(Config::parse(&reloaded).expect("config"), dns).expect("app");
    shared.store(Arc::new(app2));
    for _ in 0..3 {
        send(port).await;
    }
    let mut actions = Vec::new();
    while actions.len() < 6 {
        let r = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a record within 10 s")
            .expect("sink open");
        actions.push(
            r.decision
                .as_deref()
                .expect("the sink keeps decisions")
                .action(),
        );
    }
    assert_eq!(
        actions,
        ["accept", "accept", "accept", "reject", "reject", "reject"]
    );
    // the sink counts a record just after handing it over: the count may trail the records
    let counted = test_support::process::poll(Duration::from_secs(10), || {
        (services.sink.published() == 6).then_some(())
    });
    assert!(counted.is_some(), "{}", services.sink.published());
    assert_eq!(services.sink.dropped(), 0);
    let _ = tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
}

/// One socketmap request over `conn` (netstring, socketmap_table(5)); the reply's payload.
fn socketmap_ask(conn: &mut std::net::TcpStream, request: &str) -> String {
    use std::io::{Read, Write};
    conn.write_all(format!("{}:{request},", request.len()).as_bytes())
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b",") {
        let n = conn.read(&mut buf).expect("read");
        assert!(n > 0, "socketmap closed the connection");
        got.extend_from_slice(buf.get(..n).expect("read length"));
    }
    let text = String::from_utf8(got).expect("utf8");
    let (_, payload) = text.split_once(':').expect("netstring");
    payload.trim_end_matches(',').to_string()
}

/// docs/srs.md "Secrets and rotation": a SIGHUP re-reads the SRS secrets for the socketmap
/// too (postsrsd-style socketmap mode), also on a connection Postfix keeps open; a removed
/// secret no longer verifies.
#[test]
fn a_reload_rotates_the_secrets_of_the_srs_socketmap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zone = dir.path().join("zone");
    std::fs::write(&zone, "").expect("zone");
    let secrets = dir.path().join("srs.secrets");
    std::fs::write(&secrets, "first-secret-of-the-test\n").expect("secrets");
    let (port, map_port) = (free_port(), free_port());
    let text = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n\
         [srs]\ndomain = \"fwd.test.example\"\nsecrets = \"{}\"\n\
         socketmap = \"inet:127.0.0.1:{map_port}\"\n",
        secrets.display()
    );
    let server = ServeProcess::start(&text, port, &["--zone", zone.to_str().expect("path")]);
    let cfg = server.config_path();
    let cfg = cfg.to_str().expect("path");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", map_port)).expect("socketmap");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let expected = |cfg: &str| {
        let (code, out, err) =
            crate::support::run_cli(&["srs", "forward", "alice@example.org", "-c", cfg], None);
        assert_eq!(code, 0, "{err}");
        format!("OK {}", out.trim())
    };
    let before = socketmap_ask(&mut conn, "forward alice@example.org");
    assert_eq!(before, expected(cfg));
    let old_address = before.trim_start_matches("OK ").to_string();

    // rotation step 3 done at once: only a new secret is left
    std::fs::write(&secrets, "second-secret-of-the-test\n").expect("rotate");
    hup(&server);
    wait_for_log(&server, "configuration reloaded");
    let after = expected(cfg);
    assert_ne!(after, before, "a new secret makes another hash");
    assert_eq!(
        socketmap_ask(&mut conn, "forward alice@example.org"),
        after,
        "the open socketmap connection signs with the reloaded secret"
    );
    let mut fresh = std::net::TcpStream::connect(("127.0.0.1", map_port)).expect("socketmap");
    fresh
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert_eq!(
        socketmap_ask(&mut fresh, "forward alice@example.org"),
        after
    );
    assert!(
        !socketmap_ask(&mut fresh, &format!("reverse {old_address}")).starts_with("OK"),
        "an address of the removed secret no longer verifies"
    );
}

/// A reload runs the file checks `serve` and `config check` run at start: a failure-report
/// redaction key that cannot be read refuses the reload (it was applied, and failure reports
/// stopped later when the first one was due).
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_refuses_what_config_check_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("reports.db");
    let port = free_port();
    let base = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [reports]\nenabled = true\nsend = false\nstore = \"sqlite:{}\"\n",
        store.display()
    );
    let server = ServeProcess::start(&base, port, &[]);
    let missing = dir.path().join("no-such-redaction.key");
    let changed = format!(
        "{base}[reports.failure]\nenabled = true\nredaction_key = \"{}\"\n",
        missing.display()
    );
    std::fs::write(server.config_path(), &changed).expect("rewrite");
    let check = std::process::Command::new(crate::support::binary())
        .args(["config", "check", "-c"])
        .arg(server.config_path())
        .output()
        .expect("config check");
    assert!(!check.status.success(), "config check accepted it");
    hup(&server);
    let deadline = Instant::now() + Duration::from_secs(15);
    let log = loop {
        let log = server.log_text();
        if log.contains("reload refused") || log.contains("configuration reloaded") {
            break log;
        }
        assert!(Instant::now() < deadline, "no reload outcome:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(log.contains("reload refused"), "{log}");
    assert!(log.contains("reports.failure.redaction_key"), "{log}");
}

/// `[[server.listen]] clients`: a TCP connection from an address the list does not name is
/// closed before a byte is read (whoever reaches a milter port chooses the macros and
/// envelope: signing and recorded results); a reload that lists it lets it in. `config check`
/// warns about a listener on a network address that serves anyone.
#[tokio::test(flavor = "multi_thread")]
async fn a_listener_serves_only_its_clients() {
    let port = free_port();
    let listen =
        format!("[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n");
    let server = ServeProcess::start(
        &format!("{listen}clients = [\"192.0.2.0/24\"]\n"),
        port,
        &[],
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let profile = || Profile::postfix().with_timeout(Duration::from_secs(5));
    let mut mta = MtaClient::connect_tcp(addr, profile())
        .await
        .expect("connect");
    assert!(mta.negotiate().await.is_err(), "a stranger was served");
    let log = wait_for_log(&server, "do not list");
    assert!(log.contains("127.0.0.1"), "{log}");
    std::fs::write(
        server.config_path(),
        format!("{listen}clients = [\"192.0.2.0/24\", \"127.0.0.1\"]\n"),
    )
    .expect("rewrite");
    hup(&server);
    wait_for_log(&server, "configuration reloaded");
    let mut mta = MtaClient::connect_tcp(addr, profile())
        .await
        .expect("connect");
    mta.negotiate().await.expect("a listed client is served");
    let _ = mta.quit().await;
    // a listener every host can reach, serving anyone: config check says so
    let dir = tempfile::tempdir().expect("tempdir");
    let open = dir.path().join("open.toml");
    std::fs::write(
        &open,
        "[[server.listen]]\nsocket = \"inet:0.0.0.0:8891\"\nrole = \"sign\"\n",
    )
    .expect("write");
    let check = std::process::Command::new(crate::support::binary())
        .args(["config", "check", "-c"])
        .arg(&open)
        .output()
        .expect("config check");
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{err}");
    assert!(err.contains("clients = [...]"), "{err}");
}

/// The warnings `serve` and `config check` give about a file (a listener that serves any
/// client, `trusted_ids` trusted from any client) are given by a reload that brings the same
/// setting in: it came in silently, and nothing said the port now signs for whoever reaches it.
#[test]
fn a_reload_warns_as_a_start_does() {
    let port = free_port();
    let open = free_port();
    let base = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n"
    );
    let server = ServeProcess::start(&base, port, &[]);
    std::fs::write(
        server.config_path(),
        format!(
            "{base}trusted_ids = [\"mx.upstream.example\"]\n\
             [[server.listen]]\nsocket = \"inet:0.0.0.0:{open}\"\nrole = \"verify\"\n"
        ),
    )
    .expect("rewrite");
    hup(&server);
    let log = wait_for_log(&server, "configuration reloaded");
    assert!(
        log.contains("trusted_ids is used for mail from any client"),
        "{log}"
    );
    assert!(
        log.contains("serves milter clients from any address"),
        "{log}"
    );
}

/// A reload does not open the SQLite report store's file: closing a descriptor of it dropped
/// every lock this process held on the database, and the next other client to close it (the
/// `sqlite3 reports.db ".backup …"` docs/reports.md advises) removed the write-ahead log under
/// the running store, which then stored nothing until a restart.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_leaves_the_report_store_usable_by_other_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("reports.db");
    let zone = dir.path().join("zone");
    std::fs::write(
        &zone,
        "_dmarc.strict.example TXT \"v=DMARC1; p=reject; rua=mailto:d@strict.example\"\n\
         strict.example TXT \"v=spf1 -all\"\n",
    )
    .expect("zone");
    let port = free_port();
    let toml = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
         [reports]\nenabled = true\nsend = false\nflush_interval = \"200ms\"\n\
         store = \"sqlite:{}\"\n",
        store.display()
    );
    let server = ServeProcess::start(&toml, port, &["--zone", zone.to_str().expect("utf-8")]);
    let recorded = |want: i64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // another client of the database, as sqlite3 is: opened, read, closed
            let n: i64 = rusqlite::Connection::open(&store)
                .and_then(|c| {
                    c.query_row(
                        "SELECT COALESCE(SUM(count), 0) FROM observations",
                        [],
                        |r| r.get(0),
                    )
                })
                .unwrap_or(0);
            if n >= want {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "{n} recorded:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert!(send(port).await.is_accept());
    assert_eq!(recorded(1), 1);
    hup(&server);
    wait_for_log(&server, "reload: no setting changed");
    recorded(1);
    assert!(send(port).await.is_accept());
    assert_eq!(recorded(2), 2);
    let log = server.log_text();
    assert!(!log.contains("removed or replaced"), "{log}");
}
