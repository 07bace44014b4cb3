//! Authentication-Results of our own upstream hosts (`[authres] trusted_ids`): the SPF result a
//! border MX recorded replaces our own check, which sees only the relay, and only when that
//! header can be the border's (RFC 8601 §5).

use milter_proto::Response;

use crate::inbound::{key, zone};
use crate::support::{LISTEN_VERIFY, Milter, authres, message, transaction};

/// `raw` from client `ip` (HELO forged.example, alice@example.org to b@example.net).
async fn from_client(m: &Milter, ip: &str, raw: &[u8]) -> testkit::EomOutcome {
    let mut mta = m.postfix().await;
    transaction(
        &mut mta,
        ip,
        "forged.example",
        "alice@example.org",
        "b@example.net",
        raw,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn spf_from_a_trusted_upstream_host_replaces_our_own() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=reject");
    let with_upstream = |id: &str| {
        message(&[
            &format!("Authentication-Results: {id};"),
            "\tspf=pass smtp.mailfrom=alice@example.org",
            "From: alice@example.org",
            "Subject: relayed by our border MX",
            "",
            "x",
        ])
    };
    let toml = format!(
        "{LISTEN_VERIFY}[dmarc]\nenforce = true\n[spf]\nreceived_spf_header = true\n\
         [authres]\nauthserv_id = \"mx.test.example\"\ntrusted_ids = [\"border.test.example\"]\n"
    );
    let m = Milter::start(&toml, &z).await;
    // the relay's address fails SPF, but the border host saw the real client pass
    let out = from_client(&m, "198.51.100.99", &with_upstream("border.test.example")).await;
    assert!(out.is_accept(), "{out:?}");
    let ar = authres(&out);
    assert!(ar.contains("spf=pass (from border.test.example)"), "{ar}");
    assert!(ar.contains("dmarc=pass"), "{ar}");
    // we checked nothing for the relay's address: no Received-SPF of ours says it was
    // designated (RFC 7208 §9.1 records this receiver's check of client-ip)
    assert_eq!(out.added_header("Received-SPF"), None, "{out:?}");
    // the same claim from an id we do not trust changes nothing
    let out = from_client(&m, "198.51.100.99", &with_upstream("attacker.example")).await;
    assert!(
        matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
        "{out:?}"
    );
    m.stop().await;
}

/// A header that claims our own authserv-id (or one of `remove_ids`) is forged by definition
/// (RFC 8601 §5): it is never trusted, even when `trusted_ids` lists that id, as a config
/// migrated from OpenDMARC (`TrustedAuthservIDs` = `AuthservID`) does.
#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_header_claiming_our_own_id_is_never_trusted() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=reject");
    let with_upstream = |id: &str| {
        message(&[
            &format!("Authentication-Results: {id};"),
            "\tspf=pass smtp.mailfrom=alice@example.org",
            "From: alice@example.org",
            "Subject: forged by the client",
            "",
            "x",
        ])
    };
    let toml = format!(
        "{LISTEN_VERIFY}[dmarc]\nenforce = true\n[authres]\nauthserv_id = \"mx.test.example\"\n\
         remove_ids = [\"old.test.example\"]\n\
         trusted_ids = [\"MX.test.example.\", \"old.test.example\", \"border.test.example\"]\n"
    );
    let m = Milter::start(&toml, &z).await;
    for id in ["mx.test.example", "old.test.example"] {
        let out = from_client(&m, "198.51.100.99", &with_upstream(id)).await;
        assert!(
            matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
            "{id}: {out:?}"
        );
    }
    m.stop().await;
}

/// `[authres] trusted_clients`: a trusted upstream header is used only on mail from the listed
/// clients (the border MXs); the same header on mail from any other client, which reached us
/// directly and could write it, is ignored and our own SPF check decides.
#[tokio::test(flavor = "multi_thread")]
async fn trusted_headers_count_only_from_trusted_clients() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=reject");
    let raw = message(&[
        "Authentication-Results: border.test.example;",
        "\tspf=pass smtp.mailfrom=alice@example.org",
        "From: alice@example.org",
        "Subject: relayed, or not",
        "",
        "x",
    ]);
    let toml = format!(
        "{LISTEN_VERIFY}[dmarc]\nenforce = true\n\
         [authres]\nauthserv_id = \"mx.test.example\"\ntrusted_ids = [\"border.test.example\"]\n\
         trusted_clients = [\"198.51.100.0/24\"]\n"
    );
    let m = Milter::start(&toml, &z).await;
    // from the border MX (its address fails SPF as a relay does): the border's result counts
    let out = from_client(&m, "198.51.100.99", &raw).await;
    assert!(out.is_accept(), "{out:?}");
    assert!(
        authres(&out).contains("spf=pass (from border.test.example)"),
        "{out:?}"
    );
    // the same header from a client that is not the border: our own check (fail), rejected
    let out = from_client(&m, "203.0.113.7", &raw).await;
    assert!(
        matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
        "{out:?}"
    );
    m.stop().await;
}

/// Only a header whose authserv-id IS a trusted one, as an RFC 8601 §2.2 reader reads it
/// (token or quoted-string, ASCII case aside), is the upstream host's (RFC 8601 §5, §7.2). The
/// loose match that finds forged headers of our own id (invisible and white-space characters,
/// a trailing dot, encoded-words, junk after the id) would make an id an upstream host does not
/// remove look like its own: `\u{a0}border.test.example` is another id to every reader.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_that_only_looks_like_a_trusted_one_is_not_trusted() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=reject");
    let with_upstream = |id: &str, result: &str| {
        message(&[
            &format!("Authentication-Results: {id};"),
            &format!("\tspf=pass smtp.mailfrom=alice@example.org{result}"),
            "From: alice@example.org",
            "Subject: relayed, or not",
            "",
            "x",
        ])
    };
    let toml = format!(
        "{LISTEN_VERIFY}[dmarc]\nenforce = true\n\
         [authres]\nauthserv_id = \"mx.test.example\"\ntrusted_ids = [\"border.test.example\"]\n"
    );
    let m = Milter::start(&toml, &z).await;
    for id in [
        "\u{a0}border.test.example",
        "border.test.example\u{200b}",
        "bor\u{ad}der.test.example",
        "\"border.test.example \"",
        "\" border.test.example\"",
        "border.test.example.",
        "=?us-ascii?q?border.test.example?=",
    ] {
        let out = from_client(&m, "198.51.100.99", &with_upstream(id, "")).await;
        assert!(
            matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
            "{id:?}: {out:?}"
        );
    }
    // a field of the trusted id that only the lenient parser reads (a vendor item without a
    // ptype) is not used for trust either (docs: parse_lenient is not for trust decisions)
    let out = from_client(
        &m,
        "198.51.100.99",
        &with_upstream("border.test.example", " action=none"),
    )
    .await;
    assert!(
        matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
        "vendor item: {out:?}"
    );
    // the same id quoted, or in other ASCII case, is the same id (RFC 8601 §2.2 `value`)
    for id in ["\"border.test.example\"", "BORDER.Test.Example"] {
        let out = from_client(&m, "198.51.100.99", &with_upstream(id, "")).await;
        assert!(out.is_accept(), "{id:?}: {out:?}");
        assert!(authres(&out).contains("spf=pass (from "), "{id:?}: {out:?}");
    }
    m.stop().await;
}

/// RFC 8601 §2.6: a reader that finds an authres-version it does not know stops reading the
/// field, and SHOULD ignore a method result of a method-version it does not support: an
/// upstream `spf=` under version 2 (or one too large to read) is not ours to use.
#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_result_of_an_unknown_version_is_not_used() {
    let (_, record) = key();
    let z = zone(&record, "v=DMARC1; p=reject");
    let with_upstream = |id_and_version: &str, method: &str| {
        message(&[
            &format!("Authentication-Results: {id_and_version};"),
            &format!("\t{method}=pass smtp.mailfrom=alice@example.org"),
            "From: alice@example.org",
            "Subject: relayed by our border MX",
            "",
            "x",
        ])
    };
    let toml = format!(
        "{LISTEN_VERIFY}[dmarc]\nenforce = true\n\
         [authres]\nauthserv_id = \"mx.test.example\"\ntrusted_ids = [\"border.test.example\"]\n"
    );
    let m = Milter::start(&toml, &z).await;
    for (id, method) in [
        ("border.test.example 2", "spf"),
        ("border.test.example 4294967297", "spf"),
        ("border.test.example 99999999999999999999", "spf"),
        ("border.test.example", "spf/2"),
    ] {
        let out = from_client(&m, "198.51.100.99", &with_upstream(id, method)).await;
        assert!(
            matches!(&out.final_response, Response::ReplyCode(r) if r.code() == 550),
            "{id} {method}: {out:?}"
        );
    }
    // version 1, said or implied, is this one
    for (id, method) in [
        ("border.test.example 1", "spf/1"),
        ("border.test.example", "spf"),
    ] {
        let out = from_client(&m, "198.51.100.99", &with_upstream(id, method)).await;
        assert!(out.is_accept(), "{id} {method}: {out:?}");
    }
    m.stop().await;
}
