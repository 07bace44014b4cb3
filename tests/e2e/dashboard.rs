//! The dashboard as an operator uses it: `authmilter serve` with `[dashboard] listen` over a
//! store seeded the way a user fills it (`report import` with source names from DNS, and
//! messages the milter recorded), read over HTTP: the domain list, a domain's page (sources
//! failing first with names, reporters and rates; the chart; DKIM selectors), the outbound
//! view, the period links; and access: off loopback every request needs the token (401
//! without it). The real-browser test is in `dashboard_browser.rs`.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use reports::vocabulary::{ActionDisposition, DkimResult, SpfResult};
use test_support::free_port;
use testkit::{MtaClient, Profile};

use crate::reports_in::{Src, days_ago, report, xml};
use crate::support::{ServeProcess, message, run_cli};

/// DNS of the seeded store: the sources' PTR names (each maps back to its address, except
/// the spoofer's, which claims a name it does not own), and `sender.example` (SPF and a DMARC
/// record asking for reports) for the messages the milter records.
const ZONE: &str = "\
1.2.0.192.in-addr.arpa          PTR  mail.example.com
mail.example.com                A    192.0.2.1
5.113.0.203.in-addr.arpa        PTR  fwd.lists.example
fwd.lists.example               A    203.0.113.5
9.100.51.198.in-addr.arpa       PTR  out.esp.example
out.esp.example                 A    198.51.100.9
66.100.51.198.in-addr.arpa      PTR  mail-sor-f41.google.com
sender.example                  TXT  \"v=spf1 ip4:192.0.2.10 -all\"
_dmarc.sender.example           TXT  \"v=DMARC1; p=none; rua=mailto:dmarc@sender.example\"
";

/// The sources of `example.com` in the seeded reports, per reporter and day.
fn sources() -> Vec<Src> {
    vec![
        // our own server: passes everything
        Src::good("192.0.2.1", 100, "example.com"),
        // a mailing list: SPF fails, the DKIM signature survives (DMARC pass by DKIM)
        Src {
            ip: "203.0.113.5",
            count: 20,
            spf_aligned: false,
            dkim_aligned: true,
            spf: SpfResult::Fail,
            dkim: Some(("example.com", "s1", DkimResult::Pass)),
            disposition: ActionDisposition::None,
        },
        // a mail provider nobody set up: SPF passes for its own domain, signs as itself
        Src {
            ip: "198.51.100.9",
            count: 10,
            spf_aligned: false,
            dkim_aligned: false,
            spf: SpfResult::Pass,
            dkim: Some(("esp.example", "k2", DkimResult::Pass)),
            disposition: ActionDisposition::Quarantine,
        },
        // a spoofer, no PTR
        Src::spoofer("198.51.100.66", 4),
    ]
}

/// Days of seeded reports (the last `DAYS` days before today).
pub(crate) const DAYS: u64 = 10;
/// The seeded messages of `example.com`: two reporters, [`DAYS`] days.
pub(crate) const MESSAGES: u64 = 2 * DAYS * (100 + 20 + 10 + 4);

/// A running `serve` with the dashboard over a seeded store.
pub(crate) struct Seeded {
    pub dir: tempfile::TempDir,
    pub serve: ServeProcess,
    /// The dashboard's address.
    pub addr: SocketAddr,
}

impl Seeded {
    /// Imports the reports, starts `serve` with `[dashboard] listen` on loopback (and
    /// `extra` configuration), records three messages from `sender.example`.
    pub fn start() -> Seeded {
        let dir = tempfile::tempdir().expect("tempdir");
        let zone = dir.path().join("zone");
        std::fs::write(&zone, ZONE).expect("zone");
        let store = dir.path().join("reports.db");
        let reports = dir.path().join("reports");
        std::fs::create_dir(&reports).expect("dir");
        for n in 1..=DAYS {
            let day = days_ago(n);
            for org in ["google.com", "Yahoo"] {
                let fb = report(org, &format!("{org}-{n}"), "example.com", day, &sources());
                std::fs::write(reports.join(format!("{org}-{n}.xml")), xml(&fb)).expect("write");
            }
            let other = report(
                "google.com",
                &format!("other-{n}"),
                "other.example",
                day,
                &[Src::good("192.0.2.77", 3, "other.example")],
            );
            std::fs::write(reports.join(format!("other-{n}.xml")), xml(&other)).expect("write");
        }
        let import_cfg = dir.path().join("import.toml");
        std::fs::write(
            &import_cfg,
            format!("[reports]\nstore = \"sqlite:{}\"\n", store.display()),
        )
        .expect("config");
        let (code, out, err) = run_cli(
            &[
                "report",
                "import",
                "-c",
                import_cfg.to_str().expect("path"),
                "--zone",
                zone.to_str().expect("path"),
                reports.to_str().expect("path"),
            ],
            None,
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("30 report(s) stored, 0 already stored, 0 unreadable"),
            "{out}"
        );

        let (milter, http) = (free_port(), free_port());
        let toml = format!(
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:{milter}\"\nrole = \"verify\"\n\
             [authres]\nauthserv_id = \"mx.rx.example\"\n\
             [reports]\nenabled = true\nsend = false\nstore = \"sqlite:{}\"\n\
             org_name = \"rx.example\"\nemail = \"dmarc-reports@rx.example\"\n\
             [dashboard]\nlisten = \"127.0.0.1:{http}\"\n",
            store.display()
        );
        let serve = ServeProcess::start(&toml, milter, &["--zone", zone.to_str().expect("path")]);
        let seeded = Seeded {
            dir,
            serve,
            addr: SocketAddr::from(([127, 0, 0, 1], http)),
        };
        test_support::block_on(seeded.record(milter, 3));
        // the recorder flushes within a second or so
        let shown = test_support::process::poll(Duration::from_secs(20), || {
            let (status, _, body) = get(seeded.addr, "/outbound?days=7", None);
            (status == 200 && body.contains("sender.example")).then_some(())
        });
        assert!(shown.is_some(), "{}", seeded.serve.log_tail(30));
        seeded
    }

    /// Sends `n` messages from `sender.example` (SPF pass, so DMARC pass) through the milter.
    async fn record(&self, port: u16, n: usize) {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        for i in 0..n {
            let mut mta = MtaClient::connect_tcp(
                addr,
                Profile::postfix().with_timeout(Duration::from_secs(30)),
            )
            .await
            .expect("connect");
            mta.negotiate().await.expect("negotiate");
            let ip = "192.0.2.10".parse().expect("ip");
            mta.connect("mail.sender.example", ip, 40000, &[])
                .await
                .expect("connect");
            mta.helo("mail.sender.example", &[]).await.expect("helo");
            mta.mail("<news@sender.example>", &[], &[])
                .await
                .expect("mail");
            mta.rcpt("<bob@rx.example>", &[], &[]).await.expect("rcpt");
            let raw = message(&[
                "From: News <news@sender.example>",
                "To: bob@rx.example",
                &format!("Subject: news {i}"),
                &format!("Message-ID: <news-{i}@sender.example>"),
                "",
                "Hello.",
            ]);
            let out = mta.send_message(&raw).await.expect("message");
            assert_eq!(out.action(), "accept", "{out:?}");
            let _ = mta.quit().await;
        }
    }

    /// Where a test may keep files (screenshots).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// One HTTP/1.1 GET from the default source address: (status, head, body).
pub(crate) fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String, String) {
    let s = TcpStream::connect(addr).expect("connect to the dashboard");
    exchange(s, addr, path, auth)
}

fn exchange(
    mut s: TcpStream,
    addr: SocketAddr,
    path: &str,
    auth: Option<&str>,
) -> (u16, String, String) {
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).expect("send");
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

/// The cells of the table row whose first cell contains `first` (tags stripped).
pub(crate) fn row(html: &str, first: &str) -> Vec<String> {
    let tr = html
        .split("<tr")
        .find(|r| {
            r.split("</td>")
                .next()
                .is_some_and(|c| c.contains(first) && c.contains("<td"))
        })
        .unwrap_or_else(|| panic!("no row for {first} in {html}"));
    let tr = tr.split("</tr>").next().unwrap_or_default();
    tr.split("<td")
        .skip(1)
        .map(|c| {
            let inner = c.split_once('>').map_or("", |(_, r)| r);
            let mut text = String::new();
            let mut in_tag = false;
            for ch in inner.split("</td>").next().unwrap_or_default().chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            // a browser's DOM writes the no-break space as &nbsp;
            text.replace('\u{a0}', " ")
                .replace("&nbsp;", " ")
                .replace('\u{202f}', " ")
        })
        .collect()
}

/// The IP addresses of the sources table, in order.
pub(crate) fn source_order(html: &str) -> Vec<String> {
    let table = html
        .split("id=\"sources\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the sources table");
    table
        .split("<code>")
        .skip(1)
        .filter_map(|c| c.split("</code>").next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_pages_show_the_seeded_store() {
    let s = Seeded::start();
    let (status, head, home) = get(s.addr, "/", None);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(!home.contains("<script"), "no script");
    assert_eq!(
        row(&home, "example.com"),
        [
            "example.com",
            &thousands(MESSAGES),
            "89.6 %",
            "20",
            "2",
            &crate::reports_in::ymd(days_ago(1)),
            // imported reports: none left out as unverified
            ""
        ]
    );
    assert_eq!(row(&home, "other.example")[1], "30");

    let (status, _, page) = get(s.addr, "/domain/example.com", None);
    assert_eq!(status, 200);
    // failing first: the spoofer and the provider (by failing messages), then the passing
    assert_eq!(
        source_order(&page),
        ["198.51.100.9", "198.51.100.66", "192.0.2.1", "203.0.113.5"]
    );
    assert_eq!(
        row(&page, "198.51.100.9"),
        [
            "198.51.100.9",
            "out.esp.example",
            "Yahoo (imported), google.com (imported)",
            "200",
            "200",
            "0.0 %",
            "0.0 %",
            "0.0 %",
            "100.0 %",
            "100.0 %"
        ]
    );
    assert_eq!(
        row(&page, "203.0.113.5"),
        [
            "203.0.113.5",
            "fwd.lists.example",
            "Yahoo (imported), google.com (imported)",
            "400",
            "0",
            "100.0 %",
            "0.0 %",
            "100.0 %",
            "0.0 %",
            "100.0 %"
        ]
    );
    assert_eq!(
        row(&page, "198.51.100.66")[1],
        "–",
        "a PTR name that does not map back to the address is not shown"
    );
    assert_eq!(row(&page, "192.0.2.1")[1], "mail.example.com");
    // the chart: one bar segment per day and result (pass, quarantined, rejected)
    let svg = page
        .split("<svg")
        .nth(1)
        .and_then(|t| t.split("</svg>").next())
        .expect("an inline SVG chart");
    assert_eq!(
        svg.matches("class=\"bar\"").count(),
        3 * DAYS as usize,
        "{svg}"
    );
    assert!(svg.contains(&format!(
        "{}: 240 DMARC pass",
        crate::reports_in::ymd(days_ago(1))
    )));
    // DKIM selectors and reporters
    assert_eq!(row(&page, "esp.example")[1..], ["k2", "200", "100.0 %"]);
    // imported by the operator: who sent them is said, not taken from the reports
    assert_eq!(
        row(&page, "Yahoo")[1..],
        [
            "(imported by the operator (report import))",
            "10",
            &thousands(MESSAGES / 2)
        ]
    );

    // a shorter period: 3 days
    let (_, _, short) = get(s.addr, "/domain/example.com?days=3", None);
    assert_eq!(
        row(&short, "192.0.2.1")[3],
        "400",
        "today and the 2 days before"
    );
    let (_, _, past) = get(
        s.addr,
        &format!(
            "/domain/example.com?days=7&until={}",
            crate::reports_in::ymd(days_ago(DAYS + 3))
        ),
        None,
    );
    assert!(past.contains("no reports in this period"), "{past}");

    // outbound: the three messages recorded
    let (_, _, out) = get(s.addr, "/outbound", None);
    assert_eq!(row(&out, "sender.example")[1..3], ["3", "100.0 %"]);

    // what is not a page
    for (path, want) in [
        ("/domain/..%2f..%2fetc", 404),
        ("/nothing", 404),
        ("/?days=abc", 400),
        ("/?days=100000", 400),
    ] {
        assert_eq!(get(s.addr, path, None).0, want, "{path}");
    }
}

/// A non-loopback address of this machine (the source of the default route), if any.
fn non_loopback_address() -> Option<IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn off_loopback_every_request_needs_the_token() {
    let Some(ip) = non_loopback_address() else {
        println!("skipped: this machine has no address but loopback");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token-0123456789\n").expect("token");
    let (milter, http) = (free_port(), free_port());
    let base = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{milter}\"\n\
         [authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nstore = \"sqlite:{}\"\n\
         [dashboard]\nlisten = \"0.0.0.0:{http}\"\n",
        dir.path().join("reports.db").display()
    );
    // without a token file, a non-loopback listen address is refused
    let cfg = dir.path().join("open.toml");
    std::fs::write(&cfg, &base).expect("config");
    let (code, out, err) = run_cli(&["config", "check", "-c", cfg.to_str().expect("p")], None);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("token_file"), "{err}");

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let toml = format!("{base}token_file = \"{}\"\n", token.display());
    let serve = ServeProcess::start(&toml, milter, &[]);
    let remote = SocketAddr::new(ip, http);
    let ready = test_support::process::poll(Duration::from_secs(10), || {
        TcpStream::connect(remote).is_ok().then_some(())
    });
    assert!(ready.is_some(), "{}", serve.log_tail(20));
    let from_ip = |auth: Option<&str>, path: &str| {
        let s = TcpStream::connect(remote).expect("connect");
        assert_eq!(
            s.local_addr().expect("local").ip(),
            ip,
            "a non-loopback peer"
        );
        exchange(s, remote, path, auth)
    };
    for path in ["/", "/domain/example.com", "/outbound", "/nothing"] {
        let (status, head, body) = from_ip(None, path);
        assert_eq!(status, 401, "{path}: {head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("www-authenticate: basic realm=\"authmilter dashboard\""),
            "{head}"
        );
        assert!(!body.contains("<html"), "{body}");
    }
    for bad in ["Bearer wrong-token-0123456789", "Basic dXNlcjp3cm9uZw=="] {
        assert_eq!(from_ip(Some(bad), "/").0, 401, "{bad}");
    }
    // with the token: the page (503 for the moment the new store is being created)
    let ok = test_support::process::poll(Duration::from_secs(20), || {
        (from_ip(Some("Bearer s3cret-token-0123456789"), "/").0 == 200).then_some(())
    });
    assert!(ok.is_some(), "{}", serve.log_tail(20));
    // basic auth, any user name: "admin:s3cret-token-0123456789"
    assert_eq!(
        from_ip(Some("Basic YWRtaW46czNjcmV0LXRva2VuLTAxMjM0NTY3ODk="), "/").0,
        200
    );
    // with a token, loopback needs it too
    let local = SocketAddr::from(([127, 0, 0, 1], http));
    assert_eq!(get(local, "/", None).0, 401);
    drop(serve);
}

/// `n` as the pages write it (thin spaces shown as spaces by [`row`]).
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// SIGHUP to `serve`, then waits until the log says `configuration reloaded` `n` times.
fn reload(serve: &ServeProcess, n: usize) {
    test_support::process::signal(&serve.pid().to_string(), "HUP");
    let done = test_support::process::poll(Duration::from_secs(20), || {
        (serve.log_text().matches("configuration reloaded").count() >= n).then_some(())
    });
    assert!(done.is_some(), "no reload: {}", serve.log_tail(30));
}

#[test]
fn a_reload_moves_the_dashboard_rereads_the_token_and_stops_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "first-token-0123456789\n").expect("token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (milter, first, second) = (free_port(), free_port(), free_port());
    let base = format!(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:{milter}\"\n\
         [authres]\nauthserv_id = \"mx.rx.example\"\n\
         [reports]\nstore = \"sqlite:{}\"\n",
        dir.path().join("reports.db").display()
    );
    let serve = ServeProcess::start(
        &format!("{base}[dashboard]\nlisten = \"127.0.0.1:{first}\"\n"),
        milter,
        &[],
    );
    let (a, b) = (
        SocketAddr::from(([127, 0, 0, 1], first)),
        SocketAddr::from(([127, 0, 0, 1], second)),
    );
    let up = test_support::process::poll(Duration::from_secs(20), || {
        (get(a, "/", None).0 == 200).then_some(())
    });
    assert!(up.is_some(), "{}", serve.log_tail(20));

    // another address, with a token: the new one answers, the old one is closed
    std::fs::write(
        serve.config_path(),
        format!(
            "{base}[dashboard]\nlisten = \"127.0.0.1:{second}\"\ntoken_file = \"{}\"\n",
            token.display()
        ),
    )
    .expect("config");
    reload(&serve, 1);
    assert!(
        serve
            .log_text()
            .contains(&format!("dashboard: http://127.0.0.1:{second}/"))
    );
    assert_eq!(get(b, "/", None).0, 401);
    assert_eq!(get(b, "/", Some("Bearer first-token-0123456789")).0, 200);
    let closed = test_support::process::poll(Duration::from_secs(10), || {
        TcpStream::connect(a).is_err().then_some(())
    });
    assert!(closed.is_some(), "the old address still accepts");

    // the same configuration, a new token in the file: read again
    std::fs::write(&token, "second-token-0123456789\n").expect("token");
    reload(&serve, 2);
    assert_eq!(get(b, "/", Some("Bearer first-token-0123456789")).0, 401);
    assert_eq!(get(b, "/", Some("Bearer second-token-0123456789")).0, 200);

    // a token file nobody may read is refused: the dashboard stays as it was
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    reload(&serve, 3);
    assert!(
        serve.log_text().contains("reload: dashboard unchanged"),
        "{}",
        serve.log_tail(10)
    );
    assert_eq!(get(b, "/", Some("Bearer second-token-0123456789")).0, 200);

    // no [dashboard]: it stops
    std::fs::write(serve.config_path(), &base).expect("config");
    reload(&serve, 4);
    let stopped = test_support::process::poll(Duration::from_secs(10), || {
        TcpStream::connect(b).is_err().then_some(())
    });
    assert!(stopped.is_some(), "{}", serve.log_tail(10));
    assert!(serve.log_text().contains("dashboard: stopped"));
}
