//! Decompression bombs (gzip and zip) and the decompressed budget across attachments.

use reports::{Limits, ReportsError, extract_reports};

use crate::archives::{deflate_zeros, gzip, zip_archive};
use crate::report_mail::{attach, b64};
use crate::{GOOD, only_error};

#[test]
fn gzip_bomb_of_10_gib_is_refused_at_the_limit() {
    // 10 GiB of zeros as 10240 gzip members of 1 MiB each: about 10 MB compressed
    let member = gzip(&vec![0u8; 1 << 20]);
    let mut bomb = Vec::with_capacity(member.len() * 10240);
    for _ in 0..10240 {
        bomb.extend_from_slice(&member);
    }
    let limits = Limits::default();
    assert!(bomb.len() < limits.max_input_bytes, "{}", bomb.len());
    let found = extract_reports(&bomb, &limits);
    assert_eq!(
        only_error(&found),
        &ReportsError::TooLarge {
            what: "decompressed report",
            limit: limits.max_xml_bytes as u64
        }
    );

    // the same as one gzip member (a single deflate stream), attached to a message
    let mut single = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    single.extend(deflate_zeros(10240));
    single.extend_from_slice(&[0; 8]); // crc and size: never reached
    let msg = attach("application/gzip", "rx!example.com!1!2.xml.gz", &single);
    let found = extract_reports(&msg, &limits);
    assert!(
        matches!(only_error(&found), ReportsError::TooLarge { .. }),
        "{found:?}"
    );
    assert!(found[0].source.contains("rx!example.com!1!2.xml.gz"));
}

#[test]
fn zip_bombs_are_refused() {
    let limits = Limits::default();
    let bomb = deflate_zeros(4095);
    // honest about its 4 GiB size: refused from the header
    let zip = zip_archive(&[("report.xml", 8, &bomb, 0xFFFF_FFFF)]);
    let found = extract_reports(&zip, &limits);
    assert_eq!(
        only_error(&found),
        &ReportsError::TooLarge {
            what: "zip entry",
            limit: limits.max_xml_bytes as u64
        }
    );
    // lying (declares 1 KiB): stopped by the zip reader's size check or our read limit
    let zip = zip_archive(&[("report.xml", 8, &bomb, 1024)]);
    let found = extract_reports(&zip, &limits);
    let err = only_error(&found);
    assert!(
        matches!(err, ReportsError::Zip(m) if m.contains("larger than its declared")),
        "{err}"
    );

    // thousands of entries: refused before any is read
    let names: Vec<String> = (0..5000).map(|i| format!("{i}.xml")).collect();
    let entries: Vec<(&str, u16, &[u8], u32)> = names
        .iter()
        .map(|n| (n.as_str(), 0u16, &b""[..], 0u32))
        .collect();
    let found = extract_reports(&zip_archive(&entries), &limits);
    assert_eq!(
        only_error(&found),
        &ReportsError::TooMany {
            what: "zip entries",
            limit: limits.max_zip_entries
        }
    );

    // a normal archive with a stored report and a directory
    let zip = zip_archive(&[
        ("dir/", 0, b"", 0),
        ("a.xml", 0, GOOD.as_bytes(), GOOD.len() as u32),
    ]);
    let found = extract_reports(&zip, &limits);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].report.as_ref().unwrap().message_count(), 3);
}

#[test]
fn total_decompressed_budget_spans_attachments() {
    let limits = Limits {
        max_xml_bytes: 1 << 20,
        max_total_xml_bytes: 3 << 20,
        ..Limits::default()
    };
    // a report padded to almost 1 MiB, five times in one message
    let padded = GOOD.replace(
        "<feedback>",
        &format!("<feedback>{}", " ".repeat(1000 << 10)),
    );
    let gz = gzip(padded.as_bytes());
    let mut parts = String::new();
    for _ in 0..5 {
        parts.push_str(&format!(
            "--b\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(&gz)
        ));
    }
    let msg = format!("Content-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--\r\n");
    let found = extract_reports(msg.as_bytes(), &limits);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found[..3].iter().all(|f| f.report.is_ok()));
    assert_eq!(
        found[3].report,
        Err(ReportsError::TooLarge {
            what: "decompressed data of one input",
            limit: 3 << 20
        })
    );
}
