//! Property tests: the netstring decoder never panics and round-trips under any chunking;
//! reverse and the socketmap handler never panic; forward then reverse is the identity.

use proptest::prelude::*;
use srs::socketmap::{Decoder, HandlerOptions, encode, handle_request};
use srs::{Clock, Forwarded, Srs, SrsConfig, SrsError, load_secrets};

fn srs() -> Srs {
    let mut c = SrsConfig::new(
        load_secrets("prop-secret\nold-secret").unwrap(),
        "fwd.example",
    );
    c.clock = Clock::FixedDay(20_000);
    Srs::new(c).unwrap()
}

/// Feeds `wire` to a decoder in pieces cut at `cuts` and collects every frame or the error.
fn decode_chunked(wire: &[u8], cuts: &[usize], max: usize) -> Result<Vec<Vec<u8>>, SrsError> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(0);
    points.push(wire.len());
    points.sort_unstable();
    let mut d = Decoder::with_max_len(max);
    let mut frames = Vec::new();
    for pair in points.windows(2) {
        d.feed(&wire[pair[0]..pair[1]]);
        while let Some(f) = d.decode()? {
            frames.push(f);
        }
    }
    Ok(frames)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoder_never_panics(wire in proptest::collection::vec(any::<u8>(), 0..300),
                            cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let _ = decode_chunked(&wire, &cuts, 64);
    }

    #[test]
    fn decoder_round_trips(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..6),
                           cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let wire: Vec<u8> = payloads.iter().flat_map(|p| encode(p)).collect();
        prop_assert_eq!(decode_chunked(&wire, &cuts, 100).unwrap(), payloads);
    }

    #[test]
    fn decoder_rejects_oversize(len in 101usize..10_000) {
        // The decoder fails as soon as the prefix exceeds the limit: the reported length is
        // a lower bound of the announced one.
        let wire = format!("{len}:");
        match decode_chunked(wire.as_bytes(), &[], 100) {
            Err(SrsError::NetstringTooLarge { length, max: 100 }) => prop_assert!(length > 100 && length <= len),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn reverse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let s = srs();
        let _ = s.reverse_bytes(&bytes);
        let _ = s.forward_bytes(&bytes, b"fwd.example");
    }

    #[test]
    fn reverse_never_panics_on_srs_like_input(addr in "(?i)srs[01][=+-][a-z0-9=+/_-]{0,40}(@[a-z.=]{0,12})?") {
        let _ = srs().reverse(&addr);
    }

    #[test]
    fn forward_then_reverse_is_identity(local in "[^@]{0,40}", domain in "[a-zA-Z0-9.-]{0,30}") {
        prop_assume!(!domain.eq_ignore_ascii_case("fwd.example") && domain != "1");
        prop_assume!(!local.get(..5).is_some_and(|p| srs::is_srs_address(p.as_bytes())));
        let s = srs();
        let sender = format!("{local}@{domain}");
        let Forwarded::Rewritten(out) = s.forward(&sender, "fwd.example").unwrap() else {
            panic!("not rewritten: {sender}");
        };
        prop_assert_eq!(s.reverse(&out).unwrap(), sender);
    }

    #[test]
    fn handler_never_panics(request in proptest::collection::vec(any::<u8>(), 0..700)) {
        let s = srs();
        let _ = handle_request(&s, &|d| d == "local.example", &HandlerOptions::default(), &request);
    }

    #[test]
    fn fuzz_harnesses_hold(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        srs::fuzzing::srs_reverse(&data);
        srs::fuzzing::socketmap(&data);
    }
}
