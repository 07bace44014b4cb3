//! Memory while the body streams: a verification started at end of headers holds no copy of
//! the header data its signatures sign (RFC 6376 §3.7), which it computes at end of message
//! from the same header fields. Eight hostile signatures that each select every field of a
//! 400 KB header block used to hold eight copies of it (3 MB a message) from end of headers
//! until the body had been read, an amplification a sender who stalls the body could use on
//! every connection. A test, not a benchmark: no timing assertions. Linux only (reads
//! /proc/self/status).

use dkim::{HeaderField, Verifier};

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// 800 fields of 500 bytes named `a`, From, and eight signatures whose `h=` selects them all.
fn hostile_headers() -> Vec<HeaderField> {
    let names = vec!["a"; 800].join(":");
    let mut headers: Vec<HeaderField> = (0..8)
        .map(|i| {
            HeaderField::new(
                "DKIM-Signature",
                format!(
                    " v=1; a=rsa-sha256; d=example.com; s=s{i}; h=from:{names}; bh=AAAA; b=AAAA"
                ),
            )
        })
        .collect();
    headers.push(HeaderField::new("From", " a@example.com"));
    headers.extend((0..800).map(|_| HeaderField::new("a", format!(" {}", "v".repeat(500)))));
    headers
}

#[test]
fn verifications_in_flight_hold_no_header_copies() {
    if !std::path::Path::new("/proc/self/status").exists() {
        println!("skipped: no /proc/self/status");
        return;
    }
    let headers = hostile_headers();
    let bytes: usize = headers
        .iter()
        .map(|h| h.name.len() + h.value.len() + 3)
        .sum();
    let before = vm_hwm_kib();
    // 16 messages at end of headers, as 16 connections whose bodies have not come yet
    let in_flight: Vec<_> = (0..16)
        .map(|_| Verifier::default().begin(&headers, 1_700_000_000))
        .collect();
    let after = vm_hwm_kib();
    let grown = after.saturating_sub(before);
    println!("header block {bytes} bytes; VmHWM {before} -> {after} KiB");
    // eight copies per message would be 16 × 8 × 400 KB = 50 MB
    assert!(grown < 8 * 1024, "peak RSS grew by {grown} KiB");
    for mut mv in in_flight {
        mv.body(b"body\r\n");
        let results = mv.finish(&headers);
        assert_eq!(results.len(), 8);
    }
}
