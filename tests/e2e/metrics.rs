//! Metrics as an operator sees them: `authmilter serve` with `[metrics] listen`, real DNS
//! through the production resolver (a loopback nameserver with known answers), a known set of
//! messages sent with the fake MTA, and `GET /metrics` scraped: every counter equals what was
//! sent. Also: the endpoint serves nothing but /metrics and bounds what it reads.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use test_support::dns_server::{Answer, Zone};
use testkit::{EomOutcome, MtaClient, Profile};

use test_support::free_port;

use crate::support::{ServeProcess, message, run_cli, transaction};

/// One HTTP/1.1 exchange with the metrics endpoint: (status, headers, body).
fn http(port: u16, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to metrics");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("send request");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// `GET /metrics` → every sample: `name{labels}` → value.
pub(crate) fn scrape(port: u16) -> BTreeMap<String, f64> {
    let (status, head, body) = http(
        port,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("sample line");
            (series.to_string(), value.parse().expect("number"))
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
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

async fn send(port: u16, ip: &str, helo: &str, from: &str, raw: &[u8]) -> EomOutcome {
    let mut m = mta(port).await;
    let out = transaction(&mut m, ip, helo, from, "rcpt@example.net", raw).await;
    m.quit().await.expect("quit");
    out
}

fn wait_for(p: &ServeProcess, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.log_text().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{}",
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Scrapes until `series` reads `want` (connections close asynchronously), at most 10 s.
fn scrape_until(port: u16, series: &str, want: f64) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(port);
        if s.get(series) == Some(&want) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_counter_equals_what_was_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = crate::support::genkey(dir.path(), "ours.example", "m1", "ed25519");
    let key_value = generated.value();
    let key_path = generated.path;
    // what the nameserver answers: a passing domain, a p=reject domain that does not send
    // from 192.0.2.20, a domain whose SPF record fails (SERVFAIL) and whose DMARC lookup
    // times out, our key
    let ip10 = "192.0.2.10".parse().expect("ip");
    let nameserver = Zone::new()
        .txt("pass.example", "v=spf1 ip4:192.0.2.10 -all")
        .txt("_dmarc.pass.example", "v=DMARC1; p=reject")
        .a("mail.pass.example", ip10)
        .ptr(ip10, "mail.pass.example")
        .txt("strict.example", "v=spf1 -all")
        .txt("_dmarc.strict.example", "v=DMARC1; p=reject")
        .fail("flaky.example", Answer::ServFail)
        .fail("_dmarc.flaky.example", Answer::Silent)
        .txt("m1._domainkey.ours.example", &key_value)
        .serve()
        .expect("nameserver");
    let (verify, sign, metrics) = (free_port(), free_port(), free_port());
    let config = format!(
        "[server]\nmax_connections = 3\n\
         [[server.listen]]\nsocket = \"inet:127.0.0.1:{verify}\"\nrole = \"verify\"\n\
         [[server.listen]]\nsocket = \"inet:127.0.0.1:{sign}\"\nrole = \"sign\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n\
         [dns]\nnameservers = [\"{ns}\"]\ntimeout = \"2s\"\nattempts = 1\n\
         [dmarc]\nenforce = true\n\
         [dkim]\nstate_file = \"\"\n\
         [[dkim.key]]\nname = \"ours-m1\"\ndomain = \"ours.example\"\nselector = \"m1\"\npath = \"{key}\"\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics}\"\n",
        ns = nameserver.addr(),
        key = key_path.display(),
    );
    let server = ServeProcess::start(&config, verify, &[]);
    wait_for(&server, "DKIM key is published in DNS");

    // 2 accepted (SPF and DMARC pass, iprev pass; the second is answered from the cache)
    let good = message(&[
        "From: a@pass.example",
        "To: rcpt@example.net",
        "Subject: hello",
        "",
        "body",
    ]);
    for _ in 0..2 {
        let o = send(
            verify,
            "192.0.2.10",
            "mail.pass.example",
            "a@pass.example",
            &good,
        )
        .await;
        assert!(o.is_accept(), "{o:?}");
    }
    // 1 rejected (SPF fail, DMARC p=reject)
    let spoof = message(&["From: ceo@strict.example", "Subject: pay", "", "now"]);
    let o = send(
        verify,
        "192.0.2.20",
        "spoof.example",
        "ceo@strict.example",
        &spoof,
    )
    .await;
    assert!(o.is_reject(), "{o:?}");
    // 1 tempfailed (SPF temperror: SERVFAIL; DMARC temperror: timeout)
    let flaky = message(&["From: x@flaky.example", "Subject: hi", "", "x"]);
    let o = send(
        verify,
        "192.0.2.10",
        "mail.pass.example",
        "x@flaky.example",
        &flaky,
    )
    .await;
    assert!(o.is_tempfail(), "{o:?}");
    // 1 signed on the sign listener, then delivered to the verify listener (dkim=pass)
    let ours = message(&[
        "From: me@ours.example",
        "To: rcpt@example.net",
        "Subject: s",
        "",
        "hi",
    ]);
    let o = send(
        sign,
        "192.0.2.10",
        "mail.pass.example",
        "me@ours.example",
        &ours,
    )
    .await;
    assert!(o.is_accept(), "{o:?}");
    let sig = o.added_header("DKIM-Signature").expect("signed");
    let mut signed = b"DKIM-Signature:".to_vec();
    for b in sig.iter() {
        if *b == b'\n' {
            signed.push(b'\r');
        }
        signed.push(*b);
    }
    signed.extend_from_slice(b"\r\n");
    signed.extend_from_slice(&ours);
    let o = send(
        verify,
        "192.0.2.10",
        "mail.pass.example",
        "me@ours.example",
        &signed,
    )
    .await;
    assert!(o.is_accept(), "{o:?}");
    assert!(
        String::from_utf8_lossy(o.added_header("Authentication-Results").expect("A-R"))
            .contains("dkim=pass"),
        "{o:?}"
    );

    let s = scrape_until(metrics, "authmilter_connections_open", 0.0);
    let mut nonzero: BTreeMap<&str, f64> = s
        .iter()
        .filter(|(k, v)| **v != 0.0 && !k.contains("duration_seconds"))
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let version = format!(
        "authmilter_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(nonzero.remove(version.as_str()), Some(1.0));
    let expected = BTreeMap::from([
        (
            "authmilter_messages_total{role=\"verify\",action=\"accept\"}",
            3.0,
        ),
        (
            "authmilter_messages_total{role=\"verify\",action=\"reject\"}",
            1.0,
        ),
        (
            "authmilter_messages_total{role=\"verify\",action=\"tempfail\"}",
            1.0,
        ),
        (
            "authmilter_messages_total{role=\"sign\",action=\"accept\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"spf\",result=\"pass\"}",
            2.0,
        ),
        (
            "authmilter_results_total{method=\"spf\",result=\"fail\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"spf\",result=\"temperror\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"spf\",result=\"none\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"dkim\",result=\"none\"}",
            4.0,
        ),
        (
            "authmilter_results_total{method=\"dkim\",result=\"pass\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"dmarc\",result=\"pass\"}",
            2.0,
        ),
        (
            "authmilter_results_total{method=\"dmarc\",result=\"fail\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"dmarc\",result=\"temperror\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"dmarc\",result=\"none\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"iprev\",result=\"pass\"}",
            4.0,
        ),
        (
            "authmilter_results_total{method=\"iprev\",result=\"permerror\"}",
            1.0,
        ),
        (
            "authmilter_results_total{method=\"arc\",result=\"none\"}",
            5.0,
        ),
        ("authmilter_dkim_signatures_total{key=\"ours-m1\"}", 1.0),
        ("authmilter_dkim_key_published{key=\"ours-m1\"}", 1.0),
        // DNS lookups, message by message (q: sent to the nameserver, h: from the cache):
        // - the key check at start: m1._domainkey.ours.example TXT (q)
        // - pass #1: PTR 192.0.2.10, A mail.pass.example (iprev), TXT pass.example (SPF),
        //   TXT mail.pass.example (HELO SPF, NODATA), TXT _dmarc.pass.example: 5 q
        // - pass #2: the same 5 h
        // - spoof: PTR 192.0.2.20 (NXDOMAIN: no forward lookup), TXT strict.example,
        //   TXT spoof.example (HELO), TXT _dmarc.strict.example: 4 q
        // - flaky: PTR, A, HELO TXT: 3 h; TXT flaky.example (SERVFAIL), TXT
        //   _dmarc.flaky.example (timeout): 2 q
        // - signed, on the sign listener: no lookups
        // - signed, verified: PTR, A, HELO TXT, m1._domainkey (the DKIM key): 4 h;
        //   TXT ours.example (NODATA), _dmarc.ours.example, _dmarc.example (tree walk): 3 q
        ("authmilter_dns_queries_total", 15.0),
        ("authmilter_dns_cache_hits_total", 12.0),
        ("authmilter_dns_timeouts_total", 1.0),
        ("authmilter_dns_servfails_total", 1.0),
    ]);
    assert_eq!(nonzero, expected, "{s:#?}");
    // the nameserver saw every answered question once: the rest came from the cache
    let asked = nameserver.questions();
    let answered = asked
        .iter()
        .filter(|(_, name)| !name.contains("flaky"))
        .count();
    assert_eq!(answered, 13, "{asked:?}");
    // each of the 6 messages observed once in each histogram
    assert_eq!(value(&s, "authmilter_message_duration_seconds_count"), 6.0);
    assert_eq!(value(&s, "authmilter_eom_duration_seconds_count"), 6.0);
    assert_eq!(
        value(&s, "authmilter_eom_duration_seconds_bucket{le=\"+Inf\"}"),
        6.0
    );

    // connections: 3 open at once is the limit; a fourth is refused
    let held = [mta(verify).await, mta(verify).await, mta(sign).await];
    let s = scrape_until(metrics, "authmilter_connections_open", 3.0);
    assert_eq!(value(&s, "authmilter_connections_open"), 3.0);
    let mut extra = MtaClient::connect_tcp(
        ("127.0.0.1", verify),
        Profile::postfix().with_timeout(Duration::from_secs(5)),
    )
    .await
    .expect("the kernel accepts");
    assert!(extra.negotiate().await.is_err(), "closed at once");
    let s = scrape_until(metrics, "authmilter_connections_refused_total", 1.0);
    assert_eq!(value(&s, "authmilter_connections_refused_total"), 1.0);
    assert_eq!(value(&s, "authmilter_connections_open"), 3.0);
    drop(held);
    let s = scrape_until(metrics, "authmilter_connections_open", 0.0);
    assert_eq!(value(&s, "authmilter_connections_open"), 0.0);
}

#[test]
fn the_endpoint_serves_only_metrics_and_bounds_requests() {
    let (milter, metrics) = (free_port(), free_port());
    let config = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{milter}\"\n\
         [authres]\nauthserv_id = \"mx.test.example\"\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics}\"\n"
    );
    let zone = tempfile::NamedTempFile::new().expect("zone");
    let server = ServeProcess::start(
        &config,
        milter,
        &["--zone", zone.path().to_str().expect("utf-8")],
    );
    wait_for(&server, "metrics: GET http://127.0.0.1");
    assert!(scrape(metrics).contains_key("authmilter_connections_open"));
    // OpenMetrics when asked for
    let (status, head, body) = http(
        metrics,
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    // on loopback, a request for another host (DNS rebinding through a local browser) is
    // refused; no Host at all (not a browser) and loopback names are answered
    let (status, _, _) = http(
        metrics,
        b"GET /metrics HTTP/1.1\r\nHost: rebind.attacker.example\r\n\r\n",
    );
    assert_eq!(status, 403);
    let (status, _, _) = http(metrics, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(status, 200);
    let (status, _, _) = http(metrics, b"GET /metrics HTTP/1.1\r\nHost: [::1]:9\r\n\r\n");
    assert_eq!(status, 200);
    // nothing else
    let (status, _, _) = http(metrics, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_eq!(status, 404);
    let (status, _, _) = http(
        metrics,
        b"GET /metrics/../etc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert_eq!(status, 404);
    let (status, head, _) = http(
        metrics,
        b"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nxx",
    );
    assert_eq!(status, 405, "{head}");
    // a request head over 8 KiB is refused, not buffered
    let mut big = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let (status, _, _) = http(metrics, &big);
    assert!(status == 431 || status == 0, "{status}");
    // a client that sends nothing is dropped within the scrape timeout
    let mut idle = TcpStream::connect(("127.0.0.1", metrics)).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let _ = idle.read(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // and the endpoint still answers
    assert!(
        scrape(metrics).contains_key("authmilter_messages_total{role=\"auto\",action=\"accept\"}")
    );
    // another local user's idle connections (on loopback every process is one address) do
    // not keep the scraper out: it takes over the oldest slot whose request has not arrived
    let held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut c = TcpStream::connect(("127.0.0.1", metrics)).expect("connect");
            let _ = c.write_all(b"G");
            c
        })
        .collect();
    for _ in 0..3 {
        assert!(scrape(metrics).contains_key("authmilter_connections_open"));
    }
    drop(held);
    drop(server);
}

#[test]
fn a_remote_metrics_address_needs_allow_remote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("milter.toml");
    std::fs::write(&cfg, "[metrics]\nlisten = \"0.0.0.0:9851\"\n").expect("config");
    let (code, _, err) = run_cli(
        &["config", "check", "-c", cfg.to_str().expect("utf-8")],
        None,
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("metrics.listen") && err.contains("allow_remote"),
        "{err}"
    );
}
