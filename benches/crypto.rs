//! Crypto backends side by side (divan), in ONE run: RSA-2048 sign/verify, Ed25519 sign/verify
//! and SHA-256 throughput for every backend compiled in (aws-lc-rs and ring; the dev build has
//! both). The faster one is the default (docs/PERFORMANCE.md, "Crypto backend").
//! Run: `cargo bench --bench crypto`.

use crypto::{CryptoProvider, HashAlg, SigAlg, SigningKey};
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

const RSA_PEM: &[u8] = include_bytes!("../crates/dkim/tests/data/keys/rsa2048.pem");
const ED_PEM: &[u8] = include_bytes!("../crates/dkim/tests/data/keys/ed25519.pem");
/// What DKIM signs: the header data (RSA) or its SHA-256 digest (Ed25519, RFC 8463 §3).
const INPUT: [u8; 1024] = [0x5a; 1024];
const BACKENDS: &[&str] = &["aws-lc-rs", "ring"];

fn provider(name: &str) -> &'static dyn CryptoProvider {
    crypto::providers()
        .into_iter()
        .find(|p| p.name() == name)
        .expect("bench builds have both backends")
}

fn key(p: &dyn CryptoProvider, rsa: bool) -> Box<dyn SigningKey> {
    p.signing_key(if rsa { RSA_PEM } else { ED_PEM })
        .expect("bench key")
}

#[divan::bench(args = BACKENDS)]
fn rsa2048_sign(bencher: Bencher, backend: &str) {
    let k = key(provider(backend), true);
    bencher.bench_local(|| k.sign(black_box(&INPUT)).expect("sign"));
}

#[divan::bench(args = BACKENDS)]
fn rsa2048_verify(bencher: Bencher, backend: &str) {
    let p = provider(backend);
    let k = key(p, true);
    let sig = k.sign(&INPUT).expect("sign");
    let pk = k.public_key_dns();
    bencher.bench_local(|| {
        p.verify(SigAlg::RsaSha256, &pk, black_box(&INPUT), &sig)
            .expect("verify")
    });
}

#[divan::bench(args = BACKENDS)]
fn ed25519_sign(bencher: Bencher, backend: &str) {
    let k = key(provider(backend), false);
    bencher.bench_local(|| k.sign(black_box(&INPUT[..32])).expect("sign"));
}

#[divan::bench(args = BACKENDS)]
fn ed25519_verify(bencher: Bencher, backend: &str) {
    let p = provider(backend);
    let k = key(p, false);
    let sig = k.sign(&INPUT[..32]).expect("sign");
    let pk = k.public_key_dns();
    bencher.bench_local(|| {
        p.verify(SigAlg::Ed25519, &pk, black_box(&INPUT[..32]), &sig)
            .expect("verify")
    });
}

/// SHA-256 over a 200 KB buffer, streamed in 8 KiB updates as the body hasher feeds it.
#[divan::bench(args = BACKENDS)]
fn sha256_200k(bencher: Bencher, backend: &str) {
    let p = provider(backend);
    let data = vec![0x61u8; 200_000];
    bencher
        .counter(divan::counter::BytesCount::new(data.len()))
        .bench_local(|| {
            let mut h = p.hasher(HashAlg::Sha256);
            for chunk in black_box(&data).chunks(8 * 1024) {
                h.update(chunk);
            }
            h.finish()
        });
}
