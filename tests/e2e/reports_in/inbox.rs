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
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("zone"), "rx.example A 192.0.2.25\n").expect("zone");
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

    /// Sends `raw` from 192.0.2.10 to `rcpts`; the end-of-message outcome.
    pub async fn send(&self, rcpts: &[&str], raw: &[u8]) -> EomOutcome {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", self.port).parse().expect("addr");
        let mut mta = MtaClient::connect_tcp(
            addr,
            Profile::postfix().with_timeout(Duration::from_secs(60)),
        )
        .await
        .expect("connect");
        mta.negotiate().await.expect("negotiate");
        let ip = "192.0.2.10".parse().expect("ip");
        mta.connect("mail.reporter.example", ip, 40000, &[])
            .await
            .expect("connect");
        mta.helo("mail.reporter.example", &[]).await.expect("helo");
        mta.mail("<noreply-dmarc@reporter.example>", &[], &[])
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

/// Messages stored for `domain` on the day starting `day` (0 when none), as
/// `report show --json -c config` says.
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
    v["messages"].as_u64().expect("messages")
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
