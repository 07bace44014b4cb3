//! Memory: signing and verifying a 50 MB body fed in 64 KiB chunks keeps the process peak RSS
//! (VmHWM) within a few MB of doing the same for a 5 KB body: the body is never buffered.
//! A test, not a benchmark: no timing assertions. Linux only (reads /proc/self/status).

mod common;

use dkim::{DkimResult, DnsKeyRecord, HeaderField, Signer, SignerConfig, Verifier};
use dns::memory::MemoryResolver;
use test_support::block_on;

const CHUNK: usize = 64 * 1024;

/// A deterministic body of `len` bytes, produced 64 KiB at a time (never whole in memory).
struct BodySource {
    left: usize,
    line: u64,
    buf: Vec<u8>,
}

impl BodySource {
    fn new(len: usize) -> Self {
        BodySource {
            left: len,
            line: 0,
            buf: Vec::with_capacity(CHUNK + 128),
        }
    }
    fn next_chunk(&mut self) -> Option<&[u8]> {
        if self.left == 0 {
            return None;
        }
        self.buf.clear();
        while self.buf.len() < CHUNK.min(self.left) {
            self.line += 1;
            let l = self.line;
            let text = match l % 5 {
                0 => String::from("\r\n"),
                1 => format!("line {l} with  some\t whitespace   \r\n"),
                2 => format!("{}\r\n", "x".repeat((l % 70) as usize)),
                3 => String::from("   \r\n"),
                _ => format!("Lorem ipsum {l} dolor sit amet\r\n"),
            };
            self.buf.extend_from_slice(text.as_bytes());
        }
        let n = self.buf.len().min(self.left);
        self.buf.truncate(n);
        self.left -= n;
        Some(&self.buf)
    }
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn headers() -> Vec<HeaderField> {
    vec![
        HeaderField::new("From", " a@example.com"),
        HeaderField::new("To", " b@example.net"),
        HeaderField::new("Subject", " big"),
    ]
}

fn sign_then_verify(signer: &Signer, resolver: &MemoryResolver, len: usize) {
    let mut session = signer.start();
    let mut src = BodySource::new(len);
    while let Some(c) = src.next_chunk() {
        session.body(c);
    }
    let sig = session.finish(&headers(), 1_700_000_000).unwrap();
    let mut all = vec![sig.to_header_field()];
    all.extend(headers());
    let verifier = Verifier::default();
    let mut mv = verifier.begin(&all, 1_700_000_001);
    block_on(mv.lookup_keys(resolver));
    let mut src = BodySource::new(len);
    while let Some(c) = src.next_chunk() {
        mv.body(c);
    }
    let results = mv.finish(&all);
    assert_eq!(results[0].result, DkimResult::Pass, "{results:?}");
}

#[test]
fn fifty_megabytes_stream_in_bounded_memory() {
    if !std::path::Path::new("/proc/self/status").exists() {
        println!("skipped: no /proc/self/status");
        return;
    }
    let signer = Signer::from_pem(
        &common::read("keys/ed25519.pem"),
        SignerConfig::new("example.com", "sel"),
    )
    .unwrap();
    let resolver = MemoryResolver::new();
    resolver.add_txt(
        "sel._domainkey.example.com",
        DnsKeyRecord::for_key(signer.key()).text(),
    );
    sign_then_verify(&signer, &resolver, 5 * 1024);
    let small = vm_hwm_kib();
    sign_then_verify(&signer, &resolver, 50 * 1024 * 1024);
    let large = vm_hwm_kib();
    println!("VmHWM after 5 KB: {small} KiB, after 50 MB: {large} KiB");
    assert!(
        large.saturating_sub(small) < 4 * 1024,
        "peak RSS grew by {} KiB",
        large - small
    );
}
