//! Benchmark the dashboard (divan): each page, fetched over HTTP from the dashboard `serve`
//! runs, over a SQLite report store holding 1 million received records (issue 15: every page
//! within 200 ms; the indexes make it so). Run: `cargo bench --bench dashboard`. Figures go
//! to docs/PERFORMANCE.md.
//!
//! The store (1,000 reports of 1,000 records, over the last 100 days; half of them about
//! `example.com`, the rest about three other domains; 20,000 source addresses with names) is
//! built once into `target/tmp/` (about a minute) and reused by later runs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use authmilter::config::Config;
use authmilter::dashboard::Dashboard;
use report_store::{Store, StoreLocation};
use reports::vocabulary::{
    ActionDisposition, AlignedResult, Disposition, DkimResult, SpfResult, SpfScope,
};
use reports::{
    AuthResults, DateRange, DkimAuthResult, Feedback, Identifiers, PolicyEvaluated,
    PolicyPublished, Record, ReportMetadata, Row, SpfAuthResult,
};

const DAY: u64 = 86_400;
/// Reports stored, each with [`PER_REPORT`] records.
const REPORTS: u64 = 1_000;
const PER_REPORT: u64 = 1_000;
/// Distinct source addresses.
const SOURCES: u64 = 20_000;
/// Reports per day (so the store spans `REPORTS / PER_DAY` days).
const PER_DAY: u64 = 10;
const REPORTERS: [&str; 5] = [
    "google.com",
    "Yahoo",
    "Mail.Ru",
    "Outlook.com",
    "Enterprise Outlook",
];

fn main() {
    divan::main();
}

fn source_ip(n: u64) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// Report `i`: its domain (every other one is `example.com`), day and records.
fn report(i: u64, today: u64) -> Feedback {
    let domain = if i.is_multiple_of(2) {
        "example.com".to_string()
    } else {
        format!("d{}.example", i % 3)
    };
    let day = today - (1 + i / PER_DAY) * DAY;
    let org = REPORTERS[(i % REPORTERS.len() as u64) as usize];
    let records = (0..PER_REPORT)
        .map(|j| {
            let n = (i * 7919 + j * 13) % SOURCES;
            // 1 in 10 sources fails everything, 1 in 10 passes by DKIM only
            let (spf, dkim, disposition) = match n % 10 {
                0 => (false, false, ActionDisposition::Reject),
                1 => (false, true, ActionDisposition::None),
                _ => (true, true, ActionDisposition::None),
            };
            Record {
                row: Row {
                    source_ip: source_ip(n).parse().expect("ip"),
                    count: 1 + n % 50,
                    policy_evaluated: PolicyEvaluated {
                        disposition,
                        dkim: AlignedResult::from_bool(dkim),
                        spf: AlignedResult::from_bool(spf),
                        reasons: Vec::new(),
                    },
                },
                identifiers: Identifiers {
                    header_from: domain.clone(),
                    envelope_from: Some(domain.clone()),
                    envelope_to: None,
                },
                auth_results: AuthResults {
                    dkim: vec![DkimAuthResult {
                        domain: domain.clone(),
                        selector: Some(format!("s{}", n % 4)),
                        result: if dkim {
                            DkimResult::Pass
                        } else {
                            DkimResult::Fail
                        },
                        human_result: None,
                    }],
                    spf: vec![SpfAuthResult {
                        domain: domain.clone(),
                        scope: Some(SpfScope::MailFrom),
                        result: if spf {
                            SpfResult::Pass
                        } else {
                            SpfResult::Fail
                        },
                        human_result: None,
                    }],
                },
            }
        })
        .collect();
    Feedback {
        version: Some("1.0".into()),
        metadata: ReportMetadata {
            org_name: org.into(),
            email: "noreply-dmarc@reporter.example".into(),
            extra_contact_info: None,
            report_id: format!("bench-{i}"),
            date_range: DateRange {
                begin: day,
                end: day + DAY - 1,
            },
            errors: Vec::new(),
            generator: None,
        },
        policy: PolicyPublished {
            domain,
            discovery_method: None,
            p: Disposition::Reject,
            sp: None,
            np: None,
            adkim: None,
            aspf: None,
            pct: None,
            fo: None,
            testing: None,
        },
        records,
    }
}

/// Opens the store of 1 million records, building it first when missing (or built on an
/// earlier day: the pages show periods ending today).
async fn store(today: u64) -> Store {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).expect("target/tmp");
    let path = dir.join(format!("dashboard-bench-{today}.db"));
    let location: StoreLocation = format!("sqlite:{}", path.display())
        .parse()
        .expect("location");
    let now = authmilter::reports::unix_now();
    let store = Store::open(&location, now).await.expect("open store");
    let (reports, records) = store.received_counts().await.expect("counts");
    if (reports, records) == (REPORTS, REPORTS * PER_REPORT) {
        return store;
    }
    eprintln!("building {} (1 million records)…", path.display());
    let started = std::time::Instant::now();
    for i in 0..REPORTS {
        store
            .insert_received_report(report(i, today).into(), Some("bench"), now)
            .await
            .expect("insert");
    }
    let names: Vec<(String, Option<String>)> = (0..SOURCES)
        .map(|n| {
            (
                source_ip(n),
                Some(format!("mta{n}.sender{}.example", n % 97)),
            )
        })
        .collect();
    for chunk in names.chunks(1000) {
        store.set_source_names(chunk, now).await.expect("names");
    }
    eprintln!("built in {:?}", started.elapsed());
    assert_eq!(
        store.received_counts().await.expect("counts"),
        (REPORTS, REPORTS * PER_REPORT)
    );
    store
}

/// The dashboard, serving the store from a runtime of its own.
fn dashboard() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let now = authmilter::reports::unix_now();
                let store = store(now - now % DAY).await;
                let config =
                    Config::parse("[dashboard]\nlisten = \"127.0.0.1:0\"\n").expect("config");
                let d = Dashboard::bind(&config)
                    .await
                    .expect("bind")
                    .expect("a dashboard");
                tx.send(d.local_addr()).expect("send");
                let (_dashboard_tx, dashboard_rx) = tokio::sync::watch::channel(Some(d));
                let (_store_tx, store_rx) = tokio::sync::watch::channel(Some(store));
                let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                authmilter::dashboard::serve(dashboard_rx, store_rx, stop_rx).await;
            });
        });
        rx.recv().expect("the dashboard's address")
    })
}

/// One GET; the page's size (panics unless 200).
fn get(addr: SocketAddr, path: &str) -> usize {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&raw[..raw.len().min(300)])
    );
    raw.len()
}

/// Each page over the store of 1 million records: the domain list, `example.com` (500,000 of
/// the records over 100 days: 35,000 in 7 days, 150,000 in 30) for 7, 30 and 365 days, and the
/// outbound view.
#[divan::bench(
    args = [
        "/?days=365",
        "/domain/example.com?days=7",
        "/domain/example.com?days=30",
        "/domain/example.com?days=365",
        "/outbound?days=30",
    ],
    sample_count = 20
)]
fn page(bencher: divan::Bencher, path: &str) {
    let addr = dashboard();
    // once before measuring, also to say how large the page is
    eprintln!("{path}: {} bytes", get(addr, path));
    bencher.bench(|| get(addr, path));
}
