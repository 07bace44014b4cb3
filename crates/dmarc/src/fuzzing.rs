//! Fuzz harnesses shared by the cargo-fuzz targets (`fuzz/fuzz_targets/dmarc_*.rs`) and the
//! stable seed replay (`tests/fuzz_seeds.rs`), so a seed replays exactly what the fuzzer ran.
//! Not part of the API; a panic here is a finding.

use std::sync::Arc;

use dns::fuzzing::{block_on, split_script};

use crate::{
    Config, DkimAuth, DkimOutcome, Dmarc, DmarcResult, FixedSampler, Mode, MultiFrom, SpfAuth,
    SpfOutcome, SpfScope, author_domains, parse_from, parse_record,
};

/// At most this many `dkim=` lines are used (the milter caps signatures the same way).
const MAX_DKIM: usize = 8;
/// At most this many `from=` lines are used.
const MAX_FROM: usize = 8;
/// Upper bound of DNS queries for one message: 5 author domains and 9 identifier domains,
/// each at most one tree walk of 8 queries (RFC 9989 §4.10), with room to spare.
const MAX_QUERIES: usize = 200;

/// `dmarc_record`: the record parser (RFC 9989 §4.7–§4.8); every accepted record is usable.
pub fn record(data: &[u8]) {
    if let Ok(record) = parse_record(data) {
        let _ = record.has_valid_policy(true);
        for uri in record.rua.iter().chain(record.ruf.iter()) {
            let _ = uri.mailto_address();
            let _ = uri.to_string();
        }
        assert!(record.pct <= 100);
    }
}

/// `dmarc_from`: the From parser and author-domain extraction (RFC 5322 §3.4, §3.6.2; RFC 9989
/// §5.3.1). Every author domain found is a non-empty ASCII name DNS can carry.
pub fn from(data: &[u8]) {
    if let Ok(addresses) = parse_from(data) {
        for a in &addresses {
            if let Ok(d) = a.author_domain() {
                assert!(!d.is_empty() && d.len() <= 253 && d.is_ascii());
            }
        }
    }
    let config = Config {
        multi_from: MultiFrom::Strictest,
        ..Config::default()
    };
    let _ = author_domains(&[data, data], &config);
    let _ = author_domains(&[data], &Config::default());
}

/// `dmarc_discovery`: policy discovery and evaluation (RFC 9989 §4.10, §5.3; RFC 7489 §6.6)
/// against DNS answers the fuzzer chooses ([`dns::fuzzing::ScriptedResolver`]: records,
/// NXDOMAIN, NODATA, SERVFAIL, timeouts, in the order the queries are asked).
///
/// The payload after the script is one setting per line: `mode=rfc7489`, `strictest`,
/// `roll=N` (the `pct` sampler), `from=<raw From value>` (one per field), `spf=<result> <domain>`,
/// `helo=<result> <domain>` and `dkim=<result> <domain>`; other lines are ignored.
///
/// Checks: a From problem is `permerror`; `pass` needs an input that passed and an evaluation
/// that says it aligned; the number of queries stays bounded.
pub fn discovery(data: &[u8]) {
    let (resolver, payload) = split_script(data);
    let input = Input::parse(payload);
    let dmarc = Dmarc::new(input.config.clone()).with_sampler(Arc::new(FixedSampler(input.roll)));
    let discovery = block_on(dmarc.discover(&resolver, &input.from));
    for domain in discovery.author_domains() {
        assert!(!domain.is_empty() && domain.is_ascii(), "{domain:?}");
    }
    let had_problem = discovery.from_problem().is_some();
    let outcome = block_on(dmarc.finish(&resolver, discovery, input.spf.as_ref(), &input.dkim));
    if had_problem {
        assert_eq!(outcome.result, DmarcResult::PermError);
        assert!(outcome.from_problem.is_some());
    }
    if outcome.result == DmarcResult::Pass {
        let primary = outcome.primary();
        assert!(
            primary.is_some_and(|e| e.spf_aligned() || e.dkim_aligned()),
            "pass without an aligned pass: {outcome:?}"
        );
        let spf_passed = input
            .spf
            .as_ref()
            .is_some_and(|s| s.result == SpfOutcome::Pass);
        let dkim_passed = input.dkim.iter().any(|d| d.result == DkimOutcome::Pass);
        assert!(spf_passed || dkim_passed, "pass from nothing: {outcome:?}");
    }
    let queries = resolver.queries().len();
    assert!(queries <= MAX_QUERIES, "{queries} DNS queries");
}

/// The message and settings a `dmarc_discovery` payload describes.
struct Input {
    config: Config,
    roll: u8,
    from: Vec<Vec<u8>>,
    spf: Option<SpfAuth>,
    dkim: Vec<DkimAuth>,
}

impl Input {
    fn parse(payload: &[u8]) -> Input {
        let mut input = Input {
            config: Config::default(),
            roll: 0,
            from: Vec::new(),
            spf: None,
            dkim: Vec::new(),
        };
        for line in payload.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line == b"mode=rfc7489" {
                input.config.mode = Mode::Rfc7489;
            } else if line == b"strictest" {
                input.config.multi_from = MultiFrom::Strictest;
            } else if let Some(v) = line.strip_prefix(b"roll=") {
                input.roll = std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            } else if let Some(v) = line.strip_prefix(b"from=") {
                if input.from.len() < MAX_FROM {
                    input.from.push(v.to_vec());
                }
            } else if let Some(v) = line.strip_prefix(b"spf=") {
                input.spf = auth(v).and_then(|(r, d)| {
                    spf_outcome(r).map(|r| SpfAuth::new(r, d, SpfScope::MailFrom))
                });
            } else if let Some(v) = line.strip_prefix(b"helo=") {
                input.spf = auth(v)
                    .and_then(|(r, d)| spf_outcome(r).map(|r| SpfAuth::new(r, d, SpfScope::Helo)));
            } else if let Some(v) = line.strip_prefix(b"dkim=")
                && input.dkim.len() < MAX_DKIM
                && let Some(d) =
                    auth(v).and_then(|(r, d)| dkim_outcome(r).map(|r| DkimAuth::new(r, d, "sel")))
            {
                input.dkim.push(d);
            }
        }
        input
    }
}

/// `<result> <domain>` as text.
fn auth(v: &[u8]) -> Option<(&str, String)> {
    let text = std::str::from_utf8(v).ok()?;
    let (result, domain) = text.split_once(' ')?;
    Some((result, domain.to_string()))
}

fn spf_outcome(name: &str) -> Option<SpfOutcome> {
    Some(match name {
        "pass" => SpfOutcome::Pass,
        "fail" => SpfOutcome::Fail,
        "softfail" => SpfOutcome::SoftFail,
        "neutral" => SpfOutcome::Neutral,
        "none" => SpfOutcome::None,
        "temperror" => SpfOutcome::TempError,
        "permerror" => SpfOutcome::PermError,
        _ => return None,
    })
}

fn dkim_outcome(name: &str) -> Option<DkimOutcome> {
    Some(match name {
        "pass" => DkimOutcome::Pass,
        "fail" => DkimOutcome::Fail,
        "neutral" => DkimOutcome::Neutral,
        "policy" => DkimOutcome::Policy,
        "none" => DkimOutcome::None,
        "temperror" => DkimOutcome::TempError,
        "permerror" => DkimOutcome::PermError,
        _ => return None,
    })
}
