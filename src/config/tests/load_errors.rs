//! Settings refused at load: unknown keys, bad values, cross-key rules, late-parsed
//! strings, reply placeholders, duplicate key names, SRS domain lists; with key and line.

use crate::config::*;

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

/// A cross-key rule names the line of the key in its own section: "dashboard.listen (line 1)"
/// pointed at `[[server.listen]]`, the first line holding the word `listen`, and a key name
/// inside another key or value (`max_names` in a comment) was taken for it too.
#[test]
fn cross_key_rules_name_the_line_of_the_key_in_its_section() {
    let text = "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n\
                # listen here, max_signatures there\n\
                [metrics]\nlisten = \"127.0.0.1:9100\"\n\
                [dashboard]\nlisten = \"192.0.2.1:9200\"\n";
    let err = Config::parse(text).unwrap_err().to_string();
    assert!(err.starts_with("dashboard.listen (line 7):"), "{err}");
    let text = "[server]\n# max_connections is raised below\nmax_connections = 0\n";
    let err = Config::parse(text).unwrap_err().to_string();
    assert!(err.contains("max_connections (line 3)"), "{err}");
    // a comment after the header, a dotted key, a key named by its own name
    for (text, want) in [
        (
            "[dashboard] # the web page\nlisten = \"192.0.2.1:9200\"\n",
            "dashboard.listen (line 2)",
        ),
        (
            "[reports]\nsmtp_timeout = \"0s\"\n",
            "reports.smtp_timeout (line 2)",
        ),
        (
            "[reports]\nclaim_timeout = \"0s\"\n",
            "reports.claim_timeout (line 2)",
        ),
        (
            "dashboard.listen = \"192.0.2.1:9200\"\n",
            "dashboard.listen (line 1)",
        ),
        (
            "[reports]\nfailure.reporting_mta = \"bad host\"\n",
            "reports.failure.reporting_mta (line 2)",
        ),
        (
            "[reports.failure]\nreporting_mta = \"bad host\"\n",
            "reports.failure.reporting_mta (line 2)",
        ),
        (
            "[dns] # resolver\ntimeout = \"0s\"\n",
            "dns.timeout (line 2)",
        ),
        (
            "[reports] # out\nbatch_size = 100000000\n",
            "reports.batch_size (line 2)",
        ),
        (
            "[[server.listen]] # one\nsocket = \"inet:127.0.0.1:8891\"\n\
             [[server.listen]]\nsocket = \"inet:127.0.0.1:8892\"\n\
             [[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n",
            "server.listen[2] (line 6)",
        ),
        (
            "[[dkim.key]]\ndomain = \"a.example\"\nselector = \"s1\"\npath = \"/a.pem\"\n\
             [[dkim.key]]\ndomain = \"b.example\"\nselector = \"s1\"\npath = \"/b.pem\"\n\
             [[dkim.key]]\ndomain = \"a.example\"\nselector = \"s1\"\npath = \"/c.pem\"\n",
            "dkim.key[2] (line 9)",
        ),
    ] {
        let err = Config::parse(text).unwrap_err().to_string();
        assert!(err.starts_with(want), "{text}: {err}");
    }
}
