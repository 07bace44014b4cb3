//! Benchmark dmarc (divan): whole evaluations with the in-memory resolver in both modes,
//! plus the record and From parsers. Run: `cargo bench --bench dmarc`.

use std::sync::Arc;

use dmarc::{
    Config, DkimAuth, DkimOutcome, Dmarc, FixedSampler, Mode, SpfAuth, SpfOutcome, SpfScope,
};
use dns::memory::MemoryResolver;

fn main() {
    divan::main();
}

const ZONE: &str = r#"
_dmarc.example.com      TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:d@example.com"
_dmarc.mail.example.com TXT "v=DMARC1; p=none"
news.example.com        A   192.0.2.1
"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime needs no OS resources that can be missing")
}

fn evaluator(mode: Mode) -> Dmarc {
    Dmarc::new(Config {
        mode,
        ..Config::default()
    })
    .with_sampler(Arc::new(FixedSampler(0)))
}

#[divan::bench(args = [Mode::Rfc9989, Mode::Rfc7489])]
fn evaluate_relaxed_pass(bencher: divan::Bencher, mode: Mode) {
    let rt = runtime();
    let resolver = MemoryResolver::from_zone(ZONE).expect("static zone");
    let dmarc = evaluator(mode);
    let spf = SpfAuth::new(SpfOutcome::Pass, "bounces.example.com", SpfScope::MailFrom);
    let dkim = [
        DkimAuth::new(DkimOutcome::Pass, "esp.example.net", "s1"),
        DkimAuth::new(DkimOutcome::Pass, "mail.example.com", "s2"),
    ];
    let from: [&[u8]; 1] = [b" \"News\" <news@news.example.com>"];
    bencher.bench_local(|| rt.block_on(dmarc.evaluate(&resolver, &from, Some(&spf), &dkim)));
}

#[divan::bench(args = [Mode::Rfc9989, Mode::Rfc7489])]
fn evaluate_fail_nonexistent_subdomain(bencher: divan::Bencher, mode: Mode) {
    let rt = runtime();
    let resolver = MemoryResolver::from_zone(ZONE).expect("static zone");
    let dmarc = evaluator(mode);
    let spf = SpfAuth::new(SpfOutcome::Pass, "attacker.example", SpfScope::MailFrom);
    let from: [&[u8]; 1] = [b" Bank <support@ghost.example.com>"];
    bencher.bench_local(|| rt.block_on(dmarc.evaluate(&resolver, &from, Some(&spf), &[])));
}

#[divan::bench]
fn parse_record() -> Result<dmarc::Record, dmarc::DmarcError> {
    dmarc::parse_record(divan::black_box(
        b"v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=100; rua=mailto:dmarc@example.com,mailto:agg@report.example; ruf=mailto:f@example.com; fo=1",
    ))
}

#[divan::bench]
fn parse_from() -> Result<Vec<dmarc::FromAddress>, dmarc::DmarcError> {
    dmarc::parse_from(divan::black_box(
        b" \"Doe, John (Sales)\" <john.doe@mail.example.com> (work)",
    ))
}
