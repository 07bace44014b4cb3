//! Fuzz harnesses shared by `fuzz/fuzz_targets/{srs_reverse,socketmap,srs_secrets}.rs` and
//! `tests/fuzz_seeds.rs`. Not part of the API.
//!
//! They run the input through the public parsers and `assert!` invariants: a panic here is a
//! finding, which is the point of a harness.

use crate::socketmap::{Decoder, HandlerOptions, Reply, Request, encode, handle_request};
use crate::{Clock, Forwarded, Secrets, Srs, SrsConfig, is_srs_address};

/// The rewriter the harnesses use: two secrets, fixed day 18262 ("2W"), `fwd.example`.
fn harness_srs() -> Option<Srs> {
    let secrets = Secrets::new(vec![b"fuzz-secret".to_vec(), b"tops3cr3t".to_vec()]).ok()?;
    srs_with(secrets)
}

/// A rewriter for `fwd.example` on the fixed day 18262 with `secrets`.
fn srs_with(secrets: Secrets) -> Option<Srs> {
    let mut config = SrsConfig::new(secrets, "fwd.example");
    config.clock = Clock::FixedDay(18_262);
    Srs::new(config).ok()
}

/// `srs_secrets`: a secrets file (one secret per line, `#` comments). What parses holds at
/// least one key, never shows a key in `Debug`, and every key verifies an address that key
/// signed alone (the rotation promise: the first signs, all verify).
pub fn secrets(data: &[u8]) {
    let Ok(secrets) = Secrets::parse(data) else {
        return;
    };
    assert!(!secrets.is_empty());
    // Debug shows the count and nothing else (the keys may spell anything, "REDACTED" too).
    assert_eq!(
        format!("{secrets:?}"),
        format!("Secrets([REDACTED; {}])", secrets.len())
    );
    for key in secrets.all() {
        assert!(!key.is_empty() && key.trim_ascii() == key);
    }
    let Some(srs) = srs_with(secrets.clone()) else {
        return;
    };
    let original: &[u8] = b"user@orig.example";
    for key in secrets.all().take(4) {
        let Some(single) = Secrets::new([key.to_vec()]).ok().and_then(srs_with) else {
            continue;
        };
        let Ok(Forwarded::Rewritten(out)) = single.forward_bytes(original, b"fwd.example") else {
            panic!("forwarding a plain address must rewrite it");
        };
        assert_eq!(srs.reverse_bytes(&out).as_deref(), Ok(original));
    }
}

/// Reverse arbitrary bytes; forward them and check that reverse undoes forward.
pub fn srs_reverse(data: &[u8]) {
    let Some(srs) = harness_srs() else { return };
    let _ = srs.reverse_bytes(data);
    let _ = is_srs_address(data);
    let Ok(Forwarded::Rewritten(out)) = srs.forward_bytes(data, b"fwd.example") else {
        return;
    };
    assert!(is_srs_address(&out), "forward produced a non-SRS address");
    let Some(at) = data.iter().rposition(|&b| b == b'@') else {
        panic!("rewrote an address without @");
    };
    let local = data.get(..at).unwrap_or_default();
    let host = data.get(at + 1..).unwrap_or_default();
    let back = srs.reverse_bytes(&out);
    // A host of "1" reads as a postsrsd database alias on the way back, and a host with "="
    // cannot be told apart from the user part: both are limits of the format.
    if host == b"1" || host.contains(&b'=') {
        return;
    }
    if is_srs_address(local) && local.get(3) == Some(&b'1') {
        // The first forwarder's host may itself be "1" (a database-alias shape).
        let ok = matches!(back, Ok(_) | Err(crate::SrsError::DatabaseAlias));
        assert!(ok, "SRS1 re-forward does not reverse: {back:?}");
    } else if is_srs_address(local) {
        let mut want = b"SRS0".to_vec();
        want.extend_from_slice(local.get(4..).unwrap_or_default());
        want.push(b'@');
        want.extend_from_slice(host);
        assert_eq!(back.as_deref(), Ok(&want[..]), "SRS0 -> SRS1 -> reverse");
    } else {
        assert_eq!(back.as_deref(), Ok(data), "forward then reverse");
    }
}

/// Decode arbitrary bytes as a socketmap stream (in two chunks), answer every request, and
/// check that requests and replies survive encoding.
pub fn socketmap(data: &[u8]) {
    let Some(srs) = harness_srs() else { return };
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut decoder = Decoder::with_max_len(4096);
    let is_local = |d: &str| d.eq_ignore_ascii_case("local.example");
    let options = HandlerOptions { max_key_len: 512 };
    let mut payloads = Vec::new();
    for chunk in [a, b] {
        decoder.feed(chunk);
        while let Ok(Some(payload)) = decoder.decode() {
            payloads.push(payload);
        }
    }
    for payload in payloads {
        let mut again = Decoder::new();
        again.feed(&encode(&payload));
        assert_eq!(
            again.decode(),
            Ok(Some(payload.clone())),
            "netstring round trip"
        );
        if let Ok(req) = Request::parse(&payload) {
            let mut d = Decoder::new();
            d.feed(&req.encode());
            let re = d.decode().ok().flatten().unwrap_or_default();
            assert_eq!(
                Request::parse(&re).map(|r| r.name),
                Ok(req.name),
                "request round trip"
            );
        }
        let reply = handle_request(&srs, &is_local, &options, &payload);
        let parsed = Reply::parse(&reply.to_payload());
        assert_eq!(parsed, Ok(reply), "reply round trip");
    }
}
