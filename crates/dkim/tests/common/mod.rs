//! Helpers shared by the DKIM integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use dns::memory::MemoryResolver;

/// Path under `tests/data/`.
pub fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

/// Reads a file under `tests/data/`.
pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(data(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Loads `<name> <TXT value>` lines (value = rest of line) into a resolver.
pub fn load_name_value_lines(resolver: &MemoryResolver, text: &str) {
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let (name, value) = match line.split_once(char::is_whitespace) {
            Some((n, v)) => (n, v.trim_start()),
            None => (line, ""),
        };
        match value {
            "NXDOMAIN" => resolver.fail(name, dns::DnsError::NxDomain),
            "~~Query timed out~~" => resolver.fail(name, dns::DnsError::Timeout),
            "~~SERVFAIL~~" => resolver.fail(name, dns::DnsError::ServFail),
            "\"\"" => resolver.add_txt(name, ""),
            v => resolver.add_txt(name, v),
        }
    }
}
