//! Hostile and broken inputs to the report reader (RFC 9990 §8.1): bombs, DTDs, deep nesting,
//! huge fields, truncation, and the MIME/mbox containers. Each is refused with a clear error
//! within the limits, or read as far as it is sound; nothing panics.

use reports::{ExtractedReport, Limits, ReportsError, extract_reports};

// Compressed inputs built by hand: gzip, deflate streams of zeros, zip archives whose sizes lie.
#[path = "hostile/archives.rs"]
mod archives;
// Report mails with one attachment.
#[path = "hostile/report_mail.rs"]
mod report_mail;
// Decompression bombs and the decompressed budget.
#[path = "hostile/bombs.rs"]
mod bombs;
// The report XML: DTDs and entities, structure limits, malformed reports, counts.
#[path = "hostile/report_xml.rs"]
mod report_xml;
// The MIME and mbox containers, and failure reports given to the aggregate reader.
#[path = "hostile/mime_and_mbox.rs"]
mod mime_and_mbox;

use archives::{deflate_zeros, zip_archive_with_crc};

pub(crate) const GOOD: &str = r#"<?xml version="1.0"?>
<feedback>
  <report_metadata>
    <org_name>Reporter</org_name><email>r@reporter.example</email>
    <report_id>id-1</report_id>
    <date_range><begin>1700000000</begin><end>1700086399</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record>
    <row><source_ip>192.0.2.1</source_ip><count>3</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from></identifiers>
    <auth_results><dkim><domain>example.com</domain><selector>s</selector><result>pass</result></dkim></auth_results>
  </record>
</feedback>
"#;

pub(crate) fn only_error(found: &[ExtractedReport]) -> &ReportsError {
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].report.as_ref().unwrap_err()
}

/// This process's peak resident memory so far (`VmHWM`), KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

// At the crate root: the test runs itself in a child process by its exact name.
/// RFC 9990 §8.1: the decompressed budget of an input holds before the bytes are made. A zip
/// of 16 entries that each inflate to `max_xml_bytes` (16 MiB of zeros from 16 KB) costs one
/// entry's memory, not sixteen: each is decompressed, read and dropped before the next, and
/// the next is refused once the budget is spent. Run in a child process of this test binary
/// so that no other test's memory counts.
#[test]
fn zip_entries_are_decompressed_one_at_a_time() {
    const CHILD: &str = "REPORTS_HOSTILE_MEMORY_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "zip_entries_are_decompressed_one_at_a_time",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let grown: u64 = stdout
            .lines()
            .filter_map(|l| l.split("peak growth KiB: ").nth(1))
            .map(|v| v.trim().parse::<u64>().unwrap())
            .max()
            .unwrap_or_else(|| panic!("no measurement: {stdout}"));
        // one entry and its read buffer (≤ 48 MiB); all sixteen would be ≥ 256 MiB
        assert!(grown < 100 << 10, "peak grew by {grown} KiB");
        return;
    }
    let limits = Limits {
        max_xml_bytes: 16 << 20,
        max_total_xml_bytes: 32 << 20,
        ..Limits::default()
    };
    let bomb = deflate_zeros(16);
    let mut crc = flate2::Crc::new();
    crc.update(&vec![0u8; 16 << 20]);
    let names: Vec<String> = (0..16).map(|i| format!("{i}.xml")).collect();
    // valid archives (each entry inflates and checks out), and ones whose entries fail their
    // checksum only after inflating: those bytes are spent too
    for crc in [crc.sum(), 0] {
        let entries: Vec<(&str, u16, &[u8], u32, u32)> = names
            .iter()
            .map(|n| (n.as_str(), 8u16, bomb.as_slice(), 16u32 << 20, crc))
            .collect();
        let zip = zip_archive_with_crc(&entries);
        let before = peak_rss_kib();
        let found = extract_reports(&zip, &limits);
        let grown = peak_rss_kib() - before;
        println!("peak growth KiB: {grown}");
        // two entries read (not XML / bad checksum), then the budget is spent and the rest
        // is never inflated
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(
            found[2].report,
            Err(ReportsError::TooLarge {
                what: "decompressed data of one input",
                limit: 32 << 20
            })
        );
    }
}
