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
