//! SRS at the pipeline's boundary: envelope addresses are bytes (RFC 5321 §2.4 without
//! SMTPUTF8 allows no 8-bit, but MTAs such as Postfix with `strict_smtputf8 = no` pass it on),
//! while the milter's changes are text.

use std::sync::Arc;

use super::{ClientInfo, MessagePipeline, RcptChange, StageMacros, StageReply};
use crate::app::App;
use crate::config::{Config, Role};
use crate::services::Services;

/// An app with SRS on (domain `fwd.example`, local `local.example`) and no DNS checks.
fn app(dir: &std::path::Path) -> Arc<App> {
    app_with(dir, "")
}

/// [`app`] with more `[srs]` settings.
fn app_with(dir: &std::path::Path, srs_extra: &str) -> Arc<App> {
    app_for(dir, "fwd.example", srs_extra)
}

/// [`app_with`] with `[srs] domain` written as `domain`.
fn app_for(dir: &std::path::Path, domain: &str, srs_extra: &str) -> Arc<App> {
    let secrets = dir.join("srs.secrets");
    std::fs::write(&secrets, "a-secret-for-the-test\n").unwrap();
    let toml = format!(
        "[authres]\nauthserv_id = \"mx.test.example\"\n\
         [spf]\nenabled = false\n[iprev]\nenabled = false\n\
         [dmarc]\nenabled = false\n[dkim]\nverify = false\n\
         [srs]\nenabled = true\ndomain = \"{domain}\"\nsecrets = \"{}\"\n\
         local_domains = [\"local.example\"]\n{srs_extra}",
        secrets.display()
    );
    let resolver: Arc<dyn dns::Resolver> =
        Arc::new(dns::memory::MemoryResolver::from_zone("").unwrap());
    Arc::new(App::new(Config::parse(&toml).unwrap(), resolver).unwrap())
}

/// One transaction through the pipeline: the RCPT replies and the decision.
fn run(app: &Arc<App>, from: &[u8], rcpts: &[&[u8]]) -> (Vec<bool>, super::Decision) {
    run_with(app, b" a@example.org", from, rcpts, &[])
}

/// [`run`] with this From field value, and `late` recipients added to the envelope without
/// the RCPT stage's check (accepted there, then no longer verifying by end of message).
fn run_with(
    app: &Arc<App>,
    header_from: &[u8],
    from: &[u8],
    rcpts: &[&[u8]],
    late: &[&[u8]],
) -> (Vec<bool>, super::Decision) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut p = MessagePipeline::new(Arc::clone(app), Services::none(), Role::Verify);
        p.connect(
            ClientInfo {
                hostname: "relay.example".into(),
                ip: Some([192, 0, 2, 1].into()),
                port: 25,
            },
            None,
        );
        p.helo(b"relay.example");
        let _ = p.mail(from, Vec::new(), &StageMacros::default());
        let accepted = rcpts
            .iter()
            .map(|r| matches!(p.rcpt(r, Vec::new()), StageReply::Continue))
            .collect();
        for r in late {
            p.current().state.add_recipient(r.to_vec(), Vec::new());
        }
        p.header(b"From", header_from);
        p.end_of_headers();
        p.body(b"body\r\n");
        let d = p.end_of_message().await;
        (accepted, (*d).clone())
    })
}

/// The SRS address our socketmap would make for `sender` (bytes in, bytes out).
fn srs_of(app: &App, sender: &[u8]) -> Vec<u8> {
    let srs = &app.srs.as_ref().unwrap().srs;
    match srs.forward_bytes(sender, b"fwd.example").unwrap() {
        srs::Forwarded::Rewritten(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_8bit_sender_is_never_rewritten_into_a_changed_address() {
    // Latin-1 "jérôme": read as text it became U+FFFD, so CHGFROM carried an SRS address of
    // another mailbox, and the bounce to it came back to "j\u{FFFD}r\u{FFFD}me@origin.example"
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (_, d) = run(
        &app,
        b"j\xe9r\xf4me@origin.example",
        &[b"bob@remote.example"],
    );
    if let Some(new) = &d.new_sender {
        let reversed = app.srs.as_ref().unwrap().srs.reverse(new);
        assert_eq!(
            reversed.as_deref().map(str::as_bytes),
            Ok(&b"j\xe9r\xf4me@origin.example"[..]),
            "CHGFROM {new:?} does not lead back to the sender"
        );
    }
    // the same name in UTF-8 (SMTPUTF8) is rewritten, and comes back
    let (_, d) = run(
        &app,
        "jérôme@origin.example".as_bytes(),
        &[b"bob@remote.example"],
    );
    let new = d.new_sender.expect("a UTF-8 sender is rewritten");
    let srs = &app.srs.as_ref().unwrap().srs;
    assert_eq!(srs.reverse(&new).as_deref(), Ok("jérôme@origin.example"));
}

#[test]
fn an_8bit_recipient_is_neither_refused_nor_replaced_by_another_address() {
    // a valid SRS address of ours with an 8-bit local part (the socketmap signs bytes, as
    // postsrsd): read as text its hash failed, and the bounce was refused with 550
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let bounce_to = srs_of(&app, b"j\xe9r\xf4me@origin.example");
    let (accepted, d) = run(&app, b"", &[&bounce_to]);
    assert_eq!(accepted, [true], "a valid SRS address refused at RCPT");
    assert!(
        matches!(d.verdict, super::Verdict::Accept),
        "{:?}",
        d.verdict
    );
    // DELRCPT must name the recipient the MTA has, byte for byte, or it deletes nothing
    for c in &d.recipients {
        if let RcptChange::Delete(old) = c {
            assert_eq!(old.as_bytes(), &bounce_to[..], "DELRCPT of another address");
        }
    }
}

#[test]
fn a_forged_8bit_srs_recipient_of_ours_is_still_refused() {
    // an 8-bit byte must not be a way around the refusal of forged SRS addresses at our SRS
    // domain (postsrsd's milter behaviour; docs/srs.md)
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let forged: &[u8] = b"SRS0=XXXX=2W=evil.example=vict\xefm@fwd.example";
    let (accepted, _) = run(
        &app,
        b"",
        &[forged, b"SRS0=XXXX=2W=x=\xff@elsewhere.example"],
    );
    assert_eq!(accepted, [false, true]);
}

#[test]
fn with_reverse_off_a_bad_srs_recipient_does_not_cancel_the_sender_rewrite() {
    // reverse = false: the milter neither restores nor refuses SRS recipients (docs/srs.md),
    // so one that does not verify must not change what happens to the sender of mail that
    // also goes elsewhere: it left unrewritten and failed SPF at the next hop
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "reverse = false\n");
    let (accepted, d) = run(
        &app,
        b"alice@origin.example",
        &[
            b"SRS0=XXXX=2W=evil.example=victim@fwd.example",
            b"bob@remote.example",
        ],
    );
    assert_eq!(accepted, [true, true]);
    assert!(
        matches!(d.verdict, super::Verdict::Accept),
        "{:?}",
        d.verdict
    );
    let new = d
        .new_sender
        .expect("the sender of forwarded mail is rewritten");
    assert!(new.starts_with("SRS0="), "{new}");
    assert!(d.recipients.is_empty(), "{:?}", d.recipients);
}

/// A bounce whose From aligns with our SRS domain and that nothing authenticated
/// (`MAILER-DAEMON@mx.fwd.example`): the sender rewrite is withheld (it would vouch for that
/// From at the next hop, RFC 9989 §4.4), but the recipient that is an SRS address of ours is
/// still restored to the original sender (docs/srs.md); withholding both lost the bounce.
#[test]
fn a_withheld_rewrite_still_restores_a_bounces_srs_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let srs_address = srs_of(&app, b"alice@example.org");
    let (accepted, d) = run_with(
        &app,
        b" MAILER-DAEMON@mx.fwd.example",
        b"",
        &[&srs_address],
        &[],
    );
    assert_eq!(accepted, [true]);
    assert!(d.new_sender.is_none());
    assert_eq!(
        d.recipients,
        [
            RcptChange::Delete(String::from_utf8(srs_address).unwrap()),
            RcptChange::Add("alice@example.org".into()),
        ]
    );
    // and a sender rewrite that would vouch for such a From is still withheld
    let (_, d) = run_with(
        &app,
        b" ceo@fwd.example",
        b"alice@origin.example",
        &[b"bob@remote.example"],
        &[],
    );
    assert!(d.new_sender.is_none(), "{:?}", d.new_sender);
    assert!(d.summary.contains("srs=withheld"), "{}", d.summary);
}

/// `[srs] domain` written with spaces or as an address makes SRS addresses at the bare domain
/// (the rewriter normalizes it); the check that withholds a rewrite vouching for a forged From
/// of that domain compared the raw setting and let the rewrite through.
#[test]
fn the_withholding_check_reads_the_srs_domain_as_the_rewriter_does() {
    for domain in [
        " fwd.example",
        "fwd.example ",
        "srs@fwd.example",
        "FWD.example",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let app = app_for(dir.path(), domain, "");
        let (_, d) = run_with(
            &app,
            b" ceo@fwd.example",
            b"alice@origin.example",
            &[b"bob@remote.example"],
            &[],
        );
        assert!(d.new_sender.is_none(), "{domain:?}: {:?}", d.new_sender);
        assert!(
            d.summary.contains("srs=withheld"),
            "{domain:?}: {}",
            d.summary
        );
    }
}

/// An SRS recipient that verified at RCPT and no longer does at end of message (the day
/// changed at midnight, a reload dropped the old secret) is left as it is; it refused the
/// whole message, the other recipients' mail included (docs/srs.md: a refusal is for that
/// recipient alone).
#[test]
fn a_recipient_that_stops_verifying_after_rcpt_does_not_refuse_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let stale: &[u8] = b"SRS0=XXXX=2W=example.org=alice@fwd.example";
    let (accepted, d) = run_with(
        &app,
        b" a@example.org",
        b"",
        &[b"other@dest.example"],
        &[stale],
    );
    assert_eq!(accepted, [true]);
    assert!(
        matches!(d.verdict, super::Verdict::Accept),
        "{:?}",
        d.verdict
    );
    assert!(d.recipients.is_empty(), "{:?}", d.recipients);
}
