//! Benchmark authres (divan): format and parse a typical Authentication-Results value, and
//! the cheap authserv-id check run on every incoming field. Run: `cargo bench --bench authres`.

use authres::{AuthenticationResults, FormatOptions, MethodResult, Property};

fn main() {
    divan::main();
}

fn typical() -> AuthenticationResults {
    AuthenticationResults::new("mx.example.com")
        .with(
            MethodResult::new("iprev", "pass").with(
                Property::new("policy", "iprev", "192.0.2.1").with_comment("mail.example.net"),
            ),
        )
        .with(
            MethodResult::new("spf", "pass")
                .with_property("smtp", "mailfrom", "bounces+123@mail.example.net")
                .with_property("smtp", "helo", "mail.example.net"),
        )
        .with(
            MethodResult::new("dkim", "pass")
                .with_comment("2048-bit rsa key sha256")
                .with_property("header", "d", "example.net")
                .with_property("header", "s", "sel2024")
                .with_property("header", "b", "AbCdEf+1"),
        )
        .with(
            MethodResult::new("dmarc", "pass")
                .with_property("header", "from", "example.net")
                .with_property("policy", "dmarc", "reject"),
        )
}

#[divan::bench]
fn format_typical(bencher: divan::Bencher) {
    let ar = typical();
    let o = FormatOptions::milter();
    bencher.bench_local(|| divan::black_box(&ar).format(&o));
}

#[divan::bench]
fn parse_typical(bencher: divan::Bencher) {
    let text = typical().format(&FormatOptions::crlf());
    bencher.bench_local(|| authres::parse(divan::black_box(text.as_bytes())));
}

#[divan::bench]
fn authserv_id_check(bencher: divan::Bencher) {
    let text = typical().format(&FormatOptions::crlf());
    bencher.bench_local(|| {
        authres::claims_authserv_id(divan::black_box(text.as_bytes()), "mx.example.com")
    });
}
