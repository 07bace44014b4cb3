//! Classes about DKIM signatures: the l= body length, and which signing domain aligns.

use super::*;

pub(super) fn dkim_length() -> Vec<Case> {
    let c = |n| case("dkim-length", n);
    let bank = || {
        c("x")
            .headers(&[b"From: Boss <ceo@bank.example>"])
            .signed_by("bank.example", true)
    };
    vec![
        Case {
            name: "content appended after an l= signature gets dkim=policy",
            ..bank()
                .append_body(b"\r\nNew account: 12345\r\n")
                .expect("reject", "fail")
        },
        Case {
            name: "control: an l= signature over the whole body passes",
            ..bank().expect("accept", "pass")
        },
        Case {
            name: "allow_partial_body = true lets appended content pass, as RFC 6376 wrote it",
            ..bank()
                .config("[dkim]\nallow_partial_body = true")
                .append_body(b"\r\nNew account: 12345\r\n")
                .expect("accept", "pass")
        },
    ]
}

pub(super) fn alignment() -> Vec<Case> {
    let c = |n| case("alignment", n);
    vec![
        c("a valid signature of the attacker's domain under the victim's From")
            .signed_by("evil.example", false)
            .expect("reject", "fail"),
        c("the victim's name as a subdomain of the attacker's domain aligns with the attacker")
            .headers(&[b"From: ceo@bank.example.evil.example"])
            .signed_by("evil.example", false)
            .expect("accept", "pass"),
        c("a look-alike domain is a different domain")
            .headers(&[b"From: ceo@bank-example.example"])
            .zone("_dmarc.bank-example.example TXT \"v=DMARC1; p=reject\"")
            .signed_by("evil.example", false)
            .expect("reject", "fail"),
    ]
}
