//! SPF benchmarks (divan): `check_host()` evaluations per second against `MemoryResolver` (no
//! network, so this measures the evaluator: parsing, macro expansion, limits, result plumbing)
//! for a flat record, a 3-level include chain and a macro-heavy record, plus the record parser
//! and the macro expander alone. Run: `cargo bench --bench spf`. Figures go to
//! docs/PERFORMANCE.md with the machine used.

use std::net::IpAddr;
use std::sync::Arc;

use divan::{Bencher, black_box};
use dns::memory::MemoryResolver;
use spf::{Config, Evaluator, FixedClock, MacroContext, MacroKind, MacroString, Record, SpfResult};

fn main() {
    divan::main();
}

const ZONE: &str = r#"
flat.example   TXT "v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.0/24 ip6:2001:db8::/32 a mx ip4:192.0.2.0/24 -all"
flat.example   A   198.51.100.200
flat.example   MX  10 mx.flat.example
mx.flat.example A  198.51.100.201

chain.example  TXT "v=spf1 include:l1.chain.example -all"
l1.chain.example TXT "v=spf1 ip4:198.51.100.0/24 include:l2.chain.example ~all"
l2.chain.example TXT "v=spf1 ip6:2001:db8::/32 include:l3.chain.example ?all"
l3.chain.example TXT "v=spf1 ip4:203.0.113.0/24 ip4:192.0.2.0/24 -all"

macro.example  TXT "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} exists:%{i}.%{v}.%{d2}.bl.example a:%{h} -all exp=why.macro.example"
1.2.0.192.someuser._spf.macro.example A 127.0.0.2
helo.client.example A 198.51.100.99
why.macro.example TXT "%{i} is not one of %{d}'s designated mail servers (%{S}, %{h})"
"#;

struct Fixture {
    rt: tokio::runtime::Runtime,
    dns: MemoryResolver,
    spf: Evaluator,
}

fn fixture() -> Fixture {
    Fixture {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime"),
        dns: MemoryResolver::from_zone(ZONE).expect("bench zone"),
        spf: Evaluator::new(
            Config::default()
                .with_receiver("mx.receiver.example")
                .with_clock(Arc::new(FixedClock(1_700_000_000))),
        ),
    }
}

fn evaluate(bencher: Bencher, sender: &'static str, ip: &'static str, want: SpfResult) {
    let f = fixture();
    let ip: IpAddr = ip.parse().expect("ip");
    let out =
        f.rt.block_on(
            f.spf
                .check_mail_from(&f.dns, ip, sender.as_bytes(), b"helo.client.example"),
        );
    assert_eq!(out.result, want, "{sender} from {ip}: {out:?}");
    bencher.bench_local(|| {
        f.rt.block_on(f.spf.check_mail_from(
            &f.dns,
            black_box(ip),
            black_box(sender.as_bytes()),
            black_box(b"helo.client.example"),
        ))
    });
}

/// Flat record, client matched by the last ip4 (after an `a` and an `mx` lookup).
#[divan::bench]
fn flat_record_pass(bencher: Bencher) {
    evaluate(bencher, "user@flat.example", "192.0.2.7", SpfResult::Pass);
}

/// Three nested includes; the client is authorized by the innermost record.
#[divan::bench]
fn include_chain_3_levels_pass(bencher: Bencher) {
    evaluate(bencher, "user@chain.example", "192.0.2.7", SpfResult::Pass);
}

/// Macro-heavy record: two `exists` with reversed/split macros and an `a:%{h}`.
#[divan::bench]
fn macro_heavy_pass(bencher: Bencher) {
    evaluate(
        bencher,
        "someuser@macro.example",
        "192.0.2.1",
        SpfResult::Pass,
    );
}

/// Macro-heavy record ending in `-all`, so the `exp=` text is fetched and expanded too.
#[divan::bench]
fn macro_heavy_fail_with_explanation(bencher: Bencher) {
    evaluate(bencher, "other@macro.example", "192.0.2.9", SpfResult::Fail);
}

/// The record parser alone.
#[divan::bench]
fn parse_record(bencher: Bencher) {
    let text = b"v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 a/24//64 mx:%{d} include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} ~all exp=why.%{d}";
    bencher.bench_local(|| Record::parse(black_box(text)));
}

/// The macro expander alone.
#[divan::bench]
fn expand_macro(bencher: Bencher) {
    let m = MacroString::parse(
        b"%{ir}.%{l1r+-}._spf.%{d2}.%{v}.%{H}",
        MacroKind::DomainSpec,
    )
    .expect("macro");
    let ctx = MacroContext {
        local_part: b"strong-bad",
        sender_domain: b"email.example.com",
        domain: b"email.example.com",
        ip: "2001:db8::cb01".parse().expect("ip"),
        helo: b"mx.example.org",
        validated_name: None,
        receiver: None,
        timestamp: 0,
    };
    bencher.bench_local(|| m.expand(black_box(&ctx)));
}
