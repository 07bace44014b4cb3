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

    // the file loses its [dmarc] section (enforce would fall back to false)
    std::fs::write(&cfg_path, config(port, &zone, "")).expect("truncate");
    hup(&server);
    let log = wait_for_log(&server, "reload refused");
    assert!(log.contains("dmarc.enforce"), "{log}");
    assert!(
        send(port).await.is_reject(),
        "still enforced after the refused reload"
    );

    // an empty file
    std::fs::write(&cfg_path, "# nothing here\n").expect("empty");
    hup(&server);
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.log_text().matches("reload refused").count() < 2 {
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
    assert_eq!((services.sink.published(), services.sink.dropped()), (6, 0));
    let _ = tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
}
