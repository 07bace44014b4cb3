//! The authmilter binary behind a real Postfix (AUTHMILTER_E2E=1; docs/testing-with-mtas.md).
//!
//! Each test starts its own stack (NSD, the sink, authmilter, a throwaway Postfix; see
//! `mta/mod.rs`), because each needs a different milter or Postfix configuration and some
//! assert that nothing at all was delivered or queued. A stack starts in about a second.

#[path = "mta/mod.rs"]
pub(crate) mod mta;

// ARC behind real Postfix: the trusted-sealer override and sealing.
#[path = "postfix_arc.rs"]
mod arc;

// Reports in behind real Postfix: stored, then delivered or discarded.
#[path = "postfix_reports_in.rs"]
mod reports_in;

// Signing, SRS and hostile mail behind real Postfix.
#[path = "postfix_hostile.rs"]
mod hostile;
#[path = "postfix_signing.rs"]
mod signing;
#[path = "postfix_srs.rs"]
mod srs;

use mta::{
    AUTHSERV_ID, Delivered, Listener, MilterSpec, PostfixSpec, SmtpService, Stack, StackSpec,
    compose, message_id,
};

/// DNS every inbound test uses (zone `example`):
/// - `plain.example`: nothing published (spf=none, dmarc=none);
/// - `pass.example`: SPF authorizes 127.0.0.1, DMARC p=reject (so it passes only by alignment);
/// - `strict.example`: SPF `-all`, DMARC p=reject (fails, and is rejected when enforcing).
const INBOUND_RECORDS: &str = "\
pass            IN TXT  \"v=spf1 ip4:127.0.0.1 -all\"
_dmarc.pass     IN TXT  \"v=DMARC1; p=reject\"
strict          IN TXT  \"v=spf1 -all\"
_dmarc.strict   IN TXT  \"v=DMARC1; p=reject\"
";

/// The inbound stack: Postfix service `in` with `smtpd_milters` pointing at a `verify`
/// listener on loopback TCP; DMARC enforcement on.
fn inbound_stack(name: &'static str) -> Stack {
    inbound_stack_with(name, Listener::inet("in", "verify"))
}

fn inbound_stack_with(name: &'static str, listener: Listener) -> Stack {
    Stack::start(StackSpec {
        name,
        records: INBOUND_RECORDS.into(),
        milter: MilterSpec {
            listeners: vec![listener],
            socketmap: false,
            extra: "[dmarc]\nenforce = true\n".into(),
        },
        postfix: PostfixSpec {
            services: vec![SmtpService::with_milter("in", "{milter:in}")],
            ..PostfixSpec::default()
        },
    })
}

/// Our Authentication-Results values (those whose authserv-id is ours).
fn our_authres(d: &Delivered) -> Vec<String> {
    d.message()
        .all("Authentication-Results")
        .into_iter()
        .filter(|v| v.starts_with(&format!("{AUTHSERV_ID};")))
        .map(str::to_string)
        .collect()
}

fn assert_accepted(stack: &Stack, sub: &mta::Submission) {
    assert!(
        sub.accepted(),
        "Postfix did not accept the message: {}\n{}",
        sub.final_reply(),
        stack.diagnostics()
    );
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_delivers_with_our_authentication_results_on_top() {
    if !mta::enabled() {
        return;
    }
    let stack = inbound_stack("top");
    let id = message_id("top");
    let msg = compose(
        "Alice <alice@plain.example>",
        "bob@remote.example",
        "A-R on top",
        &id,
        &[],
    );
    let sub = stack.submit("in", "alice@plain.example", &["bob@remote.example"], &msg);
    assert_accepted(&stack, &sub);
    let d = stack.delivered(&id);
    assert_eq!(d.mail_from, "alice@plain.example");
    assert_eq!(d.rcpts, ["bob@remote.example"]);
    let m = d.message();
    let first = m.headers.first().expect("delivered message has headers");
    assert!(
        first.is("Authentication-Results") && first.value.starts_with(&format!("{AUTHSERV_ID};")),
        "the first header is not our Authentication-Results: {:?}\n{}",
        m.names(),
        String::from_utf8_lossy(&d.data)
    );
    let received = m
        .headers
        .iter()
        .position(|h| h.is("Received") && h.value.contains(&format!("by {AUTHSERV_ID} (Postfix)")))
        .unwrap_or_else(|| panic!("no Received header of Postfix: {:?}", m.names()));
    assert!(received > 0, "Postfix's Received is above our header");
    assert_eq!(
        our_authres(&d).len(),
        1,
        "{:?}",
        m.all("Authentication-Results")
    );
    let ar = &first.value;
    for method in ["iprev=pass", "spf=none", "dmarc=none"] {
        assert!(ar.contains(method), "{method} missing from {ar:?}");
    }
    stack.assert_quiet_logs();
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_forged_authentication_results_are_removed() {
    if !mta::enabled() {
        return;
    }
    let stack = inbound_stack("forged");
    let id = message_id("forged");
    let msg = compose(
        "alice@plain.example",
        "bob@remote.example",
        "forged A-R",
        &id,
        &[
            "Authentication-Results: other.example; spf=pass smtp.mailfrom=plain.example",
            "Authentication-Results: mx.test.example; dmarc=pass header.from=plain.example",
            "Received: from elsewhere by other.example; Sun, 22 Nov 2026 11:59:00 +0000",
            "authentication-results: MX.TEST.EXAMPLE;\r\n\tdkim=pass header.d=plain.example",
            "Authentication-Results: other.example (2); none",
            "AUTHENTICATION-RESULTS \t:\tmx.test.example; arc=pass header.oldest-pass=0",
            "Authentication-Results: other.example (3); none",
            // our id as readers that decode encoded-words, or glue labels across CFWS and
            // quoted-pairs (OpenDMARC), read it
            "Authentication-Results: =?us-ascii?q?mx.test.example?=; dmarc=pass header.from=plain.example",
            "Authentication-Results: mx (c) . test . example; dmarc=pass header.from=plain.example",
            "Authentication-Results: mx\\.test.example; dmarc=pass header.from=plain.example",
        ],
    );
    let sub = stack.submit("in", "alice@plain.example", &["bob@remote.example"], &msg);
    assert_accepted(&stack, &sub);
    let d = stack.delivered(&id);
    let m = d.message();
    let all: Vec<&str> = m.all("Authentication-Results");
    let ours = our_authres(&d);
    assert_eq!(ours.len(), 1, "expected only our own header: {all:#?}");
    assert!(
        m.headers[0].is("Authentication-Results") && m.headers[0].value == ours[0],
        "our header is not on top: {:?}",
        m.names()
    );
    assert!(ours[0].contains("dmarc=none"), "ours: {:?}", ours[0]);
    assert!(
        !all.iter()
            .any(|v| v.to_ascii_lowercase().starts_with("mx.test.example")
                && v.contains("=pass header")),
        "a forged header survived: {all:#?}"
    );
    assert!(
        all.contains(&"other.example; spf=pass smtp.mailfrom=plain.example"),
        "the other host's header was removed: {all:#?}"
    );
    assert_eq!(all.len(), 4, "{all:#?}");
    assert!(
        all.contains(&"other.example (2); none") && all.contains(&"other.example (3); none"),
        "the other host's header was removed: {all:#?}"
    );
    assert!(
        m.all("Received")
            .iter()
            .any(|v| v.starts_with("from elsewhere by other.example")),
        "an unrelated header was lost"
    );
    stack.assert_quiet_logs();
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_dmarc_reject_reaches_the_smtp_client_as_550() {
    if !mta::enabled() {
        return;
    }
    let stack = inbound_stack("reject");
    let id = message_id("reject");
    let msg = compose(
        "The CEO <ceo@strict.example>",
        "bob@remote.example",
        "wire the money",
        &id,
        &[],
    );
    let sub = stack.submit("in", "bounce@strict.example", &["bob@remote.example"], &msg);
    let end = sub.end.clone().unwrap_or_else(|| {
        panic!(
            "the message was refused before end of DATA: {}\n{}",
            sub.final_reply(),
            stack.diagnostics()
        )
    });
    assert_eq!(end.code, 550, "end of DATA: {end}\n{}", stack.diagnostics());
    let text = end.text();
    assert!(
        text.contains("strict.example") && text.contains("DMARC"),
        "the 550 does not carry our text naming the domain: {end}"
    );
    assert!(text.starts_with("5.7.1"), "enhanced status code: {end}");
    // Nothing was queued ...
    let queued = stack.postfix.queued();
    assert!(queued.is_empty(), "Postfix queued files: {queued:?}");
    // ... and nothing is delivered: a later, passing message arrives, the rejected one never.
    let later = message_id("after-reject");
    let ok = compose(
        "alice@pass.example",
        "bob@remote.example",
        "later",
        &later,
        &[],
    );
    let sub = stack.submit("in", "alice@pass.example", &["bob@remote.example"], &ok);
    assert_accepted(&stack, &sub);
    stack.delivered(&later);
    let leaked: Vec<_> = stack
        .sink
        .messages()
        .into_iter()
        .filter(|m| m.contains(&id))
        .collect();
    assert!(leaked.is_empty(), "the rejected message was delivered");
    stack.assert_quiet_logs();
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_passing_message_gets_spf_and_dmarc_pass() {
    if !mta::enabled() {
        return;
    }
    let stack = inbound_stack("pass");
    let id = message_id("pass");
    let msg = compose(
        "Alice <alice@pass.example>",
        "bob@remote.example",
        "all good",
        &id,
        &[],
    );
    let sub = stack.submit("in", "alice@pass.example", &["bob@remote.example"], &msg);
    assert_accepted(&stack, &sub);
    let d = stack.delivered(&id);
    let ours = our_authres(&d);
    assert_eq!(ours.len(), 1, "{ours:?}");
    let ar = &ours[0];
    for part in [
        "spf=pass",
        "smtp.mailfrom=pass.example",
        "dmarc=pass",
        "header.from=pass.example",
        "iprev=pass",
        "dkim=none",
    ] {
        assert!(ar.contains(part), "{part} missing from {ar:?}");
    }
    stack.assert_quiet_logs();
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_talks_to_the_milter_over_a_unix_socket() {
    if !mta::enabled() {
        return;
    }
    // smtpd_milters = unix:/path; smtpd runs as user postfix, so this also proves the
    // socket's mode (server.socket_mode) lets the MTA in.
    let stack = inbound_stack_with("unix", Listener::unix("in", "verify"));
    assert!(stack.milter.socket("in").starts_with("unix:/"));
    let id = message_id("unix");
    let msg = compose("alice@pass.example", "bob@remote.example", "unix", &id, &[]);
    let sub = stack.submit("in", "alice@pass.example", &["bob@remote.example"], &msg);
    assert_accepted(&stack, &sub);
    let d = stack.delivered(&id);
    let m = d.message();
    assert!(
        m.headers[0].is("Authentication-Results")
            && m.headers[0].value.starts_with(&format!("{AUTHSERV_ID};"))
            && m.headers[0].value.contains("dmarc=pass"),
        "{:?}",
        m.headers.first()
    );
    stack.assert_quiet_logs();
}
