//! DKIM benchmarks (divan): verify and sign messages per second for 2 KB, 20 KB and 200 KB
//! bodies with RSA-2048 and Ed25519, next to the raw crypto operations on a 1 KiB input.
//! Run: `cargo bench --bench dkim`. Figures go to docs/PERFORMANCE.md with the machine used.

use divan::{Bencher, black_box};
use dkim::{DnsKeyRecord, Signer, SignerConfig, Verifier};
use dns::memory::MemoryResolver;

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[2_000, 20_000, 200_000];
const NOW: u64 = 1_700_000_000;

const RSA_PEM: &[u8] = include_bytes!("../crates/dkim/tests/data/keys/rsa2048.pem");
const ED_PEM: &[u8] = include_bytes!("../crates/dkim/tests/data/keys/ed25519.pem");

#[derive(Debug, Clone, Copy)]
enum Key {
    Rsa2048,
    Ed25519,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Key::Rsa2048 => "rsa2048",
            Key::Ed25519 => "ed25519",
        })
    }
}

fn signer(key: Key) -> Signer {
    let pem = match key {
        Key::Rsa2048 => RSA_PEM,
        Key::Ed25519 => ED_PEM,
    };
    Signer::from_pem(pem, SignerConfig::new("example.com", "bench")).expect("bench key")
}

fn message(body_len: usize) -> Vec<u8> {
    let mut m = String::from(
        "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: benchmark\r\n\
         Date: Mon, 20 Nov 2023 10:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n",
    );
    let line = "The quick brown fox jumps over the lazy dog,  twice\t \r\n";
    while m.len() < body_len {
        m.push_str(line);
    }
    m.into_bytes()
}

fn signed(key: Key, body_len: usize) -> (Vec<u8>, MemoryResolver) {
    let s = signer(key);
    let msg = message(body_len);
    let header = dkim::sign_message(&s, &msg, NOW).expect("sign");
    let mut out = header.to_field().into_bytes();
    out.extend_from_slice(&msg);
    let r = MemoryResolver::new();
    r.add_txt(
        "bench._domainkey.example.com",
        DnsKeyRecord::for_key(s.key()).text(),
    );
    (out, r)
}

#[divan::bench(args = SIZES, consts = [0, 1])]
fn verify_message<const KEY: usize>(bencher: Bencher, size: usize) {
    let key = if KEY == 0 { Key::Rsa2048 } else { Key::Ed25519 };
    let (msg, resolver) = signed(key, size);
    let verifier = Verifier::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench_local(|| {
            let r = rt.block_on(dkim::verify_message(
                &verifier,
                &resolver,
                black_box(&msg),
                NOW,
            ));
            assert_eq!(r[0].result, dkim::DkimResult::Pass);
        });
}

#[divan::bench(args = SIZES, consts = [0, 1])]
fn sign_message<const KEY: usize>(bencher: Bencher, size: usize) {
    let key = if KEY == 0 { Key::Rsa2048 } else { Key::Ed25519 };
    let s = signer(key);
    let msg = message(size);
    bencher
        .counter(divan::counter::ItemsCount::new(1usize))
        .bench_local(|| dkim::sign_message(&s, black_box(&msg), NOW).expect("sign"));
}

/// A 200 KB body of prose as mail carries it: 72-column lines, single spaces, some
/// format=flowed trailing spaces and double spaces after a full stop (one in ten lines).
fn prose_body(size: usize) -> Vec<u8> {
    let words = [
        "the",
        "message",
        "domain",
        "of",
        "and",
        "report",
        "to",
        "server",
        "policy",
        "in",
        "delivery",
        "a",
        "signature",
        "with",
        "header",
        "customer",
        "results",
        "is",
    ];
    let mut out = Vec::with_capacity(size + 100);
    let mut line = String::new();
    let mut n = 0usize;
    while out.len() < size {
        let w = words[(n * 7 + n / 3) % words.len()];
        n += 1;
        if line.len() + w.len() + 1 > 72 {
            if n.is_multiple_of(10) {
                line.push(' '); // format=flowed soft break
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            line.clear();
        }
        if !line.is_empty() {
            line.push_str(if n.is_multiple_of(37) { ".  " } else { " " });
        }
        line.push_str(w);
    }
    out
}

/// Body canonicalization + SHA-256 (streaming `BodyHasher`) on 200 KB, beside raw SHA-256 of
/// the same bytes in the same run: `prose` is typical mail, `dense` has a tab, a double space
/// and trailing whitespace on every 55-byte line (the worst case for the fast path).
#[divan::bench(args = ["prose", "dense"], consts = [0, 1])]
fn body_hash<const RELAXED: usize>(bencher: Bencher, body: &str) {
    let body = if body == "prose" {
        prose_body(200_000)
    } else {
        message(200_000)
    };
    let canon = if RELAXED == 1 {
        dkim::Canonicalization::Relaxed
    } else {
        dkim::Canonicalization::Simple
    };
    bencher
        .counter(divan::counter::BytesCount::new(body.len()))
        .bench_local(|| {
            let mut h = dkim::BodyHasher::new(canon, crypto::HashAlg::Sha256, None);
            for chunk in black_box(&body).chunks(65_535) {
                h.update(chunk);
            }
            h.finish()
        });
}

/// Raw SHA-256 of the same 200 KB through the default provider: the ceiling for `body_hash`.
#[divan::bench]
fn sha256_raw_200k(bencher: Bencher) {
    let body = prose_body(200_000);
    let p = crypto::default_provider();
    bencher
        .counter(divan::counter::BytesCount::new(body.len()))
        .bench_local(|| {
            let mut h = p.hasher(crypto::HashAlg::Sha256);
            for chunk in black_box(&body).chunks(65_535) {
                h.update(chunk);
            }
            h.finish()
        });
}

mod raw_crypto {
    use super::*;
    use crypto::SigAlg;

    const INPUT: [u8; 1024] = [0x5a; 1024];

    #[divan::bench(consts = [0, 1])]
    fn sign_1k<const KEY: usize>(bencher: Bencher) {
        let key = if KEY == 0 { Key::Rsa2048 } else { Key::Ed25519 };
        let s = signer(key);
        bencher.bench_local(|| s.key().sign(black_box(&INPUT)).expect("sign"));
    }

    #[divan::bench(consts = [0, 1])]
    fn verify_1k<const KEY: usize>(bencher: Bencher) {
        let key = if KEY == 0 { Key::Rsa2048 } else { Key::Ed25519 };
        let s = signer(key);
        let sig = s.key().sign(&INPUT).expect("sign");
        let pk = s.key().public_key_dns();
        let alg = if KEY == 0 {
            SigAlg::RsaSha256
        } else {
            SigAlg::Ed25519
        };
        let p = crypto::default_provider();
        bencher.bench_local(|| p.verify(alg, &pk, black_box(&INPUT), &sig).expect("verify"));
    }
}
