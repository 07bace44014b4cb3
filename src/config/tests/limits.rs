//! Limits refused at load: past what a semaphore or queue can hold, zero limits and timeouts,
//! SPF's term limit above the RFC maximum.

use crate::config::*;

/// Values past what a semaphore or bounded queue can hold panicked `serve` (tokio's
/// `MAX_PERMITS`) after `config check` said OK: refused at load with key and line.
#[test]
fn huge_connection_and_queue_limits_are_refused() {
    let huge = i64::MAX;
    for (toml, key) in [
        (
            format!("[server]\nmax_connections = {huge}\n"),
            "server.max_connections (line 2)",
        ),
        (
            format!("[reports]\nqueue = {huge}\n"),
            "reports.queue (line 2)",
        ),
        (
            format!("[reports]\nbatch_size = {huge}\n"),
            "reports.batch_size (line 2)",
        ),
        (
            format!("[reports.failure]\nqueue = {huge}\n"),
            "reports.failure.queue (line 2)",
        ),
    ] {
        let err = Config::parse(&toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
        assert!(err.contains("at most 1000000"), "{toml}: {err}");
    }
    Config::parse(
        "[server]\nmax_connections = 1000000\n[reports]\nqueue = 1000000\nbatch_size = 1000000\n[reports.failure]\nqueue = 1000000\n",
    )
    .unwrap();
}

/// Limits of 0 would turn a check into a wrong answer for every message, not off.
#[test]
fn zero_limits_that_would_fail_every_message_are_refused() {
    let err = Config::parse("[iprev]\nmax_names = 0\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("iprev.max_names (line 2)"), "{err}");
    let err = Config::parse("[dkim]\nmax_signatures = 0\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("dkim.max_signatures (line 2)"), "{err}");
    assert!(Config::parse("[iprev]\nmax_names = 1\n[dkim]\nmax_signatures = 1\n").is_ok());
}

/// A zero timeout or SPF term limit would fail every message (or connection), not turn
/// anything off: refused with the key and line, by `config check` as by `serve`.
#[test]
fn zero_timeouts_and_spf_term_limit_are_refused() {
    for (toml, key) in [
        (
            "[server]\nidle_timeout = \"0s\"\n",
            "server.idle_timeout (line 2)",
        ),
        (
            "[server]\nwrite_timeout = \"0s\"\n",
            "server.write_timeout (line 2)",
        ),
        (
            "[server]\neom_timeout = \"0s\"\n",
            "server.eom_timeout (line 2)",
        ),
        ("[dns]\ntimeout = \"0s\"\n", "dns.timeout (line 2)"),
        (
            "[spf]\ndns_lookup_limit = 0\n",
            "spf.dns_lookup_limit (line 2)",
        ),
    ] {
        let err = Config::parse(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
    Config::parse(
        "[server]\nidle_timeout = \"1s\"\nwrite_timeout = \"1s\"\neom_timeout = \"1s\"\n\
         [dns]\ntimeout = \"100ms\"\n[spf]\ndns_lookup_limit = 1\n",
    )
    .unwrap();
}

/// RFC 7208 §4.6.4: SPF implementations MUST limit the DNS-querying terms to 10 (more is
/// permerror). A higher `dns_lookup_limit` would give `pass` where every other verifier gives
/// `permerror`, so `serve`, a reload and `config check` refuse it.
#[test]
fn spf_term_limit_above_the_rfc_maximum_is_refused() {
    let err = Config::parse("[spf]\ndns_lookup_limit = 11\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("spf.dns_lookup_limit (line 2)"), "{err}");
    assert!(err.contains("RFC 7208"), "{err}");
    Config::parse("[spf]\ndns_lookup_limit = 10\n").unwrap();
}
