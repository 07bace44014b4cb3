//! Load generator: drives a milter with the fake-MTA client (Postfix profile) at a given
//! concurrency and reports messages per second and latency percentiles.
//!
//! ```text
//! cargo bench --bench loadgen -- [--concurrency 8] [--messages 20000] [--seconds 60]
//!                                [--body-bytes 2000] [--per-connection 10]
//!                                [--target 127.0.0.1:8891] [--checks none|all]
//!                                [--sign none|rsa|ed25519]
//! ```
//!
//! Without `--target` it starts authmilter in-process on loopback with an in-memory resolver
//! (`--checks none`: the accept-only pipeline that adds `Authentication-Results: id; none`;
//! `--checks all`: SPF, DKIM verify of a signed message, DMARC and iprev against in-memory DNS;
//! `--sign`: a `sign` listener with one key). With `--target` it drives any milter (another
//! authmilter, OpenDKIM, ...) for side-by-side numbers. The run stops after `--messages`
//! messages or `--seconds`, whichever comes first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use testkit::{MtaClient, Profile};

struct Options {
    concurrency: usize,
    messages: u64,
    seconds: u64,
    body_bytes: usize,
    per_connection: u64,
    target: Option<String>,
    checks: String,
    sign: String,
}

fn parse_args() -> Options {
    let mut o = Options {
        concurrency: 8,
        messages: 20_000,
        seconds: 60,
        body_bytes: 2000,
        per_connection: 10,
        target: None,
        checks: "none".into(),
        sign: "none".into(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--concurrency" => o.concurrency = value.parse().unwrap_or(8),
            "--messages" => o.messages = value.parse().unwrap_or(20_000),
            "--seconds" => o.seconds = value.parse().unwrap_or(60),
            "--body-bytes" => o.body_bytes = value.parse().unwrap_or(2000),
            "--per-connection" => o.per_connection = value.parse().unwrap_or(10).max(1),
            "--target" => o.target = Some(value),
            "--checks" => o.checks = value,
            "--sign" => o.sign = value,
            // cargo bench passes --bench; ignore anything else
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

struct Setup {
    addr: String,
    message: Vec<u8>,
    client_ip: &'static str,
    auth: bool,
    _keep: Option<(tokio::sync::oneshot::Sender<()>, tempfile::TempDir)>,
}

fn body(n: usize) -> String {
    let line = "The quick brown fox jumps over the lazy dog 0123456789.\r\n";
    line.repeat(n / line.len() + 1).chars().take(n).collect()
}

async fn setup(o: &Options) -> Setup {
    let headers = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: load\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <load@example.org>\r\n\r\n";
    let plain = format!("{headers}{}", body(o.body_bytes)).into_bytes();
    if let Some(t) = &o.target {
        return Setup {
            addr: t.clone(),
            message: plain,
            client_ip: "192.0.2.10",
            auth: o.sign != "none",
            _keep: None,
        };
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut zone = String::from(
        "example.org TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n_dmarc.example.org TXT \"v=DMARC1; p=reject\"\n\
         10.2.0.192.in-addr.arpa PTR mail.example.org\nmail.example.org A 192.0.2.10\n",
    );
    let mut toml =
        String::from("[authres]\nauthserv_id = \"mx.load.test\"\n[log]\nlevel = \"warn\"\n");
    let mut message = plain.clone();
    let role;
    if o.sign != "none" {
        let alg = if o.sign == "rsa" {
            dkim::KeyAlgorithm::Rsa { bits: 2048 }
        } else {
            dkim::KeyAlgorithm::Ed25519
        };
        let k = dkim::generate_key(alg).expect("key");
        let path = dir.path().join("k.pem");
        std::fs::write(&path, &k.private_key_pem).expect("key file");
        // private keys readable by others are refused at start
        std::fs::set_permissions(
            &path,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
        )
        .expect("chmod key file");
        toml.push_str(&format!(
            "[[dkim.key]]\ndomain = \"example.org\"\nselector = \"s\"\npath = \"{}\"\n",
            path.display()
        ));
        role = "sign";
    } else {
        role = "verify";
        if o.checks == "none" {
            toml.push_str("[spf]\nenabled = false\n[dkim]\nverify = false\n[dmarc]\nenabled = false\n[iprev]\nenabled = false\n");
        } else {
            let k = dkim::generate_key(dkim::KeyAlgorithm::Rsa { bits: 2048 }).expect("key");
            zone.push_str(&format!(
                "s._domainkey.example.org TXT \"{}\"\n",
                k.record.text()
            ));
            let signer = dkim::Signer::from_pem(
                k.private_key_pem.as_bytes(),
                dkim::SignerConfig::new("example.org", "s"),
            )
            .expect("signer");
            let sig = dkim::sign_message(&signer, &plain, dkim::unix_now()).expect("sign");
            message = sig.to_field().into_bytes();
            message.extend_from_slice(&plain);
        }
    }
    toml.push_str(&format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"{role}\"\n"
    ));
    let config = authmilter::config::Config::parse(&toml).expect("config");
    let dns = Arc::new(dns::memory::MemoryResolver::from_zone(&zone).expect("zone"));
    let app = Arc::new(authmilter::app::App::new(config, dns).expect("app"));
    let server = authmilter::server::Server::bind(app).await.expect("bind");
    let addr = match server.local_addrs().first() {
        Some(authmilter::config::SocketSpec::Inet { host, port }) => format!("{host}:{port}"),
        _ => panic!("no listener"),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Setup {
        addr,
        message,
        client_ip: "192.0.2.10",
        auth: false,
        _keep: Some((tx, dir)),
    }
}

fn main() {
    let o = parse_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let s = Arc::new(setup(&o).await);
        let started = Instant::now();
        let deadline = started + Duration::from_secs(o.seconds);
        let issued = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..o.concurrency {
            let (s, issued) = (Arc::clone(&s), Arc::clone(&issued));
            let (limit, per_conn) = (o.messages, o.per_connection);
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                'outer: loop {
                    let Ok(mut mta) = MtaClient::connect_tcp(s.addr.as_str(), Profile::postfix()).await
                    else {
                        errors += 1;
                        break;
                    };
                    if mta.negotiate().await.is_err()
                        || mta
                            .connect("mail.example.org", s.client_ip.parse().expect("ip"), 4000, &[])
                            .await
                            .is_err()
                        || mta.helo("mail.example.org", &[]).await.is_err()
                    {
                        errors += 1;
                        break;
                    }
                    for _ in 0..per_conn {
                        if issued.fetch_add(1, Ordering::Relaxed) >= limit || Instant::now() > deadline {
                            let _ = mta.quit().await;
                            break 'outer;
                        }
                        let t = Instant::now();
                        let macros: &[(&str, &str)] = if s.auth { &[("{auth_authen}", "alice")] } else { &[] };
                        let ok = async {
                            mta.mail("<alice@example.org>", &[], macros).await?;
                            mta.rcpt("<bob@example.net>", &[], &[]).await?;
                            mta.send_message(&s.message).await
                        }
                        .await;
                        match ok {
                            Ok(out) if out.is_accept() => latencies.push(t.elapsed()),
                            _ => errors += 1,
                        }
                    }
                    let _ = mta.quit().await;
                }
                (latencies, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            if let Ok((l, e)) = t.await {
                all.extend(l);
                errors += e;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort();
        let pct = |p: f64| -> f64 {
            if all.is_empty() {
                return 0.0;
            }
            let i = ((all.len() as f64 - 1.0) * p).round() as usize;
            all[i.min(all.len() - 1)].as_secs_f64() * 1000.0
        };
        println!(
            "target={} checks={} sign={} concurrency={} body_bytes={} per_connection={}",
            o.target.as_deref().unwrap_or("in-process"),
            o.checks,
            o.sign,
            o.concurrency,
            o.body_bytes,
            o.per_connection
        );
        println!(
            "messages={} errors={} seconds={:.2} rate={:.0} msg/s latency_ms p50={:.2} p90={:.2} p99={:.2} max={:.2}",
            all.len(),
            errors,
            elapsed,
            all.len() as f64 / elapsed,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0)
        );
    });
}
