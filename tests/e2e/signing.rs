//! Outbound signing through the running milter: who gets signed, with which keys, and that
//! the signatures verify once the MTA has inserted them.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::support::{Milter, message};

pub(super) struct Keys {
    _dir: tempfile::TempDir,
    toml: String,
    /// The keys' DNS records, as zone lines.
    pub(super) zone: String,
}

impl Keys {
    /// A configuration with one loopback listener of `role`, then `extra`, then the keys.
    pub(super) fn config(&self, role: &str, extra: &str) -> String {
        format!(
            "[[server.listen]]\nsocket = \"inet:127.0.0.1:0\"\nrole = \"{role}\"\n{extra}{}",
            self.toml
        )
    }
}

/// An RSA-2048 and an Ed25519 key for example.org, written to files, with their DNS records.
pub(super) fn keys(signing_rules: &str) -> Keys {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut toml = String::new();
    let mut zone = String::new();
    for (sel, alg) in [
        ("rsa2026", dkim::KeyAlgorithm::Rsa { bits: 2048 }),
        ("ed2026", dkim::KeyAlgorithm::Ed25519),
    ] {
        let k = dkim::generate_key(alg).expect("keygen");
        let path = dir.path().join(format!("{sel}.pem"));
        write_private(&path, k.private_key_pem.as_bytes());
        toml.push_str(&format!(
            "[[dkim.key]]\nname = \"{sel}\"\ndomain = \"example.org\"\nselector = \"{sel}\"\npath = \"{}\"\n",
            path.display()
        ));
        zone.push_str(&format!(
            "{sel}._domainkey.example.org TXT \"{}\"\n",
            k.record.text()
        ));
    }
    toml.push_str(signing_rules);
    Keys {
        _dir: dir,
        toml,
        zone,
    }
}

fn write_private(path: &Path, pem: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("key file");
    f.write_all(pem).expect("write key");
}

pub(super) fn outgoing(from: &str) -> Vec<u8> {
    message(&[
        &format!("From: Alice <alice@{from}>"),
        "To: bob@example.net",
        "Subject: signed, we hope",
        "Date: Sun, 22 Nov 2026 10:00:00 +0000",
        "Message-ID: <2@example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Hello   with  spaces and a trailing blank line",
        "",
        "",
    ])
}

/// The message as the MTA will store it: inserted headers on top, in the order they end up.
pub(super) fn as_delivered(outcome: &testkit::EomOutcome, raw: &[u8]) -> Vec<u8> {
    let mut top: Vec<String> = Vec::new();
    for (index, name, value) in outcome.added_headers() {
        assert_eq!(index, Some(0), "signatures go to the top");
        let value = String::from_utf8_lossy(value).replace('\n', "\r\n");
        // each insert at 0 lands above the previous ones
        top.insert(
            0,
            format!("{}: {}\r\n", String::from_utf8_lossy(name), value),
        );
    }
    let mut out = top.concat().into_bytes();
    out.extend_from_slice(raw);
    out
}

async fn verify(m: &Milter, delivered: &[u8]) -> Vec<dkim::SignatureResult> {
    dkim::verify_message(&m.app.dkim, &*m.dns, delivered, dkim::unix_now()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_listener_adds_rsa_and_ed25519_signatures_that_verify() {
    let k = keys("[[dkim.signing]]\nfrom = \"example.org\"\nkeys = [\"rsa2026\", \"ed2026\"]\n");
    let toml = k.config("sign", "");
    let m = Milter::start(&toml, &k.zone).await;
    let mut mta = m.postfix().await;
    let raw = outgoing("example.org");
    mta.connect(
        "submit.example.org",
        "203.0.113.5".parse().unwrap(),
        587,
        &[],
    )
    .await
    .expect("connect");
    mta.helo("laptop", &[]).await.expect("helo");
    let out = mta
        .send_transaction("<alice@example.org>", &["<bob@example.net>"], &raw)
        .await
        .expect("message");
    assert!(out.is_accept());
    let names: Vec<_> = out
        .added_headers()
        .iter()
        .map(|(_, n, _)| n.to_vec())
        .collect();
    assert_eq!(
        names,
        vec![b"DKIM-Signature".to_vec(), b"DKIM-Signature".to_vec()]
    );
    assert!(
        out.added_header("Authentication-Results").is_none(),
        "no checks on a sign listener"
    );
    for (_, _, v) in out.added_headers() {
        for line in String::from_utf8_lossy(v).split('\n') {
            assert!(line.len() < 100, "folded: {line:?}");
        }
    }
    let delivered = as_delivered(&out, &raw);
    let results = verify(&m, &delivered).await;
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.result, dkim::DkimResult::Pass, "{r:?}");
        assert_eq!(r.domain, "example.org");
    }
    let mut algs: Vec<_> = results
        .iter()
        .map(|r| r.algorithm.map(|a| a.as_str()))
        .collect();
    algs.sort();
    assert_eq!(algs, vec![Some("ed25519-sha256"), Some("rsa-sha256")]);
    // one byte changed in the body: both fail
    let mut tampered = delivered.clone();
    let n = tampered.len() - 8;
    tampered[n] ^= 0x20;
    for r in verify(&m, &tampered).await {
        assert_eq!(r.result, dkim::DkimResult::Fail, "{r:?}");
    }
    m.stop().await;
}

/// A 300 KB body reaches the milter in five 64 KiB BODY frames, each handed to the body hash in
/// pieces as it arrives (the server reads 16 KiB at a time): the signatures still cover exactly
/// the body, so they verify, and fail when one byte of it changes.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_of_several_frames_is_signed_as_sent() {
    let k = keys("[[dkim.signing]]\nfrom = \"example.org\"\nkeys = [\"rsa2026\", \"ed2026\"]\n");
    let toml = k.config("sign", "");
    let m = Milter::start(&toml, &k.zone).await;
    let mut mta = m.postfix().await;
    let mut raw = outgoing("example.org");
    for i in 0..7_500 {
        raw.extend_from_slice(format!("line {i:05} of a long body,  with\ttabs  \r\n").as_bytes());
    }
    assert!(raw.len() > 4 * 65_535, "{}", raw.len());
    mta.connect(
        "submit.example.org",
        "203.0.113.5".parse().unwrap(),
        587,
        &[],
    )
    .await
    .expect("connect");
    mta.helo("laptop", &[]).await.expect("helo");
    let out = mta
        .send_transaction("<alice@example.org>", &["<bob@example.net>"], &raw)
        .await
        .expect("message");
    assert!(out.is_accept());
    let delivered = as_delivered(&out, &raw);
    let results = verify(&m, &delivered).await;
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.result, dkim::DkimResult::Pass, "{r:?}");
    }
    let mut tampered = delivered.clone();
    let n = tampered.len() - 100_000;
    tampered[n] ^= 0x20;
    for r in verify(&m, &tampered).await {
        assert_eq!(r.result, dkim::DkimResult::Fail, "{r:?}");
    }
    m.stop().await;
}

/// `[outbound] authenticated_from = "login-domain"` (a hosting server's users): an SMTP AUTH
/// login gets signatures only for its own domain and below; a login without a domain, or
/// one of another domain, is delivered unsigned; a client ours by its network is unaffected.
#[tokio::test(flavor = "multi_thread")]
async fn login_domain_rule_signs_only_the_logins_own_domain() {
    let k = keys("");
    let toml = k.config(
        "auto",
        "[outbound]\nauthenticated_from = \"login-domain\"\ninternal_networks = [\"10.0.0.0/8\"]\n",
    );
    let m = Milter::start(&toml, &k.zone).await;
    let raw = outgoing("example.org");
    for (login, client, signed) in [
        (Some("alice@example.org"), "203.0.113.5", true),
        (Some("ALICE@Example.ORG"), "203.0.113.5", true),
        (Some("alice"), "203.0.113.5", false),
        (Some("mallory@evil.example"), "203.0.113.5", false),
        (Some("mallory@notexample.org"), "203.0.113.5", false),
        (None, "10.1.2.3", true),
    ] {
        let mut mta = m.postfix().await;
        mta.connect("x.example", client.parse().unwrap(), 1, &[])
            .await
            .expect("connect");
        let macros: Vec<(&str, &str)> = login
            .map(|l| vec![("{auth_authen}", l)])
            .unwrap_or_default();
        mta.mail("<alice@example.org>", &[], &macros)
            .await
            .expect("mail");
        mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
        let out = mta.send_message(&raw).await.expect("message");
        assert!(out.is_accept(), "{login:?}: {out:?}");
        assert_eq!(
            out.added_header("DKIM-Signature").is_some(),
            signed,
            "{login:?} from {client}: {out:?}"
        );
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_role_signs_our_users_only() {
    let k = keys("");
    let toml = k.config("auto", "");
    let m = Milter::start(&toml, &k.zone).await;
    let raw = outgoing("example.org");

    // SMTP AUTH: signed with both keys (no rules: each key signs its own domain)
    let mut mta = m.postfix().await;
    mta.connect("x.example", "203.0.113.5".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    mta.mail("<alice@example.org>", &[], &[("{auth_authen}", "alice")])
        .await
        .expect("mail");
    mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
    let out = mta.send_message(&raw).await.expect("message");
    assert_eq!(out.added_headers().len(), 2, "{out:?}");

    // the submission service named by {daemon_name}
    let mut mta = m.postfix().await;
    mta.connect(
        "x.example",
        "203.0.113.5".parse().unwrap(),
        1,
        &[("{daemon_name}", "ORIGINATING")],
    )
    .await
    .expect("connect");
    let out = mta
        .send_transaction("<alice@example.org>", &["<bob@example.net>"], &raw)
        .await
        .expect("message");
    assert!(out.added_header("DKIM-Signature").is_some());

    // an internal network (127.0.0.1 by default), e.g. Postfix non_smtpd / sendmail(1)
    let mut mta = m.client(testkit::Profile::postfix_non_smtpd()).await;
    mta.connect("localhost", "127.0.0.1".parse().unwrap(), 0, &[])
        .await
        .expect("connect");
    let out = mta
        .send_transaction("alice@example.org", &["bob@example.net"], &raw)
        .await
        .expect("message");
    assert!(out.added_header("DKIM-Signature").is_some());

    // a stranger: verified, not signed
    let mut mta = m.postfix().await;
    mta.connect("x.example", "203.0.113.5".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    let out = mta
        .send_transaction("<alice@example.org>", &["<bob@example.net>"], &raw)
        .await
        .expect("message");
    assert!(out.added_header("DKIM-Signature").is_none());
    assert!(out.added_header("Authentication-Results").is_some());

    // our user writing from a domain we have no key for: accepted unsigned
    let mut mta = m.postfix().await;
    mta.connect("x.example", "203.0.113.5".parse().unwrap(), 1, &[])
        .await
        .expect("connect");
    mta.mail(
        "<alice@elsewhere.example>",
        &[],
        &[("{auth_authen}", "alice")],
    )
    .await
    .expect("mail");
    mta.rcpt("<bob@example.net>", &[], &[]).await.expect("rcpt");
    let out = mta
        .send_message(&outgoing("elsewhere.example"))
        .await
        .expect("message");
    assert!(out.is_accept());
    assert!(out.added_headers().is_empty());
    m.stop().await;
}

/// RFC 5322 §3.6, RFC 6376 §8.15: a message whose author is ambiguous (two From fields, or
/// one From with addresses in two domains) is accepted unsigned: our `d=` never vouches for
/// an author readers may see as someone else.
#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_from_is_accepted_unsigned() {
    let k = keys("");
    let toml = k.config("sign", "");
    let m = Milter::start(&toml, &k.zone).await;
    let body = [
        "To: bob@example.net",
        "Subject: who wrote this?",
        "",
        "hi",
        "",
    ];
    for from in [
        vec!["From: alice@example.org", "From: ceo@victim.example"],
        vec!["From: alice@example.org, ceo@victim.example"],
    ] {
        let lines: Vec<&str> = from.iter().copied().chain(body).collect();
        let mut mta = m.postfix().await;
        mta.connect("x", "203.0.113.5".parse().unwrap(), 1, &[])
            .await
            .expect("connect");
        let out = mta
            .send_transaction(
                "<alice@example.org>",
                &["<bob@example.net>"],
                &message(&lines),
            )
            .await
            .expect("message");
        assert!(out.is_accept(), "{from:?}: {out:?}");
        assert!(
            out.added_header("DKIM-Signature").is_none(),
            "{from:?}: {out:?}"
        );
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_table_patterns_pick_keys() {
    let k = keys(
        "[[dkim.signing]]\nfrom = \"*.example.org\"\nkeys = [\"ed2026\"]\n\
         [[dkim.signing]]\nfrom = \"example.org\"\nkeys = [\"rsa2026\"]\n",
    );
    let toml = k.config("sign", "");
    let m = Milter::start(&toml, &k.zone).await;
    let cases = [
        ("news.example.org", "a=ed25519-sha256"),
        ("example.org", "a=rsa-sha256"),
    ];
    for (from, want) in cases {
        let mut mta = m.postfix().await;
        mta.connect("x", "203.0.113.5".parse().unwrap(), 1, &[])
            .await
            .expect("connect");
        let out = mta
            .send_transaction(
                &format!("<a@{from}>"),
                &["<b@example.net>"],
                &outgoing(from),
            )
            .await
            .expect("message");
        let sigs: Vec<_> = out.added_headers();
        assert_eq!(sigs.len(), 1, "{from}: {out:?}");
        let v = String::from_utf8_lossy(sigs[0].2);
        assert!(v.contains(want), "{from}: {v}");
        assert!(v.contains("d=example.org"), "{from}: {v}");
    }
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_or_bad_key_is_a_startup_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a key").expect("write");
    let toml = format!(
        "[[dkim.key]]\ndomain = \"example.org\"\nselector = \"s\"\npath = \"{}\"\n",
        bad.display()
    );
    let config = authmilter::config::Config::parse(&toml).expect("parses");
    let err = authmilter::app::App::new(
        config,
        std::sync::Arc::new(dns::memory::MemoryResolver::new()),
    )
    .err()
    .expect("refused");
    assert!(format!("{err:#}").contains("bad.pem"), "{err:#}");
}

/// A header line that ends in a lone CR before a fold (`Subject: hello<CR><CR><LF><TAB>world`):
/// the MTA strips one CR of the line end and hands the value as `hello<CR><LF><TAB>world`,
/// the CR being data and the LF its fold. Our signature must be over the field as it is
/// delivered (`hello<CR>` CRLF TAB `world`), so that verifiers downstream pass it (RFC 6376
/// §3.4.2 unfolds a CRLF only; the lone CR stays), with `c=relaxed` and `c=simple`.
#[tokio::test(flavor = "multi_thread")]
async fn a_lone_cr_before_a_fold_is_signed_as_delivered() {
    for canon in ["relaxed/relaxed", "simple/simple"] {
        let k = keys("[[dkim.signing]]\nfrom = \"example.org\"\nkeys = [\"rsa2026\"]\n");
        let toml = k.config("sign", &format!("[dkim]\ncanonicalization = \"{canon}\"\n"));
        let m = Milter::start(&toml, &k.zone).await;
        let mut mta = m.postfix().await;
        mta.connect(
            "submit.example.org",
            "203.0.113.5".parse().unwrap(),
            587,
            &[],
        )
        .await
        .expect("connect");
        mta.helo("laptop", &[]).await.expect("helo");
        let raw = message(&[
            "From: Alice <alice@example.org>",
            "To: bob@example.net",
            "Subject: hello\r",
            "\tworld",
            "Date: Sun, 22 Nov 2026 10:00:00 +0000",
            "",
            "body",
        ]);
        let out = mta
            .send_transaction("<alice@example.org>", &["<bob@example.net>"], &raw)
            .await
            .expect("message");
        assert!(out.is_accept(), "{out:?}");
        let delivered = as_delivered(&out, &raw);
        assert!(delivered.windows(9).any(|w| w == b"hello\r\r\n\t"));
        let results = verify(&m, &delivered).await;
        assert_eq!(results.len(), 1);
        assert_eq!(
            results[0].result,
            dkim::DkimResult::Pass,
            "{canon}: {results:?}"
        );
        m.stop().await;
    }
}

/// Only the topmost verdict of our hosts can authenticate a re-submitted message's author: we
/// write ours above every field the sender brought, which may claim any authserv-id (RFC 8601
/// §5). A stranger's field of a `trusted_ids` upstream saying `dmarc=pass`, or one of our own
/// id below ours (`remove_forged = false`), unlocked our keys for a redirected forgery that our
/// own verdict left unauthenticated (`dmarc=none`: our domain publishes no DMARC record).
#[tokio::test(flavor = "multi_thread")]
async fn only_our_topmost_verdict_authenticates_a_redirected_message() {
    let k = keys("");
    let ours = "Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=a@other.example; dmarc=none header.from=example.org\r\n";
    for (authres, forged) in [
        (
            "[authres]\nauthserv_id = \"mx.test.example\"\ntrusted_ids = [\"border.test.example\"]\ntrusted_clients = [\"192.0.2.0/24\"]\n",
            "Authentication-Results: border.test.example; dmarc=pass header.from=example.org\r\n",
        ),
        (
            "[authres]\nauthserv_id = \"mx.test.example\"\ntrusted_ids = [\"border.test.example\"]\n",
            "Authentication-Results: border.test.example; spf=pass smtp.mailfrom=ceo@example.org\r\n",
        ),
        (
            "[authres]\nauthserv_id = \"mx.test.example\"\nremove_forged = false\n",
            "Authentication-Results: mx.test.example; dmarc=pass header.from=example.org\r\n",
        ),
    ] {
        let m = Milter::start(&k.config("auto", authres), &k.zone).await;
        // the sender's field below our verdict: withheld
        assert!(
            !resubmitted_with_fields_is_signed(&m, &format!("{ours}{forged}")).await,
            "{authres}{forged}"
        );
        // our verdict authenticated the author: signed, whatever lies below
        let passed = "Authentication-Results: mx.test.example; dkim=pass header.d=example.org; dmarc=pass header.from=example.org\r\n";
        assert!(
            resubmitted_with_fields_is_signed(&m, &format!("{passed}{ours}")).await,
            "{authres}"
        );
        m.stop().await;
    }
}

/// A stranger's forgery of our domain, judged `dmarc=fail` on the way in and delivered
/// (enforcement off), comes back from our own side when a Sieve or procmail redirect
/// re-submits it through sendmail(1): our own verdict in it keeps our keys from signing it
/// (the field itself is still removed, as every field claiming our id is) unless it
/// authenticated the From domain (`dmarc=pass`, or an aligned SPF/DKIM pass where DMARC said
/// none or nothing). Another domain's verdict or another host's changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_redirected_forgery_we_judged_is_not_signed() {
    let k = keys("");
    let m = Milter::start(&k.config("auto", ""), &k.zone).await;
    let body = "From: ceo@example.org\r\nTo: bob@example.net\r\nSubject: pay\r\n\r\nnow\r\n";
    let signed = |verdict: &'static str| resubmitted_is_signed(&m, verdict);
    assert!(
        !signed("mx.test.example; dmarc=fail (p=reject dis=none) header.from=example.org").await
    );
    assert!(!signed("MX.TEST.EXAMPLE; spf=fail; dmarc=fail header.from=Example.ORG").await);
    assert!(signed("mx.test.example; dmarc=pass header.from=example.org").await);
    // a verdict on another From: the From changed since. A list on our host rewrote an
    // authenticated post's From to its own: signed; after a verdict that authenticated
    // nothing (canonical maps rewrote a host name's address to ours): withheld
    assert!(signed("mx.test.example; dmarc=pass header.from=other.example").await);
    assert!(!signed("mx.test.example; dmarc=fail header.from=other.example").await);
    assert!(!signed("mx.test.example; dmarc=none header.from=srv1.hosting.example").await);
    assert!(signed("mx.other.example; dmarc=fail header.from=example.org").await);
    // our domain publishes no DMARC record (`dmarc=none`), or our verdict has no dmarc=
    // (`[dmarc] enabled = false`), or it was undecided: only an aligned SPF or DKIM pass
    // authenticated the author (session review F2: a redirected forgery was signed)
    for unauthenticated in [
        "mx.test.example; spf=pass smtp.mailfrom=a@other.example; dkim=none; dmarc=none header.from=example.org",
        "mx.test.example; spf=pass smtp.mailfrom=a@other.example; dkim=pass header.d=other.example",
        "mx.test.example; dmarc=temperror header.from=example.org",
    ] {
        assert!(!signed(unauthenticated).await, "{unauthenticated}");
    }
    for authenticated in [
        "mx.test.example; spf=pass smtp.mailfrom=bounce@mail.example.org; dmarc=none header.from=example.org",
        "mx.test.example; dkim=pass header.d=example.org header.s=s1",
        "mx.test.example; dkim=pass header.i=@Example.ORG; dmarc=temperror header.from=example.org",
        // judged nothing: our submission host's stamp on a user's own mail (RFC 8601 §2.7.4)
        "mx.test.example; auth=pass smtp.auth=alice",
        "mx.test.example; none",
    ] {
        assert!(signed(authenticated).await, "{authenticated}");
    }
    m.stop().await;
    // the verdict of another host of ours (remove_ids: the MX, when this is the mailbox
    // host) or of an upstream we trust counts as ours; so does our own when forged fields
    // are not removed (remove_forged = false)
    for authres in [
        "[authres]\nauthserv_id = \"mbox.test.example\"\nremove_ids = [\"mx.test.example\"]\n",
        "[authres]\nauthserv_id = \"mbox.test.example\"\ntrusted_ids = [\"mx.test.example\"]\n",
        "[authres]\nauthserv_id = \"mx.test.example\"\nremove_forged = false\n",
    ] {
        let m = Milter::start(&k.config("auto", authres), &k.zone).await;
        let mut mta = m.client(testkit::Profile::postfix_non_smtpd()).await;
        mta.connect("localhost", "127.0.0.1".parse().unwrap(), 0, &[])
            .await
            .expect("connect");
        let raw = format!(
            "Authentication-Results: mx.test.example; dmarc=fail (p=reject dis=none) header.from=example.org\r\n{body}"
        );
        let out = mta
            .send_transaction("user@example.org", &["bob@example.net"], raw.as_bytes())
            .await
            .expect("message");
        assert!(out.is_accept(), "{out:?}");
        assert!(out.added_header("DKIM-Signature").is_none(), "{authres}");
        m.stop().await;
    }
}

/// Postfix rewrites the From of mail re-submitted through sendmail(1): it adds one where there
/// was none, appends its own domain to an address without one, and masquerades subdomains
/// (ADDRESS_REWRITING_README). Our inbound verdict was about the From as it came — no From,
/// an unusable one, or a subdomain of ours — and the re-submitted forgery now claims our
/// domain itself: a verdict of ours about no usable From, the author or a subdomain of it
/// judged it, and only a pass authenticates it. A verdict about another domain that passed
/// is a list's rewrite and signs.
#[tokio::test(flavor = "multi_thread")]
async fn a_from_rewritten_after_our_verdict_is_not_signed_unless_it_passed() {
    let k = keys("");
    let m = Milter::start(&k.config("auto", ""), &k.zone).await;
    let signed = |verdict: &'static str| resubmitted_is_signed(&m, verdict);
    for unauthenticated in [
        // no From came in (Postfix added one)
        "mx.test.example; spf=fail smtp.mailfrom=example.org; dmarc=permerror reason=\"no From header field\"",
        // `From: CEO <ceo>` (Postfix appended its domain)
        "mx.test.example; dmarc=permerror reason=\"unparseable From: no @ in the From address\"",
        // a subdomain of ours (masquerade_domains made it the parent)
        "mx.test.example; dmarc=fail (p=reject dis=none) header.from=hq.example.org",
        "mx.test.example; spf=none smtp.mailfrom=hq.example.org; dmarc=none header.from=hq.example.org",
    ] {
        assert!(!signed(unauthenticated).await, "{unauthenticated}");
    }
    for authenticated in [
        "mx.test.example; dmarc=pass header.from=hq.example.org",
        "mx.test.example; dkim=pass header.d=example.org; dmarc=permerror reason=\"no From header field\"",
        // a list on our host rewrote another organization's From to its own
        "mx.test.example; dmarc=pass header.from=other.example",
    ] {
        assert!(signed(authenticated).await, "{authenticated}");
    }
    m.stop().await;
}

/// Re-submits ceo@example.org's message with `verdict` as its Authentication-Results, as
/// Postfix's pickup hands it over (sendmail(1) from localhost); whether our key signed it.
async fn resubmitted_is_signed(m: &Milter, verdict: &str) -> bool {
    resubmitted_with_fields_is_signed(m, &format!("Authentication-Results: {verdict}\r\n")).await
}

/// [`resubmitted_is_signed`] with these header `fields` (CRLF-ended) above the message.
async fn resubmitted_with_fields_is_signed(m: &Milter, fields: &str) -> bool {
    let body = "From: ceo@example.org\r\nTo: bob@example.net\r\nSubject: pay\r\n\r\nnow\r\n";
    let raw = format!("{fields}{body}");
    let mut mta = m.client(testkit::Profile::postfix_non_smtpd()).await;
    mta.connect("localhost", "127.0.0.1".parse().unwrap(), 0, &[])
        .await
        .expect("connect");
    let out = mta
        .send_transaction("user@example.org", &["bob@example.net"], raw.as_bytes())
        .await
        .expect("message");
    assert!(out.is_accept(), "{out:?}");
    out.added_header("DKIM-Signature").is_some()
}
