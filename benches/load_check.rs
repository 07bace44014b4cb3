//! Load without loss: N messages at concurrency C through a real `authmilter serve` process,
//! each answer compared with the answer the same message gets when sent alone; the server's
//! log must hold no warning or error; RSS and open file descriptors are printed before and
//! after. Bounded in count and in time. Run by `tests/load.sh`:
//!
//! ```text
//! cargo bench --bench load_check -- [--count 100000] [--concurrency 64] [--seconds 900]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use testkit::{MtaClient, Profile};

struct Options {
    count: u64,
    concurrency: usize,
    seconds: u64,
    per_connection: u64,
}

fn options() -> Options {
    let mut o = Options {
        count: 100_000,
        concurrency: 64,
        seconds: 900,
        per_connection: 100,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).and_then(|s| s.parse::<u64>().ok());
        match (args[i].as_str(), v) {
            ("--count", Some(v)) => o.count = v,
            ("--concurrency", Some(v)) => o.concurrency = v.max(1) as usize,
            ("--seconds", Some(v)) => o.seconds = v,
            ("--per-connection", Some(v)) => o.per_connection = v.max(1),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// One message of the corpus with its envelope.
struct Item {
    name: &'static str,
    client_ip: &'static str,
    mail_from: &'static str,
    raw: Vec<u8>,
}

const ZONE: &str = "\
bank.example TXT \"v=spf1 ip4:192.0.2.99 -all\"
_dmarc.bank.example TXT \"v=DMARC1; p=reject\"
list.example TXT \"v=spf1 ip4:192.0.2.10 -all\"
_dmarc.list.example TXT \"v=DMARC1; p=quarantine\"
evil.example TXT \"v=spf1 ip4:198.51.100.7 -all\"
_dmarc.evil.example TXT \"v=DMARC1; p=none\"
_dmarc.flaky.example SERVFAIL
10.2.0.192.in-addr.arpa PTR mail.list.example
mail.list.example A 192.0.2.10
";

fn msg(headers: &[&str], body: &str) -> Vec<u8> {
    let mut m = String::new();
    for h in headers {
        m.push_str(h);
        m.push_str("\r\n");
    }
    m.push_str("Subject: load\r\nMessage-ID: <load@example>\r\n\r\n");
    m.push_str(body);
    m.into_bytes()
}

fn corpus() -> Vec<Item> {
    let big = "The quick brown fox jumps over the lazy dog.\r\n".repeat(5000);
    vec![
        Item {
            name: "pass",
            client_ip: "192.0.2.10",
            mail_from: "a@list.example",
            raw: msg(&["From: a@list.example"], "hello\r\n"),
        },
        Item {
            name: "spoof-reject",
            client_ip: "198.51.100.7",
            mail_from: "x@evil.example",
            raw: msg(&["From: ceo@bank.example"], "wire\r\n"),
        },
        Item {
            name: "quarantine",
            client_ip: "198.51.100.7",
            mail_from: "x@evil.example",
            raw: msg(&["From: a@list.example"], "q\r\n"),
        },
        Item {
            name: "no-from",
            client_ip: "198.51.100.7",
            mail_from: "x@evil.example",
            raw: msg(&["To: b@example.net"], "x\r\n"),
        },
        Item {
            name: "temperror",
            client_ip: "198.51.100.7",
            mail_from: "x@evil.example",
            raw: msg(&["From: a@flaky.example"], "t\r\n"),
        },
        Item {
            name: "forged-authres",
            client_ip: "198.51.100.7",
            mail_from: "x@evil.example",
            raw: msg(
                &[
                    "Authentication-Results: mx.load.test; dmarc=pass",
                    "From: x@evil.example",
                ],
                "f\r\n",
            ),
        },
        Item {
            name: "two-from",
            client_ip: "198.51.100.7",
            mail_from: "x@evil.example",
            raw: msg(
                &["From: x@evil.example", "From : ceo@bank.example"],
                "2\r\n",
            ),
        },
        Item {
            name: "control-char",
            client_ip: "198.51.100.7",
            mail_from: "x@evil.example",
            raw: msg(&["From: x@evil.example\x1b[2K"], "c\r\n"),
        },
        Item {
            name: "big-body",
            client_ip: "192.0.2.10",
            mail_from: "a@list.example",
            raw: msg(&["From: a@list.example"], &big),
        },
        Item {
            name: "null-sender",
            client_ip: "192.0.2.10",
            mail_from: "",
            raw: msg(&["From: a@list.example"], "bounce\r\n"),
        },
    ]
}

/// An answer in comparable form: the final reply and every modification, in order.
fn answer(out: &testkit::EomOutcome) -> String {
    format!("{:?} {:?}", out.final_response, out.modifications)
}

async fn send_one(mta: &mut MtaClient, item: &Item) -> Result<String, String> {
    mta.connect(
        "client.example",
        item.client_ip.parse().map_err(|e| format!("{e}"))?,
        40000,
        &[],
    )
    .await
    .map_err(|e| format!("connect: {e}"))?;
    mta.helo("client.example", &[])
        .await
        .map_err(|e| format!("helo: {e}"))?;
    let out = mta
        .send_transaction(
            &format!("<{}>", item.mail_from),
            &["<user@mx.load.test>"],
            &item.raw,
        )
        .await
        .map_err(|e| format!("transaction: {e}"))?;
    Ok(answer(&out))
}

async fn client(addr: std::net::SocketAddr) -> Result<MtaClient, String> {
    let mut m = MtaClient::connect_tcp(
        addr,
        Profile::postfix().with_timeout(Duration::from_secs(60)),
    )
    .await
    .map_err(|e| format!("connect: {e}"))?;
    m.negotiate().await.map_err(|e| format!("negotiate: {e}"))?;
    Ok(m)
}

fn proc_status(pid: u32) -> (u64, usize) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

struct Server {
    child: Child,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> (Server, std::net::SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let zone = dir.join("zone");
    std::fs::write(&zone, ZONE).expect("zone");
    let cfg = dir.join("milter.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
             [server]\nmax_connections = 256\n[authres]\nauthserv_id = \"mx.load.test\"\n\
             [dmarc]\nenforce = true\nquarantine = \"header\"\n[log]\nlevel = \"info\"\n"
        ),
    )
    .expect("config");
    let log = dir.join("serve.log");
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/authmilter");
    let child = Command::new(&bin)
        .args(["serve", "-c"])
        .arg(&cfg)
        .arg("--zone")
        .arg(&zone)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "start {} (build it with cargo build --release): {e}",
                bin.display()
            )
        });
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "authmilter did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Server { child, log }, addr)
}

fn main() {
    let o = options();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, addr) = start_server(dir.path());
    let pid = server.child.id();
    let items = Arc::new(corpus());
    // phase 1: each message alone, on its own connection
    let solo: Vec<String> = rt.block_on(async {
        let mut out = Vec::new();
        for item in items.iter() {
            let mut m = client(addr).await.expect("solo client");
            out.push(send_one(&mut m, item).await.expect("solo answer"));
        }
        out
    });
    let solo = Arc::new(solo);
    std::thread::sleep(Duration::from_millis(300));
    let before = proc_status(pid);
    // phase 2: under load
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(o.seconds);
    let results: Vec<BTreeMap<String, u64>> = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..o.concurrency {
            let (items, solo, next, done) = (
                Arc::clone(&items),
                Arc::clone(&solo),
                Arc::clone(&next),
                Arc::clone(&done),
            );
            let (count, per) = (o.count, o.per_connection);
            tasks.push(tokio::spawn(async move {
                let mut tally: BTreeMap<String, u64> = BTreeMap::new();
                let mut conn: Option<MtaClient> = None;
                let mut used = 0u64;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count || Instant::now() > deadline {
                        break;
                    }
                    let i = (n % items.len() as u64) as usize;
                    if conn.is_none() || used >= per {
                        conn = client(addr).await.ok();
                        used = 0;
                    }
                    let Some(m) = conn.as_mut() else {
                        *tally.entry("error: connect".into()).or_default() += 1;
                        continue;
                    };
                    used += 1;
                    match send_one(m, &items[i]).await {
                        Ok(a) if a == solo[i] => *tally.entry("same".into()).or_default() += 1,
                        Ok(a) => {
                            let key = format!("DIFFERENT {}: {a}", items[i].name);
                            *tally.entry(key).or_default() += 1;
                        }
                        Err(e) => {
                            *tally.entry(format!("error: {e}")).or_default() += 1;
                            conn = None;
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                tally
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    });
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let after = proc_status(pid);
    let mut total: BTreeMap<String, u64> = BTreeMap::new();
    for r in results {
        for (k, v) in r {
            *total.entry(k).or_default() += v;
        }
    }
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    let bad_log: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        // the one expected notice: DNS comes from the zone file of this check
        .filter(|l| !l.contains("DNS answers come from a zone file"))
        .collect();
    let sent = done.load(Ordering::Relaxed);
    println!(
        "load_check: {sent} messages at concurrency {} in {:.1} s ({:.0} msg/s)",
        o.concurrency,
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64().max(0.001)
    );
    for (k, v) in &total {
        println!("  {v:>8}  {k}");
    }
    println!(
        "server RSS {} KiB -> {} KiB, open fds {} -> {}",
        before.0, after.0, before.1, after.1
    );
    println!("server log: {} warning/error lines", bad_log.len());
    for l in bad_log.iter().take(10) {
        println!("  {l}");
    }
    let same = total.get("same").copied().unwrap_or(0);
    let ok = same == o.count && bad_log.is_empty() && after.1 <= before.1 + 2;
    drop(server);
    if !ok {
        println!("load_check: FAILED");
        std::process::exit(1);
    }
    println!("load_check: every answer equal to the message's answer alone, log clean");
}
