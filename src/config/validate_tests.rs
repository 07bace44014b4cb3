//! The rules `validate.rs` adds to the types: sockets used once, limits a signer or a timer
//! could not honour.

use super::Config;

/// One port on two addresses that overlap is one socket to the kernel: a wildcard address
/// (`0.0.0.0`, and `[::]` on a dual-stack host) takes the port on every address, and
/// `[::ffff:127.0.0.1]` is `127.0.0.1`. config check said OK and serve failed with "Address
/// already in use" after binding the first.
#[test]
fn overlapping_addresses_are_one_socket() {
    let dual_stack =
        std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").map_or(true, |v| v.trim() != "1");
    let mut cases = vec![
        ("inet:127.0.0.1:8891", "inet:[::ffff:127.0.0.1]:8891"),
        ("inet:127.0.0.1:8891", "inet:0.0.0.0:8891"),
        ("inet:0.0.0.0:8891", "inet:8891@192.0.2.1"),
        ("inet:[::1]:8891", "inet:[::]:8891"),
        ("inet6:8891@::", "inet:[2001:db8::1]:8891"),
    ];
    if dual_stack {
        cases.push(("inet:127.0.0.1:8891", "inet:[::]:8891"));
        cases.push(("inet:[::]:8891", "inet:0.0.0.0:8891"));
    }
    for (a, b) in cases {
        let text =
            format!("[[server.listen]]\nsocket = \"{a}\"\n[[server.listen]]\nsocket = \"{b}\"\n");
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("server.listen[1] (line 4)"), "{a} {b}: {err}");
        let text = format!(
            "[[server.listen]]\nsocket = \"{a}\"\n[srs]\ndomain = \"fwd.example\"\nallow_remote = true\nsocketmap = \"{b}\"\n"
        );
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(err.contains("srs.socketmap (line 6)"), "{a} {b}: {err}");
    }
    // other addresses, or the other family of a specific address, are other sockets
    for (a, b) in [
        ("inet:127.0.0.1:8891", "inet:127.0.0.2:8891"),
        ("inet:127.0.0.1:8891", "inet:[::1]:8891"),
        ("inet:0.0.0.0:8891", "inet:[::1]:8891"),
        ("inet:0.0.0.0:8891", "inet:0.0.0.0:8892"),
    ] {
        let text =
            format!("[[server.listen]]\nsocket = \"{a}\"\n[[server.listen]]\nsocket = \"{b}\"\n");
        Config::parse(&text).unwrap();
    }
}

/// `dkim.expiration` becomes the signature's x= (RFC 6376 §3.5: `1*12DIGIT`, greater than
/// t=): a span under a second made every signer refuse its key ("expiry must be at least 1
/// second", naming the key file, not the setting), and a span that puts x= past 12 digits
/// (i64::MAX seconds) wrote signatures strict verifiers refuse. Under 1s and over 100 years are refused with the key
/// and line; "0s" (no x=) and ordinary spans are accepted.
#[test]
fn dkim_expiration_fits_the_x_tag() {
    for bad in ["\"500ms\"", "9223372036854775807", "\"36501d\""] {
        let text = format!("[dkim]\nverify = true\nexpiration = {bad}\n");
        let err = Config::parse(&text).unwrap_err().to_string();
        // over 100 years every duration key refuses at parsing, naming the line
        assert!(
            err.contains("dkim.expiration (line 3)") || err.contains("line 3"),
            "{bad}: {err}"
        );
    }
    for good in ["\"0s\"", "\"1s\"", "\"7d\"", "\"36500d\""] {
        Config::parse(&format!("[dkim]\nexpiration = {good}\n")).unwrap();
    }
}

/// A zero queue or batch size was refused as "reports.queue / batch_size / failure.queue" with
/// the line of the first `queue` in the file, or none when only batch_size was written: the
/// error names the one key and its line.
#[test]
fn a_zero_report_queue_names_its_key() {
    for (text, key) in [
        (
            "[reports]\nenabled = false\nbatch_size = 0\n",
            "reports.batch_size (line 3)",
        ),
        ("[reports]\n\nqueue = 0\n", "reports.queue (line 3)"),
        (
            "[reports]\nqueue = 5\n[reports.failure]\nqueue = 0\n",
            "reports.failure.queue (line 4)",
        ),
    ] {
        let err = Config::parse(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}

/// `{daemon_name}` is compared exactly: an entry with white space around it (" ORIGINATING")
/// or an empty one never matched, so our submission service's mail counted as inbound and went
/// out unsigned. Refused with key and line.
#[test]
fn daemon_names_are_one_word() {
    for bad in [
        "\" ORIGINATING\"",
        "\"\"",
        "\"ORIGINATING \"",
        "\"MSA\\tX\"",
    ] {
        let text = format!("[outbound]\ndaemon_names = [\"MSA\", {bad}]\n");
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("outbound.daemon_names[1] (line 2)"),
            "{text}: {err}"
        );
    }
    Config::parse("[outbound]\ndaemon_names = [\"ORIGINATING\", \"mail.example.com\"]\n").unwrap();
}

/// The per-message limits and the frame size have an upper bound each: a typo of a few digits
/// must not let one message cost thousands of DNS lookups and public-key operations, nor one
/// MTA connection gigabytes of buffer.
#[test]
fn per_message_limits_have_an_upper_bound() {
    for (text, key) in [
        (
            "[iprev]\nmax_names = 51\n",
            "iprev.max_names (line 2): at most 50",
        ),
        (
            "[dkim]\nmax_signatures = 51\n",
            "dkim.max_signatures (line 2): at most 50",
        ),
        (
            "[server]\nmax_packet_size = 67108865\n",
            "server.max_packet_size (line 2): at most 67108864",
        ),
    ] {
        let err = Config::parse(text).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    let largest = "[iprev]\nmax_names = 50\n[dkim]\nmax_signatures = 50\n\
                   [server]\nmax_packet_size = 67108864\n";
    assert!(
        Config::parse(largest).is_ok(),
        "{:?}",
        Config::parse(largest).err()
    );
}

/// A Unix socket is connected to only with write permission on it (unix(7)): a socket_mode with
/// no write bit (`"0000"`, `"0444"`) let no MTA connect, which serve found out only at the
/// first message.
#[test]
fn a_socket_mode_without_write_permission_is_refused() {
    for mode in ["0000", "0444", "0550"] {
        let text = format!("[server]\nsocket_mode = \"{mode}\"\n");
        let err = Config::parse(&text).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("server.socket_mode (line 2)"), "{mode}: {err}");
    }
    for mode in ["0660", "0600", "0620", "0666"] {
        let text = format!("[server]\nsocket_mode = \"{mode}\"\n");
        assert!(Config::parse(&text).is_ok(), "{mode}");
    }
}

/// `[arc] max_sets` bounds the work of one message's chain (RFC 8617 §9.2: two key lookups
/// and two signature checks per set): 10 by default, 1–50 (the protocol's limit, §4.2.1), and
/// it reaches the verifier.
#[test]
fn arc_max_sets_is_bounded_and_reaches_the_verifier() {
    assert_eq!(Config::default().arc.max_sets, 10);
    for bad in [0, 51] {
        let err = Config::parse(&format!("[arc]\nmax_sets = {bad}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("arc.max_sets (line 2)"), "{err}");
    }
    let config = Config::parse("[arc]\nmax_sets = 50\n").unwrap();
    assert_eq!(config.arc.max_sets, 50);
    let app = crate::app::App::new(
        Config::parse("[arc]\nmax_sets = 3\n").unwrap(),
        std::sync::Arc::new(dns::memory::MemoryResolver::new()),
    )
    .unwrap();
    assert_eq!(app.arc.options().max_sets, 3);
}

/// Two keys of one selector of one domain are one DNS record, however the domain is written
/// (case, trailing dot, U-labels): a rotation that reused the active key's selector would
/// replace that key's record. Refused, naming the record.
#[test]
fn two_keys_cannot_share_a_record() {
    let key = |name: &str, domain: &str, selector: &str| {
        format!(
            "[[dkim.key]]\nname = \"{name}\"\ndomain = \"{domain}\"\nselector = \"{selector}\"\npath = \"/k/{name}.pem\"\n"
        )
    };
    for (a, b) in [
        ("example.com", "Example.COM."),
        ("bücher.example", "xn--bcher-kva.example"),
    ] {
        let text = format!("{}{}", key("one", a, "202612"), key("two", b, "202612"));
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("is already dkim.key[0]'s record"),
            "{a} {b}: {err}"
        );
    }
    let text = format!(
        "{}{}",
        key("one", "bücher.example", "202612"),
        key("two", "xn--bcher-kva.example", "202612b")
    );
    Config::parse(&text).unwrap();
}

/// Our Authentication-Results field is US-ASCII: an internationalized authserv-id is written
/// in A-labels, and one that has no A-label form is refused by `config check`.
#[test]
fn an_internationalized_authserv_id_is_written_in_a_labels() {
    let listen = "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n";
    let config = Config::parse(&format!(
        "{listen}[authres]\nauthserv_id = \"MX.Bücher.example\"\n"
    ))
    .unwrap();
    assert_eq!(config.authres.our_id(), "mx.xn--bcher-kva.example");
    let config = Config::parse(&format!(
        "{listen}[authres]\nauthserv_id = \"mx.example.com\"\n"
    ))
    .unwrap();
    assert_eq!(config.authres.our_id(), "mx.example.com");
    let err = Config::parse(&format!(
        "{listen}[authres]\nauthserv_id = \"mx.\u{202e}example\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("authres.authserv_id (line"), "{err}");
}

/// A relative path passed `config check` run in the config's directory and failed under
/// systemd (working directory /): refused, as relative Unix socket paths are.
#[test]
fn files_are_named_by_absolute_paths() {
    let listen = "[[server.listen]]\nsocket = \"inet:127.0.0.1:8891\"\n";
    for (section, key_line, key) in [
        (
            "[[dkim.key]]\nname = \"k\"\ndomain = \"example.com\"\nselector = \"s\"\n",
            "path = \"keys/k.pem\"\n",
            "dkim.key[0].path",
        ),
        ("[srs]\n", "secrets = \"srs.secrets\"\n", "srs.secrets"),
        (
            "[dkim]\n",
            "state_file = \"state.json\"\n",
            "dkim.state_file",
        ),
        (
            "[dashboard]\n",
            "token_file = \"token\"\n",
            "dashboard.token_file",
        ),
        (
            "[reports]\n",
            "store = \"sqlite:reports.db\"\n",
            "reports.store",
        ),
    ] {
        let err = Config::parse(&format!("{listen}{section}{key_line}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains("relative path"), "{err}");
    }
    Config::parse(&format!("{listen}[dkim]\nstate_file = \"\"\n")).unwrap();
}

/// `[dkim] sign_headers` names header fields for h= (RFC 6376 §3.5; RFC 5322 §2.2 ftext):
/// OpenDKIM's delta syntax `["*", "+List-Unsubscribe"]` was accepted and signed only From
/// (no field is named "*" or "+List-Unsubscribe"). Delta entries, a ':' or ';' (';' ends the
/// h= tag), white space and non-ASCII are refused with the key and line; real names pass.
#[test]
fn sign_headers_must_be_header_field_names() {
    for bad in [
        "*",
        "+List-Unsubscribe",
        "-Bcc",
        "!Bcc",
        "Sub ject",
        "To:",
        "To;Cc",
        "",
        "Betreff\u{e4}",
    ] {
        let text = format!(
            "[dkim]\nverify = true\nsign_headers = [\"From\", {}]\n",
            toml::Value::String(bad.into())
        );
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("dkim.sign_headers[1] (line 3)"),
            "{bad:?}: {err}"
        );
        if bad.starts_with(['*', '+', '-', '!']) {
            assert!(err.contains("OpenDKIM"), "{bad:?}: no delta hint: {err}");
        }
    }
    Config::parse("[dkim]\nsign_headers = [\"From\", \"List-Unsubscribe\", \"X-Mailer_2\"]\n")
        .unwrap();
}
