//! Fuzz harnesses, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/spf_*.rs`) and the
//! stable seed replay (`tests/fuzz_seeds.rs`). Each must never panic, whatever the input.

use std::net::IpAddr;
use std::sync::Arc;

use dns::fuzzing::block_on;
use dns::memory::MemoryResolver;

use crate::macros::{MAX_EXPANSION, MacroContext, MacroKind, MacroString};
use crate::record::{Record, is_spf_record};
use crate::{Config, Evaluator, FixedClock, SpfResult};

/// The zone every evaluation runs against: enough names for includes, a/mx/ptr/exists to find
/// something, plus failures.
const ZONE: &str = r#"
inc.example TXT "v=spf1 ip4:192.0.2.0/28 ip6:2001:db8::/64 -all"
loop.example TXT "v=spf1 include:loop.example redirect=loop.example"
fuzz.example A 192.0.2.1
fuzz.example AAAA 2001:db8::1
fuzz.example MX 10 mx.fuzz.example
fuzz.example MX 0 .
mx.fuzz.example A 192.0.2.2
1.2.0.192.in-addr.arpa PTR fuzz.example
exp.example TXT "%{i} %{c} %{r} %{t} %{p} %{L}"
slow.example TIMEOUT
broken.example SERVFAIL
"#;

/// `spf_record`: parses `data` as a record; then publishes it at `fuzz.example` and evaluates
/// `check_host()` for an IPv4 and an IPv6 client (RFC 7208 §4).
pub fn spf_record(data: &[u8]) {
    let parsed = Record::parse(data);
    if let Ok(record) = &parsed {
        for d in &record.directives {
            let again = Record::parse(format!("v=spf1 {}", d.text).as_bytes());
            assert!(
                again.is_ok(),
                "a parsed term must parse again: {:?}",
                d.text
            );
        }
    }
    let Ok(dns) = MemoryResolver::from_zone(ZONE) else {
        return;
    };
    dns.add_txt("fuzz.example", data);
    let evaluator = Evaluator::new(
        Config::default()
            .with_receiver("rx.example")
            .with_clock(Arc::new(FixedClock(1_700_000_000))),
    );
    for ip in ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.2"] {
        let Ok(ip) = ip.parse::<IpAddr>() else {
            continue;
        };
        let out = block_on(evaluator.check_host(
            &dns,
            ip,
            "fuzz.example",
            b"a.b-c+d@fuzz.example",
            b"helo.example",
        ));
        if is_spf_record(data) && parsed.is_err() {
            assert_eq!(out.result, SpfResult::PermError);
        }
        assert!(out.dns_terms <= 11);
        if let Some(e) = &out.explanation {
            assert!(e.is_ascii());
        }
    }
}

/// `spf_macro`: the first byte picks the macro context (kind, IP family); the rest is parsed as
/// a macro string and expanded (RFC 7208 §7).
pub fn spf_macro(data: &[u8]) {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let kind = match selector % 3 {
        0 => MacroKind::DomainSpec,
        1 => MacroKind::Modifier,
        _ => MacroKind::Explanation,
    };
    let Ok(parsed) = MacroString::parse(text, kind) else {
        return;
    };
    let _ = parsed.is_domain_spec();
    let ip: IpAddr = if selector & 0x10 == 0 {
        IpAddr::from([192, 0, 2, 3])
    } else {
        IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xcb01])
    };
    let ctx = MacroContext {
        local_part: b"st.r-o+n,g/b_a=d\xff",
        sender_domain: b"email.example.com",
        domain: b"email.example.com",
        ip,
        helo: b"[192.0.2.3]",
        validated_name: if selector & 0x20 == 0 {
            None
        } else {
            Some(b"mx.example.org")
        },
        receiver: Some(b"rx.example"),
        timestamp: 1_700_000_000,
    };
    if let Ok(expanded) = parsed.expand(&ctx) {
        assert!(expanded.len() <= MAX_EXPANSION);
        let _ = crate::names::to_target_name(&expanded);
    }
}
