use super::*;

/// The documented reference file at the repository root.
const SAMPLE: &str = include_str!("../../milter.toml");

#[test]
fn empty_file_is_the_default_config() {
    assert_eq!(Config::parse("").unwrap(), Config::default());
}

#[test]
fn reference_file_matches_the_defaults() {
    assert_eq!(Config::parse(SAMPLE).unwrap(), Config::default());
}

#[test]
fn reference_file_documents_every_key() {
    // Every key of the effective config appears in the reference file: plain keys as
    // `key =`, arrays of tables as `[[section.key]]` (possibly as a commented example).
    let effective = Config::default().to_toml().unwrap();
    let root: toml::Value = toml::from_str(&effective).unwrap();
    let mut missing = Vec::new();
    let toml::Value::Table(sections) = root else {
        panic!("config is not a table")
    };
    // nested tables ([reports.failure]) are sections of their own
    let mut flat: Vec<(String, toml::Table)> = Vec::new();
    for (section, body) in sections {
        let toml::Value::Table(keys) = body else {
            continue;
        };
        for (key, value) in &keys {
            if let toml::Value::Table(sub) = value {
                flat.push((format!("{section}.{key}"), sub.clone()));
            }
        }
        flat.push((section, keys));
    }
    for (section, keys) in flat {
        for (key, value) in keys {
            if matches!(value, toml::Value::Table(_)) {
                assert!(
                    SAMPLE.contains(&format!("[{section}.{key}]")),
                    "{section}.{key}"
                );
                continue;
            }
            let documented = match value {
                toml::Value::Array(items)
                    if items.is_empty() && !SAMPLE.contains(&format!("{key} = []")) =>
                {
                    SAMPLE.contains(&format!("[[{section}.{key}]]"))
                }
                toml::Value::Array(items)
                    if matches!(items.first(), Some(toml::Value::Table(_))) =>
                {
                    SAMPLE.contains(&format!("[[{section}.{key}]]"))
                }
                _ => SAMPLE.contains(&format!("\n{key} = ")),
            };
            if !documented {
                missing.push(format!("{section}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys missing from milter.toml: {missing:?}"
    );
}

#[test]
fn unknown_key_names_key_and_line() {
    let err = Config::parse("[server]\nmax_connections = 5\nmax_conections = 6\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_conections"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn bad_value_names_key_and_line() {
    let err = Config::parse("[server]\n\nidle_timeout = \"5 parsecs\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("bad duration"), "{err}");
    let err = Config::parse("[[server.listen]]\nsocket = \"inet:nowhere\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("bad socket"),
        "{err}"
    );
    let err = Config::parse("[dmarc]\nmode = \"rfc1234\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("mode"), "{err}");
    let err = Config::parse("[outbound]\ninternal_networks = [\"10.0.0.0/40\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("bad network"),
        "{err}"
    );
}

#[test]
fn cross_key_rules() {
    let err = Config::parse(
        "[[dkim.key]]\ndomain = \"example.com\"\nselector = \"s\"\npath = \"/k.pem\"\n\n[[dkim.signing]]\nfrom = \"example.com\"\nkeys = [\"nope\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("dkim.signing[0].keys") && err.contains("line 8"),
        "{err}"
    );
    let ok = Config::parse(
        "[[dkim.key]]\ndomain = \"example.com\"\nselector = \"s\"\npath = \"/k.pem\"\n\n[[dkim.signing]]\nfrom = \"*\"\nkeys = [\"s._domainkey.example.com\"]\n",
    );
    assert!(ok.is_ok(), "{ok:?}");
    let err = format!(
        "{:#}",
        Config::parse("[spf]\nreject_reply = \"250 ok\"\n").unwrap_err()
    );
    assert!(
        err.contains("line 2") && err.contains("reject_reply") && err.contains("wrong class"),
        "{err}"
    );
    let err = Config::parse("[srs]\nenabled = true\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("srs.domain"), "{err}");
    let err = Config::parse("[server]\nlisten = []\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.listen"), "{err}");
}

#[test]
fn several_listeners_with_roles() {
    let c = Config::parse(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\nrole = \"verify\"\n[[server.listen]]\nsocket = \"unix:/run/authmilter/sign.sock\"\nrole = \"sign\"\n",
    )
    .unwrap();
    assert_eq!(c.server.listen.len(), 2);
    assert_eq!(c.server.listen[1].role, Role::Sign);
    // the effective config round-trips
    assert_eq!(Config::parse(&c.to_toml().unwrap()).unwrap(), c);
}

#[test]
fn example_configs_parse() {
    let two = include_str!("../../examples/milter-two-listeners.toml");
    let c = Config::parse(two).unwrap();
    assert_eq!(c.server.listen.len(), 2);
    assert_eq!(c.dkim.signing.len(), 2);
}

#[test]
fn reference_doc_describes_every_key() {
    let doc = include_str!("../../docs/configuration.md");
    let effective = Config::default().to_toml().unwrap();
    let root: toml::Value = toml::from_str(&effective).unwrap();
    let toml::Value::Table(sections) = root else {
        panic!("not a table")
    };
    let mut missing = Vec::new();
    let mut flat: Vec<(String, toml::Value)> = Vec::new();
    for (section, body) in sections {
        if let toml::Value::Table(keys) = &body {
            for (key, value) in keys {
                if value.is_table() {
                    flat.push((format!("{section}.{key}"), value.clone()));
                }
            }
        }
        flat.push((section, body));
    }
    for (section, body) in flat {
        if !doc.contains(&format!("[{section}]")) {
            missing.push(section.clone());
        }
        if let toml::Value::Table(keys) = body {
            for key in keys.iter().filter(|(_, v)| !v.is_table()).map(|(k, _)| k) {
                let documented = doc.contains(&format!("| `{key}` |"))
                    || doc.contains(&format!("[[{section}.{key}]]"));
                if !documented {
                    missing.push(format!("{section}.{key}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

/// Every setting that used to stay a string and be parsed late (or never) is checked when the
/// file loads, with its key and line, even while its feature is off.
#[test]
fn late_parsed_settings_are_checked_at_load_with_key_and_line() {
    for (text, line, key, why) in [
        ("[log]\nlevel = \"verbose\"\n", 2, "level", "not a level"),
        (
            "[dns]\n\nnameservers = [\"ns1.example:53\"]\n",
            3,
            "nameservers",
            "bad nameserver",
        ),
        (
            "[dkim]\ncanonicalization = \"relaxed/strict\"\n",
            2,
            "canonicalization",
            "unknown canonicalization",
        ),
        (
            "[srs]\nseparator = \"#\"\n",
            2,
            "separator",
            "bad SRS separator",
        ),
        (
            "[srs]\nsocketmap = \"inet:nowhere\"\n",
            2,
            "socketmap",
            "bad socket",
        ),
        (
            "[dmarc]\nquarantine_header = \"X-Spam-Flag\"\n",
            2,
            "quarantine_header",
            "Name: value",
        ),
        (
            "[dmarc]\nreject_reply = \"550 4.7.1 x\"\n",
            2,
            "reject_reply",
            "must start with 5",
        ),
        (
            "[dmarc]\ninvalid_from_reply = \"550 5.7.1 {nope}\"\n",
            2,
            "invalid_from_reply",
            "unknown placeholder",
        ),
        (
            "[policy]\ntempfail_reply = \"550 5.7.1 x\"\n",
            2,
            "tempfail_reply",
            "wrong class",
        ),
        (
            "[policy]\ntempfail_reply = \"451 4.7.1 a\\r\\n250 b\"\n",
            2,
            "tempfail_reply",
            "one line",
        ),
        (
            "[spf]\nreject_reply = \"550 5.7.1000 x\"\n",
            2,
            "reject_reply",
            "enhanced",
        ),
        (
            "[reports]\nstore = \"mysql://db/x\"\n",
            2,
            "store",
            "bad report store location",
        ),
        (
            "[reports]\nstore = \"postgres://db/x?sslmode=verify\"\n",
            2,
            "store",
            "unknown sslmode \"verify\"",
        ),
        (
            "[reports]\nenabled = true\nsend = false\nstore = \"postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem\"\n",
            4,
            "store",
            "sslrootcert /nonexistent/ca.pem: No such file",
        ),
        (
            "[reports.failure]\ndomain_rate = \"10 per hour\"\n",
            2,
            "domain_rate",
            "bad rate",
        ),
        ("[reports]\nformat = \"rfc9999\"\n", 2, "format", "rfc9990"),
        ("[reports]\n\nsend_hour = 24\n", 3, "send_hour", "0 to 23"),
        (
            "[reports]\nemail = \"not an address\"\n",
            2,
            "email",
            "plain address",
        ),
        (
            "[metrics]\n\nlisten = \"localhost:9851\"\n",
            3,
            "listen",
            "bad address",
        ),
    ] {
        let err = format!("{:#}", Config::parse(text).unwrap_err());
        assert!(err.contains(&format!("line {line}")), "{text:?}: {err}");
        assert!(err.contains(key), "{text:?}: {err}");
        assert!(err.contains(why), "{text:?}: {err}");
    }
}

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

/// A placeholder the reply never fills would send an empty text where the postmaster
/// expected a value: refused with the key and line.
#[test]
fn reply_placeholders_are_the_ones_each_reply_fills() {
    for (toml, key) in [
        (
            "[dmarc]\nreject_reply = \"550 5.7.1 {explanation}\"\n",
            "dmarc.reject_reply (line 2)",
        ),
        (
            "[dmarc]\ninvalid_from_reply = \"550 5.7.1 {domain}\"\n",
            "dmarc.invalid_from_reply (line 2)",
        ),
        (
            "[spf]\nreject_reply = \"550 5.7.23 {problem}\"\n",
            "spf.reject_reply (line 2)",
        ),
        (
            "[spf]\ntempfail_reply = \"451 4.7.24 {explanation}\"\n",
            "spf.tempfail_reply (line 2)",
        ),
        (
            "[policy]\ntempfail_reply = \"451 4.7.5 {problem}\"\n",
            "policy.tempfail_reply (line 2)",
        ),
    ] {
        let err = Config::parse(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
    Config::parse(
        "[spf]\nreject_reply = \"550 5.7.23 {domain} {explanation}\"\ntempfail_reply = \"451 4.7.24 {domain}\"\n\
         [dmarc]\nreject_reply = \"550 5.7.1 {domain}\"\ninvalid_from_reply = \"550 5.7.1 {problem}\"\n\
         [policy]\ntempfail_reply = \"451 4.7.5 {domain}\"\n",
    )
    .unwrap();
}

#[test]
fn a_socket_may_not_be_listed_twice() {
    let err = Config::parse(
        "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n\n[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\nrole = \"sign\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("server.listen[1] (line 5)"), "{err}");
}

/// The SRS socketmap, the metrics and the dashboard cannot share a listener's socket: serve
/// failed to bind the second ("already in use", or "another authmilter running?" for a Unix
/// socket) while config check said OK.
#[test]
fn a_socket_serves_one_purpose() {
    let listen = "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n\
                  [[server.listen]]\nsocket = \"unix:/run/authmilter/m.sock\"\n";
    let srs = "[srs]\ndomain = \"fwd.example\"\n";
    for (extra, key) in [
        (
            format!("{srs}socketmap = \"inet:8891@127.0.0.1\"\n"),
            "srs.socketmap (line 7)",
        ),
        (
            format!("{srs}socketmap = \"unix:/run/authmilter/m.sock\"\n"),
            "srs.socketmap (line 7)",
        ),
        (
            "[metrics]\nlisten = \"127.0.0.1:8891\"\n".to_string(),
            "metrics.listen (line 6)",
        ),
        (
            "[dashboard]\nlisten = \"127.0.0.1:8891\"\n".to_string(),
            "dashboard.listen (line 6)",
        ),
        (
            "[metrics]\nlisten = \"127.0.0.1:9100\"\n[dashboard]\nlisten = \"127.0.0.1:9100\"\n"
                .to_string(),
            "dashboard.listen (line 8)",
        ),
    ] {
        let err = Config::parse(&format!("{listen}{extra}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{extra}: {err}");
        assert!(err.contains("each socket once"), "{extra}: {err}");
    }
    Config::parse(&format!(
        "{listen}{srs}socketmap = \"inet:127.0.0.1:10003\"\n[metrics]\nlisten = \"127.0.0.1:9100\"\n"
    ))
    .unwrap();
}

#[test]
fn metrics_are_off_by_default_and_loopback_unless_allowed() {
    assert_eq!(Config::default().metrics.listen.0, None);
    let c = Config::parse("[metrics]\nlisten = \"127.0.0.1:9851\"\n").unwrap();
    assert_eq!(c.metrics.listen.0, Some("127.0.0.1:9851".parse().unwrap()));
    assert!(Config::parse("[metrics]\nlisten = \"[::1]:9851\"\n").is_ok());
    let err = Config::parse("[metrics]\n\nlisten = \"0.0.0.0:9851\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("metrics.listen (line 3)") && err.contains("allow_remote"),
        "{err}"
    );
    let c = Config::parse("[metrics]\nlisten = \"0.0.0.0:9851\"\nallow_remote = true\n").unwrap();
    assert!(c.metrics.allow_remote);
    // the effective config round-trips, off included
    assert_eq!(Config::parse(&c.to_toml().unwrap()).unwrap(), c);
    let off = Config::default();
    assert_eq!(Config::parse(&off.to_toml().unwrap()).unwrap(), off);
}

/// `[srs] socketmap` signs any address for anyone who connects: only on loopback (or a
/// Unix socket) unless `allow_remote` says the port is firewalled.
#[test]
fn srs_socketmap_stays_on_loopback_unless_allowed() {
    for ok in [
        "inet:127.0.0.1:10003",
        "inet:[::1]:10003",
        "inet:localhost:10003",
        "unix:/run/authmilter/srs.sock",
    ] {
        let toml = format!("[srs]\nsocketmap = \"{ok}\"\n");
        assert!(Config::parse(&toml).is_ok(), "{ok}");
    }
    for remote in [
        "inet:0.0.0.0:10003",
        "inet:192.0.2.1:10003",
        "inet:mail.example.com:10003",
    ] {
        let toml = format!("[srs]\n\nsocketmap = \"{remote}\"\n");
        let err = Config::parse(&toml).unwrap_err().to_string();
        assert!(
            err.contains("srs.socketmap (line 3)") && err.contains("allow_remote"),
            "{remote}: {err}"
        );
        let allowed = format!("[srs]\nsocketmap = \"{remote}\"\nallow_remote = true\n");
        assert!(Config::parse(&allowed).is_ok(), "{remote}");
    }
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

/// Two `[[dkim.key]]` with one name (explicit, or the default `selector._domainkey.domain`)
/// are refused: a signing rule naming it would pick one of them silently.
#[test]
fn duplicate_dkim_key_names_are_refused() {
    let key = |name: &str, sel: &str| {
        format!(
            "[[dkim.key]]\n{name}domain = \"example.com\"\nselector = \"{sel}\"\npath = \"/k\"\n"
        )
    };
    for toml in [
        format!(
            "{}{}",
            key("name = \"a\"\n", "s1"),
            key("name = \"a\"\n", "s2")
        ),
        format!("{}{}", key("", "s1"), key("", "s1")),
        format!(
            "{}{}",
            key("name = \"s1._domainkey.example.com\"\n", "s2"),
            key("", "s1")
        ),
    ] {
        let err = Config::parse(&toml).unwrap_err().to_string();
        assert!(err.contains("is already dkim.key[0]'s"), "{toml}: {err}");
    }
    Config::parse(&format!("{}{}", key("", "s1"), key("", "s2"))).unwrap();
}

/// `[srs] local_domains` and `exclude_domains` match a domain or, written `.example.com`,
/// its subdomains (postsrsd `domains`); anything else never matches any address, so a
/// wildcard, an address or a list in one string would be ignored without a word.
#[test]
fn srs_domain_lists_take_domains_only() {
    let ok = "[srs]\nlocal_domains = [\"example.com\", \".example.net\", \"Mail.Example.ORG.\", \"bücher.example\"]\nexclude_domains = [\".partner.example\"]\n";
    assert!(Config::parse(ok).is_ok(), "{:?}", Config::parse(ok));
    for (list, bad) in [
        ("local_domains", "*.example.com"),
        ("local_domains", "user@example.com"),
        ("local_domains", "example.com example.net"),
        ("local_domains", "example..com"),
        ("exclude_domains", "*.partner.example"),
        ("exclude_domains", ""),
        ("exclude_domains", "."),
    ] {
        let toml = format!("[srs]\n\n{list} = [\"{bad}\"]\n");
        let err = format!("{:#}", Config::parse(&toml).unwrap_err());
        assert!(
            err.contains(&format!("srs.{list} (line 3)")) && err.contains("not a domain"),
            "{bad}: {err}"
        );
    }
    let err = format!(
        "{:#}",
        Config::parse("[srs]\nexclude_domains = [\"*.partner.example\"]\n").unwrap_err()
    );
    assert!(err.contains(".partner.example"), "suggests the form: {err}");
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
