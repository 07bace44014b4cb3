//! DKIM-Signature tag values at the edges of their RFC 6376 §3.5 syntax.

use dkim::{Reason, Signature};

/// RFC 6376 §3.5 `x=`: "The value of the "x=" tag MUST be greater than the value of
/// the "t=" tag if both are present": equal is as invalid as smaller (§6.1.1).
#[test]
fn expiry_equal_to_timestamp_is_invalid() {
    assert_eq!(
        Signature::parse(b"v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA==; t=10; x=10")
            .unwrap_err()
            .reason,
        Reason::ExpiryBeforeTimestamp
    );
    assert!(
        Signature::parse(b"v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA==; t=10; x=11")
            .is_ok()
    );
}

/// RFC 6376 §3.5 `l=`: `1*76DIGIT`. Up to 76 digits is valid syntax, leading zeros
/// included; a value past u64 is simply larger than any body (saturated, so the
/// signature fails as "body shorter than l="); 77 digits is a syntax error.
#[test]
fn body_length_takes_up_to_76_digits() {
    let with_l = |l: &str| {
        Signature::parse(
            format!("v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=AA==; b=AA==; l={l}").as_bytes(),
        )
    };
    let padded = format!("{}100", "0".repeat(73));
    assert_eq!(with_l(&padded).unwrap().body_length, Some(100));
    assert_eq!(with_l(&"9".repeat(76)).unwrap().body_length, Some(u64::MAX));
    assert_eq!(
        with_l("18446744073709551616").unwrap().body_length,
        Some(u64::MAX)
    );
    assert!(matches!(
        with_l(&"1".repeat(77)).unwrap_err().reason,
        Reason::SignatureSyntax(_)
    ));
    assert!(matches!(
        with_l("12a").unwrap_err().reason,
        Reason::SignatureSyntax(_)
    ));
    assert!(matches!(
        with_l("").unwrap_err().reason,
        Reason::SignatureSyntax(_)
    ));
}

/// What is reported about a signature (the A-R's `header.d`, `header.s`, `header.i`, our AAR,
/// the results sink) stays within what DNS names and addresses can be: a `d=`/`s=` longer
/// than a DNS name (253) or an `i=` longer than an address (64 + 1 + 255, RFC 5321
/// §4.5.3.1) is not copied out of a signature that fails to parse, and such an `i=` makes a
/// signature a syntax error.
#[test]
fn reported_values_are_bounded() {
    let x = "x".repeat(100_000);
    let e = Signature::parse(
        format!(
            "v=2; a=rsa-sha256; d={x}.example; s={x}; i={x}@example.com; h=from; bh=AA==; b=AA=="
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert!(e.partial.domain.len() <= 253, "{}", e.partial.domain.len());
    assert!(e.partial.selector.len() <= 253);
    assert!(e.partial.identity.as_ref().is_none_or(|i| i.len() <= 320));
    // a domain and selector of normal length are still reported
    let e = Signature::parse(
        b"v=2; a=rsa-sha256; d=example.com; s=sel; i=a@example.com; h=from; bh=AA==; b=AA==",
    )
    .unwrap_err();
    assert_eq!(
        (e.partial.domain.as_str(), e.partial.selector.as_str()),
        ("example.com", "sel")
    );
    assert_eq!(e.partial.identity.as_deref(), Some("a@example.com"));
    // a parsed signature: an i= no address can be is a syntax error
    let e = Signature::parse(
        format!(
            "v=1; a=rsa-sha256; d=example.com; s=s; i={x}@example.com; h=from; bh=AA==; b=AA=="
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert!(
        matches!(e.reason, Reason::SignatureSyntax(_)),
        "{:?}",
        e.reason
    );
    assert!(e.partial.identity.is_none());
    let local = "l".repeat(64);
    assert!(
        Signature::parse(
            format!("v=1; a=rsa-sha256; d=example.com; s=s; i={local}@example.com; h=from; bh=AA==; b=AA==")
                .as_bytes()
        )
        .is_ok()
    );
}
