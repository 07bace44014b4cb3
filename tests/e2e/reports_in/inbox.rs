//! A `serve` with `[reports.inbox]` driven by the fake MTA, and the messages its store holds
//! (`report show --json`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::{EomOutcome, MtaClient, Profile};

use crate::support::{ServeProcess, run_cli};
use test_support::free_port;

use super::synthetic_reports::ymd;

/// A `serve` with `[reports.inbox]` for `dmarc@rx.example` and its store.
pub(crate) struct Inbox {
    /// Holds the store and the zone.
    pub _dir: tempfile::TempDir,
    pub serve: ServeProcess,
    pub port: u16,
    pub config: PathBuf,
}

impl Inbox {
    pub fn start(inbox: &str) -> Inbox {
        Inbox::start_with_zone(inbox, "")
    }

    /// [`Inbox::start`] with `records` (zone lines) added to its zone.
    pub fn start_with_zone(inbox: &str, records: &str) -> Inbox {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("zone"), zone() + records).expect("zone");
        let port = free_port();
        let toml = format!(
            "[server]\neom_timeout = \"60s\"\n\
             [[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
             [authres]\nauthserv_id = \"mx.rx.example\"\n\
             [reports]\nstore = \"sqlite:{}\"\n\
             [reports.inbox]\naddresses = [\"dmarc@rx.example\"]\nresolve_names = false\n{inbox}",
            dir.path().join("reports.db").display()
        );
        let zone = dir.path().join("zone");
        let serve = ServeProcess::start(&toml, port, &["--zone", zone.to_str().expect("path")]);
        let config = serve.config_path();
        Inbox {
            _dir: dir,
            serve,
            port,
            config,
        }
    }

    /// A `serve` like [`Inbox::start`] that looks up source names, whose only nameserver
    /// never answers (the returned socket: keep it open), with every check that would ask it
    /// turned off.
    pub fn start_with_silent_dns(inbox: &str) -> (Inbox, std::net::UdpSocket) {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        let dns = silent.local_addr().expect("addr");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let toml = format!(
            "[server]\neom_timeout = \"60s\"\n\
             [[server.listen]]\nsocket = \"inet:127.0.0.1:{port}\"\nrole = \"verify\"\n\
             [authres]\nauthserv_id = \"mx.rx.example\"\n\
             [dns]\nnameservers = [\"{dns}\"]\ntimeout = \"15s\"\nattempts = 1\n\
             [spf]\nenabled = false\n[dmarc]\nenabled = false\n[iprev]\nenabled = false\n\
             [dkim]\nverify = false\n[arc]\nverify = false\n\
             [reports]\nstore = \"sqlite:{}\"\n\
             [reports.inbox]\naddresses = [\"dmarc@rx.example\"]\nresolve_names = true\n{inbox}",
            dir.path().join("reports.db").display()
        );
        let serve = ServeProcess::start(&toml, port, &[]);
        let config = serve.config_path();
        let inbox = Inbox {
            _dir: dir,
            serve,
            port,
            config,
        };
        (inbox, silent)
    }

    /// Sends `raw` from [`CLIENT`] to `rcpts`, its From address as MAIL FROM (so that SPF,
    /// aligned, passes for the [`AUTHENTICATED_SENDERS`]); the end-of-message outcome.
    pub async fn send(&self, rcpts: &[&str], raw: &[u8]) -> EomOutcome {
        self.send_as(CLIENT, &from_address(raw), rcpts, raw).await
    }

    /// Sends `raw` from `client` with MAIL FROM `mail_from` to `rcpts`.
    pub async fn send_as(
        &self,
        client: &str,
        mail_from: &str,
        rcpts: &[&str],
        raw: &[u8],
    ) -> EomOutcome {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", self.port).parse().expect("addr");
        let mut mta = MtaClient::connect_tcp(
            addr,
            Profile::postfix().with_timeout(Duration::from_secs(60)),
        )
        .await
        .expect("connect");
        mta.negotiate().await.expect("negotiate");
        let ip = client.parse().expect("ip");
        mta.connect("mail.reporter.example", ip, 40000, &[])
            .await
            .expect("connect");
        mta.helo("mail.reporter.example", &[]).await.expect("helo");
        mta.mail(&format!("<{mail_from}>"), &[], &[])
            .await
            .expect("mail");
        for r in rcpts {
            mta.rcpt(&format!("<{r}>"), &[], &[]).await.expect("rcpt");
        }
        let outcome = mta.send_message(raw).await.expect("message");
        let _ = mta.quit().await;
        outcome
    }

    /// The store's report ids (org_name, report_id) via `report show --json` for the days
    /// around now and the samples' 2012 and 2022 days.
    pub fn show(&self, args: &[&str]) -> serde_json::Value {
        let cfg = self.config.to_str().expect("path");
        let mut all = vec!["report", "show", "--json", "-c", cfg];
        all.extend_from_slice(args);
        let (code, out, err) = run_cli(&all, None);
        assert_eq!(code, 0, "report show: {err}");
        serde_json::from_str(&out).expect("JSON")
    }

    /// Messages stored for `domain` on the day starting `day` (0 when none).
    pub fn messages(&self, domain: &str, day: u64) -> u64 {
        stored_messages(&self.config, domain, day)
    }

    /// Waits (bounded) until `domain` has `n` messages on `day`.
    pub fn wait_messages(&self, domain: &str, day: u64, n: u64) {
        wait_stored_messages(
            &self.config,
            domain,
            day,
            n,
            Duration::from_secs(20),
            || self.serve.log_tail(30),
        );
    }
}

/// The address [`Inbox::send`] sends from.
pub(crate) const CLIENT: &str = "192.0.2.10";

/// The report senders the inbox's zone authenticates (RFC 9990 §3.5.2: report mail passes
/// DMARC): SPF lets [`CLIENT`] send as each and each publishes DMARC (`p=none`, so that a
/// failing message is still accepted and read). `evil.example` publishes nothing.
pub(crate) const AUTHENTICATED_SENDERS: &[&str] = &[
    "reporter.example",
    "google.com",
    "backschues.net",
    "corp.mail.ru",
    "microsoft.com",
    "amazonses.com",
];

/// The inbox's zone: our MX and the [`AUTHENTICATED_SENDERS`].
fn zone() -> String {
    let mut zone = "rx.example A 192.0.2.25\n".to_string();
    for d in AUTHENTICATED_SENDERS {
        zone.push_str(&format!(
            "{d} TXT \"v=spf1 ip4:{CLIENT} -all\"\n_dmarc.{d} TXT \"v=DMARC1; p=none\"\n"
        ));
    }
    zone
}

/// The address of the first `From:` field of `raw` (`<…>` if it has them).
fn from_address(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let value = text
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("from"))
        })
        .map(|(_, v)| v.trim().to_string())
        .expect("the message has a From field");
    match value.rsplit_once('<') {
        Some((_, rest)) => rest.trim_end_matches('>').to_string(),
        None => value,
    }
}

/// Messages stored for `domain` on the day starting `day` (0 when none), counted or not
/// (an unverified report is stored, listed and said apart: docs/reports.md), as `report
/// show --json -c config` says.
pub(crate) fn stored_messages(config: &Path, domain: &str, day: u64) -> u64 {
    let d = ymd(day);
    let cfg = config.to_str().expect("path");
    let (code, out, err) = run_cli(
        &[
            "report", "show", "--json", "-c", cfg, "--domain", domain, "--since", &d, "--until", &d,
        ],
        None,
    );
    assert_eq!(code, 0, "report show: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let counted = v["messages"].as_u64().expect("messages");
    let unverified = v["unverified"]["messages"].as_u64().expect("unverified");
    counted + unverified
}

/// Waits (at most `limit`) until the store of `config` holds `n` messages for `domain` on
/// `day`; fails the test with `diagnostics()` otherwise.
pub(crate) fn wait_stored_messages(
    config: &Path,
    domain: &str,
    day: u64,
    n: u64,
    limit: Duration,
    diagnostics: impl Fn() -> String,
) {
    let got = test_support::process::poll(limit, || {
        (stored_messages(config, domain, day) == n).then_some(())
    });
    assert!(
        got.is_some(),
        "{domain}: not {n} messages stored (now {})\n{}",
        stored_messages(config, domain, day),
        diagnostics()
    );
}
