//! Fuzz harness shared by the cargo-fuzz target `fuzz/fuzz_targets/report_parse.rs` and the
//! stable seed replay `tests/fuzz_seeds.rs`. It must never panic, whatever the input.

use crate::extract::extract_reports;
use crate::limits::Limits;
use crate::xml_parse::parse_report_with;
use crate::xml_write::{ReportFormat, write_feedback};

/// Small limits, so one fuzz input costs little.
fn limits() -> Limits {
    Limits {
        max_input_bytes: 1 << 20,
        max_xml_bytes: 4 << 20,
        max_total_xml_bytes: 8 << 20,
        max_reports: 16,
        max_zip_entries: 4,
        max_gzip_members: 64,
        max_mime_parts: 64,
        max_mime_depth: 6,
        max_mbox_messages: 64,
        max_records: 1000,
        max_xml_depth: 16,
        max_field_len: 1024,
        max_list_len: 100,
    }
}

/// `report_parse`: `data` through the extractor (XML, gzip, zip, mail, mbox) and the XML
/// parser. Every report parsed is written in both formats; what is written must parse again
/// and write back to the same bytes (the schema mappings are applied once, then stable).
pub fn report_parse(data: &[u8]) {
    let limits = limits();
    let mut reports = Vec::new();
    for found in extract_reports(data, &limits) {
        assert!(!found.source.is_empty());
        if let Ok(fb) = found.report {
            reports.push(fb);
        }
    }
    if let Ok(fb) = parse_report_with(data, &limits) {
        reports.push(fb);
    }
    for fb in reports.iter().take(4) {
        for format in [ReportFormat::Rfc9990, ReportFormat::Rfc7489] {
            let first = match write_feedback(fb, format) {
                Ok(x) => x,
                Err(e) => panic!("a parsed report must be writable: {e}"),
            };
            let again = match parse_report_with(&first, &Limits::default()) {
                Ok(f) => f,
                Err(e) => panic!(
                    "our own XML must parse: {e}\n{}",
                    String::from_utf8_lossy(&first)
                ),
            };
            let second = match write_feedback(&again, format) {
                Ok(x) => x,
                Err(e) => panic!("a parsed report must be writable: {e}"),
            };
            assert!(first == second, "writing is not stable for {format:?}");
        }
    }
}
