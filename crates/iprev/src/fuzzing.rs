//! Fuzz harness shared by `fuzz/fuzz_targets/iprev.rs` and `tests/fuzz_seeds.rs`, so a seed
//! replays exactly what the fuzzer ran. Not part of the API; a panic here is a finding.

use std::net::IpAddr;

use dns::fuzzing::{block_on, split_script};

use crate::{Config, IprevResult, check};

/// The largest `max=` the harness accepts (the check's work grows with it).
const MAX_NAMES: usize = 32;

/// `iprev`: the check (RFC 8601 §3) against PTR and A/AAAA answers the fuzzer chooses
/// ([`dns::fuzzing::ScriptedResolver`]). The payload's first line is the client address
/// (192.0.2.1 when it does not parse), an optional second line `max=N` the name limit.
///
/// Checks: the address is reported canonical; PTR names are normalised and unique; at most
/// `max_names` names are looked up (one PTR query plus one forward query each); `pass` names a
/// PTR name that was looked up.
pub fn answers(data: &[u8]) {
    let (resolver, payload) = split_script(data);
    let mut lines = payload.split(|&b| b == b'\n');
    let ip: IpAddr = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(IpAddr::from([192, 0, 2, 1]));
    let mut config = Config::default();
    if let Some(n) = lines
        .next()
        .and_then(|l| l.strip_prefix(b"max="))
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.trim().parse::<usize>().ok())
    {
        config.max_names = n.min(MAX_NAMES);
    }
    let outcome = block_on(check(&resolver, ip, &config));
    assert_eq!(outcome.ip, ip.to_canonical());
    assert!(outcome.names_checked <= config.max_names);
    assert!(outcome.names_checked <= outcome.ptr_names.len());
    for (i, n) in outcome.ptr_names.iter().enumerate() {
        assert!(!n.is_empty() && !n.ends_with('.'), "{n:?}");
        assert_eq!(*n, n.to_ascii_lowercase());
        assert!(!outcome.ptr_names.get(..i).unwrap_or_default().contains(n));
    }
    let queries = resolver.queries();
    assert!(queries.len() <= 1 + config.max_names, "{queries:?}");
    match outcome.result {
        IprevResult::Pass => {
            let name = outcome
                .name
                .as_ref()
                .expect("pass names the confirmed name");
            assert!(
                outcome
                    .ptr_names
                    .get(..outcome.names_checked)
                    .unwrap_or_default()
                    .contains(name)
            );
            assert!(
                queries.iter().any(|(_, q)| q == name),
                "{name} was never looked up"
            );
        }
        _ => assert!(outcome.name.is_none()),
    }
}
