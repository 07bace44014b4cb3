//! Two `authmilter serve` nodes sharing one real PostgreSQL store (AUTHMILTER_E2E=1): each
//! (domain, period) report goes out exactly once, even when both run `report send` at the same
//! moment.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::{Setup, for_rcpt, report_of, send, tomorrow};
use crate::postfix::mta::sink::Sink;
use crate::support::binary;
use test_support::free_port;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs AUTHMILTER_E2E=1"]
async fn two_serve_nodes_on_one_postgres_send_each_report_once() {
    if !test_support::e2e_enabled() {
        eprintln!("skipped: needs AUTHMILTER_E2E=1 (PostgreSQL)");
        return;
    }
    let pg = test_support::postgres::TestPostgres::start().expect("PostgreSQL");
    let url = pg.create_database("twonodes").expect("createdb");
    let setup = Setup::new();
    let sink = Sink::start();
    let (p1, p2) = (free_port(), free_port());
    let n1 = setup.serve(
        &setup.config(p1, &url, sink.addr().port(), "node = \"mx1\"\n"),
        p1,
    );
    let n2 = setup.serve(
        &setup.config(p2, &url, sink.addr().port(), "node = \"mx2\"\n"),
        p2,
    );
    let (a, b) = tokio::join!(send(p1, "a.example", 3), send(p2, "a.example", 4));
    assert_eq!((a, b), (3, 4));
    assert_eq!(send(p2, "b.example", 2).await, 2);
    setup.wait_recorded(&n1.config_path(), 9);

    // both nodes run `report send` at the same moment
    let now = tomorrow().to_string();
    let zone = setup.zone_path();
    let spawn = |cfg: PathBuf| {
        Command::new(binary())
            .args([
                "report",
                "send",
                "--now",
                &now,
                "-c",
                cfg.to_str().expect("p"),
            ])
            .args(["--zone", zone.to_str().expect("path")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("report send")
    };
    let c1 = spawn(n1.config_path());
    let c2 = spawn(n2.config_path());
    let o1 = c1.wait_with_output().expect("node 1");
    let o2 = c2.wait_with_output().expect("node 2");
    assert!(o1.status.success() && o2.status.success(), "{o1:?} {o2:?}");
    let got = sink.messages();
    assert_eq!(got.len(), 3, "{}", sink.transcript());
    for (rcpt, count) in [
        ("dmarc@a.example", 7),
        ("dmarc2@a.example", 7),
        ("r@reports.other.example", 2),
    ] {
        let m = for_rcpt(&got, rcpt);
        assert_eq!(m.len(), 1, "{rcpt}: exactly one report");
        assert_eq!(
            report_of(m[0]).message_count(),
            count,
            "{rcpt}: both nodes' records"
        );
    }
    // and again, from both: nothing more
    let c1 = spawn(n1.config_path());
    let c2 = spawn(n2.config_path());
    let _ = c1.wait_with_output();
    let _ = c2.wait_with_output();
    assert_eq!(sink.messages().len(), 3);
    let s = setup.status(&n2.config_path());
    assert!(
        s["store"].as_str().unwrap_or("").starts_with("postgres://"),
        "{s:#}"
    );
    drop(Arc::new(pg));
}
