//! Classes about Authentication-Results fields: identities that carry `;dmarc=pass` into ours,
//! and forged fields under our authserv-id.

use super::*;

pub(super) fn authres_injection() -> Vec<Case> {
    let c = |n| case("authres-injection", n);
    let inj = |mut e: Expect| {
        e.single_dmarc = true;
        e
    };
    vec![
        c("a MAIL FROM local part that carries ;dmarc=pass")
            .dmarc("enforce = false")
            .mail_from("\"x;dmarc=pass\"@evil.example")
            .expect_with(inj(expect("accept", "fail"))),
        c("a DKIM d= that carries ;dmarc=pass")
            .dmarc("enforce = false")
            .raw(b"DKIM-Signature: v=1; a=rsa-sha256; d=evil.example\\;dmarc=pass; s=s; h=from; bh=AAAA; b=AAAA\r\nFrom: ceo@bank.example\r\n\r\nbody\r\n")
            .expect_with(inj(expect("accept", "fail"))),
        c("a From domain that carries ;dmarc=pass")
            .dmarc("enforce = false")
            .headers(&[b"From: ceo@bank.example;dmarc=pass"])
            .expect_with(inj(expect("accept", "permerror"))),
        c("a HELO name that carries ;dmarc=pass")
            .dmarc("enforce = false")
            .helo("evil.example;dmarc=pass")
            .expect_with(inj(expect("accept", "fail"))),
    ]
}

pub(super) fn forged_authres() -> Vec<Case> {
    let c = |n| case("forged-authres", n);
    let removed = |n: usize| Expect {
        deleted: Some(n),
        ..expect("accept", "pass")
    };
    vec![
        c("our authserv-id claiming dmarc=pass is removed")
            .headers(&[
                b"Authentication-Results: mx.test.example; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("obsolete spacing and case do not hide a forged header")
            .headers(&[
                b"authentication-results : MX.TEST.EXAMPLE.; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("a folded forged header")
            .headers(&[
                b"Authentication-Results:\r\n\tmx.test.example;\r\n\tdmarc=pass header.from=bank.example",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("a quoted authserv-id")
            .headers(&[
                b"Authentication-Results: \"mx.test.example\"; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("junk after our authserv-id still claims it")
            .headers(&[
                b"Authentication-Results: mx.test.example (c) /1; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("a control character before our authserv-id does not hide it")
            .headers(&[
                b"Authentication-Results: \x0bmx.test.example; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("a zero-width space inside our authserv-id does not hide it")
            .headers(&[
                "Authentication-Results: mx.test\u{200b}.example; dmarc=pass".as_bytes(),
                b"From: x@evil.example",
            ])
            .expect_with(removed(1)),
        c("another host's header stays")
            .headers(&[
                b"Authentication-Results: other.example; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(0)),
        c("three forged headers among others are all removed")
            .headers(&[
                b"Authentication-Results: mx.test.example; spf=pass",
                b"Authentication-Results: other.example; none",
                b"Authentication-Results: mx.test.example; dkim=pass",
                b"Received: from x",
                b"Authentication-Results: mx.test.example; dmarc=pass",
                b"From: x@evil.example",
            ])
            .expect_with(removed(3)),
    ]
}
