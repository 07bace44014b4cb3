#![no_main]
// Fuzz target dmarc_from: the From header parser and author-domain extraction
// (RFC 5322 §3.4/§3.6.2, RFC 9989 §5.3.1). Replayed on stable by crates/dmarc/tests/fuzz_seeds.rs.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(addresses) = dmarc::parse_from(data) {
        for a in &addresses {
            if let Ok(d) = a.author_domain() {
                assert!(!d.is_empty() && d.len() <= 253 && d.is_ascii());
            }
        }
    }
    let config = dmarc::Config {
        multi_from: dmarc::MultiFrom::Strictest,
        ..dmarc::Config::default()
    };
    let _ = dmarc::author_domains(&[data, data], &config);
    let _ = dmarc::author_domains(&[data], &dmarc::Config::default());
});
