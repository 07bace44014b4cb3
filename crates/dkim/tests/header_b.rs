//! `header.b` (RFC 6008 §4): the shortest prefix of at least eight characters of each
//! signature's `b=` that no other signature of the message shares, and never longer than the
//! longest signature a key we accept can make, however long a hostile `b=` is.

use dkim::{HeaderField, Verifier};

fn header_bs(bs: &[String]) -> Vec<String> {
    let mut headers: Vec<HeaderField> = bs
        .iter()
        .map(|b| {
            HeaderField::new(
                "DKIM-Signature",
                format!(" v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b={b}"),
            )
        })
        .collect();
    headers.push(HeaderField::new("From", " a@example.com"));
    let mut mv = Verifier::default().begin(&headers, 1_700_000_000);
    mv.body(b"body\r\n");
    mv.finish(&headers)
        .into_iter()
        .map(|r| r.header_b)
        .collect()
}

#[test]
fn shortest_unique_prefix_of_at_least_eight() {
    let got = header_bs(&[
        "abcdefghijklmnop".into(),
        "abcdefghijkXmnop".into(),
        "zzzzzzzzzzzzzzzz".into(),
        "abcd".into(),
    ]);
    assert_eq!(got, ["abcdefghijkl", "abcdefghijkX", "zzzzzzzz", "abcd"]);
}

#[test]
fn identical_or_long_shared_prefixes_stay_bounded() {
    // an RSA-8192 signature is 1368 base64 characters: no valid b= is longer
    let long = "A".repeat(200_000);
    let mut other = long.clone();
    other.push_str("BBBB");
    let got = header_bs(&[long.clone(), long, other, "QUJDREVGR0g=".into()]);
    for b in &got[..3] {
        assert!(b.len() <= 1368, "{}", b.len());
        assert!(b.starts_with("AAAAAAAA"));
    }
    assert_eq!(got[3], "QUJDREVG");
    // duplicates of a normal signature are shown whole, as before
    let sig = "x".repeat(344);
    let got = header_bs(&[sig.clone(), sig.clone()]);
    assert_eq!(got, [sig.clone(), sig]);
}
